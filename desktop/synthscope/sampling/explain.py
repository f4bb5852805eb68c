"""Plain sentences about one step: why this word was written, how sure the model was, each stage's effect."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synthscope.sampling.trace import StepTrace

LONG_SHOT = 0.05  # a pick with less than this chance is "a long shot"


def stage_columns(trace: StepTrace) -> tuple[str, ...]:
    """The model's own chance, then the chance after every stage of this step's chain."""
    return ("model",) + trace.stage_names


def percent(p: float) -> str:
    """46%, 1.2%, <0.1%: as few digits as a reader needs."""
    if p != p:
        return "?"
    if p <= 0.0:
        return "0%"
    if p < 0.001:
        return "<0.1%"
    if p < 0.1:
        return f"{p * 100:.1f}%"
    if 0.995 < p < 1.0:
        return ">99%"
    return f"{p * 100:.0f}%"


def equally_likely(entropy: float) -> int:
    """How many equally likely words would leave the model as unsure as it was (exp of the entropy)."""
    return max(1, round(math.exp(min(entropy, 30.0))))


VERY_SURE = 0.8  # a favourite with at least this chance: "very sure" says more than a count of words
CERTAIN = 0.995  # only above this does "all but certain" not overstate it (rivals share under 0.5%)


def certainty_words(entropy: float, top_p: float | None = None) -> str:
    """The model's certainty at one step in words a 14-year-old can picture; `top_p` is the model's own
    chance for its favourite, which says it more plainly when one word dominates."""
    n = equally_likely(entropy)
    if top_p is not None and top_p >= CERTAIN:
        return f"the model was all but certain: its favourite word had {percent(top_p)}"
    if top_p is not None and top_p >= VERY_SURE:
        return (f"the model was very sure: its favourite word had {percent(top_p)}, "
                f"the others {percent(1.0 - top_p)} together")
    if n <= 1:
        return "the model was very sure: nearly all the chance was on one word"
    if n >= 1000:
        return f"the model was very unsure: as if choosing between about {n:,} equally likely words"
    return f"the model was choosing between about {n} equally likely words"


@dataclass(frozen=True)
class Why:
    """Why one word was written: the favourite, the pick, and what kind of pick it was."""

    favourite_id: int
    favourite_p: float  # its chance in the draw (after the samplers)
    chosen_id: int
    chosen_p: float  # the pick's chance in the draw; NaN when not recorded, 0 when a person chose it
    kind: str  # "the favourite", "a close second", "the second favourite", "a long shot",
    # "a less likely word" or "your own pick"
    greedy: bool
    sentence: str


def _kind(chosen_p: float, favourite_p: float, rank: int) -> str:
    if rank == 0:
        return "the favourite"
    if chosen_p < LONG_SHOT:
        return "a long shot"
    if rank == 1:
        return "a close second" if chosen_p >= favourite_p / 2 else "the second favourite"
    return "a less likely word"


def why(trace: StepTrace, chosen_id: int, name: Callable[[int], str], greedy: bool = False) -> Why:
    """One plain sentence for the step, from the numbers in its trace. `name` quotes a token's text."""
    final = trace.final
    best = int(np.argmax(final["p"])) if final.size else 0
    fav_id = int(final["token_id"][best]) if final.size else chosen_id
    fav_p = float(final["p"][best]) if final.size else 1.0
    chosen_p = trace.chosen_p_final
    if trace.chosen_index < 0:
        sentence = (f"After the samplers the favourite was ‘{name(fav_id)}’ ({percent(fav_p)}). You picked "
                    f"‘{name(chosen_id)}’ yourself; the samplers had removed it (the model gave it "
                    f"{percent(trace.chosen_p_raw)}).")
        return Why(fav_id, fav_p, chosen_id, 0.0, "your own pick", greedy, sentence)
    if greedy:
        sentence = (f"Temperature 0: no dice, the favourite is always written — ‘{name(chosen_id)}’ "
                    f"(the model gave it {percent(trace.chosen_p_raw)}).")
        return Why(chosen_id, 1.0, chosen_id, 1.0, "the favourite", True, sentence)
    order = np.argsort(-final["p"], kind="stable")
    ranks = np.flatnonzero(final["token_id"][order] == chosen_id)
    rank = int(ranks[0]) if ranks.size else len(final)
    # A pick beyond the recorded part of the draw had less than the least recorded chance.
    known = chosen_p == chosen_p
    bound = chosen_p if known else float(final["p"].min())
    kind = _kind(bound, fav_p, rank)
    shown = percent(chosen_p) if known else f"under {percent(bound)}"
    if rank == 0:
        sentence = f"The dice picked the favourite after the samplers, ‘{name(chosen_id)}’ ({shown})."
    else:
        sentence = (f"After the samplers the favourite was ‘{name(fav_id)}’ ({percent(fav_p)}). The dice "
                    f"picked ‘{name(chosen_id)}’, {kind} ({shown}).")
    return Why(fav_id, fav_p, chosen_id, chosen_p, kind, False, sentence)


@dataclass(frozen=True)
class StageRow:
    """One candidate followed through the chain: its chance in each column of stage_columns()."""

    token_id: int
    chances: tuple[float, ...]  # one per column of stage_columns(); 0 once a stage removed it
    removed_at: int | None  # column index where it was removed, None if it reached the draw

    def effect(self, column: int) -> str:
        """'removed', 'lower', 'higher' or 'same': what the stage of `column` did to this word."""
        if column == 0:
            return "same"
        before, after = self.chances[column - 1], self.chances[column]
        if before > 0 and after == 0:
            return "removed"
        if after < before * 0.97:
            return "lower"
        if after > before * 1.03:
            return "higher"
        return "same"


def stage_rows(trace: StepTrace, limit: int | None = None) -> list[StageRow]:
    """The top candidates' chances after every stage; [] for a trace recorded without them."""
    if trace.stage_p is None:
        return []
    rows = []
    for j, cand in enumerate(trace.candidates[:limit]):
        chances = (float(cand["p_raw"]),) + tuple(float(v) for v in trace.stage_p[:, j])
        removed = next((c for c in range(1, len(chances)) if chances[c] == 0.0), None)
        rows.append(StageRow(int(cand["token_id"]), chances, removed))
    return rows


def penalty_change(trace: StepTrace) -> dict[int, tuple[float, float]]:
    """Candidates whose chance the repetition penalties lowered: token id → (before, after)."""
    if trace.stage_p is None or not trace.has_stage("penalties") or not trace.stage("penalties").changed:
        return {}
    row = trace.stage_names.index("penalties")
    result = {}
    for j, cand in enumerate(trace.candidates):
        before = float(trace.stage_p[row - 1, j]) if row else float(cand["p_raw"])
        after = float(trace.stage_p[row, j])
        if after < before * 0.97:
            result[int(cand["token_id"])] = (before, after)
    return result
