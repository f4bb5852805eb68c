"""Samplers that steer by feedback and pick the token themselves: mirostat v1/v2 and adaptive-p, with the state they carry between steps."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthscope.sampling.newer_stages import (F32, NEG_INF, llama_softmax, log2f, logf,
                                              normalised_exps, powf)
from synthscope.sampling.stages import Candidates, sequential_sum

INT_MIN = -2**31
# adaptive-p's transform (llama-sampler.cpp's constexpr floats)
ADAPTIVE_INV_WIDTH = F32(1) / F32(0.3)
ADAPTIVE_PEAK = F32(5)
ADAPTIVE_SHARPNESS = F32(10)
ADAPTIVE_MAX_DECAY = F32(0.99)


# --- libstdc++'s random adaptors -------------------------------------------------------------

def canonical_double(x0: int, x1: int) -> float:
    """uniform_real_distribution<double>(0, 1) from two mt19937 outputs (generate_canonical<double,
    53>): (x0 + x1·2³²) / 2⁶⁴ in double, nextafter(1, 0) if that rounds to 1."""
    u = (float(x0) + float(x1) * 4294967296.0) / 18446744073709551616.0
    return u if u < 1.0 else float(np.nextafter(1.0, 0.0))


def draws_needed(size: int) -> bool:
    """Whether std::discrete_distribution over this many weights consumes a draw (two outputs)."""
    return size >= 2


def discrete_draw(probs: np.ndarray, u: float) -> int:
    """libstdc++ std::discrete_distribution<int> given its uniform double u: weights normalised in
    double, cumulative sum, last forced to 1.0, lower_bound(u). With fewer than 2 weights returns 0
    (llama.cpp then draws nothing)."""
    weights = np.asarray(probs, dtype=np.float64)
    if not draws_needed(weights.size):
        return 0
    cumulative = np.cumsum(weights / np.cumsum(weights)[-1])
    cumulative[-1] = 1.0
    return int(np.searchsorted(cumulative, u, side="left"))


@dataclass(frozen=True)
class Pick:
    """The token a self-drawing sampler chose, and the chances it chose by."""

    candidates: Candidates  # what the pick was made from, in its final order
    probs: np.ndarray  # float64 chances aligned with candidates.ids (the p values the draw used)
    index: int  # index of the picked token in candidates

    @property
    def token_id(self) -> int:
        return int(self.candidates.ids[self.index])


def _pick(c: Candidates, u: float) -> Pick:
    """softmax_impl (the array is sorted, so its first logit is the max) and the discrete draw."""
    probs = normalised_exps(c.logits, c.logits[0]).astype(np.float64)
    return Pick(c, probs, discrete_draw(probs, u))


# --- mirostat ------------------------------------------------------------------------------

@dataclass(frozen=True)
class MirostatResult:
    """One mirostat step. The draw u was consumed only if draws_needed(pick.candidates.size)."""

    pick: Pick
    mu_before: float
    mu_after: float
    k: int | None  # v1: the top-k it computed; v2: None
    surprise: float  # -log2(p of the pick)


def mirostat_initial_mu(tau: float) -> float:
    """2 * tau, as llama.cpp initialises (in float)."""
    return float(F32(2) * F32(tau))


def mirostat_v1(c: Candidates, n_vocab: int, tau: float, eta: float, mu: float, u: float,
                m: int = 100) -> MirostatResult:
    """llama_sampler_mirostat_apply: estimate s_hat from the top m, top-k by the target surprise
    mu, draw, and move mu by eta × (surprise − tau)."""
    c, probs = llama_softmax(c, do_sort=True)
    k = max(_c_int(_mirostat_k(probs, n_vocab, F32(mu), m)), 1)
    kept = min(k, c.size)
    pick = _pick(Candidates(c.ids[:kept], c.logits[:kept], True), u)
    return _mirostat_result(pick, tau, eta, mu, k)


def _mirostat_k(probs: np.ndarray, n_vocab: int, mu: np.float32, m: int) -> np.float32:
    terms = probs.size - 1 if m - 1 < 0 else min(m - 1, probs.size - 1)  # size_t(m - 1) in C
    if terms <= 0:
        sum_ti_bi = sum_ti_sq = F32(0)
    else:
        i = np.arange(terms)
        t = logf((i + 2).astype(F32) / (i + 1).astype(F32))
        with np.errstate(divide="ignore", invalid="ignore"):
            b = logf(probs[:terms] / probs[1:terms + 1])
            sum_ti_bi = sequential_sum(t * b)
        sum_ti_sq = sequential_sum(t * t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s_hat = F32(sum_ti_bi / sum_ti_sq)
        epsilon = F32(s_hat - F32(1))
        numerator = epsilon * powf(F32(2), mu)
        denominator = F32(1) - powf(F32(n_vocab), -epsilon)
        return F32(powf(numerator / denominator, F32(1) / s_hat))


def _c_int(x: np.float32) -> int:
    """C's int(float) on x86-64 (cvttss2si): truncation; NaN and out-of-range give INT_MIN."""
    if not np.isfinite(x) or not INT_MIN <= float(x) < 2**31:
        return INT_MIN
    return int(x)


def mirostat_v2(c: Candidates, tau: float, eta: float, mu: float, u: float) -> MirostatResult:
    """llama_sampler_mirostat_v2_apply: keep the leading tokens whose surprise is at most mu (at
    least one), draw, and move mu by eta × (surprise − tau)."""
    c, probs = llama_softmax(c, do_sort=True)
    with np.errstate(divide="ignore"):
        too_surprising = np.flatnonzero(-log2f(probs) > F32(mu))
    kept = max(int(too_surprising[0]) if too_surprising.size else c.size, 1)
    pick = _pick(Candidates(c.ids[:kept], c.logits[:kept], True), u)
    return _mirostat_result(pick, tau, eta, mu, None)


def _mirostat_result(pick: Pick, tau: float, eta: float, mu: float, k: int | None,
                     ) -> MirostatResult:
    with np.errstate(divide="ignore"):
        surprise = -log2f(F32(pick.probs[pick.index]))
    error = F32(surprise - F32(tau))
    mu_after = F32(mu) - F32(eta) * error
    return MirostatResult(pick, float(F32(mu)), float(mu_after), k, float(surprise))


# --- adaptive-p ----------------------------------------------------------------------------

@dataclass(frozen=True)
class AdaptiveState:
    weighted_sum: float  # sum of the picks' original chances × decay^age (a float in llama.cpp)
    total_weight: float  # sum of decay^age


@dataclass(frozen=True)
class AdaptiveResult:
    pick: Pick
    adapted_target: float | None  # None when target < 0 (plain sampling)
    original_probs: np.ndarray  # float32, the softmax before the transform, aligned with the ids


def clamp_decay(decay: float) -> np.float32:
    """std::clamp(decay, 0.0f, 0.99f)."""
    d = F32(decay)
    return F32(0) if d < 0 else ADAPTIVE_MAX_DECAY if ADAPTIVE_MAX_DECAY < d else d


def adaptive_initial_state(target: float, decay: float) -> AdaptiveState:
    """The EMA llama_sampler_init_adaptive_p starts from (decay clamped to [0, 0.99])."""
    remaining = F32(1) - clamp_decay(decay)
    return AdaptiveState(float(F32(target) / remaining), float(F32(1) / remaining))


def adaptive_p(c: Candidates, target: float, decay: float, state: AdaptiveState,
               u: float) -> AdaptiveResult:
    """llama_sampler_adaptive_p_apply: favour tokens whose chance is near a target that the EMA
    of earlier picks moves, then draw. target < 0: a plain draw from the softmax. `decay` only
    matters to adaptive_accept. The draw u was consumed only if draws_needed(c.size)."""
    del decay  # the state already holds what decay did; kept for a uniform call
    _, probs = llama_softmax(c, do_sort=False)
    if F32(target) < 0:
        plain = Pick(c, probs.astype(np.float64), discrete_draw(probs, u))
        return AdaptiveResult(plain, None, probs)
    adapted = _adapted_target(F32(target), state)
    with np.errstate(over="ignore", invalid="ignore"):
        distance = np.abs((probs - adapted) * ADAPTIVE_INV_WIDTH)
        shaped = ADAPTIVE_PEAK - ADAPTIVE_SHARPNESS * distance * distance / (F32(1) + distance)
    logits = np.where(c.logits == NEG_INF, NEG_INF, shaped).astype(F32)
    # llama.cpp keeps the array's `sorted` flag although the new scores are not in order: a sorted
    # array then takes its first new score as the softmax's max. The flag we return tells the truth.
    max_l = logits[0] if c.sorted else logits.max()
    new_probs = normalised_exps(logits, max_l).astype(np.float64)
    pick = Pick(Candidates(c.ids, logits, False), new_probs, discrete_draw(new_probs, u))
    return AdaptiveResult(pick, float(adapted), probs)


def _adapted_target(target: np.float32, state: AdaptiveState) -> np.float32:
    clamped = min(max(target, F32(0)), F32(1))
    total = F32(state.total_weight)
    if total == 0:
        raw = clamped
    else:
        raw = F32(F32(2) * clamped - F32(state.weighted_sum) / total)
    return F32(0) if raw < 0 else F32(1) if F32(1) < raw else raw


def adaptive_accept(state: AdaptiveState, target: float, decay: float, result: AdaptiveResult,
                    token_id: int) -> AdaptiveState:
    """The state after llama.cpp's accept(token_id): updated only if token_id is the token
    adaptive_p picked (a person's different pick leaves it unchanged, as in llama.cpp);
    unchanged when target < 0."""
    if F32(target) < 0 or result.adapted_target is None or token_id != result.pick.token_id:
        return state
    d = clamp_decay(decay)
    weighted = F32(result.original_probs[result.pick.index]) + d * F32(state.weighted_sum)
    total = F32(1) + d * F32(state.total_weight)
    return AdaptiveState(float(weighted), float(total))

