"""The window computing with a model server, for bench_server.py: connected once, then whole runs timed
from Generate to the window idle with every word piece shown (offscreen Qt)."""
from __future__ import annotations

import os
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from synthscope.sampling import SamplerSettings  # noqa: E402
from synthscope.session.requests import ServerChoice  # noqa: E402
from synthscope.ui.app import create_application  # noqa: E402
from synthscope.ui.window.main_window import MainWindow  # noqa: E402

_app: QApplication | None = None


def _wait(done, timeout: float = 600.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        assert _app is not None
        _app.processEvents()
        time.sleep(0.001)


class ServedWindow:
    """A main window (1600×1000, raw text) connected to `url`, asking for `head` word pieces a step."""

    def __init__(self, url: str, head: int | None) -> None:
        global _app
        _app = _app or create_application()
        self.window = MainWindow()
        self.window.resize(1600, 1000)
        self.window.show()
        self.window.server.connect_to(ServerChoice(url, head=head))
        _wait(lambda: self.window.doc.state in ("idle", "no-model"))
        if self.window.doc.model is None:
            raise RuntimeError(self.window.parts.banner.text.text())
        self.window.chat.set_mode(False)

    def run(self, prompt: str, steps: int, seed: int) -> float:
        """Word pieces per second of one run (default samplers, the end of text ignored)."""
        window = self.window
        window.run.clear()
        _wait(lambda: window.doc.state == "idle")
        window.parts.controls.set_settings(SamplerSettings())
        window.parts.controls.seed_box.setValue(seed)
        window.parts.controls.max_tokens.setValue(steps)
        window.parts.controls.ignore_end.setChecked(True)
        window.run.use_prompt(prompt)
        start = time.perf_counter()
        window.commands.generate.trigger()
        _wait(lambda: window.doc.state == "running")
        _wait(lambda: window.doc.state == "idle" and not window.steps.pending)
        elapsed = time.perf_counter() - start
        return len(window.doc.mirror) / elapsed

    def close(self) -> None:
        self.window.close()
