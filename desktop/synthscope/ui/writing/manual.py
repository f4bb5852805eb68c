"""Pick each word piece yourself (Run menu, Ctrl+P): Step shows the next word piece's candidates and
a person chooses one, or lets the dice decide."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMenu

from synthscope.session import Step
from synthscope.session.requests import RunRequest
from synthscope.session.workspace import Workspace
from synthscope.ui.frame.notices import Notices
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.text_view import TokenTextView
from synthscope.ui.worker.handle import WorkerHandle
from synthscope.ui.writing.run import Run

ALTERNATIVES = 10  # candidates offered in a menu


def candidate_label(token_text: str, p_raw: float, p_final: float) -> str:
    """A candidate as a menu names it: the word piece and both of its chances."""
    return f"‘{token_text}’   {p_raw:.1%} the model's chance · {p_final:.1%} after the samplers"


class ManualPicking(QObject):
    """While `doc.manual` is on, Step asks the worker what the dice would write and offers the
    candidates in a menu at the end of the text."""

    def __init__(self, doc: Workspace, editor: TokenTextView, controls: ControlsPanel,
                 handle: WorkerHandle, run: Run, steps: StepDisplay, notices: Notices,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.editor, self.controls, self.handle = doc, editor, controls, handle
        self.run, self.steps, self.notices = run, steps, notices
        self.menu: QMenu | None = None  # the candidates on offer (kept so it is not collected)

    def toggled(self, on: bool) -> None:
        self.doc.manual = on
        self.notices.say("You pick each word piece: press Step (Space) to see the candidates." if on else
                         "The dice pick the word pieces again.", 8000)

    def propose_next(self) -> None:
        """Ask what the dice would write next, then offer the candidates."""
        if self.doc.state == "idle" and len(self.doc.mirror.prompt_tokens):
            self.handle.peek(self.controls.settings())
        elif self.doc.state == "idle":
            self.run.start(1)  # no run yet: the first token starts one

    def proposed(self, proposal: tuple[int, Step]) -> None:
        index, step = proposal
        doc = self.doc
        if doc.state != "idle" or index != len(doc.mirror) or not doc.manual:
            return
        menu = QMenu(self.editor.window())
        title = menu.addAction(f"Word piece {index + 1}: which one should be written?")
        title.setEnabled(False)
        dice = menu.addAction(f"🎲 Let the dice decide (they land on ‘{self.steps.token_text(step.token_id)}’)")
        dice.triggered.connect(lambda: self.pick(index, None))
        menu.setActiveAction(dice)
        for row in step.trace.candidates[:ALTERNATIVES]:
            token = int(row["token_id"])
            action = menu.addAction(candidate_label(self.steps.token_text(token), float(row["p_raw"]),
                                                    float(row["p_final"])))
            action.triggered.connect(lambda _c=False, t=token: self.pick(index, t))
        end = self.editor.cursorRect(self.editor.textCursor())
        self.menu = menu
        menu.popup(self.editor.viewport().mapToGlobal(end.bottomRight()))

    def pick(self, index: int, token: int | None) -> None:
        """Write `token` as step `index` (a person's pick; None: the dice's), nothing else."""
        if self.doc.state != "idle" or index != len(self.doc.mirror):
            return
        self.run.launch(RunRequest(None, self.doc.mirror.seed, 1, True, (), fork=(index, token)))
