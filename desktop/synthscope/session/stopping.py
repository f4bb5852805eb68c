"""Stop sequences: end a run as soon as its new text contains one of the given strings."""
from __future__ import annotations

from collections.abc import Sequence

MAX_STOP_SEQUENCES = 8
MAX_STOP_LENGTH = 200
ESCAPES = {"\\n": "\n", "\\t": "\t", "\\\\": "\\"}


class StopSequenceError(ValueError):
    """A stop sequence that cannot be used; the message is one plain sentence."""


def check_stop_sequences(stops: Sequence[str]) -> tuple[str, ...]:
    """The usable stop sequences, in order, without repeats; an empty one or too many is an error."""
    kept: list[str] = []
    for stop in stops:
        if not stop:
            raise StopSequenceError("A stop sequence cannot be empty.")
        if len(stop) > MAX_STOP_LENGTH:
            raise StopSequenceError(f"A stop sequence can be at most {MAX_STOP_LENGTH} characters long.")
        if stop not in kept:
            kept.append(stop)
    if len(kept) > MAX_STOP_SEQUENCES:
        raise StopSequenceError(f"At most {MAX_STOP_SEQUENCES} stop sequences can be used at once.")
    return tuple(kept)


def unescape(typed: str) -> str:
    r"""What a person typed, with \n as a new line, \t as a tab and \\ as one backslash."""
    out, i = [], 0
    while i < len(typed):
        pair = typed[i:i + 2]
        if pair in ESCAPES:
            out.append(ESCAPES[pair])
            i += 2
        else:
            out.append(typed[i])
            i += 1
    return "".join(out)


def shown(stop: str) -> str:
    """A stop sequence made visible: new lines and tabs as symbols a reader can see."""
    return stop.replace("\n", "↵").replace("\t", "⇥")


class StopWatcher:
    """Fed the text of each new token; says which stop sequence the new text completed, if any.
    Text from before the run (`before`) can be part of a match but cannot complete one alone."""

    def __init__(self, stops: Sequence[str], before: str = "") -> None:
        self.stops = check_stop_sequences(stops)
        self.keep = max((len(stop) for stop in self.stops), default=1) - 1
        self.tail = before[max(0, len(before) - self.keep):] if self.keep else ""

    def feed(self, text: str) -> str | None:
        if not self.stops or not text:
            return None
        window = self.tail + text
        hits = []
        for stop in self.stops:
            # Only a match that ends in the new text counts: the tail was checked before.
            found = window.find(stop, max(0, len(self.tail) - len(stop) + 1))
            if found >= 0:
                hits.append((found, stop))
        self.tail = window[max(0, len(window) - self.keep):] if self.keep else ""
        return min(hits)[1] if hits else None
