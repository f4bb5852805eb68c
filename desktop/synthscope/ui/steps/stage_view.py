"""Follow each word through the samplers: a small table of every candidate's chance after every stage."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from synthscope.sampling import SamplerSettings
from synthscope.sampling.explain import STAGE_COLUMNS, StageRow, stage_rows
from synthscope.ui import theme
from synthscope.session.mirror import StepView
from synthscope.ui.wording import STAGE_LABELS, elide, percent, setting_value, visible

HEADERS = {"model": "Model", "penalties": "Repeat\npenalty", "top_k": "Top-k", "typical_p": "Typical",
           "top_p": "Top-p", "min_p": "Min-p", "temperature": "Temperature\n(final)"}
# One plain sentence per column: what the number under it is.
HEADER_HELP = {
    "word": "The likeliest next word pieces, the likeliest first; ▶ marks the one that was written.",
    "model": "The chance the model itself gave each word, before any sampler changed it.",
    "penalties": "The chance after the repetition penalty, which makes recently written words less likely.",
    "top_k": "The chance after top-k, which keeps only that many of the likeliest words and removes "
             "the rest.",
    "typical_p": "The chance after typical-p, which removes words much more or much less surprising than "
                 "a typical word here.",
    "top_p": "The chance after top-p, which keeps the likeliest words until they cover that share of the "
             "chance and removes the rest.",
    "min_p": "The chance after min-p, which removes every word far less likely than the favourite.",
    "temperature": "The final chance, after temperature spreads out or sharpens every chance: the dice "
                   "pick with these.",
}
# The sentence subject for each stage, e.g. "The repetition penalty lowered ‘␣cat’ from 12% to 4%."
STAGE_SUBJECTS = {**STAGE_LABELS, "penalties": "The repetition penalty"}
CAPTION = "Each word's chance: the model's own, then after each sampler, left to right."
LEGEND = ("↓ = this stage lowered it · ✗ = this stage removed it (the words left share its chance) · "
          "Temperature spreads or sharpens every chance, so it gets no arrows.")
LAST = len(STAGE_COLUMNS) - 1  # the temperature column: the draw's odds


def cell_text(row: StageRow, column: int) -> str:
    """What one cell says: the chance, with ↓ where this stage lowered it (temperature changes every
    chance, so it gets none), ✗ where this stage removed the word, and nothing after that."""
    if row.removed_at is not None and column > row.removed_at:
        return ""
    effect = row.effect(column)
    if effect == "removed":
        return "✗"  # the legend says what ✗ means; a word would not fit a narrow panel
    arrow = "↓" if effect == "lower" and column != LAST else ""
    return arrow + percent(row.chances[column])


def cell_help(row: StageRow, column: int, word: str, settings: SamplerSettings) -> str:
    """The cell's tooltip: which stage did what to the word, before → after, in one plain sentence."""
    quoted = f"‘{word}’"
    now = percent(row.chances[column])
    if column == 0:
        return f"The model gave {quoted} {now}, before any sampler changed it."
    if row.removed_at is not None and column > row.removed_at:
        return f"{STAGE_SUBJECTS[STAGE_COLUMNS[row.removed_at]]} had already removed {quoted}."
    stage = STAGE_COLUMNS[column]
    value = getattr(settings, "repeat_penalty" if stage == "penalties" else stage)  # its setting
    subject = STAGE_SUBJECTS[stage] + ("" if stage == "penalties" else f" {setting_value(value)}")
    before, effect = percent(row.chances[column - 1]), row.effect(column)
    if effect == "removed":
        why = " (at 0 only the top word stays)" if stage == "temperature" else ""
        return f"{subject} removed {quoted}{why}: it had {before}, now it cannot be picked."
    if stage == "temperature":
        how = "sharpens the chances" if value < 1 else "spreads out the chances" if value > 1 \
            else "leaves the chances as they are"
        return f"{subject} {how}: {quoted} went from {before} to {now}."
    if effect == "lower":
        return f"{subject} lowered {quoted} from {before} to {now}."
    if effect == "higher" and stage != "penalties":
        return f"{subject} removed other words, so {quoted} rose from {before} to {now}: the words left " \
               "share the whole chance."
    if effect == "higher":  # a negative frequency or presence penalty can raise a word itself
        made = "changed the chances" if min(settings.frequency_penalty, settings.presence_penalty) < 0 \
            else "made other words less likely"
        return f"{subject} {made}, so {quoted} rose from {before} to {now}."
    return f"{subject} left {quoted} at {now}."


class StageTable(QWidget):
    """Rows: the likeliest words; columns: the model, then each stage in order. Read-only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.token_text: Callable[[int], str] = lambda token: f"#{token}"
        self.rows: list[StageRow] = []
        self.caption = QLabel(CAPTION)
        self.caption.setObjectName("hint")
        self.caption.setWordWrap(True)
        self.legend = QLabel(LEGEND)
        self.legend.setObjectName("hint")
        self.legend.setWordWrap(True)
        self.table = QTableWidget(0, 1 + len(STAGE_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setFont(theme.font(theme.BASE_POINT_SIZE - 1))
        self.table.setFrameShape(QTableWidget.Shape.NoFrame)
        self.table.setStyleSheet(f"QTableWidget {{ background: {theme.PANEL}; border: none; }}"
                                 f" QHeaderView::section {{ background: {theme.PANEL}; color: {theme.MUTED};"
                                 f" border: none; border-bottom: 1px solid {theme.BORDER}; padding: 0px; }}")
        for column, name in enumerate(("word",) + STAGE_COLUMNS):
            item = QTableWidgetItem("Word" if name == "word" else HEADERS[name])
            item.setToolTip(HEADER_HELP[name])
            self.table.setHorizontalHeaderItem(column, item)
        header = self.table.horizontalHeader()
        header.setFont(theme.font(theme.BASE_POINT_SIZE - 1))
        # The stages share the width left by the words: the whole row is seen without scrolling.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        # The last header is the longest word: it gets just that width, the others share the rest.
        header.setSectionResizeMode(1 + LAST, QHeaderView.ResizeMode.Fixed)
        lines = HEADERS["temperature"].split("\n")
        widest = max(header.fontMetrics().horizontalAdvance(line) for line in lines)
        header.resizeSection(1 + LAST, widest + 8)
        header.setMinimumSectionSize(20)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.verticalHeader().setDefaultSectionSize(theme.font().pointSize() * 2 + 2)
        self.empty = QLabel("This step was recorded without the chances after each stage.")
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.table)
        layout.addWidget(self.legend)
        layout.addWidget(self.empty)
        layout.addStretch(1)
        self.empty.hide()

    def clear(self) -> None:
        self.rows = []
        self.table.setRowCount(0)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_rows()

    def _fit_rows(self) -> None:
        """Make the table exactly as tall as the whole rows that fit: no row is cut in half, and the
        rest are reached by scrolling one whole row at a time."""
        width, spacing = max(self.width(), 1), self.layout().spacing()
        room = self.height() - self.caption.heightForWidth(width) - self.legend.heightForWidth(width) \
            - 2 * spacing
        top = self.table.horizontalHeader().sizeHint().height() + 2 * self.table.frameWidth()
        step = self.table.verticalHeader().defaultSectionSize()
        fit = max(1, (room - top) // step)
        self.table.setFixedHeight(top + min(fit, max(self.table.rowCount(), 1)) * step)

    def show_step(self, view: StepView, limit: int = 12) -> None:
        self.rows = stage_rows(view.trace, limit)
        # A sampler that is switched off changes nothing: its column is left out (the last one stays).
        for column, stage in enumerate(view.trace.stages[:-1], start=2):
            self.table.setColumnHidden(column, not stage.active)
        off = [STAGE_SUBJECTS[stage.name] for stage in view.trace.stages[:-1] if not stage.active]
        self.caption.setText(CAPTION + (f" Off, so left out: {', '.join(off)}." if off else ""))
        self.empty.setVisible(not self.rows)
        self.table.setVisible(bool(self.rows))
        self.legend.setVisible(bool(self.rows))
        self.table.setRowCount(len(self.rows))
        bold = theme.font(theme.BASE_POINT_SIZE - 1, bold=True, mono=True)
        mono = theme.font(theme.BASE_POINT_SIZE - 1, mono=True)
        for r, row in enumerate(self.rows):
            chosen = row.token_id == view.token_id
            shown = visible(self.token_text(row.token_id))
            word = QTableWidgetItem(("▶ " if chosen else "") + elide(shown, 14))
            word.setFont(bold if chosen else mono)
            word.setForeground(QColor(theme.CHOSEN if chosen else theme.INK))
            word.setToolTip(f"‘{shown}’" + (": the word that was written." if chosen else ""))
            self.table.setItem(r, 0, word)
            for column in range(len(STAGE_COLUMNS)):
                item = QTableWidgetItem(cell_text(row, column))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(cell_help(row, column, shown, view.settings))
                effect = row.effect(column)
                if effect == "removed":
                    font = QFont(item.font())
                    font.setItalic(True)
                    item.setFont(font)
                    item.setForeground(QColor(theme.MUTED))
                elif effect == "lower" and column != LAST:
                    item.setForeground(QColor(theme.WARNING_INK))
                elif column == LAST and chosen:
                    item.setForeground(QColor(theme.CHOSEN))
                self.table.setItem(r, column + 1, item)
        self._fit_rows()
