"""Branches, replays, manual picks and sessions in the real window with the real model, and an
autosaved session surviving a killed process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings

from synthscope.engine import default_model_path
from synthscope.sampling import Dice, SamplerSettings, run_chain
from synthscope.session import ModelIdentity
from synthscope.session.tree import TRUNK
from synthscope.ui.window.main_window import MainWindow
from window_helpers import WAIT_MS, loaded_window, worker_generator


@pytest.fixture
def window(qtbot, qapp) -> Iterator[MainWindow]:
    win = loaded_window(qtbot, qapp, seed=21)
    win.parts.controls.max_tokens.setValue(24)
    win.parts.controls.ignore_end.setChecked(True)
    yield win
    win.close()


def idle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)


def tokens(steps) -> list[int]:
    return [s.token_id for s in steps]


def alternative_actions(window: MainWindow, index: int) -> list:
    window.branching.offer_alternatives(index)
    menu = window.branching.alternatives_menu
    assert menu is not None
    menu.close()
    return [a for a in menu.actions() if a.isCheckable()]


def test_writing_another_token_keeps_the_old_text_as_a_branch(qtbot, window: MainWindow) -> None:
    window.run.generate()
    idle(qtbot, window)
    trunk = tokens(window.doc.mirror.steps)
    first_logits = window.doc.mirror.logits.get(5)
    assert first_logits is not None  # as the step was sampled from, kept while the run streamed
    first_logits = first_logits.copy()
    choices = alternative_actions(window, 9)
    assert sum(a.isChecked() for a in choices) == 1 and len(choices) >= 5
    unchosen = next(a for a in choices if not a.isChecked())
    unchosen.trigger()
    idle(qtbot, window)
    branch = tokens(window.doc.mirror.steps)
    assert branch[:9] == trunk[:9] and branch[9] != trunk[9] and len(branch) == len(trunk)
    assert tokens(window.doc.tree.branches[TRUNK].steps) == trunk  # nothing lost
    assert tokens(worker_generator(window).record.steps) == branch
    assert [s.u for s in window.doc.mirror.steps[10:]] == [Dice(21).u(i) for i in range(10, len(branch))]
    assert window.parts.editor.fork_at == 9 and window.parts.branches_panel.tree.topLevelItemCount() == 1
    # Back to the main text: the text, the panels and the worker follow it.
    window.parts.branches_panel.branchChosen.emit(TRUNK)
    idle(qtbot, window)
    assert tokens(window.doc.mirror.steps) == trunk and window.parts.editor.fork_at is None
    assert tokens(worker_generator(window).record.steps) == trunk
    assert window.parts.editor.generated_text() == "".join(s.text for s in window.doc.mirror.steps)
    # A what-if on the followed path fetches re-decoded logits equal to the original ones.
    assert window.doc.mirror.logits.get(5) is None  # another path's steps come without logits
    window.steps.select_step(5)
    window.parts.controls.set_settings(SamplerSettings(temperature=0.0))
    qtbot.waitUntil(lambda: window.parts.inspector.view is not None and window.parts.inspector.view.is_what_if,
                    timeout=WAIT_MS)
    refetched = window.doc.mirror.logits.get(5)
    assert refetched is not None and refetched is not first_logits
    assert np.array_equal(refetched, first_logits)  # bit for bit: decoded one token at a time again
    greedy = run_chain(first_logits, SamplerSettings(temperature=0.0), window.doc.mirror.history(5), None)
    assert window.parts.inspector.view.token_id == greedy.token_id  # the what-if used those scores


def test_replaying_with_the_same_settings_writes_the_same_text_and_other_settings_are_explained(
        qtbot, window: MainWindow) -> None:
    window.run.generate()
    idle(qtbot, window)
    trunk = tokens(window.doc.mirror.steps)
    window.branching.branch_from(4, None)  # the same settings: the same dice give the same text
    idle(qtbot, window)
    assert tokens(window.doc.mirror.steps) == trunk
    assert "same text" in window.parts.branches_panel.note.text()
    window.parts.controls.set_settings(SamplerSettings(top_k=1))
    window.branching.branch_from(4, None)
    idle(qtbot, window)
    replay = tokens(window.doc.mirror.steps)
    first = next(i for i, (a, b) in enumerate(zip(trunk, replay)) if a != b)
    note = window.parts.branches_panel.note.text()
    assert f"differs at word piece {first + 1}" in note and "top-k 40 → 1" in note
    assert window.doc.selected == first and len(window.doc.tree.branches) == 3


def test_deleting_a_branch_can_be_undone(qtbot, window: MainWindow) -> None:
    window.run.generate()
    idle(qtbot, window)
    trunk = tokens(window.doc.mirror.steps)
    next(a for a in alternative_actions(window, 3) if not a.isChecked()).trigger()
    idle(qtbot, window)
    branch_id = window.doc.tree.current
    window.parts.branches_panel.deleteRequested.emit(branch_id)
    idle(qtbot, window)
    assert branch_id not in window.doc.tree.branches and tokens(window.doc.mirror.steps) == trunk
    window.parts.branches_panel.undoDeleteRequested.emit()
    idle(qtbot, window)
    assert window.doc.tree.current == branch_id and tokens(window.doc.mirror.steps)[3] != trunk[3]
    window.branching.rename_branch(branch_id, "My version")
    assert window.parts.branches_panel.tree.topLevelItem(0).child(0).text(0) == "▶ My version"


def test_picking_each_token_yourself(qtbot, window: MainWindow) -> None:
    window.commands.manual.setChecked(True)
    window.run.step()  # no run yet: the first token starts one
    idle(qtbot, window)
    assert len(window.doc.mirror) == 1
    window.run.step()
    qtbot.waitUntil(lambda: window.manual.menu is not None and window.manual.menu.isVisible(),
                    timeout=WAIT_MS)
    menu = window.manual.menu
    picks = [a for a in menu.actions() if a.text().startswith("‘")]
    assert len(picks) >= 5
    wanted = picks[4].text().split("’")[0].removeprefix("‘")
    picks[4].trigger()
    menu.close()
    idle(qtbot, window)
    step = window.doc.mirror.steps[1]
    assert step.chosen_by == "person" and window.steps.token_text(step.token_id) == wanted
    assert window.parts.editor.generated_text() == worker_generator(window).record.text  # both tokens
    assert len(window.doc.tree.branches) == 1  # writing at the end is no branch


def test_a_session_saved_and_opened_again_is_the_same_tree(qtbot, qapp, window: MainWindow, tmp_path) -> None:
    window.run.generate()
    idle(qtbot, window)
    next(a for a in alternative_actions(window, 6) if not a.isChecked()).trigger()
    idle(qtbot, window)
    window.branching.rename_branch(window.doc.tree.current, "Other")
    path = tmp_path / "session.json"
    window.handle.save(str(path), window.sessions.snapshot())
    qtbot.waitUntil(path.is_file, timeout=WAIT_MS)
    saved = {b.id: (b.name, b.parent, b.fork_at, tokens(b.steps)) for b in window.doc.tree.branches.values()}
    other = loaded_window(qtbot, qapp, seed=1)
    assert other.sessions.open_session(str(path))
    idle(qtbot, other)
    opened = {b.id: (b.name, b.parent, b.fork_at, tokens(b.steps)) for b in other.doc.tree.branches.values()}
    assert opened == saved
    assert tokens(other.doc.mirror.steps) == saved[window.doc.tree.current][3]
    assert tokens(worker_generator(other).record.steps) == saved[window.doc.tree.current][3]
    assert other.parts.editor.generated_text() == window.parts.editor.generated_text()
    assert other.parts.controls.seed() == 21
    other.close()


def test_a_session_of_another_model_is_refused_and_a_moved_model_can_be_located(
        qtbot, window: MainWindow, tmp_path, gemma_path) -> None:
    import json

    window.run.generate()
    idle(qtbot, window)
    path = tmp_path / "session.json"
    window.handle.save(str(path), window.sessions.snapshot())
    qtbot.waitUntil(path.is_file, timeout=WAIT_MS)
    data = json.loads(path.read_text())
    gemma = ModelIdentity.of_file(gemma_path, "Gemma", 262144)
    data["model"] = vars(gemma)  # made with Gemma, which is not loaded
    (tmp_path / "gemma.json").write_text(json.dumps(data))
    data["model"] = {**vars(gemma), "path": str(tmp_path / "gone.gguf")}
    (tmp_path / "gone.json").write_text(json.dumps(data))
    asked = []
    window.sessions.locate_model = lambda identity: asked.append(identity.path) or str(default_model_path())
    assert not window.sessions.open_session(str(tmp_path / "gone.json"))
    assert asked == [str(tmp_path / "gone.gguf")]  # offered to locate it, then refused the wrong file
    assert "another model" in window.parts.banner.text.text()
    (tmp_path / "broken.json").write_text("{ not json")
    assert not window.sessions.open_session(str(tmp_path / "broken.json"))
    assert "could not be opened" in window.parts.banner.text.text()
    assert window.sessions.open_session(str(tmp_path / "gemma.json"))  # its model exists: loaded first
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == gemma_path and len(window.doc.mirror) > 0, timeout=WAIT_MS)
    assert window.parts.banner.isHidden() or "another model" not in window.parts.banner.text.text()


CHILD = textwrap.dedent("""
    import sys, time
    from PySide6.QtCore import QSettings
    from synthscope.ui.app import create_application, open_window
    app = create_application()
    window = open_window(None, QSettings(sys.argv[1], QSettings.Format.IniFormat))
    started = False
    def tick():
        global started
        if window.doc.state == "idle" and not started:
            started = True
            window.chat.set_mode(False)
            window.parts.controls.max_tokens.setValue(int(sys.argv[2]))
            window.parts.controls.ignore_end.setChecked(True)
            window.run.generate()
        elif started and window.doc.state == "idle" and not window.steps.pending:
            print("WROTE", len(window.doc.mirror), flush=True)
    from PySide6.QtCore import QTimer
    timer = QTimer(); timer.timeout.connect(tick); timer.start(50)
    app.exec()
""")


def test_an_autosaved_session_survives_a_killed_process(qtbot, tmp_path, engine_config, monkeypatch) -> None:
    from synthscope.session.exploration_io import load_exploration

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SYNTHSCOPE_CACHE_DIR": str(tmp_path)}
    (tmp_path / "engine-choice.json").write_text(
        (Path(os.environ["SYNTHSCOPE_CACHE_DIR"]) / "engine-choice.json").read_text())
    settings = str(tmp_path / "settings.ini")
    child = subprocess.Popen([sys.executable, "-c", CHILD, settings, "30"], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("WROTE 30"), line
        autosave = tmp_path / "autosave-session.json"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (  # the autosave after the last token
                autosave.is_file() and len(load_exploration(autosave).record.steps) == 30):
            time.sleep(0.1)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL
    saved = load_exploration(autosave)
    assert len(saved.record.steps) == 30
    from synthscope.ui.app import open_window

    monkeypatch.setenv("SYNTHSCOPE_CACHE_DIR", str(tmp_path))  # where the killed app saved it
    window = open_window(None, QSettings(settings, QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.mirror) == 30, timeout=WAIT_MS)
    qtbot.wait(1000)  # nothing else arrives afterwards to undo the restore
    assert window.doc.state == "idle" and window.commands.undo.isEnabled()
    assert tokens(window.doc.mirror.steps) == tokens(saved.record.steps)
    assert tokens(worker_generator(window).record.steps) == tokens(saved.record.steps)
    assert window.parts.editor.generated_text() == saved.record.text
    window.autosave.enabled = False  # the test's own window must not rewrite it
    window.close()


def test_compare_opens_on_the_windows_prompt_and_settings(qtbot, window: MainWindow) -> None:
    window.parts.controls.set_settings(SamplerSettings(temperature=0.5))
    compare = window.commands.compare.trigger() or window.compare.windows[-1]
    qtbot.addWidget(compare)
    assert compare.prompt == window.parts.editor.toPlainText() and compare.messages is None
    assert compare.specs()[0].settings == SamplerSettings(temperature=0.5)
    assert compare.specs()[0].seed == 21 and len(compare.columns) == 2
    compare.close()
    window.chat.set_mode(True)
    window.parts.chat_input.set_message("Name a colour.")
    chat = window.compare.open_compare()
    qtbot.addWidget(chat)
    assert chat.messages == ({"role": "user", "content": "Name a colour."},)
    chat.close()
