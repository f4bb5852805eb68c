"""Help → Shortcuts: every key the window answers to, read from its actions, plus the few keys that
belong to no action."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

# Keys no QAction declares: (key, what it does).
OTHER_KEYS: tuple[tuple[str, str], ...] = (
    ("Space", "Step: write one word piece (unless the text, a button or a box has the keyboard focus); "
              "in guess mode, first show the chances, then roll the dice"),
    ("Enter", "In the message box (chat mode): send the message"),
    ("Shift+Enter", "In the message box: a new line"),
    ("Esc", "Stop the generation; in presentation mode, leave it"),
    ("Delete", "In the Branches panel: delete the selected branch"),
)


def action_name(action: QAction) -> str:
    """The action's menu text without its mnemonic ampersand or leading symbols."""
    text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
    return text.lstrip("▶■+1↶✕ ").strip() or action.toolTip()


def key_text(action: QAction) -> str:
    """All of the action's keys as this platform writes them, 'Ctrl+Return or Ctrl+Enter'."""
    return " or ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts()
                       if not k.isEmpty())


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str]]:
    """(keys, what they do) for every action of `window` with a key, in the order they were made,
    then the keys of no action; an action shown twice (same text) is listed once."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for action in window.actions():
        keys = key_text(action)
        if not keys or action.text() in seen:
            continue
        seen.add(action.text())
        what = action_name(action)
        tip = action.statusTip()
        rows.append((keys, f"{what}: {tip}" if tip and tip != what else what))
    listed = {keys for keys, _ in rows}
    rows += [(key, what) for key, what in OTHER_KEYS if key not in listed]
    return rows


class ShortcutsDialog(QDialog):
    """A two-column table: the keys, and what they do."""

    def __init__(self, window: QMainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = shortcut_rows(window)
        self.table = QTableWidget(len(self.rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "What they do"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        for row, (keys, what) in enumerate(self.rows):
            key_item = QTableWidgetItem(keys)
            key_item.setFlags(key_item.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, 0, key_item)
            self.table.setItem(row, 1, QTableWidgetItem(what))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.resizeRowsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 560)
