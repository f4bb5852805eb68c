"""Speed of Synthscope's instrumented generation against bare llama-cpp-python, in one process run.

For each model: N tokens with end-of-text banned and the same sampler settings.
  bare (best)     Llama.generate (the loop inside create_completion, no logits processor: pure C++
                  sampling) at its fastest configuration on this machine: thread counts, attention
                  path and KV-cache type swept first, the fastest kept;
  bare (default)  Llama.generate with llama-cpp-python's own defaults (half the cores, F16 KV cache,
                  flash attention off);
  synthscope      Generator.generate(ignore_eos=True), top-10 recorded (the trace command's path),
                  with the engine's checked and measured configuration.
Then, with DRY and XTC on (and every stage in llama.cpp's default order):
  bare chain      llama.cpp's own sampler chain (penalties, DRY, top-k, top-p, min-p, XTC,
                  temperature, dist) sampling each token of a plain decode loop, at the best bare
                  configuration;
  synthscope      the same settings, traced.
Every contender shares the safe model parameters the engine chose (engine.baseline.bare_llama).
The timed rounds alternate between contenders. Prints tokens per second and ratios; asserts nothing.
"""
from __future__ import annotations

import argparse
import ctypes
import itertools
import logging
import os
import statistics
import time

import llama_cpp

from synthscope.engine import (Engine, EngineConfig, default_model_path, gemma_model_path,
                               machine_choice, open_engine)
from synthscope.engine import machine_facts
from synthscope.engine.baseline import bare_llama
from synthscope.sampling import SamplerSettings
from synthscope.session import Generator

PROMPT = "Once upon a time, in a village by the sea, there lived"
N_CTX = 1024


def bare_generate(llm: llama_cpp.Llama, n: int, prompt: str = PROMPT) -> float:
    tokens = llm.tokenize(prompt.encode(), special=True)
    llm.reset()
    start = time.perf_counter()
    for made, _token in enumerate(llm.generate(tokens, temp=0.8, top_k=40, top_p=0.95, min_p=0.05,
                                               reset=True), start=1):
        if made == n:
            break
    return n / (time.perf_counter() - start)


NEWER = SamplerSettings(dry_multiplier=0.8, xtc_probability=0.5, xtc_threshold=0.1)


def bare_chain(llm: llama_cpp.Llama, s: SamplerSettings, seed: int) -> object:
    """llama.cpp's common chain for `s` (its default order), built from the low-level samplers."""
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    breakers = [b.encode() for b in s.dry_sequence_breakers]
    array = (ctypes.c_char_p * len(breakers))(*breakers)
    for sampler in (llama_cpp.llama_sampler_init_penalties(llm.n_vocab(), s.repeat_last_n, s.repeat_penalty,
                                                           s.frequency_penalty, s.presence_penalty),
                    llama_cpp.llama_sampler_init_dry(vocab, s.dry_multiplier, s.dry_base, s.dry_allowed_length,
                                                     s.dry_penalty_last_n, array, len(breakers)),
                    llama_cpp.llama_sampler_init_top_k(s.top_k),
                    llama_cpp.llama_sampler_init_top_p(s.top_p, 1),
                    llama_cpp.llama_sampler_init_min_p(s.min_p, 1),
                    llama_cpp.llama_sampler_init_xtc(s.xtc_probability, s.xtc_threshold, 1, seed),
                    llama_cpp.llama_sampler_init_temp(s.temperature),
                    llama_cpp.llama_sampler_init_dist(seed)):
        llama_cpp.llama_sampler_chain_add(chain, sampler)
    return chain


def bare_chain_generate(llm: llama_cpp.Llama, n: int, s: SamplerSettings = NEWER) -> float:
    """A plain decode loop sampled by llama.cpp's own chain (llama_sampler_sample accepts each token)."""
    tokens = llm.tokenize(PROMPT.encode(), special=True)
    chain = bare_chain(llm, s, 7)
    try:
        llm.reset()
        llm.eval(tokens)
        for token in tokens:
            llama_cpp.llama_sampler_accept(chain, token)
        start = time.perf_counter()
        for _ in range(n):
            token = llama_cpp.llama_sampler_sample(chain, llm.ctx, -1)
            llm.eval([token])
        return n / (time.perf_counter() - start)
    finally:
        llama_cpp.llama_sampler_free(chain)


def synthscope_run(engine: Engine, n: int, seed: int, settings: SamplerSettings | None = None) -> float:
    generator = Generator(engine, seed=seed, top_n=10)
    try:
        generator.start(PROMPT)  # the baselines reuse their cached prompt, so time generation only
        start = time.perf_counter()
        steps = generator.generate(settings or SamplerSettings(), n, ignore_eos=True)
        elapsed = time.perf_counter() - start
    finally:
        generator.close()
    assert len(steps) == n
    return n / elapsed


def sweep(path: str, safe: EngineConfig, n: int, rounds: int = 2
          ) -> tuple[EngineConfig, dict[str, float]]:
    """The fastest bare configuration: every thread count worth trying × attention × KV type,
    timed in turns (best of `rounds`) so a slow spell of the machine hits them all alike."""
    configs = [safe.with_changes(threads=threads, flash_attention=flash, kv_cache=kv)
               for threads, flash, kv in itertools.product(machine_facts().thread_candidates(),
                                                           (False, True), ("f16", "f32"))]
    llms = [bare_llama(path, config, N_CTX, seed=7) for config in configs]
    for llm in llms:
        bare_generate(llm, 16)
    best = [0.0] * len(configs)
    for _ in range(rounds):
        for index, llm in enumerate(llms):
            best[index] = max(best[index], bare_generate(llm, n))
    for llm in llms:
        llm.close()
    speeds = {config.describe(): speed for config, speed in zip(configs, best)}
    return configs[best.index(max(best))], speeds


def bench(label: str, path: str, n: int, rounds: int, sweep_tokens: int) -> None:
    safe = machine_choice().config
    best_config, swept = sweep(path, safe, sweep_tokens)
    default_threads = max(1, (os.cpu_count() or 1) // 2)
    default_config = safe.with_changes(threads=default_threads, flash_attention=False, kv_cache="f16")
    bare = {"bare (best)": bare_llama(path, best_config, N_CTX, seed=7),
            "bare (default)": bare_llama(path, default_config, N_CTX, seed=7)}
    ours = {"synthscope": open_engine(path, n_ctx=N_CTX, config=safe, probe=False)}
    if best_config != safe:  # the instruments' own cost, apart from the configuration chosen
        ours["synthscope (bare best's config)"] = open_engine(path, n_ctx=N_CTX, config=best_config,
                                                              probe=False)
    for llm in bare.values():  # warm-up: page in the weights for everyone
        bare_generate(llm, 16)
    for engine in ours.values():
        synthscope_run(engine, 16, 0)
    speeds: dict[str, list[float]] = {key: [] for key in [*bare, *ours]}
    for r in range(rounds):
        for key, llm in bare.items():
            speeds[key].append(bare_generate(llm, n))
        for key, engine in ours.items():
            speeds[key].append(synthscope_run(engine, n, r))
    newer: dict[str, list[float]] = {"bare chain (DRY, XTC)": [], "synthscope (DRY, XTC)": []}
    engine = ours["synthscope"]
    for r in range(rounds):
        newer["bare chain (DRY, XTC)"].append(bare_chain_generate(bare["bare (best)"], n))
        newer["synthscope (DRY, XTC)"].append(synthscope_run(engine, n, r, NEWER))
    for engine in ours.values():
        engine.close()
    for llm in bare.values():
        llm.close()
    speeds.update(newer)
    med = {k: statistics.median(v) for k, v in speeds.items()}
    best = {k: max(v) for k, v in speeds.items()}
    print(f"\n{label}: {n} tokens x {rounds} rounds")
    print(f"  sweep ({sweep_tokens} tokens, best of 2, in turns):")
    for name, speed in sorted(swept.items(), key=lambda item: -item[1]):
        print(f"    {speed:7.1f} tok/s  {name}")
    print(f"  bare (best):    {best_config.describe()}")
    print(f"  bare (default): {default_config.describe()}")
    print(f"  synthscope:     {safe.describe()}")
    for key in speeds:
        print(f"  {key:32s} median {med[key]:7.1f} tok/s   best {best[key]:7.1f} tok/s")
    for key in ours:
        for base in bare:
            print(f"  ratio {key} / {base}: median {med[key] / med[base]:.3f}"
                  f"  best {best[key] / best[base]:.3f}")
    ours_newer, bare_newer = "synthscope (DRY, XTC)", "bare chain (DRY, XTC)"
    print(f"  ratio {ours_newer} / {bare_newer}: median {med[ours_newer] / med[bare_newer]:.3f}"
          f"  best {best[ours_newer] / best[bare_newer]:.3f};  cost per token "
          f"{(1 / med[ours_newer] - 1 / med[bare_newer]) * 1000:+.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sweep-tokens", type=int, default=128)
    parser.add_argument("--skip-gemma", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    facts = machine_facts()
    print(f"{facts.cpu_name}: {facts.physical_cores} cores, {facts.logical_cores} threads; "
          f"{machine_choice().reason}")
    bench("SmolLM2-135M-Instruct Q4_1 (49,152 tokens)", str(default_model_path()), args.tokens,
          args.rounds, args.sweep_tokens)
    gemma = gemma_model_path()
    if gemma and not args.skip_gemma:
        bench("Gemma 3 270M Q4_K_M (262,144 tokens)", str(gemma), args.tokens, args.rounds,
              args.sweep_tokens)


if __name__ == "__main__":
    main()
