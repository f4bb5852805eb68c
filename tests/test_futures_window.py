"""Run → Many futures from here, on the real model: the window writes the futures in the worker, shows
the tally, the tree and the list, lights the likeliest and rarest paths, takes one into the text as a
branch whose numbers are the run's own, and stops when asked."""
from __future__ import annotations

import pytest

from synthscope.sampling import SamplerSettings
from window_helpers import WAIT_MS, idle, story_window, worker_generator

@pytest.fixture
def win(qtbot, qapp):
    with story_window(qtbot, qapp, 17, SamplerSettings(temperature=1.1), 10) as window:
        yield window


def written(qtbot, futures_window) -> None:
    qtbot.waitUntil(lambda: futures_window.futures is not None, timeout=WAIT_MS)


def test_futures_from_a_step_show_three_ways_and_one_becomes_a_branch(qtbot, win) -> None:
    win.steps.select_step(4)
    win.commands.futures.trigger()
    window = win.futures.futures_window
    assert window is not None and window.isVisible() and window.index == 4
    window.n.setValue(40)
    window.depth.setValue(4)
    window.write_button.click()
    written(qtbot, window)
    futures = window.futures
    assert futures.tree.count == 40 and all(len(f.token_ids) == 4 for f in futures.continuations)
    # the tally's chances are the step's own (the run's logits at step 5, exactly)
    step = win.doc.mirror.steps[4]
    own = dict(zip(step.trace.final["token_id"].tolist(), step.trace.final["p"].tolist()))
    for token, drawn, p in futures.tally()[:5]:
        if token in own:
            assert p == pytest.approx(own[token], rel=1e-6)
    assert "times; its chance was" in window.tally_sentence.text()
    assert window.tree.boxes and sum(b.count for b in window.tree.boxes if len(b.path) == 1) == 40
    assert window.list.count() >= 1
    window.rarest.click()
    rare = window.tree.highlight
    window.likeliest.click()
    likely = window.tree.highlight
    assert len(likely) == 4 and window.list.selected_path()[:4] == likely
    node = futures.tree
    for token in likely:
        node = node.children[token]
    assert rare != likely or len(futures.tree.children) == 1
    window.take.click()
    idle(qtbot, win)
    assert len(win.doc.tree.branches) == 2
    steps = win.doc.mirror.steps
    assert [s.token_id for s in steps[4:8]] == list(likely) and len(steps) == 8
    assert all(s.chosen_by == "person" for s in steps[4:8])
    # every number of the branch is the run's own: its logits are decoded one word piece at a time
    gen = worker_generator(win)
    for index in range(4, 8):
        assert steps[index].trace.chosen_p_raw == pytest.approx(
            float(_softmax(gen.raw_logits(index))[steps[index].token_id]), rel=1e-5)


def _softmax(logits):
    import numpy as np

    values = logits.astype(np.float64)
    values = np.exp(values - values.max())
    return values / values.sum()


def test_stop_ends_a_long_writing_and_the_window_says_so(qtbot, win) -> None:
    win.commands.futures.trigger()
    window = win.futures.futures_window
    window.n.setValue(500)
    window.depth.setValue(64)
    window.write_button.click()
    qtbot.waitUntil(lambda: window.progress.value() >= 1, timeout=WAIT_MS)
    window.stop_button.click()
    qtbot.waitUntil(lambda: window.write_button.isEnabled(), timeout=WAIT_MS)
    assert "stopped" in window.message.text() and window.futures is None
    window.close()
