"""Instrumented generation: sample with the traced chain, decode, and record every step.

Only the sampling decision has to happen before the next decode. The statistics (entropy, top-N,
raw probabilities, what each stage removed) are computed on a helper thread while llama_decode runs
(ctypes releases the GIL for the call) when llama.cpp leaves a core free. When every core decodes,
a helper thread would stall llama.cpp's threads at each of their barriers, so they are computed
afterwards, a few steps at a time: right after a decode the caches are cold and one step's
statistics take about twice as long as within a batch (measured: benchmarks/bench_trace.py).
Readers never see a step without its trace: every way out (step(), generate(), record,
complete_traces()) fills them in first.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from synthscope.engine import Engine, EngineError, TextAssembler, machine_facts
from synthscope.sampling import (ChainResult, Dice, SamplerSettings, StepTrace, build_trace, force_choice,
                                 run_chain)
from synthscope.engine.dry_breakers import dry_breakers
from synthscope.engine.remote import RemoteEngine
from synthscope.session.mirror import StepExtras
from synthscope.session.record import ModelIdentity, RunRecord, Step
from synthscope.session.step_inputs import StepInputs, feedback_before
from synthscope.session.stopping import StopWatcher

LOGITS_BUDGET = 64 << 20  # bytes of full logits kept for recent steps (what-if without re-decoding)
TRACE_BATCH = 16  # generate() fills in traces at least this often


def mentioned_tokens(step: Step) -> list[int]:
    """The chosen token, the candidates and the draw's list: every token a step's record names."""
    trace = step.trace
    return [step.token_id, *trace.candidates["token_id"].tolist(), *trace.final["token_id"].tolist()]


class Generator:
    """Drives one Engine; call it from the thread that owns the engine."""

    def __init__(self, engine: Engine, seed: int = 0, top_n: int = 20,
                 logits_budget: int = LOGITS_BUDGET, overlap: bool | None = None) -> None:
        self.engine, self.seed, self.top_n = engine, seed, top_n
        self._overlap = overlap  # None: overlap the statistics with the decode when a core is free
        self._cores = machine_facts().logical_cores
        self.served = isinstance(engine, RemoteEngine)  # a model server's: no weights file here to read
        self.identity = (ModelIdentity(*engine.served_identity) if self.served
                         else ModelIdentity.of_file(engine.path, engine.facts.name, engine.n_vocab))
        self._dice = Dice(seed)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="synthscope-trace")
        self._max_cached = max(1, logits_budget // (4 * engine.n_vocab))
        self._logits: OrderedDict[int, np.ndarray] = OrderedDict()
        self._history = np.zeros(engine.n_ctx, dtype=np.int32)
        self._assembler = TextAssembler()
        self._record = RunRecord(self.identity, "", [], seed, top_n)
        self._untraced: list[tuple[Step, ChainResult | Future[StepTrace]]] = []
        self._inputs = StepInputs(engine)

    # -- set-up -----------------------------------------------------------------------------
    def start(self, prompt: str, seed: int | None = None) -> None:
        """Tokenise and decode the prompt; forget any earlier steps."""
        if seed is not None:
            self.seed, self._dice = seed, Dice(seed)
        tokens = self.engine.tokenize(prompt)
        if not tokens:
            raise EngineError("The prompt is empty. Type a few words for the model to continue.")
        self.complete_traces()
        self.engine.reset()
        self.engine.decode(tokens)
        self._record = RunRecord(self.identity, prompt, tokens, self.seed, self.top_n,
                                 engine=self.engine.config.to_dict())
        self._history[:len(tokens)] = tokens
        self._logits.clear()
        self._assembler = TextAssembler()

    @property
    def record(self) -> RunRecord:
        """The run so far, every step with its trace."""
        self.complete_traces()
        return self._record

    @property
    def n_steps(self) -> int:
        return len(self._record.steps)

    def history(self, step_index: int | None = None) -> np.ndarray:
        """Context tokens (prompt included) before step `step_index` (default: the next step)."""
        index = self.n_steps if step_index is None else step_index
        return self._history[:len(self._record.prompt_tokens) + index].copy()

    # -- one token ------------------------------------------------------------------------
    def step(self, settings: SamplerSettings, force: int | None = None) -> Step:
        """Choose (or take a person's `force`d pick), record and decode exactly one token, with its
        trace."""
        step = self.step_untraced(settings, force)
        self.complete_traces()
        return step

    def step_untraced(self, settings: SamplerSettings, force: int | None = None) -> Step:
        """Choose, record and decode exactly one token; its trace is filled in by the next
        complete_traces() (or anything that hands steps out). `force`: a person's pick, which
        overrules the dice (the stages and the odds are recorded as they were)."""
        record = self._record
        if not record.prompt_tokens:
            raise EngineError("Start with a prompt first.")
        if self.engine.n_past >= self.engine.n_ctx:
            raise EngineError(f"The text has reached this model's limit of {self.engine.n_ctx:,} "
                              "tokens. Undo some tokens or clear to continue.")
        index = self.n_steps
        raw = self.engine.logits().copy()  # the next decode overwrites the view
        position = len(record.prompt_tokens) + index
        result = self._sample(raw, settings, index, position)
        if force is not None:
            result = force_choice(result, force)
        # Its text first: through a model server that can be a request, which must fail before the decode
        piece = self.engine.token_bytes(result.token_id)
        work: ChainResult | Future[StepTrace] = result
        if self.overlaps:
            work = self._pool.submit(build_trace, result, self.top_n)
        try:
            self.engine.decode([result.token_id])
        except BaseException:
            if isinstance(work, Future):
                work.result()  # never leave the helper working on a step that did not happen
            raise
        # The trace arrives with complete_traces(); until then the step stays inside the generator.
        step = Step(result.token_id, piece, self._assembler.feed(piece), result.u, settings,
                    None, "dice" if force is None else "person",  # type: ignore[arg-type]
                    result.xtc_u, result.feedback_in, result.feedback_out)
        self._untraced.append((step, work))
        self._keep_logits(index, raw)
        self._history[position] = result.token_id
        record.steps.append(step)
        return step

    def peek(self, settings: SamplerSettings) -> Step:
        """The step the dice would write next, with its trace, without writing it."""
        self.complete_traces()
        index = self.n_steps
        position = len(self._record.prompt_tokens) + index
        result = self._sample(self.engine.logits(), settings, index, position)
        trace = build_trace(result, self.top_n)
        self._remember_pieces(trace.candidates["token_id"].tolist())
        piece = self.engine.token_bytes(result.token_id)
        text = piece.decode("utf-8", errors="replace")
        return Step(result.token_id, piece, text, result.u, settings, trace, "dice", result.xtc_u,
                    result.feedback_in, result.feedback_out)

    def _sample(self, logits: np.ndarray, settings: SamplerSettings, index: int, position: int) -> ChainResult:
        """Step `index`'s decision: the chain with its dice, XTC's draw, what mirostat or adaptive-p
        carried over, DRY's breakers and the grammar's verdict."""
        history = self._history[:position]
        inputs = self._inputs.for_step(settings, self._dice, index,
                                       history[len(self._record.prompt_tokens):].tolist(),
                                       feedback_before(self._record.steps, index))
        return run_chain(logits, settings, history, None if settings.greedy else self._dice.u(index), **inputs)

    def complete_traces(self) -> None:
        """Fill in the traces of the steps made by step_untraced() since the last call. If one
        cannot be made, it and the steps after it are taken back before the error goes on, so no
        step is ever without its trace."""
        for done, (step, work) in enumerate(self._untraced):
            try:
                step.trace = work.result() if isinstance(work, Future) else build_trace(work, self.top_n)
            except BaseException:
                failed = len(self._untraced) - done
                self._untraced.clear()
                self._truncate(self.n_steps - failed)
                raise
            self._remember_pieces(mentioned_tokens(step))
        self._untraced.clear()

    def _remember_pieces(self, tokens: Iterable[int]) -> None:
        """The bytes of every token the record mentions, for its JSON."""
        pieces = self._record.pieces
        for token in tokens:
            if token not in pieces:
                pieces[token] = self.engine.token_bytes(token)

    def _keep_logits(self, index: int, raw: np.ndarray) -> None:
        """Keep step `index`'s logits (newest kept, oldest dropped past the budget)."""
        raw.flags.writeable = False  # shared with readers by shared_logits(), never copied
        self._logits[index] = raw
        while len(self._logits) > self._max_cached:
            self._logits.popitem(last=False)

    @property
    def overlaps(self) -> bool:
        """Whether the statistics run beside the decode (on a core llama.cpp leaves free)."""
        if self._overlap is not None:
            return self._overlap
        return (self.engine.config.threads or self._cores) < self._cores

    def is_end(self, step: Step) -> bool:
        return self.engine.is_end_of_generation(step.token_id)

    def undo(self) -> Step | None:
        """Remove the last step and rewind the KV cache to before it."""
        record = self.record
        if not record.steps:
            return None
        step = record.steps[-1]
        self._truncate(self.n_steps - 1)
        return step

    def truncate(self, n_steps: int) -> None:
        """Keep the first n_steps steps (the KV cache and the text follow)."""
        self.complete_traces()
        self._truncate(n_steps)

    def _truncate(self, n_steps: int) -> None:
        """Keep the first n_steps steps; rewind the KV cache and the text to match."""
        record = self._record
        for index in range(n_steps, len(record.steps)):
            self._logits.pop(index, None)
        del record.steps[n_steps:]
        self._rewind_cache(n_steps)
        self._assembler = TextAssembler()
        for kept in record.steps:
            self._assembler.feed(kept.token_bytes)

    def _rewind_cache(self, n_steps: int) -> None:
        """Cut the KV cache after step n_steps - 1, keeping the one rule that makes every number
        reproducible: the prompt is decoded as one batch and each generated token on its own (a
        batch's logits can differ in the last digits from one token's; they do on Gemma 3)."""
        prompt = self._record.prompt_tokens
        if n_steps == 0:
            # Cutting inside the prompt would re-decode its last token alone: decode it whole again.
            self.engine.reset()
            self.engine.decode(prompt)
        else:
            self.engine.rewind_to(len(prompt) + n_steps)

    def follow(self, steps: list[Step]) -> int:
        """Make `steps` (another path of the exploration) this run's steps: keep the start they
        share with the current steps, cut the cache there, and decode the rest one token at a time,
        as they were first decoded, so each step's logits are the ones it was sampled from.
        Returns how many steps were shared."""
        self.complete_traces()
        record = self._record
        shared = 0
        for mine, theirs in zip(record.steps, steps):
            if mine.token_id != theirs.token_id:
                break
            shared += 1
        if shared < len(record.steps):
            self._truncate(shared)
        record.steps[:shared] = steps[:shared]  # the same tokens, but their own records
        prompt_length = len(record.prompt_tokens)
        for index in range(shared, len(steps)):
            step = steps[index]
            if self.engine.n_past >= self.engine.n_ctx:
                raise EngineError(f"This path is longer than the context of {self.engine.n_ctx:,} "
                                  "tokens; raise the Context length setting to open it.")
            raw = self.engine.logits().copy()
            try:
                self.engine.decode([step.token_id])
            except EngineError:
                if not self.served:
                    raise
                # A model server listing fewer word pieces than when this text was written.
                raise EngineError(f"Word piece {index + 1} of this text is not among those the model server "
                                  "lists there now: connect again asking for more word pieces at each step "
                                  "to open it.") from None
            self._keep_logits(index, raw)
            self._history[prompt_length + index] = step.token_id
            self._assembler.feed(step.token_bytes)
            record.steps.append(step)
            self._remember_pieces(mentioned_tokens(step))
        return shared

    # -- what-if support --------------------------------------------------------------------
    def raw_logits(self, step_index: int) -> np.ndarray:
        """A copy of the full logits step `step_index` was sampled from (re-decoded if evicted)."""
        if not 0 <= step_index < self.n_steps:
            raise IndexError(step_index)
        cached = self._logits.get(step_index)
        if cached is not None:
            return cached.copy()
        if self.served:  # a model server: asked for that point, its context left as it is
            point = self.engine.tokens[:len(self._record.prompt_tokens) + step_index]
            return np.array(self.engine.head_logits(point)[0])
        # The tail is decoded again one token at a time, as it was first: a batch could differ in
        # the last digits (it does on Gemma 3), and later steps' logits would inherit that.
        everything = self.engine.tokens
        self._rewind_cache(step_index)
        logits = self.engine.logits().copy()
        for token in everything[len(self._record.prompt_tokens) + step_index:]:
            self.engine.decode([token])
        return logits

    def extras(self, step_index: int, grammar: str, breakers: tuple[str, ...] | None) -> StepExtras:
        """For a what-if at `step_index`: the grammar's verdict there and DRY's breaker table."""
        history = self.history(step_index)[len(self._record.prompt_tokens):].tolist()
        allowed = self._inputs.grammar_for(grammar).allowed_after(history).copy() if grammar else None
        table = dry_breakers(self.engine, breakers) if breakers is not None else None
        return StepExtras(step_index, grammar, allowed, breakers, table)

    def shared_logits(self, step_index: int) -> np.ndarray:
        """Step `step_index`'s logits, read-only: the cached array itself for recent steps (no copy
        per token for the window), else a re-decoded copy."""
        cached = self._logits.get(step_index)
        return cached if cached is not None else self.raw_logits(step_index)

    def generate(self, settings: SamplerSettings, max_tokens: int, ignore_eos: bool = False,
                 on_step: Callable[[Step], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 stop_sequences: tuple[str, ...] = ()) -> list[Step]:
        """Up to max_tokens steps; stops at an end-of-generation token unless ignore_eos, at the
        first token that completes one of `stop_sequences` (it is kept), and at the end of the
        context. `on_step` gets every step in order, at most TRACE_BATCH steps late (their traces
        are filled in a batch at a time)."""
        made: list[Step] = []
        reported = 0
        watcher = StopWatcher(stop_sequences, self._record.text) if stop_sequences else None
        if stop_sequences:
            self._record.stop_sequences = list(watcher.stops)  # type: ignore[union-attr]
        try:
            for _ in range(max_tokens):
                if (should_stop is not None and should_stop()) or self.engine.n_past >= self.engine.n_ctx:
                    break
                step = self.step_untraced(settings)
                made.append(step)
                if not ignore_eos and self.is_end(step):
                    break
                if watcher is not None and watcher.feed(step.text) is not None:
                    break
                if len(self._untraced) >= TRACE_BATCH:
                    reported = self._report(made, reported, on_step)
        finally:  # the steps made before an error are reported too
            self._report(made, reported, on_step)
        return made

    def _report(self, made: list[Step], reported: int,
                on_step: Callable[[Step], None] | None) -> int:
        try:
            self.complete_traces()
        finally:  # after a failure, the steps that kept their place (and got a trace) still count
            if on_step is not None:
                for step in made[reported:]:
                    if step.trace is not None:
                        on_step(step)
        return len(made)

    def close(self) -> None:
        try:
            self.complete_traces()
        finally:
            self._pool.shutdown(wait=True)
            self._inputs.close()
