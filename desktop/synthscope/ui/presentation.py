"""Presentation mode: full screen, large type, only the text (full height on the left), the chances,
the dice and the two settings a room plays with; Esc or F11 puts every panel and font back as it was."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (QAbstractButton, QApplication, QBoxLayout, QLabel, QPushButton, QScrollArea,
                               QSplitter, QToolBar, QWidget)

from synthscope.ui import theme
from synthscope.ui.big_view import BigRow, big, big_title, secondary_ink
from synthscope.ui.distribution import legend_text
from synthscope.ui.run_model import StepView

if TYPE_CHECKING:
    from synthscope.ui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object

TEXT_POINTS = 28  # the text, in presentation mode
SHOWN_SETTINGS = ("temperature", "top_p")
QWIDGETSIZE_MAX = 16_777_215
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


class Presentation(_Base):
    """Mixed into MainWindow through Workshop."""

    presenting: Saved | None

    def _init_presentation(self) -> None:
        self.presenting = None
        self.commands.presentation.toggled.connect(self.set_presentation)
        self.commands.leave_presentation.triggered.connect(self._escape_in_presentation)
        self.chances_cover.rows_shown = self._big_rows_shown

    def advanced_widgets(self) -> list[QWidget]:
        """Everything presentation mode hides: the step header, the stage strip, the branches, the
        other settings, stop sequences, performance and the status bar."""
        shown = [self.controls.controls[key] for key in SHOWN_SETTINGS]
        # "Also at work, under Show all settings…" is left out: that checkbox is not shown here.
        keep = {*shown, *self.controls.findChildren(QLabel, "panelTitle")}
        direct = self.controls.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        others = [w for w in direct if w not in keep and not w.isWindow()]
        # Their hints (the words beside and under a slider) make the column too wide for 1280 px.
        hints = [label for control in shown for label in control.findChildren(QLabel, "hint")]
        explanation = getattr(self.dice, "explanation", None)  # under the cover, which says it in large type
        fold = getattr(self.dice, "fold", None)  # the cover needs the dice panel unfolded
        chat_extras = [getattr(self.chat_input, name, None) for name in ("system_toggle", "system")]
        covered = [self.header, *(w for w in (explanation, fold) if isinstance(w, QWidget)),
                   *(w for w in chat_extras if isinstance(w, QWidget)),  # the instructions for the model
                   *self.distribution.findChildren(QPushButton)]  # e.g. "Stage by stage"
        return [*covered, self.pipeline, self.branches_panel, self.stops.parentWidget() or self.stops,
                self.performance, self.statusBar(), *others, *hints]  # the menus stay: Demos is one

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
        self._leave_what_if()
        fonts = {w: QFont(w.font()) for w in (self.editor, self.chat_input.message)}
        saved = Saved(self.windowState(), self.styleSheet(), fonts,
                      stop_keys=self.commands.stop.shortcuts(),
                      dice_height=(self.dice.bar.minimumHeight(), self.dice.bar.maximumHeight()))
        for widget in self.advanced_widgets():
            if widget.isVisibleTo(widget.parentWidget() or widget):
                saved.hidden.append(widget)
                widget.hide()
        toolbar = self.findChild(QToolBar)
        for action in toolbar.actions() if toolbar else []:
            if toolbar.widgetForAction(action) is self.model_label and action.isVisible():
                saved.hidden_actions.append(action)  # a tool bar shows its widgets through their actions
                action.setVisible(False)
        fold = getattr(self.dice, "fold", None)
        if isinstance(fold, QAbstractButton) and fold.isChecked():
            saved.folded_dice = True
            fold.setChecked(False)
        self.presenting = saved
        self.setStyleSheet(presentation_style())
        for label in self.findChildren(QLabel, "panelTitle"):
            if not label.wordWrap():
                saved.unwrapped.append(label)
                label.setWordWrap(True)
        top = self.top_row()
        if top is not None:
            saved.split_sizes = top.sizes()
        saved.plot_width = self.distribution.plot.minimumWidth()
        self.distribution.plot.setMinimumWidth(1)  # under the cover: its labels must not widen the window
        column = self.settings_column()
        if column is not None:
            saved.column_width = column.minimumWidth()  # balance_presentation narrows it
        saved.moved = self._text_column()
        self.editor.setFont(theme.font(TEXT_POINTS))
        self.chat_input.message.setFont(theme.font(big(theme.BASE_POINT_SIZE)))
        self.dice.bar.setFixedHeight(big(theme.BASE_POINT_SIZE) * 10)
        # Esc leaves presentation mode (and still stops a run): Stop gives the key up meanwhile.
        self.commands.stop.setShortcuts([])
        self.commands.leave_presentation.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        if full_screen:
            self.showFullScreen()
            QTimer.singleShot(200, self.balance_presentation)  # once the window has its new size
        self.balance_presentation()
        self._refresh_panels()

    def _leave_presentation(self) -> None:
        saved, self.presenting = self.presenting, None
        assert saved is not None
        self.commands.leave_presentation.setShortcuts([])
        self.commands.stop.setShortcuts(saved.stop_keys)
        self.setStyleSheet(saved.style_sheet)
        for widget, font in saved.fonts.items():
            widget.setFont(font)
        self.dice.bar.setMinimumHeight(saved.dice_height[0])
        self.dice.bar.setMaximumHeight(saved.dice_height[1])
        for widget in saved.hidden:
            widget.show()
        for action in saved.hidden_actions:
            action.setVisible(True)
        fold = getattr(self.dice, "fold", None)
        if saved.folded_dice and isinstance(fold, QAbstractButton):
            fold.setChecked(True)
        for label in saved.unwrapped:
            label.setWordWrap(False)
        if saved.moved is not None:
            self._text_back(saved.moved)
        top = self.top_row()
        if top is not None and saved.split_sizes:
            top.setSizes(saved.split_sizes)
        self.distribution.plot.setMinimumWidth(saved.plot_width)
        column = self.settings_column()
        if column is not None:
            column.setMinimumWidth(saved.column_width)
        if self.windowState() != saved.window_state:
            self.setWindowState(saved.window_state)
        self._refresh_panels()

    def balance_presentation(self) -> None:
        """The settings column as narrow as it can be, the chances the rest of the row; then the
        selected step is scrolled into view in the text."""
        top, column = self.top_row(), self.settings_column()
        if self.presenting is None or top is None:
            return
        if column is not None and column.widget() is not None:
            # Only two sliders are left in the column: what they need once the large type is in place,
            # not what every setting needed, so the chances get the room for more rows.
            column.setMinimumWidth(column.widget().minimumSizeHint().width()
                                   + column.verticalScrollBar().sizeHint().width() + 4)
        if self.presenting.moved is not None and column is not None:
            total, narrow = sum(top.sizes()), column.minimumWidth()
            top.setSizes([total - narrow, narrow])
        else:
            total = sum(top.sizes())
            top.setSizes([total // 2, total - total // 2])
        self.presenting.scrolled_to = None
        self.reveal_selected_step()

    def top_row(self) -> QSplitter | None:
        """The splitter with the chances in it (beside the text, or beside the settings while presenting)."""
        top = self.distribution.parentWidget()
        return top if isinstance(top, QSplitter) else None

    def _text_column(self) -> Moved | None:
        """The text to a full-height column on the left; the settings column beside the chances."""
        top, column = self.top_row(), self.settings_column()
        central = self.centralWidget()
        columns = _layout_holding(central.layout(), column) if column and central else None
        if top is None or column is None or columns is None or top.indexOf(self.text_split) < 0:
            return None
        moved = Moved(top, columns, [columns.stretch(i) for i in range(columns.count())])
        columns.removeWidget(column)
        top.addWidget(column)
        columns.insertWidget(0, self.text_split, TEXT_SHARE[0])
        columns.setStretch(1, TEXT_SHARE[1])
        for widget in (self.text_split, column):
            widget.show()  # a widget given a new parent is hidden until shown
        return moved

    def _text_back(self, moved: Moved) -> None:
        column = self.settings_column()
        moved.columns.removeWidget(self.text_split)
        moved.top.insertWidget(0, self.text_split)
        if column is not None:
            moved.columns.addWidget(column)
        for index, stretch in enumerate(moved.stretches[:moved.columns.count()]):
            moved.columns.setStretch(index, stretch)
        for widget in (self.text_split, column):
            if widget is not None:
                widget.show()

    def _leave_what_if(self) -> None:
        """A what-if left over from the normal window (a setting moved while a past step is shown) is
        explained by a banner that presentation mode hides: go back to the run's settings, so the panels
        show what the run really did. Moving a setting while presenting makes a fresh what-if."""
        index = self.shown_index()
        if index is not None and self.state in ("idle", "busy") and \
                self.controls.settings() != self.mirror.steps[index].settings:
            self._back_to_run()

    def reveal_selected_step(self) -> None:
        """Scroll the text so the selected step is in view, with a line or two of what came before."""
        index, saved = self.selected, self.presenting
        if saved is None or index is None or index == saved.scrolled_to or index >= len(self.editor.spans):
            return
        saved.scrolled_to = index
        bar, height = self.editor.verticalScrollBar(), self.editor.viewport().height()
        for _ in range(bar.maximum() + 2):  # the bar counts lines; each turn moves it one
            rects = self.editor.token_rects(index)
            if not rects:
                return
            top, bottom = rects[0].top(), rects[-1].bottom()
            if top < 0 and bar.value() > bar.minimum():
                bar.setValue(bar.value() - 1)
            elif bottom > height * 2 // 3 and top > rects[0].height() and bar.value() < bar.maximum():
                bar.setValue(bar.value() + 1)
            else:
                return

    def settings_column(self) -> QScrollArea | None:
        """The scroll area that holds the sampler settings (and the panels below them)."""
        widget = self.controls.parentWidget()
        while widget is not None and not isinstance(widget, QScrollArea):
            widget = widget.parentWidget()
        return widget

    def _escape_in_presentation(self) -> None:
        if self.state == "running":
            self.stop()
        else:
            self.set_presentation(False)

    def sync_big_panels(self) -> None:
        """After every panel refresh: the large-type covers follow the step on show (guess mode owns
        them while a guess is on show)."""
        if self.guess_refreshed():
            return
        view = self.inspector.view
        if self.presenting is not None and view is not None:
            self.chances_cover.show_view(view, reveal=True)
            self.dice_cover.show_view(view, reveal=True)
            self.reveal_selected_step()
        else:
            self.chances_cover.clear()
            self.dice_cover.clear()

    def _big_rows_shown(self, view: StepView, rows: list[BigRow]) -> None:
        """The heading and the key above the large-type chances say what it shows: the count of its
        rows, and ◇ only when the run's pick is among them (its own note explains ↓)."""
        picked = view.is_what_if and any(r.token_id == view.recorded_token_id for r in rows)
        self.distribution.legend.setText(legend_text(picked))
        if self.presenting is not None and self.guess is None and not self.revealing:
            self.distribution.title.setText(big_title(view, rows))


def _layout_holding(layout: QBoxLayout | None, widget: QWidget) -> QBoxLayout | None:
    """The box layout, `layout` or one nested in it, that holds `widget` directly."""
    if layout is None:
        return None
    if layout.indexOf(widget) >= 0:
        return layout
    for index in range(layout.count()):
        found = _layout_holding(layout.itemAt(index).layout(), widget)  # type: ignore[arg-type]
        if found is not None:
            return found
    return None


def presentation_shot(window: MainWindow, path: str | Path, size: tuple[int, int] = (1280, 720)) -> None:
    """Save `window` in presentation mode at `size` (not full screen) to `path`, then leave it."""
    was = window.size()
    window.set_presentation(True, full_screen=False)
    QApplication.processEvents()  # the smaller least size first: a resize cannot go below the old one
    window.resize(*size)
    for _ in range(5):
        QApplication.processEvents()
    window.balance_presentation()
    window._refresh_panels()
    QApplication.processEvents()
    window.grab().save(str(path))
    window.set_presentation(False)
    window.resize(was)
