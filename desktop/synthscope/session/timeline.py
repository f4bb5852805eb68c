"""The whole run at a glance, from its record: per word piece the surprise, the certainty before and
after the samplers, the chance and rank of the word written; the unsure steps; the run's summary."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from synthscope.session.record import Step

UNSURE_WORDS = 8.0  # before the samplers, as unsure as choosing between at least this many words
LONG_SHOT = 0.05  # the dice picked a word with less than this chance after the samplers
RANK_BANDS = ((1, "top 1"), (10, "top 10"), (100, "top 100"), (0, "beyond"))  # GLTR's bins


@dataclass(frozen=True)
class Timeline:
    """One value per step (arrays of the same length, in step order)."""

    surprise_bits: np.ndarray  # −log2 of the model's chance for the word written
    sure_before: np.ndarray  # certainty before the samplers, in bits (the entropy)
    sure_after: np.ndarray  # and after them
    chance: np.ndarray  # the written word's chance after the samplers (0: a person's pick they removed)
    rank: np.ndarray  # its rank among all the model's word pieces (1 = the favourite; 0 unknown)

    def __len__(self) -> int:
        return int(self.surprise_bits.size)


def timeline(steps: Sequence[Step]) -> Timeline:
    count = len(steps)
    surprise, before, after, chance, rank = (np.zeros(count) for _ in range(5))
    for i, step in enumerate(steps):
        trace = step.trace
        surprise[i] = -math.log2(max(trace.chosen_p_raw, 1e-300))
        before[i] = trace.entropy_raw / math.log(2)
        after[i] = trace.entropy_final / math.log(2)
        p = trace.chosen_p_final
        chance[i] = 0.0 if p != p else p
        rank[i] = trace.chosen_rank
    return Timeline(surprise, before, after, chance, rank)


def joined(first: Timeline, second: Timeline) -> Timeline:
    """`first` followed by `second`: a run's timeline grown by its newest steps."""
    return Timeline(*(np.concatenate((a, b)) for a, b in zip(
        (first.surprise_bits, first.sure_before, first.sure_after, first.chance, first.rank),
        (second.surprise_bits, second.sure_before, second.sure_after, second.chance, second.rank))))


def is_unsure(step: Step) -> bool:
    """The model was unsure here, or the dice picked a long shot."""
    trace = step.trace
    unsure = math.exp(trace.entropy_raw) >= UNSURE_WORDS
    long_shot = step.chosen_by == "dice" and step.u is not None and 0 <= trace.chosen_p_final < LONG_SHOT
    return unsure or long_shot


def next_unsure(steps: Sequence[Step], after: int | None, backwards: bool = False) -> int | None:
    """The next (or previous) unsure step from `after` (None: from the start, or from the end)."""
    indices = range(len(steps))
    if backwards:
        start = len(steps) if after is None else after
        candidates = [i for i in reversed(indices) if i < start]
    else:
        start = -1 if after is None else after
        candidates = [i for i in indices if i > start]
    return next((i for i in candidates if is_unsure(steps[i])), None)


def rank_band(rank: int) -> int:
    """0 for the favourite, 1 for the top 10, 2 for the top 100, 3 beyond (and unknown ranks)."""
    for band, (limit, _) in enumerate(RANK_BANDS[:-1]):
        if 0 < rank <= limit:
            return band
    return len(RANK_BANDS) - 1


@dataclass(frozen=True)
class Summary:
    word_pieces: int
    mean_surprise_bits: float
    perplexity: float  # 2 to the mean surprise: as unsure, on average, as that many equal choices
    per_second: float | None

    def sentence(self) -> str:
        speed = f" · {self.per_second:.0f} per second" if self.per_second else ""
        return (f"{self.word_pieces:,} word pieces{speed} · mean surprise {self.mean_surprise_bits:.1f} bits · "
                f"perplexity {self.perplexity:.1f} (the model found this text as hard to predict as a pick "
                f"among {self.perplexity:.0f} equally likely words, on average)")


def summary(line: Timeline, per_second: float | None = None) -> Summary | None:
    """The run's figures from its timeline; `per_second`: the writing speed, when it is known."""
    if not len(line):
        return None
    mean = float(line.surprise_bits.mean())
    return Summary(len(line), mean, 2 ** mean, per_second)


COLOUR_MODES = ("chance", "rank", "certainty")
# What a word piece's shade stands for in each mode, as the chance band whose colour it takes: the
# text keeps one scale of colours, from a surprise (yellow) to what was expected (lavender).
RANK_SHADES = (0.95, 0.7, 0.3, 0.02)  # the favourite, top 10, top 100, beyond
CERTAINTY_LIMITS = ((1.5, 0.95), (4.0, 0.7), (16.0, 0.3))  # as unsure as ≤ N equal words → shade


def shade_value(step: Step, mode: str) -> float:
    """The value the text's colour scale shades `step` by: its chance before the samplers ("chance"),
    its rank ("rank", GLTR's bands) or how sure the model was there ("certainty")."""
    trace = step.trace
    if mode == "rank" and trace.chosen_rank:
        return RANK_SHADES[rank_band(trace.chosen_rank)]
    if mode == "certainty":
        equal = math.exp(min(trace.entropy_raw, 50.0))
        return next((shade for limit, shade in CERTAINTY_LIMITS if equal <= limit), 0.02)
    return trace.chosen_p_raw
