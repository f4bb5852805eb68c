"""The window's side of the engine worker: it starts the thread, queues requests, and shuts it down."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, Signal

from synthscope.sampling import SamplerSettings
from synthscope.session import Step
from synthscope.session.requests import RunRequest, ServerChoice
from synthscope.ui.worker.engine_worker import EngineWorker


class WorkerHandle(QObject):
    """Owned by the UI thread: starts the thread, queues requests, and shuts everything down."""

    _load = Signal(str, bool, object)
    _connect = Signal(object, int)
    _run = Signal(object)
    _undo = Signal()
    _fetch = Signal(int)
    _fetch_extras = Signal(int, str, object)
    _futures = Signal(object)
    _save = Signal(str, object, bool)
    _follow = Signal(object)
    _restore = Signal(object)
    _peek = Signal(object)
    _autosave = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker_thread = QThread()  # not `thread`: that would hide QObject.thread()
        self.worker_thread.setObjectName("synthscope-engine")
        self.worker = EngineWorker()
        self.worker.moveToThread(self.worker_thread)
        self._load.connect(self.worker.load)
        self._connect.connect(self.worker.connect_server)
        self._run.connect(self.worker.run)
        self._undo.connect(self.worker.undo)
        self._fetch.connect(self.worker.fetch_logits)
        self._fetch_extras.connect(self.worker.fetch_extras)
        self._futures.connect(self.worker.write_futures)
        self._save.connect(self.worker.save)
        self._follow.connect(self.worker.follow)
        self._restore.connect(self.worker.restore)
        self._peek.connect(self.worker.peek)
        self._autosave.connect(self.worker.autosave)
        self.worker_thread.start()

    def load(self, path: str | Path, probe: bool = True,
             preferences: dict[str, object] | None = None) -> None:
        self._load.emit(str(path), probe, dict(preferences or {}))

    def connect_server(self, choice: ServerChoice, n_ctx: int) -> None:
        """Compute with a model server instead of a model file."""
        self._connect.emit(choice, n_ctx)

    def set_threads(self, threads: int | None) -> None:
        """Used from the next token on, also during a run (None: the count measured fastest)."""
        self.worker.live_threads = threads

    def run(self, request: RunRequest, settings: SamplerSettings) -> None:
        self.worker.live_settings = settings
        self.worker.stop_event.clear()  # cleared here, not in the worker, so an early Stop is never lost
        self._run.emit(request)

    def set_live_settings(self, settings: SamplerSettings) -> None:
        self.worker.live_settings = settings

    def stop(self) -> None:
        self.worker.stop_event.set()
        self.worker.interrupt()  # a model server's request in flight ends now, not at its timeout

    def undo(self) -> None:
        self._undo.emit()

    def fetch_logits(self, index: int) -> None:
        self._fetch.emit(index)

    def fetch_extras(self, index: int, grammar: str, breakers: tuple[str, ...] | None) -> None:
        """A grammar's verdict at step `index` and DRY's table for `breakers`, for a what-if."""
        self._fetch_extras.emit(index, grammar, breakers)

    def write_futures(self, request: object) -> None:
        self.worker.futures_stop.clear()
        self._futures.emit(request)

    def stop_futures(self) -> None:
        self.worker.futures_stop.set()
        if self.worker.futures_running.is_set():  # through a model server: its request in flight ends now
            self.worker.interrupt()

    def save(self, path: str, snapshot: object, quiet: bool = False) -> None:
        self._save.emit(path, snapshot, quiet)

    def follow(self, steps: list[Step]) -> None:
        self._follow.emit(list(steps))

    def restore(self, prompt: str, seed: int, steps: list[Step], pieces: dict[int, bytes]) -> None:
        self._restore.emit((prompt, seed, list(steps), dict(pieces)))

    def peek(self, settings: SamplerSettings) -> None:
        self._peek.emit(settings)

    def autosave(self, path: str, snapshot: object | None) -> None:
        """Written at the worker's next chance: between two tokens of a run, or at once when idle."""
        self.worker.pending_autosave = (path, snapshot)
        self._autosave.emit()

    def keep_for_shutdown(self, path: str, snapshot: object | None) -> None:
        """An autosave written by shutdown(), once the worker has stopped (not queued before it)."""
        self.worker.pending_autosave = (path, snapshot)

    def shutdown(self) -> None:
        """Stop after the current token, end the thread, then free llama.cpp from this thread."""
        if not self.worker_thread.isRunning():
            return
        self.worker.closing.set()
        self.worker.stop_event.set()
        self.worker.interrupt()
        self.worker_thread.quit()
        self.worker_thread.wait()
        self._drop_answers()
        try:
            self.worker.autosave()  # the last one asked for, now that the worker is still
        finally:
            self.worker.release()

    def _drop_answers(self) -> None:
        """What the worker sent before it stopped and the window has not handled yet never reaches it:
        the window is closing, and a late batch or end of run would change it after it closed (queued
        calls outlive a disconnect, so they are removed from the queue)."""
        owner = self.parent()
        if owner is not None:
            for receiver in (owner, *owner.findChildren(QObject)):
                QCoreApplication.removePostedEvents(receiver, QEvent.Type.MetaCall)
