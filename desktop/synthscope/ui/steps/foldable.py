"""A ▾/▸ button beside a panel's title: folded, the panel shows one line and the text gets the room."""
from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolButton, QWidget

from synthscope.ui import theme

FOLD_HELP = "Fold this panel to one line, to leave more room for the text (click again to unfold)."


class FoldButton(QToolButton):
    """Checked = folded: the `body` widgets hide and `summary` (one line) shows in their place."""

    def __init__(self, body: list[QWidget], summary: QLabel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.body = body
        self.summary = summary
        self.setCheckable(True)
        self.setToolTip(FOLD_HELP)
        self.setAutoRaise(True)
        self.setStyleSheet(f"QToolButton {{ border: none; padding: 2px 6px; color: {theme.ACCENT}; "
                           f"font-size: {theme.BASE_POINT_SIZE}pt; background: transparent; }}")
        summary.setObjectName("hint")
        summary.setWordWrap(False)
        # One line that never widens the window: a long summary is cut at the panel's edge.
        summary.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        summary.hide()
        self.toggled.connect(self._show)
        self._show(False)

    def _show(self, folded: bool) -> None:
        for widget in self.body:
            widget.setVisible(not folded)
        self.summary.setVisible(folded)
        self.setText("▸ Show" if folded else "▾ Hide")

    def remember(self, store: QSettings, key: str) -> None:
        """Start as the person left it; remember each change."""
        self.setChecked(str(store.value(key, False)).lower() == "true")
        self.toggled.connect(lambda folded: store.setValue(key, folded))
