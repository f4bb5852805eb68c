"""Taking the window's work away, on the real model: any panel as a PNG twice its size or an SVG
drawing, the step on show as a one-page A4 handout, the word pieces as a table and the coloured text
as a web page from File → Export, and plain words when a file cannot be written."""
from __future__ import annotations

import csv
import math
import re
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser

import pytest
from PySide6.QtGui import QImage

from synthscope.sampling import SamplerSettings
from synthscope.ui.wording import percent, visible
from window_helpers import story_window

@pytest.fixture
def win(qtbot, qapp):
    with story_window(qtbot, qapp, 5, SamplerSettings(temperature=1.1), 20) as window:
        window.steps.select_step(6)
        qtbot.waitUntil(lambda: window.parts.inspector.view is not None and window.parts.inspector.view.index == 6)
        yield window


def pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def test_every_panel_on_screen_is_offered_and_saved_as_a_sharp_png_and_an_svg(win, tmp_path) -> None:
    from PySide6.QtWidgets import QMenu

    menu = QMenu()
    win.export.fill_pictures_menu(menu)
    offered = {a.text().rstrip("…"): a.isEnabled() for a in menu.actions()}
    assert offered["The chances"] and offered["The whole run (timeline)"] and offered["The text"]
    assert not offered["The many futures window"]  # not open: greyed out, not hidden
    for title, widget in win._pictured_panels():
        if widget is None or not widget.isVisible():
            continue
        png, svg = tmp_path / "panel.png", tmp_path / "panel.svg"
        assert win.export.save_picture(widget, str(png), title)
        image = QImage(str(png))
        assert (image.width(), image.height()) == (widget.width() * 2, widget.height() * 2), title
        assert image.pixelColor(image.width() // 2, image.height() // 2).isValid()
        assert win.export.save_picture(widget, str(svg), title)
        root = ElementTree.parse(svg).getroot()
        assert root.tag.endswith("svg") and root.get("viewBox") == f"0 0 {widget.width()} {widget.height()}"
    # the plot is drawn as lines in the SVG, not as one picture of itself
    win.export.save_picture(win.parts.timeline, str(svg))
    assert svg.read_text(encoding="utf-8").count("<path") + svg.read_text(encoding="utf-8").count("<polyline") > 3


def test_the_step_on_show_becomes_one_a4_page_with_its_own_numbers(win, tmp_path) -> None:
    from synthscope.ui.export.handout import handout_html

    path = tmp_path / "handout.pdf"
    assert win.export.save_handout(str(path)) == 1
    data = path.read_bytes()
    assert data.startswith(b"%PDF") and pdf_pages(data) == 1
    box = [float(v) for v in re.search(rb"/MediaBox\s*\[([^\]]+)\]", data).group(1).split()]
    assert math.isclose(box[2] - box[0], 595.3, abs_tol=1) and math.isclose(box[3] - box[1], 841.9, abs_tol=1)
    view = win.parts.inspector.view
    markup = handout_html(view, win.doc.mirror.steps, win.doc.mirror.prompt, win.steps.token_text,
                          "SmolLM2", win.doc.model.facts.vocab_size, win.doc.mirror.seed)
    assert "word piece 7 of 20" in markup
    for cand in view.trace.candidates[:5]:
        assert percent(float(cand["p_raw"])) in markup
    assert visible(win.steps.token_text(view.token_id)).replace("<", "&lt;") in markup
    assert f"{view.u:.1%}" in markup


def test_a_file_that_cannot_be_written_is_said_in_plain_words_and_nothing_is_lost(win, tmp_path) -> None:
    nowhere = tmp_path / "no-such-folder" / "x"
    steps = len(win.doc.mirror)
    assert not win.export.save_picture(win.parts.distribution, str(nowhere) + ".png")
    assert "could not be written" in win.parts.banner.text.text()
    assert win.export.save_handout(str(nowhere) + ".pdf") is None
    assert not win.export.save_table(str(nowhere) + ".csv")
    assert len(win.doc.mirror) == steps and win.isVisible()


def test_the_table_and_the_page_from_the_window_hold_what_the_window_shows(win, tmp_path) -> None:
    table, page = tmp_path / "steps.csv", tmp_path / "text.html"
    assert win.export.save_table(str(table)) and win.export.save_page(str(page))
    assert "Saved" in win.statusBar().currentMessage()
    steps = win.doc.mirror.steps
    with table.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["token_id"]), r["text"]) for r in rows] == [(s.token_id, s.text) for s in steps]
    assert [float(r["p_raw"]) for r in rows] == [s.trace.chosen_p_raw for s in steps]
    assert [float(r["u"]) for r in rows] == [s.u for s in steps]

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.notes: list[str] = []

        def handle_starttag(self, tag, attrs) -> None:
            if dict(attrs).get("class") == "piece":
                self.notes.append(dict(attrs)["title"])

    parser = Text()
    parser.feed(page.read_text(encoding="utf-8"))
    assert len(parser.notes) == len(steps)
    assert all(percent(s.trace.chosen_p_raw) in note for s, note in zip(steps, parser.notes))
    assert f"seed {win.doc.mirror.seed}" in page.read_text(encoding="utf-8")
