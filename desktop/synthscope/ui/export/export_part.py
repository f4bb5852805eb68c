"""File → Export: the run's word pieces as a table (CSV), the coloured text as a web page (HTML), the step
on show as a printable handout (PDF), and any panel or plot as a picture (PNG or SVG)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QWidget

from synthscope.session.export import write_csv
from synthscope.session.export_page import write_html
from synthscope.session.json_io import failure_reason
from synthscope.session.workspace import Workspace
from synthscope.ui.export.handout import handout_html, save_handout
from synthscope.ui.export.pdf import PdfError
from synthscope.ui.export.pictures import PICTURE_FILTER, PictureError, picture_path, save_picture
from synthscope.ui.frame.notices import Notices
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.inspector import Inspector

Panels = Callable[[], list[tuple[str, QWidget | None]]]


class ExportPart(QObject):
    """`panels()` names every panel and window that may be drawn as a picture (None: not open now)."""

    def __init__(self, window: QMainWindow, doc: Workspace, inspector: Inspector, steps: StepDisplay,
                 panels: Panels, notices: Notices) -> None:
        super().__init__(window)
        self.window, self.doc, self.inspector, self.steps = window, doc, inspector, steps
        self.panels, self.notices = panels, notices
        self.folder = ""  # where the last export went: the next dialog opens there

    # -- the dialogs ---------------------------------------------------------------------------
    def _ask(self, title: str, name: str, kinds: str) -> tuple[str, str]:
        start = str(Path(self.folder) / name) if self.folder else name
        path, chosen = QFileDialog.getSaveFileName(self.window, title, start, kinds)
        if path:
            self.folder = str(Path(path).parent)
        return path, chosen

    def fill_pictures_menu(self, menu: QMenu) -> None:
        """At each opening: one entry per panel, greyed out where it is not on screen."""
        menu.clear()
        for title, widget in self.panels():
            action = menu.addAction(f"{title}…")
            shown = widget is not None and widget.isVisible() and not widget.size().isEmpty()
            action.setEnabled(shown)
            action.setStatusTip(f"Save {title.lower()} as it looks now, as a PNG picture or an SVG drawing"
                                if shown else f"{title} is not on screen just now")
            action.triggered.connect(lambda _checked=False, t=title, w=widget: self.picture_dialog(t, w))

    def picture_dialog(self, title: str, widget: QWidget | None) -> None:
        if widget is None:
            return
        name = "synthscope-" + "-".join(title.lower().replace("(", "").replace(")", "").split()[:4]) + ".png"
        path, chosen = self._ask(f"Save {title.lower()} as a picture", name, PICTURE_FILTER)
        if path:
            self.save_picture(widget, str(picture_path(path, chosen)), title)

    def table_dialog(self) -> None:
        self._export_dialog("Save every word piece as a table", "synthscope-word-pieces.csv",
                            "Table for a spreadsheet (*.csv)", self.save_table)

    def page_dialog(self) -> None:
        self._export_dialog("Save the coloured text as a web page", "synthscope-text.html", "Web page (*.html)",
                            self.save_page)

    def handout_dialog(self) -> None:
        self._export_dialog("Save this step as a printable handout", "synthscope-handout.pdf", "PDF (*.pdf)",
                            self.save_handout)

    def _export_dialog(self, title: str, name: str, kinds: str, save: Callable[[str], object]) -> None:
        if self._has_text():
            path, _ = self._ask(title, name, kinds)
            if path:
                save(path)

    # -- the exports (the dialogs' work, and what tests call) ---------------------------------------
    def save_picture(self, widget: QWidget, path: str, title: str = "") -> bool:
        try:
            size = save_picture(widget, path, title)
        except PictureError as exc:
            self.notices.problem(str(exc))
            return False
        self.notices.say(f"Saved the picture ({size.width()} × {size.height()}) to {path}.", 8000)
        return True

    def save_table(self, path: str) -> bool:
        return self._write(path, lambda: write_csv(self.doc.mirror.steps, path),
                           f"Saved {len(self.doc.mirror):,} word pieces as a table to {path}.")

    def save_page(self, path: str) -> bool:
        mirror = self.doc.mirror
        title = f"{Path(path).stem} — Synthscope"
        return self._write(path, lambda: write_html(mirror.prompt, mirror.steps, title, self._model_name(), path,
                                              mirror.seed),
                           f"Saved the coloured text as a web page to {path}.")

    def save_handout(self, path: str) -> int | None:
        """The step on show (the newest when none is selected); returns the PDF's page count."""
        view = self.inspector.view
        if view is None or self.doc.model is None:
            self.notices.problem("Write some text first: the handout shows how one word piece was chosen.")
            return None
        markup = handout_html(view, self.doc.mirror.steps, self.doc.mirror.prompt, self.steps.token_text,
                              self._model_name(), self.doc.model.facts.vocab_size, self.doc.mirror.seed)
        try:
            pages = save_handout(markup, path)
        except PdfError as exc:
            self.notices.problem(str(exc))
            return None
        self.notices.say(f"Saved the handout of word piece {view.index + 1} to {path}.", 8000)
        return pages

    def _write(self, path: str, work: Callable[[], object], done: str) -> bool:
        try:
            work()
        except OSError as exc:
            self.notices.problem(f"{path} could not be written ({failure_reason(exc)}); any file already "
                                 "there is kept.")
            return False
        self.notices.say(done, 8000)
        return True

    def _has_text(self) -> bool:
        if len(self.doc.mirror):
            return True
        self.notices.problem("There is nothing to export yet: generate some text first.")
        return False

    def _model_name(self) -> str:
        model = self.doc.model
        return model.name if model is not None else "a language model"
