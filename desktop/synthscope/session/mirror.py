"""The UI thread's copy of a run: steps, recent full logits (bounded by bytes) and what-if replays."""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthscope.sampling import ChainResult, Dice, SamplerSettings, StepTrace, build_trace, run_chain
from synthscope.sampling.dry import DryBreakers, dry_enabled
from synthscope.sampling.newer_stages import xtc_enabled
from synthscope.session import Step

DEFAULT_LOGITS_BUDGET = 128 * 1024 * 1024
MAX_VERDICTS = 32  # grammar verdicts kept for what-ifs (one bool per word piece each)


@dataclass(frozen=True)
class StepExtras:
    """What a what-if at one step needs from the engine besides the logits: the grammar's verdict on
    every word piece there, and DRY's breaker table (each only when asked for)."""

    index: int
    grammar: str = ""
    allowed: np.ndarray | None = None
    breakers: tuple[str, ...] | None = None
    table: DryBreakers | None = None


def needs_breakers(settings: SamplerSettings) -> bool:
    return not settings.mirostat and "dry" in settings.samplers and dry_enabled(
        settings.dry_multiplier, settings.dry_base, settings.dry_penalty_last_n)


@dataclass(frozen=True)
class StepView:
    """One step as the panels show it: as recorded, or re-sampled with other settings (a what-if)."""

    index: int
    trace: StepTrace
    token_id: int
    u: float | None
    settings: SamplerSettings
    recorded_token_id: int | None = None  # set for a what-if: the token the run really picked

    @property
    def is_what_if(self) -> bool:
        return self.recorded_token_id is not None

    @property
    def changes_pick(self) -> bool:
        return self.is_what_if and self.token_id != self.recorded_token_id


class LogitsCache:
    """Full logits of recent steps, newest kept, oldest dropped once over `budget` bytes."""

    def __init__(self, budget: int = DEFAULT_LOGITS_BUDGET) -> None:
        self.budget = budget
        self._items: OrderedDict[int, np.ndarray] = OrderedDict()
        self.nbytes = 0

    def __contains__(self, index: int) -> bool:
        return index in self._items

    def __len__(self) -> int:
        return len(self._items)

    def put(self, index: int, logits: np.ndarray) -> None:
        self.discard(index)
        logits.setflags(write=False)
        self._items[index] = logits
        self.nbytes += logits.nbytes
        while self.nbytes > self.budget and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self.nbytes -= old.nbytes

    def get(self, index: int) -> np.ndarray | None:
        logits = self._items.get(index)
        if logits is not None:
            self._items.move_to_end(index)
        return logits

    def discard(self, index: int) -> None:
        old = self._items.pop(index, None)
        if old is not None:
            self.nbytes -= old.nbytes

    def discard_from(self, first: int) -> None:
        for index in [i for i in self._items if i >= first]:
            self.discard(index)

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0


class RunMirror:
    """Prompt tokens, seed and steps as the worker reported them; the views read only this."""

    def __init__(self, logits_budget: int = DEFAULT_LOGITS_BUDGET) -> None:
        self.prompt = ""
        self.prompt_tokens = np.zeros(0, dtype=np.int32)
        self.seed = 0
        self.steps: list[Step] = []
        self.logits = LogitsCache(logits_budget)
        self.tables: dict[tuple[str, ...], DryBreakers] = {}  # DRY's breaker tables, for this model
        self.verdicts: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()  # (step, grammar)

    def reset(self, prompt: str, prompt_tokens: np.ndarray, seed: int) -> None:
        self.prompt = prompt
        self.prompt_tokens = np.asarray(prompt_tokens, dtype=np.int32)
        self.seed = seed
        self.steps = []
        self.logits.clear()
        self.tables.clear()  # a new run may be on another model: its word pieces differ
        self.verdicts.clear()

    def missing_extras(self, index: int, settings: SamplerSettings) -> tuple[str, tuple[str, ...] | None] | None:
        """(grammar, breakers) a what-if at `index` with `settings` still needs from the engine
        ("" / None for what it does not need); None when it has everything."""
        grammar = settings.grammar if settings.grammar and (index, settings.grammar) not in self.verdicts else ""
        breakers = settings.dry_sequence_breakers
        wanted = breakers if needs_breakers(settings) and breakers not in self.tables else None
        return (grammar, wanted) if grammar or wanted is not None else None

    def add_extras(self, extras: StepExtras) -> None:
        if extras.table is not None and extras.breakers is not None:
            self.tables[extras.breakers] = extras.table
        if extras.allowed is not None and extras.grammar:
            extras.allowed.setflags(write=False)
            self.verdicts[(extras.index, extras.grammar)] = extras.allowed
            while len(self.verdicts) > MAX_VERDICTS:
                self.verdicts.popitem(last=False)

    def __len__(self) -> int:
        return len(self.steps)

    def append(self, step: Step, logits: np.ndarray | None) -> int:
        self.steps.append(step)
        index = len(self.steps) - 1
        if logits is not None:
            self.logits.put(index, logits)
        return index

    def extend(self, steps: tuple[Step, ...], logits: tuple[np.ndarray, ...]) -> None:
        """Steps that arrived together, each with its logits."""
        for step, step_logits in zip(steps, logits):
            self.append(step, step_logits)

    def replace_steps(self, steps: list[Step]) -> None:
        """Another path of the exploration: its steps, and no logits yet (they are fetched)."""
        self.steps = list(steps)
        self.logits.clear()
        self.verdicts.clear()  # a grammar's verdict depends on the path to the step

    def pop(self) -> None:
        if self.steps:
            self.steps.pop()
            self.logits.discard_from(len(self.steps))
            for key in [key for key in self.verdicts if key[0] >= len(self.steps)]:
                del self.verdicts[key]

    def history(self, index: int) -> np.ndarray:
        """The context before step `index`, prompt included: what the penalties look back over."""
        generated = np.fromiter((s.token_id for s in self.steps[:index]), dtype=np.int32,
                                count=min(index, len(self.steps)))
        return np.concatenate([self.prompt_tokens, generated])

    def u(self, index: int) -> float:
        return Dice(self.seed).u(index)

    def recorded(self, index: int) -> StepView:
        step = self.steps[index]
        return StepView(index, step.trace, step.token_id, step.u, step.settings)

    def what_if(self, index: int, settings: SamplerSettings) -> StepView | None:
        """Step `index` re-sampled with `settings`, the same dice and XTC's same draw, from the state
        mirostat or adaptive-p had there; None until its logits (and any grammar verdict or DRY
        table it needs, see missing_extras) are here."""
        chain = self.chain_for(index, settings)
        if chain is None:
            return None
        step = self.steps[index]
        result = chain(settings)
        trace = build_trace(result, top_n=len(step.trace.candidates))
        return StepView(index, trace, result.token_id, result.u, settings, recorded_token_id=step.token_id)

    def chain_for(self, index: int, settings: SamplerSettings) -> Callable[[SamplerSettings], ChainResult] | None:
        """Step `index`'s own chain — its logits, history, dice, XTC draw, the state mirostat or
        adaptive-p had, DRY's table and the grammar's verdict for `settings` — to run with `settings`
        or others that differ only in numbers (a sweep); None until all of it is here."""
        logits = self.logits.get(index)
        if logits is None or self.missing_extras(index, settings) is not None:
            return None
        step, history, dice = self.steps[index], self.history(index), Dice(self.seed)
        extra: dict[str, Any] = {}
        if needs_breakers(settings):
            extra["breakers"] = self.tables[settings.dry_sequence_breakers]
        if settings.grammar:
            extra["allowed"] = self.verdicts[(index, settings.grammar)]

        def chain(chosen: SamplerSettings) -> ChainResult:
            u = None if chosen.greedy else dice.u(index)
            xtc = {"xtc_u": dice.xtc_u(index)} if xtc_enabled(chosen.xtc_probability, chosen.xtc_threshold) else {}
            return run_chain(logits, chosen, history, u, feedback=step.feedback_in, **extra, **xtc)

        return chain
