"""The autosave: the exploration written to the cache folder within AUTOSAVE_MS of every change, so a
crash or a kill loses at most that much, and put back at the next start."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer

from synthscope.engine.machine import user_cache_dir
from synthscope.session.chat import ChatState
from synthscope.session.exploration_io import Exploration
from synthscope.session.workspace import Workspace
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.worker.handle import WorkerHandle

AUTOSAVE_MS = 2000  # the most a kill can lose
AUTOSAVE_NAME = "autosave-session.json"


def autosave_path() -> Path:
    return user_cache_dir() / AUTOSAVE_NAME


class Autosave(QObject):
    """Off until `enabled` (the real app turns it on; tests open windows without it)."""

    def __init__(self, doc: Workspace, chat: ChatState, controls: ControlsPanel, handle: WorkerHandle,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.chat, self.controls, self.handle = doc, chat, controls, handle
        self.enabled = False
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(AUTOSAVE_MS)
        self.timer.timeout.connect(self.now)

    def snapshot(self) -> Exploration | None:
        return self.doc.snapshot(self.controls.settings(), self.chat.conversation)

    def schedule(self) -> None:
        """At most AUTOSAVE_MS after a change (never postponed by more changes)."""
        if self.enabled and not self.timer.isActive():
            self.timer.start()

    def now(self) -> None:
        doc = self.doc
        if self.enabled and doc.model is not None and doc.opening is None and doc.waiting is None:
            self.handle.autosave(str(autosave_path()), self.snapshot())

    def last(self) -> None:
        """The window closes: the worker writes one last autosave once it has stopped."""
        self.timer.stop()
        if self.enabled and self.doc.model is not None and self.doc.state not in ("busy", "loading"):
            self.handle.keep_for_shutdown(str(autosave_path()), self.snapshot())
