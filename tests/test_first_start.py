"""The first start on a computer: the engine check runs while the window stays alive and says what
is happening, and its decision goes to the user's cache folder (the package's folder is never written)."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QTimer

from synthscope.engine import default_model_path, machine
from synthscope.ui import theme
from synthscope.ui.window.main_window import MainWindow

CHECK_MS = 300_000  # the check measures threads and attention paths: up to minutes on a busy machine
TICK_MS = 50


def test_the_first_start_checks_the_engine_in_a_live_window_that_says_so(
        qtbot, qapp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "home"
    monkeypatch.delenv("SYNTHSCOPE_CACHE_DIR")  # as in an installed app: the platform's cache folder
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    cache = machine.user_cache_dir()
    assert cache == home / ".cache" / "synthscope" and not cache.exists()
    installed = default_model_path().parent
    before = {p: p.stat().st_mtime_ns for p in installed.rglob("*")}

    theme.apply(qapp)
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(TICK_MS)
    win.models.load_model(default_model_path(), probe=False)
    words = "First start on this computer: checking how the model runs here"
    qtbot.waitUntil(lambda: words in win.statusBar().currentMessage(), timeout=10_000)
    assert words in win.parts.inspector.header.label.text()
    assert win.parts.progress.maximum() == 0  # a busy bar: moving, with no fraction to promise
    ticks.clear()
    qtbot.waitUntil(lambda: win.doc.state == "idle", timeout=CHECK_MS)
    timer.stop()
    # The event loop ran all through the check: the window repainted, answered and could be closed.
    assert len(ticks) >= 10
    assert words not in win.parts.inspector.header.label.text()
    assert (cache / "engine-choice.json").is_file()
    assert {p: p.stat().st_mtime_ns for p in installed.rglob("*")} == before
    win.close()
