"""The run state ('no-model', 'loading', 'idle', 'running', 'busy') as a signal every part can follow."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from synthscope.session.workspace import STATES, Workspace


class RunState(QObject):
    """Writes the state into the document and says so: `changed` with the new state, `touched`
    when what the actions depend on (the state, the steps, the model) may have changed."""

    changed = Signal(str)
    touched = Signal()

    def __init__(self, doc: Workspace, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc = doc

    def set(self, state: str) -> None:
        assert state in STATES, state
        self.doc.state = state
        self.changed.emit(state)

    def update_actions(self) -> None:
        """The steps or the model changed without a new state: the actions follow."""
        self.touched.emit()
