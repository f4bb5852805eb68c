"""`synthscope` with no sub-command: parse --model, build the window, load the model, run Qt."""
from __future__ import annotations

import argparse
import logging
import sys
import traceback
from types import TracebackType

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QApplication

from synthscope.engine import ModelLoadError, default_model_path
from synthscope.ui import theme
from synthscope.ui.window.main_window import MainWindow

log = logging.getLogger(__name__)
DEFAULT_SIZE = (1600, 1000)
OFFERED_KEY = "models/offered"  # the first start's note about the other models found was offered
# The engine worker runs Python between decodes; with Python's default 5 ms switch interval it can
# wait that long for the GIL behind a repaint while llama.cpp's cores sit idle.
SWITCH_INTERVAL_S = 0.001
# The freedesktop ID (resources/linux/*.desktop): on Wayland the desktop matches the window to its
# menu entry and icon by it.
DESKTOP_FILE_NAME = "io.github.synthscope.Synthscope"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="synthscope", description="Watch a small language model write.")
    parser.add_argument("--model", metavar="PATH", help="a GGUF model file (default: SmolLM2-135M-Instruct)")
    return parser.parse_args(argv)


def create_application() -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication([sys.argv[0] if sys.argv else "synthscope"])
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    app.setApplicationName("Synthscope")
    app.setOrganizationName("Synthscope")
    app.setDesktopFileName(DESKTOP_FILE_NAME)
    theme.apply(app)
    return app


def open_window(model: str | None, store: QSettings | None = None) -> MainWindow:
    """Show the window at once and start loading the model in the worker (never freezes the window)."""
    window = MainWindow(store)
    geometry = store.value("window/geometry") if store is not None else None
    if not isinstance(geometry, QByteArray | bytes) or not window.restoreGeometry(geometry):
        screen = window.screen().availableGeometry()
        window.resize(min(DEFAULT_SIZE[0], screen.width()), min(DEFAULT_SIZE[1], screen.height()))
    window.show()
    if store is not None:  # the real app (tests open windows without a store): keep the work safe
        window.autosave.enabled = True
        window.sessions.restore_on_load = not model
    if model:
        window.models.load_model(model, probe=True)
    else:
        try:
            # The shipped model is trusted, so it skips the crash-proof child-process probe.
            window.models.load_model(default_model_path(), probe=False)
        except ModelLoadError as exc:
            window.models.show_load_error(str(exc))
    if store is not None and str(store.value(OFFERED_KEY, "false")).lower() != "true":
        store.setValue(OFFERED_KEY, True)
        window.parts.models_note.look()  # a note in the window, never a dialog: it opens ready to write
    return window


def _install_excepthook(window: MainWindow) -> None:
    """A bug in a slot shows one plain sentence in the window; the traceback goes to the log only."""

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        log.error("unexpected error:\n%s", "".join(traceback.format_exception(kind, value, tb)))
        # Qt calls this in the thread whose slot raised, so the banner is reached through a signal.
        window.problemReported.emit(f"Something went wrong inside Synthscope: {value}. "
                                    "The window should keep working; if not, restart it.")

    sys.excepthook = hook


def run_app(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as exc:  # --help, or a bad option already explained by argparse
        return int(exc.code or 0)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    app = create_application()
    window = open_window(args.model, QSettings())
    _install_excepthook(window)
    return app.exec()
