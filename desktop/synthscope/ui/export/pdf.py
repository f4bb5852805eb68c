"""Rich text as a PDF through Qt's own writer: A4, margins for any printer, and a page count to check."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QSizeF
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPdfWriter, QTextDocument

from synthscope.session.json_io import failure_reason
from synthscope.ui.theme import FONT_FAMILY

MARGIN_MM = 15.0
SCREEN_DPI = 96  # the units QTextDocument lays out in; the writer scales them to the page
SMALLEST_POINTS = 7.0  # a handout shrunk further would not be legible printed


class PdfError(Exception):
    """A PDF could not be written; the message says why in plain words."""


def paper_document(points: float) -> QTextDocument:
    """An empty document in the app's type at `points`, to be filled and printed."""
    document = QTextDocument()
    font = QFont(FONT_FAMILY)
    font.setPointSizeF(points)
    document.setDefaultFont(font)
    return document


def page_layout() -> QPageLayout:
    """A4 upright, with margins any printer can manage."""
    return QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait,
                       QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM), QPageLayout.Unit.Millimeter)


def printable_size() -> QSizeF:
    """The printable part of one page, in the units a QTextDocument lays out in."""
    rect = page_layout().paintRect(QPageLayout.Unit.Inch)
    return QSizeF(rect.width() * SCREEN_DPI, rect.height() * SCREEN_DPI)


def new_writer(path: str | Path, title: str) -> QPdfWriter:
    path = Path(path)
    try:  # asked first: Qt's writer only warns on a folder that is not there
        path.open("wb").close()
    except OSError as exc:
        raise PdfError(f"{path} could not be written ({failure_reason(exc)}).") from exc
    writer = QPdfWriter(str(path))
    writer.setPageLayout(page_layout())
    writer.setTitle(title)
    writer.setCreator("Synthscope")
    return writer


def write_pdf(document: QTextDocument, path: str | Path, title: str, one_page: bool = False) -> int:
    """Print `document` to `path`; `one_page`: shrink its type (not below SMALLEST_POINTS) until it fits
    one page. Returns the number of pages written."""
    writer = new_writer(path, title)
    document.setPageSize(printable_size())
    if one_page:
        fit_one_page(document)
    pages = document.pageCount()
    document.print_(writer)
    return pages


def fit_one_page(document: QTextDocument) -> None:
    font = document.defaultFont()
    size = font.pointSizeF()
    while document.pageCount() > 1 and size > SMALLEST_POINTS:
        size -= 0.5
        font.setPointSizeF(size)
        document.setDefaultFont(font)
