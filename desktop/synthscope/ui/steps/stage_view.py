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
from synthscope.sampling.explain import StageRow, stage_columns, stage_rows
from synthscope.ui import theme
from synthscope.session.mirror import StepView
from synthscope.ui.wording import STAGE_LABELS, elide, percent, setting_value, visible

HEADERS = {"model": "Model", "penalties": "Repeat\npenalty", "top_k": "Top-k", "typical_p": "Typical",
           "top_p": "Top-p", "min_p": "Min-p", "temperature": "Temper-\nature", "dry": "DRY",
           "top_n_sigma": "Top-n-\nsigma", "xtc": "XTC", "logit_bias": "Ban or\nboost", "grammar": "Grammar",
           "mirostat": "Mirostat", "adaptive_p": "Adaptive-p"}
FINAL = "\n(final)"  # added under the last column's name: the dice pick with those chances
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
    "temperature": "The chance after temperature spreads out or sharpens every chance.",
    "dry": "The chance after DRY, which lowers words that would continue a copy of earlier text.",
    "top_n_sigma": "The chance after top-n-sigma, which removes words whose score is far below the "
                   "favourite's.",
    "xtc": "The chance after XTC, which sometimes removes the most obvious words.",
    "logit_bias": "The chance after your bans and boosts.",
    "grammar": "The chance after the grammar removed every word piece that does not fit it here.",
    "mirostat": "The chance after mirostat kept the words its surprise limit allows.",
    "adaptive_p": "The chance after adaptive-p reshaped the odds towards its target.",
}
FINAL_HELP = " It is the last stage: the dice pick with these chances."
# The sentence subject for each stage, e.g. "The repetition penalty lowered ‘␣cat’ from 12% to 4%."
STAGE_SUBJECTS = {**STAGE_LABELS, "penalties": "The repetition penalty"}
CAPTION = "Each word's chance: the model's own, then after each sampler, left to right."
LEGEND = ("↓ = this stage lowered it · ✗ = this stage removed it (the words left share its chance) · "
          "Temperature spreads or sharpens every chance, so it gets no arrows. "
          "Each chance is a share of the chance still in play after that stage.")
RESHAPING = frozenset({"temperature", "adaptive_p"})  # they change every chance: no arrows


def cell_text(row: StageRow, column: int, columns: tuple[str, ...]) -> str:
    """What one cell says: the chance, with ↓ where this stage lowered it (temperature changes every
    chance, so it gets none), ✗ where this stage removed the word, and nothing after that."""
    if row.removed_at is not None and column > row.removed_at:
        return ""
    effect = row.effect(column)
    if effect == "removed":
        return "✗"  # the legend says what ✗ means; a word would not fit a narrow panel
    arrow = "↓" if effect == "lower" and columns[column] not in RESHAPING else ""
    return arrow + percent(row.chances[column])


def _subject(stage: str, settings: SamplerSettings) -> str:
    """'Top-k 40', 'The repetition penalty', 'DRY 0.8': the stage as a sentence's subject."""
    key = {"penalties": None, "dry": "dry_multiplier", "xtc": "xtc_probability", "logit_bias": None,
           "grammar": None, "mirostat": None, "adaptive_p": "adaptive_target"}.get(stage, stage)
    value = getattr(settings, key) if key else None
    return STAGE_SUBJECTS[stage] + ("" if value is None else f" {setting_value(value)}")


def cell_help(row: StageRow, column: int, word: str, settings: SamplerSettings,
              columns: tuple[str, ...]) -> str:
    """The cell's tooltip: which stage did what to the word, before → after, in one plain sentence."""
    quoted = f"‘{word}’"
    now = percent(row.chances[column])
    if column == 0:
        return f"The model gave {quoted} {now}, before any sampler changed it."
    if row.removed_at is not None and column > row.removed_at:
        return f"{STAGE_SUBJECTS[columns[row.removed_at]]} had already removed {quoted}."
    stage = columns[column]
    subject = _subject(stage, settings)
    value = settings.temperature
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
        self.columns: tuple[str, ...] = ()
        self.table = QTableWidget(0, 1)
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
        header = self.table.horizontalHeader()
        header.setFont(theme.font(theme.BASE_POINT_SIZE - 1))
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

    def _set_columns(self, columns: tuple[str, ...]) -> None:
        """One column per stage of this step's chain; the last one is named the final chances."""
        if columns == self.columns:
            return
        self.columns = columns
        self.table.setColumnCount(1 + len(columns))
        header = self.table.horizontalHeader()
        for column, name in enumerate(("word",) + columns):
            last = column == len(columns)
            label = "Word" if name == "word" else HEADERS[name] + (FINAL if last and column > 1 else "")
            item = QTableWidgetItem(label)
            item.setToolTip(HEADER_HELP[name] + (FINAL_HELP if last and column > 1 else ""))
            self.table.setHorizontalHeaderItem(column, item)
            self.table.setColumnHidden(column, False)
        # The stages share the width left by the words: the whole row is seen without scrolling.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        # The last header is the longest word: it gets just that width, the others share the rest.
        last = len(columns)
        header.setSectionResizeMode(last, QHeaderView.ResizeMode.Fixed)
        lines = self.table.horizontalHeaderItem(last).text().split("\n")
        widest = max(header.fontMetrics().horizontalAdvance(line) for line in lines)
        header.resizeSection(last, widest + 8)

    def show_step(self, view: StepView, limit: int = 12) -> None:
        self.rows = stage_rows(view.trace, limit)
        columns = stage_columns(view.trace)
        self._set_columns(columns)
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
            last = len(columns) - 1
            for column in range(len(columns)):
                item = QTableWidgetItem(cell_text(row, column, columns))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip(cell_help(row, column, shown, view.settings, columns))
                effect = row.effect(column)
                if effect == "removed":
                    font = QFont(item.font())
                    font.setItalic(True)
                    item.setFont(font)
                    item.setForeground(QColor(theme.MUTED))
                elif effect == "lower" and columns[column] not in RESHAPING:
                    item.setForeground(QColor(theme.WARNING_INK))
                elif column == last and chosen:
                    item.setForeground(QColor(theme.CHOSEN))
                self.table.setItem(r, column + 1, item)
        self._fit_rows()
