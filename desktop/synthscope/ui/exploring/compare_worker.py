"""The compare window's own thread: one Engine per column, one token per column per round, queued out."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from synthscope.engine import (ConfigError, Engine, EngineError, LoadCancelled, ModelLoadError,
                               default_model_path, gemma_model_path, open_engine, preferred_config)
from synthscope.engine.chat import format_chat
from synthscope.engine.discovery import FoundModel, discover
from synthscope.sampling import SamplerSettings
from synthscope.session import Generator, Step

log = logging.getLogger(__name__)
COMPARE_CONTEXT = 2048  # tokens each column's engine holds: a prompt and a few hundred tokens
TOP_N = 5  # the compare window only needs the chosen token's chance: keep the traces small
SEND_SECONDS = 0.03  # tokens reach the window in batches this often (it redraws at ~30 Hz anyway)
IDLE = -1  # `live` when nothing should run


@dataclass(frozen=True)
class ColumnJob:
    column: int
    model_path: Path
    probe: bool  # open in the crash-proof child first (files the person chose)
    seed: int
    settings: SamplerSettings


@dataclass(frozen=True)
class CompareRequest:
    generation: int
    prompt: str
    max_tokens: int
    jobs: tuple[ColumnJob, ...]
    messages: tuple[dict[str, str], ...] | None = None  # a chat: each model formats it in its template
    # The main window's Performance choices (memory of the text, attention, threads): with the same
    # settings and seed, column 1 then writes what the main window wrote.
    engine: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class TokenMessage:
    """One generated token, copied out of the worker."""

    column: int
    index: int
    token_id: int
    text: str  # what it adds to the run's text ("" for half a character)
    label: str  # the token's own text, for words on screen
    p_raw: float  # the model's chance for it, before the samplers
    is_end: bool  # the model's end-of-text token


@dataclass(frozen=True)
class Batch:
    tokens: tuple[TokenMessage, ...]
    ended: tuple[tuple[int, str], ...]  # (column, "end" | "limit" | "context" | "error"), after its tokens


def trusted(path: Path | str) -> bool:
    """The models installed from PyPI skip the child-process check; every other file gets it."""
    try:
        shipped = [default_model_path(), gemma_model_path()]
    except (ModelLoadError, OSError):
        return False
    return any(Path(path).resolve() == model.resolve() for model in shipped if model is not None)


class CompareWorker(QObject):
    """Lives in its own QThread; owns every Engine it loads until release()."""

    modelsFound = Signal(object)  # list[FoundModel] that can be opened
    loading = Signal(int, str)  # generation, what is being loaded, in words
    started = Signal(int)  # every column has read the prompt
    stepped = Signal(int, object)  # generation, Batch
    failed = Signal(int, str)
    finished = Signal(int, str)  # generation, "done" | "stopped" | "error"

    def __init__(self) -> None:
        super().__init__()
        # Set from the UI thread, read between tokens: a run goes on only while it is the live one.
        self.live = IDLE
        self.closing = threading.Event()
        self._pool: dict[str, list[tuple[Engine, Generator]]] = {}

    def _stale(self, generation: int) -> bool:
        return self.closing.is_set() or self.live != generation

    @Slot()
    def find_models(self) -> None:
        try:
            found = [model for model in discover() if model.error is None]
        except Exception:  # a scan that fails leaves the chooser with the current model only
            log.exception("looking for models failed")
            found = []
        self.modelsFound.emit(found)

    @Slot(object)
    def run(self, request: CompareRequest) -> None:
        generation = request.generation
        reason = "error"
        try:
            reason = self._run(request)
        except LoadCancelled:
            reason = "stopped"
        except (EngineError, ModelLoadError, ConfigError) as exc:
            self.failed.emit(generation, str(exc))
        except OSError as exc:
            self.failed.emit(generation, f"A model file could not be opened: {exc.strerror or exc}.")
        except Exception as exc:  # a bug must not leave the window running for ever
            log.exception("comparing failed")
            self.failed.emit(generation, f"The comparison stopped because of an unexpected problem: {exc}")
        self.finished.emit(generation, reason)

    def _run(self, request: CompareRequest) -> str:
        generation = request.generation
        if self._stale(generation):
            return "stopped"
        generators = self._generators(request)
        if generators is None:
            return "stopped"
        for job, generator in zip(request.jobs, generators):
            prompt = request.prompt
            if request.messages is not None:
                prompt = format_chat(generator.engine, list(request.messages))
            generator.start(prompt, seed=job.seed)
        self.started.emit(generation)
        active = list(range(len(request.jobs)))
        made: list[tuple[ColumnJob, Generator, int, Step, bool]] = []
        ended: list[tuple[int, str]] = []
        last_sent = time.perf_counter()
        try:
            while active:
                for slot in list(active):
                    if self._stale(generation):
                        return "stopped"
                    job, generator = request.jobs[slot], generators[slot]
                    why = self._step(generation, job, generator, request.max_tokens, made)
                    if why is not None:
                        active.remove(slot)
                        ended.append((job.column, why))
                if time.perf_counter() - last_sent >= SEND_SECONDS:
                    self._send(generation, made, ended)
                    last_sent = time.perf_counter()
            return "done"
        finally:
            self._send(generation, made, ended)

    def _step(self, generation: int, job: ColumnJob, generator: Generator, max_tokens: int,
              made: list[tuple[ColumnJob, Generator, int, Step, bool]]) -> str | None:
        """One token for one column; why the column has ended, or None."""
        if generator.n_steps >= max_tokens:
            return "limit"
        if generator.engine.n_past >= generator.engine.n_ctx:
            return "context"
        try:
            step = generator.step_untraced(job.settings)
        except EngineError as exc:
            self.failed.emit(generation, f"Column {job.column + 1}: {exc}")
            return "error"
        is_end = generator.is_end(step)
        made.append((job, generator, generator.n_steps - 1, step, is_end))
        if is_end:
            return "end"
        return "limit" if generator.n_steps >= max_tokens else None

    def _send(self, generation: int, made: list[tuple[ColumnJob, Generator, int, Step, bool]],
              ended: list[tuple[int, str]]) -> None:
        """Fill in the traces of the steps made since the last call (a batch at a time is cheaper)
        and send them out with the columns that ended after them."""
        try:
            for generator in {id(g): g for _, g, _, _, _ in made}.values():
                generator.complete_traces()
            tokens = tuple(
                TokenMessage(job.column, index, step.token_id, step.text,
                             generator.engine.token_text(step.token_id), float(step.trace.chosen_p_raw),
                             is_end)
                for job, generator, index, step, is_end in made)
            if tokens or ended:
                self.stepped.emit(generation, Batch(tokens, tuple(ended)))
        finally:
            made.clear()
            ended.clear()

    def _generators(self, request: CompareRequest) -> list[Generator] | None:
        """One generator on an engine of its own per column; engines are loaded once and kept for
        the window's life (an Engine has one text memory, so two columns cannot share one)."""
        generation = request.generation
        taken: dict[str, int] = {}
        out: list[Generator] = []
        for job in request.jobs:
            key = str(job.model_path)
            slot = taken.get(key, 0)
            taken[key] = slot + 1
            kept = self._pool.setdefault(key, [])
            if slot >= len(kept):
                self.loading.emit(generation, f"Loading {job.model_path.name} for column {job.column + 1}…")
                engine = open_engine(job.model_path, progress=lambda _f: not self._stale(generation),
                                     n_ctx=COMPARE_CONTEXT, config=preferred_config(**request.engine),
                                     probe=job.probe)
                kept.append((engine, Generator(engine, top_n=TOP_N, logits_budget=0)))  # no what-if here
                if self._stale(generation):
                    return None
            out.append(kept[slot][1])
        return out

    def engine_count(self) -> int:
        """How many engines are loaded (read while the thread is idle or has ended)."""
        return sum(len(kept) for kept in self._pool.values())

    def release(self) -> None:
        """Close every generator and engine (from the UI thread once this thread has ended)."""
        for kept in self._pool.values():
            for engine, generator in kept:
                generator.close()
                engine.close()
        self._pool.clear()


class CompareHandle(QObject):
    """Owned by the UI thread: starts the thread, queues runs, and shuts everything down."""

    _run = Signal(object)
    _find = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("synthscope-compare")
        self.worker = CompareWorker()
        self.worker.moveToThread(self.worker_thread)
        self._run.connect(self.worker.run)
        self._find.connect(self.worker.find_models)
        app = QCoreApplication.instance()
        if app is not None:  # a window its parent deleted never sees closeEvent: end the thread at exit
            app.aboutToQuit.connect(self.shutdown)
        self.worker_thread.start()

    def find_models(self) -> None:
        self._find.emit()

    def run(self, request: CompareRequest) -> None:
        self.worker.live = request.generation  # an older run sees this and stops at its next token
        self._run.emit(request)

    def stop(self) -> None:
        self.worker.live = IDLE

    def shutdown(self) -> None:
        """Stop after the current token, end the thread, then free llama.cpp from this thread."""
        if not self.worker_thread.isRunning():
            return
        self.worker.closing.set()
        self.worker.live = IDLE
        self.worker_thread.quit()
        self.worker_thread.wait()
        self.worker.release()


__all__ = ["Batch", "ColumnJob", "CompareHandle", "CompareRequest", "CompareWorker", "FoundModel",
           "TokenMessage", "trusted"]
