"""Help → Workshop guide: the lesson rendered in the app, offline; the pupils' worksheet saved as one
A4 page; plain words when a file cannot be written or the pages are missing."""
from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QUrl
from PySide6.QtGui import QTextTable

from synthscope.ui import theme
from synthscope.ui.export.pdf import write_pdf
from synthscope.ui.help import workshop_guide
from synthscope.ui.help.workshop_guide import (WorkshopGuide, read_page, show_workshop_guide,
                                               worksheet_document)
from synthscope.ui.resources import docs_dir
from synthscope.ui.window.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def window(qtbot, qapp, tmp_path) -> Iterator[MainWindow]:
    """The main window with no model: the guide needs none."""
    theme.apply(qapp)
    win = MainWindow(QSettings(str(tmp_path / "synthscope.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


@pytest.fixture
def guide(qtbot, qapp) -> WorkshopGuide:
    theme.apply(qapp)
    made = WorkshopGuide()
    qtbot.addWidget(made)
    made.show()
    return made


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def help_menu(win: MainWindow):
    return next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == "Help")


def test_help_workshop_guide_opens_the_lesson_rendered_beside_the_window(window, qtbot) -> None:
    first = help_menu(window).actions()[0]
    assert first.text() == "Workshop guide" and "worksheet" in first.statusTip()
    first.trigger()
    guide = window.findChild(WorkshopGuide)
    assert guide is not None
    qtbot.waitUntil(guide.isVisible)
    assert not guide.isModal() and window.isEnabled()
    lesson = guide.lesson.toPlainText()
    assert "The lesson" in lesson and "Before the class (10 minutes)" in lesson
    assert "## " not in lesson and "**" not in lesson  # rendered, not the markdown source
    headings = {block.text(): block.blockFormat().headingLevel() for block in blocks(guide.lesson.document())}
    assert headings["The lesson"] == 2
    # Asked for again, the same guide comes back to the front: one per window.
    first.trigger()
    assert show_workshop_guide(window) is guide and len(window.findChildren(WorkshopGuide)) == 1


def blocks(document):
    block = document.begin()
    while block.isValid():
        yield block
        block = block.next()


def test_the_worksheet_tab_shows_a_sheet_to_fill_in(guide) -> None:
    guide.tabs.setCurrentWidget(guide.worksheet)
    text = guide.worksheet.toPlainText()
    for part in ("Guess the next word", "You against the dice", "What did the temperature do?", "Top-p"):
        assert part in text
    tables = [f for f in guide.worksheet.document().rootFrame().childFrames() if isinstance(f, QTextTable)]
    assert len(tables) >= 5
    tally = next(t for t in tables if "dice picked" in t.cellAt(0, 0).firstCursorPosition().block().text())
    blank = tally.cellAt(1, 1).firstCursorPosition().blockFormat()
    assert blank.lineHeight() >= workshop_guide.WRITING_PX  # room to write the tally in


def test_the_worksheet_saves_as_one_legible_a4_page(guide, tmp_path) -> None:
    path = tmp_path / "worksheet.pdf"
    assert guide.save_worksheet(path) == 1
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and pdf_pages(data) == 1
    box = [float(v) for v in re.search(rb"/MediaBox\s*\[([^\]]+)\]", data).group(1).split()]
    assert math.isclose(box[2] - box[0], 595.3, abs_tol=1) and math.isclose(box[3] - box[1], 841.9, abs_tol=1)
    assert "Saved the worksheet" in guide.message.text() and guide.note.isVisibleTo(guide)
    # It fits without shrinking its type to a size pupils cannot read.
    markdown, _ = read_page("worksheet.md")
    document = worksheet_document(markdown)
    assert write_pdf(document, tmp_path / "again.pdf", "x", one_page=True) == 1
    assert document.defaultFont().pointSizeF() >= 10


def test_a_folder_that_cannot_be_written_is_said_in_plain_words(guide, tmp_path) -> None:
    nowhere = tmp_path / "no-such-folder" / "worksheet.pdf"
    assert guide.save_worksheet(nowhere) is None
    words = guide.message.text()
    assert "not saved" in words and "could not be written" in words and "Traceback" not in words
    assert guide.note.isVisibleTo(guide) and guide.note.objectName() == "banner"
    assert not nowhere.exists() and guide.isVisible()


def test_links_open_docs_pages_inside_and_web_pages_only_in_the_browser(guide, monkeypatch) -> None:
    opened: list[str] = []

    class Browser:
        @staticmethod
        def openUrl(url: QUrl) -> bool:
            opened.append(url.toString())
            return True

    monkeypatch.setattr(workshop_guide, "QDesktopServices", Browser)
    guide.lesson.anchorClicked.emit(QUrl("worksheet.md"))
    assert guide.tabs.currentWidget() is guide.worksheet
    guide.worksheet.anchorClicked.emit(QUrl("packaging.md"))
    assert guide.tabs.currentWidget() is guide.lesson
    title = (ROOT / "docs" / "packaging.md").read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
    assert title in guide.lesson.toPlainText()
    assert opened == []
    guide.lesson.anchorClicked.emit(QUrl("https://example.org/"))
    guide.lesson.anchorClicked.emit(QUrl("ftp://example.org/x"))
    assert opened == ["https://example.org/"]


def test_without_the_docs_folder_the_guide_says_so_in_a_sentence(qtbot, qapp, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(workshop_guide, "docs_dir", lambda: None)
    missing = WorkshopGuide()
    qtbot.addWidget(missing)
    assert "were not found" in missing.lesson.toPlainText()
    assert not missing.save_button.isEnabled()
    assert missing.save_worksheet(tmp_path / "w.pdf") is None and not (tmp_path / "w.pdf").exists()
    monkeypatch.setattr(workshop_guide, "docs_dir", lambda: tmp_path)  # a folder without the pages
    empty = WorkshopGuide()
    qtbot.addWidget(empty)
    assert "workshop.md was not found" in empty.lesson.toPlainText()
    assert "worksheet.md was not found" in empty.worksheet.toPlainText()


def test_docs_dir_finds_the_pages_in_a_checkout_and_in_a_bundle(monkeypatch, tmp_path) -> None:
    assert docs_dir() == ROOT / "docs"
    assert (docs_dir() / "workshop.md").is_file() and (docs_dir() / "worksheet.md").is_file()
    (tmp_path / "docs").mkdir()
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert docs_dir() == tmp_path / "docs"
