"""One column of the compare window: its settings, its text with the marks, and its surprise curve."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPoint, QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QResizeEvent, QTextCursor
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFrame, QGridLayout, QLabel, QPushButton,
                               QSpinBox, QWidget)

from synthscope.session.compare import CompareSpec, surprise_bits
from synthscope.ui import theme
from synthscope.ui.exploring.compare_worker import TokenMessage
from synthscope.ui.steps.text_view import Piece, TokenTextView
from synthscope.ui.wording import html, percent, visible

# Where the runs part ways and this run's own path: a dark crimson, with a contrast of at least 3.5 on
# every chance band (the old purple vanished on the ≥90% band) and no hue of a band or of "chosen".
DIVERGE = "#8A004C"
DIVERGE_ON_DARK = "#FF7AB8"  # the same mark on a dark plot background
CLICKED = theme.BAND_INK  # the position you clicked: a dark frame, dark on every (light) chance band
MARK_COLOURS = (DIVERGE, CLICKED)  # what is drawn over the shaded text
SURPRISE_HELP = ("Surprise is counted in bits: 0 bits means the model was sure of the word piece, and "
                 "each extra bit means it thought it half as likely (1 bit = 50%, 2 bits = 25%, "
                 "5 bits ≈ 3%).")
PLOT_HEIGHT = 150
ENDINGS = {"end": "The model chose to stop after {n} word pieces.",
           "limit": "Wrote {n} word pieces (the limit).",
           "context": "Stopped after {n} word pieces: the model's memory for text is full.",
           "error": "Stopped after {n} word pieces because of a problem (see above).",
           "stopped": "Stopped after {n} word pieces."}
Model = tuple[str, Path, bool]  # name, file, whether it is opened in the crash-proof check first


def quoted(label: str) -> str:
    """A token for a sentence, its spaces shown as ␣ like everywhere else (they matter)."""
    return "‘" + visible(label) + "’"


class OneLineLabel(QLabel):
    """One line that shortens itself with … when narrow (the full text is its tooltip), so the
    settings below it stay level across the columns."""

    def __init__(self) -> None:
        super().__init__()
        self.full = ""
        self.setMinimumWidth(40)

    def setText(self, text: str) -> None:  # noqa: N802
        self.full = text
        self.setToolTip(text)
        self._fit()

    def text(self) -> str:
        return self.full

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(40, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        shown = self.fontMetrics().elidedText(self.full, Qt.TextElideMode.ElideRight, max(40, self.width()))
        super().setText(shown)


class CompareTextView(TokenTextView):
    """Read-only token text; also marks where the runs first part ways and where this one leaves column 1."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setFont(theme.font(theme.TEXT_POINT_SIZE - 3))
        # Orange means "chosen" elsewhere: here the clicked position gets a dark frame.
        self.frame_colour = CLICKED
        self.first: int | None = None  # first position where the runs do not all agree
        self.own: int | None = None  # first position where this run differs from column 1
        self.ended = False

    def show_prompt(self, prompt: str) -> None:
        """The prompt in the same ink as in the main window."""
        self.set_prompt(prompt)

    def set_marks(self, first: int | None, own: int | None) -> None:
        if (first, own) != (self.first, self.own):
            self.first, self.own = first, own
            self.viewport().update()

    def show_token(self, index: int) -> None:
        if not self.spans:
            return
        cursor = QTextCursor(self.document())
        cursor.setPosition(self.spans[min(index, len(self.spans) - 1)][0])
        self.setTextCursor(cursor)
        self.ensureCursorVisible()

    def _visible_tokens(self) -> tuple[int, int]:
        """The first and last token on screen (only those are painted: a long run stays cheap)."""
        top = self.span_index(self.cursorForPosition(QPoint(0, 0)).position())
        corner = QPoint(self.viewport().width(), self.viewport().height())
        bottom = self.span_index(self.cursorForPosition(corner).position())
        return top or 0, len(self.spans) - 1 if bottom is None else bottom

    def paintEvent(self, e: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(e)
        if not self.spans:
            return
        p = QPainter(self.viewport())
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self.own is not None:  # this run's own path: a line under every token from there on
            p.setPen(QPen(QColor(DIVERGE), 2.5))
            first, last = self._visible_tokens()
            for index in range(max(self.own, first), last + 1):
                for rect in self.token_rects(index):
                    p.drawLine(rect.left(), rect.bottom(), rect.right(), rect.bottom())
        if self.first is not None:
            if self.first < len(self.spans):
                rects = self.token_rects(self.first)
                x, rect = (rects[0].left() - 2, rects[0]) if rects else (None, None)
            else:  # this run ended where the others went on: the bar stands after its last token
                rects = self.token_rects(len(self.spans) - 1)
                x, rect = (rects[-1].right() + 2, rects[-1]) if rects else (None, None)
            if x is not None and rect is not None:
                p.setPen(QPen(QColor(DIVERGE), 4, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
                p.drawLine(x, rect.top() - 3, x, rect.bottom() + 3)
        p.end()


class SurprisePlot(pg.PlotWidget):
    """Bits of surprise per token, with the selected position and the parting point marked."""

    positionClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=theme.PANEL)
        item = self.getPlotItem()
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.setMenuEnabled(False)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(theme.BORDER)  # also sets the label's colour: the labels come after
            axis.setTextPen(theme.INK)
            axis.setTickFont(theme.font(theme.BASE_POINT_SIZE - 2))
        style = {"color": theme.INK, "font-size": f"{theme.BASE_POINT_SIZE - 1}pt",
                 "font-family": theme.FONT_FAMILY}
        item.setLabel("left", "surprise (bits)", **style)
        item.setLabel("bottom", "word piece number", **style)
        self.setToolTip(SURPRISE_HELP + " Higher = the model expected that word piece less. "
                        "Click a point to look at that word piece in every column.")
        self.curve = pg.PlotDataItem([], [], pen=pg.mkPen(theme.ACCENT, width=2), symbol="o", symbolSize=6,
                                     symbolPen=pg.mkPen(theme.ACCENT), symbolBrush=pg.mkBrush(theme.PANEL))
        item.addItem(self.curve)
        dark = QColor(theme.PANEL).lightness() < 128
        self.selected = pg.InfiniteLine(angle=90, pen=pg.mkPen(theme.INK, width=2.5))
        self.parting = pg.InfiniteLine(angle=90, pen=pg.mkPen(DIVERGE_ON_DARK if dark else DIVERGE, width=2,
                                                              style=Qt.PenStyle.DashLine))
        for line in (self.selected, self.parting):
            line.hide()
            item.addItem(line)
        self.setFixedHeight(PLOT_HEIGHT)
        self._range: tuple[int, float] | None = None
        self._count = 0
        self.scene().sigMouseClicked.connect(self._clicked)

    def show_bits(self, bits: list[float]) -> None:
        self._count = len(bits)
        self.curve.setData(np.arange(1, len(bits) + 1), np.array(bits, dtype=float))

    def set_scale(self, length: int, top: float) -> None:
        wanted = (max(length, 10), float(np.ceil(max(top, 4.0))))
        if wanted != self._range:
            self._range = wanted
            self.getPlotItem().setRange(xRange=(0.5, wanted[0] + 0.5), yRange=(0, wanted[1]), padding=0.02)

    def set_marks(self, selected: int | None, parting: int | None) -> None:
        for line, index in ((self.selected, selected), (self.parting, parting)):
            line.setVisible(index is not None)
            if index is not None:
                line.setValue(index + 1)

    def _clicked(self, event: object) -> None:
        point = self.getPlotItem().getViewBox().mapSceneToView(event.scenePos())  # type: ignore[attr-defined]
        index = round(float(QPointF(point).x())) - 1
        if 0 <= index < self._count:
            self.positionClicked.emit(index)


class CompareColumn(QFrame):
    """A column: what it changes, editable settings, the text and the surprise curve."""

    changed = Signal()  # a setting was edited
    removeRequested = Signal()
    positionClicked = Signal(int)

    def __init__(self, spec: CompareSpec, models: list[Model], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tokens: list[TokenMessage] = []
        self.ended: str | None = None
        self.selected: int | None = None
        self._settings = spec.settings  # the settings not edited here travel along unchanged
        self.layout_, self.title = theme.panel(self, "Column")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove this column from the comparison")
        self.remove_button.clicked.connect(self.removeRequested)
        self.layout_.removeWidget(self.title)  # panel()'s title goes into the header row
        header = QGridLayout()
        header.addWidget(self.title, 0, 0, 1, 2)
        header.addWidget(self.remove_button, 0, 2, Qt.AlignmentFlag.AlignRight)
        self.label = OneLineLabel()
        self.label.setObjectName("hint")
        header.addWidget(self.label, 1, 0, 1, 3)
        self.temperature = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=5.0, singleStep=0.1)
        self.top_p = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.model = QComboBox()
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(8)
        for place, (name, box, tip) in enumerate((
                ("Temperature", self.temperature,
                 "0 always takes the top word piece; higher flattens the odds"),
                ("Top-p", self.top_p, "Keep the likeliest word pieces until they cover this share; 1 is off"),
                ("Seed", self.seed, "Which dice: the same seed and settings write the same text"))):
            label = QLabel(name)
            label.setObjectName("hint")
            label.setToolTip(tip)
            box.setToolTip(tip)
            box.setMinimumWidth(70)
            header.addWidget(label, 2, place)
            header.addWidget(box, 3, place)
        model_label = QLabel("Model")
        model_label.setObjectName("hint")
        header.addWidget(model_label, 4, 0)
        header.addWidget(self.model, 4, 1, 1, 2)  # on a row of its own: four columns fit 1400 px
        for place, stretch in enumerate((3, 3, 4)):
            header.setColumnStretch(place, stretch)
        self.layout_.addLayout(header)
        self.view = CompareTextView()
        self.view.tokenClicked.connect(self.positionClicked)
        self.layout_.addWidget(self.view, 1)
        self.readout = QLabel()
        self.readout.setWordWrap(True)
        self.readout.setAlignment(Qt.AlignmentFlag.AlignTop)
        # Three lines always: the curves below stay level across the columns.
        self.readout.setFixedHeight(3 * self.readout.fontMetrics().lineSpacing() + 6)
        self.readout.setToolTip(SURPRISE_HELP)
        self.layout_.addWidget(self.readout)
        caption = QLabel("Surprise: how unexpected each word piece was to the model (higher = less expected)")
        caption.setObjectName("hint")
        caption.setWordWrap(True)
        caption.setToolTip(SURPRISE_HELP)
        self.layout_.addWidget(caption)
        self.plot = SurprisePlot()
        self.plot.positionClicked.connect(self.positionClicked)
        self.layout_.addWidget(self.plot)
        self.set_models(models, spec.model_path)
        self.set_spec(spec)
        for box in (self.temperature, self.top_p, self.seed):
            box.valueChanged.connect(self.changed)
        self.model.currentIndexChanged.connect(self.changed)
        self._refresh_readout()

    # -- settings ---------------------------------------------------------------------------
    def set_spec(self, spec: CompareSpec) -> None:
        self._settings = spec.settings
        self.temperature.setValue(spec.settings.temperature)
        self.top_p.setValue(spec.settings.top_p)
        self.seed.setValue(spec.seed)
        self._choose_model(spec.model_path, spec.name)

    def spec(self) -> CompareSpec:
        settings = self._settings.with_changes(temperature=self.temperature.value(), top_p=self.top_p.value())
        name, path, _ = self.model.currentData()
        return CompareSpec(path, self.seed.value(), settings, model_name=name)

    def probe(self) -> bool:
        return bool(self.model.currentData()[2])

    def set_models(self, models: list[Model], keep: Path | None = None) -> None:
        current = keep if keep is not None else self.model.currentData()[1]
        self.model.blockSignals(True)
        self.model.clear()
        for model in models:
            self.model.addItem(model[0], model)
            self.model.setItemData(self.model.count() - 1, str(model[1]), Qt.ItemDataRole.ToolTipRole)
        self._choose_model(current, Path(current).stem)
        self.model.blockSignals(False)

    def _choose_model(self, path: Path, name: str) -> None:
        for row in range(self.model.count()):
            if Path(self.model.itemData(row)[1]) == Path(path):
                self.model.setCurrentIndex(row)
                return
        self.model.addItem(name, (name, Path(path), True))
        self.model.setCurrentIndex(self.model.count() - 1)

    def set_title(self, number: int, label: str, removable: bool) -> None:
        self.title.setText(f"Column {number}")
        self.label.setText(label)
        self.remove_button.setVisible(removable)

    # -- the run ----------------------------------------------------------------------------
    def start(self, prompt: str) -> None:
        self.tokens, self.ended, self.selected = [], None, None
        self.view.show_prompt(prompt)
        self.view.set_marks(None, None)
        self.plot.show_bits([])
        self.plot.set_marks(None, None)
        self._refresh_readout()

    def add(self, tokens: list[TokenMessage]) -> None:
        self.tokens += tokens
        self.view.append_tokens(Piece(t.text, t.p_raw, t.is_end) for t in tokens)
        self.plot.show_bits([surprise_bits(t.p_raw) for t in self.tokens])
        self._refresh_readout()

    def end(self, reason: str) -> None:
        self.ended = reason
        self._refresh_readout()

    def set_marks(self, first: int | None, own: int | None) -> None:
        self.view.set_marks(first, own)
        self.plot.set_marks(self.selected, first)

    def select(self, index: int | None) -> None:
        self.selected = index
        self.view.set_selected(index if index is not None and index < len(self.tokens) else None)
        if index is not None:
            self.view.show_token(index)
        self.plot.set_marks(index, self.view.first)
        self._refresh_readout()

    def _refresh_readout(self) -> None:
        n = len(self.tokens)
        status = (ENDINGS.get(self.ended or "", "Wrote {n} word pieces so far.").format(n=n)
                  if n or self.ended else "Press Generate to write.")
        index = self.selected
        if index is None:
            detail = "Click a word piece to see the same position in every column."
        elif index < n:
            token = self.tokens[index]
            bits = surprise_bits(token.p_raw)
            detail = (f"Word piece {index + 1}: <b>{html(quoted(token.label))}</b> — the model gave it "
                      f"{percent(token.p_raw)}: a surprise of {bits:.1f} bits (higher = less expected).")
        else:
            detail = f"Word piece {index + 1}: this run had already ended."
        self.readout.setText(f"{detail}<br><span style='color:{theme.MUTED}'>{status}</span>")
