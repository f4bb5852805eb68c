"""The window's actions with their shortcuts, declared in one place."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QMainWindow,
)


@dataclass
class Actions:
    generate: QAction
    stop: QAction
    step: QAction
    undo: QAction
    clear: QAction
    open_model: QAction
    connect_server: QAction
    models: QAction
    model_info: QAction
    save_run: QAction
    open_session: QAction
    export_table: QAction
    export_page: QAction
    export_handout: QAction
    quit: QAction
    bigger_text: QAction
    smaller_text: QAction
    about: QAction
    about_app: QAction
    chat_mode: QAction
    manual: QAction
    compare: QAction
    futures: QAction
    next_unsure: QAction
    previous_unsure: QAction
    presentation: QAction  # -- for a room (ui/workshop.py) --
    leave_presentation: QAction  # Esc while presenting (it has the key only then)
    guess: QAction
    workshop_guide: QAction
    shortcuts: QAction

    @property
    def run_actions(self) -> tuple[QAction, ...]:
        return (self.generate, self.stop, self.step, self.undo, self.clear)


def _action(window: QMainWindow, text: str, tip: str,
            *keys: QKeySequence | QKeySequence.StandardKey | str) -> QAction:
    action = QAction(text, window)
    action.setShortcuts([QKeySequence(k) for k in keys])
    shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
    action.setStatusTip(tip)
    window.addAction(action)  # shortcuts work even where no menu or toolbar shows the action
    return action


def build_actions(window: QMainWindow) -> Actions:
    enter = QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Enter)
    ret = QKeySequence(Qt.Modifier.CTRL | Qt.Key.Key_Return)
    return Actions(
        generate=_action(window, "▶  Generate",
                         "Write word pieces until the length limit or the end of the text",
                         ret, enter),
        stop=_action(window, "■  Stop", "Stop after the current word piece", QKeySequence(Qt.Key.Key_Escape)),
        step=_action(window, "+1  Step", "Write exactly one word piece", QKeySequence(Qt.Key.Key_Space)),
        undo=_action(window, "↶  Undo", "Remove the last word piece", QKeySequence.StandardKey.Undo),
        clear=_action(window, "✕  Clear", "Remove the generated text and keep the prompt",
                      QKeySequence("Ctrl+L")),
        open_model=_action(window, "Open model…", "Open another GGUF model file",
                           QKeySequence.StandardKey.Open),
        connect_server=_action(window, "Connect to a model server…",
                               "Use a model that runs in llama-server or another model server, on this "
                               "computer or another one on your local network"),
        models=_action(window, "Models on this computer…",
                       "Every GGUF model found in Synthscope's folders, the Hugging Face cache, LM Studio "
                       "and Ollama, with its facts", QKeySequence("Ctrl+M")),
        model_info=_action(window, "Model information…", "What the loaded model is, and its chat template",
                           QKeySequence("Ctrl+I")),
        save_run=_action(window, "Save session…", "Save the whole exploration: every branch, every "
                         "word piece and how it was chosen", QKeySequence.StandardKey.Save),
        open_session=_action(window, "Open session…", "Open a saved session, or a run saved by "
                             "synthscope trace", QKeySequence("Ctrl+Shift+O")),
        export_table=_action(window, "Word pieces as a table (CSV)…", "One row per word piece written: its "
                             "chance before and after the samplers, its rank, surprise and the dice, for a "
                             "spreadsheet"),
        export_page=_action(window, "Coloured text as a web page (HTML)…", "The text shaded by each word "
                            "piece's chance; point at a word for its numbers. Opens in any browser, offline"),
        export_handout=_action(window, "This step as a handout (PDF)…", "One printable page: the text, the "
                               "chances, what each sampler did and the dice, for the step on show",
                               QKeySequence("Ctrl+Shift+P")),
        quit=_action(window, "Quit", "Close Synthscope", QKeySequence.StandardKey.Quit),
        bigger_text=_action(window, "Larger text", "Make the text larger", QKeySequence.StandardKey.ZoomIn,
                            QKeySequence("Ctrl+=")),
        smaller_text=_action(window, "Smaller text", "Make the text smaller",
                             QKeySequence.StandardKey.ZoomOut),
        about=_action(window, "How to read this window", "What each panel shows"),
        about_app=_action(window, "About Synthscope", "Version, model, and how llama.cpp runs here"),
        chat_mode=_checkable(_action(window, "Chat with the model",
                                     "On: talk to an instruct model in turns, in its own chat format. "
                                     "Off: the model continues your text as it is",
                                     QKeySequence("Ctrl+T"))),
        manual=_checkable(_action(window, "Pick each word piece yourself",
                                  "On: Step shows the candidates and you choose the next word piece (or "
                                  "let the dice decide). Off: the dice choose", QKeySequence("Ctrl+P"))),
        compare=_action(window, "Compare runs side by side…", "The same prompt written two to four "
                        "times with other settings, seeds or models, word piece by word piece",
                        QKeySequence("Ctrl+Shift+C")),
        futures=_action(window, "Many futures from here…", "Write the selected word piece and a few after "
                        "it a hundred times, each with fresh dice: how often each word wins, and every "
                        "path as a tree", QKeySequence("Ctrl+Shift+F")),
        next_unsure=_action(window, "Next unsure word piece", "Show the next step where the model was "
                            "unsure, or the dice picked a long shot", QKeySequence("Ctrl+]")),
        previous_unsure=_action(window, "Previous unsure word piece", "Show the step before this one where "
                                "the model was unsure, or the dice picked a long shot", QKeySequence("Ctrl+[")),
        presentation=_checkable(_action(window, "Presentation mode", "Full screen and large type, only "
                                        "the text, the chances, the dice, temperature and top-p; Esc "
                                        "leaves it", QKeySequence(Qt.Key.Key_F11))),
        leave_presentation=_action(window, "Leave presentation mode", "Back to every panel"),
        guess=_checkable(_action(window, "Guess mode", "On: Step first shows the chances so the room can "
                                 "guess, the next Step rolls the dice", QKeySequence("Ctrl+G"))),
        workshop_guide=_action(window, "Workshop guide", "The 45-minute lesson with the five demos, step by "
                               "step, and a worksheet for the pupils to print"),
        shortcuts=_action(window, "Keyboard shortcuts", "Every key Synthscope answers to",
                          QKeySequence("F1")),
    )


def _checkable(action: QAction) -> QAction:
    action.setCheckable(True)
    return action


def focus_keeps_space(e: QEvent) -> bool:
    """Whether `e` is Space about to trigger Step while a button, check box or number box has the
    focus, which should get it instead (the text gets it already: an editor claims printable keys)."""
    return (e.type() == QEvent.Type.ShortcutOverride and isinstance(e, QKeyEvent)
            and e.key() == Qt.Key.Key_Space and e.modifiers() == Qt.KeyboardModifier.NoModifier
            and isinstance(QApplication.focusWidget(), (QAbstractButton, QAbstractSpinBox)))
