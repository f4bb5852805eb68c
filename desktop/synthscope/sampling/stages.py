"""llama.cpp's sampler stages re-implemented in numpy, in float32 as llama-sampler.cpp computes them."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

MIN_KEEP = 1


@dataclass(frozen=True)
class Candidates:
    """What llama.cpp calls a llama_token_data_array: token ids and logits in the current order."""

    ids: np.ndarray  # int32
    logits: np.ndarray  # float32, same length as ids
    sorted: bool  # True when in descending logit order (llama.cpp's `sorted` flag)

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])


@lru_cache(maxsize=4)
def all_ids(n_vocab: int) -> np.ndarray:
    """Every token id in order, read-only and shared: the chain's first array holds this one."""
    ids = np.arange(n_vocab, dtype=np.int32)
    ids.setflags(write=False)
    return ids


def sequential_sum(values: np.ndarray) -> np.float32:
    """A float32 sum in index order, like C++'s `float sum += x` loop (np.sum is pairwise)."""
    return np.cumsum(values, dtype=np.float32)[-1]


def softmax32(logits: np.ndarray) -> np.ndarray:
    """llama_sampler_softmax_impl without sorting: float32 exp, float32 sequential sum."""
    exps = np.exp(logits - logits.max(), dtype=np.float32)
    return exps / sequential_sum(exps)


# llama.cpp receives p as a C float and tests it after that rounding: top_p = 0.99999999 is
# 1.0f (off), min_p = 1e-50 is 0.0f (off; log(0) would be -inf).
def cumulative_cut_active(p: float) -> bool:
    """Whether top-p / typical-p with this p does anything."""
    return bool(np.float32(p) < 1.0)


def min_p_active(p: float) -> bool:
    return bool(np.float32(p) > 0.0)


def sort_descending(c: Candidates) -> Candidates:
    if c.sorted:
        return c
    order = np.argsort(-c.logits, kind="stable")  # ties keep id order; llama.cpp leaves them unspecified
    return Candidates(c.ids[order], c.logits[order], True)


def penalties(c: Candidates, window: np.ndarray, repeat: float, frequency: float,
              presence: float) -> Candidates:
    """Repeat / frequency / presence penalties for the tokens in `window` (already cut to last-n).

    In the default order it is the first stage, and `c` is the whole vocabulary in id order
    (position == token id); placed later, each repeated token is looked up where it now stands.
    """
    if window.size == 0 or (repeat == 1.0 and frequency == 0.0 and presence == 0.0):
        return c
    seen, counts = np.unique(window, return_counts=True)
    if c.ids is all_ids(c.size):  # the whole vocabulary in id order
        valid = (seen >= 0) & (seen < c.size)
        positions = seen[valid]
    else:
        order = np.argsort(c.ids, kind="stable")
        found = np.minimum(np.searchsorted(c.ids[order], seen), max(c.size - 1, 0))
        valid = (c.ids[order][found] == seen) if c.size else np.zeros(seen.shape, dtype=bool)
        positions = order[found[valid]]
    counts = counts[valid].astype(np.float32)
    logits = c.logits.copy()
    values = logits[positions]
    rep = np.float32(repeat)
    values = np.where(values <= 0, values * rep, values / rep).astype(np.float32)
    values -= counts * np.float32(frequency) + np.float32(presence)
    logits[positions] = values
    return Candidates(c.ids, logits, False)


def top_indices(logits: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest logits in position order; O(n) with a small constant.

    np.argpartition over a 262k vocabulary costs ~2 ms; a threshold from a strided sample
    narrows the field first (exact: the threshold is only used when it admits at least k).
    """
    n = logits.shape[0]
    if k >= n:
        return np.arange(n)
    stride = 64 if n >= 32768 else 16  # a smaller sample is quicker to partition; the field stays small
    if n >= 8192 and k * stride * 4 <= n:
        sample = logits[::stride]
        rank = min(sample.size - 1, 2 * k // stride + 8)
        threshold = np.partition(sample, sample.size - 1 - rank)[sample.size - 1 - rank]
        field = np.flatnonzero(logits >= threshold)
        if field.size >= k:
            return field[_first_largest(logits[field], k)]
    return _first_largest(logits, k)


def _first_largest(values: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest values in position order; of values tied at the cut the first
    ones, as a stable sort would keep (argpartition picks any, so top-k 1 of [0, 0] could keep
    the second while greedy and top-p keep the first)."""
    n = values.shape[0]
    part = np.argpartition(values, n - k)[n - k:]
    cut = values[part].min()
    tied = np.flatnonzero(values == cut)
    if tied.size == np.count_nonzero(values[part] == cut):  # no tie straddles the cut
        part.sort()
        return part
    above = np.flatnonzero(values > cut)
    return np.sort(np.concatenate((above, tied[:k - above.size])))


def top_k(c: Candidates, k: int) -> Candidates:
    if k <= 0:
        return c
    k = min(k, c.size)
    if c.sorted:
        return Candidates(c.ids[:k], c.logits[:k], True)
    part = top_indices(c.logits, k)  # in position order, so ties break as a stable full sort would
    order = part[np.argsort(-c.logits[part], kind="stable")]
    return Candidates(c.ids[order], c.logits[order], True)


def typical_p(c: Candidates, p: float) -> Candidates:
    if not cumulative_cut_active(p):
        return c
    c = sort_descending(c)
    probs = softmax32(c.logits)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log(probs)
        entropy = sequential_sum(np.where(probs > 0, -probs * logp, np.float32(0)))
        shifted = np.abs(-logp - entropy)
    order = np.argsort(shifted, kind="stable")
    cum = np.cumsum(probs[order], dtype=np.float32)
    hits = np.nonzero(cum > np.float32(p))[0]
    hits = hits[hits >= MIN_KEEP - 1]
    last = int(hits[0]) + 1 if hits.size else c.size
    order = order[:last]
    return Candidates(c.ids[order], c.logits[order], False)


def top_p(c: Candidates, p: float) -> Candidates:
    if not cumulative_cut_active(p):
        return c
    # llama.cpp normalises before sorting, so its float32 sum runs in the incoming order. On a
    # 262k vocabulary a sorted-order sum differs by ~1e-3 and moves the cut by ~100 tokens.
    probs = softmax32(c.logits)
    threshold = np.float32(p)
    # Like llama.cpp, try the likeliest few first (a full sort of 262k costs ~30 ms); the running
    # sum over a sorted head is the same whatever the unsorted tail holds.
    head_size = 256
    while not c.sorted and head_size * 4 < c.size:
        head = top_indices(c.logits, head_size)
        head = head[np.argsort(-c.logits[head], kind="stable")]
        hits = np.nonzero(np.cumsum(probs[head], dtype=np.float32) >= threshold)[0]
        if hits.size:
            keep = head[:int(hits[0]) + 1]
            return Candidates(c.ids[keep], c.logits[keep], True)
        head_size *= 8
    if not c.sorted:
        order = np.argsort(-c.logits, kind="stable")
        c, probs = Candidates(c.ids[order], c.logits[order], True), probs[order]
    cum = np.cumsum(probs, dtype=np.float32)
    hits = np.nonzero(cum >= threshold)[0]
    hits = hits[hits + 1 >= MIN_KEEP]
    last = int(hits[0]) + 1 if hits.size else c.size
    return Candidates(c.ids[:last], c.logits[:last], True)


def min_p(c: Candidates, p: float) -> Candidates:
    if not min_p_active(p) or c.size == 0:
        return c
    log_p = np.log(np.float32(p))
    if not c.sorted:
        keep = c.logits >= c.logits.max() + log_p
        if keep.sum() >= MIN_KEEP:
            return Candidates(c.ids[keep], c.logits[keep], False)
    c = sort_descending(c)
    below = np.nonzero(c.logits[1:] < c.logits[0] + log_p)[0]
    last = int(below[0]) + 1 if below.size else c.size
    last = max(last, MIN_KEEP)
    return Candidates(c.ids[:last], c.logits[:last], True)


def temperature(c: Candidates, t: float) -> Candidates:
    if t == 1.0:
        return c
    return Candidates(c.ids, (c.logits / np.float32(t)).astype(np.float32), c.sorted)


def dist_probabilities(c: Candidates) -> tuple[np.ndarray, np.ndarray]:
    """The draw's distribution as llama_sampler_dist computes it: float32 exps, running sums in double."""
    if c.size == 1:
        return np.ones(1, dtype=np.float64), np.ones(1, dtype=np.float64)
    max_l = c.logits[0] if c.sorted else c.logits.max()
    exps = np.exp(c.logits - max_l, dtype=np.float32)
    running = np.cumsum(exps, dtype=np.float64)
    return exps / running[-1], running


def draw(running: np.ndarray, u: float) -> int:
    """Index of the first candidate whose running sum reaches u × total (llama_sampler_dist_apply)."""
    target = running[-1] * u
    # At u = 0 the first candidate "reaches" 0 even with no chance at all (a -inf score): take the
    # first one that has a chance instead (llama.cpp cannot roll exactly 0 in practice either).
    index = int(np.searchsorted(running, target, side="left" if target > 0 else "right"))
    return min(index, running.size - 1)
