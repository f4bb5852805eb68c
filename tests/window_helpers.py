"""Shared by the window tests: a main window shown offscreen with the real default model loaded."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QSettings

from synthscope.engine import default_model_path, machine_choice
from synthscope.session import Generator
from synthscope.ui import theme
from synthscope.ui.window.main_window import MainWindow

WAIT_MS = 30_000


def loaded_window(qtbot, qapp, store: QSettings | None = None, seed: int | None = None,
                  chat: bool = False) -> MainWindow:
    """Shown at 1400×900 and idle on SmolLM2, continuing raw text unless `chat`; the caller closes it."""
    machine_choice()  # the first check of this machine is not part of the wait for the window
    theme.apply(qapp)
    win = MainWindow(store)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    if seed is not None:
        win.parts.controls.seed_box.setValue(seed)
    win.models.load_model(default_model_path(), probe=False)
    qtbot.waitUntil(lambda: win.doc.state == "idle", timeout=WAIT_MS)
    assert win.doc.chatting  # an instruct model opens in chat mode
    win.chat.set_mode(chat)
    return win


def worker_generator(win: MainWindow) -> Generator:
    """The worker's generator; read only while the worker is idle (the test waits for that)."""
    gen = win.handle.worker.generator
    assert gen is not None
    return gen


def idle(qtbot, win: MainWindow) -> None:
    """Until the window is idle with every step it was sent shown."""
    qtbot.waitUntil(lambda: win.doc.state == "idle" and not win.steps.pending, timeout=WAIT_MS)


def generate_with(qtbot, win: MainWindow, prompt: str, settings, length: int, ignore_end: bool = False) -> None:
    """A whole run from `prompt` with these sampler settings and Length, as a person would start it."""
    win.parts.controls.set_settings(settings)
    win.parts.controls.max_tokens.setValue(length)
    win.parts.controls.ignore_end.setChecked(ignore_end)
    win.run.use_prompt(prompt)
    win.commands.generate.trigger()
    idle(qtbot, win)


STORY = "Once upon a time, in a small village by the sea, there lived"


@contextmanager
def story_window(qtbot, qapp, seed: int, settings, length: int) -> Iterator[MainWindow]:
    """A window with the model loaded that has written `length` word pieces of STORY; closed after."""
    window = loaded_window(qtbot, qapp, seed=seed)
    generate_with(qtbot, window, STORY, settings, length)
    try:
        yield window
    finally:
        window.close()
