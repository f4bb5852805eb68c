"""Speed of many futures (N continuations of M word pieces) in one process run, for each model:

  batched      session.futures.write_futures: every distinct path decoded once, the futures' word
               pieces of one depth in one llama.cpp batch (what the window and `synthscope futures` do);
  sequential   the same futures one after another, each word piece decoded on its own after cutting
               the memory back to the prompt, with the same chain and dice;
  bare         llama-cpp-python's own generate loop writing N × M word pieces in one sequence at its
               fastest configuration here (threads, attention and memory swept), no instruments.

Word pieces per second and ratios; the timed rounds alternate between contenders. Asserts nothing.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time

import numpy as np

from bench_trace import N_CTX, bare_generate, sweep
from synthscope.engine import Engine, default_model_path, gemma_model_path, machine_choice, open_engine
from synthscope.engine.baseline import bare_llama
from synthscope.sampling import SamplerSettings, run_chain
from synthscope.sampling.dice import FutureDice
from synthscope.session.futures import write_futures

PROMPT = "Once upon a time, in a small village by the sea, there lived"


def batched(engine: Engine, context: list[int], n: int, m: int, seed: int) -> float:
    engine.rewind_to(len(context))
    start = time.perf_counter()
    write_futures(engine, context, SamplerSettings(), n, m, seed)
    return n * m / (time.perf_counter() - start)


def sequential(engine: Engine, context: list[int], n: int, m: int, seed: int) -> float:
    dice, settings = FutureDice(seed), SamplerSettings()
    start = time.perf_counter()
    for future in range(n):
        engine.rewind_to(len(context))
        history = list(context)
        for depth in range(m):
            result = run_chain(engine.logits(), settings, np.array(history, dtype=np.int32), dice.u(future, depth))
            history.append(result.token_id)
            if depth + 1 < m:
                engine.decode([result.token_id])
    return n * m / (time.perf_counter() - start)


def bench(label: str, path: str, n: int, m: int, rounds: int) -> None:
    safe = machine_choice().config
    best_config, _ = sweep(path, safe, 64, rounds=1)
    bare = bare_llama(path, best_config, max(N_CTX, n * m + 64), seed=7)
    with open_engine(path, n_ctx=max(N_CTX, 128 + m), config=safe, probe=False) as engine:
        context = engine.tokenize(PROMPT)
        engine.decode(context)
        batched(engine, context, 8, 2, 0)  # warm-up
        speeds: dict[str, list[float]] = {"batched": [], "sequential": [], "bare": []}
        for r in range(rounds):
            speeds["batched"].append(batched(engine, context, n, m, r))
            speeds["sequential"].append(sequential(engine, context, n, m, r))
            speeds["bare"].append(bare_generate(bare, n * m, PROMPT))
    bare.close()
    med = {k: statistics.median(v) for k, v in speeds.items()}
    print(f"\n{label}: {n} futures × {m} word pieces, {rounds} rounds")
    print(f"  engine: {safe.describe()};  bare: {best_config.describe()}")
    for key, values in speeds.items():
        print(f"  {key:10s} median {med[key]:7.1f} word pieces/s   best {max(values):7.1f}")
    print(f"  batched / sequential: {med['batched'] / med['sequential']:.2f}×   "
          f"batched / bare: {med['batched'] / med['bare']:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--tokens", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-gemma", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    bench("SmolLM2-135M-Instruct Q4_1", str(default_model_path()), args.n, args.tokens, args.rounds)
    gemma = gemma_model_path()
    if gemma and not args.skip_gemma:
        bench("Gemma 3 270M Q4_K_M", str(gemma), args.n, args.tokens, args.rounds)


if __name__ == "__main__":
    main()
