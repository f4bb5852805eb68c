"""Follow each word through the samplers: a small table of every candidate's chance after every stage."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from synthscope.sampling import STAGE_NAMES
from synthscope.sampling.explain import STAGE_COLUMNS, StageRow, stage_rows
from synthscope.sampling.settings import SPEC_BY_KEY
from synthscope.ui import theme
from synthscope.ui.run_model import StepView
from synthscope.ui.wording import elide, percent, visible

HEADERS = {"model": "Model", "penalties": "Penalty", "top_k": "Top-k", "typical_p": "Typical",
           "top_p": "Top-p", "min_p": "Min-p", "temperature": "Final"}
HEADER_HELP = {
    "model": "The model's own chance for the word, before any sampler ran.",
    "penalties": "After the repetition penalty: " + SPEC_BY_KEY["repeat_penalty"].help,
    "top_k": "After top-k: " + SPEC_BY_KEY["top_k"].help,
    "typical_p": "After typical-p: " + SPEC_BY_KEY["typical_p"].help,
    "top_p": "After top-p: " + SPEC_BY_KEY["top_p"].help,
    "min_p": "After min-p: " + SPEC_BY_KEY["min_p"].help,
    "temperature": "After temperature, the last step: these are the chances the dice use. "
                   + SPEC_BY_KEY["temperature"].help,
}
CAPTION = ("Each word's chance after every sampler, left to right. ↓: that sampler lowered it; ✗: crossed "
           "out there. (When words are crossed out, the others' chances grow: they share the total.)")
MARKS = {"lower": "↓", "higher": "", "same": "", "removed": "✗"}


def cell_text(row: StageRow, column: int) -> str:
    """What one cell says: the chance with a mark for what the stage did, ✗ where it was removed, or
    nothing after that."""
    if row.removed_at is not None and column > row.removed_at:
        return ""
    effect = row.effect(column)
    if effect == "removed":
        return "✗"  # the caption says what ✗ means; a word would not fit a narrow panel
    return MARKS[effect] + percent(row.chances[column])


class StageTable(QWidget):
    """Rows: the likeliest words; columns: the model, then each stage in order. Read-only."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.token_text: Callable[[int], str] = lambda token: f"#{token}"
        self.rows: list[StageRow] = []
        self.caption = QLabel(CAPTION)
        self.caption.setObjectName("hint")
        self.caption.setWordWrap(True)
        self.table = QTableWidget(0, 1 + len(STAGE_COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setFont(theme.font(theme.BASE_POINT_SIZE - 1))
        self.table.setStyleSheet(f"QTableWidget {{ background: {theme.PANEL}; border: none; }}"
                                 f" QHeaderView::section {{ background: {theme.PANEL}; color: {theme.MUTED};"
                                 f" border: none; border-bottom: 1px solid {theme.BORDER}; padding: 2px; }}")
        for column, name in enumerate(("word",) + STAGE_COLUMNS):
            item = QTableWidgetItem("Word" if name == "word" else HEADERS[name])
            item.setToolTip("The likeliest next words." if name == "word" else HEADER_HELP[name])
            self.table.setHorizontalHeaderItem(column, item)
        header = self.table.horizontalHeader()
        # The stages share the width left by the words: the whole row is seen without scrolling.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(20)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.table.verticalHeader().setDefaultSectionSize(theme.font().pointSize() * 2 + 2)
        self.empty = QLabel("This step was recorded without the chances after each stage.")
        self.empty.setObjectName("hint")
        self.empty.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        self.empty.hide()

    def clear(self) -> None:
        self.rows = []
        self.table.setRowCount(0)

    def show_step(self, view: StepView, limit: int = 12) -> None:
        self.rows = stage_rows(view.trace, limit)
        # A sampler that is switched off changes nothing: its column is left out (the last one stays).
        for column, stage in enumerate(view.trace.stages[:-1], start=2):
            self.table.setColumnHidden(column, not stage.active)
        off = [HEADERS[stage.name] for stage in view.trace.stages[:-1] if not stage.active]
        self.caption.setText(CAPTION + (f" Left out, because they are off: {', '.join(off)}." if off else ""))
        self.empty.setVisible(not self.rows)
        self.table.setVisible(bool(self.rows))
        self.table.setRowCount(len(self.rows))
        bold = theme.font(theme.BASE_POINT_SIZE - 1, bold=True, mono=True)
        mono = theme.font(theme.BASE_POINT_SIZE - 1, mono=True)
        for r, row in enumerate(self.rows):
            chosen = row.token_id == view.token_id
            name = elide(visible(self.token_text(row.token_id)), 14)
            word = QTableWidgetItem(("▶ " if chosen else "") + name)
            word.setFont(bold if chosen else mono)
            word.setForeground(QColor(theme.CHOSEN if chosen else theme.INK))
            self.table.setItem(r, 0, word)
            for column in range(len(STAGE_COLUMNS)):
                item = QTableWidgetItem(cell_text(row, column))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                effect = row.effect(column)
                if effect == "removed":
                    font = QFont(item.font())
                    font.setItalic(True)
                    item.setFont(font)
                    item.setForeground(QColor(theme.MUTED))
                elif effect == "lower":
                    item.setForeground(QColor(theme.WARNING_INK))
                elif column == len(STAGE_COLUMNS) - 1 and chosen:
                    item.setForeground(QColor(theme.CHOSEN))
                if column and effect != "same":
                    stage = STAGE_NAMES[column - 1]
                    item.setToolTip(f"{HEADERS[stage]}: {percent(row.chances[column - 1])} → "
                                    f"{percent(row.chances[column])}"
                                    + (" (crossed out)" if effect == "removed" else ""))
                self.table.setItem(r, column + 1, item)
