"""For teaching a room: presentation mode, guess mode, the Demos menu and Help → Shortcuts, mixed
into the main window as one."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QMenu

from synthscope.sampling import SamplerSettings, SettingsError
from synthscope.ui.compare import CompareWindow, demo_compare
from synthscope.ui.guess import GuessMode
from synthscope.ui.presentation import Presentation
from synthscope.ui.resources import Demo, DemoError, demos
from synthscope.ui.shortcuts import ShortcutsDialog
from synthscope.ui.wording import html

if TYPE_CHECKING:
    from synthscope.ui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object


class Workshop(Presentation, GuessMode, _Base):
    """Mixed into MainWindow before StepView: its panel refresh also updates the large-type covers."""

    demo: Demo | None  # the demo applied last

    def _init_workshop(self) -> None:
        self.demo = None
        self._init_guess()
        self._init_presentation()
        self.commands.shortcuts.triggered.connect(self.show_shortcuts)
        self.installEventFilter(self)  # sees Close before closeEvent does

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Closing while presenting leaves presentation mode first, so the saved window geometry is
        the ordinary one (not full screen)."""
        if watched is self and event.type() == QEvent.Type.Close and self.presenting is not None:
            self.set_presentation(False)
        return super().eventFilter(watched, event)

    def _refresh_panels(self) -> None:
        super()._refresh_panels()
        if hasattr(self, "dice_cover"):  # the first refreshes come before _init_workshop
            self.sync_big_panels()

    # -- demos ---------------------------------------------------------------------------------
    def fill_demos_menu(self, menu: QMenu) -> None:
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
        if self.state in ("running", "busy", "loading"):
            self.statusBar().showMessage("Stop the generation first, then choose a demo.", 5000)
            return False
        try:
            settings = SamplerSettings.from_dict({**SamplerSettings().to_dict(), **demo.settings})
        except SettingsError as exc:
            self.banner.show_message(f"The demo “{demo.title}” has a wrong setting: {exc}")
            return False
        self.cancel_guess()
        self.card.hide()
        self.set_chat_mode(demo.mode == "chat")
        if self.chatting != (demo.mode == "chat"):
            return False  # the model cannot chat: the banner says so
        if self.chatting:
            self.new_chat()
            self.chat_input.set_message(demo.prompt)
        else:
            self.editor.set_prompt(demo.prompt)
            self._forget_run()
        self.controls.set_settings(settings)
        self.controls.new_seed_each_run.setChecked(False)  # the demo's dice, every time
        self.controls.seed_box.setValue(demo.seed)
        self.controls.max_tokens.setValue(demo.max_tokens)
        self.controls.ignore_end.setChecked(demo.ignore_end)
        self.demo = demo
        self._refresh_panels()
        self._update_actions()
        press = "Send" if self.chatting else "Generate"
        self.inspector.clear(f"<b>{html(demo.title)}</b><br>{html(demo.what_to_look_for)}<br>"
                             f"Press <b>{press}</b> (Ctrl+Enter) or <b>Step</b> (Space) to start.")
        self.statusBar().showMessage(f"Demo: {demo.title}. {demo.what_to_look_for}", 30000)
        if demo.compare and self.model is not None:
            self.open_demo_compare(demo, settings)
        return True

    def open_demo_compare(self, demo: Demo, settings: SamplerSettings) -> CompareWindow | None:
        """The demo's prompt written side by side with each of its variants, started at once."""
        if self.model is None:
            return None
        window = demo_compare(demo.prompt, settings, demo.seed, self.model.path, demo.compare,
                              demo.max_tokens, engine=self.engine_preferences())
        window.setParent(self, window.windowFlags())
        window.show()
        window.run_all()
        self.compare_windows = [w for w in getattr(self, "compare_windows", []) if w.isVisible()] + [window]
        return window

    # -- help -----------------------------------------------------------------------------------
    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self)
        dialog.show()
        self.shortcuts_dialog = dialog
        return dialog
