"""The first start's quiet note that more models were found on this computer (a note, not a dialog)."""
from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QWidget

from synthscope.engine.default_model import default_model_path
from synthscope.engine.discovery import FoundModel, discover
from synthscope.engine.errors import ModelLoadError
from synthscope.ui import theme
from synthscope.ui.models.scan import ModelScan
from synthscope.ui.wording import listed

NAMES_SHOWN = 3  # then "and N more"


def other_models(found: list[FoundModel]) -> list[FoundModel]:
    """The models that can be opened besides the default one."""
    try:
        default: str | None = os.path.realpath(default_model_path())
    except ModelLoadError:
        default = None
    return [model for model in found if model.error is None and os.path.realpath(model.path) != default]


def found_sentence(others: list[FoundModel]) -> str:
    names = [f"<b>{model.name.rsplit('/', 1)[-1]}</b>" for model in others[:NAMES_SHOWN]]
    if len(others) > NAMES_SHOWN:
        names.append(f"{len(others) - NAMES_SHOWN} more")
    count = "another model" if len(others) == 1 else f"{len(others)} other models"
    return (f"Synthscope also found {count} on this computer: {listed(names)}. The default model is open and "
            f"ready; nothing else is opened until you choose.")


class ModelsFoundNote(QFrame):
    """Stays hidden unless the scan finds a model besides the default; "See them…" asks for the picker."""

    seeRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.see_button = QPushButton("See them…")
        self.see_button.setToolTip("File → Models on this computer: each model's facts, and Open.")
        self.see_button.clicked.connect(self.seeRequested)
        self.see_button.clicked.connect(self.hide)
        theme.banner_row(self, "ℹ", self.text, self.see_button,
                         "Hide this note (File → Models on this computer… lists them any time)")
        self.others: list[FoundModel] = []
        self.job: ModelScan | None = None
        self.hide()

    def look(self, scan: Callable[[], list[FoundModel]] = discover) -> None:
        """Scan in the background; the note appears only if there is something else to open."""
        self.job = ModelScan(scan, self)
        self.job.finished.connect(self._receive)
        self.job.look()

    def _receive(self, result: list[FoundModel] | str) -> None:
        self.others = other_models(result) if isinstance(result, list) else []
        if self.others:
            self.text.setText(found_sentence(self.others))
            self.show()
