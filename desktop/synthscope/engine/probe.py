"""Open an untrusted model in a child process first, so a llama.cpp abort cannot take the app down."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from synthscope.engine.errors import ModelLoadError

PROBE_FLAG = "--probe-model"
RESULT_PREFIX = "SYNTHSCOPE-PROBE "


def probe_command(path: Path) -> list[str]:
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: the executable is the app itself
        return [sys.executable, PROBE_FLAG, str(path)]
    return [sys.executable, "-m", "synthscope", PROBE_FLAG, str(path)]


def probe_model(path: Path, timeout: float = 300.0) -> None:
    """Raise ModelLoadError unless a child process can load `path` and decode one token with it."""
    try:
        done = subprocess.run(probe_command(path), capture_output=True, text=True, timeout=timeout,
                              errors="replace", stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ModelLoadError(f"Checking {path.name} took longer than {timeout:.0f} s; "
                             "it is too large or the file is unreadable.") from exc
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            if result.get("ok"):
                return
            raise ModelLoadError(result["error"])
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise ModelLoadError(f"llama.cpp crashed ({name}) while opening {path.name}; the file is "
                             "probably damaged or a model type this version cannot run.")
    raise ModelLoadError(f"{path.name} could not be opened (the check stopped with code "
                         f"{done.returncode}); the file is probably damaged.")


def child_main(path: str) -> int:
    """Runs in the child: load, decode one token, report one JSON line."""
    from synthscope.engine.errors import EngineError
    from synthscope.engine.model import Engine

    try:
        with Engine.load(path, n_ctx=64, probe=False) as engine:
            engine.decode(engine.tokenize("Hello") or [0])
            engine.logits()
        result: dict[str, object] = {"ok": True}
    except (ModelLoadError, EngineError) as exc:
        result = {"ok": False, "error": str(exc)}
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0
