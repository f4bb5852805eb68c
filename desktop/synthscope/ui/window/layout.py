"""The main window's layout: the text panel, the branches under it, the chances beside it, the step
panels below and the settings column on the right."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from synthscope.ui import theme
from synthscope.ui.steps.text_view import TokenTextView, legend


def text_panel(editor: TokenTextView, chat_input: QWidget) -> tuple[QFrame, QLabel]:
    """The text (or the conversation), its shading key, and chat mode's input below them."""
    panel = QFrame()
    layout, title = theme.panel(panel, "Prompt and continuation")
    title.setToolTip("Type a prompt, then press Generate. The model's word pieces are added after it. "
                     "In chat mode, write a message below and the model replies.")
    layout.addWidget(editor, 1)
    layout.addWidget(legend())
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
    # A layout, not a splitter, below: the step panels always get the height their words need.
    left = QWidget()
    left_layout = QVBoxLayout(left)
    left_layout.setContentsMargins(0, 0, 0, 0)
    left_layout.setSpacing(6)
    left_layout.addWidget(top, 1)
    for panel in step_panels:
        left_layout.addWidget(panel, 0)
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
