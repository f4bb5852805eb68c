"""The window's side of many futures: opens the futures window for the step on show, passes its
requests to the engine worker and the worker's answers back, and takes a future into the text."""
from __future__ import annotations

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QWidget

from synthscope.session.futures import Futures
from synthscope.session.requests import FuturesRequest
from synthscope.session.workspace import Workspace
from synthscope.ui.exploring.branching import Branching
from synthscope.ui.exploring.futures_window import FuturesWindow
from synthscope.ui.frame.notices import Notices
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.wording import elide, readable
from synthscope.ui.worker.handle import WorkerHandle


class FuturesPart(QObject):
    """One futures window at a time; a newer one replaces the older."""

    def __init__(self, window: QWidget, doc: Workspace, controls: ControlsPanel, handle: WorkerHandle,
                 steps: StepDisplay, branching: Branching, notices: Notices) -> None:
        super().__init__(window)
        self.window, self.doc, self.controls, self.handle = window, doc, controls, handle
        self.steps, self.branching, self.notices = steps, branching, notices
        self.futures_window: FuturesWindow | None = None
        worker = handle.worker
        worker.futuresProgress.connect(self.progress)
        worker.futuresReady.connect(self.ready)
        worker.futuresFailed.connect(self.failed)

    def open(self) -> FuturesWindow | None:
        """Futures from the step on show (after the end of the text when none is selected)."""
        doc = self.doc
        if doc.model is None or doc.state != "idle":
            self.notices.say("Futures can be written when the model is loaded and not writing.", 6000)
            return None
        if not len(doc.mirror):
            self.notices.problem("Write some text first (Generate or Step): the futures start from it.")
            return None
        index = len(doc.mirror) if doc.selected is None else doc.selected
        before = "".join(step.text for step in doc.mirror.steps[max(0, index - 8):index])
        start = f"after ‘…{elide(readable(before[-40:]), 44)}’" if before else "after the prompt"
        if self.futures_window is not None:
            self.futures_window.close()
        window = FuturesWindow(index, start, self.controls.settings(), self.controls.seed(),
                               self.steps.token_text, self._text, self.window)
        window.set_served(doc.model.server is not None)
        window.writeRequested.connect(self.handle.write_futures)
        window.stopRequested.connect(self.handle.stop_futures)
        window.branchRequested.connect(self.take)
        window.show()
        self.futures_window = window
        return window

    def _text(self, tokens: list[int]) -> str:
        return "".join(self.steps.token_text(token) for token in tokens)

    @Slot(int, int)
    def progress(self, done: int, total: int) -> None:
        if self.futures_window is not None:
            self.futures_window.show_progress(done, total)

    @Slot(object)
    def ready(self, answer: tuple[FuturesRequest, Futures]) -> None:
        request, futures = answer
        window = self.futures_window
        if window is not None and window.isVisible() and request.index == window.index:
            window.show_futures(futures)

    @Slot(str)
    def failed(self, message: str) -> None:
        if self.futures_window is not None:
            self.futures_window.failed(message)

    def take(self, index: int, tokens: tuple[int, ...]) -> None:
        if self.doc.state != "idle":
            self.notices.say("Wait until the model has finished writing, then take the future.", 6000)
            return
        self.branching.branch_future(index, tuple(tokens))

    def close_all(self) -> None:
        if self.futures_window is not None:
            self.futures_window.close()
