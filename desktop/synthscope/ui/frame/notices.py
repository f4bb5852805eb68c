"""Notices: a problem in plain words in the banner at the top, a passing word in the status bar."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QStatusBar, QWidget

from synthscope.ui import theme


class ErrorBanner(QFrame):
    """A plain-words problem at the top of the window, with a way forward."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_button = QPushButton("Open another model…")
        theme.banner_row(self, "⚠", self.text, self.open_button, "Hide this message")
        self.hide()

    def show_message(self, message: str, offer_open: bool = False) -> None:
        self.text.setText(message)
        self.open_button.setVisible(offer_open)
        self.show()


class Notices:
    """The one way the window's parts tell the person something."""

    def __init__(self, status: QStatusBar, banner: ErrorBanner) -> None:
        self.status, self.banner = status, banner

    def say(self, text: str, ms: int = 0) -> None:
        """A passing word in the status bar (`ms` = 0: until the next one)."""
        self.status.showMessage(text, ms)

    def quiet(self) -> None:
        self.status.clearMessage()

    def problem(self, text: str, offer_open: bool = False) -> None:
        """A problem in the banner, with Open another model… when `offer_open`."""
        self.banner.show_message(text, offer_open)

    def hide_problem(self) -> None:
        self.banner.hide()
