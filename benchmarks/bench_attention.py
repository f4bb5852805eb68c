"""Attention path and KV-cache precision: decode speed at short and long context, and how far each
path's probabilities are from an F32-KV reference without flash attention, for both models.

Speed: single-token decodes (what generation does) once the context holds 16 tokens and each of
--depths tokens (best of two rounds). Precision: one English text (Python's own reference manual,
from pydoc_data) evaluated with every position's logits kept; per position, the total-variation
distance between the two softmax distributions and whether the top token differs.
Prints a table; asserts nothing.
"""
from __future__ import annotations

import argparse
import itertools
import logging
import time

import numpy as np
import pydoc_data.topics

from synthscope.engine import default_model_path, gemma_model_path, machine_choice
from synthscope.engine.baseline import bare_llama

TIMED = 48


def english_text() -> str:
    topics = pydoc_data.topics.topics
    return "\n\n".join(topics[name] for name in ("assignment", "if", "while", "for", "try",
                                                 "function", "class", "import"))


def decode_speed(llm, tokens: list[int], depth: int) -> float:
    """Tokens per second of single-token decodes once `depth` tokens are in the context."""
    llm.reset()
    llm.eval(tokens[:depth])
    start = time.perf_counter()
    for token in tokens[depth:depth + TIMED]:
        llm.eval([token])
    return TIMED / (time.perf_counter() - start)


def probabilities(llm, tokens: list[int]) -> np.ndarray:
    llm.reset()
    llm.eval(tokens)
    scores = np.asarray(llm.scores[:len(tokens)], dtype=np.float64)
    scores -= scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    return probs / probs.sum(axis=1, keepdims=True)


def bench(label: str, path: str, depths: list[int], n_precision: int) -> None:
    safe = machine_choice().config
    depths = [16, *depths]
    depth = max(depths)
    n_ctx = depth + TIMED + 16
    probe = bare_llama(path, safe, n_ctx)
    tokens = probe.tokenize(english_text().encode(), special=False)
    probe.close()
    while len(tokens) < depth + TIMED:
        tokens += tokens
    print(f"\n{label}: {safe.threads} threads, precision over {n_precision} tokens")
    print(f"  {'configuration':58s} " + " ".join(f"{'@' + str(d):>7s}" for d in depths)
          + f"   {'mean TV':>8s} {'max TV':>7s} {'top differs':>11s}")
    reference = None
    for kv, flash in itertools.product(("f32", "f16"), (False, True)):
        config = safe.with_changes(kv_cache=kv, flash_attention=flash)
        llm = bare_llama(path, config, n_ctx)
        speeds = [max(decode_speed(llm, tokens, d) for _ in range(2)) for d in depths]
        llm.close()
        exact = bare_llama(path, config, n_precision + 8, logits_all=True)
        probs = probabilities(exact, tokens[:n_precision])
        exact.close()
        if reference is None:  # the first configuration (F32, no flash attention) is the reference
            reference = probs
        tv = 0.5 * np.abs(probs - reference).sum(axis=1)
        differs = np.mean(probs.argmax(axis=1) != reference.argmax(axis=1))
        print(f"  {config.describe():58s} "
              + " ".join(f"{v:7.1f}" for v in speeds)
              + f"   {tv.mean():8.2%} {tv.max():7.2%} {differs:11.2%}", flush=True)
        del probs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", type=int, nargs="+", default=[1000, 3000])
    parser.add_argument("--precision-tokens", type=int, default=1000)
    parser.add_argument("--gemma-precision-tokens", type=int, default=300)
    parser.add_argument("--skip-gemma", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print("speeds in tokens per second; TV: total-variation distance to F32 KV without flash "
          "attention")
    bench("SmolLM2-135M-Instruct Q4_1", str(default_model_path()), args.depths, args.precision_tokens)
    gemma = gemma_model_path()
    if gemma and not args.skip_gemma:
        bench("Gemma 3 270M Q4_K_M", str(gemma), args.depths, args.gemma_precision_tokens)


if __name__ == "__main__":
    main()
