"""The sampler pipeline strip: one box per working stage, in the order they ran, saying what it did in
words and numbers; the boxes of the stages a person may reorder can be dragged into another order."""
from __future__ import annotations

from PySide6.QtCore import QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import QDrag, QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from synthscope.sampling.order import ORDERABLE
from synthscope.sampling.settings import LIST_SPEC_BY_KEY, SPEC_BY_KEY
from synthscope.session.mirror import StepView
from synthscope.ui import theme
from synthscope.ui.stage_words import StageWords, describe_stage
from synthscope.ui.steps.foldable import FoldButton
from synthscope.ui.wording import STAGE_LABELS, listed

_HELP = {
    "penalties": SPEC_BY_KEY["repeat_penalty"].help,
    "temperature": SPEC_BY_KEY["temperature"].help,
    "dry": SPEC_BY_KEY["dry_multiplier"].help,
    "xtc": SPEC_BY_KEY["xtc_probability"].help,
    "mirostat": SPEC_BY_KEY["mirostat"].help,
    "adaptive_p": SPEC_BY_KEY["adaptive_target"].help,
    "logit_bias": LIST_SPEC_BY_KEY["logit_bias"].help,
    "grammar": LIST_SPEC_BY_KEY["grammar"].help,
}
STRIP_HELP = ("The samplers run one after another, left to right. Each one may cross words out or change "
              "their chances; then the dice pick from what is left. Drag a box to run that sampler "
              "earlier or later; click one to see every word's chance after each sampler.")
DRAG_HELP = "Drag this box left or right to run this sampler earlier or later."
MIME = "application/x-synthscope-stage"


def _box_style(idle: bool, off: bool = False) -> str:
    if off:  # switched off: greyed and dashed
        return (f"QFrame#stage {{ background: {theme.BACKGROUND}; border: 1px dashed {theme.BORDER};"
                f" border-radius: 8px; }} QLabel {{ color: {theme.FAINT}; }}")
    if idle:  # it ran but removed nothing: a thin solid frame, readable text
        return (f"QFrame#stage {{ background: {theme.PANEL}; border: 1px solid {theme.BORDER};"
                f" border-radius: 8px; }} QLabel {{ color: {theme.INK}; }}"
                f" QLabel#detail {{ color: {theme.MUTED}; }}")
    return (f"QFrame#stage {{ background: {theme.PANEL}; border: 2px solid {theme.ACCENT};"
            f" border-radius: 8px; }} QLabel {{ color: {theme.INK}; }}"
            f" QLabel#detail {{ color: {theme.MUTED}; }}")


ESTIMATE_HELP = ("The model server listed only its likeliest word pieces, and this stage's cut or numbers "
                 "depend on the others, which are spread evenly as a guess: they are close, not exact.")


class StageBox(QFrame):
    """One stage: its setting, a headline with numbers and a line of detail; dashed when idle."""

    clicked = Signal(str)

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.help = _HELP.get(name) or SPEC_BY_KEY[name].help
        self.draggable = name in ORDERABLE
        self._pressed_at: QPoint | None = None
        if self.draggable:
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        self.idle: bool | None = None
        self.off: bool | None = None
        self.setObjectName("stage")
        self.title = QLabel()
        self.title.setFont(theme.font(theme.BASE_POINT_SIZE - 1, bold=True))
        self.title.setWordWrap(True)
        self.headline = QLabel()
        self.headline.setFont(theme.font(theme.BASE_POINT_SIZE + 1, bold=True))
        self.headline.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setObjectName("detail")
        self.detail.setFont(theme.font(theme.BASE_POINT_SIZE - 1))
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 6, 8)
        layout.setSpacing(2)
        for label in (self.title, self.headline, self.detail):
            layout.addWidget(label)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(90)
        # Room for a title, a two-line headline and a three-line detail even when the window is short.
        line = self.detail.fontMetrics().lineSpacing()
        self.setMinimumHeight(self.title.fontMetrics().lineSpacing() + 2 * self.headline.fontMetrics()
                              .lineSpacing() + 3 * line + 22)
        self.set_words(StageWords(name, "—", "", True))

    def set_words(self, words: StageWords, was: str | None = None) -> None:
        self.title.setText(words.title)
        self.headline.setText(words.headline)
        self.detail.setText(words.detail if was is None else f"{words.detail} · before your change: {was}")
        drag = f"<br><i>{DRAG_HELP}</i>" if self.draggable else ""
        self.setToolTip(f"<b>{words.sentence}</b><br>{self.help}{drag}")
        if (words.idle, words.off) != (self.idle, self.off):
            self.idle, self.off = words.idle, words.off
            self.setStyleSheet(_box_style(words.idle, words.off))


    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._pressed_at = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        start = self._pressed_at
        if (start is not None and self.draggable and (event.position().toPoint() - start).manhattanLength()
                >= QApplication.startDragDistance()):
            self._pressed_at = None
            drag = QDrag(self)
            data = QMimeData()
            data.setData(MIME, self.name.encode())
            drag.setMimeData(data)
            drag.setPixmap(self.grab())
            drag.setHotSpot(start)
            drag.exec(Qt.DropAction.MoveAction)
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pressed_at is not None and event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.name)
        self._pressed_at = None
        super().mouseReleaseEvent(event)


class _Row(QWidget):
    """The strip's row of boxes; a stage box dropped on it asks for a new order."""

    dropped = Signal(str, int)  # the stage, and the x where it was dropped

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptDrops(True)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragEnterEvent) -> None:  # type: ignore[override]
        if event.mimeData().hasFormat(MIME):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if event.mimeData().hasFormat(MIME):
            self.dropped.emit(bytes(event.mimeData().data(MIME).data()).decode(), int(event.position().x()))
            event.acceptProposedAction()


def moved(order: tuple[str, ...], stage: str, before: str | None) -> tuple[str, ...]:
    """`order` with `stage` moved just before `before` (to the end when None)."""
    rest = [name for name in order if name != stage]
    at = rest.index(before) if before in rest else len(rest)
    return tuple(rest[:at] + [stage] + rest[at:])


def _short(was: str, now: str) -> str:
    """'kept 40 of 49,152' against 'kept 2 of 49,152' is just 'kept 40': the rest did not change."""
    tail = now[now.rfind(" of "):] if " of " in now else None
    return was[: -len(tail)] if tail and was.endswith(tail) else was


def strip_summary(stages: list[StageWords]) -> str:
    """The folded strip's one line: what each working stage did, in order."""
    busy = [f"{words.title}: {words.headline}" for words in stages if not words.idle]
    return "  →  ".join(busy) if busy else "no sampler changed anything: the dice used the model's chances"


class PipelineStrip(QFrame):
    """The stages of this step's chain, left to right, in the order they ran; the switched-off ones
    are named in one line after them. `orderChanged` carries a new order when a box is dragged."""

    orderChanged = Signal(object)  # tuple of stage names (sampling.order's names)
    stageClicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("waiting for a word piece")
        strip = QWidget()
        self.fold = FoldButton([strip], self.summary)
        layout, self.title = theme.panel(self, "What the samplers did", self.fold)
        self.title.setToolTip(STRIP_HELP)
        self.boxes: dict[str, StageBox] = {}
        self.row_widget = _Row()
        self.row_widget.dropped.connect(self._dropped)
        self.row = QHBoxLayout(self.row_widget)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(3)
        self.off_note = QLabel()
        self.off_note.setObjectName("hint")
        self.off_note.setWordWrap(True)
        self.off_note.setFont(theme.font(theme.BASE_POINT_SIZE - 1))
        column = QVBoxLayout(strip)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.row_widget)
        column.addWidget(self.off_note)
        layout.addWidget(strip)
        layout.addWidget(self.summary)
        self._shown: tuple[str, ...] = ()
        self._order: tuple[str, ...] = ()
        self._arrows: list[QLabel] = []
        self.token_text = lambda token: f"#{token}"
        self.vocab: int | None = None
        self._lay_out(tuple(name for name in ORDERABLE if name in ("penalties", "top_k", "top_p", "min_p",
                                                                    "temperature")))

    def _box(self, name: str) -> StageBox:
        box = self.boxes.get(name)
        if box is None:
            box = self.boxes[name] = StageBox(name)
            box.clicked.connect(self.stageClicked)
        return box

    def _lay_out(self, names: tuple[str, ...]) -> None:
        """Put the boxes of `names` in the row, in that order, with arrows between them."""
        if names == self._shown:
            return
        while self.row.count():
            item = self.row.takeAt(0)
            widget = item.widget()
            if widget is not None:
                widget.hide()
        for arrow in self._arrows:
            arrow.deleteLater()
        self._arrows = []
        for i, name in enumerate(names):
            if i:
                arrow = QLabel("→")
                arrow.setObjectName("hint")
                arrow.setFont(theme.font(theme.BASE_POINT_SIZE))
                arrow.setAlignment(Qt.AlignmentFlag.AlignCenter)
                self._arrows.append(arrow)
                self.row.addWidget(arrow)
            box = self._box(name)
            self.row.addWidget(box, 1)
            box.show()
        self._shown = names

    def clear(self) -> None:
        for name in self._shown:
            self._box(name).set_words(StageWords(STAGE_LABELS[name], "—", "waiting for a word piece", True))
        self.off_note.hide()
        self.summary.setText("waiting for a word piece")

    def show_step(self, view: StepView, recorded: StepView | None = None) -> None:
        if view.trace.stages:  # the first stage sees the whole vocabulary
            self.vocab = view.trace.stages[0].n_in
        described = []
        shown, off = [], []
        for stage in view.trace.stages:
            words = describe_stage(stage, view.settings, self.token_text, self.vocab)
            described.append(words)
            was = None
            if recorded is not None and recorded.trace.has_stage(stage.name):
                before = describe_stage(recorded.trace.stage(stage.name), recorded.settings, self.token_text,
                                        self.vocab)
                if before.headline != words.headline:
                    was = _short(before.headline, words.headline)
            self._box(stage.name).set_words(words, was)
            (off if words.off and was is None else shown).append(stage.name)
        self._order = tuple(name for name in view.trace.stage_names if name in ORDERABLE)
        self._lay_out(tuple(shown))
        if off:
            names = [STAGE_LABELS[name] for name in off]
            self.off_note.setText(f"Off, so not shown: {listed(names)} (Show all settings turns them on).")
            self.off_note.show()
        else:
            self.off_note.hide()
        self.summary.setText(strip_summary(described))

    def _dropped(self, stage: str, x: int) -> None:
        if stage not in self._order:
            return
        target = next((name for name in self._shown if name in self._order and name != stage
                       and self._box(name).geometry().center().x() > x), None)
        order = moved(self._order, stage, target)
        if order != self._order:
            self.orderChanged.emit(order)

    def mark_estimates(self, names: set[str]) -> None:
        """Through a model server: these stages' numbers are estimates (their cut needs word pieces the
        server did not list); each such box's title says so."""
        for name in names & set(self._shown):
            box = self._box(name)
            box.title.setText(f"{box.title.text()} ≈ an estimate")
            box.setToolTip(f"{box.toolTip()}<br><i>{ESTIMATE_HELP}</i>")

    def sentences(self) -> dict[str, str]:
        """What each box says, as one sentence (for tests and the accessible description)."""
        return {name: f"{box.title.text()}: {box.headline.text()} — {box.detail.text()}"
                for name, box in self.boxes.items()}
