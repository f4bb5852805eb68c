"""Guess mode: Step first shows the next token's chances without the winner, so a room can guess;
the next Step throws the dice (the same ones) and shows where they landed."""
from __future__ import annotations

from typing import TYPE_CHECKING

from synthscope.session import Step
from synthscope.ui.big_view import ChancesCover, DiceCover
from synthscope.ui.run_model import StepView

if TYPE_CHECKING:
    from synthscope.ui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object

GUESS_HEADER = ("<b>Token {n}: what will the model write next?</b> Look at the chances, make a guess, "
                "then press <b>Step</b> (Space) to roll the dice.")


class GuessMode(_Base):
    """Mixed into MainWindow through Workshop. States: no guess; waiting for the worker's peek; a
    proposal on show (`guess`); revealing (the dice land, then the run writes the token)."""

    guess: tuple[int, Step] | None  # the proposed step on show: (index, step)
    guess_asked: bool  # a peek is on its way (or a 0-token run that starts the text first)
    revealing: bool  # from the second press until the token is written
    chances_cover: ChancesCover
    dice_cover: DiceCover

    def _init_guess(self) -> None:
        self.guess, self.guess_asked, self.revealing = None, False, False
        self.chances_cover = ChancesCover(self.distribution, self.distribution.legend)
        self.dice_cover = DiceCover(self.dice, self.dice.title)
        for cover in (self.chances_cover, self.dice_cover):
            cover.token_text = self.token_text
        self.dice_cover.landed.connect(self._guess_landed)
        a = self.commands
        a.step.triggered.disconnect(self.step)
        a.step.triggered.connect(self.step_or_guess)
        a.guess.toggled.connect(self._guess_toggled)
        a.manual.toggled.connect(lambda on: a.guess.setChecked(False) if on else None)
        for action in (a.generate, a.undo, a.clear, a.chat_mode, a.manual):
            action.triggered.connect(self.cancel_guess)
        self.handle.worker.proposed.connect(self._guess_proposed)
        self.handle.worker.runFinished.connect(self._guess_run_finished)
        self.controls.settingsChanged.connect(self._guess_settings_changed)

    @property
    def guessing(self) -> bool:
        return self.commands.guess.isChecked()

    def step_or_guess(self) -> None:
        """The Step action: in guess mode, first the chances, then the dice; otherwise one token."""
        if not self.guessing or self.commands.manual.isChecked():
            self.step()
            return
        if self.state != "idle" or self.revealing or self.guess_asked:
            return
        if self.guess is not None and self.guess[0] == len(self.mirror) and not self.text_edited:
            self._reveal()
        else:
            self._ask_for_guess()

    def _ask_for_guess(self) -> None:
        ended = bool(self.mirror.steps) and (len(self.mirror) - 1) in self.editor.marked
        if self.chatting and ended and not self.chat_input.message_text() and \
                not self.controls.ignore_end.isChecked():
            self.step()  # the reply is over: Step says to write a message first
            return
        self.guess = None
        self.guess_asked = True
        fresh = self.text_edited or not len(self.mirror.prompt_tokens) or (
            self.chatting and bool(self.chat_input.message_text()))
        if fresh:
            self._start(0)  # the text becomes the run's prompt, no token written; then the peek
            if self.state != "running":
                self.guess_asked = False
            return
        self.handle.peek(self.controls.settings())

    def _guess_run_finished(self, reason: str) -> None:
        if self.revealing:
            self._finish_reveal()
        elif self.guess_asked and self.guess is None and reason != "error" and self.state == "idle":
            self.handle.peek(self.controls.settings())
        else:
            self.guess_asked = False

    def _guess_proposed(self, proposal: tuple[int, Step]) -> None:
        if not self.guess_asked or not self.guessing:
            return
        self.guess_asked = False
        index, step = proposal
        if self.state != "idle" or index != len(self.mirror):
            return
        self.guess = (index, step)
        view = StepView(index, step.trace, step.token_id, step.u, step.settings)
        self.editor.set_selected(None)
        self.guess_refreshed()
        self.chances_cover.show_view(view, reveal=False)
        self.dice_cover.show_view(view, reveal=False)
        self.statusBar().showMessage("Guess the next token, then press Step (Space) to roll the dice.")

    def _reveal(self) -> None:
        """The dice land on the proposed step (≤ 1.5 s, the event loop runs on); then it is written."""
        assert self.guess is not None
        index, step = self.guess
        self.revealing = True
        view = StepView(index, step.trace, step.token_id, step.u, step.settings)
        self.header.label.setText(f"<b>Token {index + 1}: rolling the dice…</b>")
        self.chances_cover.show_view(view, reveal=True)
        self.dice_cover.land(view)

    def _guess_landed(self) -> None:
        if not self.revealing or self.guess is None:
            return
        index, _step = self.guess
        if self.state == "idle" and index == len(self.mirror):
            self.pick(index, None)  # the same dice, the same settings: the proposed token is written
        if self.state != "running":  # it could not start: show the panels again
            self._finish_reveal()

    def _finish_reveal(self) -> None:
        self.revealing = False
        self.guess = None
        self.statusBar().showMessage("Press Step (Space) for the next guess.", 8000)
        self._refresh_panels()

    def cancel_guess(self) -> None:
        if self.revealing:
            return
        self.guess, self.guess_asked = None, False
        self._refresh_panels()

    def _guess_toggled(self, on: bool) -> None:
        if on and self.commands.manual.isChecked():
            self.commands.manual.setChecked(False)  # one way of choosing at a time
        self.cancel_guess()
        self.statusBar().showMessage(
            "Guess mode: Step shows the chances first, the next Step rolls the dice." if on else
            "Guess mode is off: Step writes a token at once.", 8000)

    def _guess_settings_changed(self) -> None:
        if self.guess is not None and not self.revealing and self.state == "idle":
            self.guess = None
            self.guess_asked = True
            self.handle.peek(self.controls.settings())  # the room sees the chances move

    def guess_refreshed(self) -> bool:
        """After a panel refresh: whether a guess (or its landing) keeps the covers; its question
        stays in the header."""
        if self.guess is not None and not self.revealing:
            n = self.guess[0] + 1
            self.header.label.setText(GUESS_HEADER.format(n=n))
            self.header.banner.hide()
            self.distribution.title.setText(f"Chances for token {n}: which will it be?")
            self.dice.title.setText("The dice")
        return self.guess is not None or self.revealing
