"""The sampler chain in the order the settings give, keeping what every stage saw, kept and decided."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from synthscope.sampling import feedback as fb
from synthscope.sampling import newer_stages, stages
from synthscope.sampling.dry import DryBreakers, dry, dry_enabled
from synthscope.sampling.order import DEFAULT_ORDER
from synthscope.sampling.settings import SamplerSettings
from synthscope.sampling.stages import Candidates

STAGE_NAMES = DEFAULT_ORDER  # the stages of the default chain, in order
# Scores beyond this are clipped to it (±inf included): the penalties (up to ×10) and the lowest
# temperature (×1000) then stay far inside float32, where inf − inf would make every chance NaN.
# Real models score within ±100, so llama.cpp's results are unchanged.
LOGIT_LIMIT = np.float32(1e33)
# Stages that cross words out by setting their score to −inf and leave them in the array, as
# llama.cpp does: a count of what they kept has to skip those.
MASKING_STAGES = frozenset({"logit_bias", "grammar", "top_n_sigma"})
# Stages that only cross words out: at temperature 0 they are skipped (the top word survives them).
CUTTING_STAGES = frozenset({"top_n_sigma", "top_k", "typical_p", "top_p", "min_p", "xtc"})


class BrokenLogits(ValueError):
    """The model's scores for the next token cannot be sampled (NaN); str() is one plain sentence."""


@dataclass(frozen=True)
class Feedback:
    """What mirostat and adaptive-p carry from one step to the next (None: not running, or fresh)."""

    mirostat_mu: float | None = None
    adaptive: fb.AdaptiveState | None = None

    def to_dict(self) -> dict[str, float]:
        values: dict[str, float] = {}
        if self.mirostat_mu is not None:
            values["mirostat_mu"] = self.mirostat_mu
        if self.adaptive is not None:
            values["adaptive_weighted_sum"] = self.adaptive.weighted_sum
            values["adaptive_total_weight"] = self.adaptive.total_weight
        return values


FRESH = Feedback()


@dataclass(frozen=True)
class StageStep:
    """One stage's input and output; `active` is False when its setting turns it off. `detail` says
    what it found or decided, in JSON's terms (DRY's repeat, XTC's draw, the dynamic temperature, …)."""

    name: str
    active: bool
    before: Candidates
    after: Candidates
    detail: dict[str, Any] | None = None


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
    xtc_u: float | None = None  # XTC's own draw, when XTC rolled one
    feedback_in: Feedback = FRESH
    feedback_out: Feedback = FRESH
    adaptive_pick: fb.AdaptiveResult | None = field(default=None, compare=False, repr=False)
    settings: SamplerSettings | None = field(default=None, compare=False, repr=False)

    @property
    def cumulative(self) -> np.ndarray:
        return np.cumsum(self.final_probs)

    def stage(self, name: str) -> StageStep | None:
        return next((s for s in self.stages if s.name == name), None)


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


@dataclass
class _Run:
    """The chain's working state while it runs one step."""

    settings: SamplerSettings
    history: np.ndarray
    xtc_u: float | None
    breakers: DryBreakers | None
    steps: list[StageStep] = field(default_factory=list)
    xtc_rolled: bool = False

    def stage(self, name: str, c: Candidates, after: Candidates, detail: dict[str, Any] | None = None
              ) -> Candidates:
        # A stage that is switched off hands its input back unchanged: that is what "active" means.
        self.steps.append(StageStep(name, after is not c, c, after, detail))
        return after

    def apply(self, name: str, c: Candidates) -> Candidates:
        s = self.settings
        if s.greedy and name in CUTTING_STAGES:
            return self.stage(name, c, c)
        if name == "penalties":
            return self.stage(name, c, stages.penalties(c, penalty_window(self.history, s), s.repeat_penalty,
                                                        s.frequency_penalty, s.presence_penalty))
        if name == "dry":
            return self._dry(c)
        if name == "top_n_sigma":
            return self.stage(name, c, newer_stages.top_n_sigma(c, s.top_n_sigma))
        if name == "top_k":
            return self.stage(name, c, stages.top_k(c, s.top_k))
        if name == "typical_p":
            return self.stage(name, c, stages.typical_p(c, s.typical_p))
        if name == "top_p":
            return self.stage(name, c, stages.top_p(c, s.top_p))
        if name == "min_p":
            return self.stage(name, c, stages.min_p(c, s.min_p))
        if name == "xtc":
            return self._xtc(c)
        if name == "temperature":
            return self._temperature(c)
        raise ValueError(f"unknown stage {name!r}")

    def _dry(self, c: Candidates) -> Candidates:
        s = self.settings
        if not dry_enabled(s.dry_multiplier, s.dry_base, s.dry_penalty_last_n):
            return self.stage("dry", c, c)
        if self.breakers is None:
            raise ValueError("DRY needs the model's sequence breakers (engine.dry_breakers)")
        after, report = dry(c, self.history, s.dry_multiplier, s.dry_base, s.dry_allowed_length,
                            s.dry_penalty_last_n, self.breakers)
        largest = max(report.penalties.values(), default=0.0)
        return self.stage("dry", c, after, {"repeat": list(report.repeat), "penalised": len(report.penalties),
                                            "largest": float(largest)})

    def _xtc(self, c: Candidates) -> Candidates:
        s = self.settings
        if not newer_stages.xtc_enabled(s.xtc_probability, s.xtc_threshold) or c.size < 2:
            return self.stage("xtc", c, c)
        if self.xtc_u is None:
            raise ValueError("XTC needs its own draw in [0, 1)")
        after, outcome = newer_stages.xtc(c, s.xtc_probability, s.xtc_threshold, self.xtc_u)
        self.xtc_rolled = outcome is not None
        detail = None if outcome is None else {"draw": outcome.draw, "fired": outcome.fired,
                                               "removed": outcome.removed}
        return self.stage("xtc", c, after, detail)

    def _temperature(self, c: Candidates) -> Candidates:
        s = self.settings
        if s.greedy:  # llama.cpp's temperature 0: only the first of the highest scores stays
            best = int(np.argmax(c.logits))
            return self.stage("temperature", c, Candidates(c.ids[best:best + 1], c.logits[best:best + 1], True))
        after, used = newer_stages.dynamic_temperature(c, s.temperature, s.dynatemp_range, s.dynatemp_exp)
        return self.stage("temperature", c, after, None if used is None else {"temperature": float(used)})


def run_chain(raw_logits: np.ndarray, settings: SamplerSettings,
              history: np.ndarray | None = None, u: float | None = None, *,
              xtc_u: float | None = None, feedback: Feedback = FRESH,
              breakers: DryBreakers | None = None, allowed: np.ndarray | None = None) -> ChainResult:
    """Apply the chain to one step's logits. `history` is the context so far (prompt included).

    `raw_logits` is read, never written; `u` in [0, 1) is required unless temperature is 0. `xtc_u`
    is XTC's own draw (needed when XTC is on), `feedback` what mirostat and adaptive-p carried over
    from the step before, `breakers` DRY's table for this model (needed when DRY is on), `allowed`
    the grammar's verdict on every token (None: no grammar). The result's `raw_logits` are the
    scores the chain used (see usable_logits).
    """
    raw_logits = usable_logits(raw_logits)
    if history is None:
        history = np.zeros(0, dtype=np.int32)
    if not settings.greedy and (u is None or not 0.0 <= u < 1.0):
        raise ValueError("a draw needs u in [0, 1)")
    run = _Run(settings, np.asarray(history), xtc_u, breakers)
    c = Candidates(stages.all_ids(raw_logits.shape[0]), raw_logits, False)
    if settings.logit_bias:
        c = _logit_bias(run, c, settings)
    if allowed is not None:
        c = _grammar(run, c, allowed)
    if settings.mirostat:
        return _mirostat(run, c, raw_logits, u, feedback)
    for name in _greedy_order(settings.samplers) if settings.greedy else settings.samplers:
        c = run.apply(name, c)
    xtc_used = xtc_u if run.xtc_rolled else None
    if settings.adaptive_target >= 0.0:
        return _adaptive(run, c, raw_logits, u, feedback, xtc_used)
    if settings.greedy or c.size == 1:
        index, probs = int(np.argmax(c.logits)), None
        if c.size == 1:
            probs = np.ones(1)
        else:
            probs, _ = stages.dist_probabilities(c)
    else:
        probs, running = stages.dist_probabilities(c)
        index = stages.draw(running, u)  # type: ignore[arg-type]
    return ChainResult(int(c.ids[index]), None if settings.greedy else u, raw_logits, tuple(run.steps), c,
                       probs, index, xtc_used, feedback, FRESH, settings=settings)


def _greedy_order(order: tuple[str, ...]) -> tuple[str, ...]:
    """At temperature 0 the top word is taken, as llama-cpp-python's greedy chain takes it: the
    stages that change scores run, those that cross words out are skipped (the top word would
    survive them), and temperature comes last, where it takes the top word."""
    return tuple(name for name in order if name != "temperature") + ("temperature",)


def _logit_bias(run: _Run, c: Candidates, settings: SamplerSettings) -> Candidates:
    pairs = [(token, bias) for token, bias in settings.logit_bias if token < c.size]
    ids = np.array([token for token, _ in pairs], dtype=np.int32)
    biases = np.array([bias for _, bias in pairs], dtype=np.float32)
    after = newer_stages.logit_bias(c, ids, biases) if pairs else c
    return run.stage("logit_bias", c, after, {"changed": len({t for t, _ in pairs})})


def _grammar(run: _Run, c: Candidates, allowed: np.ndarray) -> Candidates:
    """llama.cpp's grammar stage: every token it does not allow gets −inf (it stays in the array)."""
    if not allowed.any():
        raise BrokenLogits("The grammar allows no word piece here, so none can be chosen; the text so "
                           "far may not fit it.")
    logits = np.where(allowed, c.logits, np.float32(-np.inf)).astype(np.float32)
    return run.stage("grammar", c, Candidates(c.ids, logits, False), {"allowed": int(np.count_nonzero(allowed))})


def _mirostat(run: _Run, c: Candidates, raw: np.ndarray, u: float | None, feedback: Feedback) -> ChainResult:
    """llama.cpp's mirostat chain: temperature, then mirostat picks (the other stages do not run)."""
    s = run.settings
    if s.greedy:
        best = int(np.argmax(c.logits))
        c = run.stage("temperature", c, Candidates(c.ids[best:best + 1], c.logits[best:best + 1], True))
    else:
        c = run.stage("temperature", c, stages.temperature(c, s.temperature))
    mu = feedback.mirostat_mu if feedback.mirostat_mu is not None else fb.mirostat_initial_mu(s.mirostat_ent)
    draw = 0.0 if u is None else u
    if s.mirostat == 1:
        result = fb.mirostat_v1(c, raw.shape[0], s.mirostat_ent, s.mirostat_lr, mu, draw)
    else:
        result = fb.mirostat_v2(c, s.mirostat_ent, s.mirostat_lr, mu, draw)
    pick = result.pick
    run.stage("mirostat", c, pick.candidates, {"version": s.mirostat, "mu_before": result.mu_before,
                                               "mu_after": result.mu_after, "k": result.k,
                                               "surprise": result.surprise})
    return ChainResult(int(pick.candidates.ids[pick.index]), u, raw, tuple(run.steps), pick.candidates,
                       np.asarray(pick.probs, dtype=np.float64), pick.index, None, Feedback(mirostat_mu=mu),
                       Feedback(mirostat_mu=result.mu_after), settings=s)


def _adaptive(run: _Run, c: Candidates, raw: np.ndarray, u: float | None, feedback: Feedback,
              xtc_u: float | None) -> ChainResult:
    """adaptive-p makes the final pick in place of the plain draw, steering by what it picked before."""
    s = run.settings
    state = feedback.adaptive or fb.adaptive_initial_state(s.adaptive_target, s.adaptive_decay)
    result = fb.adaptive_p(c, s.adaptive_target, s.adaptive_decay, state, 0.0 if u is None else u)
    pick = result.pick
    run.stage("adaptive_p", c, pick.candidates, {"adapted_target": result.adapted_target,
                                                 "weighted_sum": state.weighted_sum,
                                                 "total_weight": state.total_weight})
    token = int(pick.candidates.ids[pick.index])
    after = fb.adaptive_accept(state, s.adaptive_target, s.adaptive_decay, result, token)
    return ChainResult(token, u, raw, tuple(run.steps), pick.candidates, np.asarray(pick.probs, dtype=np.float64),
                       pick.index, xtc_u, Feedback(adaptive=state), Feedback(adaptive=after), result, s)


def force_choice(result: ChainResult, token_id: int) -> ChainResult:
    """The same step with `token_id` chosen by a person instead of the dice: every stage and the
    draw's odds stay as they were. `chosen_index` is -1 when the samplers had removed the token."""
    if not 0 <= token_id < result.raw_logits.shape[0]:
        raise ValueError(f"There is no token {token_id} in this model's vocabulary.")
    where = np.flatnonzero(result.final.ids == token_id)
    changes: dict[str, Any] = {"token_id": int(token_id), "chosen_index": int(where[0]) if where.size else -1}
    pick, settings = result.adaptive_pick, result.settings
    if pick is not None and settings is not None and result.feedback_in.adaptive is not None:
        # llama.cpp's adaptive-p learns only from its own pick; a person's other pick teaches it nothing.
        changes["feedback_out"] = Feedback(adaptive=fb.adaptive_accept(
            result.feedback_in.adaptive, settings.adaptive_target, settings.adaptive_decay, pick, token_id))
    return replace(result, **changes)
