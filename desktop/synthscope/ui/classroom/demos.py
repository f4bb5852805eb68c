"""The Demos menu: each resources/demos file sets the mode, prompt, settings, dice and length, and
says what to look for (some also open a comparison)."""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMenu

from synthscope.sampling import SamplerSettings, SettingsError
from synthscope.session.workspace import Workspace
from synthscope.ui.classroom.guess import Guess
from synthscope.ui.exploring.compare_launcher import CompareLauncher
from synthscope.ui.frame.notices import Notices
from synthscope.ui.frame.run_state import RunState
from synthscope.ui.resources import Demo, DemoError, demos
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.hover_card import HoverCard
from synthscope.ui.steps.inspector import Inspector
from synthscope.ui.steps.text_view import TokenTextView
from synthscope.ui.wording import html
from synthscope.ui.writing.chat import Chat
from synthscope.ui.writing.chat_input import ChatInput


class Demos(QObject):
    """Applies a demo to the main window; `demo` is the one applied last."""

    def __init__(self, doc: Workspace, editor: TokenTextView, chat_input: ChatInput, card: HoverCard,
                 controls: ControlsPanel, inspector: Inspector, chat: Chat, guess: Guess, steps: StepDisplay,
                 run_state: RunState, compare: CompareLauncher, notices: Notices,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.editor, self.chat_input, self.card = doc, editor, chat_input, card
        self.controls, self.inspector, self.chat, self.guess = controls, inspector, chat, guess
        self.steps, self.run_state, self.compare, self.notices = steps, run_state, compare, notices
        self.demo: Demo | None = None

    def fill_menu(self, menu: QMenu) -> None:
        """The Demos menu: one entry per resources/demos file, its what-to-look-for as the status tip."""
        menu.clear()
        menu.setToolTipsVisible(True)
        try:
            found = demos()
        except DemoError as exc:
            menu.addAction(str(exc)).setEnabled(False)
            return
        for number, demo in enumerate(found, 1):
            action = menu.addAction(f"{number}. {demo.title}")
            action.setStatusTip(demo.what_to_look_for)
            action.setToolTip(demo.what_to_look_for)
            action.triggered.connect(lambda _checked=False, demo=demo: self.apply_demo(demo))
        if not found:
            menu.addAction("No demos found (resources/demos is missing)").setEnabled(False)

    def apply_demo(self, demo: Demo) -> bool:
        """Set the demo's mode, prompt, settings, dice and length, and say what to look for; False
        (with a word why) when it cannot be applied now."""
        if self.doc.state in ("running", "busy", "loading"):
            self.notices.say("Stop the generation first, then choose a demo.", 5000)
            return False
        try:
            settings = SamplerSettings.from_dict({**SamplerSettings().to_dict(), **demo.settings})
        except SettingsError as exc:
            self.notices.problem(f"The demo “{demo.title}” has a wrong setting: {exc}")
            return False
        self.guess.cancel()
        self.card.hide()
        self.chat.set_mode(demo.mode == "chat")
        if self.doc.chatting != (demo.mode == "chat"):
            return False  # the model cannot chat: the banner says so
        if self.doc.chatting:
            self.chat.new_chat()
            self.chat_input.set_message(demo.prompt)
        else:
            self.editor.set_prompt(demo.prompt)
            self.steps.forget()
        self.controls.set_settings(settings)
        self.controls.new_seed_each_run.setChecked(False)  # the demo's dice, every time
        self.controls.seed_box.setValue(demo.seed)
        self.controls.max_tokens.setValue(demo.max_tokens)
        self.controls.ignore_end.setChecked(demo.ignore_end)
        self.demo = demo
        self.steps.refresh_panels()
        self.run_state.update_actions()
        press = "Send" if self.doc.chatting else "Generate"
        self.inspector.clear(f"<b>{html(demo.title)}</b><br>{html(demo.what_to_look_for)}<br>"
                             f"Press <b>{press}</b> (Ctrl+Enter) or <b>Step</b> (Space) to start.")
        self.notices.say(f"Demo: {demo.title}. {demo.what_to_look_for}", 30000)
        if demo.compare and self.doc.model is not None:
            self.compare.open_demo_compare(demo.prompt, settings, demo.seed, demo.compare, demo.max_tokens)
        return True
