"""Chat mode's input: instructions for the model (the system message), your message, Send, New chat."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from synthscope.ui import theme

SYSTEM_HELP = ("Optional instructions the model reads before the whole conversation, for example "
               "“Answer in one short sentence.” Called the system message. They apply from the next "
               "message you send.")


class MessageBox(QPlainTextEdit):
    """Enter sends; Shift+Enter starts a new line (as in a messaging app)."""

    sendRequested = Signal()

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802
        new_line = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not e.modifiers() & new_line:
            self.sendRequested.emit()
            return
        super().keyPressEvent(e)


def _lines_high(box: QPlainTextEdit, lines: int) -> None:
    margins = box.contentsMargins()
    box.setFixedHeight(box.fontMetrics().lineSpacing() * lines + margins.top() + margins.bottom() + 20)


class ChatInput(QWidget):
    """Shown under the conversation in chat mode. `sendRequested` asks the window to send the
    message (or, with an empty box, to go on with the reply); `newChatRequested` to start over."""

    sendRequested = Signal()
    newChatRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.system_toggle = QToolButton()
        self.system_toggle.setCheckable(True)
        self.system_toggle.setText("▸ Instructions for the model")
        self.system_toggle.setToolTip(SYSTEM_HELP)
        self.system_toggle.setStyleSheet("QToolButton { border: none; background: transparent; "
                                         f"color: {theme.MUTED}; padding: 2px; }}")
        self.system_toggle.toggled.connect(self._show_system)
        self.system = QPlainTextEdit()
        self.system.setPlaceholderText("For example: Answer in one short sentence.")
        self.system.setToolTip(SYSTEM_HELP)
        self.system.setAccessibleName("Instructions for the model")
        _lines_high(self.system, 2)
        self.system.setVisible(False)
        self.message = MessageBox()
        self.message.setFont(theme.font(theme.BASE_POINT_SIZE + 2))
        self.message.setPlaceholderText("Write your message, then press Enter to send it "
                                        "(Shift+Enter for a new line)")
        self.message.setAccessibleName("Your message")
        self.message.setTabChangesFocus(True)
        _lines_high(self.message, 2)
        self.message.sendRequested.connect(self.sendRequested)
        self.send_button = QPushButton("Send ▶")
        self.send_button.setToolTip("Send your message; the model writes its reply word piece by word piece "
                                    "(Enter, or Ctrl+Enter anywhere). With an empty box it goes on "
                                    "with the reply.")
        self.send_button.setStyleSheet(f"QPushButton {{ background: {theme.ACCENT}; color: white; "
                                       f"border-color: {theme.ACCENT}; font-weight: bold; }}"
                                       f"QPushButton:disabled {{ background: {theme.FAINT}; }}")
        self.send_button.clicked.connect(self.sendRequested)
        self.new_chat_button = QPushButton("New chat")
        self.new_chat_button.setToolTip("Forget the conversation and start again (the instructions stay).")
        self.new_chat_button.clicked.connect(self.newChatRequested)

        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.new_chat_button)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.message, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.system_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.system)
        layout.addLayout(row)
        self.hint = QLabel()
        self.hint.setObjectName("hint")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)

    def _show_system(self, shown: bool) -> None:
        self.system.setVisible(shown)
        self.system_toggle.setText(("▾ " if shown else "▸ ") + "Instructions for the model")

    def system_text(self) -> str:
        return self.system.toPlainText().strip()

    def set_system_text(self, text: str) -> None:
        self.system.setPlainText(text)
        if text and not self.system_toggle.isChecked():
            self.system_toggle.setChecked(True)

    def message_text(self) -> str:
        return self.message.toPlainText().strip()

    def set_message(self, text: str) -> None:
        self.message.setPlainText(text)
        self.message.moveCursor(self.message.textCursor().MoveOperation.End)

    def set_busy(self, busy: bool) -> None:
        """While the model writes, the message can be typed but not sent."""
        self.send_button.setEnabled(not busy)
        self.new_chat_button.setEnabled(not busy)
