"""The timeline under the text: one point per word piece written — how surprising it was, and how sure
the model was before and after the samplers — with the step on show marked; hover to find the word,
click to show its step."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QToolTip, QWidget

from synthscope.session.timeline import Timeline
from synthscope.ui import theme
from synthscope.ui.steps.foldable import FoldButton

HELP = ("Each dot is one word piece the model wrote: how surprised the model was by it, in bits (each "
        "extra bit: half as likely). The lines say how sure the model was there: the pale one before the "
        "samplers, the dark one after them (bits of uncertainty: 0 = sure, 3 = as unsure as a pick among "
        "8 equal words). Hover a dot to find its word in the text; click it to show that step.")
KEY = ("<span style='color:{dot}'>●</span> surprise of the word written &nbsp; "
       "<span style='color:{raw}'>━</span> unsureness before the samplers &nbsp; "
       "<span style='color:{after}'>━</span> after them (bits)")


DENSE_POINTS = 1000  # more points than this: the lines are drawn without smoothing
DOT, DENSE_DOT = 6, 3  # a dot's size in pixels, and when the points are dense


class TimelinePanel(QFrame):
    """The plot items are made once and given new data in place (setData) as the run grows."""

    hovered = Signal(object)  # step index, or None when the pointer leaves the points
    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("nothing written yet")
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)  # one long line must not widen the window
        self.previous_button = QPushButton("◀ Previous unsure")
        self.next_button = QPushButton("Next unsure ▶")
        for button, way in ((self.previous_button, "before"), (self.next_button, "after")):
            button.setToolTip(f"Show the nearest step {way} this one where the model was unsure, or the "
                              "dice picked a long shot (under 5% after the samplers).")
        self.plot = pg.PlotWidget(background=theme.PANEL)
        self.key = QLabel(KEY.format(dot=theme.CHOSEN, raw=theme.RAW, after=theme.ACCENT))
        self.key.setObjectName("hint")
        self.key.setWordWrap(True)
        folded = QLabel()  # folded, the summary line above says enough
        self.fold = FoldButton([self.plot, self.key], folded)
        buttons = QWidget()
        layout, self.title = theme.panel(self, "The whole run", buttons)
        buttons.setLayout(theme.row(self.previous_button, self.next_button, self.fold))
        self.title.setToolTip(HELP)
        item = self.plot.getPlotItem()
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setLabel("left", "bits")
        item.getAxis("bottom").setStyle(tickTextOffset=2)
        self.before = item.plot([], [], pen=pg.mkPen(theme.RAW, width=2))
        self.after = item.plot([], [], pen=pg.mkPen(theme.ACCENT, width=2))
        for curve in (self.before, self.after):
            # Qt strokes a wide antialiased zig-zag path as one outline: 0.4 s for 4,000 points.
            # Drawn as separate segments it takes 30 ms; the overlaps at the joints do not show.
            curve.curve.setSegmentedLineMode("on")
        self.dots = pg.ScatterPlotItem(size=DOT, pen=None, brush=pg.mkBrush(theme.CHOSEN))
        item.addItem(self.dots)
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.INK, width=1.5))
        self.marker.hide()
        item.addItem(self.marker)
        self.plot.setFixedHeight(120)
        self.key.setToolTip(HELP)  # the plot itself names the dot under the pointer
        layout.addWidget(self.summary)
        layout.addWidget(self.plot)
        layout.addWidget(self.key)
        layout.addWidget(folded)
        self.count = 0
        self.point_words: str | None = None
        self.plot.scene().sigMouseMoved.connect(self._moved)
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    def show_timeline(self, line: Timeline, summary: str, selected: int | None, grown: bool = False) -> None:
        """`grown`: `line` is the one shown before with steps added at its end (a run streaming)."""
        x = np.arange(1, len(line) + 1, dtype=float)
        dense = len(line) > DENSE_POINTS
        for curve, values in ((self.before, line.sure_before), (self.after, line.sure_after)):
            # Lines denser than the pixels gain nothing from smoothing, and drawing them costs 40% less.
            curve.setData(x, values, antialias=not dense)
        if dense != (self.dots.opts["size"] == DENSE_DOT):
            self.dots.setSize(DENSE_DOT if dense else DOT)  # a long run's dots would hide its lines
        if grown and len(line) >= self.count:
            self.dots.addPoints(x[self.count:], line.surprise_bits[self.count:])  # only the new ones
        else:
            self.dots.setData(x, line.surprise_bits)
        if len(line) != self.count:
            self.count = len(line)
            # The samplers can make the model less sure too (a temperature above 1 with nothing cut).
            top = max(float(line.surprise_bits.max(initial=1.0)), float(line.sure_before.max(initial=1.0)),
                      float(line.sure_after.max(initial=1.0)), 1.0)
            self.plot.getPlotItem().setRange(xRange=(0.5, max(self.count, 1) + 0.5), yRange=(0, top * 1.05),
                                             padding=0)
        self.summary.setText(summary)
        self.mark(selected)

    def mark(self, selected: int | None) -> None:
        self.marker.setVisible(selected is not None)
        if selected is not None:
            self.marker.setPos(selected + 1)

    def clear(self) -> None:
        self.count = 0
        for item in (self.before, self.after):
            item.setData([], [])
        self.dots.setData([], [])
        self.marker.hide()
        self.summary.setText("nothing written yet")

    def show_point(self, words: str | None) -> None:
        """Beside the pointer, what the hovered dot stands for; the plot's own help elsewhere."""
        self.point_words = words
        if words is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(QCursor.pos(), words, self.plot)

    def index_at(self, scene_pos: QPointF) -> int | None:
        """The step whose dot column is under a point of the plot's scene."""
        view = self.plot.getPlotItem().getViewBox()
        if not view.sceneBoundingRect().contains(scene_pos) or not self.count:
            return None
        x = view.mapSceneToView(scene_pos).x()
        index = int(round(x)) - 1
        return index if 0 <= index < self.count else None

    def _moved(self, pos: QPointF) -> None:
        self.hovered.emit(self.index_at(pos))

    def _clicked(self, event: object) -> None:
        index = self.index_at(event.scenePos())  # type: ignore[attr-defined]
        if index is not None and event.button() == Qt.MouseButton.LeftButton:  # type: ignore[attr-defined]
            self.clicked.emit(index)
