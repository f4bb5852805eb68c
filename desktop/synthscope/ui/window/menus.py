"""The window's menu bar and tool bar, built from its actions."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu, QSizePolicy, QToolBar, QToolButton, QWidget

from synthscope.ui.frame.actions import Actions


def build_menus(window: QMainWindow, actions: Actions, recent_models: QMenu,
                samples: Callable[[], list[tuple[str, str]]], use_prompt: Callable[[str], None],
                fill_demos: Callable[[QMenu], None], fill_pictures: Callable[[QMenu], None]) -> None:
    """The menu bar. `samples` gives the Prompts menu's (title, text) pairs for the current mode,
    `use_prompt` takes the one chosen; `fill_demos` fills the Demos menu at each opening, and
    `fill_pictures` the list of panels that may be saved as pictures."""
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([actions.models, actions.open_model])
    file_menu.addMenu(recent_models)
    file_menu.addAction(actions.connect_server)
    file_menu.addActions([actions.model_info])
    file_menu.addSeparator()
    file_menu.addActions([actions.open_session, actions.save_run])
    export_menu = file_menu.addMenu("&Export")
    export_menu.addActions([actions.export_table, actions.export_page, actions.export_handout])
    export_menu.addSeparator()
    pictures_menu = export_menu.addMenu("Picture of a panel (PNG or SVG)")
    pictures_menu.aboutToShow.connect(lambda: fill_pictures(pictures_menu))
    fill_pictures(pictures_menu)
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)
    run_menu = bar.addMenu("&Run")
    run_menu.addActions(list(actions.run_actions))
    run_menu.addSeparator()
    run_menu.addActions([actions.chat_mode, actions.manual, actions.guess])
    run_menu.addSeparator()
    run_menu.addActions([actions.compare, actions.futures])
    run_menu.addSeparator()
    run_menu.addActions([actions.previous_unsure, actions.next_unsure])
    prompts_menu = bar.addMenu("&Prompts")
    prompts_menu.setToolTipsVisible(True)

    def fill_prompts() -> None:  # on every opening: the samples fit the current mode
        prompts_menu.clear()
        for title, text in samples():
            action = prompts_menu.addAction(title)
            action.setStatusTip(text.replace("\n", " ↵ "))
            action.triggered.connect(lambda _checked=False, text=text: use_prompt(text))

    prompts_menu.aboutToShow.connect(fill_prompts)
    fill_prompts()
    demos_menu = bar.addMenu("&Demos")  # resources/demos, read at each opening
    demos_menu.aboutToShow.connect(lambda: fill_demos(demos_menu))
    fill_demos(demos_menu)
    view_menu = bar.addMenu("&View")
    view_menu.addActions([actions.bigger_text, actions.smaller_text])
    view_menu.addSeparator()
    view_menu.addAction(actions.presentation)
    help_menu = bar.addMenu("&Help")
    help_menu.addActions([actions.workshop_guide, actions.about, actions.shortcuts, actions.about_app])


def build_toolbar(window: QMainWindow, actions: Actions, trailing: list[QWidget]) -> list[QAction]:
    """The run buttons on the left, `trailing` on the right; returns the actions that show or hide
    the trailing widgets (a widget in a tool bar is shown and hidden through its action)."""
    toolbar = QToolBar("Run")
    toolbar.setMovable(False)
    toolbar.setFloatable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    toolbar.setContextMenuPolicy(Qt.ContextMenuPolicy.PreventContextMenu)
    for action in actions.run_actions:
        toolbar.addAction(action)
        button = toolbar.widgetForAction(action)
        if isinstance(button, QToolButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Space must mean Step, not "press this button"
            if action is actions.generate:
                button.setObjectName("primary")
    spacer = QWidget()
    spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    toolbar.addWidget(spacer)
    holders = [toolbar.addWidget(widget) for widget in trailing]
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    return holders
