"""The main window's chat mode: a conversation in the model's own template, every reply instrumented."""
from __future__ import annotations

from typing import TYPE_CHECKING

from synthscope.session.chat import Conversation
from synthscope.ui.resources import sample_prompts
from synthscope.ui.text_view import END_MARK, chat_end_mark
from synthscope.ui.worker_messages import RunRequest

if TYPE_CHECKING:
    from synthscope.ui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object

NO_TEMPLATE = ("{name} has no chat template (it is a base model), so it can only continue text. "
               "Chat needs an instruct model, such as the default SmolLM2.")


class ChatMode(_Base):
    """Mixed into MainWindow. Raw text and the conversation are two separate workspaces: switching
    mode keeps each as it was."""

    conversation: Conversation
    raw_text: str  # the raw-mode text while the chat is shown
    sent: tuple[str, str] | None  # (message, reply it closes) until the run starts
    chat_modes: dict[str, bool]  # per model path in this session: the mode last used with it

    def _init_chat(self) -> None:
        self.conversation = Conversation()
        self.raw_text = ""
        self.sent = None
        self.chat_modes = {}
        self.chat_input.sendRequested.connect(self.generate)
        self.chat_input.newChatRequested.connect(self.clear)
        self.commands.chat_mode.toggled.connect(self._chat_toggled)
        self.chat_input.setVisible(False)

    @property
    def chatting(self) -> bool:
        return self.commands.chat_mode.isChecked()

    # -- switching ------------------------------------------------------------------------
    def set_chat_mode(self, on: bool) -> None:
        self.commands.chat_mode.setChecked(on)  # toggled → _chat_toggled when it changes

    def _chat_toggled(self, on: bool) -> None:
        if self.state in ("running", "busy") or (on and not self._model_can_chat()):
            self.commands.chat_mode.blockSignals(True)
            self.commands.chat_mode.setChecked(not on)
            self.commands.chat_mode.blockSignals(False)
            if on and self.model is not None:
                self.banner.show_message(NO_TEMPLATE.format(name=self.model.path.name))
            elif self.state in ("running", "busy"):
                self.statusBar().showMessage("Stop the generation first, then switch mode.", 5000)
            return
        self.card.hide()
        if self.model is not None:
            self.chat_modes[str(self.model.path)] = on
        if on:
            self.raw_text = self.editor.toPlainText() if len(self.mirror) == 0 else (
                self.editor.prompt_text() + self.editor.generated_text())
            self._forget_run()
            self.text_edited = False
            self._show_conversation(replying=False)
            if not self.chat_input.message_text() and not self.conversation.started:
                samples = sample_prompts("chat")
                if samples:
                    self.chat_input.set_message(samples[0].text.strip())
            self.chat_input.message.setFocus()
        else:
            self.conversation.close_exchange(self.reply_text())
            self.editor.set_prompt(self.raw_text)
            self._forget_run()
        self.editor.end_mark = chat_end_mark if on else (lambda _p: END_MARK)
        self.chat_input.setVisible(on)
        self.text_title.setText("Conversation" if on else "Prompt and continuation")
        # One name for one thing: in a chat the toolbar's Generate is the Send button's twin.
        self.commands.generate.setText("▶  Send" if on else "▶  Generate")
        self.editor.setReadOnly(on or self.state in ("running", "busy"))
        self._refresh_panels()
        self._update_actions()

    def _model_can_chat(self) -> bool:
        return self.model is None or self.model.facts.has_chat_template

    def choose_mode_for_loaded_model(self) -> None:
        """Chat for a model with a chat template (an instruct model), raw text otherwise; a model
        opened again in this session keeps the mode it had."""
        assert self.model is not None
        wanted = self.chat_modes.get(str(self.model.path), self.model.facts.has_chat_template)
        wanted = wanted and self.model.facts.has_chat_template
        if wanted == self.chatting:
            if wanted:
                self._show_conversation(replying=False)
            return
        self.set_chat_mode(wanted)

    # -- the conversation -------------------------------------------------------------------
    def reply_text(self) -> str:
        """What the model has written of the current reply (its end-of-turn token left out: the
        template adds its own)."""
        return "".join(step.text for index, step in enumerate(self.mirror.steps)
                       if index not in self.editor.marked)

    def _show_conversation(self, replying: bool) -> None:
        self.conversation.system = self.chat_input.system_text()
        self.editor.set_transcript(self.conversation.messages(), replying=replying)

    def chat_request(self, max_tokens: int) -> RunRequest | None:
        """The run that answers the typed message, or goes on with the reply when the box is empty;
        None (with a word why) when there is nothing to do."""
        message = self.chat_input.message_text()
        stops = self.stops.stops()
        ignore_end = self.controls.ignore_end.isChecked()
        if not message:
            last_ended = bool(self.mirror.steps) and (len(self.mirror) - 1) in self.editor.marked
            if self.mirror.steps and (not last_ended or ignore_end):
                return RunRequest(None, self.mirror.seed, max_tokens, ignore_end, stops)
            self.banner.show_message("Write a message for the model first, then press Send.")
            self.chat_input.message.setFocus()
            return None
        reply = self.reply_text()
        self.conversation.system = self.chat_input.system_text()
        messages = self.conversation.next_messages(message, reply)
        self.sent = (message, reply)
        self.editor.set_transcript(messages)
        return RunRequest(None, self.controls.seed_for_new_run(), max_tokens, ignore_end, stops,
                          tuple(messages))

    def chat_run_started(self) -> None:
        if self.sent is not None:
            self.conversation.ask(*self.sent)
            self.sent = None
            self.chat_input.message.clear()

    def chat_run_failed(self) -> None:
        """The message never reached the model (e.g. its template failed): show the chat as it was,
        the message still in its box."""
        if self.sent is not None:
            self.sent = None
            self._show_conversation(replying=self.conversation.asking is not None)

    def new_chat(self) -> None:
        self.conversation.clear()
        self._forget_run()
        self.text_edited = False
        self._show_conversation(replying=False)

    def chat_prompt_chosen(self, text: str) -> None:
        self.chat_input.set_message(text.strip())
        self.chat_input.message.setFocus()

    def mode_samples(self) -> list[tuple[str, str]]:
        return [(s.title, s.text) for s in sample_prompts("chat" if self.chatting else "raw")]
