"""Switching models in the window frees the old one: ten switches between SmolLM2 and Gemma 3 leave
the process no bigger than it was holding the same model the first time round."""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from window_helpers import WAIT_MS, loaded_window  # noqa: E402

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")]
MARGIN_MB = 80  # allocator slack; one model is 250-420 MB resident here


def resident_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmRSS line")


def test_ten_switches_do_not_grow_memory_beyond_one_model(qtbot, qapp, smollm_path: Path,
                                                          gemma_path: Path) -> None:
    window = loaded_window(qtbot, qapp)
    paths = [gemma_path, smollm_path]
    first: dict[Path, int] = {}
    for switch in range(10):
        path = paths[switch % 2]
        window.models.load_model(path, probe=False)
        qtbot.waitUntil(lambda: window.doc.state == "idle", timeout=WAIT_MS)
        assert window.doc.model is not None and window.doc.model.path == path
        window.run.step()  # the model really runs after each switch
        qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.mirror) == 1, timeout=WAIT_MS)
        window.run.clear()
        first.setdefault(path, resident_mb())
        assert resident_mb() <= first[path] + MARGIN_MB, (switch, path.name, first, resident_mb())
    window.close()
