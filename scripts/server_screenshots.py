"""Screenshots of the window computing with a model server: server.png (a run through llama-server with
the top 1,000 word pieces of each step, a step's sentence on what is exact) and connect.png (File →
Connect to a model server…, its models found). The server is llama.cpp's llama-server, started here on
loopback with the default model (the test suite's build: tests/llama_server_build.py)."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication  # noqa: E402

from synthscope.engine import default_model_path, machine_choice  # noqa: E402
from synthscope.sampling import SamplerSettings  # noqa: E402
from synthscope.session.requests import ServerChoice  # noqa: E402
from synthscope.ui.app import create_application  # noqa: E402
from synthscope.ui.window.main_window import MainWindow  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from llama_server_build import llama_server  # noqa: E402
from server_helpers import free_port, llama_server_command, running  # noqa: E402

STORY = "Once upon a time, in a small village by the sea, there lived"
SEED = 20240607
TOKENS = 40
HEAD = 1000


def server_shots(app: QApplication, out: Path, width: int, height: int,
                 wait_until, settle) -> None:  # noqa: ANN001 - screenshots.py's helpers
    """Start llama-server, connect a window to it, write a story and save both pictures."""
    port = free_port()
    with tempfile.TemporaryDirectory() as folder, running(
            llama_server_command(llama_server(), default_model_path(), machine_choice().config, port), port,
            Path(folder) / "server.log") as client:
        window = MainWindow()
        window.resize(width, height)
        window.show()
        window.server.connect_to(ServerChoice(client.url, head=HEAD))
        wait_until(app, lambda: window.doc.state == "idle" and window.doc.model is not None)
        window.chat.set_mode(False)
        window.parts.controls.seed_box.setValue(SEED)
        window.parts.controls.max_tokens.setValue(TOKENS)
        window.parts.controls.set_settings(SamplerSettings(top_p=1.0, min_p=0.0))  # top-k 40 cuts inside
        window.run.use_prompt(STORY)
        window.run.generate()
        wait_until(app, lambda: window.doc.state == "idle" and not window.steps.pending)
        window.steps.select_step(len(window.doc.mirror) // 2)
        settle(app, window)
        window.grab().save(str(out / "server.png"))
        dialog = window.server.open_dialog()
        dialog.find.click()
        wait_until(app, lambda: dialog.model.count() > 0 and dialog.find.isEnabled())
        settle(app, window)
        dialog.grab().save(str(out / "connect.png"))
        dialog.reject()
        window.close()


def main(argv: list[str] | None = None) -> int:
    from screenshots import options, settle, wait_until  # as the other pictures

    out, width, height = options(argv, __doc__.splitlines()[0])
    app = create_application()
    server_shots(app, out, width, height, wait_until, settle)
    print(f"wrote server.png and connect.png to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
