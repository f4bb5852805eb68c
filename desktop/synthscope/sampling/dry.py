"""llama.cpp's DRY ("Don't Repeat Yourself") sampler re-implemented in numpy, as llama-sampler.cpp computes it."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from synthscope.sampling.stages import Candidates

FLOAT_MAX_LOG = np.float32(88.7228391)  # llama.cpp's approximate log(FLT_MAX), a float constant
EXPONENT_CLAMP_BASE = np.float32(1.000001)


@dataclass(frozen=True)
class DryBreakers:
    """Sequence breakers as llama.cpp prepares them from a vocabulary: tokens that contain a breaker,
    and head tokens with the token tails that complete one."""

    singles: frozenset[int]
    heads: Mapping[int, tuple[tuple[int, ...], ...]] = field(default_factory=dict, hash=False)
    NONE: ClassVar[DryBreakers]

    def __post_init__(self) -> None:
        singles = {int(t) for t in self.singles}
        heads: dict[int, tuple[tuple[int, ...], ...]] = {}
        for head, tails in self.heads.items():
            kept = tuple(dict.fromkeys(tuple(int(t) for t in tail) for tail in tails))
            if () in kept:  # an empty tail is what llama.cpp stores for a single-token breaker
                singles.add(int(head))
            if any(kept):
                heads[int(head)] = tuple(tail for tail in kept if tail)
        object.__setattr__(self, "singles", frozenset(singles))
        object.__setattr__(self, "heads", MappingProxyType(heads))

    def longest_match(self, window: Sequence[int], i: int) -> int:
        """llama.cpp's step 1 for the token `i` places from the end of `window`: the length of the
        longest breaker tail it heads that the newer tokens complete, -1 if it heads none."""
        token = window[len(window) - 1 - i]
        if token not in self.singles and token not in self.heads:
            return -1
        longest = 0 if token in self.singles else -1
        for tail in self.heads.get(token, ()):
            if longest < len(tail) <= i and all(
                    tail[offset] == window[len(window) - i + offset] for offset in range(len(tail))):
                longest = len(tail)
        return longest


DryBreakers.NONE = DryBreakers(frozenset(), {})


@dataclass(frozen=True)
class DryReport:
    """What DRY did at one step, for explaining it."""

    penalties: dict[int, float]  # token id -> how much DRY subtracted from its logit
    repeat: tuple[int, ...]  # the repeated tokens behind the largest penalty, oldest first; () if none
    limit: int  # rep_limit: how far back a repetition could reach before a breaker (0 when off)


NO_REPORT = DryReport({}, (), 0)


def dry_enabled(multiplier: float, base: float, last_n: int) -> bool:
    """llama_sampler_init_dry's condition, on the values as C receives them (floats; last_n below 0 is 0)."""
    return bool(np.float32(multiplier) != 0.0 and np.float32(base) >= 1.0 and max(int(last_n), 0) != 0)


def rep_limit(window: Sequence[int], breakers: DryBreakers) -> int:
    """Step 1: the most recent breaker found scanning back bounds how long a repeat may be."""
    for i in range(len(window)):
        longest = breakers.longest_match(window, i)
        if longest >= 0:
            return i - longest
    return len(window)


def repeat_counts(window: Sequence[int], limit: int) -> list[int]:
    """Step 2, llama.cpp's reversed Z-algorithm: counts[j] is how many tokens ending at position j
    equal the tokens ending the window (at most `limit`); the last position stays 0."""
    n = len(window)
    last = n - 1
    rat = window[::-1]  # rat[i] is the i-th most recent token, as ring_buffer::rat(i)
    counts = [0] * n
    lt = rt = 0
    for k in range(1, n):
        if k > rt:
            length = 0
            while length + k < n and rat[length] == rat[length + k]:
                length += 1
            counts[last - k] = min(length, limit)
            if length > 0:
                lt, rt = k, k + length - 1
        else:
            p = k - lt
            right_part_len = rt - k + 1
            if counts[last - p] < right_part_len:
                counts[last - k] = min(counts[last - p], limit)
            else:
                i = rt + 1
                while i < n and rat[i] == rat[i - k]:
                    i += 1
                counts[last - k] = min(i - k, limit)
                lt, rt = k, i - 1
    return counts


def longest_repeats(window: np.ndarray, counts: Sequence[int], allowed_length: int) -> dict[int, int]:
    """Step 3: for each token that would continue a repeat of at least `allowed_length` tokens,
    the longest such repeat."""
    counts_array = np.asarray(counts[:-1], dtype=np.int64)
    ends = np.flatnonzero(counts_array >= allowed_length)
    if ends.size == 0:
        return {}
    tokens, inverse = np.unique(window[ends + 1], return_inverse=True)
    longest = np.full(tokens.size, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(longest, inverse, counts_array[ends])
    return dict(zip(tokens.tolist(), longest.tolist()))


def _positions_of(ids: np.ndarray, tokens: Mapping[int, int]) -> np.ndarray:
    """Where in `ids` (any order) the given tokens are: one lookup table, one gather."""
    if not tokens or ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    wanted = np.fromiter(tokens, dtype=np.int64, count=len(tokens))
    wanted = wanted[wanted >= 0]
    table = np.zeros(max(int(ids.max()), int(wanted.max(initial=0))) + 1, dtype=bool)
    table[wanted] = True
    return np.flatnonzero(table[np.maximum(ids, 0)] & (ids >= 0))


def max_exponent(base: float) -> int:
    """`int max_exponent = FLOAT_MAX_LOG / std::log(dry_base)` in float (0: no clamp)."""
    base32 = np.float32(base)
    if not base32 > EXPONENT_CLAMP_BASE:
        return 0
    log_base = np.float32(np.log(np.float64(base32)))  # logf, correctly rounded
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return int(FLOAT_MAX_LOG / log_base)


def penalty_for(length: int, multiplier: float, base: float, allowed_length: int,
                clamp: int) -> np.float32:
    """`float penalty = dry_multiplier * std::pow(dry_base, repeat_exp)`: pow and product in double."""
    exponent = length - allowed_length
    if clamp > 0 and exponent > clamp:
        exponent = clamp
    with np.errstate(over="ignore", invalid="ignore"):
        return np.float32(np.float64(np.float32(multiplier)) * np.float64(np.float32(base)) ** exponent)


def dry(c: Candidates, history: np.ndarray, multiplier: float, base: float, allowed_length: int,
        last_n: int, breakers: DryBreakers) -> tuple[Candidates, DryReport]:
    """llama_sampler_dry_apply: `history` is every token so far (prompt included; llama.cpp's ring
    buffer keeps the last `last_n`). Returns c itself (same object) when it changes nothing; like
    llama.cpp it clears the `sorted` flag once it reaches the penalty step, even if nobody is penalised."""
    if not dry_enabled(multiplier, base, last_n):
        return c, NO_REPORT
    window_array = np.asarray(history, dtype=np.int64).reshape(-1)[-int(last_n):]
    window = window_array.tolist()
    limit = rep_limit(window, breakers)
    if len(window) <= allowed_length or limit < allowed_length:
        return c, DryReport({}, (), limit)
    longest = longest_repeats(window_array, repeat_counts(window, limit), allowed_length)
    for token in [t for t in longest if t in breakers.singles]:
        del longest[token]  # a single-token breaker is never penalised
    positions = _positions_of(c.ids, longest)
    if positions.size == 0:
        return (Candidates(c.ids, c.logits, False) if c.sorted else c), DryReport({}, (), limit)
    clamp = max_exponent(base)
    penalties = {token: penalty_for(length, multiplier, base, allowed_length, clamp)
                 for token, length in longest.items()}
    logits = c.logits.copy()
    penalised = c.ids[positions].tolist()
    with np.errstate(invalid="ignore"):  # inf - inf is NaN in C too
        logits[positions] -= np.array([penalties[t] for t in penalised], dtype=np.float32)
    worst = max(penalised, key=lambda t: longest[t])
    repeat = tuple(window[len(window) - longest[worst]:]) if longest[worst] > 0 else ()
    report = DryReport({t: float(penalties[t]) for t in penalised}, repeat, limit)
    return Candidates(c.ids, logits, False), report
