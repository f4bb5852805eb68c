"""The main window on the real SmolLM2 model: generate, step, undo, stop, what-if, errors, keys."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from synthscope.engine import default_model_path  # noqa: E402
from synthscope.sampling import Dice, SamplerSettings, build_trace, run_chain  # noqa: E402
from synthscope.ui import theme  # noqa: E402
from synthscope.ui.window.main_window import SAMPLE_PROMPT, MainWindow  # noqa: E402
from synthscope.ui.steps.text_view import END_MARK  # noqa: E402
from synthscope.ui.stage_words import describe_stage  # noqa: E402
from window_helpers import WAIT_MS, loaded_window, worker_generator  # noqa: E402



@pytest.fixture
def window(qtbot, qapp) -> Iterator[MainWindow]:
    win = loaded_window(qtbot, qapp, seed=42)
    yield win
    win.close()


generator = worker_generator


def run(qtbot, win: MainWindow, action: str) -> None:
    getattr(win.run, action)()
    qtbot.waitUntil(lambda: win.doc.state == "idle" and not win.steps.pending, timeout=WAIT_MS)


def test_generated_text_and_panels_agree_with_the_session_record(qtbot, window: MainWindow) -> None:
    assert window.commands.generate.text().endswith("Generate")  # raw text: Send is chat mode's word
    window.parts.controls.max_tokens.setValue(12)
    run(qtbot, window, "generate")
    record = generator(window).record
    assert len(record.steps) == 12
    assert record.prompt == SAMPLE_PROMPT
    assert window.parts.editor.prompt_text() == SAMPLE_PROMPT
    assert window.parts.editor.generated_text() == record.text
    assert [s.token_id for s in window.doc.mirror.steps] == record.token_ids
    last = record.steps[-1]
    rows = window.parts.distribution.rows
    assert [r.token_id for r in rows if r.rank >= 0] == \
        last.trace.candidates["token_id"][:len([r for r in rows if r.rank >= 0])].tolist()
    assert next(r for r in rows if r.chosen).token_id == last.token_id
    for row in rows:
        if row.rank >= 0:
            assert row.p_raw == pytest.approx(float(last.trace.candidates["p_raw"][row.rank]))
    for stage in last.trace.stages:
        words = describe_stage(stage, last.settings)
        assert window.parts.pipeline.boxes[stage.name].headline.text() == words.headline
    assert f"{last.u:.1%}" in window.parts.dice.explanation.text()
    assert window.parts.dice.bar.u == last.u

    # Clicking a token makes it the selected step for every panel.
    rect = window.parts.editor.token_rects(4)[0]
    qtbot.mouseClick(window.parts.editor.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.steps.shown_index() == 4
    chosen = next(r for r in window.parts.distribution.rows if r.chosen)
    assert chosen.token_id == record.steps[4].token_id
    assert f"{record.steps[4].u:.1%}" in window.parts.dice.explanation.text()
    assert window.parts.editor.selected == 4


def test_hovering_a_token_shows_its_alternatives(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(6)
    run(qtbot, window, "generate")
    rect = window.parts.editor.token_rects(2)[0]
    qtbot.mouseMove(window.parts.editor.viewport(), rect.center())
    qtbot.waitUntil(window.parts.card.isVisible, timeout=5000)
    step = generator(window).record.steps[2]
    assert window.parts.card.view.token_id == step.token_id
    assert window.parts.card.lines[0][1] == pytest.approx(float(step.trace.candidates["p_raw"][0]))
    assert window.parts.editor.hovered == 2


def test_step_adds_exactly_one_token(qtbot, window: MainWindow) -> None:
    run(qtbot, window, "step")
    gen = generator(window)
    assert gen.n_steps == 1 and len(window.doc.mirror) == 1
    assert window.parts.editor.toPlainText() == SAMPLE_PROMPT + gen.record.steps[0].text
    run(qtbot, window, "step")
    assert gen.n_steps == 2 and len(window.parts.editor.spans) == 2
    assert gen.engine.n_past == len(gen.record.prompt_tokens) + 2


def test_undo_removes_the_last_token_and_the_next_step_continues(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(5)
    run(qtbot, window, "generate")
    gen = generator(window)
    tokens, text = gen.record.token_ids, window.parts.editor.toPlainText()
    run(qtbot, window, "undo")
    assert gen.n_steps == 4 and len(window.doc.mirror) == 4
    assert gen.engine.n_past == len(gen.record.prompt_tokens) + 4  # KV cache rewound
    assert window.parts.editor.toPlainText() == SAMPLE_PROMPT + gen.record.text
    assert text.startswith(window.parts.editor.toPlainText())
    run(qtbot, window, "step")  # same dice, same settings: the same token comes back
    assert gen.record.token_ids == tokens
    assert window.parts.editor.toPlainText() == text


def test_stop_takes_effect_between_tokens(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(2000)
    window.run.generate()
    qtbot.waitUntil(lambda: len(window.doc.mirror) >= 5, timeout=WAIT_MS)
    # Read while the worker runs: a plain length, and the token being made when Stop is pressed
    # is the most that may still come (how soon, in milliseconds, is bench_gui's stop latency).
    made_at_stop = generator(window).n_steps
    window.commands.stop.trigger()
    qtbot.waitUntil(lambda: window.doc.state == "idle", timeout=WAIT_MS)
    count = generator(window).n_steps
    assert made_at_stop <= count <= made_at_stop + 1
    qtbot.wait(200)
    assert generator(window).n_steps == count == len(window.doc.mirror)
    assert window.commands.generate.isEnabled() and not window.commands.stop.isEnabled()


def _expected_what_if(win: MainWindow, index: int, settings: SamplerSettings):
    gen = generator(win)
    u = None if settings.greedy else Dice(gen.seed).u(index)
    result = run_chain(gen.raw_logits(index), settings, gen.history(index), u)
    return result, build_trace(result, gen.top_n)


def test_what_if_slider_move_changes_the_kept_count_as_the_sampler_predicts(
        qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(8)
    run(qtbot, window, "generate")
    window.steps.select_step(3)
    recorded = window.doc.mirror.steps[3]
    top_k = window.parts.controls.controls["top_k"]
    top_k.slider.setValue(top_k.to_position(3))  # as a drag would
    assert window.parts.controls.settings().top_k == 3
    qtbot.waitUntil(lambda: window.parts.header.banner.isVisible(), timeout=5000)
    settings = window.parts.controls.settings()
    result, trace = _expected_what_if(window, 3, settings)
    assert window.parts.pipeline.boxes["top_k"].headline.text() == f"kept 3 of {trace.stage('top_k').n_in:,}"
    for stage in trace.stages:
        assert window.parts.pipeline.boxes[stage.name].headline.text() == \
            describe_stage(stage, settings).headline
    kept = [r for r in window.parts.distribution.rows if r.rank >= 0 and r.removed_by is None]
    assert len(kept) <= 3
    assert next(r for r in window.parts.distribution.rows if r.chosen).token_id == result.token_id
    verdict = window.parts.header.banner_text.text()
    assert ("instead of" in verdict) == (result.token_id != recorded.token_id)
    assert generator(window).n_steps == 8  # a what-if never changes the run
    window.parts.header.back_button.click()
    qtbot.waitUntil(lambda: not window.parts.header.banner.isVisible(), timeout=5000)
    assert window.parts.controls.settings() == recorded.settings


def test_what_if_on_an_old_step_fetches_its_logits_from_the_worker(qtbot, window: MainWindow) -> None:
    window.doc.mirror.logits.budget = 1  # keep only the newest step's logits in the UI
    window.parts.controls.max_tokens.setValue(6)
    run(qtbot, window, "generate")
    assert 0 not in window.doc.mirror.logits
    window.steps.select_step(0)
    window.parts.controls.controls["temperature"].box.setValue(0.0)
    qtbot.waitUntil(lambda: window.parts.inspector.view is not None and window.parts.inspector.view.is_what_if,
                    timeout=10_000)
    result, _ = _expected_what_if(window, 0, window.parts.controls.settings())
    assert window.parts.inspector.view.token_id == result.token_id
    assert "Temperature 0: always the top word" in window.parts.dice.explanation.text()
    assert window.parts.editor.toPlainText() == SAMPLE_PROMPT + generator(window).record.text


def test_a_broken_model_file_shows_a_message_and_the_window_stays_usable(
        qtbot, window: MainWindow, tmp_path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"this is not a model\n" * 500)
    window.models.load_model(broken)
    qtbot.waitUntil(lambda: window.doc.state == "no-model", timeout=WAIT_MS)
    message = window.parts.banner.text.text()
    assert window.parts.banner.isVisible() and "broken.gguf" in message
    assert "Traceback" not in message and "Error" not in message.split(":")[0]
    assert window.parts.banner.open_button.isVisible()
    assert window.commands.open_model.isEnabled() and not window.commands.generate.isEnabled()
    window.parts.editor.setFocus()
    qtbot.keyClicks(window.parts.editor, " still typing")
    assert window.parts.editor.toPlainText().endswith(" still typing")
    window.models.load_model(default_model_path(), probe=False)
    qtbot.waitUntil(lambda: window.doc.state == "idle", timeout=WAIT_MS)
    assert not window.parts.banner.isVisible()
    run(qtbot, window, "step")
    assert len(window.doc.mirror) == 1


def test_keyboard_generate_stop_step_undo(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(3)
    window.parts.editor.setFocus()
    qtbot.keyClick(window.parts.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.mirror) == 3, timeout=WAIT_MS)
    qtbot.keyClick(window.parts.editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.mirror) == 2, timeout=WAIT_MS)
    window.parts.distribution.setFocus()
    qtbot.keyClick(window.parts.distribution, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.mirror) == 3, timeout=WAIT_MS)
    window.parts.controls.max_tokens.setValue(2000)
    qtbot.keyClick(window.parts.distribution, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(window.doc.mirror) >= 6, timeout=WAIT_MS)
    qtbot.keyClick(window.parts.distribution, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: window.doc.state == "idle", timeout=WAIT_MS)
    assert len(window.doc.mirror) < 2000


def test_space_types_into_the_text_instead_of_stepping(qtbot, window: MainWindow) -> None:
    window.parts.editor.setFocus()
    window.parts.editor.moveCursor(window.parts.editor.textCursor().MoveOperation.End)
    qtbot.keyClick(window.parts.editor, Qt.Key.Key_Space)
    assert window.parts.editor.toPlainText() == SAMPLE_PROMPT + " "
    assert window.doc.state == "idle" and len(window.doc.mirror) == 0


def test_space_presses_a_focused_button_or_box_instead_of_stepping(qtbot, window: MainWindow) -> None:
    box = window.parts.controls.ignore_end
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_Space)
    assert box.isChecked()
    for button in (window.parts.controls.roll_button, window.parts.controls.reset_button):
        button.setFocus()
        qtbot.keyClick(button, Qt.Key.Key_Space)
    assert window.doc.state == "idle" and len(window.doc.mirror) == 0
    window.parts.controls.controls["top_k"].slider.setFocus()  # a slider has no use for Space: it steps
    qtbot.keyClick(window.parts.controls.controls["top_k"].slider, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.mirror) == 1, timeout=WAIT_MS)


def test_editing_generated_text_makes_all_of_it_the_next_prompt(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(4)
    run(qtbot, window, "generate")
    window.parts.editor.setFocus()
    window.parts.editor.moveCursor(window.parts.editor.textCursor().MoveOperation.End)
    qtbot.keyClicks(window.parts.editor, " and then")
    assert len(window.doc.mirror) == 0 and window.parts.editor.spans == []
    assert not window.commands.undo.isEnabled()
    edited = window.parts.editor.toPlainText()
    run(qtbot, window, "step")
    assert generator(window).record.prompt == edited
    assert window.parts.editor.prompt_text() == edited and len(window.parts.editor.spans) == 1


def test_clear_keeps_the_prompt_and_starts_a_new_run(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(4)
    run(qtbot, window, "generate")
    first = generator(window).record.token_ids
    window.run.clear()
    assert window.parts.editor.toPlainText() == SAMPLE_PROMPT and len(window.doc.mirror) == 0
    run(qtbot, window, "generate")
    assert generator(window).record.token_ids == first  # fixed seed 42: the same dice again


def test_settings_moved_during_generation_apply_to_the_next_tokens(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(2000)
    window.run.generate()
    qtbot.waitUntil(lambda: len(window.doc.mirror) >= 3, timeout=WAIT_MS)
    window.parts.controls.controls["temperature"].box.setValue(0.0)
    qtbot.waitUntil(lambda: any(s.settings.greedy for s in window.doc.mirror.steps), timeout=WAIT_MS)
    window.run.stop()
    qtbot.waitUntil(lambda: window.doc.state == "idle", timeout=WAIT_MS)
    steps = window.doc.mirror.steps
    first_greedy = next(i for i, s in enumerate(steps) if s.settings.greedy)
    assert all(s.settings.greedy for s in steps[first_greedy:])
    assert all(s.u is None for s in steps[first_greedy:])


def test_views_refresh_at_bounded_rates_while_tokens_stream(qtbot, window: MainWindow) -> None:
    """The text at most every RUN_TEXT_MS, the step panels at most every RUN_PANELS_MS, and both
    show the last token as soon as the run ends."""
    panels: list[float] = []
    texts: list[float] = []
    show, append = window.parts.inspector.parts_of, window.parts.editor.append_tokens

    def counting_show(*args, **kwargs):
        panels.append(time.perf_counter())
        return show(*args, **kwargs)

    def counting_append(*args, **kwargs):
        texts.append(time.perf_counter())
        return append(*args, **kwargs)

    window.parts.inspector.parts_of = counting_show  # every refresh of the panels starts here
    window.parts.editor.append_tokens = counting_append
    window.parts.controls.max_tokens.setValue(120)
    window.parts.controls.ignore_end.setChecked(True)
    started = time.perf_counter()
    run(qtbot, window, "generate")
    seconds = time.perf_counter() - started
    assert len(window.doc.mirror) == 120
    assert len(panels) <= seconds * 1000 / theme.RUN_PANELS_MS + 3
    assert len(texts) <= seconds * 1000 / theme.RUN_TEXT_MS + 3
    # The last refresh is the immediate one at the end of the run.
    assert np.diff(panels[:-1]).min(initial=1.0) >= theme.RUN_PANELS_MS / 1000 * 0.95
    assert np.diff(texts[:-1]).min(initial=1.0) >= theme.RUN_TEXT_MS / 1000 * 0.95
    assert window.steps.shown_index() == 119 and window.parts.editor.generated_text() == generator(window).record.text


def test_a_costly_text_redraws_less_often_when_the_window_shares_the_cores(qtbot, window: MainWindow) -> None:
    """When llama.cpp uses every core, a text whose redraw costs 20 ms of CPU is redrawn at most
    every 20 ms / RUN_TEXT_SHARE while tokens stream; the end of the run shows all of it."""
    texts: list[float] = []
    append = window.parts.editor.append_tokens

    def costly_append(*args, **kwargs):
        texts.append(time.perf_counter())
        burn = time.thread_time() + 0.02
        while time.thread_time() < burn:
            pass
        return append(*args, **kwargs)

    window.parts.editor.append_tokens = costly_append
    window.steps.contended = lambda: True  # as on a computer where llama.cpp has every core
    window.parts.controls.max_tokens.setValue(150)
    window.parts.controls.ignore_end.setChecked(True)
    run(qtbot, window, "generate")
    assert len(window.doc.mirror) == 150
    gaps = np.diff(texts[:-1])  # the last one is the immediate one at the end of the run
    assert gaps.size == 0 or gaps.min() >= 0.02 / theme.RUN_TEXT_SHARE * 0.9
    assert window.parts.editor.generated_text() == generator(window).record.text
    speed = window.parts.speed_label
    assert speed.minimumSize() == speed.maximumSize()  # its new numbers never lay the window out again


def test_closing_mid_generation_exits_cleanly(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(2000)
    window.run.generate()
    qtbot.waitUntil(lambda: len(window.doc.mirror) >= 3, timeout=WAIT_MS)
    generator = window.handle.worker.generator
    assert generator is not None
    written = len(generator.record.steps)  # the worker's own count (the window's may lag behind)
    window.close()
    # Closing stops the run at once: the step in hand and at most one started meanwhile, not 2000.
    assert len(generator.record.steps) <= written + 2
    assert not window.handle.worker_thread.isRunning()
    assert window.handle.worker.engine is None and window.handle.worker.generator is None


def test_empty_prompt_is_explained_not_sent(qtbot, window: MainWindow) -> None:
    window.parts.editor.set_prompt("   ")
    window.doc.text_edited = True
    window.run.generate()
    assert window.doc.state == "idle" and window.parts.banner.isVisible()
    assert "empty" in window.parts.banner.text.text()


def test_saving_a_run_writes_the_session_record(qtbot, window: MainWindow, tmp_path) -> None:
    from synthscope.session import load_record

    window.parts.controls.max_tokens.setValue(5)
    run(qtbot, window, "generate")
    target = tmp_path / "run.json"
    window.handle.save(str(target), window.sessions.snapshot())
    qtbot.waitUntil(lambda: "Saved the session" in window.statusBar().currentMessage(), timeout=WAIT_MS)
    saved = load_record(target)
    assert saved.text == window.parts.editor.generated_text()
    assert [s.token_id for s in saved.steps] == [s.token_id for s in window.doc.mirror.steps]


def test_command_line_model_option_opens_that_file(qtbot, qapp, tmp_path) -> None:
    from synthscope.ui.app import open_window, parse_args, run_app

    assert parse_args(["--model", "x.gguf"]).model == "x.gguf"
    assert parse_args([]).model is None
    assert run_app(["--no-such-option"]) == 2
    broken = tmp_path / "notes.gguf"
    broken.write_text("hello")
    win = open_window(str(broken))
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.doc.state == "no-model", timeout=WAIT_MS)
    assert "notes.gguf" in win.parts.banner.text.text()
    win.close()
    win = open_window(str(default_model_path()))  # a chosen file goes through the crash-proof probe
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: win.doc.state == "idle", timeout=WAIT_MS)
    assert win.doc.model is not None and win.doc.model.path == default_model_path()
    assert len(win.doc.model.vocab) == win.doc.model.facts.vocab_size
    win.close()


CHAT = "<|im_start|>user\nWhat is 2+2? Answer with one number.<|im_end|>\n<|im_start|>assistant\n"


def test_generation_stops_at_the_end_token_unless_told_to_keep_going(qtbot, window: MainWindow) -> None:
    chat = CHAT
    window.parts.controls.set_settings(SamplerSettings(temperature=0.0))
    window.parts.controls.max_tokens.setValue(60)
    window.parts.editor.setPlainText(chat)
    run(qtbot, window, "generate")
    ended = len(window.doc.mirror)
    assert ended < 60 and generator(window).is_end(window.doc.mirror.steps[-1])
    window.run.clear()
    window.parts.controls.ignore_end.setChecked(True)
    run(qtbot, window, "generate")
    assert len(window.doc.mirror) == 60
    assert [s.token_id for s in window.doc.mirror.steps[:ended]] == \
        [s.token_id for s in generator(window).record.steps[:ended]]


def test_the_end_token_shows_as_a_marker_and_ends_the_turn_in_the_next_prompt(
        qtbot, window: MainWindow) -> None:
    window.parts.controls.set_settings(SamplerSettings(temperature=0.0))
    window.parts.editor.setPlainText(CHAT)
    run(qtbot, window, "generate")
    record = generator(window).record
    assert generator(window).is_end(record.steps[-1])
    before_end = "".join(step.text for step in record.steps[:-1])
    assert window.parts.editor.toPlainText() == CHAT + before_end + END_MARK
    assert window.parts.editor.generated_text() == record.text
    window.parts.editor.setFocus()
    window.parts.editor.moveCursor(window.parts.editor.textCursor().MoveOperation.End)
    qtbot.keyClick(window.parts.editor, Qt.Key.Key_Return)
    assert window.parts.editor.toPlainText() == CHAT + record.text + "\n"
    run(qtbot, window, "step")
    assert generator(window).record.prompt == CHAT + record.text + "\n"


def test_a_bug_in_a_worker_slot_is_reported_and_never_leaves_the_window_waiting(
        qtbot, window: MainWindow, monkeypatch) -> None:
    from synthscope.ui.worker import engine_worker as worker

    run(qtbot, window, "step")

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(generator(window), "undo", broken)
    run(qtbot, window, "undo")
    assert window.parts.banner.isVisible() and "unexpected problem: a bug" in window.parts.banner.text.text()
    assert len(window.doc.mirror) == 1 and window.commands.step.isEnabled()
    monkeypatch.setattr(worker, "open_engine", broken)
    window.models.load_model(default_model_path(), probe=False)
    qtbot.waitUntil(lambda: window.doc.state == "no-model", timeout=WAIT_MS)
    assert "unexpected problem: a bug" in window.parts.banner.text.text()
    assert window.commands.open_model.isEnabled()


def test_the_excepthook_reaches_the_banner_from_any_thread(qtbot, window: MainWindow, monkeypatch) -> None:
    import sys
    import threading

    from synthscope.ui.app import _install_excepthook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # put back afterwards
    _install_excepthook(window)
    thread = threading.Thread(target=lambda: sys.excepthook(ValueError, ValueError("oops"), None))
    thread.start()
    thread.join()
    assert not window.parts.banner.isVisible()  # not touched from that thread: queued to this one
    qtbot.waitUntil(window.parts.banner.isVisible, timeout=5000)
    assert "Something went wrong inside Synthscope: oops" in window.parts.banner.text.text()


def test_a_damaged_settings_file_still_opens_the_window(qtbot, tmp_path) -> None:
    from PySide6.QtCore import QSettings

    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    store.setValue("view/text_size", "huge")
    store.setValue("sampler/top_k", "many")
    win = MainWindow(store)
    qtbot.addWidget(win)
    assert win.parts.editor.font().pointSize() == theme.TEXT_POINT_SIZE
    assert win.parts.controls.settings() == SamplerSettings()
    win.commands.bigger_text.trigger()
    assert win.parts.editor.font().pointSize() == theme.TEXT_POINT_SIZE + 1
    assert int(store.value("view/text_size")) == theme.TEXT_POINT_SIZE + 1
    win.close()
    from synthscope.ui.app import open_window

    store.setValue("window/geometry", "garbage")
    win = open_window(str(tmp_path / "missing.gguf"), store)
    qtbot.addWidget(win)
    assert win.isVisible() and win.width() > 0
    qtbot.waitUntil(lambda: win.doc.state == "no-model", timeout=WAIT_MS)
    win.close()


def test_a_sample_prompt_from_the_menu_starts_a_new_run(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(3)
    run(qtbot, window, "generate")
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Prompts")
    fact = next(a for a in menu.actions() if a.text() == "Fact")
    fact.trigger()
    assert window.parts.editor.toPlainText() == "The capital of France is" and len(window.doc.mirror) == 0
    window.parts.controls.set_settings(SamplerSettings(temperature=0.0))
    run(qtbot, window, "step")
    assert generator(window).record.prompt == "The capital of France is"
    assert window.parts.editor.generated_text() == " Paris"
    assert not window.windowIcon().isNull()
