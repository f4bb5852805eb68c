"""The shading key under the text: which colour stands for which chance of a written word piece."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel

from synthscope.ui import theme
from synthscope.ui.wording import html


def legend() -> QLabel:
    """The shading key: which colour stands for which chance of the written word piece."""
    swatches = " ".join(  # plain spaces between swatches, so the legend can wrap between them
        f"<span style='background:{colour}; color:{theme.BAND_INK}'>&nbsp;{html(label)}&nbsp;</span>"
        for _, colour, label in theme.PROBABILITY_BANDS)
    label = QLabel(f"Chance the model gave each word piece: {swatches} &nbsp; "
                   "<b>␣</b>&nbsp;=&nbsp;a&nbsp;space &nbsp;<b>↵</b>&nbsp;=&nbsp;a&nbsp;new&nbsp;line "
                   "&nbsp;unshaded&nbsp;=&nbsp;your&nbsp;own&nbsp;words")
    label.setObjectName("hint")
    label.setWordWrap(True)
    label.setToolTip("Each written word piece (token) is shaded by the chance the model gave it before "
                     "the samplers ran: yellow ones were surprises, blue ones were expected. The one "
                     "framed in orange-red is shown in the panels. Hover a word to see its rivals; click "
                     "it to look at that step. In the panels, ␣ stands for a space: many word pieces "
                     "start with one.")
    return label
