"""File → Connect to a model server…: the dialog asks a real loopback server on a thread of its own, shows
failures in words, refuses other computers unless allowed, remembers addresses (never keys) and ignores
stale answers."""
from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QDialog  # noqa: E402

from synthscope.engine import EngineConfig  # noqa: E402
from synthscope.engine.server_client import ServerClient  # noqa: E402
from synthscope.session.requests import ServerChoice  # noqa: E402
from synthscope.ui.server.connect_dialog import ASKING, HEADS, READY, ConnectDialog, found_text  # noqa: E402
from synthscope.ui.server.recent_servers import RECENT_KEY, RECENT_LIMIT, RecentServers  # noqa: E402
from server_helpers import N_CTX, free_port, running_server  # noqa: E402

WAIT_MS = 20_000
SECRET = "sk-never-written-4711"


@pytest.fixture(scope="module")
def server(smollm_path: Path, engine_config: EngineConfig,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerClient]:
    """llama-cpp-python's own server with SmolLM2 on a free loopback port."""
    with running_server(smollm_path, engine_config, tmp_path_factory.mktemp("server"), N_CTX) as client:
        yield client


@pytest.fixture
def store(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def opened(qtbot, recent: RecentServers | None = None, current: ServerChoice | None = None) -> ConnectDialog:
    dialog = ConnectDialog(recent or RecentServers(None), current=current)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_find_its_models_asks_the_real_server_without_blocking(qtbot, server: ServerClient,
                                                                smollm_path: Path) -> None:
    dialog = opened(qtbot)
    dialog.address.setEditText(server.url)
    click(qtbot, dialog.find)
    # The click returned before the answer: the question runs on a thread of its own.
    assert dialog.status.text() == ASKING and not dialog.find.isEnabled()
    qtbot.waitUntil(lambda: dialog.model.count() == 1, timeout=WAIT_MS)
    model_id = server.models()[0]
    assert dialog.model.itemData(0) == model_id and dialog.model.itemText(0) == smollm_path.name
    assert dialog.status.text() == found_text("openai-compatible", [model_id])
    assert "OpenAI-style server with 1 model" in dialog.status.text()
    assert dialog.find.isEnabled()
    with qtbot.waitSignal(dialog.chosen) as chosen:
        click(qtbot, dialog.connect_button)
    assert chosen.args[0] == ServerChoice(url=server.url, model=model_id)
    # Editing the address drops the list: it belonged to the other server.
    again = opened(qtbot, current=chosen.args[0])
    assert again.selected_model() == model_id
    again.address.setEditText(server.url + "0")
    assert again.model.count() == 0 and again.selected_model() is None


def test_a_port_where_nothing_listens_is_said_in_words_and_the_dialog_stays(qtbot) -> None:
    dialog = opened(qtbot)
    url = f"http://127.0.0.1:{free_port()}"
    dialog.address.setEditText(url)
    click(qtbot, dialog.find)
    qtbot.waitUntil(lambda: dialog.status.text() != ASKING, timeout=WAIT_MS)
    assert dialog.status.text() == (f"Nothing is answering at {url}: is the model server running, "
                                    "and on that port?")
    assert dialog.isVisible() and dialog.result() != QDialog.DialogCode.Accepted
    assert dialog.model.count() == 0 and dialog.find.isEnabled()


def test_another_computer_is_refused_on_connect_unless_allowed(qtbot, store: QSettings) -> None:
    recent = RecentServers(store)
    dialog = opened(qtbot, recent)
    dialog.address.setEditText("http://8.8.8.8:8080")
    with qtbot.assertNotEmitted(dialog.chosen):
        click(qtbot, dialog.connect_button)
    assert dialog.status.text().startswith("8.8.8.8 is not on this computer or your local network")
    assert dialog.isVisible() and recent.urls == []
    dialog.others.setChecked(True)
    with qtbot.waitSignal(dialog.chosen) as chosen:
        click(qtbot, dialog.connect_button)
    assert chosen.args[0] == ServerChoice(url="http://8.8.8.8:8080", allow_other_hosts=True)
    assert dialog.result() == QDialog.DialogCode.Accepted and recent.urls == ["http://8.8.8.8:8080"]


def test_connect_sends_the_choice_and_remembers_the_address_but_never_the_key(
        qtbot, store: QSettings, tmp_path: Path) -> None:
    recent = RecentServers(store)
    dialog = opened(qtbot, recent)
    assert not dialog.connect_button.isEnabled()  # no address yet
    dialog.address.setEditText("   ")
    assert not dialog.connect_button.isEnabled() and not dialog.find.isEnabled()
    dialog.address.setEditText(" http://localhost:8080/v1/ ")
    assert dialog.connect_button.isEnabled()
    dialog.key.setText(SECRET)
    dialog.head.setCurrentIndex(2)
    with qtbot.waitSignal(dialog.chosen) as chosen:
        click(qtbot, dialog.connect_button)
    assert chosen.args[0] == ServerChoice(url="http://localhost:8080", api_key=SECRET, head=100)
    assert recent.urls == ["http://localhost:8080"]
    store.sync()
    written = (tmp_path / "settings.ini").read_text()
    assert "localhost:8080" in written and SECRET not in written
    # Reopened, the dialog offers the address, and a key typed into an address is never kept either.
    reread = RecentServers(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    assert reread.urls == ["http://localhost:8080"]
    again = opened(qtbot, reread)
    assert again.url() == "http://localhost:8080" and again.key.text() == ""
    reread.add(f"http://user:{SECRET}@localhost:9090")
    assert reread.urls[0] == "http://localhost:9090" and SECRET not in str(store.value(RECENT_KEY))


def test_recent_servers_are_newest_first_without_repeats(store: QSettings) -> None:
    recent = RecentServers(store)
    for port in range(8000, 8000 + RECENT_LIMIT + 2):
        recent.add(f"http://127.0.0.1:{port}")
    recent.add("http://127.0.0.1:8005")
    assert len(recent.urls) == RECENT_LIMIT and recent.urls[0] == "http://127.0.0.1:8005"
    assert recent.urls.count("http://127.0.0.1:8005") == 1
    assert RecentServers(store).urls == recent.urls
    assert RecentServers(None).urls == []


def test_current_fills_every_field(qtbot) -> None:
    current = ServerChoice(url="http://192.168.1.20:8080", api_key="k", model="/models/smol.gguf", head=1000,
                           allow_other_hosts=True)
    dialog = opened(qtbot, current=current)
    assert (dialog.url(), dialog.key.text(), dialog.others.isChecked()) == (current.url, "k", True)
    assert dialog.model.currentText() == "smol.gguf" and dialog.selected_model() == "/models/smol.gguf"
    assert dialog.selected_head() == 1000 and dialog.head.currentText() == HEADS[1][0]
    for widget in (dialog.address, dialog.key, dialog.others, dialog.model, dialog.find, dialog.head):
        assert widget.toolTip()


class SlowServer(http.server.ThreadingHTTPServer):
    """Answers like an OpenAI-style server listing one model, but only once `release` is set."""

    daemon_threads = True

    def __init__(self) -> None:
        self.arrived, self.release = threading.Event(), threading.Event()
        super().__init__(("127.0.0.1", 0), SlowHandler)


class SlowHandler(http.server.BaseHTTPRequestHandler):
    server: SlowServer

    def do_GET(self) -> None:  # noqa: N802
        self.server.arrived.set()
        self.server.release.wait(WAIT_MS / 1000)
        status, body = (200, {"data": [{"id": "stale-model"}]}) if self.path == "/v1/models" else (404, {})
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[SlowServer]:
    server = SlowServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_an_answer_about_an_address_since_edited_is_ignored(qtbot, slow_server: SlowServer) -> None:
    dialog = opened(qtbot)
    delivered: list[int] = []
    dialog.answered.connect(lambda number, _result: delivered.append(number), Qt.ConnectionType.QueuedConnection)
    dialog.address.setEditText(f"http://127.0.0.1:{slow_server.server_address[1]}")
    click(qtbot, dialog.find)
    asked = dialog.asked
    assert slow_server.arrived.wait(WAIT_MS / 1000)
    dialog.address.setEditText(f"http://127.0.0.1:{free_port()}")  # while the old question is still out
    assert dialog.find.isEnabled() and dialog.status.text() == READY
    slow_server.release.set()
    qtbot.waitUntil(lambda: delivered == [asked], timeout=WAIT_MS)
    qtbot.wait(50)
    assert dialog.model.count() == 0 and dialog.status.text() == READY
    # The same, handed straight to the dialog: only the newest question's number is heard.
    dialog._receive(dialog.asked - 1, ("llama-server", ["old"]))
    assert dialog.model.count() == 0
    dialog._receive(dialog.asked, ("llama-server", ["new", "other"]))
    assert [dialog.model.itemText(i) for i in range(dialog.model.count())] == ["new", "other"]
    assert dialog.status.text() == "Found llama.cpp's llama-server with 2 models: pick one above."


def test_the_summary_names_the_kind_in_words() -> None:
    assert found_text("llama-server", ["a"]) == "Found llama.cpp's llama-server with 1 model; it is selected above."
    assert found_text("openai-compatible", ["a", "b", "c"]) == ("Found an OpenAI-style server with 3 models: "
                                                                "pick one above.")
    assert "lists no models" in found_text("openai-compatible", [])
