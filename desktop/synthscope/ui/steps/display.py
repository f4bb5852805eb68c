"""Which step the panels show, what-if re-sampling, and the coalesced refresh of the text and the
panels while word pieces stream."""
from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QObject, QPoint, QTimer, Signal
from PySide6.QtWidgets import QLabel

from synthscope.session import Step
from synthscope.session.requests import StepMessage
from synthscope.session.workspace import Workspace
from synthscope.ui import theme
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.steps.hover_card import HoverCard
from synthscope.ui.steps.inspector import Inspector
from synthscope.ui.steps.text_view import Piece, TokenTextView
from synthscope.ui.worker.handle import WorkerHandle
from synthscope.ui.wording import token_name


class StepDisplay(QObject):
    """The text and the step panels follow the document: the selected step (None follows the
    newest), a what-if when the settings differ from the step's own, and at most ~30 redraws a
    second however fast word pieces come."""

    refreshed = Signal()  # after every refresh of the step panels
    forgotten = Signal()  # the run was forgotten: its text is the next prompt

    def __init__(self, doc: Workspace, editor: TokenTextView, inspector: Inspector, controls: ControlsPanel,
                 card: HoverCard, speed_label: QLabel, handle: WorkerHandle,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.editor, self.inspector, self.controls = doc, editor, inspector, controls
        self.card, self.speed_label, self.handle = card, speed_label, handle
        self.pending: list[Piece] = []  # word pieces that reached the window since the last refresh
        self.panels_shown_at = 0.0  # perf_counter() of the last step-panel refresh
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setSingleShot(True)
        self.refresh_timer.setInterval(theme.REFRESH_MS)
        self.refresh_timer.timeout.connect(self.flush)
        inspector.set_token_text(self.token_text)
        card.token_text = self.token_text

    def token_text(self, token: int) -> str:
        return token_name(self.doc.model, token)

    # -- the step on show -------------------------------------------------------------------
    def select_step(self, index: int | None) -> None:
        self.doc.select(index)
        if self.doc.state != "running":
            self.refresh_panels()

    def shown_index(self) -> int | None:
        return self.doc.shown_index()

    def refresh_panels(self) -> None:
        doc = self.doc
        index = doc.shown_index()
        self.editor.set_selected(index)
        shown = doc.shown_step(self.controls.settings())
        if shown is None:
            if doc.state not in ("no-model", "loading"):  # keep their own message
                self.inspector.clear()
        else:
            if shown.fetch:
                self.handle.fetch_logits(shown.recorded.index)
            self.inspector.show(shown.view, shown.recorded, len(doc.mirror), shown.fetching)
        self.refreshed.emit()

    def logits_ready(self, index: int, logits: np.ndarray) -> None:
        if self.doc.logits_arrived(index, logits):
            self.schedule()

    def settings_changed(self) -> None:
        self.handle.set_live_settings(self.controls.settings())  # a running generation uses them next
        if self.doc.state != "running":
            self.schedule()

    def back_to_run(self) -> None:
        index = self.doc.shown_index()
        if index is not None:
            self.controls.set_settings(self.doc.mirror.steps[index].settings)

    def hovered(self, index: int, where: QPoint) -> None:
        if index < len(self.doc.mirror):
            self.card.show_for(self.doc.mirror.recorded(index), where)

    # -- the text ---------------------------------------------------------------------------
    def receive(self, messages: list[StepMessage]) -> None:
        """Word pieces from the worker: kept at once, shown at the next refresh."""
        mirror = self.doc.mirror
        for message in messages:
            mirror.append(message.step, message.logits)
            self.pending.append(Piece(message.step.text, message.step.trace.chosen_p_raw, message.is_end))
        self.schedule()

    def show_path(self, steps: list[Step]) -> None:
        """The text and the panels show `steps` (the worker follows them already)."""
        ends = self.doc.end_tokens
        self.doc.show_path(steps)
        self.pending.clear()
        self.editor.clear_generated()
        self.editor.append_tokens([Piece(s.text, s.trace.chosen_p_raw, s.token_id in ends) for s in steps])

    def remove_last(self, count: int) -> None:
        """The run lost its last `count` steps (an undo, or a branch cut it)."""
        for _ in range(count):
            self.doc.mirror.pop()
        self.editor.remove_last_tokens(count)

    def forget(self) -> None:
        """No run any more: the text as it stands is the next run's prompt."""
        self.doc.forget_run(self.editor.prompt_text())
        self.pending.clear()
        self.forgotten.emit()

    # -- refreshing -------------------------------------------------------------------------
    def schedule(self) -> None:
        if not self.refresh_timer.isActive():
            self.refresh_timer.start(theme.RUN_TEXT_MS if self.doc.state == "running" else theme.REFRESH_MS)

    def flush(self) -> None:
        """Coalesced view update: new text in one edit, the panels once, however many tokens came."""
        self.refresh_timer.stop()
        if self.pending:
            self.editor.append_tokens(self.pending)
            self.pending = []
        now, running = time.perf_counter(), self.doc.state == "running"
        if not running or now - self.panels_shown_at >= theme.RUN_PANELS_MS / 1000:
            self.panels_shown_at = now
            self.refresh_panels()
        else:
            self.refresh_timer.start(theme.RUN_TEXT_MS)  # the panels catch up within RUN_PANELS_MS
        start, before = self.doc.run_clock
        total = len(self.doc.mirror)
        made, seconds = total - before, time.perf_counter() - start
        if running and made > 1 and seconds > 0:
            self.speed_label.setText(f"{total} word pieces · {made / seconds:.0f} per second")
        else:
            self.speed_label.setText(f"{total} word pieces" if total else "")
