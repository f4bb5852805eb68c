"""The right-hand column for a first-time user: plain words under each sampler, no "token" on screen,
Performance folded away in the simple view, and nothing cut off at the usual window sizes."""
from __future__ import annotations

import os
from collections.abc import Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import (  # noqa: E402
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QWidget,
)
from synthscope.sampling.specs import SWITCHES  # noqa: E402
from synthscope.sampling import SPECS, SamplerSettings  # noqa: E402
from synthscope.ui import theme  # noqa: E402
from synthscope.ui.settings.controls import SIMPLE_KEYS, ControlsPanel  # noqa: E402
from synthscope.ui.settings.setting_words import plain_effect  # noqa: E402
from synthscope.ui.window.main_window import MainWindow  # noqa: E402
from synthscope.ui.settings.performance import PerformancePanel  # noqa: E402
from synthscope.ui.settings.stop_sequences import HELP, StopSequencesBox  # noqa: E402


@pytest.fixture
def panel(qtbot) -> ControlsPanel:
    made = ControlsPanel()
    qtbot.addWidget(made)
    made.show()
    return made


def ini(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "synthscope.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def fresh_window(qtbot, qapp, tmp_path) -> Iterator[MainWindow]:
    """A first start: an empty settings file, no model needed for the layout."""
    theme.apply(qapp)
    win = MainWindow(ini(tmp_path))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def visible_words(widget: QWidget) -> list[str]:
    """Every text the column shows: labels, buttons, menus, number boxes' suffixes, placeholders."""
    texts = [w.text() for w in widget.findChildren(QLabel)]
    texts += [w.text() for w in widget.findChildren(QAbstractButton)]
    texts += [w.placeholderText() for w in widget.findChildren(QLineEdit)]
    texts += [w.itemText(i) for w in widget.findChildren(QComboBox) for i in range(w.count())]
    texts += [w.suffix() + w.specialValueText() for w in widget.findChildren(QSpinBox)]
    texts += [w.specialValueText() for w in widget.findChildren(QAbstractSpinBox)]
    return texts


def test_no_visible_label_says_token(qtbot, panel: ControlsPanel) -> None:
    stops, performance = StopSequencesBox(), PerformancePanel(4, True)
    for widget in (stops, performance):
        qtbot.addWidget(widget)
    panel.show_all.setChecked(True)
    for widget in (panel, stops, performance):
        words = [text for text in visible_words(widget) if "token" in text.lower()]
        assert not words, f"{type(widget).__name__} still says token: {words}"
    assert "word pieces" in " ".join(visible_words(panel))  # the length is counted in word pieces


def test_the_hidden_samplers_are_named_in_plain_words(panel: ControlsPanel) -> None:
    note = panel.hidden_note
    assert "Show all settings" in note.text()
    values = SamplerSettings().to_dict()
    working = [s for s in SPECS if s.key not in SIMPLE_KEYS and s.key in SWITCHES and not s.is_off(values[s.key])]
    assert working  # llama.cpp's defaults keep some hidden samplers at work
    for spec in working:
        assert plain_effect(spec.key, values[spec.key]) in note.text()
        assert spec.help in note.toolTip()  # each explained in a sentence when hovered
    assert f"only the {values['top_k']} likeliest words" in note.text()
    panel.set_settings(SamplerSettings(top_k=0, repeat_penalty=1.1))
    assert "likeliest words" not in note.text() and "recent words made less likely" in note.text()
    assert "Top-k" not in note.toolTip() and "Repeat penalty" in note.toolTip()
    panel.set_settings(SamplerSettings(top_k=0, min_p=0.0))
    assert note.text() == "The other samplers are off." and not note.toolTip()


def test_each_sampler_slider_and_the_seed_say_what_they_do(panel: ControlsPanel) -> None:
    panel.show_all.setChecked(True)
    for key in ("temperature", "top_k", "top_p", "min_p", "typical_p"):
        ends = panel.controls[key].ends
        assert len(ends) == 2 and all(end.isVisible() and end.text() for end in ends), key
        assert ends[0].text().startswith("◀") and ends[1].text().endswith("▶")
    assert panel.seed_subtitle.isVisible() and "same seed" in panel.seed_subtitle.text()
    panel.show_all.setChecked(False)
    assert not any(end.isVisible() for end in panel.controls["min_p"].ends)
    assert all(end.isVisible() for end in panel.controls["top_p"].ends)  # top-p stays in the simple view


def test_performance_is_folded_away_until_show_all_settings(qtbot, qapp, tmp_path) -> None:
    theme.apply(qapp)
    store = ini(tmp_path)
    win = MainWindow(store)
    qtbot.addWidget(win)
    win.show()
    assert not win.parts.controls.show_all.isChecked() and not win.parts.performance.isVisible()
    win.parts.controls.show_all.setChecked(True)
    assert win.parts.performance.isVisible()
    win.parts.controls.save(store)
    win.close()
    again = MainWindow(store)  # the choice is remembered, and with it the Performance section
    qtbot.addWidget(again)
    again.show()
    assert again.parts.controls.show_all.isChecked() and again.parts.performance.isVisible()
    again.parts.controls.show_all.setChecked(False)
    assert not again.parts.performance.isVisible()
    again.close()


@pytest.mark.parametrize("size", [(1600, 1000), (1280, 800)])
def test_nothing_in_the_column_is_cut_off(qtbot, fresh_window: MainWindow, size: tuple[int, int]) -> None:
    win = fresh_window
    win.resize(*size)
    for show_all in (False, True):
        win.parts.controls.show_all.setChecked(show_all)
        qtbot.wait(50)  # let the layouts settle
        entry = win.parts.stops.entry
        room = entry.contentsRect().width() - 8  # the line edit's inner text margins
        assert entry.fontMetrics().horizontalAdvance(entry.placeholderText()) <= room
        assert entry.toolTip() == HELP  # the full explanation stays in the tooltip
        area = next(a for a in win.findChildren(QScrollArea) if a.widget() is not None
                    and a.widget().isAncestorOf(win.parts.controls))
        assert area.widget().width() <= area.viewport().width(), f"show all: {show_all}"
