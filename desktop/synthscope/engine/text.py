"""Token bytes to text without U+FFFD garbage when a character is split across tokens."""
from __future__ import annotations

import codecs
from collections.abc import Iterable


class TextAssembler:
    """Feeds token bytes through an incremental UTF-8 decoder: a token holding half a character
    yields "" and the next one yields the whole character."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, piece: bytes) -> str:
        return self._decoder.decode(piece)

    def pending(self) -> bytes:
        return self._decoder.getstate()[0]

    def flush(self) -> str:
        """Text for bytes still waiting for the rest of their character (shown as U+FFFD)."""
        return self._decoder.decode(b"", final=True)

    @classmethod
    def texts(cls, pieces: Iterable[bytes]) -> list[str]:
        assembler = cls()
        return [assembler.feed(piece) for piece in pieces]
