"""The main window: the text, the controls and the step panels, wired to the engine worker."""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QEvent, QSettings, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QProgressBar

from synthscope.engine import machine_facts
from synthscope.ui import theme
from synthscope.ui.actions import build_actions, build_menus, build_toolbar, focus_keeps_space
from synthscope.ui.branches import BranchesPanel
from synthscope.ui.branching import Branching
from synthscope.ui.chat_input import ChatInput
from synthscope.ui.chat_mode import ChatMode
from synthscope.ui.controls import ControlsPanel
from synthscope.ui.dice import DicePanel
from synthscope.ui.distribution import DistributionPanel
from synthscope.ui.hover_card import HoverCard
from synthscope.ui.inspector import Inspector, StepHeader
from synthscope.ui.model_loading import ModelLoading
from synthscope.ui.model_sources import ModelDropTarget, RecentModels
from synthscope.ui.models_found import ModelsFoundNote
from synthscope.ui.performance import PerformancePanel, engine_column
from synthscope.ui.pipeline import PipelineStrip
from synthscope.ui.resources import icon_path
from synthscope.ui.run_model import RunMirror
from synthscope.session.stopping import shown
from synthscope.ui.sessions import Sessions, autosave_path
from synthscope.ui.step_view import StepView
from synthscope.ui.stop_sequences import StopSequencesBox
from synthscope.ui.text_view import Piece, TokenTextView
from synthscope.ui.window_parts import HELP_TEXT, ErrorBanner, about_text, arrange, text_panel, with_branches
from synthscope.ui.wording import JARGON, STOP_WORDS
from synthscope.ui.worker import WorkerHandle
from synthscope.ui.worker_messages import LoadedModel, RunRequest, RunStarted, StepMessage
from synthscope.ui.workshop import Workshop

SAMPLE_PROMPT = "Once upon a time, in a small village by the sea, there lived"


class MainWindow(Workshop, Branching, Sessions, ChatMode, ModelLoading, StepView, QMainWindow):
    """States: 'no-model', 'loading', 'idle', 'running', 'busy' (an undo in flight; a what-if's fetch
    of old scores leaves the window idle)."""

    stateChanged = Signal(str)
    problemReported = Signal(str)  # from any thread: the banner shows it (queued to this one)

    def __init__(self, store: QSettings | None = None, prompt: str = SAMPLE_PROMPT) -> None:
        super().__init__()
        self.store = store
        self.state = "no-model"
        self.model: LoadedModel | None = None
        self.model_source: tuple[Path, bool] | None = None  # what load_model last opened, and its probe
        self.mirror = RunMirror()
        self.selected: int | None = None  # None: follow the newest token
        self.text_edited = True  # the editor's text is not yet the prompt of a started run
        self.pending: list[Piece] = []  # tokens that reached the window since the last refresh
        self.requested_logits: set[int] = set()
        self.run_clock = (0.0, 0)
        self.panels_shown_at = 0.0  # perf_counter() of the last step-panel refresh
        self.stop_met = ""  # the stop sequence that ended the last run
        self.setWindowTitle("Synthscope")
        if (icon := icon_path()) is not None:
            self.setWindowIcon(QIcon(str(icon)))
        self._build(prompt)
        self.handle = WorkerHandle(self)
        self._connect_worker()
        self._init_sessions()
        self._init_branching()
        self._init_workshop()  # presentation mode, guess mode, demos, shortcuts
        if store is not None:
            self.controls.restore(store)
            self.performance.restore(store)
            self.stops.restore(store)
            self.pipeline.fold.remember(store, "view/fold_samplers")
            self.dice.fold.remember(store, "view/fold_dice")
            self.chat_input.set_system_text(str(store.value("chat/system", "")))
            try:
                self._set_text_size(int(str(store.value("view/text_size", theme.TEXT_POINT_SIZE))))
            except ValueError:  # a damaged settings file must not stop the window opening
                pass
        self._update_actions()

    # -- building ---------------------------------------------------------------------------
    def _build(self, prompt: str) -> None:
        self.commands = build_actions(self)
        self.recent = RecentModels(self.store, self)
        build_menus(self, self.commands, self.recent.menu)
        self.model_label = QLabel("No model")
        self.model_label.setObjectName("hint")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(260)
        self.progress.setFormat("Loading model… %p%")
        self.progress_holder, _ = build_toolbar(self, self.commands, [self.progress, self.model_label])
        self.progress_holder.setVisible(False)

        self.banner = ErrorBanner()
        self.banner.open_button.clicked.connect(self.open_model_dialog)
        self.models_note = ModelsFoundNote()
        self.models_note.seeRequested.connect(self.show_models)
        self.editor = TokenTextView()
        self.editor.set_prompt(prompt)
        self.chat_input = ChatInput()

        self.header = StepHeader()
        self.pipeline = PipelineStrip()
        self.dice = DicePanel()
        self.distribution = DistributionPanel()
        self.inspector = Inspector(self.header, self.pipeline, self.dice, self.distribution)
        self.inspector.set_token_text(self.token_text)
        self.controls = ControlsPanel()
        self.stops = StopSequencesBox()
        self.stops.problem.connect(self._show_problem)
        facts = machine_facts()
        self.performance = PerformancePanel(facts.logical_cores, facts.gpu_offload)
        self.card = HoverCard(self)
        self.card.token_text = self.token_text

        text, self.text_title = text_panel(self.editor, self.chat_input)
        self.branches_panel = BranchesPanel()
        self.text_split = with_branches(text, self.branches_panel)
        central = arrange([self.banner, self.models_note], self.text_split, self.distribution,
                          [self.header, self.pipeline, self.dice],
                          engine_column(self.controls, self.stops, self.performance))
        self.setCentralWidget(central)
        self.speed_label = QLabel()
        self.speed_label.setToolTip(JARGON["tokens_per_second"])
        # A fixed width: a growing label would re-lay out (and repaint) the window at every refresh.
        self.speed_label.setMinimumWidth(self.speed_label.fontMetrics().horizontalAdvance(
            "99999 word pieces · 999 per second  "))
        self.engine_label = QLabel()  # how llama.cpp runs; the tooltip says why
        self.engine_label.setObjectName("hint")
        self.statusBar().addPermanentWidget(self.engine_label)
        self.statusBar().addPermanentWidget(self.speed_label)

        self.refresh_timer = QTimer(self)
        self.refresh_timer.setSingleShot(True)
        self.refresh_timer.setInterval(theme.REFRESH_MS)
        self.refresh_timer.timeout.connect(self._flush)

        a = self.commands
        a.generate.triggered.connect(self.generate)
        a.step.triggered.connect(self.step)
        a.stop.triggered.connect(self.stop)
        a.undo.triggered.connect(self.undo)
        a.clear.triggered.connect(self.clear)
        a.open_model.triggered.connect(self.open_model_dialog)
        a.model_info.triggered.connect(self.show_model_info)
        a.models.triggered.connect(self.show_models)
        a.save_run.triggered.connect(self.save_session_dialog)
        a.open_session.triggered.connect(self.open_session_dialog)
        a.compare.triggered.connect(self.open_compare)
        a.quit.triggered.connect(self.close)
        a.bigger_text.triggered.connect(lambda: self._set_text_size(self.editor.font().pointSize() + 1))
        a.smaller_text.triggered.connect(lambda: self._set_text_size(self.editor.font().pointSize() - 1))
        a.about.triggered.connect(lambda: QMessageBox.information(self, "How to read Synthscope", HELP_TEXT))
        a.about_app.triggered.connect(
            lambda: QMessageBox.about(self, "About Synthscope", about_text(self.model)))
        self.performance.threadsChanged.connect(
            lambda _value: self.handle.set_threads(self.performance.threads_preference()))
        self.performance.reloadRequested.connect(self.reload_model)
        self.recent.chosen.connect(self.open_model_file)
        self.drops = ModelDropTarget(self)
        self.drops.watch(self, self.editor.viewport())
        self.drops.dropped.connect(self.open_model_file)
        self.editor.tokenClicked.connect(self.select_step)
        self.editor.tokenHovered.connect(self._hovered)
        self.editor.hoverLeft.connect(self.card.hide)
        self.editor.userEdited.connect(self._user_edited)
        self.problemReported.connect(self._show_problem)
        self.controls.settingsChanged.connect(self._settings_changed)
        self.header.backToRun.connect(self._back_to_run)
        self._init_chat()

    def _connect_worker(self) -> None:
        w = self.handle.worker
        w.loadProgress.connect(self._load_progress)
        w.checking.connect(self._checking)
        w.loaded.connect(self._loaded)
        w.loadFailed.connect(self.show_load_error)
        w.runStarted.connect(self._run_started)
        w.stepped.connect(self._stepped)
        w.runFinished.connect(self._run_finished)
        w.stopSequenceMet.connect(self._stop_met)
        w.undone.connect(self._undone)
        w.logitsReady.connect(self._logits_ready)
        # Bound methods of this window, never lambdas: a lambda has no thread affinity, so PySide
        # would run it in the worker thread and touch widgets from there.
        w.failed.connect(self._show_problem)
        w.saved.connect(self._saved)

    # -- state --------------------------------------------------------------------------------
    def token_text(self, token: int) -> str:
        if self.model is not None and token in self.model.end_tokens:  # words, not template markup
            return STOP_WORDS
        vocab = self.model.vocab if self.model else ()
        return vocab[token] if 0 <= token < len(vocab) else f"#{token}"

    def _set_state(self, state: str) -> None:
        self.state = state
        self.editor.setReadOnly(state in ("running", "busy") or self.chatting)
        self._update_actions()
        self.stateChanged.emit(state)

    def _update_actions(self) -> None:
        a, idle, has_steps = self.commands, self.state == "idle", len(self.mirror) > 0
        a.generate.setEnabled(idle)
        a.step.setEnabled(idle)
        a.stop.setEnabled(self.state == "running")
        a.undo.setEnabled(idle and has_steps)
        a.clear.setEnabled(idle and has_steps)
        a.open_model.setEnabled(self.state != "busy")  # a run is stopped first; a load ends first
        a.models.setEnabled(self.state != "busy")
        a.model_info.setEnabled(self.model is not None)
        self.performance.apply_button.setVisible(self.state in ("idle", "no-model"))
        a.save_run.setEnabled(idle and has_steps)
        a.open_session.setEnabled(self.state in ("idle", "no-model"))
        a.compare.setEnabled(self.model is not None)
        a.chat_mode.setEnabled(self.state in ("idle", "no-model"))
        self.chat_input.set_busy(not idle)

    # -- running ------------------------------------------------------------------------------
    def generate(self) -> None:
        if self.commands.manual.isChecked():
            self.propose_next()
            return
        self._start(self.controls.max_tokens.value())

    def step(self) -> None:
        if self.commands.manual.isChecked():
            self.propose_next()
            return
        self._start(1)

    def _start(self, max_tokens: int) -> None:
        if self.state != "idle":
            return
        if self.chatting:
            request = self.chat_request(max_tokens)
            if request is None:
                return
        elif self.text_edited:
            prompt = self.editor.toPlainText()
            if not prompt.strip():
                self.banner.show_message("The text is empty. Type a few words for the model to continue.")
                return
            request = RunRequest(prompt, self.controls.seed_for_new_run(), max_tokens,
                                 self.controls.ignore_end.isChecked(), self.stops.stops())
        else:
            request = RunRequest(None, self.mirror.seed, max_tokens, self.controls.ignore_end.isChecked(),
                                 self.stops.stops())
        self.launch(request)

    def launch(self, request: RunRequest) -> None:
        self.banner.hide()
        self.card.hide()
        self.selected = None
        self.run_clock = (time.perf_counter(), len(self.mirror))
        self._set_state("running")
        self.handle.run(request, self.controls.settings())

    def stop(self) -> None:
        if self.state == "running":
            self.handle.stop()
            self.statusBar().showMessage("Stopping…")

    def _run_started(self, started: RunStarted) -> None:
        self.mirror.reset(started.prompt, started.prompt_tokens, started.seed)
        if self.chatting:
            self.chat_run_started()
        else:
            self.editor.adopt_as_prompt()
        self.text_edited = False
        self.run_clock = (time.perf_counter(), 0)
        self.new_tree()

    def _stepped(self, messages: list[StepMessage]) -> None:
        for message in messages:
            self.mirror.append(message.step, message.logits)
            self.pending.append(Piece(message.step.text, message.step.trace.chosen_p_raw,
                                      message.is_end))
        self._schedule()
        self.schedule_autosave()

    def _run_finished(self, reason: str) -> None:
        self._set_state("idle")
        self._flush()
        self.show_tree()
        self.explain_replay()
        if self.open_queued_model():
            return
        if reason == "error" and self.chatting:
            self.chat_run_failed()
        made = len(self.mirror) - self.run_clock[1]
        words = {"limit": f"Wrote {made} word pieces.", "stopped": f"Stopped after {made} word pieces.",
                 "end": "The model finished its reply." if self.chatting else "The model ended the text.",
                 "stop-sequence": f"Stopped at “{self.stop_met}” (a stop sequence) after {made} word pieces.",
                 "error": ""}[reason]
        if words:
            self.statusBar().showMessage(words, 10000)

    def undo(self) -> None:
        if self.state == "idle" and len(self.mirror):
            self.card.hide()
            self._set_state("busy")
            self.handle.undo()

    def _undone(self, remaining: int) -> None:
        while len(self.mirror) > remaining:
            self.mirror.pop()
            self.editor.remove_last_tokens(1)
        if self.selected is not None and self.selected >= remaining:
            self.selected = None
        self._set_state("idle")
        self._refresh_panels()
        self.show_tree()
        self.open_queued_model()

    def clear(self) -> None:
        if self.state not in ("idle", "no-model"):
            return
        self.card.hide()
        if self.chatting:
            self.new_chat()
        else:
            self.editor.clear_generated()
            self._forget_run()
        self._refresh_panels()
        self._update_actions()

    def use_prompt(self, text: str) -> None:
        """A sample prompt replaces the whole text; the next Generate starts a new run from it."""
        if self.state in ("running", "busy"):
            self.statusBar().showMessage("Stop the generation first, then pick a prompt.", 5000)
            return
        self.card.hide()
        if self.chatting:
            self.chat_prompt_chosen(text)
            return
        self.editor.set_prompt(text)
        self._forget_run()
        self._refresh_panels()
        self._update_actions()

    def _forget_run(self) -> None:
        self.mirror.reset(self.editor.prompt_text(), self.mirror.prompt_tokens[:0], 0)
        self.pending.clear()
        self.requested_logits.clear()
        self.selected = None
        self.text_edited = True
        self.new_tree()
        self.show_tree()

    def _stop_met(self, stop: str) -> None:
        self.stop_met = shown(stop)

    def _saved(self, path: str) -> None:
        self.statusBar().showMessage(f"Saved the session to {path}.", 8000)

    def _show_problem(self, message: str) -> None:
        self.banner.show_message(message)

    def _user_edited(self) -> None:
        self.text_edited = True
        if len(self.mirror):
            # Edited text no longer matches the tokens: all of it becomes the next run's prompt.
            self.card.hide()
            self.editor.adopt_as_prompt()
            self._forget_run()
            self.inspector.clear("You edited the text, so all of it is now the prompt. "
                                 "Press <b>Generate</b> to continue from it.")
            self._update_actions()

    # -- files, view, closing -----------------------------------------------------------------
    def event(self, e: QEvent) -> bool:
        if focus_keeps_space(e):
            e.accept()  # claimed: Qt then delivers Space to the focused widget, not the Step shortcut
            return True
        return super().event(e)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.card.hide()
        self.refresh_timer.stop()
        if self.store is not None:
            self.controls.save(self.store)
            self.performance.save(self.store)
            self.stops.save(self.store)
            self.store.setValue("chat/system", self.chat_input.system_text())
            self.store.setValue("window/geometry", self.saveGeometry())
        self.autosave_timer.stop()
        for window in getattr(self, "compare_windows", []):
            window.close()
        if self.autosave_enabled and self.model is not None and self.state not in ("busy", "loading"):
            self.handle.worker.pending_autosave = (str(autosave_path()), self.snapshot())
        self.handle.shutdown()  # writes that last autosave once the worker has stopped
        event.accept()
