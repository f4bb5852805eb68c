"""The live window's cost, in one process run: GUI generation against bare llama-cpp-python at its
fastest configuration on this machine, and against the headless trace path.

Offscreen Qt, the real default model, 400 tokens with end-of-text ignored, rounds alternating
between bare `Llama.generate` (threads, attention path and KV type swept first, the fastest kept:
bench_trace.sweep), the headless Generator (the `synthscope trace` path) and the window (worker
thread, signals, coalesced redraws). Also measures the longest event-loop stall during GUI generation
(a 2 ms timer's longest gap) and the what-if recompute per slider move. Prints figures; asserts
nothing.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from bench_trace import N_CTX, bare_generate, sweep  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402

from synthscope.engine import Engine, default_model_path, machine_choice  # noqa: E402
from synthscope.engine.baseline import bare_llama  # noqa: E402
from synthscope.sampling import SamplerSettings  # noqa: E402
from synthscope.session import Generator  # noqa: E402
from synthscope.ui.app import create_application  # noqa: E402
from synthscope.ui.main_window import SAMPLE_PROMPT, MainWindow  # noqa: E402


def wait_until(app, condition, timeout: float = 120.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the window did not finish in time")
        app.processEvents()
        time.sleep(0.001)


def headless(engine: Engine, n: int, seed: int) -> float:
    generator = Generator(engine, seed=seed, top_n=20)
    generator.start(SAMPLE_PROMPT)
    start = time.perf_counter()
    generator.generate(SamplerSettings(), n, ignore_eos=True)
    elapsed = time.perf_counter() - start
    generator.close()
    return n / elapsed


class StallMeter:
    """Counts how late a 2 ms timer fires: a late tick is time the event loop was busy."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.gaps: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(2)
        self.timer.timeout.connect(self._tick)

    def start(self) -> None:
        self.gaps.clear()
        self.clock.start()
        self.timer.start()

    def _tick(self) -> None:
        self.gaps.append(self.clock.nsecsElapsed() / 1e6)
        self.clock.restart()

    def stop(self) -> list[float]:
        self.timer.stop()
        return self.gaps


def gui(app, window: MainWindow, n: int, seed: int, meter: StallMeter) -> float:
    window.clear()
    window.controls.seed_box.setValue(seed)
    window.controls.max_tokens.setValue(n)
    window.controls.ignore_end.setChecked(True)
    meter.start()
    start = time.perf_counter()
    window.generate()
    wait_until(app, lambda: window.state == "idle" and len(window.mirror) == n and not window.pending)
    elapsed = time.perf_counter() - start
    meter.stop()
    return n / elapsed


def what_if_costs(app, window: MainWindow, moves: int = 60) -> tuple[list[float], list[float]]:
    """Per simulated slider move: the chain re-applied (model) and the whole panel update."""
    index = len(window.mirror) // 2
    window.select_step(index)
    recompute, update = [], []
    for move in range(moves):
        settings = SamplerSettings(top_k=5 + move, top_p=0.9)
        start = time.perf_counter()
        window.mirror.what_if(index, settings)
        recompute.append((time.perf_counter() - start) * 1e3)
        window.controls.set_settings(settings)  # as a slider would; the refresh is coalesced
        start = time.perf_counter()
        window._flush()
        update.append((time.perf_counter() - start) * 1e3)
        app.processEvents()
    return recompute, update


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sweep-tokens", type=int, default=128)
    args = parser.parse_args()
    app = create_application()
    path = default_model_path()
    best_config, _ = sweep(str(path), machine_choice().config, args.sweep_tokens)
    bare = bare_llama(path, best_config, N_CTX, seed=7)
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.load_model(path, probe=False)
    wait_until(app, lambda: window.state == "idle")
    engine = Engine.load(path, probe=False)
    meter = StallMeter()
    speeds: dict[str, list[float]] = {"bare (best)": [], "headless": [], "window": []}
    stalls: list[float] = []
    headless(engine, 16, 0)
    bare_generate(bare, 16, SAMPLE_PROMPT)
    for r in range(args.rounds):
        speeds["bare (best)"].append(bare_generate(bare, args.tokens, SAMPLE_PROMPT))
        speeds["headless"].append(headless(engine, args.tokens, r))
        speeds["window"].append(gui(app, window, args.tokens, r, meter))
        stalls.extend(meter.gaps)
    recompute, update = what_if_costs(app, window)
    window.close()
    engine.close()
    bare.close()
    med = {k: statistics.median(v) for k, v in speeds.items()}
    gaps = np.array(stalls)
    print(f"SmolLM2-135M-Instruct, {args.tokens} tokens x {args.rounds} rounds, offscreen")
    print(f"  bare (best) is {best_config.describe(best_config.threads or 1)}")
    for key, values in speeds.items():
        print(f"  {key:11s} median {med[key]:6.1f} tok/s   all {', '.join(f'{v:.1f}' for v in values)}")
    print(f"  ratio window / bare (best): median {med['window'] / med['bare (best)']:.3f}")
    print(f"  ratio window / headless:    median {med['window'] / med['headless']:.3f}")
    print(f"  event loop: longest gap {gaps.max():.1f} ms, 99th percentile {np.percentile(gaps, 99):.1f} ms"
          f" (timer interval 2 ms, {gaps.size} ticks)")
    print(f"  what-if recompute per move: median {statistics.median(recompute):.2f} ms, "
          f"max {max(recompute):.2f} ms")
    print(f"  what-if panel update per move (recompute + views): median {statistics.median(update):.2f} ms,"
          f" max {max(update):.2f} ms")


if __name__ == "__main__":
    main()
