"""Room for the text: the step panels fold to one line each, and a tree of one branch is one line."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings

from synthscope.ui.window.main_window import MainWindow
from synthscope.ui.stage_words import describe_stage
from synthscope.ui.steps.text_view import TEXT_LINES
from window_helpers import WAIT_MS, loaded_window


@pytest.fixture
def window(qtbot, qapp, tmp_path) -> Iterator[MainWindow]:
    win = loaded_window(qtbot, qapp, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), seed=7)
    yield win
    win.close()


def test_folded_panels_give_the_text_room_and_still_say_what_happened(qtbot, window: MainWindow) -> None:
    window.parts.controls.max_tokens.setValue(6)
    window.run.generate()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)
    window.steps.select_step(5)
    qtbot.wait(50)
    window.resize(1400, 1200)  # a tall screen: room the folded panels give back goes to the text
    qtbot.wait(100)
    editor = window.parts.editor
    tall_before = editor.viewport().height()
    assert tall_before >= TEXT_LINES * editor.fontMetrics().lineSpacing()  # the text first, panels open
    for panel in (window.parts.timeline, window.parts.pipeline, window.parts.dice):
        panel.fold.click()
    # What the folded panels give back goes to the text: three more lines at least.
    qtbot.waitUntil(lambda: editor.viewport().height() > tall_before + 3 * editor.fontMetrics().lineSpacing(),
                    timeout=WAIT_MS)
    assert not window.parts.pipeline.boxes["top_k"].isVisible() and not window.parts.dice.bar.isVisible()
    step = window.doc.mirror.steps[5]
    busy = [describe_stage(s, step.settings) for s in step.trace.stages]
    summary = window.parts.pipeline.summary.text()
    assert window.parts.pipeline.summary.isVisible() and summary
    assert all(f"{w.title}: {w.headline}" in summary for w in busy if not w.idle)
    u = step.u
    assert f"{u:.1%}" in window.parts.dice.summary.text() and window.parts.dice.summary.isVisible()
    window.parts.pipeline.fold.click()  # unfolds
    assert window.parts.pipeline.boxes["top_k"].isVisible() and not window.parts.pipeline.summary.isVisible()


def test_the_folds_are_remembered(qtbot, qapp, tmp_path) -> None:
    store = QSettings(str(tmp_path / "fold.ini"), QSettings.Format.IniFormat)
    first = MainWindow(store)
    qtbot.addWidget(first)
    first.parts.dice.fold.setChecked(True)
    first.close()
    again = MainWindow(QSettings(str(tmp_path / "fold.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.parts.dice.fold.isChecked() and not again.parts.pipeline.fold.isChecked()
    again.close()


def test_a_tree_of_one_is_a_single_line_that_says_how_to_branch(qtbot, window: MainWindow) -> None:
    panel = window.parts.branches_panel
    assert not panel.tree.isVisible() and "click a word" in panel.title.text()
    line = panel.title.fontMetrics().lineSpacing()
    assert panel.height() < 4 * line  # title row and margins only
    assert panel.title.width() > panel.title.fontMetrics().horizontalAdvance("Branches · none yet")
    window.parts.controls.max_tokens.setValue(4)
    window.run.generate()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)
    step = window.doc.mirror.steps[1]
    other = next(int(t) for t in step.trace.candidates["token_id"] if int(t) != step.token_id)
    window.branching.branch_from(1, other)
    qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.tree.branches) == 2, timeout=WAIT_MS)
    assert panel.tree.isVisible() and panel.title.text() == "Branches"
