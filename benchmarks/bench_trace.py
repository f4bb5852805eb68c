"""Speed of Synthscope's instrumented generation against bare llama-cpp-python, in one process run.

For each model: N tokens with end-of-text banned, same threads, same sampler settings, rounds
alternating between the contenders. Baselines:
  create_completion  Llama.create_completion with the end-of-generation tokens banned through
                     logit_bias (what a user of llama-cpp-python would write);
  generate           Llama.generate, the loop inside create_completion, with no logits processor
                     at all (the strictest baseline: pure C++ sampling, nothing per token in numpy).
Synthscope: Generator.generate(ignore_eos=True), top-10 recorded, i.e. the trace command's path.
Prints tokens per second and the ratios; nothing is asserted.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import time

import llama_cpp

from synthscope.engine import Engine, default_model_path, gemma_model_path
from synthscope.engine.model import default_threads
from synthscope.sampling import SamplerSettings
from synthscope.session import Generator

PROMPT = "Once upon a time, in a village by the sea, there lived"
N_CTX = 1024


def eog_tokens(llm: llama_cpp.Llama) -> list[int]:
    vocab = llm._model.vocab
    return [t for t in range(llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t)]


def bare_completion(llm: llama_cpp.Llama, n: int, bias: dict[int, float]) -> float:
    start = time.perf_counter()
    out = llm.create_completion(PROMPT, max_tokens=n, temperature=0.8, top_k=40, top_p=0.95,
                                min_p=0.05, seed=7, logit_bias=bias)
    elapsed = time.perf_counter() - start
    made = out["usage"]["completion_tokens"]
    return made / elapsed


def bare_generate(llm: llama_cpp.Llama, n: int) -> float:
    tokens = llm.tokenize(PROMPT.encode(), special=True)
    llm.reset()
    start = time.perf_counter()
    for made, _token in enumerate(llm.generate(tokens, temp=0.8, top_k=40, top_p=0.95, min_p=0.05,
                                               reset=True), start=1):
        if made == n:
            break
    return n / (time.perf_counter() - start)


def synthscope_run(engine: Engine, n: int, seed: int) -> float:
    generator = Generator(engine, seed=seed, top_n=10)
    try:
        generator.start(PROMPT)  # the baselines reuse their cached prompt, so time generation only
        start = time.perf_counter()
        steps = generator.generate(SamplerSettings(), n, ignore_eos=True)
        elapsed = time.perf_counter() - start
    finally:
        generator.close()
    assert len(steps) == n
    return n / elapsed


def bench(label: str, path: str, n: int, rounds: int) -> dict[str, float]:
    threads, batch_threads = default_threads()
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads,
                          n_threads_batch=batch_threads, seed=7, verbose=True)
    engine = Engine.load(path, n_ctx=N_CTX, probe=False)
    bias = {t: -float("inf") for t in eog_tokens(llm)}
    speeds: dict[str, list[float]] = {"create_completion": [], "generate": [], "synthscope": []}
    synthscope_run(engine, 16, 0)  # warm-up: page in the weights for both
    bare_generate(llm, 16)
    for r in range(rounds):
        speeds["create_completion"].append(bare_completion(llm, n, bias))
        speeds["synthscope"].append(synthscope_run(engine, n, r))
        speeds["generate"].append(bare_generate(llm, n))
    engine.close()
    del llm
    best = {k: max(v) for k, v in speeds.items()}
    med = {k: statistics.median(v) for k, v in speeds.items()}
    print(f"\n{label}: {n} tokens x {rounds} rounds, {threads} generation thread(s)")
    for key in speeds:
        print(f"  {key:18s} median {med[key]:7.1f} tok/s   best {best[key]:7.1f} tok/s")
    print(f"  ratio synthscope / create_completion: median {med['synthscope'] / med['create_completion']:.3f}"
          f"  best {best['synthscope'] / best['create_completion']:.3f}")
    print(f"  ratio synthscope / generate:          median {med['synthscope'] / med['generate']:.3f}"
          f"  best {best['synthscope'] / best['generate']:.3f}")
    return med


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--skip-gemma", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    bench("SmolLM2-135M-Instruct Q4_1 (49,152 tokens)", str(default_model_path()), args.tokens,
          args.rounds)
    gemma = gemma_model_path()
    if gemma and not args.skip_gemma:
        bench("Gemma 3 270M Q4_K_M (262,144 tokens)", str(gemma), args.tokens, args.rounds)


if __name__ == "__main__":
    main()
