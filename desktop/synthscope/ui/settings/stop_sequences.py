"""The stop-sequences setting: words or marks that end a run as soon as the model writes them."""
from __future__ import annotations

import json

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from synthscope.session.stopping import StopSequenceError, check_stop_sequences, shown, unescape
from synthscope.ui import theme

STORE_KEY = "run/stop_sequences"
HELP = ("Generation stops as soon as the model writes one of these, for example a full stop or a "
        "new line. Type it and press Enter to add it; \\n means a new line. Select one and press "
        "Delete to remove it.")
# Short enough for the entry in the narrowest column; HELP, its tooltip, says the rest.
PLACEHOLDER = "e.g. . or \\n (a new line), then Enter"


class _StopList(QListWidget):
    removeRequested = Signal()

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802
        if e.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.removeRequested.emit()
            return
        super().keyPressEvent(e)


class StopSequencesBox(QWidget):
    """A line to type a stop sequence into, and the list of the ones in use."""

    changed = Signal()
    problem = Signal(str)  # a stop sequence that cannot be added, in one plain sentence

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._stops: list[str] = []
        title = QLabel("Stop when it writes")
        title.setToolTip(HELP)
        self.entry = QLineEdit()
        self.entry.setPlaceholderText(PLACEHOLDER)
        self.entry.setToolTip(HELP)
        self.entry.setAccessibleName("Add a stop sequence")
        self.entry.returnPressed.connect(self.add_typed)
        self.list = _StopList()
        self.list.setFlow(QListWidget.Flow.LeftToRight)
        self.list.setWrapping(True)
        self.list.setSpacing(3)
        self.list.setToolTip(HELP)
        self.list.setMaximumHeight(self.fontMetrics().lineSpacing() * 2 + 16)
        self.list.removeRequested.connect(self.remove_selected)
        self.list.itemDoubleClicked.connect(lambda _item: self.remove_selected())
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected stop sequence.")
        self.remove_button.clicked.connect(self.remove_selected)
        self.hint = QLabel()
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        lower = theme.row((self.list, 1))
        lower.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        # The entry gets a row of its own, so that its example is not cut off in the narrow column.
        layout.addWidget(title)
        layout.addWidget(self.entry)
        layout.addLayout(lower)
        layout.addWidget(self.hint)
        self._rebuild()

    def stops(self) -> tuple[str, ...]:
        return tuple(self._stops)

    def set_stops(self, stops: list[str] | tuple[str, ...]) -> None:
        self._stops = list(check_stop_sequences(stops))
        self._rebuild()
        self.changed.emit()

    def add_typed(self) -> None:
        typed = self.entry.text()
        if not typed:
            return
        try:
            self.set_stops([*self._stops, unescape(typed)])
        except StopSequenceError as exc:
            self.problem.emit(str(exc))
            return
        self.entry.clear()

    def remove_selected(self) -> None:
        rows = sorted((self.list.row(item) for item in self.list.selectedItems()), reverse=True)
        for row in rows:
            del self._stops[row]
        if rows:
            self._rebuild()
            self.changed.emit()

    def _rebuild(self) -> None:
        self.list.clear()
        for stop in self._stops:
            item = QListWidgetItem(f"“{shown(stop)}”")
            item.setToolTip("A new line" if stop == "\n" else f"Stops at {stop!r}")
            self.list.addItem(item)
        self.list.setVisible(bool(self._stops))
        self.remove_button.setVisible(bool(self._stops))
        self.hint.setText("" if self._stops else "None: it stops at the Length or when the model "
                          "ends the text.")
        self.hint.setVisible(not self._stops)

    def save(self, store: QSettings) -> None:
        store.setValue(STORE_KEY, json.dumps(self._stops))  # JSON: an ini file keeps "\n" exactly

    def restore(self, store: QSettings) -> None:
        try:
            saved = json.loads(str(store.value(STORE_KEY, "[]")))
            self.set_stops([str(stop) for stop in saved] if isinstance(saved, list) else [])
        except (ValueError, StopSequenceError):  # a damaged entry: start with none
            self.set_stops([])
