"""Routes llama.cpp's log into Python logging (never `verbose=False`, which redirects stdout/stderr)."""
from __future__ import annotations

import ctypes
import logging
import re
from collections import deque

import llama_cpp

logger = logging.getLogger("synthscope.llama")
# ggml_log_level: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continue (llama-cpp-python's own
# table predates this numbering).
_LEVELS = {0: logging.INFO, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_state = {"level": logging.DEBUG, "installed": False}
_pending: list[str] = []
recent_errors: deque[str] = deque(maxlen=8)
# llama.cpp's "load_backend: loaded CPU backend from /…/libggml-cpu-haswell.so": where no
# /proc/self/maps lists the mapped libraries (macOS, Windows), the smoke test names them from here.
LOADED_BACKEND = re.compile(r"load_backend: loaded (?P<kind>\S+) backend from (?P<path>.+)$")
loaded_backends: list[str] = []


@llama_cpp.llama_log_callback
def _on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
    if level != 5:  # 5 = "continue the previous line" at the previous level
        _state["level"] = _LEVELS.get(level, logging.DEBUG)
    _pending.append(text.decode("utf-8", errors="replace"))
    if not _pending[-1].endswith("\n"):
        return
    line = "".join(_pending).rstrip()
    _pending.clear()
    if _state["level"] >= logging.ERROR:
        recent_errors.append(line)
    loaded = LOADED_BACKEND.search(line)
    if loaded:
        loaded_backends.append(loaded["path"].strip())
    logger.log(_state["level"], "%s", line)


def install() -> None:
    """Install once per process; the module-level callback object stays referenced for its lifetime."""
    if not _state["installed"]:
        llama_cpp.llama_log_set(_on_log, ctypes.c_void_p(0))
        _state["installed"] = True


def last_error() -> str | None:
    return recent_errors[-1] if recent_errors else None


def load_reason() -> str | None:
    """Why llama.cpp refused the latest model, without the names of its functions: the innermost
    part of its last "error loading model" line, e.g. "tensor 'output.weight' not found"."""
    for line in reversed(recent_errors):
        if "error loading model" in line:
            reason = line.rsplit("error loading model", 1)[1].lstrip(": ")
            reason = re.sub(r"^\w+: ", "", reason)  # "check_tensor_dims: …", "hyperparameters: …"
            return " ".join(reason.split()).rstrip(".") or None
    return None
