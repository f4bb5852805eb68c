"""The engine worker: it owns the Engine and the Generator in a thread of its own and answers only
through signals, with copied data."""
from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from synthscope.engine import (ConfigError, Engine, EngineError, LoadCancelled, ModelLoadError,
                               machine_choice, open_engine, preferred_config, remembered_choice)
from synthscope.engine.chat import format_chat
from synthscope.engine.model import DEFAULT_CONTEXT
from synthscope.engine.server_http import ServerCancelled, ServerError
from synthscope.sampling import BrokenLogits, SamplerSettings
from synthscope.session import Generator, RunRecord, Step
from synthscope.session.exploration_io import save_exploration
from synthscope.session.futures import FUTURES_STOPPED, futures_from_run
from synthscope.session.json_io import unsaved_words
from synthscope.session.stopping import StopWatcher
from synthscope.ui import theme
from synthscope.session.requests import (FuturesRequest, LoadedModel, RunRequest, RunStarted, ServerChoice,
                                        StepBatch, device_name)
from synthscope.session.served import ServerLink, batch_heads, served_config

log = logging.getLogger(__name__)
TOP_N = 20
TALLY_TEXTS = 40  # of the futures' tally, the rows whose texts a server is asked for
VOCAB_SHARE = 0.1  # of the progress bar, for reading the vocabulary after the weights
# Steps reach the window in batches a little further apart than it redraws the text while a run
# streams, so each batch is shown as it arrives: one wake-up of the window's thread per batch (each
# one takes a core from llama.cpp), and traces filled in a batch at a time (cheaper per step).
SEND_SECONDS = theme.RUN_TEXT_MS * 1.1 / 1000
# During a run an autosave waits until this many times its last cost has passed since it, so a long
# session (1,000 steps: 8 MB, 0.34 s to write) takes at most a tenth of the writing time.
AUTOSAVE_SHARE = 10
SERVER_TIMEOUT = 60.0  # seconds per request: a whole 262k vocabulary's step takes seconds, a cold prompt more
NOT_SERVED = "{what} works only with a model opened in Synthscope, not through a model server: open its file."


class EngineWorker(QObject):
    """Lives in its own QThread. Slots run there; results go out as queued signals with copied data."""

    loadProgress = Signal(float)
    checking = Signal()  # the first load on this computer checks which configuration runs safely
    loaded = Signal(object)  # LoadedModel
    loadFailed = Signal(str)
    runStarted = Signal(object)  # RunStarted
    stepped = Signal(object)  # StepBatch: the steps made since the last one, in order
    runFinished = Signal(str)  # "limit", "end", "stopped", "stop-sequence" or "error"
    stopSequenceMet = Signal(str)  # which one, just before runFinished("stop-sequence")
    undone = Signal(int)  # steps left
    truncated = Signal(int)  # a branch starts: the run was cut to this many steps
    followed = Signal(int)  # the run now follows the path it was given (its length)
    proposed = Signal(object)  # (index, Step) the dice would write next, not written (manual mode)
    logitsReady = Signal(int, object)
    extrasReady = Signal(object)  # StepExtras: what a what-if asked for besides the logits
    futuresProgress = Signal(int, int)  # depth done, depth in all
    futuresReady = Signal(object)  # (FuturesRequest, Futures)
    futuresFailed = Signal(str)
    failed = Signal(str)
    saved = Signal(str)
    piecesLearned = Signal(object)  # {token: text} newly asked of a server, before what names them

    def __init__(self) -> None:
        super().__init__()
        self.engine: Engine | None = None
        self.generator: Generator | None = None
        # Set from the UI thread and read between tokens: this is how Stop and Close reach a busy loop.
        self.stop_event = threading.Event()
        self.futures_stop = threading.Event()  # Stop in the futures window: set from the UI thread
        self.closing = threading.Event()
        self.live_settings = SamplerSettings()  # replaced whole (never mutated), so reads are safe
        self.live_threads: int | None = None  # None: the count measured fastest
        # (path, snapshot) of the latest autosave asked for: written between tokens or when idle.
        self.pending_autosave: tuple[str, object] | None = None
        self.autosaved_at = 0.0  # perf_counter() when the last autosave ended
        self.autosave_cost = 0.0  # seconds it took
        self.link = ServerLink(self.closing, SERVER_TIMEOUT)  # a model server's requests, and breaking them off
        self.futures_running = threading.Event()  # Stop in the futures window interrupts only then

    # -- model ------------------------------------------------------------------------------
    @Slot(str, bool, object)
    def load(self, path: str, probe: bool, preferences: dict[str, object]) -> None:
        self.release()

        def progress(fraction: float) -> bool:
            self.loadProgress.emit(fraction * (1 - VOCAB_SHARE))
            return not self.closing.is_set()

        try:
            if remembered_choice() is None:
                self.checking.emit()
            wanted = dict(preferences)
            n_ctx = int(wanted.pop("context", DEFAULT_CONTEXT))  # type: ignore[call-overload]
            config = preferred_config(**wanted, probe_path=Path(path))  # type: ignore[arg-type]
            engine = open_engine(path, progress=progress, probe=probe, config=config, n_ctx=n_ctx)
        except LoadCancelled:
            return
        except (ModelLoadError, ConfigError) as exc:
            self.loadFailed.emit(str(exc))
            return
        except (EngineError, OSError, ValueError) as exc:
            self.loadFailed.emit(f"{Path(path).name} could not be opened: {exc}")
            return
        except Exception as exc:  # a bug must not leave the window loading for ever
            log.exception("loading failed")
            self.loadFailed.emit(f"{Path(path).name} could not be opened because of an unexpected "
                                 f"problem: {exc}")
            return
        texts = engine.vocabulary(lambda done: self.loadProgress.emit(1 - VOCAB_SHARE + VOCAB_SHARE * done),
                                  self.closing.is_set)  # a large vocabulary takes a while: closing does not wait
        if texts is None:
            engine.close()
            return
        vocab, ends = texts
        self.engine = engine
        self.generator = Generator(engine, top_n=TOP_N)
        self.loadProgress.emit(1.0)
        self.loaded.emit(LoadedModel(Path(path), engine.facts, tuple(vocab), engine.config, engine.note,
                                     device_name(engine.config), engine.n_ctx, frozenset(ends)))

    @Slot(object, int)
    def connect_server(self, choice: ServerChoice, n_ctx: int) -> None:
        """Compute with a model server instead of a model file (Synthscope's own samplers and dice)."""
        self.link.fresh()
        self.release()
        try:
            engine, vocab, ends = self.link.connect(choice, n_ctx, self.loadProgress.emit)
        except ServerCancelled:
            if not self.closing.is_set():
                self.loadFailed.emit(f"Connecting to the model server at {choice.url} was stopped.")
            return
        except (ServerError, EngineError) as exc:
            self.loadFailed.emit(str(exc))
            return
        except Exception as exc:  # a bug must not leave the window connecting for ever
            log.exception("connecting failed")
            self.loadFailed.emit(f"The model server at {choice.url} could not be used because of an "
                                 f"unexpected problem: {exc}")
            return
        self.engine = engine  # type: ignore[assignment]
        self.generator = Generator(engine, top_n=TOP_N)  # type: ignore[arg-type]
        self.loadProgress.emit(1.0)
        self.loaded.emit(LoadedModel(None, engine.facts, vocab, engine.config, engine.note,
                                     f"the model server at {engine.config.server}", engine.n_ctx,
                                     frozenset(ends)))

    def interrupt(self) -> None:
        """From the UI thread: break off a model server's request in flight (Stop, Close)."""
        self.link.interrupt()

    def release(self) -> None:
        """Close the generator and engine (also called by the UI thread once this thread has ended)."""
        if self.generator is not None:
            with suppress(ServerError):  # the last steps' texts could not be asked of a server gone: they go too
                self.generator.close()
            self.generator = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        self.link.client = None

    # -- generation -------------------------------------------------------------------------
    @Slot(object)
    def run(self, request: RunRequest) -> None:
        self.link.fresh()
        generator = self.generator
        if generator is None:
            self.failed.emit("No model is loaded yet. Open one with File > Open model….")
            self.runFinished.emit("error")
            return
        reason = "error"
        with self._reported("Generation"):
            reason = self._generate(generator, request)
        self.runFinished.emit(reason)

    def _generate(self, generator: Generator, request: RunRequest) -> str:
        served = served_config(generator.engine) is not None
        machine_threads = None if served else machine_choice().config.threads  # known in this process
        threads = None if served else self.live_threads or machine_threads
        if threads != generator.engine.config.threads:
            generator.engine.set_threads(threads)  # before start(), which records the configuration
        prompt = request.prompt
        if request.messages is not None:
            prompt = format_chat(generator.engine, list(request.messages))
        if prompt is not None:
            generator.start(prompt, seed=request.seed)
            record = generator.record
            record.stop_sequences = list(request.stop_sequences)
            self.runStarted.emit(RunStarted(record.prompt, np.array(record.prompt_tokens, dtype=np.int32),
                                            record.seed))
        forced: list[int | None] = [None]
        if request.fork is not None:
            index, first = request.fork
            forced = [first, *request.then]
            generator.truncate(index)
            self.truncated.emit(index)
        made: list[tuple[int, Step, bool]] = []
        last_sent = time.perf_counter()
        watcher = (StopWatcher(request.stop_sequences, generator.record.text)
                   if request.stop_sequences else None)
        try:
            for _ in range(request.max_tokens):
                if self.stop_event.is_set() or self.closing.is_set():
                    return "stopped"
                threads = None if served else self.live_threads or machine_threads
                if threads != generator.engine.config.threads:
                    generator.engine.set_threads(threads)
                step = generator.step_untraced(self.live_settings, forced.pop(0) if forced else None)
                is_end = generator.is_end(step)
                made.append((generator.n_steps - 1, step, is_end))
                if is_end and not request.ignore_end:
                    return "end"
                met = watcher.feed(step.text) if watcher is not None else None
                if met is not None:
                    self.stopSequenceMet.emit(met)
                    return "stop-sequence"
                if time.perf_counter() - last_sent >= SEND_SECONDS:
                    self._send(generator, made)
                    last_sent = time.perf_counter()
                    waited = time.perf_counter() - self.autosaved_at
                    if self.pending_autosave is not None and waited >= AUTOSAVE_SHARE * self.autosave_cost:
                        self.autosave()
            return "limit"
        except ServerCancelled:
            self.link.fresh()  # the steps made so far go out; the texts they name may still be asked
            return "stopped"
        finally:
            try:
                self._send(generator, made)
            except ServerCancelled:  # a second Stop while those texts were asked: those steps were taken back
                pass

    def _send(self, generator: Generator, made: list[tuple[int, Step, bool]]) -> None:
        """Fill in the traces of the steps made since the last call (a batch costs about half as
        much as one at a time) and send them out, in order."""
        try:
            generator.complete_traces()  # on an error it takes its steps back: none go out
            if made:
                pieces: dict[int, str] = {}
                if served_config(generator.engine) is not None:  # each step gets its head before it goes out
                    pieces = batch_heads(generator.engine, generator.record,  # type: ignore[arg-type]
                                         [index for index, _, _ in made], self.link.sent_pieces)
                self.stepped.emit(StepBatch.of(made[0][0], [step for _, step, _ in made],
                                               [generator.shared_logits(index) for index, _, _ in made],
                                               [is_end for _, _, is_end in made], pieces))
        finally:
            made.clear()

    @Slot()
    def undo(self) -> None:
        with self._reported("Undo"):
            if self.generator is not None:
                self.generator.undo()
        self.undone.emit(self.generator.n_steps if self.generator else 0)  # always: the window waits

    @Slot(object)
    def follow(self, steps: list[Step]) -> None:
        """Make the run follow another path of the exploration (re-decoded where it differs)."""
        self.link.fresh()
        with self._reported("Switching branch"):
            if self.generator is not None:
                self.generator.follow(steps)
        self.followed.emit(self.generator.n_steps if self.generator else 0)  # always: the window waits

    @Slot(object)
    def restore(self, session: object) -> None:
        """Start the run of an opened session and follow its current path."""
        self.link.fresh()
        prompt, seed, steps, pieces = session  # type: ignore[misc]
        with self._reported("Opening the session"):
            if self.generator is not None:
                self.generator.start(prompt, seed=seed)
                self.generator.record.pieces.update(pieces)
                record = self.generator.record
                self.runStarted.emit(RunStarted(record.prompt, np.array(record.prompt_tokens, dtype=np.int32),
                                                record.seed))
                self.generator.follow(steps)
        self.followed.emit(self.generator.n_steps if self.generator else 0)

    @Slot(object)
    def peek(self, settings: SamplerSettings) -> None:
        """What the dice would write next, for a person to accept or overrule (nothing is decoded)."""
        self.link.fresh()
        with self._reported("Looking ahead"):
            if self.generator is not None and self.generator.record.prompt_tokens:
                step = self.generator.peek(settings)
                self._learned([step.token_id, *step.trace.candidates["token_id"].tolist()])
                self.proposed.emit((self.generator.n_steps, step))

    @Slot(int)
    def fetch_logits(self, index: int) -> None:
        self.link.fresh()
        if self.generator is None or not 0 <= index < self.generator.n_steps:
            return
        with self._reported("Fetching the scores"):
            self.logitsReady.emit(index, self.generator.raw_logits(index))

    @Slot(int, str, object)
    def fetch_extras(self, index: int, grammar: str, breakers: tuple[str, ...] | None) -> None:
        self.link.fresh()
        if self.generator is None or not 0 <= index < self.generator.n_steps:
            return
        with self._reported("Checking the grammar" if grammar else "Preparing DRY"):
            if served_config(self.generator.engine) is not None:
                raise EngineError(NOT_SERVED.format(what="A grammar" if grammar else "DRY"))
            self.extrasReady.emit(self.generator.extras(index, grammar, breakers))

    @Slot(object)
    def write_futures(self, request: FuturesRequest) -> None:
        """Many futures from step `request.index` of the run (its own logits there, exactly)."""
        self.link.fresh()
        generator = self.generator
        if generator is None or not 0 <= request.index <= generator.n_steps:
            self.futuresFailed.emit("There is no text to write futures from yet.")
            return
        self.futures_running.set()
        try:
            with self._reported("Writing the futures", self.futuresFailed.emit, FUTURES_STOPPED):
                futures = futures_from_run(generator, request.index, request.settings, request.n, request.depth,
                                           request.seed, progress=self.futuresProgress.emit,
                                           should_stop=lambda: self.futures_stop.is_set() or self.closing.is_set())
                self._learned([t for future in futures.continuations for t in future.token_ids]
                              + [token for token, _, _ in futures.tally()[:TALLY_TEXTS]])
                self.futuresReady.emit((request, futures))
        finally:
            self.futures_running.clear()

    def _learned(self, tokens: list[int]) -> None:
        """Through a server that names word pieces only by text: send the window those it lacks."""
        if self.generator is not None and (pieces := self.link.texts_to_send(self.generator.engine, tokens)):
            self.piecesLearned.emit(pieces)

    @contextmanager
    def _reported(self, doing: str, say: Callable[[str], None] | None = None, stopped: str = "") -> Iterator[None]:
        """Say an error in words (through `say`, else `failed`); never let a bug kill the thread (it is
        logged in full). A Stop or Close that broke off a server's request is no error (`stopped` says so)."""
        say = say or self.failed.emit
        try:
            yield
        except ServerCancelled:
            if stopped:
                say(stopped)
        except (EngineError, BrokenLogits, ServerError) as exc:
            say(str(exc))
        except Exception as exc:
            log.exception("%s failed", doing)
            say(f"{doing} stopped because of an unexpected problem: {exc}")

    @Slot()
    def autosave(self) -> None:
        """Write the latest autosave asked for, if any (a newer request replaces an older one)."""
        pending, self.pending_autosave = self.pending_autosave, None
        if pending is not None:
            started = time.perf_counter()
            path, snapshot = pending
            if snapshot is None:  # nothing to keep: the window shows no run
                Path(path).unlink(missing_ok=True)
            else:
                self.save(path, snapshot, True)
            self.autosaved_at = time.perf_counter()
            self.autosave_cost = self.autosaved_at - started

    @Slot(str, object, bool)
    def save(self, path: str, snapshot: object, quiet: bool) -> None:
        """Write the session: the run's facts from here, the branches from the window's snapshot
        (Exploration without its record). `quiet`: an autosave, which says nothing on success."""
        try:
            record: RunRecord | None = self.generator.record if self.generator else None
        except ServerError:  # the texts of the last steps could not be asked (closing): those steps are left out
            record = self.generator.record if self.generator else None
        if record is None or not record.prompt_tokens:
            if not quiet:
                self.failed.emit("There is no run to save yet.")
            return
        with self._reported("Saving the session"):
            try:
                exploration = dataclasses.replace(snapshot, record=record)  # type: ignore[type-var]
                save_exploration(exploration, path)
            except OSError as exc:
                self.failed.emit(unsaved_words(path, exc, automatic=quiet))
            else:
                if not quiet:
                    self.saved.emit(path)
