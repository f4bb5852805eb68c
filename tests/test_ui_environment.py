"""The Qt binding the UI runs on must not corrupt Python's reference counts."""
from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import __version__ as pyside_version  # noqa: E402
from PySide6.QtCore import QObject, Signal  # noqa: E402


class _Emitter(QObject):
    fired = Signal(float)


def test_signal_emit_keeps_bool_reference_counts(qapp) -> None:
    """PySide6 6.12.0 drops a reference to True on every Signal.emit(); after a few thousand
    emits (pyqtgraph emits many) Python aborts with 'bool_dealloc: deallocating True or False'."""
    emitter = _Emitter()
    before = sys.getrefcount(True)
    for _ in range(100):
        emitter.fired.emit(0.5)
    assert sys.getrefcount(True) - before > -50, (
        f"PySide6 {pyside_version} loses a reference to True per Signal.emit(); "
        "install a version without this bug (6.11.3 works)")
