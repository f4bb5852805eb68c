"""What the engine worker and the window send each other: plain data, copied out of the worker thread."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthscope.engine import EngineConfig, ModelFacts, machine_facts
from synthscope.sampling import SamplerSettings
from synthscope.session import Step


@dataclass(frozen=True)
class LoadedModel:
    path: Path
    facts: ModelFacts
    vocab: tuple[str, ...]  # display text of every token id, read once so the UI never asks llama.cpp
    config: EngineConfig  # how llama.cpp runs it
    note: str  # why, in one plain sentence
    device: str  # what computes it: the processor's or the GPU's name
    n_ctx: int  # tokens of text it can hold (the Context length setting, at most the model's own)
    end_tokens: frozenset[int] = frozenset()  # the tokens that end a text or a turn


def device_name(config: EngineConfig) -> str:
    facts = machine_facts()
    gpus = facts.gpu_devices
    if gpus and config.gpu_layers != 0:
        return gpus[0].description or gpus[0].name
    return facts.cpu_name


@dataclass(frozen=True)
class RunStarted:
    prompt: str
    prompt_tokens: np.ndarray
    seed: int


@dataclass(frozen=True)
class StepBatch:
    """Steps that reach the window together, in order: the steps themselves, and what the text
    needs of them as arrays (one signal per batch, however many steps it holds)."""

    first: int  # the index of steps[0] in the run
    steps: tuple[Step, ...]
    logits: tuple[np.ndarray, ...]  # the full logits each step was sampled from (read-only, shared)
    p_raw: np.ndarray  # float64: each step's chance before the samplers, which shades its text
    ends: np.ndarray  # bool: the model's end-of-text token

    @classmethod
    def of(cls, first: int, steps: list[Step], logits: list[np.ndarray], ends: list[bool]) -> StepBatch:
        p_raw = np.fromiter((step.trace.chosen_p_raw for step in steps), dtype=np.float64, count=len(steps))
        return cls(first, tuple(steps), tuple(logits), p_raw, np.array(ends, dtype=bool))

    def __len__(self) -> int:
        return len(self.steps)


@dataclass(frozen=True)
class RunRequest:
    prompt: str | None  # None: continue the current run (unless `messages` are given)
    seed: int
    max_tokens: int
    ignore_end: bool = False  # write on past the model's end-of-text token
    stop_sequences: tuple[str, ...] = ()  # the run ends at the first token that completes one
    messages: tuple[dict[str, str], ...] | None = None  # a chat: the prompt is these in the template
    # A branch: cut the run before step `index`, then write `token` there (a person's pick; None:
    # the dice pick again, with the current settings) and go on with the same dice.
    fork: tuple[int, int | None] | None = None
    then: tuple[int, ...] = ()  # with a fork: the word pieces written after its one (a future taken)


@dataclass(frozen=True)
class FuturesRequest:
    """Many futures from step `index` (the end of the text when it is the run's length)."""

    index: int
    n: int
    depth: int
    seed: int
    settings: SamplerSettings
