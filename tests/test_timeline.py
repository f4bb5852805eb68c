"""The whole run at a glance on the real model: the timeline plots the record's own numbers and grows in
place, a hovered dot finds its word and a click shows its step, the text is shaded by chance, rank or
certainty with a key that says which, the unsure steps are a key away, and the summary is the run's."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QTextCursor

from synthscope.sampling import SamplerSettings
from synthscope.session.timeline import is_unsure, rank_band, shade_value, timeline
from synthscope.ui import theme
from window_helpers import idle, story_window, worker_generator

@pytest.fixture
def win(qtbot, qapp):
    with story_window(qtbot, qapp, 31, SamplerSettings(temperature=1.2), 24) as window:
        yield window


def test_the_timeline_plots_the_records_own_numbers_and_grows_in_place(qtbot, win) -> None:
    steps = win.doc.mirror.steps
    panel = win.parts.timeline
    x, y = panel.dots.getData()
    assert list(x) == list(range(1, 25))
    np.testing.assert_allclose(y, [-math.log2(s.trace.chosen_p_raw) for s in steps])
    np.testing.assert_allclose(panel.before.getData()[1], [s.trace.entropy_raw / math.log(2) for s in steps])
    np.testing.assert_allclose(panel.after.getData()[1], [s.trace.entropy_final / math.log(2) for s in steps])
    line = timeline(steps)
    assert f"perplexity {2 ** line.surprise_bits.mean():.1f}" in panel.summary.text()
    # the rank recorded is the word's place among all the model's word pieces before the samplers
    gen = worker_generator(win)
    for index in (0, 11, 23):
        raw = gen.raw_logits(index)
        assert steps[index].trace.chosen_rank == int(np.count_nonzero(raw > raw[steps[index].token_id])) + 1
    dots = panel.dots
    win.parts.controls.max_tokens.setValue(6)
    win.commands.generate.trigger()  # goes on from the text: the same items get more points
    idle(qtbot, win)
    assert panel.dots is dots and len(panel.dots.getData()[0]) == len(win.doc.mirror) == 30
    x, y = panel.dots.getData()  # the new points were added after the old ones, in order
    assert list(x) == list(range(1, 31))
    np.testing.assert_allclose(y, [-math.log2(s.trace.chosen_p_raw) for s in win.doc.mirror.steps])


def test_hover_finds_the_word_and_a_click_shows_its_step(qtbot, win) -> None:
    panel = win.parts.timeline
    panel.hovered.emit(5)
    assert win.parts.editor.hovered == 5
    panel.clicked.emit(7)
    qtbot.waitUntil(lambda: win.doc.shown_index() == 7)
    assert panel.marker.isVisible() and panel.marker.value() == 8
    view = panel.plot.getPlotItem().getViewBox()
    assert panel.index_at(view.mapViewToScene(QPointF(12.0, 1.0))) == 11
    assert panel.index_at(view.mapViewToScene(QPointF(99.0, 1.0))) is None


def test_the_text_is_shaded_by_chance_rank_or_certainty_and_the_key_says_which(qtbot, win) -> None:
    editor, legend = win.parts.editor, win.parts.text_legend
    steps = win.doc.mirror.steps

    def shade_of(index: int):
        cursor = QTextCursor(editor.document())
        start, end = editor.spans[index]
        cursor.setPosition(start + 1 if end > start + 1 else end)
        return cursor.charFormat().background().color().name()

    assert "Chance the model gave" in legend.label.text()
    for mode, words in (("rank", "rank among all word pieces"), ("certainty", "How sure the model was")):
        legend.mode.setCurrentIndex(legend.mode.findData(mode))
        assert words in legend.label.text()
        for index in (0, 9, 20):
            assert shade_of(index) == theme.band_colour(shade_value(steps[index], mode)).name()
    legend.mode.setCurrentIndex(legend.mode.findData("rank"))
    favourites = [i for i, s in enumerate(steps) if rank_band(s.trace.chosen_rank) == 0]
    assert favourites and shade_of(favourites[0]) == theme.band_colour(0.95).name()
    legend.mode.setCurrentIndex(legend.mode.findData("chance"))
    assert shade_of(3) == theme.band_colour(steps[3].trace.chosen_p_raw).name()


def test_the_unsure_steps_are_a_key_away(qtbot, win) -> None:
    steps = win.doc.mirror.steps
    unsure = [i for i, s in enumerate(steps) if is_unsure(s)]
    assert unsure, "a run at temperature 1.2 has unsure steps"
    later = [i for i in unsure if i > 0]
    assert later, "a run at temperature 1.2 is unsure more than once"
    win.steps.select_step(0)
    win.commands.next_unsure.trigger()
    assert win.doc.shown_index() == later[0]
    win.commands.next_unsure.trigger()
    second = later[1] if len(later) > 1 else later[0]
    assert win.doc.shown_index() == second
    win.parts.timeline.previous_button.click()
    assert win.doc.shown_index() == max(i for i in unsure if i < second)


def test_a_hovered_dot_says_its_word_chances_and_rank_and_the_summary_keeps_the_speed(qtbot, win) -> None:
    steps = win.doc.mirror.steps
    panel = win.parts.timeline
    panel.hovered.emit(4)
    words = panel.point_words
    assert words is not None and words.startswith("Word piece 5:")
    rank = steps[4].trace.chosen_rank
    assert ("favourite" in words) if rank == 1 else (f"{rank - 1:,} word pieces were likelier" in words)
    panel.hovered.emit(None)
    assert panel.point_words is None
    # the run ended: its writing speed stays in the summary until the text changes
    assert " per second" in panel.summary.text()
    win.commands.clear.trigger()
    idle(qtbot, win)
    assert panel.summary.text() == "nothing written yet"


def test_the_plot_is_tall_enough_for_a_run_the_samplers_made_less_sure(qtbot, win) -> None:
    """A temperature above 1 with nothing cut can leave the model less sure after the samplers than
    before, and than any word was surprising: the timeline's scale still holds that whole line."""
    from synthscope.session.timeline import Timeline

    count = 5
    after = np.array([2.0, 9.0, 13.5, 4.0, 3.0])
    line = Timeline(np.full(count, 1.0), np.full(count, 3.0), after, np.full(count, 0.5), np.ones(count))
    win.parts.timeline.show_timeline(line, "", None)
    assert win.parts.timeline.plot.getPlotItem().getViewBox().viewRange()[1][1] >= 13.5
