"""Runs side by side: what each column is, where the runs part ways, and how surprising each token was."""
from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from synthscope.sampling import SamplerSettings
from synthscope.sampling.settings import SPECS

MIN_COLUMNS, MAX_COLUMNS = 2, 4
MAX_SURPRISE_BITS = 30.0  # a chance of 0 (or below 2**-30) is drawn at this height: the scale stays readable

Runs = Sequence[Sequence[Hashable]]


@dataclass(frozen=True)
class CompareSpec:
    """One column: which model writes, with which settings and seed."""

    model_path: Path
    seed: int
    settings: SamplerSettings = field(default_factory=SamplerSettings)
    label: str = ""  # what differs from the first column, in plain words (column_label())
    model_name: str = ""  # shown where the model differs; the file name when empty

    @property
    def name(self) -> str:
        return self.model_name or Path(self.model_path).stem


def surprise_bits(p: float) -> float:
    """How unexpected a token was to the model: -log2 of its chance, capped for impossible tokens."""
    if not p > 0.0:  # also NaN
        return MAX_SURPRISE_BITS
    return min(MAX_SURPRISE_BITS, max(0.0, -math.log2(p)))


def first_divergence(runs: Runs, finished: Sequence[bool] | None = None) -> int | None:
    """The first position where the runs do not all have the same token, or where one of them has
    ended while another goes on; None while they agree. With `finished`, a shorter run that is still
    writing does not count as ended (it may catch up)."""
    if len(runs) < 2:
        return None
    shortest = min(len(run) for run in runs)
    for index in range(shortest):
        first = runs[0][index]
        if any(run[index] != first for run in runs[1:]):
            return index
    if all(len(run) == shortest for run in runs):
        return None
    if finished is None:
        return shortest
    ended = any(len(run) == shortest and done for run, done in zip(runs, finished))
    return shortest if ended else None


def agreement(runs: Runs) -> list[bool]:
    """Per position up to the longest run: True where every run has a token there and they are equal."""
    longest = max((len(run) for run in runs), default=0)
    flags = []
    for index in range(longest):
        tokens = [run[index] for run in runs if index < len(run)]
        flags.append(len(tokens) == len(runs) and all(token == tokens[0] for token in tokens))
    return flags


def divergence_from_first(runs: Runs, finished: Sequence[bool] | None = None) -> list[int | None]:
    """For each run, where it first parts ways with the first run (None for the first run itself and
    for runs that agree with it so far)."""
    result: list[int | None] = [None]
    for index in range(1, len(runs)):
        pair_finished = None if finished is None else [finished[0], finished[index]]
        result.append(first_divergence([runs[0], runs[index]], pair_finished))
    return result


def differs_at(runs: Runs, index: int) -> int | None:
    """The first run (after the first) whose token at `index` is not the first run's, or that has
    none there while the first run has one."""
    reference = runs[0][index] if index < len(runs[0]) else None
    for number, run in enumerate(runs[1:], start=1):
        token = run[index] if index < len(run) else None
        if token != reference:
            return number
    return None


def _value(value: float) -> str:
    return f"{value:g}"


def column_label(spec: CompareSpec, reference: CompareSpec) -> str:
    """What this column changes against the first one, in plain words: "Temperature 1.2",
    "Seed 42 · Top-p 0.5", the model's name, or "Same settings as column 1"."""
    if spec is reference:
        return "The reference for the other columns"
    parts = []
    if Path(spec.model_path) != Path(reference.model_path):
        parts.append(spec.name)
    for setting in SPECS:
        value = getattr(spec.settings, setting.key)
        if value == getattr(reference.settings, setting.key):
            continue
        if setting.key == "temperature" and value == 0:
            parts.append("Temperature 0 (always the top word piece)")
        else:
            parts.append(f"{setting.label} {_value(value)}")
    if spec.seed != reference.seed:
        parts.append(f"Seed {spec.seed}")
    return " · ".join(parts) if parts else "Same settings as column 1"


def labelled(specs: Sequence[CompareSpec]) -> list[CompareSpec]:
    """The specs with their labels filled in against the first one."""
    if not specs:
        return []
    first = specs[0]
    out = []
    for spec in specs:
        label = column_label(spec, first)
        out.append(CompareSpec(spec.model_path, spec.seed, spec.settings, label, spec.model_name))
    return out


def alignment_keys(model_paths: Sequence[Path | str], token_ids: Sequence[Sequence[int]],
                   texts: Sequence[Sequence[str]]) -> list[list[Hashable]]:
    """What to compare position by position: token ids when every run uses the same model, else the
    tokens' text (different vocabularies number their tokens differently)."""
    same_model = len({str(Path(path)) for path in model_paths}) <= 1
    return [list(ids) if same_model else list(run_texts) for ids, run_texts in zip(token_ids, texts)]
