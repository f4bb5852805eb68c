"""File → Models on this computer: every GGUF model Synthscope can find, with its facts, to open one."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from synthscope.engine import discovery
from synthscope.engine.default_model import default_model_path
from synthscope.engine.discovery import SOURCES, FoundModel, discover
from synthscope.engine.errors import ModelLoadError
from synthscope.ui import theme
from synthscope.ui.models.scan import ModelScan

PLACES = {"project": "Synthscope folder", "user": "Your models folder",
          "huggingface": "Hugging Face", "lmstudio": "LM Studio", "ollama": "Ollama",
          "package": "Came with Synthscope"}
QUANTISATION_HELP = ("How the model's numbers are compressed: fewer bits means a smaller, faster file that "
                     "is slightly less exact.")
COLUMNS = (
    ("Name", "The model's name, from its folder or file name; hover a row for where the file is."),
    ("Found in", "Where on this computer the model was found."),
    ("Size", "How much disk space the file takes; bigger models usually write better but slower."),
    ("Kind", "The family of network design the model belongs to, such as llama or gemma."),
    ("Parameters", "How many numbers the model learned; more usually means more knowledge, slower writing."),
    ("Quantisation", QUANTISATION_HELP),
    ("Word pieces", "How many different word pieces (tokens) the model can choose from at every step: "
                    "its vocabulary."),
    ("Context", "How much text the model was trained to keep in view at once."),
)
TABLE_POINT_SIZE = theme.BASE_POINT_SIZE - 1  # eight columns side by side


def table_style() -> str:
    return (f"QTableWidget {{ background: {theme.PANEL}; alternate-background-color: {theme.BACKGROUND}; "
            f"font-size: {TABLE_POINT_SIZE}pt; border: 1px solid {theme.BORDER}; border-radius: 6px; "
            f"selection-background-color: {theme.WHATIF_BG}; selection-color: {theme.INK}; outline: 0; }} "
            f"QTableWidget::item {{ padding-left: 4px; padding-right: 10px; }} "
            f"QHeaderView::section {{ background: {theme.BACKGROUND}; color: {theme.INK}; "
            f"font-size: {TABLE_POINT_SIZE}pt; border: none; border-bottom: 1px solid {theme.BORDER}; "
            f"padding: 4px 4px 4px 8px; }} QPushButton:default {{ border-color: {theme.ACCENT}; }}")


NAME_WIDTH = 340  # at most, for the name column, when the dialog widens to show every column whole
OPEN_NOW = "▶ "  # before the name of the model open now
LOOKING = "Looking for models…"
PATH_ROLE = Qt.ItemDataRole.UserRole  # on the name cell, only where the model can be opened
SORT_ROLE = Qt.ItemDataRole.UserRole + 1


def size_text(size_bytes: int) -> str:
    if size_bytes >= 1e9:
        return f"{size_bytes / 1e9:.1f} GB"
    return f"{size_bytes / 1e6:,.0f} MB" if size_bytes >= 1e6 else f"{max(1, round(size_bytes / 1e3))} KB"


def parameters_text(count: int | None) -> str:
    if count is None:
        return "—"
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if count >= scale:
            value = count / scale
            return f"{value:.1f}{suffix}" if value < 10 else f"{value:.0f}{suffix}"
    return str(count)


def searched_folders() -> list[tuple[str, Path]]:
    """(place, folder) for every folder the scan looks in, in the order it looks."""
    project = discovery.project_models_dir()
    folders = [(PLACES["project"], project)] if project is not None else []
    folders.append((PLACES["user"], discovery.user_models_dir()))
    folders += [(PLACES["huggingface"], hub) for hub in discovery.huggingface_dirs()]
    folders += [(PLACES["lmstudio"], folder) for folder in discovery.lmstudio_dirs()]
    folders.append((PLACES["ollama"], discovery.ollama_dir()))
    try:
        folders.append((PLACES["package"], default_model_path().parent))
    except ModelLoadError:
        pass
    return folders


class _Cell(QTableWidgetItem):
    """A cell that sorts by its key (bytes, counts, the scan's order of places), not by its text."""

    def __init__(self, text: str, key: int | str) -> None:
        super().__init__(text)
        self.setData(SORT_ROLE, key)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.data(SORT_ROLE) < other.data(SORT_ROLE)  # one column's keys share one type


class ModelPickerDialog(QDialog):
    """Lists the models found (the scan runs on a thread of its own); Open or a double-click emits
    `chosen` with the file's path. Nothing is loaded here."""

    chosen = Signal(str)

    def __init__(self, current_path: str | None = None, parent: QWidget | None = None,
                 scan: Callable[[], list[FoundModel]] = discover) -> None:
        super().__init__(parent)
        self.setWindowTitle("Models on this computer")
        self.current = os.path.realpath(current_path) if current_path else None
        self.job = ModelScan(scan, self)
        self.found: list[FoundModel] = []
        layout = QVBoxLayout(self)
        intro = QLabel("These are the language models Synthscope found on this computer. "
                       "Nothing is loaded until you press Open.")
        intro.setWordWrap(True)
        folders = searched_folders()
        self.where = where = QLabel("Looked in Synthscope's folders, the Hugging Face cache, LM Studio "
                                    "and Ollama (hover here for the folders).")
        where.setObjectName("hint")
        where.setWordWrap(True)
        where.setToolTip("<br>".join(f"<b>{place}:</b> {folder}" for place, folder in folders))
        self.status = QLabel(LOOKING)
        self.status.setObjectName("hint")
        self.table = QTableWidget(0, len(COLUMNS))
        for column, (title, help_text) in enumerate(COLUMNS):
            header = QTableWidgetItem(title)
            header.setToolTip(help_text)
            self.table.setHorizontalHeaderItem(column, header)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        self.setStyleSheet(table_style())
        heading = self.table.horizontalHeader()
        heading.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        heading.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        heading.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        heading.setHighlightSections(False)  # a selected row would make every title bold
        heading.setSortIndicator(1, Qt.SortOrder.AscendingOrder)  # the scan's order of places
        self.table.setSortingEnabled(True)
        heading.setFont(theme.font(TABLE_POINT_SIZE))
        heading.setSortIndicatorShown(False)  # its room is added to every title: ~240 pixels in all
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemDoubleClicked.connect(lambda item: self._open_row(item.row()))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = buttons.addButton("Open", QDialogButtonBox.ButtonRole.AcceptRole)
        self.other_button = buttons.addButton("Open another file…", QDialogButtonBox.ButtonRole.ActionRole)
        self.again_button = buttons.addButton("Look again", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.setEnabled(False)
        # Open accepts itself after emitting `chosen`; the box's own accepted signal stays unused.
        self.open_button.clicked.connect(lambda: self._open_row(self.table.currentRow()))
        self.other_button.clicked.connect(self.open_other)
        self.again_button.clicked.connect(self.look)
        buttons.rejected.connect(self.reject)
        for widget in (intro, where, self.table, self.status, buttons):
            layout.addWidget(widget, 1 if widget is self.table else 0)
        self.open_button.setDefault(True)  # only once inside the dialog: else the dialog picks Close
        self.job.finished.connect(self._receive)
        self.resize(900, 480)
        self.look()

    def look(self) -> None:
        """Scan again on a thread of its own; a slower earlier scan can never overwrite this one."""
        self.status.setText(LOOKING)
        self.job.look()

    def _receive(self, result: list[FoundModel] | str) -> None:
        if isinstance(result, str):
            self.status.setText(result)
            return
        self.found = result
        self._fill(result)
        broken = sum(1 for model in result if model.error)
        text = f"{len(result)} model{'s' if len(result) != 1 else ''} found."
        text += f" {broken} cannot be opened (greyed; hover for why)." if broken else ""
        text += f" {OPEN_NOW.strip()} marks the one open now." if self.current and result else ""
        self.status.setText(text if result else "No models found. “Open another file…” opens any .gguf file.")

    def _fill(self, found: list[FoundModel]) -> None:
        self.table.setSortingEnabled(False)  # rows would move while they are being filled
        self.table.setRowCount(len(found))
        for row, model in enumerate(found):
            for column, cell in enumerate(self._cells(model)):
                self.table.setItem(row, column, cell)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicatorShown(False)
        self._fit_width()
        self.table.clearSelection()
        rows = [r for r in range(self.table.rowCount()) if self.table.item(r, 0).data(PATH_ROLE)]
        now = [r for r in rows if self.table.item(r, 0).text().startswith(OPEN_NOW)]
        if rows:
            self.table.selectRow((now or rows)[0])
        self._selection_changed()

    def _fit_width(self) -> None:
        """Widen (never narrow) the dialog so that every column but the name shows whole."""
        heading = self.table.horizontalHeader()
        columns = sum(max(self.table.sizeHintForColumn(c), heading.sectionSizeHint(c))
                      for c in range(1, len(COLUMNS)))
        margins = self.layout().contentsMargins()
        chrome = margins.left() + margins.right() + 2 * self.table.frameWidth() + 20  # 20: a scroll bar
        name = min(max(self.table.sizeHintForColumn(0), heading.sectionSizeHint(0)), NAME_WIDTH)
        wanted = min(columns + name + chrome, self.screen().availableGeometry().width())
        self.resize(max(self.width(), wanted), self.height())

    def _cells(self, model: FoundModel) -> list[_Cell]:
        place = model.source
        order = SOURCES.index(place) if place in SOURCES else len(SOURCES)
        is_open = self.current is not None and os.path.realpath(model.path) == self.current
        cells = [_Cell(f"{OPEN_NOW}{model.name}" if is_open else model.name, model.name.lower()),
                 _Cell(PLACES.get(place, place), order),
                 _Cell(size_text(model.size_bytes), model.size_bytes)]
        if model.error:
            cells.append(_Cell("Cannot be opened", "~"))  # why is in the tooltip: it can be long
            cells += [_Cell("—", -1) for _ in COLUMNS[len(cells):]]
        else:
            cells += [_Cell(model.architecture or "—", model.architecture or ""),
                      _Cell(parameters_text(model.parameters), model.parameters or -1),
                      _Cell(model.quantization or "—", model.quantization or ""),
                      _Cell(f"{model.n_vocab:,}" if model.n_vocab else "—", model.n_vocab or -1),
                      _Cell(f"{model.context_length:,} word pieces" if model.context_length else "—",
                            model.context_length or -1)]
        tip = model.path + (f"\n\nThis file cannot be opened: {model.error}" if model.error else "")
        tip += "\n\nThis is the model open now." if is_open else ""
        for cell in cells:
            cell.setToolTip(tip)
            if model.error:
                cell.setForeground(QColor(theme.FAINT))
        if is_open:
            cells[0].setFont(theme.font(TABLE_POINT_SIZE, bold=True))
        cells[0].setData(PATH_ROLE, None if model.error else model.path)
        return cells

    def selected_path(self) -> str | None:
        """The selected model's path, if it can be opened."""
        item = self.table.item(self.table.currentRow(), 0) if self.table.selectedItems() else None
        return item.data(PATH_ROLE) if item is not None else None

    def _selection_changed(self) -> None:
        self.open_button.setEnabled(self.selected_path() is not None)

    def _open_row(self, row: int) -> None:
        item = self.table.item(row, 0) if row >= 0 else None
        if item is not None and item.data(PATH_ROLE):
            self.chosen.emit(item.data(PATH_ROLE))
            self.accept()

    def open_other(self) -> None:
        mine = discovery.user_models_dir()
        start = mine if mine.is_dir() else Path.home()
        path, _ = QFileDialog.getOpenFileName(self, "Open a model file", str(start),
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.chosen.emit(path)
            self.accept()
