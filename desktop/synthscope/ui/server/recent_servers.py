"""The model server addresses used before, newest first, kept in the settings (never an API key)."""
from __future__ import annotations

import urllib.parse

from PySide6.QtCore import QObject, QSettings, Signal

RECENT_KEY = "servers/recent"
RECENT_LIMIT = 8


def without_secrets(url: str) -> str:
    """`url` without a user name or password in it: those are never written to the settings."""
    text = url.strip()
    parts = urllib.parse.urlsplit(text)
    if not (parts.username or parts.password):
        return text
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


class RecentServers(QObject):
    """The last RECENT_LIMIT server addresses used, newest first; `changed` follows each `add`."""

    changed = Signal()

    def __init__(self, store: QSettings | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.urls: list[str] = []
        if store is not None:
            saved = store.value(RECENT_KEY, [])
            # A single entry comes back from an ini file as a plain string.
            items = [saved] if isinstance(saved, str) else saved if isinstance(saved, list) else []
            cleaned = (without_secrets(str(item)) for item in items)
            self.urls = list(dict.fromkeys(url for url in cleaned if url))[:RECENT_LIMIT]

    def add(self, url: str) -> None:
        text = without_secrets(url)
        if not text:
            return
        self.urls = [text, *(u for u in self.urls if u != text)][:RECENT_LIMIT]
        if self.store is not None:
            self.store.setValue(RECENT_KEY, self.urls)
        self.changed.emit()
