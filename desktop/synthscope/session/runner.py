"""Instrumented generation: sample with the traced chain, decode, and record every step.

Only the sampling decision has to happen before the next decode. The full-vocabulary statistics
(entropy, top-N, raw probabilities) are computed on a helper thread while llama_decode runs (ctypes
releases the GIL for the call) when llama.cpp leaves a core free; when every core decodes, they
run right after the decode instead: a helper thread would then stall llama.cpp's threads at each of
their barriers, which costs more than the statistics take (measured: benchmarks/bench_trace.py).
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from synthscope.engine import Engine, EngineError, TextAssembler, machine_facts
from synthscope.sampling import Dice, SamplerSettings, build_trace, run_chain
from synthscope.session.record import ModelIdentity, RunRecord, Step

LOGITS_BUDGET = 64 << 20  # bytes of full logits kept for recent steps (what-if without re-decoding)


class Generator:
    """Drives one Engine; call it from the thread that owns the engine."""

    def __init__(self, engine: Engine, seed: int = 0, top_n: int = 20,
                 logits_budget: int = LOGITS_BUDGET, overlap: bool | None = None) -> None:
        self.engine, self.seed, self.top_n = engine, seed, top_n
        self._overlap = overlap  # None: overlap the statistics with the decode when a core is free
        self._cores = machine_facts().logical_cores
        self.identity = ModelIdentity.of_file(engine.path, engine.facts.name, engine.n_vocab)
        self._dice = Dice(seed)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthscope-trace")
        self._max_cached = max(1, logits_budget // (4 * engine.n_vocab))
        self._logits: OrderedDict[int, np.ndarray] = OrderedDict()
        self._history = np.zeros(engine.n_ctx, dtype=np.int32)
        self._assembler = TextAssembler()
        self.record = RunRecord(self.identity, "", [], seed, top_n)

    # -- set-up -----------------------------------------------------------------------------
    def start(self, prompt: str, seed: int | None = None) -> None:
        """Tokenise and decode the prompt; forget any earlier steps."""
        if seed is not None:
            self.seed, self._dice = seed, Dice(seed)
        tokens = self.engine.tokenize(prompt)
        if not tokens:
            raise EngineError("The prompt is empty. Type a few words for the model to continue.")
        self.engine.reset()
        self.engine.decode(tokens)
        self.record = RunRecord(self.identity, prompt, tokens, self.seed, self.top_n,
                                engine=self.engine.config.to_dict())
        self._history[:len(tokens)] = tokens
        self._logits.clear()
        self._assembler = TextAssembler()

    @property
    def n_steps(self) -> int:
        return len(self.record.steps)

    def history(self, step_index: int | None = None) -> np.ndarray:
        """Context tokens (prompt included) before step `step_index` (default: the next step)."""
        index = self.n_steps if step_index is None else step_index
        return self._history[:len(self.record.prompt_tokens) + index].copy()

    # -- one token ------------------------------------------------------------------------
    def step(self, settings: SamplerSettings) -> Step:
        """Choose, record and decode exactly one token."""
        if not self.record.prompt_tokens:
            raise EngineError("Start with a prompt first.")
        if self.engine.n_past >= self.engine.n_ctx:
            raise EngineError(f"The text has reached this model's limit of {self.engine.n_ctx:,} "
                              "tokens. Undo some tokens or clear to continue.")
        index = self.n_steps
        raw = self.engine.logits().copy()  # the next decode overwrites the view
        position = len(self.record.prompt_tokens) + index
        result = run_chain(raw, settings, self._history[:position],
                           None if settings.greedy else self._dice.u(index))
        if self.overlaps:
            pending = self._pool.submit(build_trace, result, self.top_n)
            try:
                self.engine.decode([result.token_id])
            finally:
                trace = pending.result()
        else:
            self.engine.decode([result.token_id])
            trace = build_trace(result, self.top_n)
        piece = self.engine.token_bytes(result.token_id)
        step = Step(result.token_id, piece, self._assembler.feed(piece), result.u, settings, trace)
        self._remember(index, raw, step)
        self._history[position] = result.token_id
        self.record.steps.append(step)
        return step

    @property
    def overlaps(self) -> bool:
        """Whether the statistics run beside the decode (on a core llama.cpp leaves free)."""
        if self._overlap is not None:
            return self._overlap
        return (self.engine.config.threads or self._cores) < self._cores

    def _remember(self, index: int, raw: np.ndarray, step: Step) -> None:
        raw.flags.writeable = False  # shared with readers by shared_logits(), never copied
        self._logits[index] = raw
        while len(self._logits) > self._max_cached:
            self._logits.popitem(last=False)
        pieces = self.record.pieces
        for token in (step.token_id, *step.trace.candidates["token_id"].tolist(),
                      *step.trace.final["token_id"].tolist()):
            if token not in pieces:
                pieces[token] = self.engine.token_bytes(token)

    def is_end(self, step: Step) -> bool:
        return self.engine.is_end_of_generation(step.token_id)

    def undo(self) -> Step | None:
        """Remove the last step and rewind the KV cache to before it."""
        if not self.record.steps:
            return None
        step = self.record.steps.pop()
        self._logits.pop(self.n_steps, None)
        self.engine.rewind_to(len(self.record.prompt_tokens) + self.n_steps)
        self._assembler = TextAssembler()
        for kept in self.record.steps:
            self._assembler.feed(kept.token_bytes)
        return step

    # -- what-if support --------------------------------------------------------------------
    def raw_logits(self, step_index: int) -> np.ndarray:
        """A copy of the full logits step `step_index` was sampled from (re-decoded if evicted)."""
        if not 0 <= step_index < self.n_steps:
            raise IndexError(step_index)
        cached = self._logits.get(step_index)
        if cached is not None:
            return cached.copy()
        # Re-decoding the tail as one batch can differ from the token-by-token original in the
        # last digits (it does on Gemma 3), which later steps' logits inherit.
        everything = self.engine.tokens
        position = len(self.record.prompt_tokens) + step_index
        self.engine.rewind_to(position)
        logits = self.engine.logits().copy()
        self.engine.decode(everything[position:])
        return logits

    def shared_logits(self, step_index: int) -> np.ndarray:
        """Step `step_index`'s logits, read-only: the cached array itself for recent steps (no copy
        per token for the window), else a re-decoded copy."""
        cached = self._logits.get(step_index)
        return cached if cached is not None else self.raw_logits(step_index)

    def generate(self, settings: SamplerSettings, max_tokens: int, ignore_eos: bool = False,
                 on_step: Callable[[Step], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> list[Step]:
        """Up to max_tokens steps; stops at an end-of-generation token unless ignore_eos, and at
        the end of the context."""
        made: list[Step] = []
        for _ in range(max_tokens):
            if (should_stop is not None and should_stop()) or self.engine.n_past >= self.engine.n_ctx:
                break
            step = self.step(settings)
            made.append(step)
            if on_step is not None:
                on_step(step)
            if not ignore_eos and self.is_end(step):
                break
        return made

    def close(self) -> None:
        self._pool.shutdown(wait=True)
