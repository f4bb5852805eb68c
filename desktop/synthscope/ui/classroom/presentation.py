"""Presentation mode: full screen, large type, only the text (full height on the left), the chances,
the dice and the two settings a room plays with; Esc or F11 puts every panel and font back as it was."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (QApplication, QBoxLayout, QLabel, QMainWindow, QPushButton,
                               QScrollArea, QSplitter, QWidget)

from synthscope.session.mirror import StepView
from synthscope.session.workspace import Workspace
from synthscope.ui import theme
from synthscope.ui.classroom.big_view import BigRow, ChancesCover, DiceCover, big, big_title, secondary_ink
from synthscope.ui.classroom.guess import Guess
from synthscope.ui.exploring.branches import BranchesPanel
from synthscope.ui.frame.actions import Actions
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.settings.performance import PerformancePanel
from synthscope.ui.settings.stop_sequences import StopSequencesBox
from synthscope.ui.steps.dice import DicePanel
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.distribution import DistributionPanel, legend_text
from synthscope.ui.steps.inspector import Inspector, StepHeader
from synthscope.ui.steps.pipeline import PipelineStrip
from synthscope.ui.steps.text_view import TEXT_LINES, TokenTextView
from synthscope.ui.writing.chat_input import ChatInput
from synthscope.ui.writing.run import Run
from synthscope.ui.stage_words import compact_line
from synthscope.ui.wording import html

TEXT_POINTS = 28  # the text, in presentation mode
SHOWN_SETTINGS = ("temperature", "top_p")
QWIDGETSIZE_MAX = 16_777_215
PRESENTED_LINES = 4  # the least the full-height text column keeps in large type
TEXT_SHARE = (1, 2)  # the text column : the rest (chances and settings over the dice)


def presentation_style() -> str:
    """The window's own style sheet while presenting: every panel font ×1.5 (it wins over setFont);
    the keys and notes (hints) as large as the rest and darker than their usual grey."""
    size, title = big(theme.BASE_POINT_SIZE), big(theme.BASE_POINT_SIZE)
    return (f"QLabel, QPushButton, QCheckBox, QAbstractSpinBox, QComboBox {{ font-size: {size}pt; }}"
            f"QToolButton {{ font-size: {size}pt; padding: 8px 18px; }}"
            f"QLabel#panelTitle {{ font-size: {title}pt; }}"
            f"QLabel#hint {{ font-size: {size}pt; color: {secondary_ink()}; }}"
            f"QAbstractSpinBox {{ min-width: 100px; }}")


@dataclass
class Moved:
    """Where presentation mode took the text and the settings column from: the text leaves the top row
    for a full-height column of its own, the settings take its place beside the chances."""

    top: QSplitter  # text | chances, while presenting chances | settings
    columns: QBoxLayout  # the main columns, while presenting text | the rest
    stretches: list[int]


@dataclass
class Saved:
    """What presentation mode changed, exactly as it was before."""

    window_state: Qt.WindowState
    style_sheet: str
    fonts: dict[QWidget, QFont]
    hidden: list[QWidget] = field(default_factory=list)  # widgets that were visible and were hidden
    stop_keys: list[QKeySequence] = field(default_factory=list)
    dice_height: tuple[int, int] = (0, QWIDGETSIZE_MAX)
    unwrapped: list[QLabel] = field(default_factory=list)  # titles that wrap while presenting
    split_sizes: list[int] = field(default_factory=list)  # text | chances
    column_width: int = 0  # the settings column's least width
    hidden_actions: list[QAction] = field(default_factory=list)  # the model's name in the tool bar
    plot_width: int = 0  # the chances plot's least width (the large-type cover hides the plot)
    moved: Moved | None = None
    folded_dice: bool = False  # the dice panel was folded to one line
    scrolled_to: int | None = None  # the selected step last scrolled into view


@dataclass(frozen=True)
class Stage:
    """What presentation mode rearranges: the panels it hides, enlarges or moves, and the layout
    handles it moves them by."""

    editor: TokenTextView
    chat_input: ChatInput
    controls: ControlsPanel
    stops: StopSequencesBox
    performance: PerformancePanel
    header: StepHeader
    pipeline: PipelineStrip
    dice: DicePanel
    distribution: DistributionPanel
    inspector: Inspector
    branches_panel: BranchesPanel
    chances_cover: ChancesCover
    dice_cover: DiceCover
    text_split: QSplitter  # the text and the branches under it
    top: QSplitter  # the text | the chances (the chances | the settings while presenting)
    columns: QBoxLayout  # the main columns (the text | the rest while presenting)
    settings: QScrollArea  # the settings column
    model_label_holder: QAction  # the model's name in the tool bar
    timeline: QWidget  # the whole run under the text (hidden while presenting)
    shade_by: QWidget  # what the text's shading stands for (hidden while presenting: by chance)


class Presentation(QObject):
    """View → Presentation mode (F11); leaving puts everything back exactly as it was."""

    def __init__(self, window: QMainWindow, stage: Stage, commands: Actions, doc: Workspace, guess: Guess,
                 steps: StepDisplay, run: Run) -> None:
        super().__init__(window)
        self.window, self.stage, self.commands, self.doc = window, stage, commands, doc
        self.guess, self.steps, self.run = guess, steps, run
        self.presenting: Saved | None = None
        stage.chances_cover.rows_shown = self._big_rows_shown
        window.installEventFilter(self)  # sees Close before closeEvent does

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Closing while presenting leaves presentation mode first, so the saved window geometry is
        the ordinary one (not full screen)."""
        if watched is self.window and event.type() == QEvent.Type.Close and self.presenting is not None:
            self.set_presentation(False)
        return super().eventFilter(watched, event)

    def advanced_widgets(self) -> list[QWidget]:
        """Everything presentation mode hides: the step header, the stage strip (its one line moves under
        the sliders), the branches, the other settings, stop sequences, performance and the status bar."""
        w = self.stage
        shown = [w.controls.controls[key] for key in SHOWN_SETTINGS]
        # "Also at work, under Show all settings…" is left out: that checkbox is not shown here.
        keep = {*shown, w.controls.at_work, *w.controls.findChildren(QLabel, "panelTitle")}
        direct = w.controls.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        others = [x for x in direct if x not in keep and not x.isWindow()]
        # Their hints (the words beside and under a slider) make the column too wide for 1280 px.
        hints = [label for control in shown for label in control.findChildren(QLabel, "hint")]
        covered = [w.header, w.dice.explanation, w.dice.fold,  # under the cover, which says it in large type
                   w.chat_input.system_toggle, w.chat_input.system,  # the instructions for the model
                   *w.distribution.findChildren(QPushButton)]  # e.g. "Stage by stage"
        return [*covered, w.pipeline, w.timeline, w.shade_by, w.branches_panel, w.stops.parentWidget() or w.stops,
                w.performance, self.window.statusBar(), *others, *hints]  # the menus stay: Demos is one

    def set_presentation(self, on: bool, full_screen: bool = True) -> None:
        """On: large type, full screen (unless `full_screen` is False, as in tests and screenshots)."""
        if on == (self.presenting is not None):
            return
        if on:
            self._enter_presentation(full_screen)
        else:
            self._leave_presentation()
        action = self.commands.presentation
        if action.isChecked() != on:
            action.blockSignals(True)
            action.setChecked(on)
            action.blockSignals(False)

    def _enter_presentation(self, full_screen: bool) -> None:
        w, window = self.stage, self.window
        self._leave_what_if()
        fonts = {x: QFont(x.font()) for x in (w.editor, w.chat_input.message)}
        saved = Saved(window.windowState(), window.styleSheet(), fonts,
                      stop_keys=self.commands.stop.shortcuts(),
                      dice_height=(w.dice.bar.minimumHeight(), w.dice.bar.maximumHeight()))
        for widget in self.advanced_widgets():
            if widget.isVisibleTo(widget.parentWidget() or widget):
                saved.hidden.append(widget)
                widget.hide()
        if w.model_label_holder.isVisible():
            saved.hidden_actions.append(w.model_label_holder)  # a tool bar shows its widgets through their actions
            w.model_label_holder.setVisible(False)
        if w.dice.fold.isChecked():
            saved.folded_dice = True
            w.dice.fold.setChecked(False)

        self.presenting = saved
        window.setStyleSheet(presentation_style())
        for label in window.findChildren(QLabel, "panelTitle"):
            if not label.wordWrap():
                saved.unwrapped.append(label)
                label.setWordWrap(True)
        saved.split_sizes = w.top.sizes()
        saved.plot_width = w.distribution.plot.minimumWidth()
        w.distribution.plot.setMinimumWidth(1)  # under the cover: its labels must not widen the window
        saved.column_width = w.settings.minimumWidth()  # balance_presentation narrows it
        saved.moved = self._text_column()
        w.editor.set_min_lines(PRESENTED_LINES)  # the text has the full height of the room's screen
        w.editor.setFont(theme.font(TEXT_POINTS))
        w.chat_input.message.setFont(theme.font(big(theme.BASE_POINT_SIZE)))
        w.dice.bar.setFixedHeight(big(theme.BASE_POINT_SIZE) * 10)
        # Esc leaves presentation mode (and still stops a run): Stop gives the key up meanwhile.
        self.commands.stop.setShortcuts([])
        self.commands.leave_presentation.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        if full_screen:
            window.showFullScreen()
            QTimer.singleShot(200, self.balance_presentation)  # once the window has its new size
        self.balance_presentation()
        self.steps.refresh_panels()

    def _leave_presentation(self) -> None:
        w, window = self.stage, self.window
        saved, self.presenting = self.presenting, None
        assert saved is not None
        self.commands.leave_presentation.setShortcuts([])
        self.commands.stop.setShortcuts(saved.stop_keys)
        window.setStyleSheet(saved.style_sheet)
        for widget, font in saved.fonts.items():
            widget.setFont(font)
        w.editor.set_min_lines(TEXT_LINES)
        w.dice.bar.setMinimumHeight(saved.dice_height[0])
        w.dice.bar.setMaximumHeight(saved.dice_height[1])
        for widget in saved.hidden:
            widget.show()
        for action in saved.hidden_actions:
            action.setVisible(True)
        if saved.folded_dice:
            w.dice.fold.setChecked(True)
        for label in saved.unwrapped:
            label.setWordWrap(False)
        if saved.moved is not None:
            self._text_back(saved.moved)
        if saved.split_sizes:
            w.top.setSizes(saved.split_sizes)
        w.distribution.plot.setMinimumWidth(saved.plot_width)
        w.settings.setMinimumWidth(saved.column_width)
        if window.windowState() != saved.window_state:
            window.setWindowState(saved.window_state)
        self.steps.refresh_panels()

    def balance_presentation(self) -> None:
        """The settings column as narrow as it can be, the chances the rest of the row; then the
        selected step is scrolled into view in the text."""
        top, column = self.stage.top, self.stage.settings
        if self.presenting is None:
            return
        if column.widget() is not None:
            # Only two sliders are left in the column: what they need once the large type is in place,
            # not what every setting needed, so the chances get the room for more rows.
            column.setMinimumWidth(column.widget().minimumSizeHint().width()
                                   + column.verticalScrollBar().sizeHint().width() + 4)
        if self.presenting.moved is not None:
            total, narrow = sum(top.sizes()), column.minimumWidth()
            top.setSizes([total - narrow, narrow])
        else:
            total = sum(top.sizes())
            top.setSizes([total // 2, total - total // 2])
        self.presenting.scrolled_to = None
        self.reveal_selected_step()

    def _text_column(self) -> Moved | None:
        """The text to a full-height column on the left; the settings column beside the chances."""
        w = self.stage
        top, column, columns = w.top, w.settings, w.columns
        if top.indexOf(w.text_split) < 0 or columns.indexOf(column) < 0:
            return None
        moved = Moved(top, columns, [columns.stretch(i) for i in range(columns.count())])
        columns.removeWidget(column)
        top.addWidget(column)
        columns.insertWidget(0, w.text_split, TEXT_SHARE[0])
        columns.setStretch(1, TEXT_SHARE[1])
        for widget in (w.text_split, column):
            widget.show()  # a widget given a new parent is hidden until shown
        return moved

    def _text_back(self, moved: Moved) -> None:
        w = self.stage
        column = w.settings
        moved.columns.removeWidget(w.text_split)
        moved.top.insertWidget(0, w.text_split)
        moved.columns.addWidget(column)
        for index, stretch in enumerate(moved.stretches[:moved.columns.count()]):
            moved.columns.setStretch(index, stretch)
        for widget in (w.text_split, column):
            widget.show()

    def _leave_what_if(self) -> None:
        """A what-if left over from the normal window (a setting moved while a past step is shown) is
        explained by a banner that presentation mode hides: go back to the run's settings, so the panels
        show what the run really did. Moving a setting while presenting makes a fresh what-if."""
        doc = self.doc
        index = doc.shown_index()
        if index is not None and doc.state in ("idle", "busy") and \
                self.stage.controls.settings() != doc.mirror.steps[index].settings:
            self.steps.back_to_run()

    def reveal_selected_step(self) -> None:
        """Scroll the text so the selected step is in view, with a line or two of what came before."""
        index, saved, editor = self.doc.selected, self.presenting, self.stage.editor
        if saved is None or index is None or index == saved.scrolled_to or index >= len(editor.spans):
            return
        saved.scrolled_to = index
        bar, height = editor.verticalScrollBar(), editor.viewport().height()
        for _ in range(bar.maximum() + 2):  # the bar counts lines; each turn moves it one
            rects = editor.token_rects(index)
            if not rects:
                return
            top, bottom = rects[0].top(), rects[-1].bottom()
            if top < 0 and bar.value() > bar.minimum():
                bar.setValue(bar.value() - 1)
            elif bottom > height * 2 // 3 and top > rects[0].height() and bar.value() < bar.maximum():
                bar.setValue(bar.value() + 1)
            else:
                return

    def escape(self) -> None:
        """Esc while presenting: stop a run, else leave presentation mode."""
        if self.doc.state == "running":
            self.run.stop()
        else:
            self.set_presentation(False)

    def sync_big_panels(self) -> None:
        """After every panel refresh: the large-type covers follow the step on show (guess mode owns
        them while a guess is on show)."""
        if self.guess.refreshed():
            return
        w = self.stage
        view = w.inspector.view
        if self.presenting is not None and view is not None:
            w.chances_cover.show_view(view, reveal=True)
            w.dice_cover.show_view(view, reveal=True)
            w.controls.at_work.setText(f"<b>The samplers here:</b> {html(compact_line(view.trace, view.settings))}")
            w.controls.at_work.show()
            self.reveal_selected_step()
        else:
            w.chances_cover.clear()
            w.dice_cover.clear()
            w.controls.at_work.hide()

    def _big_rows_shown(self, view: StepView, rows: list[BigRow]) -> None:
        """The heading and the key above the large-type chances say what it shows: the count of its
        rows, and ◇ only when the run's pick is among them (its own note explains ↓)."""
        picked = view.is_what_if and any(r.token_id == view.recorded_token_id for r in rows)
        w = self.stage
        w.distribution.legend.setText(legend_text(picked))
        if self.presenting is not None and not self.guess.state.holds_panels:
            w.distribution.title.setText(big_title(view, rows))


def presentation_shot(presentation: Presentation, path: str | Path, size: tuple[int, int] = (1280, 720)) -> None:
    """Save the window in presentation mode at `size` (not full screen) to `path`, then leave it."""
    window = presentation.window
    was = window.size()
    presentation.set_presentation(True, full_screen=False)
    QApplication.processEvents()  # the smaller least size first: a resize cannot go below the old one
    window.resize(*size)
    for _ in range(5):
        QApplication.processEvents()
    presentation.balance_presentation()
    presentation.steps.refresh_panels()
    QApplication.processEvents()
    window.grab().save(str(path))
    presentation.set_presentation(False)
    window.resize(was)
