"""Everything between choosing a model file (dialog, recent, dropped, picker) and the window being
ready: progress, the first start's check, errors, and a model asked for while busy."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QProgressBar

from synthscope.engine.model import DEFAULT_CONTEXT
from synthscope.session.requests import LoadedModel, ServerChoice
from synthscope.session.workspace import Workspace
from synthscope.ui.frame.notices import Notices
from synthscope.ui.frame.run_state import RunState
from synthscope.ui.models.info import ModelInfoDialog
from synthscope.ui.models.picker import ModelPickerDialog
from synthscope.ui.models.sources import RecentModels
from synthscope.ui.settings.performance import PerformancePanel
from synthscope.ui.steps.inspector import Inspector
from synthscope.ui.wording import html, model_help
from synthscope.ui.worker.handle import WorkerHandle
from synthscope.ui.writing.chat import Chat
from synthscope.ui.writing.run import Run


SERVED_MODEL_HELP = ("This model runs on a model server, another program (often on another computer) that "
                     "works out each step's chances and sends them here; Synthscope's own samplers and dice "
                     "choose the word pieces. Each step says how many word pieces the server listed and which "
                     "numbers are exact.")


class ModelLoading(QObject):
    """Opens models in the worker; a running generation is stopped first, a load or an undo in
    flight finishes first (the model waits in `doc.queued_model`)."""

    connected = Signal()  # a model server was asked for instead of a file

    def __init__(self, window: QMainWindow, doc: Workspace, progress: QProgressBar, progress_holder: QAction,
                 model_label: QLabel, engine_label: QLabel, inspector: Inspector,
                 performance: PerformancePanel, recent: RecentModels, handle: WorkerHandle,
                 run_state: RunState, run: Run, chat: Chat, notices: Notices) -> None:
        super().__init__(window)
        self.window, self.doc, self.progress, self.progress_holder = window, doc, progress, progress_holder
        self.model_label, self.engine_label, self.inspector = model_label, engine_label, inspector
        self.performance, self.recent, self.handle = performance, recent, handle
        self.run_state, self.run, self.chat, self.notices = run_state, run, chat, notices
        self.models_dialog: ModelPickerDialog | None = None  # kept while shown (and for tests)
        self.connecting: ServerChoice | None = None  # the server asked for, until it answers
        self.info_dialog: ModelInfoDialog | None = None

    def _begin(self, doing: str, what: str) -> None:
        """The window while a model loads or a server connects: its progress, and the text left editable."""
        self.notices.hide_problem()
        self.chat.carry_over()
        self.doc.model = None
        self.model_label.setText("")
        self.progress.setRange(0, 1000)
        self.progress.setFormat(f"{doing}… %p%")
        self.progress.setValue(0)
        self.progress_holder.setVisible(True)
        self.inspector.clear(f"{doing} {what}… You can edit the prompt meanwhile.")
        self.run_state.set("loading")

    def load_model(self, path: str | Path, probe: bool = True) -> None:
        self._begin("Loading model", f"<b>{html(Path(path).name)}</b>")
        self.doc.model_source = (Path(path), probe)
        self.handle.set_threads(self.performance.threads_preference())
        self.handle.load(path, probe, self.performance.preferences())

    def connect_server(self, choice: ServerChoice) -> None:
        """Compute with a model server instead of a model file (File → Connect to a model server…)."""
        if self.doc.state not in ("idle", "no-model"):
            self.notices.say("Stop the generation first, then connect to a model server.", 5000)
            return
        self._begin("Connecting to the model server", f"at <b>{html(choice.url)}</b>")
        self.doc.model_source = None
        self.connecting = choice
        self.connected.emit()  # the session autosaved at the start waits for a model file, not for this
        self.handle.connect_server(choice, int(self.performance.preferences().get("context", DEFAULT_CONTEXT)))

    def reload_model(self) -> None:
        """Load the current model again with the Performance settings; the text is kept."""
        if self.doc.model_source is not None and self.doc.state in ("idle", "no-model"):
            self.load_model(*self.doc.model_source)

    def checking(self) -> None:
        self.progress.setRange(0, 0)  # no fraction to show: a busy bar (which shows no words)
        words = ("First start on this computer: checking how the model runs here safely and fastest "
                 "(usually under a minute, only once)…")
        self.inspector.clear(words)
        self.notices.say(words)

    def open_model_file(self, path: str) -> None:
        """A file chosen in any way but the start (checked in a child first)."""
        if self.doc.state in ("idle", "no-model"):
            self.load_model(path, probe=True)
            return
        self.doc.queued_model = path
        if self.doc.state == "running":
            self.run.stop()
        self.notices.say(f"Opening {Path(path).name} next…", 5000)

    def open_queued_model(self) -> bool:
        """Load the model asked for while the window was busy; True if one was waiting."""
        path, self.doc.queued_model = self.doc.queued_model, None
        if path is None:
            return False
        self.load_model(path, probe=True)
        return True

    def show_models(self) -> ModelPickerDialog:
        """File → Models on this computer (a window of its own; the main window stays usable)."""
        doc = self.doc
        path = doc.model.path if doc.model is not None else (doc.model_source or (None,))[0]
        current = str(path) if path is not None else None  # the one open, or being opened
        dialog = ModelPickerDialog(current, self.window)
        dialog.chosen.connect(self.open_model_file)
        dialog.show()
        self.models_dialog = dialog
        return dialog

    def show_model_info(self) -> None:
        if self.doc.model is not None:
            dialog = ModelInfoDialog(self.doc.model, self.window)
            dialog.setModal(False)
            dialog.show()
            self.info_dialog = dialog

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a GGUF model", "",
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.open_model_file(path)

    def load_progress(self, fraction: float) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
            self.progress.setFormat("Loading model… %p%")
        self.progress.setValue(int(fraction * 1000))

    def loaded(self, model: LoadedModel) -> bool:
        """The worker loaded `model`: True when the window is ready with it, False when another
        model was asked for meanwhile (it is being opened now)."""
        self.doc.model = model
        if model.path is not None:
            self.recent.add(model.path)
        self.connecting = None
        if self.doc.queued_model is not None:
            self.open_queued_model()
            return False
        self.progress_holder.setVisible(False)
        facts = model.facts
        if model.server is not None:
            self.model_label.setText(f"Model: {model.name} on a model server · {facts.vocab_size:,} word pieces "
                                     "(hover for more)")
            self.model_label.setToolTip(SERVED_MODEL_HELP + f"\n\n{model.location}")
            self.performance.show_server(model.server, model.n_ctx)
            self.engine_label.setText(f"Computed by the model server at {model.server.server}  ")
        else:
            self.model_label.setText(f"Model: {model.name} · {facts.parameters / 1e6:,.0f} million learned "
                                     "numbers (hover for more)")
            self.model_label.setToolTip(model_help(model.name, facts.parameters) + "\n\n" + facts.summary
                                        + f"\n{model.path}")
            self.performance.show_engine(model.config, model.note, model.device, model.n_ctx)  # type: ignore[arg-type]
            self.engine_label.setText(f"Runs with {model.config.describe()}  ")
        self.window.setWindowTitle(f"Synthscope — {model.name}")
        self.engine_label.setToolTip(model.config.describe() + ".\n" + model.note)
        self.notices.say("Ready. Press Generate (Ctrl+Enter) or Step (Space).", 10000)
        self.run_state.set("idle")
        return True

    def show_load_error(self, message: str) -> None:
        self.performance.refresh_apply()  # a failed reload leaves its settings to apply again
        self.progress_holder.setVisible(False)
        self.model_label.setText("No model loaded")
        if self.connecting is not None:
            self.connecting = None
            self.notices.problem(f"{message} Check the address with File > Connect to a model server…, or open "
                                 "a model file.", offer_open=True)
        else:
            self.notices.problem(f"{message} Choose another file with File > Open model….", offer_open=True)
        self.inspector.clear("No model is loaded, so nothing can be generated yet.")
        self.run_state.set("no-model")
        self.open_queued_model()
