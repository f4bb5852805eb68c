"""The main window's sessions: save and open the whole exploration, and autosave it for a restart."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from synthscope.engine.machine import user_cache_dir
from synthscope.session import ModelIdentity, SessionFileError, Step
from synthscope.session.chat import Conversation, Turn
from synthscope.session.exploration_io import Exploration, load_exploration, tree_of
from synthscope.session.tree import Branch

if TYPE_CHECKING:
    from synthscope.ui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object

AUTOSAVE_MS = 2000  # the most a kill can lose
AUTOSAVE_NAME = "autosave-session.json"


def autosave_path() -> Path:
    return user_cache_dir() / AUTOSAVE_NAME


def same_model(identity: ModelIdentity, path: Path) -> bool:
    try:
        found = ModelIdentity.of_file(path, identity.name, identity.vocab_size)
    except OSError:
        return False
    return (found.file_size, found.head_sha256) == (identity.file_size, identity.head_sha256)


class Sessions(_Base):
    """Mixed into MainWindow."""

    opening: Exploration | None  # a session the worker is starting and following
    waiting: Exploration | None  # a session waiting for its model to load
    autosave_enabled: bool
    locate_model: Callable[[ModelIdentity], str | None]  # asks where a missing model file went

    def _init_sessions(self) -> None:
        self.opening = None
        self.waiting = None
        self.autosave_enabled = False
        self.locate_model = self._ask_where_the_model_is
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setSingleShot(True)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave_now)

    # -- what is saved -----------------------------------------------------------------------
    def snapshot(self) -> Exploration | None:
        """The exploration as the window shows it, without the run's facts (the worker adds them);
        None when there is no run to keep."""
        if not len(self.mirror) and not self.tree.branches[0].steps and len(self.tree.branches) == 1:
            return None
        self.tree.set_path(self.mirror.steps)
        branches = [Branch(b.id, b.name, b.parent, b.fork_at, list(b.steps))
                    for b in self.tree.branches.values()]
        extras = {}
        if self.chatting:
            c = self.conversation
            extras["chat"] = {"system": c.system, "asking": c.asking,
                              "turns": [{"role": t.role, "content": t.content} for t in c.turns]}
        return Exploration(None, branches, self.tree.current, self.controls.settings(),  # type: ignore[arg-type]
                           extras)

    def save_session_dialog(self) -> None:
        snapshot = self.snapshot()
        if snapshot is None:
            self.banner.show_message("There is nothing to save yet: generate some text first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the session", "synthscope-session.json",
                                              "Synthscope sessions (*.json)")
        if path:
            self.handle.save(path, snapshot)

    # -- autosave ---------------------------------------------------------------------------
    def schedule_autosave(self) -> None:
        """At most AUTOSAVE_MS after a change (never postponed by more changes)."""
        if self.autosave_enabled and not self.autosave_timer.isActive():
            self.autosave_timer.start()

    def autosave_now(self) -> None:
        if self.autosave_enabled and self.model is not None and self.opening is None and self.waiting is None:
            self.handle.autosave(str(autosave_path()), self.snapshot())

    def restore_autosave(self) -> None:
        """At the start: put back the session autosaved last time, if it is there and fits."""
        path = autosave_path()
        if path.is_file():
            self.open_session(str(path), quiet=True)

    # -- opening ----------------------------------------------------------------------------
    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a session or a saved run", "",
                                              "Synthscope sessions and runs (*.json);;All files (*)")
        if path:
            self.open_session(path)

    def open_session(self, path: str, quiet: bool = False) -> bool:
        """Open a session (or a run saved by `synthscope trace`). Its model must be the loaded one,
        or be found (and loaded first); another model's numbers are never mixed in."""
        if self.state not in ("idle", "no-model"):
            self.statusBar().showMessage("Stop the generation first, then open a session.", 5000)
            return False
        try:
            exploration = load_exploration(path)
        except SessionFileError as exc:
            if not quiet:
                self.banner.show_message(f"{Path(path).name} could not be opened: {exc}")
            return False
        identity = exploration.record.model
        if self.model is not None and same_model(identity, self.model.path):
            self._restore(exploration)
            return True
        model_file = Path(identity.path)
        if not model_file.is_file():
            if quiet:
                return False
            located = self.locate_model(identity)
            if not located:
                return False
            model_file = Path(located)
        if not same_model(identity, model_file):
            if not quiet:
                self.banner.show_message(
                    f"This session was made with another model ({identity.name}, "
                    f"{identity.file_size / 1e6:,.0f} MB), not {model_file.name}. Its numbers cannot be "
                    "mixed with another model's: open that model's file to see it.")
            return False
        self.waiting = exploration
        self.load_model(model_file, probe=True)  # _loaded then restores it
        return True

    def _ask_where_the_model_is(self, identity: ModelIdentity) -> str | None:
        answer = QMessageBox.question(
            self, "Model file not found",
            f"This session was made with {identity.name}, but its file is no longer at\n"
            f"{identity.path}.\n\nDo you want to show where it is now?")
        if answer != QMessageBox.StandardButton.Yes:
            return None
        path, _ = QFileDialog.getOpenFileName(self, f"Where is {Path(identity.path).name}?", "",
                                              "GGUF models (*.gguf);;All files (*)")
        return path or None

    def resume_opening(self) -> None:
        """Called when a model has loaded: restore the session that waited for it."""
        if self.waiting is not None:
            exploration, self.waiting = self.waiting, None
            if self.model is not None and same_model(exploration.record.model, self.model.path):
                self._restore(exploration)

    def _restore(self, exploration: Exploration) -> None:
        record = exploration.record
        chat = exploration.extras.get("chat")
        self.set_chat_mode(bool(chat) and self.model is not None and self.model.facts.has_chat_template)
        if self.chatting and isinstance(chat, dict):
            self.conversation = Conversation(str(chat.get("system") or ""),
                                             [Turn(t["role"], t["content"]) for t in chat.get("turns", [])],
                                             chat.get("asking"))
            self.chat_input.set_system_text(self.conversation.system)
            self.chat_input.message.clear()
            self._show_conversation(replying=self.conversation.asking is not None)
        else:
            self.editor.set_prompt(record.prompt)
        if exploration.settings is not None:
            self.controls.set_settings(exploration.settings)
        self.controls.seed_box.setValue(record.seed)
        self.opening = exploration
        path = next(b for b in exploration.branches if b.id == exploration.current).steps
        self._set_state("busy")
        self.statusBar().showMessage("Opening the session…")
        self.handle.restore(record.prompt, record.seed, path, record.pieces)

    def pending_session_steps(self) -> list[Step] | None:
        """When the worker has followed an opened session's path: put its tree in place."""
        if self.opening is None:
            return None
        exploration, self.opening = self.opening, None
        self.tree = tree_of(exploration)
        self.text_edited = False
        return self.tree.path
