"""The selected step across all panels: a header sentence, the what-if banner, and the panels' updates."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from synthscope.sampling.explain import certainty_words, equally_likely, why
from synthscope.sampling.head import APPROXIMATE
from synthscope.ui import theme
from synthscope.ui.steps.dice import DicePanel
from synthscope.ui.steps.distribution import DistributionPanel
from synthscope.ui.steps.pipeline import PipelineStrip
from synthscope.ui.steps.served_words import SERVED_HELP, seen_words, served_sentence
from synthscope.session.mirror import StepView
from synthscope.ui.wording import WORD_PIECE_HELP, elide, html, percent, visible

CERTAINTY_HELP = ("How sure was the model? If it was as unsure as when choosing between N equally likely "
                  "words, N is shown (from the entropy of its chances). 1 means it was sure; hundreds mean "
                  "it could hardly guess. This is about the whole step; the colour of a written word is "
                  "only that word's own chance.")


class StepHeader(QWidget):
    """'Word 12 of 40: ␣cat', why it was written, how sure the model was, and, when the controls differ
    from the run's, the what-if banner."""

    backToRun = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setFont(theme.font(theme.BASE_POINT_SIZE + 2))
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setToolTip(WORD_PIECE_HELP)
        self.why = QLabel()  # one plain sentence: why this word, and how sure the model was
        self.why.setTextFormat(Qt.TextFormat.RichText)
        self.why.setWordWrap(True)
        self.why.setToolTip(CERTAINTY_HELP)
        self.served = QLabel()  # through a model server: what it listed and which numbers are exact
        self.served.setObjectName("hint")
        self.served.setWordWrap(True)
        self.served.setToolTip(SERVED_HELP)
        self.banner = QFrame()
        self.banner.setObjectName("whatIf")
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.banner_text.setTextFormat(Qt.TextFormat.RichText)
        self.back_button = QPushButton("Back to the run's settings")
        self.back_button.setToolTip("Set the controls to the settings this word piece was really "
                                    "sampled with.")
        self.back_button.clicked.connect(self.backToRun)
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(12, 8, 12, 8)
        row.addWidget(self.banner_text, 1)
        row.addWidget(self.back_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(6)
        layout.addWidget(self.label)
        layout.addWidget(self.why)
        layout.addWidget(self.served)
        layout.addWidget(self.banner)
        self.served.hide()
        self.banner.hide()


class Inspector:
    """Sends one StepView to every panel; the panels never look anything up themselves."""

    def __init__(self, header: StepHeader, pipeline: PipelineStrip, dice: DicePanel,
                 distribution: DistributionPanel) -> None:
        self.header, self.pipeline, self.dice, self.distribution = header, pipeline, dice, distribution
        self.token_text: Callable[[int], str] = lambda token: f"#{token}"
        # A model server's head of each step (by index), where one computed it: None for a model opened here.
        self.head_for: Callable[[int], dict[str, Any] | None] = lambda index: None
        self.view: StepView | None = None
        self.start_word = "Generate"  # the button that starts a run: Send in a chat
        self.clear()

    def set_token_text(self, token_text: Callable[[int], str]) -> None:
        self.token_text = token_text
        self.pipeline.token_text = token_text
        self.dice.set_token_text(token_text)
        self.distribution.token_text = token_text

    def clear(self, message: str = "") -> None:
        self.view = None
        self.header.label.setText(message or f"Press <b>{self.start_word}</b> or <b>Step</b>: each new "
                                             "word piece and how it was chosen appears here.")
        self.header.why.setText("")
        self.header.why.hide()
        self.header.served.hide()
        self.header.banner.hide()
        self.pipeline.clear()
        self.dice.clear()
        self.distribution.clear()

    def name(self, token: int, limit: int = 24) -> str:
        return html(elide(visible(self.token_text(token)), limit))

    def show(self, view: StepView, recorded: StepView, total: int, fetching: bool = False) -> None:
        for part in self.parts_of(view, recorded, total, fetching):
            part()

    def parts_of(self, view: StepView, recorded: StepView, total: int,
                 fetching: bool = False) -> list[Callable[[], None]]:
        """Showing a step in two halves of about the same cost (the sentences and the samplers, then
        the dice and the chances): while a run streams, the window shows them one turn of its event
        loop apart, so no single turn keeps it busy for long."""
        self.view = view

        def sentences_and_samplers() -> None:
            self._show_header(view, recorded, total, fetching)
            self.pipeline.show_step(view, recorded if view.is_what_if else None)
            head = self.head_for(recorded.index)
            if head and not view.is_what_if:
                self.pipeline.mark_estimates({name for name, verdict in (head.get("exact") or {}).items()
                                              if verdict == APPROXIMATE})

        def dice_and_chances() -> None:
            self.dice.show_step(view)
            self.distribution.show_step(view, seen_words(self.head_for(recorded.index)))

        return [sentences_and_samplers, dice_and_chances]

    def _show_header(self, view: StepView, recorded: StepView, total: int, fetching: bool) -> None:
        name, trace = self.name(recorded.token_id), recorded.trace
        if view.is_what_if and not fetching:
            # The panels show the re-sampled step: so does this line, naming what the run wrote too.
            new, trace = self.name(view.token_id), view.trace
            self.header.label.setText(
                f"Word piece <b>{recorded.index + 1}</b> of {total} with your settings: <b style='color:"
                f"{theme.CHOSEN}'>{new}</b> — the model gave it <b>{percent(trace.chosen_p_raw)}</b>, "
                f"after the samplers it has <b>{percent(trace.chosen_p_final)}</b>. (The run wrote {name}.)")
        else:
            self.header.label.setText(
                f"Word piece <b>{recorded.index + 1}</b> of {total}: "
                f"<b style='color:{theme.CHOSEN}'>{name}</b>"
                f" — the model gave it <b>{percent(trace.chosen_p_raw)}</b>, after the samplers it had "
                f"<b>{percent(trace.chosen_p_final)}</b>.")
        shown = view if view.is_what_if and not fetching else recorded
        reason = why(shown.trace, shown.token_id, lambda t: self.name(t, 20), shown.settings.greedy)
        candidates = shown.trace.candidates
        sure = certainty_words(shown.trace.entropy_raw,
                               float(candidates["p_raw"][0]) if candidates.size else None)
        self.header.why.setText(f"<b>Why?</b> {reason.sentence} <span style='color:{theme.MUTED}'>"
                                f"How sure, before the samplers: {sure}.</span>")
        self.header.why.setAccessibleDescription(str(equally_likely(shown.trace.entropy_raw)))
        self.header.why.show()
        served = served_sentence(self.head_for(recorded.index), view.is_what_if and not fetching)
        self.header.served.setText(served)
        self.header.served.setVisible(bool(served))
        if fetching:
            self.header.banner_text.setText("<b>What if…</b> fetching this word's scores from the model…")
            self.header.banner.show()
        elif view.is_what_if:
            new = self.name(view.token_id)
            verdict = (f"the same dice would now pick <b>{new}</b> instead of <b>{name}</b>."
                       if view.changes_pick else f"the same dice would still pick <b>{name}</b>.")
            self.header.banner_text.setText(f"<b>What if?</b> With your new settings, {verdict}")
            self.header.banner.show()
        else:
            self.header.banner.hide()
