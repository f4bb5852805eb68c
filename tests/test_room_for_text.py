"""Room for the text: the step panels fold to one line each, and a tree of one branch is one line."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings

from synthscope.ui.main_window import MainWindow
from synthscope.ui.wording import describe_stage
from window_helpers import WAIT_MS, loaded_window


@pytest.fixture
def window(qtbot, qapp, tmp_path) -> Iterator[MainWindow]:
    win = loaded_window(qtbot, qapp, QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), seed=7)
    yield win
    win.close()


def test_folded_panels_give_the_text_room_and_still_say_what_happened(qtbot, window: MainWindow) -> None:
    window.controls.max_tokens.setValue(6)
    window.generate()
    qtbot.waitUntil(lambda: window.state == "idle" and not window.pending, timeout=WAIT_MS)
    window.select_step(5)
    qtbot.wait(50)
    tall_before = window.editor.viewport().height()
    for panel in (window.pipeline, window.dice):
        panel.fold.click()
    qtbot.waitUntil(lambda: window.editor.viewport().height() > tall_before + 150, timeout=WAIT_MS)
    assert not window.pipeline.boxes["top_k"].isVisible() and not window.dice.bar.isVisible()
    step = window.mirror.steps[5]
    busy = [describe_stage(s, step.settings) for s in step.trace.stages]
    summary = window.pipeline.summary.text()
    assert window.pipeline.summary.isVisible() and summary
    assert all(f"{w.title}: {w.headline}" in summary for w in busy if not w.idle)
    u = step.u
    assert f"{u:.1%}" in window.dice.summary.text() and window.dice.summary.isVisible()
    window.pipeline.fold.click()  # unfolds
    assert window.pipeline.boxes["top_k"].isVisible() and not window.pipeline.summary.isVisible()


def test_the_folds_are_remembered(qtbot, qapp, tmp_path) -> None:
    store = QSettings(str(tmp_path / "fold.ini"), QSettings.Format.IniFormat)
    first = MainWindow(store)
    qtbot.addWidget(first)
    first.dice.fold.setChecked(True)
    first.close()
    again = MainWindow(QSettings(str(tmp_path / "fold.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.dice.fold.isChecked() and not again.pipeline.fold.isChecked()
    again.close()


def test_a_tree_of_one_is_a_single_line_that_says_how_to_branch(qtbot, window: MainWindow) -> None:
    panel = window.branches_panel
    assert not panel.tree.isVisible() and "click a word" in panel.title.text()
    line = panel.title.fontMetrics().lineSpacing()
    assert panel.height() < 4 * line  # title row and margins only
    assert panel.title.width() > panel.title.fontMetrics().horizontalAdvance("Branches · none yet")
    window.controls.max_tokens.setValue(4)
    window.generate()
    qtbot.waitUntil(lambda: window.state == "idle" and not window.pending, timeout=WAIT_MS)
    step = window.mirror.steps[1]
    other = next(int(t) for t in step.trace.candidates["token_id"] if int(t) != step.token_id)
    window.branch_from(1, other)
    qtbot.waitUntil(lambda: window.state == "idle" and len(window.tree.branches) == 2, timeout=WAIT_MS)
    assert panel.tree.isVisible() and panel.title.text() == "Branches"
