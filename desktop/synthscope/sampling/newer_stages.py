"""llama.cpp's newer stages: logit bias, top-n-sigma, XTC and dynamic temperature."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthscope.sampling.stages import MIN_KEEP, Candidates, sequential_sum, sort_descending

F32 = np.float32
NEG_INF = F32(-np.inf)
# top-n-sigma's float accumulator: after this many roundings that float32 addition gets wrong,
# the rest is summed one term at a time (a handful is usual, all near the start).
MAX_ACC_RESTARTS = 32


# --- glibc's float functions ---------------------------------------------------------------
# llama.cpp calls glibc's expf/logf/log2f/powf. numpy's float32 versions differ from them in the
# last bit on 15-40% of inputs; the float64 result rounded to float differs on under 1%.

def expf(x: np.ndarray | np.floating) -> np.ndarray:
    return np.exp(np.asarray(x, dtype=np.float64)).astype(F32)


def logf(x: np.ndarray | np.floating) -> np.ndarray:
    return np.log(np.asarray(x, dtype=np.float64)).astype(F32)


def log2f(x: np.ndarray | np.floating) -> np.ndarray:
    return np.log2(np.asarray(x, dtype=np.float64)).astype(F32)


def powf(x: np.ndarray | np.floating, y: np.ndarray | np.floating) -> np.ndarray:
    return np.power(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)).astype(F32)


def normalised_exps(logits: np.ndarray, max_l: np.float32) -> np.ndarray:
    """expf(l - max_l) / their float sum in array order, as llama_sampler_softmax_impl computes."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        exps = expf(logits - max_l)
        return exps / sequential_sum(exps)


def llama_softmax(c: Candidates, do_sort: bool) -> tuple[Candidates, np.ndarray]:
    """llama_sampler_softmax_impl: (the array, sorted if asked) and its float32 chances.

    A sorted array takes its first logit as the maximum, whatever the flag's truth.
    """
    if do_sort:
        c = sort_descending(c)
    max_l = c.logits[0] if c.sorted else c.logits.max()
    return c, normalised_exps(c.logits, max_l)


# --- logit bias ----------------------------------------------------------------------------

def logit_bias(c: Candidates, token_ids: np.ndarray, biases: np.ndarray) -> Candidates:
    """logit += bias for each (token, bias); -inf bans. c is the whole vocabulary in id order
    (first stage). Same token twice: both biases add (llama.cpp's fast path)."""
    token_ids = np.asarray(token_ids, dtype=np.int64).ravel()
    biases = np.asarray(biases, dtype=F32).ravel()
    if token_ids.shape != biases.shape:
        raise ValueError(f"{token_ids.size} token ids but {biases.size} biases")
    if token_ids.size == 0:
        return c
    in_place = (token_ids >= 0) & (token_ids < c.size)
    in_place[in_place] = c.ids[token_ids[in_place]] == token_ids[in_place]
    logits = c.logits.copy()
    with np.errstate(invalid="ignore"):
        np.add.at(logits, token_ids[in_place], biases[in_place])  # in list order, one at a time
        _add_searched(c.ids, logits, token_ids[~in_place], biases[~in_place])
    return Candidates(c.ids, logits, c.sorted)


def _add_searched(ids: np.ndarray, logits: np.ndarray, tokens: np.ndarray,
                  biases: np.ndarray) -> None:
    """llama.cpp's search path for tokens not at their own index: only the first bias counts."""
    if tokens.size == 0:
        return
    unique, first = np.unique(tokens, return_index=True)
    positions = np.flatnonzero(np.isin(ids, unique))
    logits[positions] += biases[first[np.searchsorted(unique, ids[positions])]]


# --- top-n-sigma ---------------------------------------------------------------------------

def top_n_sigma(c: Candidates, n: float) -> Candidates:
    """llama_sampler_top_n_sigma_apply: no-op if n <= 0 or size <= 1; else logits below
    max - n*std set to -inf, size, order and sorted flag unchanged (as in the vendored source)."""
    n32 = F32(n)
    if not n32 > 0 or c.size <= 1:
        return c
    logits = c.logits
    valid = logits[logits != NEG_INF]
    count = valid.size
    if count == 0:
        return c
    top = max(logits[0], valid.max())
    mean = sequential_sum(valid) / F32(count)
    acc = float_sum_of_doubles(np.square((valid - mean).astype(np.float64)))
    std = F32(np.sqrt(np.float64(acc / F32(count))))  # sqrt in double then float: sqrtf exactly
    masked = np.where(logits < top - n32 * std, NEG_INF, logits)
    return Candidates(c.ids, masked.astype(F32), c.sorted)


def float_sum_of_doubles(terms: np.ndarray) -> np.float32:
    """`float acc; acc += (double)term` in order: each step adds in double, then rounds to float.

    A float32 cumsum of the rounded terms agrees nearly everywhere; each step where it does not
    is found by redoing every step in double from the cumsum's own partial sums, fixed, and the
    cumsum restarted there.
    """
    rounded = terms.astype(F32)
    acc, start = F32(0), 0
    for _ in range(MAX_ACC_RESTARTS):
        if start == terms.size:
            return acc
        partial = np.cumsum(np.concatenate(([acc], rounded[start:])), dtype=F32)
        exact = (partial[:-1].astype(np.float64) + terms[start:]).astype(F32)
        wrong = np.flatnonzero(exact != partial[1:])
        if wrong.size == 0:
            return partial[-1]
        acc, start = exact[wrong[0]], start + int(wrong[0]) + 1
    for term in terms[start:]:
        acc = F32(np.float64(acc) + term)
    return acc


# --- XTC -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class XtcOutcome:
    draw: float  # the XTC draw used (float32 value as a Python float)
    fired: bool  # draw <= probability, so it looked for top choices to remove
    removed: int  # candidates removed (0 when it did not fire or found < 2 above threshold)


def xtc_enabled(probability: float, threshold: float) -> bool:
    """llama.cpp makes an empty sampler when p <= 0 or t > 0.5 (compared as C floats)."""
    return bool(F32(probability) > 0 and not F32(threshold) > F32(0.5))


def xtc(c: Candidates, probability: float, threshold: float, draw: float,
        min_keep: int = MIN_KEEP) -> tuple[Candidates, XtcOutcome | None]:
    """Outcome None when no draw was consumed (disabled, or size < 2). Otherwise
    llama_sampler_xtc_apply with `draw` as its uniform_real_distribution<float> result."""
    if not xtc_enabled(probability, threshold) or c.size < 2:
        return c, None
    chance = F32(draw)
    if chance > F32(probability):
        return c, XtcOutcome(float(chance), False, 0)
    c, probs = llama_softmax(c, do_sort=True)
    above = probs >= F32(threshold)
    leading = c.size if above.all() else int(np.argmin(above))
    last = max(leading - 1, 0)  # the least likely of the leading run stays
    if last == 0 or c.size - last < min_keep:
        return c, XtcOutcome(float(chance), True, 0)
    return Candidates(c.ids[last:], c.logits[last:], True), XtcOutcome(float(chance), True, last)


def xtc_draw(x: int) -> float:
    """libstdc++'s uniform_real_distribution<float>(0,1) from one 32-bit mt19937 output x
    (generate_canonical<float,24>): float32(x)/2**32 in float, nextafter(1,0) if it rounds to 1."""
    r = F32(np.uint32(x)) / F32(4294967296.0)
    return float(r) if r < 1 else float(np.nextafter(F32(1), F32(0)))


# --- dynamic temperature ---------------------------------------------------------------------

def dynamic_temperature(c: Candidates, temperature: float, delta: float,
                        exponent: float) -> tuple[Candidates, float | None]:
    """llama_sampler_temp_ext_apply. delta <= 0: plain temperature (logits / t; t == 1 returns
    c unchanged), second item None. delta > 0: the entropy-based temperature it used as the
    second item (None if size <= 1). Sorts as its softmax_impl does; float arithmetic as there.

    A temperature <= 0 (given or computed) keeps only the first maximum, as llama.cpp does.
    """
    t, d = F32(temperature), F32(delta)
    if not d > 0:
        return (c if t == 1 else temperature_impl(c, t)), None
    if c.size <= 1:
        return c, None
    min_t, max_t = max(F32(0), t - d), t + d
    max_entropy = -logf(F32(1) / F32(c.size))
    c, probs = llama_softmax(c, do_sort=True)
    positive = probs > 0
    with np.errstate(invalid="ignore"):
        terms = np.where(positive, probs * logf(np.where(positive, probs, F32(1))), F32(0))
    entropy = sequential_sum(-terms)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = powf(entropy / max_entropy, F32(exponent))
        dyn_t = F32(min_t + (max_t - min_t) * scale)
    return temperature_impl(c, dyn_t), float(dyn_t)


def temperature_impl(c: Candidates, t: np.float32) -> Candidates:
    """llama_sampler_temp_impl: logits / t, or for t <= 0 only the first maximum kept."""
    if c.size == 0:
        return c
    if t <= 0:
        keep = int(np.argmax(c.logits))
        logits = np.full(c.size, NEG_INF, dtype=F32)
        logits[keep] = c.logits[keep]
        return Candidates(c.ids, logits, c.sorted)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return Candidates(c.ids, (c.logits / F32(t)).astype(F32), c.sorted)
