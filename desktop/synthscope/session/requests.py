"""What the engine worker and the window send each other: plain data, copied out of the worker thread."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthscope.engine import EngineConfig, ModelFacts, machine_facts
from synthscope.engine.remote import ServerConfig
from synthscope.sampling import SamplerSettings
from synthscope.session import Step


@dataclass(frozen=True)
class LoadedModel:
    path: Path | None  # None: a model server computes it (`config` says which)
    facts: ModelFacts
    # Display text of every token id, read once so the UI never asks llama.cpp. A server that sends word
    # pieces only by their text fills it as they appear (the window adds StepBatch.pieces; "#id" until then).
    vocab: Sequence[str]
    config: EngineConfig | ServerConfig  # how llama.cpp runs it, or which server computes it
    note: str  # why, in one plain sentence
    device: str  # what computes it: the processor's or the GPU's name, or the server
    n_ctx: int  # tokens of text it can hold (the Context length setting, at most the model's own)
    end_tokens: frozenset[int] = frozenset()  # the tokens that end a text or a turn

    @property
    def server(self) -> ServerConfig | None:
        return self.config if isinstance(self.config, ServerConfig) else None

    @property
    def name(self) -> str:
        """What the window calls it: the file's name without .gguf, or the served model's."""
        if self.path is not None:
            return self.path.stem
        model = self.config.model if isinstance(self.config, ServerConfig) else ""
        return Path(model).stem or model or "the server's model"

    def learn(self, texts: dict[int, str]) -> None:
        """Fill in texts of word pieces still shown as "#id" (a server that names them only by text)."""
        vocab = self.vocab
        if isinstance(vocab, list):
            for token, text in texts.items():
                if 0 <= token < len(vocab) and vocab[token].startswith("#"):
                    vocab[token] = text

    @property
    def location(self) -> str:
        """Where it is: the file's path, or the server's address and the model's name there."""
        if self.path is not None:
            return str(self.path)
        server = self.server
        return "" if server is None else f"{server.server} ({server.model})" if server.model else server.server


@dataclass(frozen=True)
class ServerChoice:
    """A model server to compute with instead of a model file, as File → Connect to a model server… asks."""

    url: str  # as typed; ServerClient checks and normalises it
    api_key: str | None = None  # kept only while Synthscope runs, never written to the settings
    model: str | None = None  # which of the server's models (None: its first)
    head: int | None = None  # word pieces asked for per step (None: the whole vocabulary)
    allow_other_hosts: bool = False  # a server outside this computer and the local network


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
    pieces: dict[int, str] = field(default_factory=dict)  # word pieces' texts newly learned from a server

    @classmethod
    def of(cls, first: int, steps: list[Step], logits: list[np.ndarray], ends: list[bool],
           pieces: dict[int, str] | None = None) -> StepBatch:
        p_raw = np.fromiter((step.trace.chosen_p_raw for step in steps), dtype=np.float64, count=len(steps))
        return cls(first, tuple(steps), tuple(logits), p_raw, np.array(ends, dtype=bool), pieces or {})

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
