"""The main window's layout: the text panel, the branches under it, the chances beside it, the step
panels below and the settings column on the right."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from synthscope.ui import theme
from synthscope.ui.steps.text_view import TokenTextView


def text_panel(editor: TokenTextView, key: QWidget, shade_by: QWidget, chat_input: QWidget
               ) -> tuple[QFrame, QLabel]:
    """The text (or the conversation), its shading `key` below it and the choice of what it shades by
    beside the title, and chat mode's input at the bottom."""
    panel = QFrame()
    layout, title = theme.panel(panel, "Prompt and continuation", shade_by)
    title.setToolTip("Type a prompt, then press Generate. The model's word pieces are added after it. "
                     "In chat mode, write a message below and the model replies.")
    layout.addWidget(editor, 1)  # it keeps room for TEXT_LINES lines (text_view)
    layout.addWidget(key)
    layout.addWidget(chat_input)
    return panel, title


def _split(orientation: Qt.Orientation, first: QWidget, second: QWidget,
           stretch: tuple[int, int]) -> QSplitter:
    split = QSplitter(orientation)
    for index, widget in enumerate((first, second)):
        split.addWidget(widget)
        split.setStretchFactor(index, stretch[index])
    split.setChildrenCollapsible(False)
    return split


def with_branches(text: QWidget, branches: QWidget) -> QSplitter:
    """The text above, the branch tree below it (small until there are branches)."""
    split = _split(Qt.Orientation.Vertical, text, branches, (1, 0))
    split.setSizes([10_000, 0])  # the branches panel at its smallest until there are branches
    return split


MIN_PANELS_HEIGHT = 120  # the step panels never shrink below this: at least the header and a title


class StepPanelsArea(QScrollArea):
    """The step panels under the text, in a scroll area that TextFirst sizes."""

    def __init__(self, content: QWidget) -> None:
        super().__init__()
        self.setWidget(content)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.setMinimumHeight(MIN_PANELS_HEIGHT)
        self.preferred = MIN_PANELS_HEIGHT  # what TextFirst last gave it

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(super().sizeHint().width(), self.preferred)

    def wanted(self) -> int:
        """The height the panels' words need at the width they have (their words wrap)."""
        content = self.widget()
        width = self.viewport().width() if self.viewport().width() > 0 else self.width()
        if content.hasHeightForWidth() and width > 0:
            return content.heightForWidth(width)
        return content.sizeHint().height()


class TextFirst(QWidget):
    """The text row above, the step panels below: the panels get the height they need while the text
    row keeps its least height (TEXT_LINES lines of text); past that the panels scroll, the text
    never shrinks. Refitted whenever the window or a panel changes size."""

    def __init__(self, top: QWidget, panels: StepPanelsArea) -> None:
        super().__init__()
        self.top, self.panels = top, panels
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(top, 1)
        layout.addWidget(panels, 0)
        panels.widget().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.LayoutRequest:
            self.refit()
        return False

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        self.refit()
        super().resizeEvent(event)

    def refit(self) -> None:
        room = self.height() - self.layout().spacing() - self.top.minimumSizeHint().height()
        height = max(min(self.panels.wanted(), room), MIN_PANELS_HEIGHT)
        # A most, not a fixed height: the window may still be made smaller, and is refitted then.
        if height != self.panels.preferred or self.panels.maximumHeight() != height:
            self.panels.preferred = height
            self.panels.setMaximumHeight(height)
            self.panels.updateGeometry()


@dataclass(frozen=True)
class Layout:
    """The central widget and the handles presentation mode moves panels with."""

    central: QWidget
    top: QSplitter  # the text | the chances
    columns: QHBoxLayout  # the left column | the settings column
    settings: QScrollArea  # the settings column


def arrange(banners: list[QWidget], text: QWidget, distribution: QWidget, step_panels: list[QWidget],
            controls: QWidget) -> Layout:
    """Text and chances side by side on top, the step's story full width below them, the controls
    in their own scrolling column on the right, and the banners above everything."""
    top = _split(Qt.Orientation.Horizontal, text, distribution, (3, 2))
    # The text first: the top row keeps the least height the text needs (TEXT_LINES of it); the step
    # panels below get the height their words need when there is room, and scroll when there is not.
    below = QWidget()
    below_layout = QVBoxLayout(below)
    below_layout.setContentsMargins(0, 0, 0, 0)
    below_layout.setSpacing(6)
    for panel in step_panels:
        below_layout.addWidget(panel, 0)
    left = TextFirst(top, StepPanelsArea(below))
    scroll = QScrollArea()
    scroll.setWidget(controls)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setMinimumWidth(controls.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
    central = QWidget()
    central.setObjectName("central")
    layout = QVBoxLayout(central)
    layout.setContentsMargins(10, 4, 10, 6)
    for banner in banners:
        layout.addWidget(banner)
    columns = QHBoxLayout()
    columns.setSpacing(8)
    columns.addWidget(left, 1)
    columns.addWidget(scroll)
    layout.addLayout(columns, 1)
    return Layout(central, top, columns, scroll)
