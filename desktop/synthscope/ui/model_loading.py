"""The main window's model loading: open (dialog, recent, dropped), reload, progress, errors."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog

from synthscope.ui.model_info import ModelInfoDialog
from synthscope.ui.model_picker import ModelPickerDialog
from synthscope.ui.wording import model_help
from synthscope.ui.worker_messages import LoadedModel

if TYPE_CHECKING:
    from synthscope.ui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object


class ModelLoading(_Base):
    """Mixed into MainWindow: everything between choosing a model file and the window being ready."""

    queued_model: str | None = None  # asked for while busy: opened when the window is free
    restore_on_load: bool = False  # the first load at the start puts back the autosaved session

    def load_model(self, path: str | Path, probe: bool = True) -> None:
        self.banner.hide()
        if self.chatting:  # the new model continues the conversation (in its own template)
            self.conversation.close_exchange(self.reply_text())
            self._forget_run()
            self._show_conversation(replying=False)
        else:
            self.editor.adopt_as_prompt()  # the new model continues all of the text
            self._forget_run()
        self.model = None
        self.model_label.setText("")
        self.progress.setRange(0, 1000)
        self.progress.setFormat("Loading model… %p%")
        self.progress.setValue(0)
        self.progress_holder.setVisible(True)
        self.inspector.clear(f"Loading <b>{Path(path).name}</b>… You can edit the prompt meanwhile.")
        self._set_state("loading")
        self.model_source = (Path(path), probe)
        self.handle.set_threads(self.performance.threads_preference())
        self.handle.load(path, probe, self.performance.preferences())

    def reload_model(self) -> None:
        """Load the current model again with the Performance settings; the text is kept."""
        if self.model_source is not None and self.state in ("idle", "no-model"):
            self.load_model(*self.model_source)

    def _checking(self) -> None:
        self.progress.setRange(0, 0)  # no fraction to show: a busy bar (which shows no words)
        words = ("First start on this computer: checking how the model runs here safely and fastest "
                 "(usually under a minute, only once)…")
        self.inspector.clear(words)
        self.statusBar().showMessage(words)

    def open_model_file(self, path: str) -> None:
        """A file chosen in any way but the start (checked in a child first). A running generation
        is stopped first; a load or an undo in flight finishes first."""
        if self.state in ("idle", "no-model"):
            self.load_model(path, probe=True)
            return
        self.queued_model = path
        if self.state == "running":
            self.stop()
        self.statusBar().showMessage(f"Opening {Path(path).name} next…", 5000)

    def open_queued_model(self) -> bool:
        """Load the model asked for while the window was busy; True if one was waiting."""
        path, self.queued_model = self.queued_model, None
        if path is None:
            return False
        self.load_model(path, probe=True)
        return True

    def show_models(self) -> ModelPickerDialog:
        """File → Models on this computer (a window of its own; the main window stays usable)."""
        path = self.model.path if self.model is not None else (self.model_source or (None,))[0]
        current = str(path) if path is not None else None  # the one open, or being opened
        dialog = ModelPickerDialog(current, self)
        dialog.chosen.connect(self.open_model_file)
        dialog.show()
        self.models_dialog = dialog  # kept for tests, and so it is not collected while shown
        return dialog

    def show_model_info(self) -> None:
        if self.model is not None:
            dialog = ModelInfoDialog(self.model, self)
            dialog.setModal(False)
            dialog.show()
            self.info_dialog = dialog  # kept for tests and so it is not collected while shown

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a GGUF model", "",
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.open_model_file(path)

    def _load_progress(self, fraction: float) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1000)
            self.progress.setFormat("Loading model… %p%")
        self.progress.setValue(int(fraction * 1000))

    def _loaded(self, model: LoadedModel) -> None:
        self.model = model
        if self.queued_model is not None:  # another model was asked for meanwhile
            self.recent.add(model.path)
            self.open_queued_model()
            return
        self.recent.add(model.path)
        self.progress_holder.setVisible(False)
        facts = model.facts
        self.model_label.setText(f"Model: {model.path.stem} · {facts.parameters / 1e6:,.0f} million learned "
                                 "numbers (hover for more)")
        self.model_label.setToolTip(model_help(model.path.stem, facts.parameters) + "\n\n" + facts.summary
                                    + f"\n{model.path}")
        self.setWindowTitle(f"Synthscope — {model.path.stem}")
        self.performance.show_engine(model.config, model.note, model.device, model.n_ctx)
        self.engine_label.setText(f"Runs with {model.config.describe()}  ")
        self.engine_label.setToolTip(model.note)
        self.statusBar().showMessage("Ready. Press Generate (Ctrl+Enter) or Step (Space).", 10000)
        self._set_state("idle")
        self.choose_mode_for_loaded_model()
        self._refresh_panels()
        if self.restore_on_load:
            self.restore_on_load = False
            self.restore_autosave()
        self.resume_opening()

    def show_load_error(self, message: str) -> None:
        self.performance.refresh_apply()  # a failed reload leaves its settings to apply again
        self.progress_holder.setVisible(False)
        self.model_label.setText("No model loaded")
        self.banner.show_message(f"{message} Choose another file with File > Open model….", offer_open=True)
        self.inspector.clear("No model is loaded, so nothing can be generated yet.")
        self._set_state("no-model")
        self.open_queued_model()
