"""The chain on a model server's head: full logits from the top N chances, and which results stay exact."""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from synthscope.sampling.chain import MASKING_STAGES, ChainResult
from synthscope.sampling.settings import SamplerSettings
from synthscope.sampling.trace import StepTrace

EXACT, APPROXIMATE, UPPER_BOUND, OFF = "exact", "approximate", "upper bound", "off"
# The tail's guess when the listed chances already sum to 1 (float32 rounding): e^-50 of the least listed.
EMPTY_TAIL_GAP = 50.0
# Stages whose result depends only on the listed words' scores relative to each other, once every word
# still in play is listed: the cuts, the temperature and the draw's own chances.
_RELATIVE = frozenset({"top_k", "typical_p", "top_p", "min_p", "xtc", "temperature", "top_n_sigma",
                       "logit_bias", "mirostat", "adaptive_p"})
# Cuts that keep the most likely words first: exact once all they keep is listed, given exact chances.
_TOP_CUTS = frozenset({"top_k", "top_p", "min_p"})


def logits_from_head(ids: np.ndarray, logprobs: np.ndarray, vocab: int) -> np.ndarray:
    """Full-length float32 logits whose softmax gives each listed id exactly its server chance.

    The server lists the N most likely word pieces with their natural-log chances; the other
    V - N share the rest, 1 - Σ listed, and we do not know how. Spreading it evenly keeps every
    listed chance exact (softmax(log p) = p when the whole sums to 1) and the tail's total mass
    right, so cuts that stop inside the list (top-k ≤ N, top-p and min-p whose survivors are all
    listed) come out exactly as in-process. It is also the highest-entropy guess for the tail, so
    the entropy computed from these logits is an upper bound of the model's. Negative ids (a text
    several tokens share) carry no usable id: their chance stays in the tail.
    """
    ids = np.asarray(ids, dtype=np.int64)
    values = np.asarray(logprobs, dtype=np.float64)
    if ids.shape != values.shape:
        raise ValueError("ids and logprobs must have the same length")
    known = (ids >= 0) & np.isfinite(values)
    ids, values = ids[known], values[known]
    if ids.size and int(ids.max()) >= vocab:
        raise ValueError(f"the head names word piece {int(ids.max())}, outside a vocabulary of {vocab}")
    ids, first = np.unique(ids, return_index=True)  # a repeated id keeps its first (larger) value
    values = values[first]
    logits = np.empty(vocab, dtype=np.float32)
    unseen = vocab - ids.size
    if unseen:
        tail = 1.0 - math.fsum(np.exp(values).tolist())
        if tail > 0.0:
            logits.fill(math.log(tail / unseen))
        else:
            logits.fill((values.min() if values.size else 0.0) - EMPTY_TAIL_GAP)
    logits[ids] = values
    return logits


def tail_mass(logprobs: np.ndarray, ids: np.ndarray | None = None) -> float:
    """1 − the listed chances (of the entries with an id, when ids are given), at least 0."""
    values = np.asarray(logprobs, dtype=np.float64)
    if ids is not None:
        values = values[np.asarray(ids) >= 0]
    return max(0.0, 1.0 - math.fsum(np.exp(values[np.isfinite(values)]).tolist()))


def chosen_is_seen(token_id: int, seen_ids: np.ndarray | Sequence[int]) -> bool:
    """Whether the dice landed on a word piece the server listed (otherwise its id is a guess)."""
    return bool(np.isin(int(token_id), np.asarray(seen_ids)))


def unseen_choice_message(tail: float) -> str:
    """The plain sentence for dice that landed in the part of the distribution the server did not list."""
    share = f"{tail:.0%}" if tail >= 0.01 else "less than 1%" if tail > 0 else "the rest"
    return (f"The dice landed among the word pieces the server did not list (the {share} it did not show); "
            "ask the server for more word pieces at each step (--head, or Connect to a model server…) or "
            "lower top-p.")


@dataclass(frozen=True)
class HeadExactness:
    """Which numbers of one step stay exact when the chain ran on a server's head of N word pieces."""

    seen: int
    vocab: int
    stages: dict[str, str] = field(default_factory=dict)  # stage name -> EXACT, APPROXIMATE or OFF
    final: str = EXACT  # the draw's chances
    raw_chances: str = EXACT  # the listed word pieces' chances before the samplers
    entropy_raw: str = EXACT  # UPPER_BOUND unless every word piece was listed
    chosen_is_seen: bool = True
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        exact = {**self.stages, "final": self.final, "raw_chances": self.raw_chances,
                 "entropy_raw": self.entropy_raw}
        return {"seen": self.seen, "vocab": self.vocab, "exact": exact, "chosen_is_seen": self.chosen_is_seen,
                **({"note": self.note} if self.note else {})}


def head_exactness(settings: SamplerSettings, result: ChainResult | StepTrace, seen_ids: np.ndarray,
                   vocab: int, seen_logprobs: np.ndarray | None = None, complete: bool = True,
                   unseen_bound: float | None = None, chosen: int | None = None, penalised: Sequence[int] | None = None,
                   trusted: bool = True) -> HeadExactness:
    """Stage by stage, whether the result computed from logits_from_head equals the in-process one.

    A stage is exact while every word still in play is listed (its scores are the model's, up to a
    constant), or when it cuts inside the list from exactly known chances so that no unlisted word
    could have survived it. `complete`: the list is the server's true top N, every entry with its id
    (llama-server), so unlisted words rank below every listed one and a cut keeping at most N
    (top-k ≤ N, top-p and min-p whose survivors are all listed) is exact. Otherwise (llama-cpp-python's
    server names tokens by text, and a text several tokens share hides all but one) an unlisted word
    can have any chance up to `unseen_bound` (default: the unlisted mass), so a cut is exact only
    where it keeps nothing below it (`seen_logprobs` gives the listed chances). While the even tail is still in play,
    anything that reads its shape (temperature's renormalising, typical-p and top-n-sigma's spread,
    the entropy) is approximate. The repeat penalty divides or multiplies a score by its sign, which a
    log-chance (always ≤ 0) does not carry: always approximate. `penalised`: the ids in the penalty
    window; `trusted` False (the server read other word pieces, or gave chances after its own samplers)
    makes everything approximate.
    """
    seen = np.asarray(seen_ids, dtype=np.int64)
    chances = np.sort(np.exp(np.asarray(seen_logprobs, dtype=np.float64)))[::-1] if seen_logprobs is not None \
        else None
    seen_set = np.unique(seen)
    n_seen = int(seen_set.size)
    everything = n_seen >= vocab
    if unseen_bound is not None:
        hidden = unseen_bound
    elif everything or chances is not None:
        hidden = 0.0 if everything else 1.0 - math.fsum(chances.tolist())  # type: ignore[union-attr]
    else:
        hidden = 1.0

    def safe_cut(name: str, kept_chance: float) -> bool:
        """Whether no unlisted word could have survived a cut whose least likely survivor has this chance."""
        if complete:
            return name != "top_k" or 0 < settings.top_k <= n_seen
        if name == "min_p" and chances is not None:
            return settings.min_p * chances[0] > hidden
        return kept_chance > hidden

    closed = everything  # every word still in play is listed
    exact_chances = True  # the listed words' chances among all words still in play are exact
    verdicts: dict[str, str] = {}
    for name, active, survivors in _stages(result, n_seen):
        if not active:
            verdicts[name] = OFF
            continue
        all_seen = survivors(seen_set)
        if not trusted:
            verdict = APPROXIMATE
        elif name == "penalties":
            verdict = _penalties(settings, seen_set, penalised, closed)
        elif closed and name in _RELATIVE:
            verdict = EXACT
        elif name in _TOP_CUTS and exact_chances and all_seen and safe_cut(name, _least(result, step=name,
                                                                                      chances=chances)):
            verdict = EXACT
        else:
            verdict = APPROXIMATE
        verdicts[name] = verdict
        if verdict == APPROXIMATE:
            exact_chances = False
            closed = closed and all_seen and name not in ("penalties", "logit_bias")
        closed = closed or (verdict == EXACT and all_seen)
    picked = _chosen(result) if chosen is None else int(chosen)
    final = EXACT if trusted and closed and all(v != APPROXIMATE for v in verdicts.values()) else APPROXIMATE
    return HeadExactness(n_seen, vocab, verdicts, final, EXACT if trusted else APPROXIMATE,
                         EXACT if everything and trusted else UPPER_BOUND,
                         everything or chosen_is_seen(picked, seen_set))


def _least(result: ChainResult | StepTrace, step: str, chances: np.ndarray | None) -> float:
    """The raw chance of the least likely word a cut kept (0 when unknown): its kept count indexes the
    listed chances, because a cut keeps the most likely words first."""
    if chances is None:
        return 0.0
    stages = result.stages
    kept = next((s.kept if isinstance(result, StepTrace) else _finite_count(s) for s in stages if s.name == step), 0)
    return float(chances[kept - 1]) if 0 < kept <= chances.size else 0.0


def _finite_count(step: Any) -> int:
    return int(np.count_nonzero(step.after.logits != -np.inf))


def _penalties(settings: SamplerSettings, seen: np.ndarray, penalised: Sequence[int] | None,
               closed: bool) -> str:
    if settings.repeat_penalty != 1.0:
        return APPROXIMATE
    # Frequency and presence penalties subtract: exact for listed words, a guess for an unlisted one.
    if closed or (penalised is not None and np.isin(np.asarray(penalised, dtype=np.int64), seen).all()):
        return EXACT
    return APPROXIMATE


def _stages(result: ChainResult | StepTrace, n_seen: int) -> Iterator[tuple[str, bool, Any]]:
    """(name, active, whether all its survivors are listed) per stage, from a chain result (by id) or a
    trace (by count: the unlisted words rank below every listed one, so a cut keeping at most N keeps
    only listed ones)."""
    if isinstance(result, StepTrace):
        for stage in result.stages:
            yield stage.name, stage.active, lambda _seen, kept=stage.kept: kept <= n_seen
        return
    for step in result.stages:
        after = step.after
        ids = after.ids
        if step.name in MASKING_STAGES or (after.size and after.logits.min() == -np.inf):
            ids = ids[after.logits != -np.inf]
        yield step.name, step.active, lambda seen, ids=ids: bool(np.isin(ids, seen).all())


def _chosen(result: ChainResult | StepTrace) -> int:
    if isinstance(result, ChainResult):
        return int(result.token_id)
    if 0 <= result.chosen_index < result.final.size:
        return int(result.final["token_id"][result.chosen_index])
    return int(result.candidates["token_id"][0]) if result.candidates.size else -1
