"""The main window: it builds the widgets, makes each part of the window and hands it what it needs,
connects them, and owns the menus."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QSettings, Signal
from PySide6.QtGui import QCloseEvent, QIcon
from PySide6.QtWidgets import QMainWindow, QMessageBox, QWidget

from synthscope.session import Step
from synthscope.session.chat import ChatState
from synthscope.session.guessing import GuessState
from synthscope.session.requests import LoadedModel
from synthscope.session.workspace import Workspace
from synthscope.ui import theme
from synthscope.ui.classroom.demos import Demos
from synthscope.ui.classroom.guess import Guess
from synthscope.ui.classroom.presentation import Presentation, Stage
from synthscope.ui.exploring.branching import Branching
from synthscope.ui.exploring.compare_launcher import CompareLauncher
from synthscope.ui.exploring.futures_part import FuturesPart
from synthscope.ui.export.export_part import ExportPart
from synthscope.ui.frame.actions import build_actions, focus_keeps_space
from synthscope.ui.frame.notices import Notices
from synthscope.ui.frame.run_state import RunState
from synthscope.ui.help.workshop_guide import show_workshop_guide
from synthscope.ui.models.loading import ModelLoading
from synthscope.ui.resources import icon_path
from synthscope.ui.server.connecting import ServerConnecting
from synthscope.ui.sessions.autosave import Autosave
from synthscope.ui.sessions.sessions import Sessions
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.sweeps_part import SweepsPart
from synthscope.ui.steps.timeline_part import TimelinePart
from synthscope.ui.window.help import HELP_TEXT, about_text
from synthscope.ui.window.menus import build_menus
from synthscope.ui.window.parts import build_parts
from synthscope.ui.window.shortcuts import ShortcutsDialog
from synthscope.ui.worker.handle import WorkerHandle
from synthscope.ui.writing.chat import Chat
from synthscope.ui.writing.manual import ManualPicking
from synthscope.ui.writing.run import Run

SAMPLE_PROMPT = "Once upon a time, in a small village by the sea, there lived"


class MainWindow(QMainWindow):
    """The composer. The document (`doc`) is plain data; each part is an object of its own, made here
    in the order its collaborators need, talking back through signals."""

    problemReported = Signal(str)  # from any thread: the banner shows it (queued to this one)

    def __init__(self, store: QSettings | None = None, prompt: str = SAMPLE_PROMPT) -> None:
        super().__init__()
        self.store = store
        self.setWindowTitle("Synthscope")
        if (icon := icon_path()) is not None:
            self.setWindowIcon(QIcon(str(icon)))
        self.doc = Workspace()
        self.chat_state, self.guess_state = ChatState(), GuessState()
        self.commands = build_actions(self)
        self.parts = p = build_parts(self, self.commands, store, prompt)
        self.handle = WorkerHandle(self)
        self.notices = Notices(self.statusBar(), p.banner)
        self.run_state = RunState(self.doc, self)
        self._make_parts()
        build_menus(self, self.commands, p.recent.menu, self.chat.samples, self.run.use_prompt,
                    self.demos.fill_menu, self.export.fill_pictures_menu)
        self._connect_signals()
        if store is not None:
            self._restore_settings(store)
        self._update_actions()

    def _make_parts(self) -> None:
        """Each part of the window, handed exactly the widgets and parts it works with."""
        p, doc, handle, run_state, notices = self.parts, self.doc, self.handle, self.run_state, self.notices
        self.steps = StepDisplay(doc, p.editor, p.inspector, p.controls, p.card, p.speed_label, handle, self)
        self.chat = Chat(doc, self.chat_state, self.commands, p.editor, p.chat_input, p.text_title, p.card,
                         p.controls, p.stops, self.steps, run_state, notices, self)
        self.run = Run(doc, p.editor, p.card, p.inspector, p.controls, p.stops, handle, run_state, self.steps,
                       self.chat, notices, self)
        self.manual = ManualPicking(doc, p.editor, p.controls, handle, self.run, self.steps, notices, self)
        self.branching = Branching(doc, p.branches_panel, p.text_split, p.editor, p.card, p.controls, p.stops,
                                   handle, run_state, self.run, self.steps, notices, self)
        self.autosave = Autosave(doc, self.chat_state, p.controls, handle, self)
        self.models = ModelLoading(self, doc, p.progress, p.progress_holder, p.model_label, p.engine_label,
                                   p.inspector, p.performance, p.recent, handle, run_state, self.run,
                                   self.chat, notices)
        self.server = ServerConnecting(self, self.store, self.models)
        self.sessions = Sessions(self, doc, self.chat, p.chat_input, p.editor, p.controls, handle, run_state,
                                 self.models, self.autosave, notices)
        self.guess = Guess(doc, self.guess_state, self.commands, p.editor, p.header, p.distribution, p.dice,
                           p.chat_input, p.controls, p.chances_cover, p.dice_cover, handle, self.run,
                           self.manual, self.steps, notices, self)
        stage = Stage(p.editor, p.chat_input, p.controls, p.stops, p.performance, p.header, p.pipeline, p.dice,
                      p.distribution, p.inspector, p.branches_panel, p.chances_cover, p.dice_cover,
                      p.text_split, p.layout.top, p.layout.columns, p.layout.settings, p.model_label_holder,
                      p.timeline, p.text_legend.mode)
        self.presentation = Presentation(self, stage, self.commands, doc, self.guess, self.steps, self.run)
        self.compare = CompareLauncher(self, doc, self.chat, p.chat_input, p.editor, p.controls,
                                       p.performance, notices)
        self.futures = FuturesPart(self, doc, p.controls, handle, self.steps, self.branching, notices)
        self.sweeps = SweepsPart(self, doc, p.inspector, p.controls, handle, self.steps)
        self.timeline = TimelinePart(doc, p.timeline, p.editor, self.steps, self)
        self.export = ExportPart(self, doc, p.inspector, self.steps, self._pictured_panels, notices)
        self.demos = Demos(doc, p.editor, p.chat_input, p.card, p.controls, p.inspector, self.chat, self.guess,
                           self.steps, run_state, self.compare, notices, self)

    def _connect_signals(self) -> None:
        """Every connection between the parts, in the order their slots run. Worker signals reach
        bound methods of QObjects living in this thread, never lambdas: a lambda has no thread
        affinity, so PySide would run it in the worker thread and touch widgets from there."""
        a, p = self.commands, self.parts
        # the run state: the editor and the actions follow it
        self.run_state.changed.connect(self._state_changed)
        self.run_state.touched.connect(self._update_actions)
        # the worker
        w = self.handle.worker
        w.loadProgress.connect(self.models.load_progress)
        w.checking.connect(self.models.checking)
        w.loaded.connect(self._loaded)
        w.loadFailed.connect(self.models.show_load_error)
        w.runStarted.connect(self._run_started)
        w.stepped.connect(self.steps.receive)
        w.stepped.connect(self.autosave.schedule)
        w.runFinished.connect(self._run_finished)
        w.stopSequenceMet.connect(self.run.stop_met)
        w.undone.connect(self._undone)
        w.logitsReady.connect(self.steps.logits_ready)
        w.extrasReady.connect(self.steps.extras_ready)
        w.failed.connect(self._show_problem)
        w.saved.connect(self.sessions.saved)
        w.truncated.connect(self.run.truncated)
        w.followed.connect(self._followed)
        w.proposed.connect(self._proposed)
        w.piecesLearned.connect(self.steps.learn_pieces)
        self.problemReported.connect(self._show_problem)
        # the run buttons; any of them ends a guess on show
        a.generate.triggered.connect(self.run.generate)
        a.step.triggered.connect(self.guess.step_or_guess)
        a.stop.triggered.connect(self.run.stop)
        a.undo.triggered.connect(self.run.undo)
        a.clear.triggered.connect(self.run.clear)
        for action in (a.generate, a.undo, a.clear, a.chat_mode, a.manual):
            action.triggered.connect(self.guess.cancel)
        self.run.proposeRequested.connect(self.manual.propose_next)
        # modes
        a.chat_mode.toggled.connect(self.chat.toggled)
        a.manual.toggled.connect(self.manual.toggled)
        a.manual.toggled.connect(self.guess.manual_toggled)
        a.guess.toggled.connect(self.guess.toggled)
        a.presentation.toggled.connect(self.presentation.set_presentation)
        a.leave_presentation.triggered.connect(self.presentation.escape)
        p.dice_cover.landed.connect(self.guess.landed)
        # models
        a.open_model.triggered.connect(self.models.open_model_dialog)
        a.connect_server.triggered.connect(self.server.open_dialog)
        self.models.connected.connect(self.sessions.skip_start_autosave)
        a.model_info.triggered.connect(self.models.show_model_info)
        a.models.triggered.connect(self.models.show_models)
        p.banner.open_button.clicked.connect(self.models.open_model_dialog)
        p.models_note.seeRequested.connect(self.models.show_models)
        p.recent.chosen.connect(self.models.open_model_file)
        p.drops.dropped.connect(self.models.open_model_file)
        p.performance.threadsChanged.connect(self._threads_changed)
        p.performance.reloadRequested.connect(self.models.reload_model)
        # sessions
        a.save_run.triggered.connect(self.sessions.save_session_dialog)
        a.open_session.triggered.connect(self.sessions.open_session_dialog)
        self.branching.treeChanged.connect(self.autosave.schedule)
        # the text and the step panels
        p.editor.tokenClicked.connect(self.steps.select_step)
        p.editor.tokenClicked.connect(self.branching.offer_alternatives)
        p.editor.tokenHovered.connect(self.steps.hovered)
        p.editor.hoverLeft.connect(p.card.hide)
        p.editor.userEdited.connect(self.run.user_edited)
        p.controls.settingsChanged.connect(self.steps.settings_changed)
        p.controls.settingsChanged.connect(self.guess.settings_changed)
        p.header.backToRun.connect(self.steps.back_to_run)
        p.pipeline.orderChanged.connect(p.controls.more.set_order)
        p.pipeline.stageClicked.connect(lambda _stage: p.distribution.stage_button.setChecked(True))
        p.distribution.biasRequested.connect(p.controls.more.add_bias)
        p.controls.more.token_text = self.steps.token_text
        p.controls.more.find_token = self.find_token
        p.stops.problem.connect(self._show_problem)
        self.steps.forgotten.connect(self.branching.forgotten)
        self.steps.refreshed.connect(self.presentation.sync_big_panels)
        self.steps.refreshed.connect(self.sweeps.refresh)
        self.steps.refreshed.connect(self.timeline.refresh)
        p.text_legend.modeChanged.connect(self.steps.set_colour_mode)
        a.next_unsure.triggered.connect(lambda: self.timeline.jump(backwards=False))
        a.previous_unsure.triggered.connect(lambda: self.timeline.jump(backwards=True))
        p.distribution.sweepsRequested.connect(self.sweeps.open)
        # chat
        p.chat_input.sendRequested.connect(self.run.generate)
        p.chat_input.newChatRequested.connect(self.run.clear)
        # branches
        p.branches_panel.branchChosen.connect(self.branching.choose_branch)
        p.branches_panel.renamed.connect(self.branching.rename_branch)
        p.branches_panel.deleteRequested.connect(self.branching.delete_branch)
        p.branches_panel.undoDeleteRequested.connect(self.branching.undo_delete_branch)
        a.compare.triggered.connect(self.compare.open_compare)
        a.futures.triggered.connect(self.futures.open)
        a.export_table.triggered.connect(self.export.table_dialog)
        a.export_page.triggered.connect(self.export.page_dialog)
        a.export_handout.triggered.connect(self.export.handout_dialog)
        # the window
        a.quit.triggered.connect(self.close)
        a.bigger_text.triggered.connect(lambda: self.set_text_size(p.editor.font().pointSize() + 1))
        a.smaller_text.triggered.connect(lambda: self.set_text_size(p.editor.font().pointSize() - 1))
        a.about.triggered.connect(lambda: QMessageBox.information(self, "How to read Synthscope", HELP_TEXT))
        a.about_app.triggered.connect(
            lambda: QMessageBox.about(self, "About Synthscope", about_text(self.doc.model)))
        a.shortcuts.triggered.connect(self.show_shortcuts)
        a.workshop_guide.triggered.connect(lambda: show_workshop_guide(self))

    def _restore_settings(self, store: QSettings) -> None:
        p = self.parts
        p.controls.restore(store)
        p.performance.restore(store)
        p.stops.restore(store)
        p.pipeline.fold.remember(store, "view/fold_samplers")
        p.dice.fold.remember(store, "view/fold_dice")
        p.timeline.fold.remember(store, "view/fold_timeline")
        mode = p.text_legend.mode.findData(str(store.value("view/shade_by", "chance")))
        p.text_legend.mode.setCurrentIndex(max(mode, 0))
        p.text_legend.modeChanged.connect(lambda chosen: store.setValue("view/shade_by", chosen))
        p.chat_input.set_system_text(str(store.value("chat/system", "")))
        try:
            self.set_text_size(int(str(store.value("view/text_size", theme.TEXT_POINT_SIZE))))
        except ValueError:  # a damaged settings file must not stop the window opening
            pass

    # -- the worker's answers, fanned out to the parts in order ---------------------------------
    def _loaded(self, model: LoadedModel) -> None:
        if not self.models.loaded(model):
            return  # another model was asked for meanwhile: it is loading now
        self.chat.choose_mode_for_loaded_model()
        self.steps.refresh_panels()
        self.sessions.model_ready()

    def _run_started(self, started: object) -> None:
        self.run.started(started)  # type: ignore[arg-type]
        self.branching.new_tree()

    def _run_finished(self, reason: str) -> None:
        self.run.finish()
        self.branching.after_run()
        if not self.models.open_queued_model():
            self.run.report_finish(reason)
        self.guess.run_finished(reason)  # also after a queued model: a guess must not wait for ever

    def _undone(self, remaining: int) -> None:
        self.run.undone(remaining)
        self.branching.show_tree()
        self.models.open_queued_model()

    def _followed(self, n_steps: int) -> None:
        steps = self.branching.take_following()
        if steps is None:
            steps = self.doc.take_opened()  # an opened session: its tree is in place now
        self.branching.followed(steps, n_steps)

    def _proposed(self, proposal: tuple[int, Step]) -> None:
        self.manual.proposed(proposal)
        self.guess.proposed(proposal)

    # -- the window's own ---------------------------------------------------------------------
    def _state_changed(self, state: str) -> None:
        self.parts.editor.setReadOnly(state in ("running", "busy") or self.doc.chatting)
        self._update_actions()

    def _update_actions(self) -> None:
        a, p, state = self.commands, self.parts, self.doc.state
        idle, has_steps = state == "idle", len(self.doc.mirror) > 0
        a.generate.setEnabled(idle)
        a.step.setEnabled(idle)
        a.stop.setEnabled(state == "running")
        a.undo.setEnabled(idle and has_steps)
        a.clear.setEnabled(idle and has_steps)
        a.open_model.setEnabled(state != "busy")  # a run is stopped first; a load ends first
        a.connect_server.setEnabled(state in ("idle", "no-model"))
        a.models.setEnabled(state != "busy")
        a.model_info.setEnabled(self.doc.model is not None)
        p.performance.apply_button.setVisible(state in ("idle", "no-model"))
        a.save_run.setEnabled(idle and has_steps)
        a.open_session.setEnabled(state in ("idle", "no-model"))
        a.compare.setEnabled(self.doc.model is not None and self.doc.model.server is None)  # needs a file here
        a.futures.setEnabled(idle and has_steps)
        for action in (a.export_table, a.export_page, a.export_handout):
            action.setEnabled(has_steps and state != "busy")
        a.chat_mode.setEnabled(state in ("idle", "no-model"))
        p.chat_input.set_busy(not idle)

    def _pictured_panels(self) -> list[tuple[str, QWidget | None]]:
        """What File → Export → Picture offers, in the window's order; None: a window not open now."""
        p = self.parts
        return [("The text", p.text_title.parentWidget()), ("The chances", p.distribution),
                ("The whole run (timeline)", p.timeline), ("What the samplers did", p.pipeline),
                ("The dice", p.dice), ("The many futures window", self.futures.futures_window),
                ("The sweeps window", self.sweeps.sweeps_window), ("The whole window", self)]

    def find_token(self, text: str) -> int | None:
        """The word piece whose text is exactly `text` in the model on show, if there is one."""
        vocab = self.doc.model.vocab if self.doc.model is not None else ()
        try:
            return vocab.index(text)
        except ValueError:
            return None

    def _show_problem(self, message: str) -> None:
        self.notices.problem(message)

    def _threads_changed(self, _value: object) -> None:
        self.handle.set_threads(self.parts.performance.threads_preference())

    def set_text_size(self, size: int) -> None:
        size = min(max(size, 10), 40)
        self.parts.editor.setFont(theme.font(size))
        if self.store is not None:
            self.store.setValue("view/text_size", size)

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self)
        dialog.show()
        self.shortcuts_dialog = dialog  # kept so it is not collected while shown
        return dialog

    def event(self, e: QEvent) -> bool:
        if focus_keeps_space(e):
            e.accept()  # claimed: Qt then delivers Space to the focused widget, not the Step shortcut
            return True
        return super().event(e)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        p = self.parts
        p.card.hide()
        self.steps.refresh_timer.stop()
        if self.store is not None:
            p.controls.save(self.store)
            p.performance.save(self.store)
            p.stops.save(self.store)
            self.store.setValue("chat/system", p.chat_input.system_text())
            self.store.setValue("window/geometry", self.saveGeometry())
        self.compare.close_all()
        self.futures.close_all()
        self.sweeps.close_all()
        self.autosave.last()
        self.handle.shutdown()  # writes that last autosave once the worker has stopped
        event.accept()
