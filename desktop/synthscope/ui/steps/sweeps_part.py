"""Chances → Sweeps…: a window of the step on show's sweeps that follows the selected step and the
sliders (its markers move while a slider is dragged; the chances bars reshape beside it)."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from synthscope.sampling import SamplerSettings
from synthscope.session.sweeps import SWEPT, TRACKED, Sweep, sweep
from synthscope.session.workspace import Workspace
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.inspector import Inspector
from synthscope.ui.steps.sweep_view import SweepView
from synthscope.ui.worker.handle import WorkerHandle

TITLE = "How the settings would change this word piece"
INTRO = ("The same word piece, the same dice, the same everything — only the setting under each picture "
         "moves from one end to the other. Move the sliders in the main window: the marks follow.")


class SweepsWindow(QWidget):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("central")
        self.setWindowTitle(TITLE)
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        intro = QLabel(INTRO)
        intro.setObjectName("hint")
        intro.setWordWrap(True)
        self.view = SweepView()
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addWidget(intro)
        layout.addWidget(self.view, 1)
        self.resize(760, 720)


class SweepsPart(QObject):
    """Keeps the sweeps window in step with the panels (it is refreshed with them)."""

    def __init__(self, window: QWidget, doc: Workspace, inspector: Inspector, controls: ControlsPanel,
                 handle: WorkerHandle, steps: StepDisplay) -> None:
        super().__init__(window)
        self.window, self.doc, self.inspector, self.controls = window, doc, inspector, controls
        self.handle, self.steps = handle, steps
        self.sweeps_window: SweepsWindow | None = None
        self._cache: tuple[object, dict[str, Sweep]] | None = None

    def open(self) -> SweepsWindow:
        if self.sweeps_window is None:
            self.sweeps_window = SweepsWindow(self.window)
        self.sweeps_window.show()
        self.sweeps_window.raise_()
        self.refresh()
        return self.sweeps_window

    def refresh(self) -> None:
        """After every refresh of the panels: the sweeps of the step they show, at the settings shown."""
        window = self.sweeps_window
        view = self.inspector.view
        if window is None or not window.isVisible() or view is None or self.doc.state == "running":
            return
        window.heading.setText(f"<b>Word piece {view.index + 1}</b>: how temperature and top-p would change "
                               "its chances")
        current = {setting: float(getattr(view.settings, setting)) for setting in SWEPT}
        base = view.settings.with_changes(temperature=1.0, top_p=1.0)  # the swept ones play no part in the key
        key = (view.index, base, len(self.doc.mirror))
        sweeps = self._sweeps(key, view.index, view.settings, [int(t) for t in
                                                                view.trace.candidates["token_id"][:TRACKED]])
        window.view.show_sweeps(sweeps, self.steps.token_text, current, key)

    def _sweeps(self, key: object, index: int, settings: SamplerSettings, tokens: list[int]
                ) -> dict[str, Sweep] | None:
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        chain = self.doc.mirror.chain_for(index, settings)
        if chain is None:
            self._fetch(index, settings)
            return None
        sweeps = {setting: sweep(chain, settings, setting, tokens) for setting in SWEPT}
        self._cache = (key, sweeps)
        return sweeps

    def _fetch(self, index: int, settings: SamplerSettings) -> None:
        doc = self.doc
        if doc.state != "idle":
            return
        if index not in doc.mirror.logits and index not in doc.requested_logits:
            doc.requested_logits.add(index)
            self.handle.fetch_logits(index)
        missing = doc.mirror.missing_extras(index, settings)
        if missing is not None and (index, missing) not in doc.requested_extras:
            doc.requested_extras.add((index, missing))
            self.handle.fetch_extras(index, *missing)

    def close_all(self) -> None:
        if self.sweeps_window is not None:
            self.sweeps_window.close()
