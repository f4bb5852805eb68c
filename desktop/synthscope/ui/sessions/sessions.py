"""File → Save session and Open session: the whole exploration, and the autosave put back at start."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from synthscope.session import ModelIdentity, SessionFileError
from synthscope.session.chat import Conversation, Turn
from synthscope.session.exploration_io import Exploration, load_exploration
from synthscope.session.requests import LoadedModel
from synthscope.session.workspace import Workspace
from synthscope.ui.frame.notices import Notices
from synthscope.ui.frame.run_state import RunState
from synthscope.ui.models.loading import ModelLoading
from synthscope.ui.sessions.autosave import Autosave, autosave_path
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.steps.text_view import TokenTextView
from synthscope.ui.worker.handle import WorkerHandle
from synthscope.ui.writing.chat import Chat
from synthscope.ui.writing.chat_input import ChatInput


def same_model(identity: ModelIdentity, path: Path | None, model: LoadedModel | None = None) -> bool:
    """Whether the session's model is the file at `path`, or the server and model `model` computes with."""
    server = model.server if model is not None else None
    if server is not None or path is None:
        return (server is not None and identity.served and identity.path == f"{server.server}#{server.model}"
                and identity.vocab_size == server.vocab)
    try:
        found = ModelIdentity.of_file(path, identity.name, identity.vocab_size)
    except OSError:
        return False
    return (found.file_size, found.head_sha256) == (identity.file_size, identity.head_sha256)


class Sessions(QObject):
    """A session's model must be the loaded one, or be found (and loaded first); another model's
    numbers are never mixed in."""

    def __init__(self, window: QWidget, doc: Workspace, chat: Chat, chat_input: ChatInput,
                 editor: TokenTextView, controls: ControlsPanel, handle: WorkerHandle, run_state: RunState,
                 models: ModelLoading, autosave: Autosave, notices: Notices) -> None:
        super().__init__(window)
        self.window, self.doc, self.chat, self.chat_input, self.editor = window, doc, chat, chat_input, editor
        self.controls, self.handle, self.run_state = controls, handle, run_state
        self.models, self.autosave, self.notices = models, autosave, notices
        self.locate_model: Callable[[ModelIdentity], str | None] = self._ask_where_the_model_is
        self.restore_on_load = False  # the first load at the start puts back the autosaved session

    def snapshot(self) -> Exploration | None:
        return self.autosave.snapshot()

    def save_session_dialog(self) -> None:
        snapshot = self.snapshot()
        if snapshot is None:
            self.notices.problem("There is nothing to save yet: generate some text first.")
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Save the session", "synthscope-session.json",
                                              "Synthscope sessions (*.json)")
        if path:
            self.handle.save(path, snapshot)

    def saved(self, path: str) -> None:
        self.notices.say(f"Saved the session to {path}.", 8000)

    # -- opening ----------------------------------------------------------------------------
    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a session or a saved run", "",
                                              "Synthscope sessions and runs (*.json);;All files (*)")
        if path:
            self.open_session(path)

    def open_session(self, path: str, quiet: bool = False) -> bool:
        """Open a session (or a run saved by `synthscope trace`); `quiet`: the autosave at start,
        which says nothing when it does not fit."""
        doc = self.doc
        if doc.state not in ("idle", "no-model"):
            self.notices.say("Stop the generation first, then open a session.", 5000)
            return False
        try:
            exploration = load_exploration(path)
        except SessionFileError as exc:
            if not quiet:
                self.notices.problem(f"{Path(path).name} could not be opened: {exc}")
            return False
        identity = exploration.record.model
        if doc.model is not None and same_model(identity, doc.model.path, doc.model):
            if not self._fits(exploration, quiet):
                return False
            self._restore(exploration)
            return True
        if identity.served:
            if not quiet:
                self.notices.problem(identity.served_words())
            return False
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
                self.notices.problem(
                    f"This session was made with another model ({identity.name}, "
                    f"{identity.file_size / 1e6:,.0f} MB), not {model_file.name}. Its numbers cannot be "
                    "mixed with another model's: open that model's file to see it.")
            return False
        doc.waiting = exploration
        self.models.load_model(model_file, probe=True)  # model_ready() then restores it
        return True

    def _ask_where_the_model_is(self, identity: ModelIdentity) -> str | None:
        answer = QMessageBox.question(
            self.window, "Model file not found",
            f"This session was made with {identity.name}, but its file is no longer at\n"
            f"{identity.path}.\n\nDo you want to show where it is now?")
        if answer != QMessageBox.StandardButton.Yes:
            return None
        path, _ = QFileDialog.getOpenFileName(self.window, f"Where is {Path(identity.path).name}?", "",
                                              "GGUF models (*.gguf);;All files (*)")
        return path or None

    def model_ready(self) -> None:
        """A model has loaded: put back the autosave (at the start) or the session that waited for it."""
        if self.restore_on_load:
            self.restore_on_load = False
            path = autosave_path()
            if path.is_file() and not self.open_session(str(path), quiet=True):
                self._keep_served_autosave(path)
        doc = self.doc
        if doc.waiting is not None:
            exploration, doc.waiting = doc.waiting, None
            if (doc.model is not None and same_model(exploration.record.model, doc.model.path, doc.model)
                    and self._fits(exploration, False)):
                self._restore(exploration)

    def skip_start_autosave(self) -> None:
        """A model server was connected before the start's model file loaded: the autosave, if it is a
        file's session, would open that file over the server."""
        self.restore_on_load = False

    def _keep_served_autosave(self, path: Path) -> None:
        """The last session was computed by a model server, which is not connected at the start: it is
        kept beside the autosave (the next autosave would replace it) and the status bar says where."""
        try:
            identity = load_exploration(str(path)).record.model
        except SessionFileError:
            return
        if not identity.served:
            return
        kept = path.with_name(f"server-session-{time.strftime('%Y%m%d-%H%M%S')}.json")
        try:
            path.replace(kept)
        except OSError:
            return
        self.notices.say(f"The last session was computed by the model server at {identity.path.split('#')[0]}; "
                         f"it is kept in {kept}. Connect to that server (File > Connect to a model server…), "
                         "then open it with File > Open session.", 30000)

    def _fits(self, exploration: Exploration, quiet: bool) -> bool:
        """The file's token numbers were checked against the vocabulary it names: that must be the
        loaded model's (a number past it would make llama.cpp read beyond its tables)."""
        model = self.doc.model
        if model is not None and exploration.record.model.vocab_size == len(model.vocab):
            return True
        if not quiet:
            self.notices.problem("The session could not be opened: its word pieces do not fit this "
                                 "model's vocabulary, so the file is damaged.")
        return False

    def _restore(self, exploration: Exploration) -> None:
        record, doc = exploration.record, self.doc
        if doc.model is not None:  # a server that names word pieces only by text: the session's own texts
            doc.model.learn({token: piece.decode("utf-8", errors="backslashreplace")
                             for token, piece in record.pieces.items()})
        chat = exploration.extras.get("chat")
        self.chat.set_mode(bool(chat) and doc.model is not None and doc.model.facts.has_chat_template)
        if doc.chatting and isinstance(chat, dict):
            conversation = self.chat.state.conversation = Conversation(
                str(chat.get("system") or ""), [Turn(t["role"], t["content"]) for t in chat.get("turns", [])],
                chat.get("asking"))
            self.chat_input.set_system_text(conversation.system)
            self.chat_input.message.clear()
            self.chat.show_conversation(replying=conversation.asking is not None)
        else:
            self.editor.set_prompt(record.prompt)
        if exploration.settings is not None:
            self.controls.set_settings(exploration.settings)
        self.controls.seed_box.setValue(record.seed)
        doc.opening = exploration
        path = next(b for b in exploration.branches if b.id == exploration.current).steps
        self.run_state.set("busy")
        self.notices.say("Opening the session…")
        self.handle.restore(record.prompt, record.seed, path, record.pieces)
