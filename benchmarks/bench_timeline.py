"""The timeline's cost as a run grows to 4,000 word pieces: each update (the new steps' values, the
plot items' data set in place, the plot painted) timed against the window's 30-a-second budget.

Offscreen Qt, SmolLM2: 400 real steps are written once, then repeated to 4,000 (the timeline reads
only each step's record, so a repeated step costs what a new one would). The updates come as a run
streams them: a few word pieces at a time (`--per-update`, 4 at ~100 word pieces a second and 30
updates a second). Also times a hover (finding the dot under the pointer and its sentence) and the
first drawing of a whole 4,000-step run (a session opened). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QEvent, QObject, QPointF  # noqa: E402

from synthscope.engine import default_model_path, machine_choice, open_engine  # noqa: E402
from synthscope.sampling import SamplerSettings  # noqa: E402
from synthscope.session import Generator  # noqa: E402
from synthscope.session.timeline import joined, timeline  # noqa: E402
from synthscope.ui.app import create_application  # noqa: E402
from synthscope.ui.steps.timeline_part import point_words  # noqa: E402
from synthscope.ui.steps.timeline_view import TimelinePanel  # noqa: E402

BUDGET_MS = 1000 / 30  # the window redraws at most 30 times a second


def real_steps(n: int) -> list:
    engine = open_engine(default_model_path(), n_ctx=1024, config=machine_choice().config, probe=False)
    generator = Generator(engine, seed=7, top_n=20)
    try:
        generator.start("Once upon a time, in a small village by the sea, there lived")
        return generator.generate(SamplerSettings(temperature=1.0), n, ignore_eos=True)
    finally:
        generator.close()
        engine.close()


class PaintCounter(QObject):
    """Counts the plot's paints: each timed update must include exactly one."""

    def __init__(self, widget) -> None:
        super().__init__()
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, _watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=4000)
    parser.add_argument("--per-update", type=int, default=4)
    parser.add_argument("--written", type=int, default=400, help="real steps written, then repeated")
    args = parser.parse_args()
    app = create_application()
    written = real_steps(args.written)
    steps = [written[i % len(written)] for i in range(args.points)]
    panel = TimelinePanel()
    panel.resize(1600, 260)
    panel.show()
    app.processEvents()
    paints = PaintCounter(panel.plot.viewport())

    costs: dict[int, list[float]] = {}
    line = None
    for end in range(args.per_update, args.points + 1, args.per_update):
        start = time.perf_counter()
        new = timeline(steps[end - args.per_update:end])
        line = new if line is None else joined(line, new)
        panel.show_timeline(line, f"{end} word pieces", end - 1, grown=True)
        app.processEvents()  # the plot paints itself once, as in the window
        costs.setdefault(((end - 1) // 1000 + 1) * 1000, []).append((time.perf_counter() - start) * 1000)

    updates = sum(len(values) for values in costs.values())
    print(f"timeline updates, {args.per_update} new word pieces each, offscreen at 1600 px "
          f"(budget {BUDGET_MS:.1f} ms; {paints.count} paints for {updates} updates):")
    for size, values in sorted(costs.items()):
        print(f"  up to {size:>5,} points: median {statistics.median(values):5.2f} ms, "
              f"99th percentile {percentile(values, 0.99):5.2f} ms, longest {max(values):5.2f} ms "
              f"({statistics.median(values) / BUDGET_MS:.1%} of a frame)")

    view = panel.plot.getPlotItem().getViewBox()
    rect = view.sceneBoundingRect()
    hovers = []
    for i in range(200):
        start = time.perf_counter()
        index = panel.index_at(QPointF(rect.left() + rect.width() * (i + 0.5) / 200, rect.center().y()))
        if index is not None:
            point_words(index + 1, steps[index])
        hovers.append((time.perf_counter() - start) * 1000)
    print(f"hover at {args.points:,} points: median {statistics.median(hovers):.3f} ms, "
          f"longest {max(hovers):.3f} ms")

    panel.clear()
    app.processEvents()
    start = time.perf_counter()
    panel.show_timeline(timeline(steps), f"{args.points} word pieces", None)
    app.processEvents()
    print(f"a whole {args.points:,}-step run drawn at once: {(time.perf_counter() - start) * 1000:.1f} ms")
    panel.close()


if __name__ == "__main__":
    main()
