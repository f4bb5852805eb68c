"""Guess mode without Qt: the proposed step on show, the peek on its way, and the dice's landing."""
from __future__ import annotations

from dataclasses import dataclass

from synthscope.session.record import Step


@dataclass
class GuessState:
    """No guess; a peek on its way (`asked`); a proposal on show (`guess`); revealing (the dice
    land, then the run writes the token)."""

    on: bool = False  # the mode (Run → Guess mode)
    guess: tuple[int, Step] | None = None  # the proposed step on show: (index, step)
    asked: bool = False  # a peek is on its way (or a 0-token run that starts the text first)
    revealing: bool = False  # from the second press until the token is written

    @property
    def holds_panels(self) -> bool:
        """Whether a guess (or its landing) keeps the large-type covers."""
        return self.guess is not None or self.revealing

    def can_reveal(self, n_steps: int, text_edited: bool) -> bool:
        """The second press: the proposal on show is still the next step of this text."""
        return self.guess is not None and self.guess[0] == n_steps and not text_edited

    def ask(self) -> None:
        self.guess = None
        self.asked = True

    def proposed(self, index: int, step: Step, n_steps: int, idle: bool) -> bool:
        """The worker's peek came back; True if it is on show now."""
        if not self.asked or not self.on:
            return False
        self.asked = False
        if not idle or index != n_steps:
            return False
        self.guess = (index, step)
        return True

    def after_run(self, reason: str, idle: bool) -> str:
        """A run ended: 'reveal-done' (the guessed token is written), 'peek' (the text was started
        for a guess: ask for it now) or '' (nothing to do)."""
        if self.revealing:
            return "reveal-done"
        if self.asked and self.guess is None and reason != "error" and idle:
            return "peek"
        self.asked = False
        return ""

    def settings_moved(self, idle: bool) -> bool:
        """A setting moved with a guess on show: True if the room should see the chances again."""
        if self.guess is None or self.revealing or not idle:
            return False
        self.ask()
        return True

    def finish_reveal(self) -> None:
        self.revealing = False
        self.guess = None

    def cancel(self) -> bool:
        """Forget the guess (not while the dice are landing); False if it cannot be cancelled."""
        if self.revealing:
            return False
        self.guess, self.asked = None, False
        return True
