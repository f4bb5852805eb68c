"""Compact, explainable statistics of one sampling step (computed off the decode's critical path)."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthscope.sampling.chain import MASKING_STAGES, ChainResult, StageStep
from synthscope.sampling.stages import Candidates, top_indices

CANDIDATE_DTYPE = np.dtype([("token_id", "<i4"), ("logit", "<f4"), ("p_raw", "<f4"),
                            ("p_final", "<f4"), ("removed_by", "i1")])
FINAL_DTYPE = np.dtype([("token_id", "<i4"), ("p", "<f4")])
FINAL_LIMIT = 64  # entries of the draw's distribution kept per step (the rest is summed up)
NOT_REMOVED = -1


@dataclass(frozen=True, slots=True)
class StageTrace:
    name: str
    active: bool
    n_in: int
    kept: int
    removed_mass: float  # share of the stage's input probability that it removed
    changed: int  # tokens whose score the stage changed (penalties, temperature)
    detail: dict[str, Any] | None = None  # what it found or decided (ChainResult's StageStep.detail)


@dataclass(frozen=True, slots=True)
class StepTrace:
    """Everything the views show about one step, without the full logits."""

    stages: tuple[StageTrace, ...]
    candidates: np.ndarray  # CANDIDATE_DTYPE, top-N by raw logit, descending
    final: np.ndarray  # FINAL_DTYPE, the draw's distribution in draw order (first FINAL_LIMIT)
    final_size: int
    chosen_index: int  # index of the winner in the draw's order; -1: a person picked a removed token
    entropy_raw: float  # nats
    entropy_final: float
    chosen_logit: float
    chosen_p_raw: float
    # Each candidate's chance after every stage: shape (len(stages), len(candidates)), float32,
    # 0 where a stage removed it. None for traces saved before it was recorded.
    stage_p: np.ndarray | None = None
    # The chosen word piece's rank among all the model's word pieces before the samplers (1 = its
    # favourite); 0 for traces saved before it was recorded.
    chosen_rank: int = 0

    def stage(self, name: str) -> StageTrace:
        """The stage called `name`; KeyError if this step's chain did not have it."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def has_stage(self, name: str) -> bool:
        return any(stage.name == name for stage in self.stages)

    @property
    def stage_names(self) -> tuple[str, ...]:
        return tuple(stage.name for stage in self.stages)

    @property
    def chosen_p_final(self) -> float:
        if self.chosen_index < 0:
            return 0.0
        if self.chosen_index < FINAL_LIMIT:
            return float(self.final["p"][self.chosen_index])
        return float("nan")


def log_sum_exp(logits: np.ndarray) -> float:
    peak = np.float32(logits.max())
    return float(peak) + float(np.log(np.sum(np.exp(logits - peak), dtype=np.float64)))


def softmax_statistics(logits: np.ndarray) -> tuple[float, float]:
    """(log-sum-exp, entropy in nats) of softmax(logits) from one pass of exponentials (the full
    vocabulary is the costliest thing traced per token)."""
    peak = np.float32(logits.max())
    shifted = logits - peak
    exps = np.exp(shifted)
    total = float(np.sum(exps, dtype=np.float64))
    log_total = math.log(total)
    return float(peak) + log_total, log_total - float(np.dot(exps, shifted)) / total


def _member(query: np.ndarray, table: np.ndarray) -> np.ndarray:
    return np.isin(query, table, kind="table" if table.size > 4096 else None)


def _lookup(query: np.ndarray, ids: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values[ids == q] for each q in query, 0 where q is absent."""
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    pos = np.minimum(np.searchsorted(sorted_ids, query), sorted_ids.size - 1)
    found = sorted_ids[pos] == query
    return np.where(found, values[order][pos], 0.0)


def _raw_head(result: ChainResult, n: int) -> np.ndarray:
    """Ids of the n highest raw logits, descending. Top-k already sorted its head: when it is the
    first stage that did anything, its first n are these (no second pass over the vocabulary)."""
    first = next((step for step in result.stages if step.active), None)
    if (first is not None and first.name == "top_k" and first.after.size >= n and first.after.sorted
            and first.before.logits is result.raw_logits):
        return first.after.ids[:n].astype(np.int32)
    raw = result.raw_logits
    top = top_indices(raw, n)
    return top[np.argsort(-raw[top], kind="stable")].astype(np.int32)


def build_trace(result: ChainResult, top_n: int = 10) -> StepTrace:
    raw = result.raw_logits
    lse_cache: dict[int, float] = {}

    def lse(array: np.ndarray) -> float:
        key = id(array)
        if key not in lse_cache:
            lse_cache[key] = _log_sum_exp(array)
        return lse_cache[key]

    lse_raw, entropy_raw = softmax_statistics(raw)
    lse_cache[id(raw)] = lse_raw
    stage_traces = []
    masked = False  # whether an earlier stage left −inf scores in the array
    for step in result.stages:
        before, after = step.before, step.after
        n_in = stage_traces[-1].kept if stage_traces else before.size
        masked = masked or (step.active and step.name in MASKING_STAGES)
        kept = _finite(after) if masked and step.active else (after.size if not masked else n_in)
        removed = 0.0
        if step.active and kept < n_in:
            removed = max(0.0, 1.0 - math.exp(lse(after.logits) - lse(before.logits)))
        changed = 0
        if step.active and step.name == "penalties":
            changed = _penalised_lse(raw, after.logits, lse_raw, lse_cache)
        elif step.active and step.name in ("dry", "logit_bias") and step.detail is not None:
            changed = int(step.detail.get("penalised", step.detail.get("changed", 0)))
        elif step.active and step.name == "temperature" and after.size == before.size:
            changed = kept
        stage_traces.append(StageTrace(step.name, step.active, n_in, kept, removed, changed, step.detail))

    n = min(top_n, raw.shape[0])
    top = _raw_head(result, n)
    top_ids = top.tolist()
    top_logits = raw[top]
    removed_by = [NOT_REMOVED] * n
    for index, step in enumerate(result.stages):
        if step.after.size < step.before.size or (stage_traces[index].kept < stage_traces[index].n_in):
            for j, kept in enumerate(_kept(top, top_ids, _survivors(step))):
                if not kept and removed_by[j] == NOT_REMOVED:
                    removed_by[j] = index
    cands = np.array(list(zip(top_ids, top_logits.tolist(),
                              np.exp(top_logits.astype(np.float64) - lse_raw).tolist(),
                              _final_probs_of(top, top_ids, result), removed_by)),
                     dtype=CANDIDATE_DTYPE)

    stage_p = _stage_chances(result, top, top_ids, cands["p_final"], lse)
    final = np.zeros(min(result.final.size, FINAL_LIMIT), dtype=FINAL_DTYPE)
    final["token_id"] = result.final.ids[:FINAL_LIMIT]
    final["p"] = result.final_probs[:FINAL_LIMIT]
    chosen_logit = float(raw[result.token_id])
    rank = int(np.count_nonzero(raw > raw[result.token_id])) + 1
    return StepTrace(tuple(stage_traces), cands, final, result.final.size, result.chosen_index,
                     entropy_raw, _entropy_of(result.final_probs), chosen_logit,
                     math.exp(chosen_logit - lse_raw), stage_p, rank)


def _finite(c: Candidates) -> int:
    """How many candidates still have a chance (a masking stage leaves −inf ones in the array)."""
    if c.size <= SMALL:
        return sum(1 for value in c.logits.tolist() if value != -math.inf)
    return int(np.count_nonzero(c.logits != -np.inf))


def _survivors(step: StageStep) -> np.ndarray:
    """The ids a stage kept with a chance."""
    after = step.after
    if step.name in MASKING_STAGES or (after.size and after.logits.min() == -np.inf):
        return after.ids[after.logits != -np.inf]
    return after.ids


def _penalised_lse(raw: np.ndarray, after: np.ndarray, lse_raw: float, cache: dict[int, float]) -> int:
    """The penalties change a few dozen scores: their log-sum-exp follows from the raw one and
    those few, instead of another pass over the whole vocabulary."""
    changed = np.flatnonzero(after != raw)
    rest = 1.0 - math.fsum(np.exp(raw[changed].astype(np.float64) - lse_raw).tolist())
    if rest > 1e-6:  # otherwise the repeated tokens held nearly everything: sum it all again
        added = math.fsum(np.exp(after[changed].astype(np.float64) - lse_raw).tolist())
        cache[id(after)] = lse_raw + math.log(rest + added)
    return int(changed.size)


def _stage_chances(result: ChainResult, top: np.ndarray, top_ids: list[int], final: np.ndarray,
                   lse: Callable[[np.ndarray], float]) -> np.ndarray:
    """Each top token's chance after every stage (softmax of the stage's output; 0 if removed);
    the last stage's row is the draw's own distribution."""
    every = result.stages[0].before.ids  # the whole vocabulary in id order
    out = np.zeros((len(result.stages), len(top_ids)), dtype=np.float32)
    out[-1] = final
    for row, step in enumerate(result.stages[:-1]):
        after = step.after
        if after.ids is every:
            logits = after.logits[top].astype(np.float64)
            out[row] = np.exp(logits - lse(after.logits))
            continue
        total = lse(after.logits)
        if after.size > SMALL:
            found = _member(top, after.ids)
            values = _lookup(top, after.ids, after.logits).astype(np.float64)
            out[row] = np.where(found, np.exp(values - total), 0.0)
        else:
            scores = dict(zip(after.ids.tolist(), after.logits.tolist()))
            out[row] = [math.exp(scores[t] - total) if t in scores else 0.0 for t in top_ids]
    return out


# Right after a decode the caches are cold and every call into numpy costs ~10 µs, more than
# Python needs for a few dozen numbers: the small arrays after top-k are handled as lists.
SMALL = 512


def _log_sum_exp(logits: np.ndarray) -> float:
    if logits.size > SMALL:
        return log_sum_exp(logits)
    values = logits.tolist()
    peak = max(values)
    return peak + math.log(math.fsum(math.exp(v - peak) for v in values))


def _kept(top: np.ndarray, top_ids: list[int], ids: np.ndarray) -> list[bool]:
    """For each of the top tokens, whether it is among `ids`."""
    if ids.size > SMALL:
        return _member(top, ids).tolist()
    kept = set(ids.tolist())
    return [token in kept for token in top_ids]


def _final_probs_of(top: np.ndarray, top_ids: list[int], result: ChainResult) -> list[float]:
    """Each top token's probability in the draw (0 when a stage removed it)."""
    if result.final.size > SMALL:
        return _lookup(top, result.final.ids, result.final_probs).tolist()
    chances = dict(zip(result.final.ids.tolist(), result.final_probs.tolist()))
    return [chances.get(token, 0.0) for token in top_ids]


def _entropy_of(probs: np.ndarray) -> float:
    if probs.size > SMALL:
        p = probs[probs > 0]
        return max(0.0, float(-np.sum(p * np.log(p))))
    return max(0.0, -math.fsum(p * math.log(p) for p in probs.tolist() if p > 0))
