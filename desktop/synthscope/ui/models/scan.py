"""Look for models on a thread of its own; only the newest scan's answer is delivered."""
from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from synthscope.engine.discovery import FoundModel, discover


class ModelScan(QObject):
    """`look()` starts a scan; `finished` carries the newest scan's list of models, or an error message
    in words. A slower earlier scan still emits `scanned` (for tests) but never `finished`."""

    scanned = Signal(int, object)  # (generation, list[FoundModel] or an error message), queued here
    finished = Signal(object)  # list[FoundModel] or str, from the newest scan only

    def __init__(self, scan: Callable[[], list[FoundModel]] = discover,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scan = scan
        self.generation = 0
        self.scanned.connect(self._receive)

    def look(self) -> None:
        self.generation += 1
        threading.Thread(target=self._scan_in_thread, args=(self.generation,), daemon=True,
                         name="synthscope-model-scan").start()

    def _scan_in_thread(self, generation: int) -> None:
        try:
            result: list[FoundModel] | str = list(self.scan())
        except Exception as exc:  # noqa: BLE001 - shown in words; the window stays usable
            result = f"Could not look for models: {exc}"
        try:
            self.scanned.emit(generation, result)
        except RuntimeError:
            pass  # the owner was closed and deleted while the scan ran

    def _receive(self, generation: int, result: list[FoundModel] | str) -> None:
        if generation == self.generation:
            self.finished.emit(result)
