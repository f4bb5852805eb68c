"""File → Connect to a model server…: the dialog, the servers used lately, and the choice handed to model
loading."""
from __future__ import annotations

from PySide6.QtCore import QObject, QSettings
from PySide6.QtWidgets import QMainWindow

from synthscope.session.requests import ServerChoice
from synthscope.ui.models.loading import ModelLoading
from synthscope.ui.server.connect_dialog import ConnectDialog
from synthscope.ui.server.recent_servers import RecentServers


class ServerConnecting(QObject):
    """Shows the Connect dialog (pre-filled with the last server) and connects to what it chooses."""

    def __init__(self, window: QMainWindow, store: QSettings | None, models: ModelLoading) -> None:
        super().__init__(window)
        self.window, self.models = window, models
        self.recent = RecentServers(store, window)
        self.last: ServerChoice | None = None  # the API key stays here, in memory only
        self.dialog: ConnectDialog | None = None  # kept while shown (and for tests)

    def open_dialog(self) -> ConnectDialog:
        dialog = ConnectDialog(self.recent, self.window, current=self.last)
        dialog.chosen.connect(self.connect_to)
        dialog.open()  # window-modal: the main window waits, its run keeps streaming
        self.dialog = dialog
        return dialog

    def connect_to(self, choice: ServerChoice) -> None:
        self.last = choice
        self.models.connect_server(choice)
