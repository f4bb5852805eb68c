"""The Qt binding the UI runs on must not corrupt Python's reference counts, and Qt runs offscreen."""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import __version__ as pyside_version  # noqa: E402
from PySide6.QtCore import QObject, Signal  # noqa: E402

TESTS = Path(__file__).resolve().parent


class _Emitter(QObject):
    fired = Signal(float)


def _reference_counts_show() -> bool:
    """Whether this Python counts references to True at all (3.12 made it immortal: nothing to lose)."""
    true = ctypes.py_object(True)
    before = sys.getrefcount(True)
    ctypes.pythonapi.Py_IncRef(true)
    seen = sys.getrefcount(True) - before
    ctypes.pythonapi.Py_DecRef(true)
    return seen == 1


def test_signal_emit_keeps_bool_reference_counts(qapp) -> None:
    """PySide6 6.12.0 drops a reference to True on every Signal.emit(); after a few thousand
    emits (pyqtgraph emits many) Python aborts with 'bool_dealloc: deallocating True or False'."""
    if not _reference_counts_show():
        assert not pyside_version.startswith("6.12.0"), f"PySide6 {pyside_version} is known to lose references"
        return
    emitter = _Emitter()
    emits = 1000
    before = sys.getrefcount(True)
    for _ in range(emits):
        emitter.fired.emit(0.5)
    lost = before - sys.getrefcount(True)
    assert lost < emits // 10, (  # one per emit is the bug; a little slack for other threads
        f"PySide6 {pyside_version} loses a reference to True per Signal.emit(); "
        "install a version without this bug (6.11.3 works)")


def test_an_empty_qt_platform_setting_still_runs_the_suite_offscreen(tmp_path: Path) -> None:
    """An inherited QT_QPA_PLATFORM='' is unset, not a platform: the suite must still go offscreen."""
    probe = tmp_path / "test_platform_probe.py"
    probe.write_text("def test_platform(qapp):\n    assert qapp.platformName() == 'offscreen'\n",
                     encoding="utf-8")
    env = {**os.environ, "QT_QPA_PLATFORM": "", "PYTHONPATH": str(TESTS)}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
                           "-c", str(TESTS.parent / "pyproject.toml"), "--rootdir", str(tmp_path), str(probe)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
