"""Other ways to open a model: File → Recent models, and dropping a .gguf file onto the window."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QMenu, QWidget

RECENT_KEY = "models/recent"
RECENT_LIMIT = 8


class RecentModels(QObject):
    """The last models opened, newest first, kept in QSettings; `menu` lists them."""

    chosen = Signal(str)

    def __init__(self, store: QSettings | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.menu = QMenu("Recent models", parent)
        self.menu.setToolTipsVisible(True)
        self.paths: list[str] = []
        if store is not None:
            saved = store.value(RECENT_KEY, [])
            # A single entry comes back from an ini file as a plain string.
            items = [saved] if isinstance(saved, str) else saved if isinstance(saved, list) else []
            self.paths = [str(item) for item in items if str(item).strip()][:RECENT_LIMIT]
        self._rebuild()

    def add(self, path: str | Path) -> None:
        text = str(path)
        self.paths = [text, *(p for p in self.paths if p != text)][:RECENT_LIMIT]
        if self.store is not None:
            self.store.setValue(RECENT_KEY, self.paths)
        self._rebuild()

    def _rebuild(self) -> None:
        self.menu.clear()
        for path in self.paths:
            action = self.menu.addAction(Path(path).name)
            action.setToolTip(path)
            action.setStatusTip(path)
            action.setEnabled(Path(path).is_file())  # a moved or deleted file stays listed, greyed
            action.triggered.connect(lambda _checked=False, p=path: self.chosen.emit(p))
        if not self.paths:
            self.menu.addAction("No models opened yet").setEnabled(False)


def dropped_model(event: QEvent) -> str | None:
    """The local .gguf file a drag carries (the first one), if any."""
    if not isinstance(event, (QDragEnterEvent, QDropEvent)):
        return None
    for url in event.mimeData().urls():
        if url.isLocalFile() and url.toLocalFile().lower().endswith(".gguf"):
            return url.toLocalFile()
    return None


class ModelDropTarget(QObject):
    """Watches widgets for a .gguf file dragged onto them; the text view would otherwise paste its
    path as text."""

    dropped = Signal(str)

    def watch(self, *widgets: QWidget) -> None:
        for widget in widgets:
            widget.setAcceptDrops(True)
            widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() not in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            return False
        path = dropped_model(event)
        if path is None:
            return False  # anything else (text, other files) goes to the widget as before
        event.acceptProposedAction()  # type: ignore[attr-defined]
        if event.type() == QEvent.Type.Drop:
            self.dropped.emit(path)
        return True
