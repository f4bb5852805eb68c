"""The distribution panel: the top candidates' raw and final probabilities as labelled bars."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QSizePolicy, QWidget

from synthscope.sampling.explain import penalty_change
from synthscope.sampling.specs import BOOST
from synthscope.ui import theme
from synthscope.session.mirror import StepView
from synthscope.ui.steps.stage_view import StageTable
from synthscope.ui.wording import STAGE_LABELS, elide, percent, visible

_SEP = "\x1f"  # tick strings carry their row number so each label can be styled on its own
BAR_HEIGHT = 0.36
COMPACT_BELOW = 560  # panel width (px) under which the value column uses short words
ROW_PIXELS = 26  # the least height per row that stays legible on a projector
MIN_ROWS = 5
LABEL_WIDTHS = (90, 230)
VALUE_WIDTHS = (120, 300)


@dataclass(frozen=True)
class Row:
    """One candidate as drawn: what it is called, its two probabilities and its fate."""

    token_id: int
    rank: int  # position among the candidates; -1 for a row added below them
    label: str
    p_raw: float
    p_final: float
    removed_by: str | None
    chosen: bool
    was_picked: bool  # in a what-if: the token the run really picked
    p_penalty: float | None = None  # its chance after the repetition penalty, when that lowered it

    def value_text(self, compact: bool = False) -> str:
        """'8.9%  removed by top-k' or '14% → 55%  chosen'; '7.0% ↓0.8%' when the repetition penalty
        lowered it first; shorter words when space is tight."""
        raw = percent(self.p_raw)
        if self.p_penalty is not None:
            raw += f" ↓{percent(self.p_penalty)}"
        if self.removed_by:
            return f"{raw}  {'✗' if compact else 'removed by'} {self.removed_by.lower()}"
        # The final chance of a winner far down the draw's order is not in the trace: say nothing.
        final = f" → {percent(self.p_final)}" if self.p_final == self.p_final else ""
        text = f"{raw}{final}"
        if self.chosen:
            return text + "  chosen"
        return text + ("  (was picked)" if not compact else "  (was)") if self.was_picked else text


def rows_for(view: StepView, token_text: Callable[[int], str], limit: int | None = None) -> list[Row]:
    """The first `limit` candidates in raw order; below them the chosen token when it ranks lower,
    and in a what-if the token the run picked (when it is among the traced candidates)."""
    cands = view.trace.candidates
    lowered = penalty_change(view.trace)

    def row(c: np.void, rank: int) -> Row:
        stage, token = int(c["removed_by"]), int(c["token_id"])
        return Row(token, rank, visible(token_text(token)), float(c["p_raw"]), float(c["p_final"]),
                   STAGE_LABELS[view.trace.stages[stage].name] if stage >= 0 else None,
                   token == view.token_id, token == view.recorded_token_id,
                   lowered[token][1] if token in lowered else None)

    top = cands[:limit]
    rows = [row(c, rank) for rank, c in enumerate(top)]
    listed = set(top["token_id"].tolist())
    if view.token_id not in listed:
        rows.append(Row(view.token_id, -1, visible(token_text(view.token_id)), view.trace.chosen_p_raw,
                        view.trace.chosen_p_final, None, True, False))
    picked = view.recorded_token_id
    if view.is_what_if and picked not in listed and picked != view.token_id:
        rows += [row(c, -1) for c in cands[len(top):] if int(c["token_id"]) == picked]
    return rows


def title_text(view: StepView, rows: list[Row], after_samplers: bool = False) -> str:
    """'Chances for word piece 10: the 15 likeliest of 49,152, plus the chosen one' — the count matches
    the rows, and says what they are a part of (and, `after_samplers`, that they are ranked by the
    chance the dice use)."""
    what = "What if: chances" if view.is_what_if else "Chances"
    shown = sum(row.rank >= 0 for row in rows)
    extra = [("the chosen one" if row.chosen else "the run's pick") for row in rows if row.rank < 0]
    plus = "".join(f", plus {e}" for e in extra)
    known = view.trace.stages[0].n_in if view.trace.stages else 0  # every word piece the model knows
    of = f" of {known:,}" if known > shown else ""
    after = " after the samplers" if after_samplers else ""
    return f"{what} for word piece {view.index + 1}: the {shown} likeliest{of}{after}{plus}"


def legend_text(what_if: bool = False, penalty: bool = False, seen: str = "") -> str:
    """The key above the bars; the what-if mark and the penalty arrow only when they appear, and through
    a model server how many word pieces it listed (`seen`)."""
    # &nbsp; inside each item: a narrow panel wraps between items, never inside one.
    items = [f"<span style='color:{theme.RAW}'>■</span>&nbsp;model's&nbsp;chance",
             f"<span style='color:{theme.ACCENT}'>■</span>&nbsp;after&nbsp;samplers",
             f"<span style='color:{theme.CHOSEN}'>■</span>&nbsp;▶&nbsp;chosen",
             f"<span style='color:{theme.FAINT}'>■</span>&nbsp;✗&nbsp;removed"]
    if penalty:
        items.append("↓&nbsp;after&nbsp;the&nbsp;repetition&nbsp;penalty")
    if what_if:
        items.append("◇&nbsp;what&nbsp;the&nbsp;run&nbsp;really&nbsp;wrote")
    if seen:
        items.append(f"<b>{seen.replace(' ', '&nbsp;')}</b>")
    return " &nbsp; ".join(items)


class _RowAxis(pg.AxisItem):
    """An axis of per-row labels, each with its own colour and weight (pyqtgraph styles all alike)."""

    def __init__(self, orientation: str, widths: tuple[int, int], measure: QFont) -> None:
        super().__init__(orientation)
        self._styles: list[tuple[QColor, QFont]] = []
        self._widths = widths
        self._measure = measure  # the widest font the labels use: pyqtgraph measures with it
        # Fixed widths (set below) and no auto-expansion: otherwise each paint re-lays out the axis
        # and asks for a second paint.
        self.setStyle(tickLength=0, tickTextOffset=8, hideOverlappingLabels=False,
                      autoExpandTextSpace=False)
        self.setTickFont(self._measure)
        self.setWidth(widths[0])

    def set_rows(self, texts: list[str], styles: list[tuple[QColor, QFont]]) -> None:
        self._styles = styles
        # pyqtgraph drops any label that does not fit the axis: size the axis to the longest label,
        # and shorten (…) any label longer than the widest axis allowed.
        metrics = QFontMetrics(self._measure)
        room = self._widths[1] - 16 - metrics.horizontalAdvance(f"{len(texts)}{_SEP}")
        texts = [metrics.elidedText(text, Qt.TextElideMode.ElideRight, room) for text in texts]
        ticks = [(i, f"{i}{_SEP}{text}") for i, text in enumerate(texts)]
        needed = max((metrics.horizontalAdvance(tick) for _, tick in ticks), default=0) + 16
        width = int(min(max(needed, self._widths[0]), self._widths[1]))
        if width != self.width():
            self.setWidth(width)
        self.setTicks([ticks, []])

    def resizeEvent(self, ev: object = None) -> None:  # noqa: N802
        # pyqtgraph keeps its cached drawing of the labels through a resize, so a label that did not
        # fit the old width would stay missing: drop the cache and draw them again.
        super().resizeEvent(ev)
        self.picture = None
        self.update()

    def drawPicture(self, p: QPainter, axisSpec, tickSpecs, textSpecs) -> None:  # noqa: N802, ANN001
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        for rect, flags, text in textSpecs:
            index, _, label = text.partition(_SEP)
            if not index.isdigit() or int(index) >= len(self._styles):
                continue
            colour, font = self._styles[int(index)]
            p.setFont(font)
            p.setPen(colour)
            p.drawText(rect, int(flags), label)


CHANCES_HELP = ("Left: the model's own chance for each word piece; right, after the arrow: its chance after "
                "the samplers, which the dice use. A greyed word piece was removed by the stage named. Each "
                "stage's own numbers are shares of the chance still in play at that stage, so they differ "
                "from these: click a box under “What the samplers did”, or Stage by stage, to see every "
                "word's chance after each stage. Right-click a word to ban it or boost it.")


class DistributionPanel(QFrame):
    """Bars for one step's top candidates; plot items are created once and updated in place. A
    right-click on a row offers to ban or boost that word piece (`biasRequested`)."""

    biasRequested = Signal(int, float)  # token id, bias (−inf: a ban)
    sweepsRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stage_button = QPushButton("Stage by stage")
        self.stage_button.setCheckable(True)
        self.stage_button.setToolTip("Follow each word through the samplers: its chance after every "
                                     "stage, so you can see which one lowered it or crossed it out.")
        self.sweeps_button = QPushButton("Sweeps…")
        self.sweeps_button.setToolTip("How this word piece's chances would change as temperature or top-p "
                                      "moves from one end to the other, in a window beside this one.")
        self.sweeps_button.clicked.connect(self.sweepsRequested)
        buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.sweeps_button)
        row.addWidget(self.stage_button)
        layout, self.title = theme.panel(self, "Chances for the next word", buttons)
        # The title wraps rather than widen the panel: the text beside it keeps its room.
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.token_text: Callable[[int], str] = lambda token: f"#{token}"
        self.rows: list[Row] = []
        self.view: StepView | None = None
        self.seen = ""
        self._limit, self._compact = 0, False
        self._ranges: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.legend = QLabel(legend_text())
        self.legend.setObjectName("hint")
        self.legend.setWordWrap(True)
        self.legend.setToolTip("The pale bar is the model's own chance; the dark bar the chance after "
                               "the samplers, which the dice use. ␣ stands for a space.")
        self.empty = QLabel("Generate or step to see the chances of every possible next word.")
        self.empty.setObjectName("hint")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)

        self.left_axis = _RowAxis("left", LABEL_WIDTHS,
                                  theme.font(theme.BASE_POINT_SIZE + 1, bold=True, mono=True))
        self.right_axis = _RowAxis("right", VALUE_WIDTHS, theme.font(theme.BASE_POINT_SIZE, bold=True))
        self.plot = pg.PlotWidget(axisItems={"left": self.left_axis, "right": self.right_axis},
                                  background=theme.PANEL)
        item = self.plot.getPlotItem()
        item.showAxis("right")
        item.hideAxis("bottom")
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        item.invertY(True)
        item.getViewBox().setDefaultPadding(0.0)
        self.raw_bars = pg.BarGraphItem(x0=[0], y=[0], height=BAR_HEIGHT, width=[0], pen=None)
        self.final_bars = pg.BarGraphItem(x0=[0], y=[0], height=BAR_HEIGHT, width=[0], pen=None)
        item.addItem(self.raw_bars)
        item.addItem(self.final_bars)
        self.plot.setMinimumHeight(180)
        self.plot.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.plot.customContextMenuRequested.connect(self._row_menu)
        self.plot.setToolTip(CHANCES_HELP)

        self.stages = StageTable()
        layout.addWidget(self.legend)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.stages, 1)
        layout.addWidget(self.empty, 1)
        self.plot.hide()
        self.stages.hide()
        self.stage_button.toggled.connect(self._show_stages)

    def clear(self) -> None:
        self.rows = []
        self.view = None
        self.title.setText("Chances for the next word")
        self.plot.hide()
        self.stages.hide()
        self.empty.show()

    def _show_stages(self, on: bool) -> None:
        self.stage_button.setText("Back to the bars" if on else "Stage by stage")
        if self.view is not None:
            self.show_step(self.view, self.seen)

    def row_limit(self) -> int:
        """As many rows as fit legibly: a short window shows fewer, a tall one all of them."""
        height = self.plot.height() if self.plot.isVisible() else self.height() - 90
        return max(MIN_ROWS, (height - 8) // ROW_PIXELS)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        compact = self.width() < COMPACT_BELOW
        if self.view is not None and (self.row_limit(), compact) != (self._limit, self._compact):
            self.show_step(self.view, self.seen)

    def show_step(self, view: StepView, seen: str = "") -> None:
        """`seen`: through a model server, how many word pieces it listed ('the server listed 1,000 of 49,152')."""
        self.view, self.seen = view, seen
        self._limit, self._compact = self.row_limit(), self.width() < COMPACT_BELOW
        rows = rows_for(view, self.token_text, self._limit)
        self.rows = rows
        self.title.setText(title_text(view, rows))
        self.legend.setText(legend_text(view.is_what_if, any(r.p_penalty is not None for r in rows), seen))
        self.stages.token_text = self.token_text
        self.legend.setVisible(not self.stage_button.isChecked())  # the key is for the bars
        if self.stage_button.isChecked():
            self.stages.show_step(view, self._limit)
            self.empty.hide()
            self.plot.hide()
            self.stages.show()
            return
        self.stages.hide()
        n = len(rows)
        ys = np.arange(n, dtype=float)
        raw = np.array([r.p_raw for r in rows])
        final = np.array([0.0 if r.removed_by else r.p_final for r in rows])
        final = np.nan_to_num(final)
        raw_brushes = [pg.mkBrush(theme.REMOVED if r.removed_by else theme.RAW) for r in rows]
        final_brushes = [pg.mkBrush(theme.CHOSEN if r.chosen else theme.ACCENT) for r in rows]
        self.raw_bars.setOpts(x0=np.zeros(n), y=ys - BAR_HEIGHT / 2, height=BAR_HEIGHT, width=raw,
                              brushes=raw_brushes)
        self.final_bars.setOpts(x0=np.zeros(n), y=ys + BAR_HEIGHT / 2, height=BAR_HEIGHT,
                                width=final, brushes=final_brushes)
        self.left_axis.set_rows([self._label(r) for r in rows], [self._style(r) for r in rows])
        self.right_axis.set_rows([r.value_text(self._compact) for r in rows],
                                 [self._style(r, mono=False) for r in rows])
        # A label column that changed width re-lays out the plot: do it now, so this refresh paints the
        # plot once instead of a second time after Qt's deferred re-layout.
        self.plot.getPlotItem().layout.activate()
        top = float(max(raw.max(initial=0.0), final.max(initial=0.0), 0.05))
        # The scale snaps to steps of 10% and is set only when that step changes (each change redraws
        # the axes); streamed tokens still change it often, as their top chances differ.
        x_range, y_range = (0.0, min(1.0, np.ceil(top * 10) / 10) * 1.02), (-0.6, n - 0.4)
        if (x_range, y_range) != self._ranges:
            self._ranges = (x_range, y_range)
            self.plot.getPlotItem().setRange(xRange=x_range, yRange=y_range, padding=0)
        self.empty.hide()
        self.plot.show()

    def row_at(self, pos: QPoint) -> Row | None:
        """The row under `pos` (in the plot widget's coordinates), if any."""
        point = self.plot.getPlotItem().getViewBox().mapSceneToView(self.plot.mapToScene(pos))
        index = int(round(point.y()))
        return self.rows[index] if 0 <= index < len(self.rows) else None

    def bias_menu(self, row: Row) -> QMenu:
        menu = QMenu(self)
        word = elide(row.label, 20)
        menu.addAction(f"Ban ‘{word}’ (it can never be written)",
                       lambda: self.biasRequested.emit(row.token_id, -math.inf))
        menu.addAction(f"Boost ‘{word}’ (+{BOOST:g} to its score: about {math.exp(BOOST):.0f}× as likely)",
                       lambda: self.biasRequested.emit(row.token_id, BOOST))
        return menu

    def _row_menu(self, pos: QPoint) -> None:
        row = self.row_at(pos)
        if row is not None:
            self.bias_menu(row).popup(self.plot.mapToGlobal(pos))

    @staticmethod
    def _label(row: Row) -> str:
        mark = "▶ " if row.chosen else ("◇ " if row.was_picked else "")
        return mark + elide(row.label, 16)

    @staticmethod
    def _style(row: Row, mono: bool = True) -> tuple[QColor, QFont]:
        size = theme.BASE_POINT_SIZE + (1 if mono else 0)
        if row.chosen:
            return QColor(theme.CHOSEN), theme.font(size, bold=True, mono=mono)
        if row.removed_by:
            font = theme.font(size, mono=mono)
            font.setItalic(True)
            return QColor(theme.MUTED), font
        return QColor(theme.INK), theme.font(size, mono=mono)
