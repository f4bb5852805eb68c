"""Guess mode: Step first shows the next token's chances without the winner, so a room can guess;
the next Step throws the dice (the same ones) and shows where they landed."""
from __future__ import annotations

from PySide6.QtCore import QObject

from synthscope.session import Step
from synthscope.session.guessing import GuessState
from synthscope.session.mirror import StepView
from synthscope.session.workspace import Workspace
from synthscope.ui.classroom.big_view import ChancesCover, DiceCover
from synthscope.ui.frame.actions import Actions
from synthscope.ui.frame.notices import Notices
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.steps.dice import DicePanel
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.distribution import DistributionPanel
from synthscope.ui.steps.inspector import StepHeader
from synthscope.ui.steps.text_view import TokenTextView
from synthscope.ui.worker.handle import WorkerHandle
from synthscope.ui.writing.chat_input import ChatInput
from synthscope.ui.writing.manual import ManualPicking
from synthscope.ui.writing.run import Run

GUESS_HEADER = ("<b>Token {n}: what will the model write next?</b> Look at the chances, make a guess, "
                "then press <b>Step</b> (Space) to roll the dice.")


def view_of(index: int, step: Step) -> StepView:
    return StepView(index, step.trace, step.token_id, step.u, step.settings)


class Guess(QObject):
    """Run → Guess mode (Ctrl+G); its state is the document's GuessState."""

    def __init__(self, doc: Workspace, state: GuessState, commands: Actions, editor: TokenTextView,
                 header: StepHeader, distribution: DistributionPanel, dice: DicePanel, chat_input: ChatInput,
                 controls: ControlsPanel, chances_cover: ChancesCover, dice_cover: DiceCover,
                 handle: WorkerHandle, run: Run, manual: ManualPicking, steps: StepDisplay,
                 notices: Notices, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.state, self.commands, self.editor = doc, state, commands, editor
        self.header, self.distribution, self.dice, self.chat_input = header, distribution, dice, chat_input
        self.controls, self.chances_cover, self.dice_cover = controls, chances_cover, dice_cover
        self.handle, self.run, self.manual, self.steps, self.notices = handle, run, manual, steps, notices
        for cover in (chances_cover, dice_cover):
            cover.token_text = steps.token_text

    def step_or_guess(self) -> None:
        """The Step action: in guess mode, first the chances, then the dice; otherwise one token."""
        doc, state = self.doc, self.state
        if not state.on or doc.manual:
            self.run.step()
            return
        if doc.state != "idle" or state.revealing or state.asked:
            return
        if state.can_reveal(len(doc.mirror), doc.text_edited):
            self._reveal()
        else:
            self._ask_for_guess()

    def _ask_for_guess(self) -> None:
        doc = self.doc
        if doc.chatting and doc.ended() and not self.chat_input.message_text() and \
                not self.controls.ignore_end.isChecked():
            self.run.step()  # the reply is over: Step says to write a message first
            return
        self.state.ask()
        fresh = doc.text_edited or not len(doc.mirror.prompt_tokens) or (
            doc.chatting and bool(self.chat_input.message_text()))
        if fresh:
            self.run.start(0)  # the text becomes the run's prompt, no token written; then the peek
            if doc.state != "running":
                self.state.asked = False
            return
        self.handle.peek(self.controls.settings())

    def run_finished(self, reason: str) -> None:
        then = self.state.after_run(reason, self.doc.state == "idle")
        if then == "reveal-done":
            self._finish_reveal()
        elif then == "peek":
            self.handle.peek(self.controls.settings())

    def proposed(self, proposal: tuple[int, Step]) -> None:
        index, step = proposal
        if not self.state.proposed(index, step, len(self.doc.mirror), self.doc.state == "idle"):
            return
        view = view_of(index, step)
        self.editor.set_selected(None)
        self.refreshed()
        self.chances_cover.show_view(view, reveal=False)
        self.dice_cover.show_view(view, reveal=False)
        self.notices.say("Guess the next token, then press Step (Space) to roll the dice.")

    def _reveal(self) -> None:
        """The dice land on the proposed step (≤ 1.5 s, the event loop runs on); then it is written."""
        assert self.state.guess is not None
        index, step = self.state.guess
        self.state.revealing = True
        view = view_of(index, step)
        self.header.label.setText(f"<b>Token {index + 1}: rolling the dice…</b>")
        self.chances_cover.show_view(view, reveal=True)
        self.dice_cover.land(view)

    def landed(self) -> None:
        state = self.state
        if not state.revealing or state.guess is None:
            return
        index, _step = state.guess
        if self.doc.state == "idle" and index == len(self.doc.mirror):
            self.manual.pick(index, None)  # the same dice, the same settings: the proposed token is written
        if self.doc.state != "running":  # it could not start: show the panels again
            self._finish_reveal()

    def _finish_reveal(self) -> None:
        self.state.finish_reveal()
        self.notices.say("Press Step (Space) for the next guess.", 8000)
        self.steps.refresh_panels()

    def cancel(self) -> None:
        if self.state.cancel():
            self.steps.refresh_panels()

    def toggled(self, on: bool) -> None:
        self.state.on = on
        if on and self.doc.manual:
            self.commands.manual.setChecked(False)  # one way of choosing at a time
        self.cancel()
        self.notices.say("Guess mode: Step shows the chances first, the next Step rolls the dice." if on else
                         "Guess mode is off: Step writes a token at once.", 8000)

    def manual_toggled(self, on: bool) -> None:
        if on:
            self.commands.guess.setChecked(False)  # one way of choosing at a time

    def settings_changed(self) -> None:
        if self.state.settings_moved(self.doc.state == "idle"):
            self.handle.peek(self.controls.settings())  # the room sees the chances move

    def refreshed(self) -> bool:
        """After a panel refresh: whether a guess (or its landing) keeps the covers; its question
        stays in the header."""
        state = self.state
        if state.guess is not None and not state.revealing:
            n = state.guess[0] + 1
            self.header.label.setText(GUESS_HEADER.format(n=n))
            self.header.banner.hide()
            self.distribution.title.setText(f"Chances for token {n}: which will it be?")
            self.dice.title.setText("The dice")
        return state.holds_panels
