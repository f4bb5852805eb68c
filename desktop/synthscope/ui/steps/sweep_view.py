"""Sweeps of the step on show: the top candidates' chances, the words still in play and the model's
certainty as temperature goes 0 → 2 and top-p 0 → 1, the current settings marked; the marks follow
the sliders live."""
from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from synthscope.session.sweeps import SWEPT, TRACKED, Sweep
from synthscope.ui import theme
from synthscope.ui.wording import elide, html, visible

# Lines that stay apart on a projector and for the colour-blind (Okabe–Ito).
LINE_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00")
HELP = ("Each line is a word's chance after the samplers as the setting moves from one end to the other, "
        "with every other setting as it is now. On the right-hand scale: the dashed line counts the words "
        "still in play, the dotted one says how unsure the pick is (as unsure as choosing between that "
        "many equally likely words). The vertical line marks the setting as it is.")


class SweepPlot(QWidget):
    """One swept setting: a line per candidate, the words still in play, and a marker."""

    def __init__(self, setting: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setting = setting
        self.sentence = QLabel()
        self.sentence.setObjectName("hint")
        self.sentence.setWordWrap(True)
        self.plot = pg.PlotWidget(background=theme.PANEL)
        item = self.plot.getPlotItem()
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setLabel("bottom", {"temperature": "Temperature", "top_p": "Top-p"}[setting])
        item.setLabel("left", "chance")
        item.setXRange(*SWEPT[setting], padding=0.02)
        item.setYRange(0, 1, padding=0.02)
        self.lines = [item.plot([], [], pen=pg.mkPen(colour, width=2.5)) for colour in LINE_COLOURS[:TRACKED]]
        # The words in play on a scale of their own, to the right.
        self.count_box = pg.ViewBox()
        item.showAxis("right")
        item.scene().addItem(self.count_box)
        item.getAxis("right").linkToView(self.count_box)
        item.getAxis("right").setLabel("words in play")
        self.count_box.setXLink(item)
        self.count_line = pg.PlotCurveItem(pen=pg.mkPen(theme.MUTED, width=2, style=Qt.PenStyle.DashLine))
        self.sure_line = pg.PlotCurveItem(pen=pg.mkPen(theme.INK, width=2, style=Qt.PenStyle.DotLine))
        self.count_box.addItem(self.count_line)
        self.count_box.addItem(self.sure_line)
        item.getViewBox().sigResized.connect(self._sync_boxes)
        self.marker = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(theme.INK, width=2))
        item.addItem(self.marker)
        self.plot.setMinimumHeight(150)
        self.plot.setToolTip(HELP)
        self.key = QLabel()  # the lines' key, under the picture rather than over its lines
        self.key.setObjectName("hint")
        self.key.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.sentence)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.key)
        self.sweep: Sweep | None = None

    def _sync_boxes(self) -> None:
        self.count_box.setGeometry(self.plot.getPlotItem().getViewBox().sceneBoundingRect())

    def show_sweep(self, sweep: Sweep, name: Callable[[int], str], current: float) -> None:
        self.sweep = sweep
        words = []
        for column, line in enumerate(self.lines):
            if column < len(sweep.tokens):
                line.setData(sweep.values, sweep.chances[:, column])
                word = html(elide(visible(name(sweep.tokens[column])), 14))
                words.append(f"<span style='color:{LINE_COLOURS[column]}'>━</span>&nbsp;{word}")
                line.show()
            else:
                line.hide()
        self.key.setText(" &nbsp; ".join(words) + " &nbsp; ╌ words in play (right scale) &nbsp; ┈ as unsure "
                         "as choosing between this many equal words (right scale)")
        self.count_line.setData(sweep.values, sweep.in_play)
        self.sure_line.setData(sweep.values, sweep.equally_likely)
        self.count_box.setYRange(0, max(float(sweep.in_play.max()), 1.0) * 1.05, padding=0)
        self._sync_boxes()
        self.move_marker(current, name)

    def move_marker(self, current: float, name: Callable[[int], str]) -> None:
        """The marker to the setting as it is (cheap: called while a slider is dragged)."""
        self.marker.setPos(current)
        if self.sweep is not None:
            self.sentence.setText(self.sweep.sentence(lambda t: visible(name(t)), current))


class SweepView(QWidget):
    """The two sweeps of one step, one above the other."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plots = {setting: SweepPlot(setting) for setting in SWEPT}
        self.waiting = QLabel("Fetching this word piece's scores from the model…")
        self.waiting.setObjectName("hint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.waiting)
        for plot in self.plots.values():
            layout.addWidget(plot, 1)
        self.waiting.hide()
        self.key: object = None  # what the shown sweeps were computed for

    def show_sweeps(self, sweeps: dict[str, Sweep] | None, name: Callable[[int], str],
                    current: dict[str, float], key: object = None) -> None:
        """`sweeps` None: the step's scores are on their way (the sweeps come when they are here)."""
        self.waiting.setVisible(sweeps is None)
        if sweeps is None:
            return
        if key is not None and key == self.key:
            for setting, plot in self.plots.items():
                plot.move_marker(current[setting], name)
            return
        self.key = key
        for setting, plot in self.plots.items():
            plot.show_sweep(sweeps[setting], name, current[setting])
