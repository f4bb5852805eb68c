"""The sampler chain in llama-cpp-python's order, keeping what every stage saw and kept."""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from synthscope.sampling import stages
from synthscope.sampling.settings import SamplerSettings
from synthscope.sampling.stages import Candidates

STAGE_NAMES = ("penalties", "top_k", "typical_p", "top_p", "min_p", "temperature")
# Scores beyond this are clipped to it (±inf included): the penalties (up to ×10) and the lowest
# temperature (×1000) then stay far inside float32, where inf − inf would make every chance NaN.
# Real models score within ±100, so llama.cpp's results are unchanged.
LOGIT_LIMIT = np.float32(1e33)


class BrokenLogits(ValueError):
    """The model's scores for the next token cannot be sampled (NaN); str() is one plain sentence."""


@dataclass(frozen=True)
class StageStep:
    """One stage's input and output; `active` is False when its setting turns it off."""

    name: str
    active: bool
    before: Candidates
    after: Candidates


@dataclass(frozen=True)
class ChainResult:
    """The sampling decision for one step, with everything needed to explain it."""

    token_id: int
    u: float | None  # None for greedy: no dice were thrown
    raw_logits: np.ndarray
    stages: tuple[StageStep, ...]
    final: Candidates  # what the draw picked from, in the draw's order
    final_probs: np.ndarray  # float64, aligned with final.ids
    chosen_index: int  # index into final.ids

    @property
    def cumulative(self) -> np.ndarray:
        return np.cumsum(self.final_probs)


@lru_cache(maxsize=4)
def _all_ids(n_vocab: int) -> np.ndarray:
    ids = np.arange(n_vocab, dtype=np.int32)
    ids.setflags(write=False)
    return ids


def penalty_window(history: np.ndarray, settings: SamplerSettings) -> np.ndarray:
    n = settings.repeat_last_n
    return history[-n:] if n > 0 else history[:0]


def usable_logits(raw_logits: np.ndarray) -> np.ndarray:
    """`raw_logits` itself when every score is an ordinary number, else a copy with ±inf and huge
    scores clipped to ±LOGIT_LIMIT: a +inf token then shares the certainty with any other +inf one,
    and a −inf token keeps no chance at all. NaN (a broken model) raises BrokenLogits."""
    if raw_logits.size == 0:
        raise BrokenLogits("The model produced no scores for its next word, so no word can be "
                           "chosen; the model file may be damaged.")
    low, high = raw_logits.min(), raw_logits.max()  # NaN makes both NaN
    if -LOGIT_LIMIT <= low and high <= LOGIT_LIMIT:
        return raw_logits
    if np.isnan(low) or np.isnan(high):
        raise BrokenLogits("The model produced invalid numbers (NaN) for its next word, so no word "
                           "can be chosen; the model file may be damaged.")
    return np.clip(raw_logits, -LOGIT_LIMIT, LOGIT_LIMIT).astype(np.float32)


def run_chain(raw_logits: np.ndarray, settings: SamplerSettings,
              history: np.ndarray | None = None, u: float | None = None) -> ChainResult:
    """Apply the chain to one step's logits. `history` is the context so far (prompt included).

    `raw_logits` is read, never written; `u` in [0, 1) is required unless temperature is 0.
    The result's `raw_logits` are the scores the chain used (see usable_logits).
    """
    raw_logits = usable_logits(raw_logits)
    if history is None:
        history = np.zeros(0, dtype=np.int32)
    steps: list[StageStep] = []

    def stage(name: str, c: Candidates, after: Candidates) -> Candidates:
        # A stage that is switched off hands its input back unchanged: that is what "active" means.
        steps.append(StageStep(name, after is not c, c, after))
        return after

    c = Candidates(_all_ids(raw_logits.shape[0]), raw_logits, False)
    window = penalty_window(np.asarray(history), settings)
    c = stage("penalties", c, stages.penalties(c, window, settings.repeat_penalty,
                                               settings.frequency_penalty, settings.presence_penalty))

    if settings.greedy:
        for name in STAGE_NAMES[1:-1]:
            c = stage(name, c, c)
        best = int(np.argmax(c.logits))  # first maximum wins, as llama_sampler_greedy
        winner = Candidates(c.ids[best:best + 1], c.logits[best:best + 1], True)
        c = stage("temperature", c, winner)
        return ChainResult(int(winner.ids[0]), None, raw_logits, tuple(steps), winner,
                           np.ones(1), 0)

    if u is None or not 0.0 <= u < 1.0:
        raise ValueError("a draw needs u in [0, 1)")
    c = stage("top_k", c, stages.top_k(c, settings.top_k))
    c = stage("typical_p", c, stages.typical_p(c, settings.typical_p))
    c = stage("top_p", c, stages.top_p(c, settings.top_p))
    c = stage("min_p", c, stages.min_p(c, settings.min_p))
    c = stage("temperature", c, stages.temperature(c, settings.temperature))
    probs, running = stages.dist_probabilities(c)
    index = stages.draw(running, u)
    return ChainResult(int(c.ids[index]), u, raw_logits, tuple(steps), c, probs, index)


def force_choice(result: ChainResult, token_id: int) -> ChainResult:
    """The same step with `token_id` chosen by a person instead of the dice: every stage and the
    draw's odds stay as they were. `chosen_index` is -1 when the samplers had removed the token."""
    if not 0 <= token_id < result.raw_logits.shape[0]:
        raise ValueError(f"There is no token {token_id} in this model's vocabulary.")
    where = np.flatnonzero(result.final.ids == token_id)
    return replace(result, token_id=int(token_id), chosen_index=int(where[0]) if where.size else -1)
