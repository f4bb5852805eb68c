"""The main window's step view: which step the panels show, what-if re-sampling, and the
coalesced refresh of text and panels while tokens stream."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPoint

from synthscope.ui import theme

if TYPE_CHECKING:
    from synthscope.ui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object


class StepView(_Base):
    """Mixed into MainWindow: the selected step (None follows the newest) and its panels."""

    def select_step(self, index: int | None) -> None:
        self.selected = None if index is None or index >= len(self.mirror) - 1 else index
        if self.state != "running":
            self._refresh_panels()

    def shown_index(self) -> int | None:
        if not self.mirror.steps:
            return None
        return len(self.mirror) - 1 if self.selected is None else self.selected

    def _schedule(self) -> None:
        if not self.refresh_timer.isActive():
            self.refresh_timer.start(theme.RUN_TEXT_MS if self.state == "running" else theme.REFRESH_MS)

    def _flush(self) -> None:
        """Coalesced view update: new text in one edit, the panels once, however many tokens came."""
        self.refresh_timer.stop()
        if self.pending:
            self.editor.append_tokens(self.pending)
            self.pending = []
        now = time.perf_counter()
        if self.state != "running" or now - self.panels_shown_at >= theme.RUN_PANELS_MS / 1000:
            self.panels_shown_at = now
            self._refresh_panels()
        else:
            self.refresh_timer.start(theme.RUN_TEXT_MS)  # the panels catch up within RUN_PANELS_MS
        start, before = self.run_clock
        made, seconds = len(self.mirror) - before, time.perf_counter() - start
        if self.state == "running" and made > 1 and seconds > 0:
            self.speed_label.setText(f"{len(self.mirror)} word pieces · {made / seconds:.0f} per second")
        else:
            self.speed_label.setText(f"{len(self.mirror)} word pieces" if len(self.mirror) else "")

    def _refresh_panels(self) -> None:
        index = self.shown_index()
        self.editor.set_selected(index)
        if index is None:
            if self.state not in ("no-model", "loading"):  # keep their own message
                self.inspector.clear()
            return
        recorded = self.mirror.recorded(index)
        view, fetching = recorded, False
        settings = self.controls.settings()
        if self.state in ("idle", "busy") and settings != recorded.settings:
            what_if = self.mirror.what_if(index, settings)
            if what_if is None:
                fetching = True
                if index not in self.requested_logits and self.state == "idle":
                    self.requested_logits.add(index)
                    self.handle.fetch_logits(index)
            else:
                view = what_if
        self.inspector.show(view, recorded, len(self.mirror), fetching)

    def _logits_ready(self, index: int, logits: np.ndarray) -> None:
        self.requested_logits.discard(index)
        if index < len(self.mirror):
            self.mirror.logits.put(index, logits)
            self._schedule()

    def _settings_changed(self) -> None:
        self.handle.set_live_settings(self.controls.settings())  # a running generation uses them next
        if self.state != "running":
            self._schedule()

    def _back_to_run(self) -> None:
        index = self.shown_index()
        if index is not None:
            self.controls.set_settings(self.mirror.steps[index].settings)

    def _hovered(self, index: int, where: QPoint) -> None:
        if index < len(self.mirror):
            self.card.show_for(self.mirror.recorded(index), where)

    def _set_text_size(self, size: int) -> None:
        size = min(max(size, 10), 40)
        self.editor.setFont(theme.font(size))
        if self.store is not None:
            self.store.setValue("view/text_size", size)
