"""Rough handling of the real window on the real model: rapid Generate and Stop, closing in the middle
of a run, a load or a comparison, switching model mid-run, exploring while a run is in flight; and the
long soak's core, smoke-run short. Nothing may crash, hang, leave a thread running or let the text
and the steps disagree."""
from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from synthscope.engine import LoadCancelled, open_engine, probe_model
from synthscope.sampling import SamplerSettings
from synthscope.session.tree import TRUNK
from synthscope.ui.window.main_window import MainWindow
from window_helpers import WAIT_MS, loaded_window, worker_generator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_soak  # noqa: E402

LONG = 2048  # a run that is still writing when the test acts on it


def tokens(steps) -> list[int]:
    return [s.token_id for s in steps]


def idle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)


def running_with_steps(qtbot, window: MainWindow, more_than: int) -> None:
    qtbot.waitUntil(lambda: window.doc.state == "running" and len(window.doc.mirror) > more_than,
                    timeout=WAIT_MS)


def assert_consistent(window: MainWindow) -> None:
    """Idle: the text shown, the window's steps, the tree's path and the worker's run all agree."""
    doc = window.doc
    assert window.parts.editor.generated_text() == "".join(s.text for s in doc.mirror.steps)
    if doc.mirror.prompt_tokens.size:
        assert tokens(worker_generator(window).record.steps) == tokens(doc.mirror.steps)
    assert tokens(doc.tree.path) == tokens(doc.mirror.steps)
    assert doc.selected is None or doc.selected < len(doc.mirror)


def own_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    """Python threads started since `before` that still run (Qt's own threads show as dummies)."""
    return [t for t in threading.enumerate()
            if t not in before and t.is_alive() and not isinstance(t, threading._DummyThread)]


def assert_closed_cleanly(qtbot, window: MainWindow, before: set[threading.Thread]) -> None:
    """After close: the worker's thread has ended, llama.cpp is freed, no thread is left, and what
    the worker sent before it stopped changes nothing any more."""
    assert window.handle.worker_thread.isFinished()
    assert window.handle.worker.engine is None and window.handle.worker.generator is None
    shown = (window.doc.state, len(window.doc.mirror), window.parts.editor.toPlainText())
    qtbot.wait(300)  # queued signals from the worker are delivered now, if any are left
    assert (window.doc.state, len(window.doc.mirror), window.parts.editor.toPlainText()) == shown
    assert own_threads(before) == []


@pytest.fixture
def window(qtbot, qapp) -> Iterator[MainWindow]:
    win = loaded_window(qtbot, qapp, seed=5)
    win.parts.controls.ignore_end.setChecked(True)
    yield win
    win.close()


def test_a_hundred_rapid_generate_and_stop_cycles(qtbot, window: MainWindow) -> None:
    a = window.commands
    length = window.parts.controls.max_tokens
    length.setValue(LONG)
    written = 0
    for cycle in range(100):
        before = len(window.doc.mirror)
        a.generate.trigger()
        a.generate.trigger()  # a double click starts nothing more
        if cycle % 4 == 3:  # now and then, once it writes
            running_with_steps(qtbot, window, before)
        assert a.stop.isEnabled()
        a.stop.trigger()
        a.stop.trigger()
        idle(qtbot, window)
        made = len(window.doc.mirror) - before
        assert made >= 0 and (cycle % 4 != 3 or made > 0)
        written += made
        assert_consistent(window)
        assert a.generate.isEnabled() and not a.stop.isEnabled()
    assert len(window.doc.tree.branches) == 1  # stopping and going on is one text, no branches
    assert written == len(window.doc.mirror) and written < 100 * 40  # each stop took hold quickly
    # The run goes on as normal afterwards.
    length.setValue(8)
    before = len(window.doc.mirror)
    a.generate.trigger()
    idle(qtbot, window)
    assert len(window.doc.mirror) == before + 8
    assert_consistent(window)


def test_closing_during_a_run_ends_every_thread(qtbot, qapp) -> None:
    before = set(threading.enumerate())
    window = loaded_window(qtbot, qapp, seed=3)
    window.parts.controls.max_tokens.setValue(LONG)
    window.parts.controls.ignore_end.setChecked(True)
    window.handle.set_threads(1)  # a core left free: the traces are built on a thread of their own
    window.commands.generate.trigger()
    running_with_steps(qtbot, window, 10)
    if worker_generator(window).overlaps:
        assert any(t.name.startswith("synthscope-trace") for t in own_threads(before))  # the check sees it
    window.close()
    assert_closed_cleanly(qtbot, window, before)


@pytest.mark.gemma
def test_closing_while_a_model_loads(qtbot, qapp, gemma_path: Path) -> None:
    before = set(threading.enumerate())
    window = loaded_window(qtbot, qapp)
    window.models.load_model(gemma_path, probe=False)
    # Into llama.cpp's loading (a fast machine may be done by the time this looks again).
    qtbot.waitUntil(lambda: window.parts.progress.value() > 0 or window.doc.state != "loading",
                    timeout=WAIT_MS)
    window.close()
    assert_closed_cleanly(qtbot, window, before)


@pytest.mark.gemma
def test_closing_while_a_chosen_file_is_checked_in_a_child(qtbot, qapp, gemma_path: Path) -> None:
    before = set(threading.enumerate())
    window = loaded_window(qtbot, qapp)
    window.models.open_model_file(str(gemma_path))  # a file chosen by hand: checked in a child first
    assert window.doc.state == "loading"
    window.close()
    assert_closed_cleanly(qtbot, window, before)


def test_a_check_in_a_child_ends_as_soon_as_it_is_not_wanted(smollm_path: Path, engine_config) -> None:
    asked: list[bool] = []

    def cancelled() -> bool:
        asked.append(True)
        return True

    with pytest.raises(LoadCancelled):
        probe_model(smollm_path, engine_config, cancelled=cancelled)
    assert asked == [True]  # asked once, at the first wait: the child was ended there
    told: list[float] = []

    def progress(fraction: float) -> bool:
        told.append(fraction)
        return False  # what the window's worker answers once it closes

    with pytest.raises(LoadCancelled):
        open_engine(smollm_path, progress=progress, config=engine_config)
    assert told == [0.0]  # still in the check: nothing was loaded in this process
    probe_model(smollm_path, engine_config, cancelled=lambda: False)  # wanted: it runs to the end


def test_closing_during_a_comparison_ends_its_thread_too(qtbot, qapp) -> None:
    before = set(threading.enumerate())
    window = loaded_window(qtbot, qapp)
    window.commands.compare.trigger()
    compare = window.compare.windows[-1]
    qtbot.addWidget(compare)
    compare.max_tokens.setValue(500)
    compare.run_all()
    qtbot.waitUntil(lambda: all(len(c.tokens) > 3 for c in compare.columns), timeout=WAIT_MS)
    assert compare.running
    window.close()
    assert compare.handle.worker_thread.isFinished() and compare.handle.worker.engine_count() == 0
    written = [len(c.tokens) for c in compare.columns]
    assert_closed_cleanly(qtbot, window, before)
    assert [len(c.tokens) for c in compare.columns] == written  # nothing arrived after the close


@pytest.mark.gemma
def test_switching_model_during_a_run(qtbot, window: MainWindow, gemma_path: Path) -> None:
    window.parts.controls.max_tokens.setValue(LONG)
    window.commands.generate.trigger()
    running_with_steps(qtbot, window, 5)
    window.models.open_model_file(str(gemma_path))  # as the recent list, a drop or the picker do
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == gemma_path, timeout=WAIT_MS * 2)
    assert window.parts.banner.isHidden(), window.parts.banner.text.text()
    assert worker_generator(window).engine.path == gemma_path
    window.parts.controls.max_tokens.setValue(6)
    window.commands.generate.trigger()
    idle(qtbot, window)
    assert len(window.doc.mirror) == 6 and window.parts.banner.isHidden()
    assert_consistent(window)


def test_exploring_while_a_run_is_in_flight_changes_nothing_until_it_ends(qtbot, window: MainWindow) -> None:
    controls, a = window.parts.controls, window.commands
    controls.max_tokens.setValue(24)
    a.generate.trigger()
    idle(qtbot, window)
    trunk = tokens(window.doc.mirror.steps)
    other = next(int(r["token_id"]) for r in window.doc.mirror.steps[9].trace.candidates
                 if int(r["token_id"]) != trunk[9])
    controls.max_tokens.setValue(LONG)
    a.generate.trigger()
    running_with_steps(qtbot, window, len(trunk) + 2)
    # Everything a person might click while it writes: each is refused or waits for the run.
    window.steps.select_step(3)
    controls.set_settings(SamplerSettings(temperature=0.0))  # a what-if on step 3, once still
    window.branching.branch_from(9, other)  # another word piece
    window.branching.branch_from(4, None)  # a replay
    window.branching.offer_alternatives(9)
    window.run.undo()
    a.undo.trigger()
    window.parts.branches_panel.branchChosen.emit(TRUNK)
    window.run.clear()
    assert window.doc.state == "running"
    a.stop.trigger()
    idle(qtbot, window)
    assert tokens(window.doc.mirror.steps)[:len(trunk)] == trunk and len(window.doc.tree.branches) == 1
    assert_consistent(window)
    qtbot.waitUntil(lambda: window.parts.inspector.view is not None and window.parts.inspector.view.is_what_if,
                    timeout=WAIT_MS)
    assert window.doc.shown_index() == 3
    controls.set_settings(SamplerSettings())
    # A branch stopped at once, an undo and a replay each pressed while the last is in flight.
    window.branching.branch_from(9, other)
    a.stop.trigger()
    a.generate.trigger()  # refused: the branch is still running
    idle(qtbot, window)
    assert_consistent(window)
    assert tokens(window.doc.tree.branches[TRUNK].steps)[:len(trunk)] == trunk  # nothing lost
    assert tokens(window.doc.mirror.steps)[:9] == trunk[:9]
    steps_before = len(window.doc.mirror)
    a.undo.trigger()
    assert window.doc.state == "busy"
    a.undo.trigger()  # refused while the first one is in flight
    window.branching.branch_from(4, None)
    a.generate.trigger()
    idle(qtbot, window)
    assert len(window.doc.mirror) == steps_before - 1
    assert_consistent(window)
    window.parts.branches_panel.branchChosen.emit(TRUNK)
    window.parts.branches_panel.branchChosen.emit(TRUNK)  # a double click follows it once
    a.generate.trigger()
    idle(qtbot, window)
    assert tokens(window.doc.mirror.steps)[:len(trunk)] == trunk
    assert_consistent(window)


def test_closing_while_an_undo_or_a_branch_switch_is_in_flight(qtbot, qapp) -> None:
    before = set(threading.enumerate())
    window = loaded_window(qtbot, qapp, seed=8)
    window.parts.controls.max_tokens.setValue(16)
    window.parts.controls.ignore_end.setChecked(True)
    window.commands.generate.trigger()
    idle(qtbot, window)
    other = next(int(r["token_id"]) for r in window.doc.mirror.steps[4].trace.candidates
                 if int(r["token_id"]) != window.doc.mirror.steps[4].token_id)
    window.branching.branch_from(4, other)
    idle(qtbot, window)
    window.parts.branches_panel.branchChosen.emit(TRUNK)
    assert window.doc.state == "busy"
    window.close()
    assert_closed_cleanly(qtbot, window, before)


def test_the_soak_fills_the_context_clears_and_goes_on(qtbot, qapp) -> None:
    window = bench_soak.open_window(256, seed=2)  # the smallest context the window offers
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.doc.state == "idle", timeout=WAIT_MS)
    result = bench_soak.soak(window, 300)
    window.close()
    assert result.tokens == 300 and result.n_ctx == 256
    assert result.context_fills >= 1 and result.runs == result.context_fills + 1
    assert result.samples[0][0] == 0 and result.samples[-1][0] == 300 and len(result.gaps) > 10
    assert all(mb > 0 for _, mb in result.samples) and result.tokens_per_second > 0
    assert "300 word pieces" in bench_soak.report(result)
