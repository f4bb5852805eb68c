"""Sweeps of one step on the real model: the values at the current setting are the step's own trace;
in the window the sweeps follow the step on show, and a dragged slider moves the marks (no
recomputing) while the chances bars reshape as a what-if."""
from __future__ import annotations

import pytest

from synthscope.sampling import SamplerSettings
from synthscope.session.sweeps import POINTS, sweep
from window_helpers import WAIT_MS, story_window

@pytest.fixture
def win(qtbot, qapp):
    with story_window(qtbot, qapp, 23, SamplerSettings(repeat_penalty=1.1), 12) as window:
        yield window


def test_the_sweeps_at_the_current_setting_are_the_steps_own_trace(qtbot, win) -> None:
    index = 6
    step = win.doc.mirror.steps[index]
    qtbot.waitUntil(lambda: win.doc.mirror.chain_for(index, step.settings) is not None, timeout=WAIT_MS)
    chain = win.doc.mirror.chain_for(index, step.settings)
    tokens = [int(t) for t in step.trace.candidates["token_id"][:5]]
    final = dict(zip(step.trace.final["token_id"].tolist(), step.trace.final["p"].tolist()))
    for setting, current in (("temperature", step.settings.temperature), ("top_p", step.settings.top_p)):
        result = sweep(chain, step.settings, setting, tokens)
        assert len(result.values) == POINTS and result.values[0] < result.values[-1]
        row = result.at(current)
        assert result.values[row] == pytest.approx(current)
        for column, token in enumerate(tokens):
            assert result.chances[row, column] == pytest.approx(final.get(token, 0.0), abs=1e-6)
        assert result.in_play[row] == step.trace.final_size
    favourite = max(final, key=final.get)
    heat = sweep(chain, step.settings, "temperature", [favourite])
    assert heat.in_play[0] == 1  # temperature 0: the top word only
    assert heat.chances[1, 0] > heat.chances[-1, 0]  # the favourite loses as the odds flatten
    assert heat.in_play[1] <= heat.in_play[-1]


def test_the_sweeps_window_follows_the_step_and_the_sliders(qtbot, win) -> None:
    win.steps.select_step(6)
    win.parts.distribution.sweeps_button.click()
    window = win.sweeps.sweeps_window
    assert window is not None and window.isVisible()
    qtbot.waitUntil(lambda: window.view.key is not None, timeout=WAIT_MS)
    plot = window.view.plots["temperature"]
    assert plot.sweep is not None and "(the marker)" in plot.sentence.text()
    assert plot.marker.value() == pytest.approx(0.8)
    key = window.view.key
    win.parts.controls.controls["temperature"].set_value(1.5)
    qtbot.waitUntil(lambda: plot.marker.value() == pytest.approx(1.5), timeout=WAIT_MS)
    assert window.view.key == key  # the sweep itself did not change: only the mark moved
    assert win.parts.inspector.view.is_what_if  # and the chances bars show the what-if
    assert "What if" in win.parts.distribution.title.text()
    win.steps.select_step(3)
    qtbot.waitUntil(lambda: window.view.key != key, timeout=WAIT_MS)
    assert "Word piece 4" in window.heading.text()
