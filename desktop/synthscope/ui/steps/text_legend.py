"""The shading key under the text, with what the shading stands for: the chance the model gave each
word piece (the first view), its rank among all the model's word pieces, or how sure the model was."""
from __future__ import annotations

from PySide6.QtCore import QSize, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QWidget

from synthscope.session.timeline import CERTAINTY_LIMITS, COLOUR_MODES, RANK_SHADES
from synthscope.ui import theme
from synthscope.ui.wording import html

MODE_NAMES = {"chance": "chance", "rank": "rank", "certainty": "certainty"}
MODE_HELP = {
    "chance": "Each written word piece is shaded by the chance the model gave it before the samplers ran: "
              "yellow ones were surprises, lavender ones were expected.",
    "rank": "Each written word piece is shaded by its rank among all the model's word pieces before the "
            "samplers (as GLTR does): lavender was the model's favourite, blue in its top 10, green in its "
            "top 100, yellow beyond.",
    "certainty": "Each written word piece is shaded by how sure the model was at that point, before the "
                 "samplers: lavender where it was sure, yellow where it was as unsure as a pick among more "
                 "than 16 equally likely words.",
}
TAIL = "&nbsp; <b>␣</b>&nbsp;=&nbsp;a&nbsp;space &nbsp;<b>↵</b>&nbsp;=&nbsp;a&nbsp;new&nbsp;line &nbsp;unshaded&nbsp;=&nbsp;your&nbsp;own&nbsp;words"


def _swatches(items: list[tuple[float, str]]) -> str:
    # Plain spaces between swatches, so the key can wrap between them.
    return " ".join(f"<span style='background:{theme.band_colour(value).name()}; color:{theme.BAND_INK}'>"
                    f"&nbsp;{html(label)}&nbsp;</span>" for value, label in items)


def key_text(mode: str) -> str:
    if mode == "rank":
        labels = ("favourite", "top 10", "top 100", "beyond")
        return "Its rank among all word pieces: " + _swatches(list(zip(RANK_SHADES, labels))) + TAIL
    if mode == "certainty":
        labels = ["sure", "2–4 words", "5–16 words", "more"]
        shades = [shade for _, shade in CERTAINTY_LIMITS] + [0.02]
        return "How sure the model was (as unsure as a pick among): " + _swatches(list(zip(shades, labels))) + TAIL
    bands = [(limit - 0.001 if limit <= 1 else 0.95, label) for limit, _, label in theme.PROBABILITY_BANDS]
    return "Chance the model gave each word piece: " + _swatches(bands) + TAIL


MAX_KEY_LINES = 3  # a very narrow column (presentation mode's) cuts the key rather than grow taller


class WrappingLabel(QLabel):
    """A word-wrapped label whose least height is what its words need at its width (up to
    MAX_KEY_LINES lines), so a narrow column makes room for its lines instead of drawing them over
    its neighbours."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        if self.width() > 0:
            cap = self.fontMetrics().lineSpacing() * MAX_KEY_LINES + 4
            return QSize(hint.width(), max(hint.height(), min(self.heightForWidth(self.width()), cap)))
        return hint

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self.updateGeometry()


class TextLegend(QWidget):
    """The key to the text's shading (this widget, the width of the text) and the choice of what it
    shades by (`mode`, placed by the text panel beside its title)."""

    modeChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = WrappingLabel()
        self.label.setObjectName("hint")
        self.label.setWordWrap(True)
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.mode = QComboBox()
        for mode in COLOUR_MODES:
            self.mode.addItem(f"Shade by {MODE_NAMES[mode]}", mode)
        self.mode.setToolTip("What the text's colours stand for: the chance the model gave each word piece, "
                             "its rank among all the model's word pieces, or how sure the model was there.")
        self.mode.currentIndexChanged.connect(lambda _i: self._changed())
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.label, 1)
        self._changed(emit=False)

    def current(self) -> str:
        return str(self.mode.currentData())

    def _changed(self, emit: bool = True) -> None:
        mode = self.current()
        self.label.setText(key_text(mode))
        self.label.setToolTip(MODE_HELP[mode] + " Hover a word to see its rivals; click it to look at that "
                              "step. In the panels, ␣ stands for a space: many word pieces start with one.")
        if emit:
            self.modeChanged.emit(mode)


def legend() -> QLabel:
    """The chance key alone (compare windows, which always shade by chance)."""
    label = WrappingLabel(key_text("chance"))
    label.setObjectName("hint")
    label.setWordWrap(True)
    label.setToolTip(MODE_HELP["chance"])
    return label
