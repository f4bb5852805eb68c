"""File → Connect to a model server…: its address, its key, which model, and how many word pieces to ask for."""
from __future__ import annotations

import re
import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from synthscope.engine.server_client import LLAMA_SERVER, ServerClient
from synthscope.engine.server_http import ServerError, check_address
from synthscope.session.requests import ServerChoice
from synthscope.ui import theme
from synthscope.ui.server.recent_servers import RecentServers

PLACEHOLDER = "http://127.0.0.1:8080"
ASKING = "Asking the server…"
READY = "Press “Find its models” to check that the server answers and see what it offers."
HEADS: tuple[tuple[str, int | None], ...] = (
    ("All of them (every number exact with llama-server; slower)", None),
    ("The top 1,000 (fast; exact wherever the samplers cut inside them)", 1000),
    ("The top 100 (fastest; more numbers are estimates)", 100),
)
ASK_TIMEOUT = 5.0  # seconds per request: the person is waiting on a dialog, not on a run
TIPS = {
    "address": "Where the model server answers: http:// or https://, the computer's name or number, and its "
               "port. The list holds the servers you connected to before.",
    "key": "Only for a server that asks for a key. Synthscope keeps it only while it runs and never saves it.",
    "others": "Tick this only for a server you trust: the text you write is then sent to that computer.",
    "model": "Which of the server's models writes. Left empty, the server uses its first model.",
    "find": "Ask the server which models it offers; this also checks that it answers.",
    "head": "At each step the server sends the chances of this many of the model's word pieces, the most likely "
            "first. Synthscope's own samplers and dice run on them; what falls outside is shown as an estimate.",
}


def found_text(kind: str, models: list[str]) -> str:
    """What the server turned out to be, in one sentence (the model list is above it)."""
    what = "llama.cpp's llama-server" if kind == LLAMA_SERVER else "an OpenAI-style server"
    if not models:
        return f"Found {what}, but it lists no models: Connect uses the one it runs."
    if len(models) == 1:
        return f"Found {what} with 1 model; it is selected above."
    return f"Found {what} with {len(models)} models: pick one above."


def short_name(model: str) -> str:
    """A model's name without the folders some servers put in front (llama-cpp-python sends the file's path)."""
    return re.split(r"[\\/]", model.rstrip("\\/"))[-1] or model


def ask(url: str, api_key: str | None, allow_other_hosts: bool) -> tuple[str, list[str]]:
    """(kind, model ids) of the server at `url`; raises ServerError in words."""
    client = ServerClient(url, api_key=api_key, timeout=ASK_TIMEOUT, retries=0,
                          allow_other_hosts=allow_other_hosts)
    models = client.models()
    return client.kind(), models


class _Answers(QObject):
    """Carries answers from the asking thread, which holds only this child: were it to hold the dialog, the
    dialog could be freed on that thread once its window let go of it."""

    answered = Signal(int, object)  # (question number, (kind, models) or a sentence)

    def ask_in_thread(self, number: int, url: str, api_key: str | None, allow_other_hosts: bool) -> None:
        try:
            result: tuple[str, list[str]] | str = ask(url, api_key, allow_other_hosts)
        except ServerError as error:
            result = str(error)
        except Exception as error:  # noqa: BLE001 - shown in words; the dialog stays usable
            result = f"Synthscope could not ask the server at {url} ({type(error).__name__}: {error})."
        try:
            self.answered.emit(number, result)
        except RuntimeError:
            pass  # the dialog was closed and deleted while the server was asked


class ConnectDialog(QDialog):
    """Asks where a model server is; Connect checks the address and emits `chosen` with a ServerChoice.
    "Find its models" asks the server on a thread of its own; only the newest question's answer is shown."""

    chosen = Signal(object)  # ServerChoice

    def __init__(self, recent: RecentServers, parent: QWidget | None = None,
                 current: ServerChoice | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Connect to a model server")
        self.recent = recent
        self.asked = 0  # the number of the newest question; older answers are stale
        self._answers = _Answers(self)
        self.answered = self._answers.answered  # queued to this thread, to _receive
        intro = QLabel("Instead of opening a model file, Synthscope can ask a model server for the chances "
                       "at each step. Its own samplers and dice still pick every word piece.")
        intro.setWordWrap(True)

        self.address = QComboBox()
        self.address.setEditable(True)
        self.address.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.address.addItems(recent.urls)
        self.address.lineEdit().setPlaceholderText(PLACEHOLDER)
        self.address.setMinimumContentsLength(28)
        where = QLabel("llama.cpp's llama-server (recommended), llama-cpp-python's server, or another server "
                       "on this computer or your local network.")
        where.setObjectName("hint")
        where.setWordWrap(True)
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("only if the server asks for one")
        self.others = QCheckBox("Allow a server outside this computer and the local network")
        self.model = QComboBox()
        self.model.setEditable(False)
        self.model.setPlaceholderText("the server's first model")
        self.model.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model.setMinimumContentsLength(18)
        self.find = QPushButton("Find its models")
        self.find.setAutoDefault(False)  # Enter in a box means Connect, not another question
        self.head = QComboBox()
        for text, head in HEADS:
            self.head.addItem(text, head)
        self.status = QLabel(READY)
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # server and error text is shown as written
        self.status.setMinimumHeight(self.status.fontMetrics().lineSpacing() * 2 + 14)

        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        form.setVerticalSpacing(10)
        rows = [("Address", self.address, "address"), ("", where, "address"), ("API key", self.key, "key"),
                ("", self.others, "others")]
        for label, widget, tip in rows:
            form.addRow(self._label(label, tip), widget)
        form.addRow(self._label("Model", "model"), theme.row((self.model, 1), self.find))
        form.addRow(self._label("Word pieces asked\nfor each step", "head"), self.head)
        for widget, tip in ((self.address, "address"), (self.key, "key"), (self.others, "others"),
                            (self.model, "model"), (self.find, "find"), (self.head, "head")):
            widget.setToolTip(TIPS[tip])

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.connect_button.setText("Connect")
        self.connect_button.setToolTip("Check the address and compute with this server.")
        self.connect_button.setDefault(True)
        self.setStyleSheet(f"QPushButton:default {{ border-color: {theme.ACCENT}; }}")
        self.buttons.accepted.connect(self._connect)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self.find.clicked.connect(self.ask)
        self.answered.connect(self._receive, Qt.ConnectionType.QueuedConnection)
        if current is not None:
            self.address.setEditText(current.url)
        self._address_edited(self.url())
        self.address.editTextChanged.connect(self._address_edited)
        if current is not None:
            self._fill(current)
        self.resize(max(680, self.sizeHint().width()), self.sizeHint().height())

    @staticmethod
    def _label(text: str, tip: str) -> QLabel:
        label = QLabel(text)
        label.setToolTip(TIPS[tip])
        return label

    def _fill(self, current: ServerChoice) -> None:
        self.key.setText(current.api_key or "")
        self.others.setChecked(current.allow_other_hosts)
        if current.model:
            self._set_models([current.model], current.model)
        self.head.setCurrentIndex(next((i for i, (_, head) in enumerate(HEADS) if head == current.head), 0))

    def url(self) -> str:
        return self.address.currentText().strip()

    def ask(self) -> None:
        """Ask the server for its models on a thread of its own; the answer comes back through `answered`."""
        if not self.url():
            return
        self.asked += 1
        self.find.setEnabled(False)
        self._say(ASKING)
        question = (self.asked, self.url(), self.key.text().strip() or None, self.others.isChecked())
        threading.Thread(target=self._answers.ask_in_thread, daemon=True, name="synthscope-server-ask",
                         args=question).start()

    def _receive(self, number: int, result: tuple[str, list[str]] | str) -> None:
        if number != self.asked:
            return  # a question about an address since edited, or asked again
        self.find.setEnabled(bool(self.url()))
        if isinstance(result, str):
            self._say(result, error=True)
            return
        kind, models = result
        previous = self.selected_model()
        self._set_models(models, previous)
        self._say(found_text(kind, models), found=True)

    def _set_models(self, models: list[str], selected: str | None) -> None:
        self.model.clear()
        for model in models:
            self.model.addItem(short_name(model), model)
            self.model.setItemData(self.model.count() - 1, model, Qt.ItemDataRole.ToolTipRole)
        where = self.model.findData(selected) if selected is not None else -1
        self.model.setCurrentIndex(where if where >= 0 else (0 if models else -1))

    def selected_model(self) -> str | None:
        return self.model.currentData() if self.model.currentIndex() >= 0 else None

    def selected_head(self) -> int | None:
        return HEADS[max(0, self.head.currentIndex())][1]

    def _address_edited(self, text: str) -> None:
        self.asked += 1  # an answer still on its way is about the old address
        self.model.clear()
        filled = bool(text.strip())
        self.find.setEnabled(filled)
        self.connect_button.setEnabled(filled)
        self._say(READY)

    def _say(self, text: str, error: bool = False, found: bool = False) -> None:
        self.status.setText(text)
        if error:
            colours = f"color: {theme.WARNING_INK}; background: {theme.WARNING_BG}; border-color: #E8CF8A;"
        elif found:
            colours = f"color: {theme.WHATIF_INK}; background: {theme.WHATIF_BG}; border-color: {theme.BORDER};"
        else:
            colours = f"color: {theme.MUTED}; border-color: transparent;"
        # The same border and padding in every state, so the words never move when the state changes.
        self.status.setStyleSheet(f"QLabel {{ {colours} border-width: 1px; border-style: solid; "
                                  "border-radius: 6px; padding: 6px 10px; }")

    def _connect(self) -> None:
        try:
            url = check_address(self.url(), self.others.isChecked())
        except ServerError as error:
            self._say(str(error), error=True)
            return
        self.chosen.emit(ServerChoice(url=url, api_key=self.key.text().strip() or None, model=self.selected_model(),
                                      head=self.selected_head(), allow_other_hosts=self.others.isChecked()))
        self.recent.add(url)
        self.accept()
