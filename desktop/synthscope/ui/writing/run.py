"""The run: Generate, Step, Stop, Undo and Clear, a sample prompt, and the text edited by hand."""
from __future__ import annotations

import time

from PySide6.QtCore import QObject, Signal

from synthscope.session.requests import RunRequest, RunStarted
from synthscope.session.stopping import shown
from synthscope.session.workspace import Workspace
from synthscope.ui.frame.notices import Notices
from synthscope.ui.frame.run_state import RunState
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.settings.stop_sequences import StopSequencesBox
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.hover_card import HoverCard
from synthscope.ui.steps.inspector import Inspector
from synthscope.ui.steps.text_view import TokenTextView
from synthscope.ui.worker.handle import WorkerHandle
from synthscope.ui.writing.chat import Chat


CUT_SHORT = "cut short at the Length ({n} word pieces) — press Send with an empty box to go on"


class Run(QObject):
    """Starts, stops and takes back the worker's run, and keeps the document in step with it."""

    proposeRequested = Signal()  # Generate or Step while a person picks each word piece

    def __init__(self, doc: Workspace, editor: TokenTextView, card: HoverCard, inspector: Inspector,
                 controls: ControlsPanel, stops: StopSequencesBox, handle: WorkerHandle,
                 run_state: RunState, steps: StepDisplay, chat: Chat, notices: Notices,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.editor, self.card, self.inspector = doc, editor, card, inspector
        self.controls, self.stops, self.handle = controls, stops, handle
        self.run_state, self.steps, self.chat, self.notices = run_state, steps, chat, notices

    # -- starting -----------------------------------------------------------------------------
    def generate(self) -> None:
        if self.doc.manual:
            self.proposeRequested.emit()
            return
        self.start(self.controls.max_tokens.value())

    def step(self) -> None:
        if self.doc.manual:
            self.proposeRequested.emit()
            return
        self.start(1)

    def start(self, max_tokens: int) -> None:
        """Write up to `max_tokens` word pieces: the chat's next reply, a new run from edited text,
        or more of the current run (0 starts a run and writes nothing, for a guess)."""
        doc = self.doc
        if doc.state != "idle":
            return
        ignore_end = self.controls.ignore_end.isChecked()
        if doc.chatting:
            request = self.chat.request(max_tokens)
            if request is None:
                return
        elif doc.text_edited:
            prompt = self.editor.toPlainText()
            if not prompt.strip():
                self.notices.problem("The text is empty. Type a few words for the model to continue.")
                return
            request = RunRequest(prompt, self.controls.seed_for_new_run(), max_tokens, ignore_end,
                                 self.stops.stops())
        else:
            request = doc.continuation(max_tokens, ignore_end, self.stops.stops())
        self.launch(request)

    def launch(self, request: RunRequest) -> None:
        self.notices.hide_problem()
        self.card.hide()
        self.doc.selected = None
        self.doc.run_clock = (time.perf_counter(), len(self.doc.mirror))
        self.run_state.set("running")
        self.handle.run(request, self.controls.settings())

    def stop(self) -> None:
        if self.doc.state == "running":
            self.handle.stop()
            self.notices.say("Stopping…")

    # -- what the worker says -----------------------------------------------------------------
    def started(self, started: RunStarted) -> None:
        doc = self.doc
        doc.mirror.reset(started.prompt, started.prompt_tokens, started.seed)
        if doc.chatting:
            self.chat.run_started()
        else:
            self.editor.adopt_as_prompt()
        doc.text_edited = False
        doc.run_clock = (time.perf_counter(), 0)

    def finish(self) -> None:
        """The run ended: the window is idle and shows all of it."""
        doc = self.doc
        rate = doc.run_rate()
        if rate is not None:
            doc.run_speed = (doc.mirror.steps[-1], rate)
        self.run_state.set("idle")
        self.steps.flush()

    def report_finish(self, reason: str) -> None:
        """Say how the run ended (a chat message that never reached the model goes back to its box)."""
        if reason == "error" and self.doc.chatting:
            self.chat.run_failed()
        words = self.doc.finish_words(reason)
        if reason == "limit" and self.doc.chatting:
            cut = CUT_SHORT.format(n=self.controls.max_tokens.value())
            self.editor.set_tail_note(cut)
            words = f"{words} The reply was {cut}."
        if words:
            self.notices.say(words, 10000)

    def stop_met(self, stop: str) -> None:
        self.doc.stop_met = shown(stop)

    def truncated(self, index: int) -> None:
        """A branch starts: the run was cut to `index` steps."""
        doc = self.doc
        doc.run_clock = (doc.run_clock[0], index)
        self.steps.remove_last(len(doc.mirror) - index)
        self.steps.pending.clear()

    # -- taking back ----------------------------------------------------------------------------
    def undo(self) -> None:
        if self.doc.state == "idle" and len(self.doc.mirror):
            self.card.hide()
            self.run_state.set("busy")
            self.handle.undo()

    def undone(self, remaining: int) -> None:
        doc = self.doc
        self.steps.remove_last(max(len(doc.mirror) - remaining, 0))
        if doc.selected is not None and doc.selected >= remaining:
            doc.selected = None
        self.run_state.set("idle")
        self.steps.refresh_panels()

    def clear(self) -> None:
        if self.doc.state not in ("idle", "no-model"):
            return
        self.card.hide()
        if self.doc.chatting:
            self.chat.new_chat()
        else:
            self.editor.clear_generated()
            self.steps.forget()
        self.steps.refresh_panels()
        self.run_state.update_actions()

    def use_prompt(self, text: str) -> None:
        """A sample prompt replaces the whole text; the next Generate starts a new run from it."""
        if self.doc.state in ("running", "busy"):
            self.notices.say("Stop the generation first, then pick a prompt.", 5000)
            return
        self.card.hide()
        if self.doc.chatting:
            self.chat.prompt_chosen(text)
            return
        self.editor.set_prompt(text)
        self.steps.forget()
        self.steps.refresh_panels()
        self.run_state.update_actions()

    def user_edited(self) -> None:
        self.doc.text_edited = True
        if len(self.doc.mirror):
            # Edited text no longer matches the tokens: all of it becomes the next run's prompt.
            self.card.hide()
            self.editor.adopt_as_prompt()
            self.steps.forget()
            self.inspector.clear("You edited the text, so all of it is now the prompt. "
                                 "Press <b>Generate</b> to continue from it.")
            self.run_state.update_actions()
