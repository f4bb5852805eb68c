"""The timeline's side of the window: it follows the run as it grows (only new steps are added), marks
the step on show, finds a hovered word in the text, and jumps to the next or previous unsure step."""
from __future__ import annotations

import math

from PySide6.QtCore import QObject

from synthscope.session import Step
from synthscope.session.timeline import Timeline, joined, next_unsure, summary, timeline
from synthscope.session.workspace import Workspace
from synthscope.ui import wording
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.text_view import TokenTextView
from synthscope.ui.steps.timeline_view import TimelinePanel


class TimelinePart(QObject):
    def __init__(self, doc: Workspace, panel: TimelinePanel, editor: TokenTextView, steps: StepDisplay,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.panel, self.editor, self.steps = doc, panel, editor, steps
        self._shown: list[Step] = []  # the steps the timeline holds, to add only new ones
        self._line: Timeline | None = None
        self._speed: float | None = None  # the last run's writing speed, kept once it has ended
        panel.hovered.connect(self.hovered)
        panel.clicked.connect(self.steps.select_step)
        panel.previous_button.clicked.connect(lambda: self.jump(backwards=True))
        panel.next_button.clicked.connect(lambda: self.jump(backwards=False))

    def refresh(self) -> None:
        """After every refresh of the panels (at most ~30 a second while a run streams)."""
        steps = self.doc.mirror.steps
        if not steps:
            self._shown, self._line, self._speed = [], None, None
            self.panel.clear()
            return
        kept = len(self._shown)
        grown = bool(kept <= len(steps) and kept and steps[kept - 1] is self._shown[-1] and self._line is not None)
        if grown:
            if kept < len(steps):
                self._line = joined(self._line, timeline(steps[kept:]))
        else:
            self._line, self._speed = timeline(steps), None  # another text: its speed is not known
        self._shown = list(steps)
        if self.doc.state == "running":
            self._measure()
        elif self.doc.run_speed[0] is steps[-1]:  # the text the last run wrote, as it ended
            self._speed = self.doc.run_speed[1]
        facts = summary(self._line, self._speed)
        self.panel.show_timeline(self._line, facts.sentence() if facts else "", self.doc.shown_index(), grown)

    def _measure(self) -> None:
        rate = self.doc.run_rate(least_seconds=0.5)  # sooner, the prompt's reading dominates
        if rate is not None:
            self._speed = rate

    def hovered(self, index: int | None) -> None:
        if index != self.editor.hovered:
            self.editor.hovered = index
            self.editor.viewport().update()
            steps = self.doc.mirror.steps
            self.panel.show_point(point_words(index + 1, steps[index]) if index is not None
                                  and index < len(steps) else None)

    def jump(self, backwards: bool) -> int | None:
        found = next_unsure(self.doc.mirror.steps, self.doc.shown_index(), backwards)
        if found is not None:
            self.steps.select_step(found)
        return found


def point_words(number: int, step: Step) -> str:
    """What a timeline dot stands for, in a sentence: its word piece, surprise, chances and rank."""
    trace = step.trace
    p_final = trace.chosen_p_final
    after = ("the samplers had removed it (a person picked it)" if p_final != p_final or p_final <= 0
             else f"after the samplers {wording.percent(p_final)}")
    rank = ("; the model's favourite" if trace.chosen_rank == 1 else
            f"; {trace.chosen_rank - 1:,} word pieces were likelier" if trace.chosen_rank > 1 else "")
    surprise = -math.log2(max(trace.chosen_p_raw, 1e-300))
    return (f"Word piece {number}: ‘{wording.visible(step.text)}’ — the model gave it "
            f"{wording.percent(trace.chosen_p_raw)}, {after}{rank}. Surprise {surprise:.1f} bits.")
