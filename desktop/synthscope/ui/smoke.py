"""`synthscope --smoke-test`: the real window, offscreen, loads the default model and writes a few tokens."""
from __future__ import annotations

import logging
import re
import sys
import time
from pathlib import Path

from PySide6.QtCore import QEventLoop, QMessageLogContext, QtMsgType, QTimer, qInstallMessageHandler

from synthscope.engine import ModelLoadError, default_model_path, llama_log
from synthscope.ui.app import create_application
from synthscope.ui.window.main_window import MainWindow

PROMPT = "The capital of France is"
MAX_TOKENS = 8
LOAD_TIMEOUT_S = 180  # the first start also checks how llama.cpp runs on this machine
RUN_TIMEOUT_S = 60
# What the offscreen platform cannot do (a real windowing system can): not worth a line on stderr.
OFFSCREEN_LIMITS = ("does not support propagateSizeHints", "does not support raise",
                    "does not support grabbing the keyboard")


class SmokeTestFailed(Exception):
    """One plain sentence saying what did not work."""


def cpu_backend(platform: str = sys.platform) -> str:
    """The llama.cpp CPU backend this process has loaded: with run-time dispatch
    (GGML_CPU_ALL_VARIANTS) the variant picked for this CPU, e.g. `haswell (libggml-cpu-haswell.so)`;
    otherwise the one `libggml-cpu` library, built for a single kind of CPU. Linux lists the mapped
    libraries in /proc/self/maps; elsewhere llama.cpp's log says which plug-ins it loaded."""
    if platform.startswith("linux"):
        try:
            maps = Path("/proc/self/maps").read_text(errors="replace")
        except OSError:
            return "unknown (no /proc/self/maps)"
        paths = [line.split(maxsplit=5)[-1] for line in maps.splitlines()
                 if "ggml-cpu" in line and len(line.split(maxsplit=5)) == 6]
    else:
        paths = list(llama_log.loaded_backends)
    names = sorted({Path(path).name for path in paths if "ggml-cpu" in Path(path).name})
    variants = [re.match(r"(?:lib)?ggml-cpu-([\w.]+?)\.(so|dylib|dll)$", name) for name in names]
    if names and all(variants):
        return ", ".join(f"{match[1]} ({name})" for match, name in zip(variants, names))
    if names:
        return ", ".join(f"{name} (one build, no run-time choice)" for name in names)
    if platform.startswith("linux"):
        return "none found"
    return "linked into llama.cpp (one build, no run-time choice)"


def wait_for_state(window: MainWindow, states: tuple[str, ...], timeout_s: float) -> str:
    """Run Qt's event loop until the window reaches one of `states` or `timeout_s` passes."""
    if window.doc.state not in states:
        loop = QEventLoop()

        def changed(state: str) -> None:
            if state in states:
                loop.quit()

        window.run_state.changed.connect(changed)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()
        window.run_state.changed.disconnect(changed)
    return window.doc.state


def smoke_test(window: MainWindow) -> str:
    """Load the default model into `window`, write MAX_TOKENS tokens; the report line, or raise."""
    try:
        path = default_model_path()
    except ModelLoadError as exc:
        raise SmokeTestFailed(str(exc)) from exc
    window.models.load_model(path, probe=False)
    if wait_for_state(window, ("idle", "no-model"), LOAD_TIMEOUT_S) != "idle" or window.doc.model is None:
        reason = window.parts.banner.text.text() if window.doc.state == "no-model" else \
            f"it was still loading after {LOAD_TIMEOUT_S} s"
        raise SmokeTestFailed(f"The default model {path.name} did not load: {reason}")
    window.chat.set_mode(False)  # the default model opens in chat mode; raw text is simpler
    window.parts.editor.set_prompt(PROMPT)
    window.parts.controls.max_tokens.setValue(MAX_TOKENS)
    start = time.perf_counter()
    window.run.generate()
    if wait_for_state(window, ("idle",), RUN_TIMEOUT_S) != "idle":
        raise SmokeTestFailed(f"No answer from {path.name} within {RUN_TIMEOUT_S} s")
    seconds = time.perf_counter() - start
    tokens = len(window.doc.mirror)
    if tokens == 0:
        problem = window.parts.banner.text.text() or "no reason given"
        raise SmokeTestFailed(f"{path.name} loaded but wrote no tokens ({problem})")
    return (f"Smoke test passed: {path.name} wrote {tokens} tokens in {seconds:.2f} s "
            f"({tokens / seconds:.1f} tokens/s); llama.cpp CPU backend: {cpu_backend()}")


def _qt_message(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    if not any(limit in message for limit in OFFSCREEN_LIMITS):
        print(message, file=sys.stderr, flush=True)


def run_smoke_test() -> int:
    """0 and a report line on stdout, or 1 and one plain sentence on stderr."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    qInstallMessageHandler(_qt_message)
    create_application()
    window = MainWindow()
    window.show()
    try:
        print(smoke_test(window), flush=True)
        code = 0
    except SmokeTestFailed as exc:
        print(f"Smoke test failed: {exc}", file=sys.stderr, flush=True)
        code = 1
    finally:
        window.close()
    return code
