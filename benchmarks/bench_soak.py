"""The long soak: many thousand word pieces through a real window's worker, the context filled and
cleared again and again, measuring memory and the event loop's longest stall.

A real MainWindow offscreen on SmolLM2 with a small context (512 word pieces by default), raw text,
end-of-text ignored, the longest Generate the window allows. Each run goes on until the text fills
the context: the run then stops with the product's own message in the banner, and the soak presses
Clear and Generate again, as a person would. The resident memory is sampled every 1,000 word pieces
and a 10 ms timer measures the gap between its ticks (a late tick is time the window did not
answer). Prints the figures; `soak()` returns them (tests/test_rough_handling.py smoke-runs it).
"""
from __future__ import annotations

import argparse
import bisect
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import (QElapsedTimer, QEventLoop, QMessageLogContext, QObject, Qt,  # noqa: E402
                            QtMsgType, QTimer, Slot, qInstallMessageHandler)

from synthscope.engine import default_model_path  # noqa: E402
from synthscope.ui.window.main_window import MainWindow  # noqa: E402

TICK_MS = 10
SAMPLE_EVERY = 1000
WARM_UP = 2000  # word pieces before memory growth is counted: the bounded caches fill in this time
FULL_WORDS = "reached this model's limit"  # the product's message when the text fills the context
RUN_TIMEOUT_S = 600.0
END_WINDOW_S = 1.0


def resident_mb() -> float:
    """This process's resident memory in MB (/proc where there is one, else the peak so far)."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    import resource  # not on Windows; only reached where /proc is missing
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class StallMeter:
    """The gaps between a 10 ms timer's ticks, in ms: anything much over 10 is a busy event loop."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.gaps: list[float] = []
        self.at: list[float] = []  # perf_counter() when each gap ended
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.clock.start()
        self.timer.start()

    def _tick(self) -> None:
        self.gaps.append(self.clock.nsecsElapsed() / 1e6)
        self.at.append(time.perf_counter())
        self.clock.restart()

    def stop(self) -> None:
        self.timer.stop()

    def around(self, moments: list[float], within: float) -> tuple[list[float], list[float]]:
        """The gaps that ended within `within` seconds of one of `moments`, and the others."""
        near, far = [], []
        ordered = sorted(moments)
        for gap, at in zip(self.gaps, self.at):
            i = bisect.bisect_left(ordered, at - within)
            (near if i < len(ordered) and ordered[i] <= at + within else far).append(gap)
        return near, far


class Watcher(QObject):
    """Lives in the window's thread: how each run ended, and memory every SAMPLE_EVERY word pieces."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window = window
        self.done_before = 0  # word pieces of the runs cleared already
        self.reasons: list[str] = []
        self.samples: list[tuple[int, float]] = [(0, resident_mb())]
        window.handle.worker.runFinished.connect(self.finished)
        window.handle.worker.stepped.connect(self.stepped)

    def total(self) -> int:
        return self.done_before + len(self.window.doc.mirror)

    @Slot(str)
    def finished(self, reason: str) -> None:
        self.reasons.append(reason)

    @Slot(object)
    def stepped(self, _batch: object) -> None:
        total = self.total()
        if total // SAMPLE_EVERY > self.samples[-1][0] // SAMPLE_EVERY:
            self.samples.append((total, resident_mb()))


@dataclass
class SoakResult:
    tokens: int
    n_ctx: int
    seconds: float
    runs: int
    context_fills: int
    samples: list[tuple[int, float]]  # (word pieces so far, resident MB)
    gaps: list[float] = field(repr=False)  # ms between the 10 ms timer's ticks
    # The longest gap within a second of a run's end (the window shows all of it, Clear, Generate),
    # and the longest while word pieces stream.
    longest_at_ends_ms: float = 0.0
    longest_streaming_ms: float = 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds

    @property
    def longest_stall_ms(self) -> float:
        return max(self.gaps, default=0.0)

    @property
    def stall_p99_ms(self) -> float:
        return float(np.percentile(self.gaps, 99)) if self.gaps else 0.0

    def growth_mb(self) -> float:
        """Resident memory gained after the warm-up (or after the first sample, in a short soak)."""
        warm = [mb for done, mb in self.samples if done >= min(WARM_UP, self.samples[-1][0])]
        return self.samples[-1][1] - warm[0]


def open_window(n_ctx: int, seed: int = 0) -> MainWindow:
    """Shown offscreen and loading SmolLM2 with a context of `n_ctx` (the caller waits for idle)."""
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    window.parts.controls.seed_box.setValue(seed)
    window.parts.performance.context.setValue(n_ctx)
    window.models.load_model(default_model_path(), probe=False)
    return window


def wait(window: MainWindow, done, timeout: float = RUN_TIMEOUT_S) -> None:
    """A real event loop, as in the app, until `done()` (polling processEvents would keep a core busy)."""
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(50)
    poll.timeout.connect(loop.quit)
    window.run_state.changed.connect(loop.quit)
    poll.start()
    deadline = time.perf_counter() + timeout
    try:
        while not done():
            if time.perf_counter() > deadline:
                raise TimeoutError("the window did not finish in time")
            loop.exec()
    finally:
        poll.stop()
        window.run_state.changed.disconnect(loop.quit)


def soak(window: MainWindow, tokens: int) -> SoakResult:
    """Write `tokens` word pieces in `window` (idle, with a model), clearing whenever the context fills."""
    window.chat.set_mode(False)
    controls = window.parts.controls
    controls.ignore_end.setChecked(True)
    a = window.commands
    watcher = Watcher(window)
    meter = StallMeter()
    runs = fills = 0
    ends: list[float] = []

    def idle() -> bool:
        return window.doc.state == "idle" and not window.steps.pending

    meter.start()
    started = time.perf_counter()
    try:
        while watcher.total() < tokens:
            controls.max_tokens.setValue(min(controls.max_tokens.maximum(), tokens - watcher.total()))
            finished = len(watcher.reasons)
            assert a.generate.isEnabled(), "Generate is not available in an idle window"
            a.generate.trigger()
            runs += 1
            wait(window, lambda: len(watcher.reasons) > finished and idle())
            ends.append(time.perf_counter())
            reason = watcher.reasons[-1]
            if window.parts.editor.generated_text() != "".join(s.text for s in window.doc.mirror.steps):
                raise RuntimeError("the text shown differs from the steps written")
            if reason == "error":
                words = window.parts.banner.text.text()
                if FULL_WORDS not in words:
                    raise RuntimeError(f"the run stopped with: {words}")
                fills += 1
                watcher.done_before += len(window.doc.mirror)
                a.clear.trigger()
                assert len(window.doc.mirror) == 0, "Clear left steps behind"
            elif reason != "limit":
                raise RuntimeError(f"the run ended with {reason!r}")
    finally:
        meter.stop()
        window.handle.worker.runFinished.disconnect(watcher.finished)
        window.handle.worker.stepped.disconnect(watcher.stepped)
    seconds = time.perf_counter() - started
    total = watcher.total()
    if watcher.samples[-1][0] != total:
        watcher.samples.append((total, resident_mb()))
    near, far = meter.around(ends, END_WINDOW_S)
    return SoakResult(total, window.doc.model.n_ctx if window.doc.model else 0, seconds, runs, fills,
                      watcher.samples, meter.gaps, max(near, default=0.0), max(far, default=0.0))


def report(result: SoakResult) -> str:
    lines = [f"soak: {result.tokens} word pieces, context {result.n_ctx}, {result.runs} runs, "
             f"{result.context_fills} times the context filled and was cleared",
             f"  total {result.seconds:.1f} s, {result.tokens_per_second:.1f} word pieces/s",
             f"  event loop: longest gap {result.longest_stall_ms:.1f} ms, 99th percentile "
             f"{result.stall_p99_ms:.1f} ms ({len(result.gaps)} ticks of {TICK_MS} ms); longest "
             f"{result.longest_streaming_ms:.1f} ms while streaming, {result.longest_at_ends_ms:.1f} ms "
             f"within {END_WINDOW_S:.0f} s of a run's end",
             f"  resident memory: growth after {WARM_UP} word pieces {result.growth_mb():+.1f} MB"]
    previous = None
    for done, mb in result.samples:
        step = f" ({mb - previous:+.1f})" if previous is not None else ""
        lines.append(f"    {done:6d} word pieces: {mb:7.1f} MB{step}")
        previous = mb
    return "\n".join(lines)


def quiet_offscreen(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    """Qt's words on stderr, less what the offscreen platform cannot do (said at every redraw)."""
    if "does not support" not in message:
        print(message, file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=20_000)
    parser.add_argument("--context", type=int, default=512, help="word pieces the model's memory holds")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from synthscope.ui.app import create_application
    app = create_application()
    qInstallMessageHandler(quiet_offscreen)
    window = open_window(args.context, args.seed)
    wait(window, lambda: window.doc.state == "idle", timeout=300)
    try:
        result = soak(window, args.tokens)
    finally:
        window.close()
    print(report(result))
    app.processEvents()


if __name__ == "__main__":
    main()
