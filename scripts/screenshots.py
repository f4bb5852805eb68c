"""Regenerate the README screenshots from the real app: offscreen, the real model, a fixed seed.

    python scripts/screenshots.py [--out docs/screenshots] [--size 1600x1000]

Writes main-window.png (a run with one step selected), what-if.png (the same step re-sampled
with other settings), hover-card.png (the card shown over a generated token), performance.png
(the Performance section: threads, memory, attention, and how llama.cpp runs here),
stage-by-stage.png (each candidate's chance after every sampler), chat.png (two
turns of a conversation in chat mode, the samplers and dice panels folded to a line each),
models.png (File → Models on this computer), branches.png
(the branch tree after another token and a replay), compare.png (three runs side by side),
newer-samplers.png (a step where DRY held back a copy and XTC crossed out the top words),
futures.png (a hundred futures from one step: the tally, the tree and the list), sweeps.png
(temperature and top-p swept over one step), timeline.png (the text shaded by rank over the
timeline of the whole run), handout.png (File → Export's one-page handout of a step, as it
prints),
presentation.png (presentation mode at 1280×720), then server.png and connect.png
(scripts/server_screenshots.py: the window through llama-server).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QTextCursor  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from synthscope.engine import default_model_path  # noqa: E402
from synthscope.sampling import SamplerSettings  # noqa: E402
from synthscope.ui.app import create_application  # noqa: E402
from synthscope.ui.window.main_window import MainWindow  # noqa: E402

SEED = 20240607
TOKENS = 40
# The visible sliders first: a first-time reader can see what was moved.
WHAT_IFS = ({"temperature": 1.6}, {"temperature": 0.0}, {"top_p": 0.5}, {"top_k": 2}, {"min_p": 0.25})


def wait_until(app: QApplication, done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        app.processEvents()
        time.sleep(0.005)


def settle(app: QApplication, window: MainWindow) -> None:
    """Let the coalescing timer fire and every layout settle before a grab."""
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    window.repaint()


def interesting_step(window: MainWindow) -> int:
    """A step where the dice mattered: the winner was not the top token and several were in play."""
    steps = window.doc.mirror.steps
    scored = [(s.trace.chosen_index > 0, min(s.trace.final_size, 8), s.trace.entropy_final, i)
              for i, s in enumerate(steps[3:], start=3)]
    return max(scored)[3]


def stage_step(window: MainWindow, fallback: int) -> int:
    """A step whose likeliest words show both marks of Stage by stage: one lowered by the repetition
    penalty and one removed by a sampler."""
    from synthscope.sampling.explain import penalty_change

    for i, step in enumerate(window.doc.mirror.steps):
        top = step.trace.candidates[:8]
        lowered = set(penalty_change(step.trace)) & set(top["token_id"].tolist())
        if lowered and (top["removed_by"] >= 0).any():
            return i
    return fallback


def branches_shot(app: QApplication, window: MainWindow, path: Path) -> None:
    """Another token written at one step, then a replay of the rest at a higher temperature."""
    base = window.parts.controls.settings()
    step = window.doc.mirror.steps[6]
    other = next(int(t) for t in step.trace.candidates["token_id"] if int(t) != step.token_id)
    window.branching.branch_from(6, other)
    wait_until(app, lambda: window.doc.state == "idle" and not window.steps.pending)
    window.parts.controls.set_settings(base.with_changes(temperature=1.4))
    window.branching.branch_from(14, None)
    wait_until(app, lambda: window.doc.state == "idle" and not window.steps.pending)
    settle(app, window)
    # Whether the box followed the streaming end depends on layout timing; put the branch point on
    # the box's second line, so every run takes the same picture: the old text above, the replay below.
    editor = window.parts.editor
    cursor = QTextCursor(editor.document())
    cursor.setPosition(editor.spans[14][0])
    bar = editor.verticalScrollBar()
    bar.setValue(bar.value() + editor.cursorRect(cursor).top() - editor.cursorRect(cursor).height())
    settle(app, window)
    window.grab().save(str(path))
    window.parts.controls.set_settings(base)


def compare_shot(app: QApplication, window: MainWindow, path: Path) -> None:
    from synthscope.ui.exploring.compare_window import demo_compare

    compare = demo_compare(window.doc.mirror.prompt, window.parts.controls.settings(), SEED, default_model_path(),
                           ({"temperature": 0.0}, {"top_p": 0.5}), max_tokens=40,
                           engine=window.compare.engine_preferences())  # column 1 writes the main window's text
    compare.resize(1400, 800)
    compare.show()
    compare.run_all()
    wait_until(app, lambda: not compare.running)
    divergence = compare.divergence()
    if divergence is not None:
        compare.select(divergence)
    settle(app, window)
    compare.grab().save(str(path))
    compare.close()


def chat_shot(app: QApplication, window: MainWindow, path: Path) -> None:
    """Two turns of a conversation, the last reply's end of turn selected."""
    window.chat.set_mode(True)
    window.parts.controls.set_settings(SamplerSettings(temperature=0.3))
    window.parts.controls.max_tokens.setValue(120)
    window.parts.chat_input.set_system_text("Answer in one or two short sentences.")
    for message in ("What is the capital of France?", "And what is it famous for?"):
        window.parts.chat_input.set_message(message)
        window.run.generate()
        wait_until(app, lambda: window.doc.state == "idle" and not window.steps.pending)
    window.steps.select_step(len(window.doc.mirror) - 1)
    window.parts.chat_input.system_toggle.setChecked(False)
    folds = (window.parts.pipeline.fold, window.parts.dice.fold)  # folded to one line each: room for both turns
    for fold in folds:
        fold.setChecked(True)
    settle(app, window)
    window.grab().save(str(path))
    for fold in folds:
        fold.setChecked(False)


def models_shot(app: QApplication, window: MainWindow, path: Path) -> None:
    dialog = window.models.show_models()
    wait_until(app, lambda: bool(dialog.found))
    dialog.resize(1250, 420)  # an offscreen screen is 800 pixels wide: the dialog would be capped to it
    settle(app, window)
    dialog.grab().save(str(path))
    dialog.close()


NEWER = SamplerSettings(dry_multiplier=0.8, dry_allowed_length=2, xtc_probability=0.5, xtc_threshold=0.1)
NEWER_PROMPT = ("The robot said: I am a robot. I am a robot. I am a robot. I am a robot. "
                "The girl asked it what else it could say. The robot said: I am")


def newer_samplers_shot(app: QApplication, window: MainWindow, path: Path) -> None:
    """DRY holding back a copy and XTC crossing out the top words, at one step of one run."""
    controls = window.parts.controls
    before = controls.settings()
    controls.set_settings(NEWER)
    window.run.use_prompt(NEWER_PROMPT)
    window.run.generate()
    wait_until(app, lambda: window.doc.state == "idle" and not window.steps.pending)
    steps = window.doc.mirror.steps
    scored = [(bool(s.trace.stage("dry").changed), bool((s.trace.stage("xtc").detail or {}).get("removed")),
               -i, i) for i, s in enumerate(steps)]
    window.steps.select_step(max(scored)[3])
    settle(app, window)
    window.grab().save(str(path))
    controls.set_settings(before)


def futures_shot(app: QApplication, window: MainWindow, index: int, path: Path) -> None:
    """A hundred futures of six word pieces from the selected step: the tally, the tree and the list."""
    window.steps.select_step(index)
    futures = window.futures.open()
    futures.resize(1400, 760)
    futures.depth.setValue(6)
    futures.seed.setValue(7)
    futures.write()
    wait_until(app, lambda: futures.futures is not None, timeout=120)
    futures.likeliest.click()
    settle(app, window)
    futures.grab().save(str(path))
    futures.close()


def sweeps_shot(app: QApplication, window: MainWindow, index: int, path: Path) -> None:
    """Chances → Sweeps… for the selected step: temperature 0 → 2 and top-p 0 → 1."""
    window.steps.select_step(index)
    sweeps = window.sweeps.open()
    wait_until(app, lambda: sweeps.view.key is not None)
    settle(app, window)
    sweeps.grab().save(str(path))
    sweeps.close()


def timeline_shot(app: QApplication, window: MainWindow, index: int, path: Path) -> None:
    """The text shaded by rank (GLTR's bands) over the timeline of the whole run."""
    legend = window.parts.text_legend
    legend.mode.setCurrentIndex(legend.mode.findData("rank"))
    window.steps.select_step(index)
    settle(app, window)
    window.grab().save(str(path))
    legend.mode.setCurrentIndex(legend.mode.findData("chance"))


def handout_shot(app: QApplication, window: MainWindow, index: int, path: Path) -> None:
    """The step's printable handout: written as a PDF, then drawn as a picture of the same page."""
    from PySide6.QtCore import QRectF
    from PySide6.QtGui import QColor, QImage, QPainter
    from synthscope.ui.export.handout import handout_document, handout_html
    from synthscope.ui.export.pdf import fit_one_page, printable_size

    window.steps.select_step(index)
    settle(app, window)
    doc = window.doc
    markup = handout_html(window.parts.inspector.view, doc.mirror.steps, doc.mirror.prompt,
                          window.steps.token_text, Path(doc.model.path).stem, doc.model.facts.vocab_size,
                          doc.mirror.seed)
    document = handout_document(markup)
    document.setPageSize(printable_size())
    fit_one_page(document)
    size = document.pageSize()
    margin = 40  # the paper's edge, drawn so that the picture reads as a page
    image = QImage(int(size.width()) + 2 * margin, int(size.height()) + 2 * margin, QImage.Format.Format_RGB32)
    image.fill(QColor("#FFFFFF"))
    painter = QPainter(image)
    painter.translate(margin, margin)
    document.drawContents(painter, QRectF(0, 0, size.width(), size.height()))
    painter.end()
    image.save(str(path))


def options(argv: list[str] | None, description: str) -> tuple[Path, int, int]:
    """--out (made if missing) and --size, as every screenshot script takes them."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--size", default="1600x1000")
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    return args.out, width, height


def main(argv: list[str] | None = None) -> int:
    out, width, height = options(argv, __doc__.splitlines()[0])
    app = create_application()
    window = MainWindow()
    window.resize(width, height)
    window.show()
    # Exact numbers, whatever path this machine would choose: the screenshots then show the same
    # run on every machine (up to the last digits of its processor's arithmetic).
    perf = window.parts.performance
    perf.memory.setCurrentIndex(perf.memory.findData("f32"))
    perf.attention.setCurrentIndex(perf.attention.findData("standard"))
    window.models.load_model(default_model_path(), probe=False)
    wait_until(app, lambda: window.doc.state == "idle")
    window.chat.set_mode(False)  # the instrument shots continue a story
    window.parts.controls.seed_box.setValue(SEED)
    window.parts.controls.max_tokens.setValue(TOKENS)
    window.parts.controls.set_settings(SamplerSettings(repeat_penalty=1.1))
    window.run.generate()
    wait_until(app, lambda: window.doc.state == "idle" and not window.steps.pending)
    index = interesting_step(window)
    window.steps.select_step(index)
    settle(app, window)
    window.grab().save(str(out / "main-window.png"))

    recorded = window.doc.mirror.steps[index]
    for change in WHAT_IFS:
        window.parts.controls.set_settings(recorded.settings.with_changes(**change))
        settle(app, window)
        view = window.parts.inspector.view
        if view is not None and view.changes_pick:
            break
    window.grab().save(str(out / "what-if.png"))
    window.parts.controls.set_settings(recorded.settings)
    settle(app, window)

    rect = window.parts.editor.token_rects(index)[0]
    window.parts.card.token_text = window.steps.token_text
    window.parts.card.show_for(window.doc.mirror.recorded(index), window.parts.editor.viewport().mapToGlobal(rect.center()))
    settle(app, window)
    window.parts.card.grab().save(str(out / "hover-card.png"))
    window.parts.card.hide()
    window.parts.controls.show_all.setChecked(True)  # Performance is part of every setting, not the simple view
    settle(app, window)
    window.parts.performance.grab().save(str(out / "performance.png"))
    window.parts.controls.show_all.setChecked(False)
    window.steps.select_step(stage_step(window, index))  # candidate by candidate through the stages
    window.parts.distribution.stage_button.click()
    settle(app, window)
    window.parts.distribution.grab().save(str(out / "stage-by-stage.png"))
    window.parts.distribution.stage_button.click()
    window.steps.select_step(index)
    futures_shot(app, window, index, out / "futures.png")
    sweeps_shot(app, window, index, out / "sweeps.png")
    timeline_shot(app, window, index, out / "timeline.png")
    handout_shot(app, window, index, out / "handout.png")
    branches_shot(app, window, out / "branches.png")
    compare_shot(app, window, out / "compare.png")
    from synthscope.ui.classroom.presentation import presentation_shot

    presentation_shot(window.presentation, out / "presentation.png")
    newer_samplers_shot(app, window, out / "newer-samplers.png")
    chat_shot(app, window, out / "chat.png")
    models_shot(app, window, out / "models.png")
    window.close()
    from server_screenshots import server_shots  # a llama-server on loopback: server.png, connect.png

    server_shots(app, out, width, height, wait_until, settle)
    print(f"wrote {', '.join(p.name for p in sorted(out.glob('*.png')))} to {out} "
          f"(step {index + 1}: {window.steps.token_text(recorded.token_id)!r})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
