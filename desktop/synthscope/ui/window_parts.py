"""Building blocks of the main window: the error banner, the text panel, the layout, help and about."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from synthscope import __version__
from synthscope.engine import choice_file, machine_facts
from synthscope.ui import theme
from synthscope.ui.text_view import TokenTextView, legend
from synthscope.ui.worker_messages import LoadedModel

HELP_TEXT = (
    "<p><b>The text</b> holds your prompt and what the model wrote, one word piece (a word or a piece of "
    "a word) at a time. Each generated word piece is shaded by how likely the model thought it was. "
    "Hover a word piece to see its rivals; click it to inspect it in every panel. <i>⬣ end of text</i> marks "
    "where the model picked its end-of-text word piece.</p>"
    "<p><b>Chat mode</b> (Run → Chat with the model) is for instruct models: write a message below the "
    "conversation and press Enter. The model answers in its own chat format; <i>⬣ the model chose to "
    "stop here</i> marks where it picked its end-of-turn word piece, with the chance it gave it.</p>"
    "<p><b>Chances</b> lists the likeliest next word pieces: the pale bar is the model's own chance, the "
    "dark bar the chance after the samplers. Greyed word pieces were removed by the stage named.</p>"
    "<p><b>What the samplers did</b> shows each stage in the order it runs. Grey dashed boxes are "
    "switched off; thin-framed ones ran but removed nothing. <b>Stage by stage</b> (in Chances) "
    "follows each word through every sampler.</p>"
    "<p><b>The dice</b> lays the remaining chances end to end from 0 to 1. A random number (the dice) "
    "lands somewhere; the word piece it lands on is written.</p>"
    "<p><b>What if?</b> When the model is not writing, move any setting: the panels show what the same "
    "dice would have picked with the new settings.</p>"
    "<p><b>Branches:</b> click a word piece to write another one there (the rest is written again with the "
    "same dice) or to replay from it with the current settings. Every version stays in the Branches "
    "panel; a blue flag marks where the shown one left its parent.</p>"
    "<p><b>Keys:</b> Ctrl+Enter generate (or send) · Ctrl+T chat or raw text · Ctrl+P pick word pieces "
    "yourself · Ctrl+Shift+C compare runs · Ctrl+S save session · Ctrl+Shift+O open session · "
    "Ctrl+M models on this computer · Esc stop · "
    "Space one word piece (unless the text, a button or a "
    "box has the keyboard focus) · Ctrl+Z undo the last word piece · Ctrl+L clear · Ctrl+plus/minus text "
    "size.</p>")


def about_text(model: LoadedModel | None) -> str:
    """Version, the model, how llama.cpp runs it and why, and how to make Synthscope check again."""
    facts = machine_facts()
    lines = [f"<p><b>Synthscope {__version__}</b>: watch a small language model write.</p>"]
    if model is not None:
        config = model.config
        lines.append(f"<p><b>Model:</b> {model.path.name} — {model.facts.summary}</p>"
                     f"<p><b>Running on</b> {model.device}: {config.describe()}."
                     f"<br>{model.note}</p>")
    lines.append(f"<p><b>Computer:</b> {facts.cpu_name}, {facts.physical_cores} cores "
                 f"({facts.logical_cores} threads).<br>The check of how llama.cpp runs here is "
                 f"remembered in {choice_file()}; delete that file (or run "
                 f"<tt>synthscope engine --reset</tt>) to check again.</p>")
    return "".join(lines)


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


def arrange(banners: list[QWidget], text: QWidget, distribution: QWidget, step_panels: list[QWidget],
            controls: QWidget) -> QWidget:
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
    return central
