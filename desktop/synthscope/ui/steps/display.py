"""Which step the panels show, what-if re-sampling, and the coalesced refresh of the text and the
panels while word pieces stream."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QPoint, QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget

from synthscope.engine import machine_facts
from synthscope.session import Step
from synthscope.session.timeline import shade_value
from synthscope.session.requests import StepBatch
from synthscope.session.workspace import Workspace
from synthscope.ui import theme
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.steps.hover_card import HoverCard
from synthscope.ui.steps.inspector import Inspector
from synthscope.ui.steps.text_view import Piece, TokenTextView
from synthscope.ui.worker.handle import WorkerHandle
from synthscope.ui.wording import token_name


# Between two parts of one refresh while a run streams: a 0 ms timer fires once the events that
# came meanwhile (input, the next batch) are handled.
PART_GAP_MS = 0


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
        self.text_meter = RedrawMeter(theme.RUN_TEXT_MS, theme.RUN_TEXT_SHARE)
        self.panel_meter = RedrawMeter(theme.RUN_PANELS_MS, theme.RUN_PANELS_SHARE)
        self.cores = machine_facts().logical_cores
        self._parts: list[Callable[[], None]] = []  # what is still to show in this refresh
        self.part_timer = QTimer(self)  # the next part of the panels
        self.part_timer.setSingleShot(True)
        self.part_timer.setInterval(PART_GAP_MS)
        self.part_timer.timeout.connect(self._next_part)
        self.refresh_timer = QTimer(self)
        self.refresh_timer.setSingleShot(True)
        self.refresh_timer.setInterval(theme.REFRESH_MS)
        self.refresh_timer.timeout.connect(self.flush)
        self.colour_mode = "chance"  # what the text's shading stands for (session.timeline.COLOUR_MODES)
        inspector.set_token_text(self.token_text)
        inspector.head_for = self.head_for
        card.token_text = self.token_text

    def token_text(self, token: int) -> str:
        return token_name(self.doc.model, token)

    def learn_pieces(self, pieces: dict[int, str]) -> None:
        """Texts of word pieces a model server names only by text, as the worker learns them."""
        if pieces and self.doc.model is not None:
            self.doc.model.learn(pieces)

    def head_for(self, index: int) -> dict[str, Any] | None:
        """What a model server listed at step `index`: {"seen": 0} where the step does not say (a session
        saved by an older Synthscope); None for a model opened here."""
        model = self.doc.model
        if model is None or model.server is None:
            return None
        steps = self.doc.mirror.steps
        head = steps[index].head if 0 <= index < len(steps) else None
        return head or {"seen": 0, "vocab": model.server.vocab}

    # -- the step on show -------------------------------------------------------------------
    def select_step(self, index: int | None) -> None:
        self.doc.select(index)
        if self.doc.state != "running":
            self.refresh_panels()

    def shown_index(self) -> int | None:
        return self.doc.shown_index()

    def refresh_panels(self) -> None:
        """Every panel shows the step on show, now."""
        self._parts.clear()
        for part in self._panel_parts():
            part()
        self.refreshed.emit()

    def _panel_parts(self) -> list[Callable[[], None]]:
        """What showing the step on show takes, panel by panel (after the text's frame moved)."""
        doc = self.doc
        self.editor.set_selected(doc.shown_index())
        shown = doc.shown_step(self.controls.settings())
        if shown is None:
            if doc.state not in ("no-model", "loading"):  # keep their own message
                self.inspector.clear()
            return []
        if shown.fetch:
            self.handle.fetch_logits(shown.recorded.index)
        if shown.fetch_extras is not None:
            self.handle.fetch_extras(shown.recorded.index, *shown.fetch_extras)
        return self.inspector.parts_of(shown.view, shown.recorded, len(doc.mirror), shown.fetching)

    def logits_ready(self, index: int, logits: np.ndarray) -> None:
        if self.doc.logits_arrived(index, logits):
            self.schedule()

    def extras_ready(self, extras: object) -> None:
        if self.doc.extras_arrived(extras):  # type: ignore[arg-type]
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
    def receive(self, batch: StepBatch) -> None:
        """Word pieces from the worker: kept at once, shown as soon as the text may redraw."""
        self.learn_pieces(batch.pieces)
        self.doc.mirror.extend(batch.steps, batch.logits)
        shades = batch.p_raw.tolist() if self.colour_mode == "chance" else [
            shade_value(step, self.colour_mode) for step in batch.steps]
        self.pending += map(Piece, (step.text for step in batch.steps), shades, batch.ends.tolist())
        self.schedule()

    def set_colour_mode(self, mode: str) -> None:
        """Shade the text by the chance (the first view), the rank or the model's certainty."""
        self.colour_mode = mode
        self.flush()
        self.editor.recolour([shade_value(step, mode) for step in self.doc.mirror.steps])

    def show_path(self, steps: list[Step]) -> None:
        """The text and the panels show `steps` (the worker follows them already)."""
        ends = self.doc.end_tokens
        self.doc.show_path(steps)
        self.pending.clear()
        self.editor.clear_generated()
        self.editor.append_tokens([Piece(s.text, shade_value(s, self.colour_mode), s.token_id in ends)
                                   for s in steps])

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
        """Redraw soon: while a run streams, at once if the text is due (the batch that woke the
        window is shown in the same wake-up), else when it is; otherwise within REFRESH_MS,
        coalescing whatever else changes meanwhile."""
        if self.refresh_timer.isActive():
            return
        if self.doc.state != "running":
            self.refresh_timer.start(theme.REFRESH_MS)
            return
        wait = self.text_meter.wait(self.contended())
        if wait <= 0:
            self.flush()
        else:
            self.refresh_timer.start(int(wait * 1000) + 1)

    def contended(self) -> bool:
        """Whether llama.cpp runs on every core, so that the window's thread takes one from it."""
        model = self.doc.model
        return model is not None and model.server is None and (model.config.threads or self.cores) >= self.cores

    def flush(self) -> None:
        """Coalesced view update: new text in one edit, then the panels. While a run streams, the
        panels come only when they are due, with a batch of text (never a wake-up of their own), in
        parts one turn of the event loop apart."""
        self.refresh_timer.stop()
        running = self.doc.state == "running"
        if self.pending:
            with self.text_meter.measure(running, self.editor):
                self.editor.append_tokens(self.pending)
                self.pending = []
        if not running:
            self.refresh_panels()
            self._show_speed()
        elif not self._parts and self.panel_meter.wait(self.contended()) <= 0:
            self.panel_meter.start()
            self._parts = self._panel_parts() or [lambda: None]
            self._next_part()

    def _next_part(self) -> None:
        if not self._parts:
            return
        with self.panel_meter.measure(True, self.editor, fresh=False):
            self._parts.pop(0)()
            if not self._parts:  # the last part: the speed and the large-type covers with it
                self._show_speed()
                self.refreshed.emit()
        if self._parts:
            self.part_timer.start()

    def _show_speed(self) -> None:
        total = len(self.doc.mirror)
        rate = self.doc.run_rate() if self.doc.state == "running" else None
        if rate is not None:
            self.speed_label.setText(f"{total} word pieces · {rate:.0f} per second")
        else:
            self.speed_label.setText(f"{total} word pieces" if total else "")


class RedrawMeter:
    """When a view may redraw again while a run streams: `least_ms` after the last time and, when
    it shares the cores with llama.cpp, long enough after it that redrawing takes at most `share`
    of a core."""

    def __init__(self, least_ms: int, share: float) -> None:
        self.least, self.share = least_ms / 1000, share
        self.shown_at = 0.0  # perf_counter() of the last redraw
        self.cost = 0.0  # its CPU seconds, painting included

    def wait(self, contended: bool) -> float:
        """Seconds until the view is due (0 or less: now)."""
        interval = max(self.least, self.cost / self.share) if contended else self.least
        return interval - (time.perf_counter() - self.shown_at)

    def start(self) -> None:
        self.shown_at, self.cost = time.perf_counter(), 0.0

    @contextmanager
    def measure(self, running: bool, widget: QWidget, fresh: bool = True) -> Iterator[None]:
        """Time (a part of) a redraw done inside; while a run streams, paint it at once so that its
        cost is known (Qt would paint it right after, in the same turn of the event loop)."""
        if fresh:
            self.start()
        started = time.thread_time()
        yield
        if running:
            QCoreApplication.sendPostedEvents(widget.window(), QEvent.Type.UpdateRequest)
            self.cost += time.thread_time() - started
