"""Run → Compare runs side by side: opens compare windows from the main window's text and settings,
and keeps the open ones so closing the main window closes them too."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from synthscope.sampling import SamplerSettings
from synthscope.session.workspace import Workspace
from synthscope.ui.exploring.compare_window import CompareWindow, demo_compare
from synthscope.ui.frame.notices import Notices
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.settings.performance import PerformancePanel
from synthscope.ui.steps.text_view import TokenTextView
from synthscope.ui.writing.chat import Chat
from synthscope.ui.writing.chat_input import ChatInput


NEEDS_FILE = ("Compare runs side by side needs a model file opened in Synthscope: each column loads its own "
              "copy of the model, which a model server cannot give. Open the model's file to compare.")


class CompareLauncher(QObject):
    """Makes compare windows; they load their models with the main window's Performance choices."""

    def __init__(self, window: QWidget, doc: Workspace, chat: Chat, chat_input: ChatInput,
                 editor: TokenTextView, controls: ControlsPanel, performance: PerformancePanel,
                 notices: Notices) -> None:
        super().__init__(window)
        self.window, self.doc, self.chat, self.chat_input = window, doc, chat, chat_input
        self.editor, self.controls, self.performance, self.notices = editor, controls, performance, notices
        self.windows: list[CompareWindow] = []  # the ones opened from here, while shown

    def _model_file(self) -> Path | None:
        """The model file the columns load; None (and why, in a sentence) through a model server."""
        model = self.doc.model
        if model is not None and model.path is None:
            self.notices.problem(NEEDS_FILE)
        return model.path if model is not None else None

    def open_compare(self) -> CompareWindow | None:
        """The current prompt (or chat) in a window of its own."""
        doc = self.doc
        model_path = self._model_file()
        if model_path is None:
            return None
        if doc.chatting:
            conversation = self.chat.conversation
            message = self.chat_input.message_text() or conversation.asking or ""
            if not message:
                self.notices.problem("Write a message first: the comparison answers it.")
                return None
            messages = conversation.next_messages(message, self.chat.reply_text()) \
                if self.chat_input.message_text() else conversation.messages()
            prompt = message
        else:
            messages = None
            prompt = doc.mirror.prompt if len(doc.mirror) else self.editor.toPlainText()
        window = CompareWindow(prompt, self.controls.settings(), self.controls.seed(), model_path,
                               self.window, messages, engine=self.engine_preferences())
        window.show()
        self._keep(window)
        return window

    def open_demo_compare(self, prompt: str, settings: SamplerSettings, seed: int,
                          variants: tuple[dict[str, object], ...], max_tokens: int) -> CompareWindow | None:
        """A demo's prompt written side by side with each of its variants, started at once."""
        model_path = self._model_file()
        if model_path is None:
            return None
        window = demo_compare(prompt, settings, seed, model_path, variants, max_tokens,
                              engine=self.engine_preferences())
        window.setParent(self.window, window.windowFlags())
        window.show()
        window.run_all()
        self._keep(window)
        return window

    def engine_preferences(self) -> dict[str, object]:
        """The Performance choices a compare window loads its models with (not the context length)."""
        wanted = dict(self.performance.preferences())
        wanted.pop("context", None)
        return wanted

    def close_all(self) -> None:
        for window in self.windows:
            window.close()

    def _keep(self, window: CompareWindow) -> None:
        self.windows = [w for w in self.windows if w.isVisible()] + [window]
