"""Help → Workshop guide: docs/workshop.md read in the app, offline, and the pupils' worksheet as a PDF."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, QUrl
from PySide6.QtGui import (QColor, QDesktopServices, QPalette, QResizeEvent, QTextBlockFormat,
                           QTextCharFormat, QTextCursor, QTextDocument, QTextFormat, QTextFrameFormat,
                           QTextLength, QTextTable)
from PySide6.QtWidgets import (QDialog, QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QTabWidget,
                               QTextBrowser, QVBoxLayout, QWidget)

from synthscope.ui import theme
from synthscope.ui.export.pdf import PdfError, paper_document, write_pdf
from synthscope.ui.resources import docs_dir

LESSON = "workshop.md"
WORKSHEET = "worksheet.md"
READING_POINTS = 14
PRINT_POINTS = 12.0  # write_pdf shrinks it only if the page would overflow
LINE_PX = 860  # about 80 characters: wider windows get wider margins, not longer lines
WRITING_PX = 30  # a blank cell's height (8 mm on paper, whatever the type's size): room for handwriting
HEADING_SPACE = 8
PAPER = theme.LIGHT  # paper is white whatever the screen's palette
PDF_TITLE = "How does a computer write? Worksheet"
PDF_NAME = "synthscope-worksheet.pdf"
WORKSHEET_HINT = "The worksheet fits on one A4 page: save it as a PDF and print one for each pupil."
WEB_SCHEMES = ("http", "https", "mailto")


def read_page(name: str) -> tuple[str | None, str]:
    """(the page's markdown, "") or (None, a plain sentence saying why it cannot be shown)."""
    folder = docs_dir()
    if folder is None:
        return None, (f"The workshop pages were not found: this copy of Synthscope came without its docs "
                      f"folder, where {name} should be.")
    path = folder / name
    try:
        return path.read_text(encoding="utf-8"), ""
    except (OSError, UnicodeDecodeError):
        return None, f"The page {name} was not found in {folder}, or could not be read."


def calm_headings(document: QTextDocument) -> None:
    """Headings one size below markdown's own, with a little room above each: a long title stays on
    one line, and the worksheet on one page."""
    block = document.begin()
    while block.isValid():
        if level := block.blockFormat().headingLevel():
            cursor = QTextCursor(block)
            cursor.movePosition(QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor)
            size = QTextCharFormat()
            size.setProperty(QTextFormat.Property.FontSizeAdjustment, 2 if level == 1 else 1)
            cursor.mergeCharFormat(size)
            space = block.blockFormat()
            space.setTopMargin(HEADING_SPACE if level > 1 else 0)
            space.setBottomMargin(HEADING_SPACE / 2)
            cursor.setBlockFormat(space)
        block = block.next()


def shape_worksheet(document: QTextDocument) -> None:
    """Make the worksheet's markdown a sheet to write on: tables across the page, each blank cell tall
    enough for handwriting, and the tables' first rows shaded."""
    calm_headings(document)
    for table in document.rootFrame().childFrames():
        if not isinstance(table, QTextTable):
            continue
        layout = table.format()
        layout.setWidth(QTextLength(QTextLength.Type.PercentageLength, 100))
        layout.setBorder(1)
        layout.setBorderStyle(QTextFrameFormat.BorderStyle.BorderStyle_Solid)
        layout.setBorderBrush(QColor(PAPER["MUTED"]))
        layout.setBorderCollapse(True)
        layout.setCellSpacing(0)
        layout.setCellPadding(3)
        table.setFormat(layout)
        for row in range(table.rows()):
            for column in range(table.columns()):
                cell = table.cellAt(row, column)
                cursor = cell.firstCursorPosition()
                cursor.setPosition(cell.lastCursorPosition().position(), QTextCursor.MoveMode.KeepAnchor)
                heading = row == 0 and table.rows() > 1
                blank = not cursor.selectedText().replace("\xa0", "").strip()
                if blank and not heading:
                    tall = cursor.blockFormat()
                    lines = 2 if table.columns() == 1 else 1  # a whole-width blank asks for a sentence
                    tall.setLineHeight(WRITING_PX * lines, QTextBlockFormat.LineHeightTypes.MinimumHeight.value)
                    cursor.setBlockFormat(tall)
                elif row == 0:
                    shade = cell.format()
                    shade.setBackground(QColor(PAPER["WHATIF_BG"]))
                    cell.setFormat(shade)


def worksheet_document(markdown: str) -> QTextDocument:
    """The worksheet laid out for paper: dark ink on white whatever the screen's colours."""
    document = paper_document(PRINT_POINTS)
    document.setMarkdown(markdown)
    shape_worksheet(document)
    return document


class Page(QTextBrowser):
    """One markdown page with lines of a readable length; links are handed to `follow`. A `paper` page
    looks as it will print: the worksheet's shape, dark ink on white."""

    def __init__(self, follow: Callable[[QUrl], None], paper: bool = False) -> None:
        super().__init__()
        self.paper = paper
        colours = PAPER if paper else {"PANEL": theme.PANEL, "INK": theme.INK, "ACCENT": theme.ACCENT,
                                       "BORDER": theme.BORDER, "SELECTION": theme.SELECTION}
        self.setFont(theme.font(READING_POINTS))
        self.setStyleSheet(f"QTextBrowser {{ background: {colours['PANEL']}; color: {colours['INK']}; "
                           f"border: 1px solid {colours['BORDER']}; border-radius: 8px; "
                           f"selection-background-color: {colours['SELECTION']}; }}")
        palette = self.palette()
        palette.setColor(QPalette.ColorRole.Link, QColor(colours["ACCENT"]))
        self.setPalette(palette)
        # Nothing is fetched and nothing opens by itself: the guide decides what a click does.
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(follow)
        # The text always wraps to the window; a full-width table's border overhangs it by a pixel.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def show_markdown(self, markdown: str) -> None:
        self.setMarkdown(markdown)
        if self.paper:
            shape_worksheet(self.document())
        else:
            calm_headings(self.document())
        self._fit_lines()

    def show_missing(self, sentence: str) -> None:
        self.setPlainText(sentence)
        self._fit_lines()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_lines()

    def _fit_lines(self) -> None:
        side = max(24, (self.viewport().width() - LINE_PX) // 2)
        frame = self.document().rootFrame()
        layout = frame.frameFormat()
        if layout.leftMargin() != side or layout.rightMargin() != side:
            layout.setLeftMargin(side)
            layout.setRightMargin(side)
            layout.setTopMargin(16)
            layout.setBottomMargin(24)
            frame.setFrameFormat(layout)


class WorkshopGuide(QDialog):
    """The lesson for the teacher and the pupils' worksheet, side by side in two tabs; not modal, so the
    main window stays usable beside it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Workshop guide")
        self.setModal(False)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        self.lesson = Page(self._follow)
        self.worksheet = Page(self._follow, paper=True)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.lesson, "The lesson (for you)")
        self.tabs.addTab(self.worksheet, "The worksheet (for the pupils)")
        self.tabs.setStyleSheet(
            f"QTabBar::tab {{ padding: 8px 18px; font-size: {theme.BASE_POINT_SIZE + 1}pt; "
            f"color: {theme.MUTED}; border: none; border-bottom: 3px solid transparent; }}"
            f"QTabBar::tab:selected {{ color: {theme.INK}; font-weight: bold; "
            f"border-bottom: 3px solid {theme.ACCENT}; }}")
        hint = QLabel(WORKSHEET_HINT)
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QFrame()
        note_layout = QHBoxLayout(self.note)
        note_layout.setContentsMargins(12, 8, 12, 8)
        note_layout.addWidget(self.message)
        self.note.hide()
        self.save_button = QPushButton("Save the worksheet as PDF…")
        self.save_button.setToolTip("One A4 page to print for each pupil")
        self.save_button.clicked.connect(self.save_dialog)
        self.worksheet_markdown: str | None = None
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 14)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.note)
        layout.addLayout(theme.row((hint, 1), self.save_button, close))
        self.load()
        self.resize(1100, 800)

    def load(self) -> None:
        """(Re)read both pages from docs/; a missing one is said in a sentence where it would be."""
        for page, name in ((self.lesson, LESSON), (self.worksheet, WORKSHEET)):
            markdown, why = read_page(name)
            if markdown is None:
                page.show_missing(why)
            else:
                page.show_markdown(markdown)
            if page is self.worksheet:
                self.worksheet_markdown = markdown
                self.save_button.setEnabled(markdown is not None)

    def save_dialog(self) -> None:
        start = str(Path(self.folder) / PDF_NAME) if self.folder else PDF_NAME
        path, _chosen = QFileDialog.getSaveFileName(self, "Save the worksheet as PDF", start, "PDF (*.pdf)")
        if not path:
            return
        if not path.lower().endswith(".pdf"):
            path += ".pdf"
        self.folder = str(Path(path).parent)
        self.save_worksheet(path)

    def save_worksheet(self, path: str | Path) -> int | None:
        """Write the worksheet to `path` as a PDF; returns its page count, or None (said in the dialog)."""
        if self.worksheet_markdown is None:
            self._tell(f"There is no worksheet to save: {WORKSHEET} was not found.", problem=True)
            return None
        try:
            pages = write_pdf(worksheet_document(self.worksheet_markdown), path, PDF_TITLE, one_page=True)
        except (PdfError, OSError) as exc:
            self._tell(f"The worksheet was not saved: {exc} Try another folder, such as your Documents.",
                       problem=True)
            return None
        fits = "one A4 page, ready to print" if pages == 1 else f"{pages} A4 pages"
        self._tell(f"Saved the worksheet to {path}: {fits}.", problem=False)
        return pages

    def _tell(self, text: str, problem: bool) -> None:
        self.message.setText(text)
        # The window's style sheet colours a #banner (a problem) and a #notice (done) and their words.
        self.note.setObjectName("banner" if problem else "notice")
        for widget in (self.note, self.message):
            widget.style().unpolish(widget)
            widget.style().polish(widget)
        self.note.show()

    def _follow(self, url: QUrl) -> None:
        """A clicked link: another page of the guide opens here, a web address in the browser, the rest
        does nothing (the guide works offline)."""
        if url.scheme() in WEB_SCHEMES:
            QDesktopServices.openUrl(url)
            return
        if url.scheme() not in ("", "file"):
            return
        page = self.tabs.currentWidget()
        name = Path(url.path()).name
        if not name and url.fragment() and isinstance(page, Page):
            page.scrollToAnchor(url.fragment())
        elif name == WORKSHEET:
            self.tabs.setCurrentWidget(self.worksheet)
        elif name.endswith(".md"):  # the lesson itself, or another page of docs/, in the lesson's tab
            markdown, why = read_page(name)
            if markdown is None:
                self.lesson.show_missing(why)
            else:
                self.lesson.show_markdown(markdown)
            self.tabs.setCurrentWidget(self.lesson)


_without_parent: list[WorkshopGuide] = []  # a guide with no window to belong to is kept here


def show_workshop_guide(parent: QWidget | None = None) -> WorkshopGuide:
    """Show the workshop guide over `parent`, the one already made for it if there is one."""
    if parent is None:
        guide = _without_parent[0] if _without_parent else None
    else:
        guide = parent.findChild(WorkshopGuide, "", Qt.FindChildOption.FindDirectChildrenOnly)
    if guide is None:
        guide = WorkshopGuide(parent)
        if parent is None:
            _without_parent.append(guide)
    guide.show()
    guide.raise_()
    guide.activateWindow()
    return guide
