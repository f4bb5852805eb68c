"""Chat mode: a conversation in the model's own template, every reply instrumented; raw text and the
conversation are two separate workspaces, and switching mode keeps each as it was."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel

from synthscope.session.chat import ChatState, Conversation, reply_text
from synthscope.session.requests import RunRequest
from synthscope.session.workspace import Workspace
from synthscope.ui.frame.actions import Actions
from synthscope.ui.frame.notices import Notices
from synthscope.ui.frame.run_state import RunState
from synthscope.ui.resources import sample_prompts
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.settings.stop_sequences import StopSequencesBox
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.hover_card import HoverCard
from synthscope.ui.steps.text_view import END_MARK, TokenTextView, chat_end_mark
from synthscope.ui.writing.chat_input import ChatInput

NO_TEMPLATE = ("{name} has no chat template (it is a base model), so it can only continue text. "
               "Chat needs an instruct model, such as the default SmolLM2.")


class Chat(QObject):
    """Run → Chat with the model (Ctrl+T): the mode switch, and the conversation's side of a run."""

    def __init__(self, doc: Workspace, state: ChatState, commands: Actions, editor: TokenTextView,
                 chat_input: ChatInput, text_title: QLabel, card: HoverCard, controls: ControlsPanel,
                 stops: StopSequencesBox, steps: StepDisplay, run_state: RunState, notices: Notices,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.state, self.commands = doc, state, commands
        self.editor, self.chat_input, self.text_title, self.card = editor, chat_input, text_title, card
        self.controls, self.stops, self.steps = controls, stops, steps
        self.run_state, self.notices = run_state, notices

    @property
    def conversation(self) -> Conversation:
        return self.state.conversation

    # -- switching ------------------------------------------------------------------------
    def set_mode(self, on: bool) -> None:
        self.commands.chat_mode.setChecked(on)  # toggled → toggled() when it changes

    def toggled(self, on: bool) -> None:
        doc, busy = self.doc, self.doc.state in ("running", "busy")
        if busy or (on and not self._model_can_chat()):
            action = self.commands.chat_mode
            action.blockSignals(True)
            action.setChecked(not on)
            action.blockSignals(False)
            if on and doc.model is not None:
                self.notices.problem(NO_TEMPLATE.format(name=doc.model.name))
            elif busy:
                self.notices.say("Stop the generation first, then switch mode.", 5000)
            return
        doc.chatting = on
        self.card.hide()
        if doc.model is not None:
            self.state.chat_modes[doc.model.location] = on
        if on:
            self.state.raw_text = self.editor.toPlainText() if len(doc.mirror) == 0 else (
                self.editor.prompt_text() + self.editor.generated_text())
            self.steps.forget()
            doc.text_edited = False
            self.show_conversation(replying=False)
            if not self.chat_input.message_text() and not self.conversation.started:
                samples = sample_prompts("chat")
                if samples:
                    self.chat_input.set_message(samples[0].text.strip())
            self.chat_input.message.setFocus()
        else:
            self.conversation.close_exchange(self.reply_text())
            self.editor.set_prompt(self.state.raw_text)
            self.steps.forget()
        self.editor.end_mark = chat_end_mark if on else (lambda _p: END_MARK)
        self.chat_input.setVisible(on)
        self.text_title.setText("Conversation" if on else "Prompt and continuation")
        # One name for one thing: in a chat the toolbar's Generate is the Send button's twin.
        self.commands.generate.setText("▶  Send" if on else "▶  Generate")
        self.steps.inspector.start_word = "Send" if on else "Generate"
        self.editor.setReadOnly(on or busy)
        self.steps.refresh_panels()
        self.run_state.update_actions()

    def _model_can_chat(self) -> bool:
        return self.doc.model is None or self.doc.model.facts.has_chat_template

    def choose_mode_for_loaded_model(self) -> None:
        """Chat for a model with a chat template (an instruct model), raw text otherwise; a model
        opened again in this session keeps the mode it had."""
        model = self.doc.model
        assert model is not None
        wanted = self.state.mode_for(model.location, model.facts.has_chat_template)
        if wanted == self.doc.chatting:
            if wanted:
                self.show_conversation(replying=False)
            return
        self.set_mode(wanted)

    def carry_over(self) -> None:
        """Another model is about to load: it continues the conversation (in its own template) or
        all of the text."""
        if self.doc.chatting:
            self.conversation.close_exchange(self.reply_text())
            self.steps.forget()
            self.show_conversation(replying=False)
        else:
            self.editor.adopt_as_prompt()
            self.steps.forget()

    # -- the conversation -------------------------------------------------------------------
    def reply_text(self) -> str:
        return reply_text(self.doc.mirror.steps, self.doc.end_tokens)

    def show_conversation(self, replying: bool) -> None:
        self.conversation.system = self.chat_input.system_text()
        self.editor.set_transcript(self.conversation.messages(), replying=replying)

    def request(self, max_tokens: int) -> RunRequest | None:
        """The run that answers the typed message, or goes on with the reply when the box is empty;
        None (with a word why) when there is nothing to do."""
        message = self.chat_input.message_text()
        stops = self.stops.stops()
        ignore_end = self.controls.ignore_end.isChecked()
        if not message:
            if self.doc.mirror.steps and (not self.doc.ended() or ignore_end):
                return self.doc.continuation(max_tokens, ignore_end, stops)
            self.notices.problem("Write a message for the model first, then press Send.")
            self.chat_input.message.setFocus()
            return None
        reply = self.reply_text()
        self.conversation.system = self.chat_input.system_text()
        messages = self.conversation.next_messages(message, reply)
        self.state.sent = (message, reply)
        self.editor.set_transcript(messages)
        return RunRequest(None, self.controls.seed_for_new_run(), max_tokens, ignore_end, stops,
                          tuple(messages))

    def run_started(self) -> None:
        if self.state.run_started():
            self.chat_input.message.clear()

    def run_failed(self) -> None:
        """The message never reached the model (e.g. its template failed): show the chat as it was,
        the message still in its box."""
        if self.state.sent is not None:
            self.state.sent = None
            self.show_conversation(replying=self.conversation.asking is not None)

    def new_chat(self) -> None:
        self.conversation.clear()
        self.steps.forget()
        self.doc.text_edited = False
        self.show_conversation(replying=False)

    def prompt_chosen(self, text: str) -> None:
        self.chat_input.set_message(text.strip())
        self.chat_input.message.setFocus()

    def samples(self) -> list[tuple[str, str]]:
        """The Prompts menu: samples that fit the mode (questions for chat, story starts for raw text)."""
        return [(s.title, s.text) for s in sample_prompts("chat" if self.doc.chatting else "raw")]
