"""Checks of the values a session file holds: each of the kind it must be and within its range, or
a SessionFileError in one plain sentence (a file is never trusted: anyone may have written it)."""
from __future__ import annotations

import math
from typing import Any

MESSAGE_LIMIT = 300  # characters: a hostile value quoted in a message must not fill the screen
# A file this large is refused before it is read: its JSON would take several times as much memory
# (about 64,000 steps, over half an hour of generating without a pause).
MAX_FILE_BYTES = 512 << 20
MAX_VOCAB = 1 << 24  # the largest vocabularies have about 260,000 tokens
MAX_TOKENS = 1 << 20  # tokens in a prompt or steps on a path (the longest context is 131,072)
MAX_TEXT_CHARS = 8 << 20  # a prompt, a chat message or the whole text
MAX_PIECE_CHARS = 4096  # one word piece's text or bytes
MAX_NAME_CHARS = 1000  # a branch name, a stop sequence
MAX_LIST = 100_000  # candidates, branches, turns, stop sequences
LOGIT_LIMIT = 1e6  # real scores are a few dozen; beyond this a float32 would overflow in the maths
SLACK = 1e-3  # rounding: sums of float32 chances can pass 1 by a little


class SessionFileError(Exception):
    """A session file cannot be read; str() is one plain sentence."""

    def __init__(self, message: str) -> None:
        line = " ".join(str(message)[:MESSAGE_LIMIT * 2].split())
        if len(line) > MESSAGE_LIMIT:
            line = line[:MESSAGE_LIMIT - 1].rstrip() + "…"
        super().__init__(line)


def damaged(what: str) -> SessionFileError:
    return SessionFileError(f"The session file is damaged: {what}.")


def shown(value: Any) -> str:
    """A value as a message quotes it: short, whatever it is."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "empty"}[value]
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < 10**15 else "a number too large to use"
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else "not a usable number"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else f"a text of {len(value):,} characters"
    if isinstance(value, (list, dict)):
        return f"a {'list' if isinstance(value, list) else 'group'} of {len(value):,} values"
    return "of an unknown kind"


def _missing(value: Any, what: str) -> None:
    if value is None:
        raise damaged(f"{what} is missing")


def whole(value: Any, what: str, low: int, high: int) -> int:
    _missing(value, what)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise damaged(f"{what} is {shown(value)}, not a whole number")
    if not low <= value <= high:
        raise damaged(f"{what} is {shown(value)}, outside {low:,} to {high:,}")
    return value


def maybe_whole(value: Any, what: str, low: int, high: int) -> int | None:
    return None if value is None else whole(value, what, low, high)


def number(value: Any, what: str, low: float, high: float) -> float:
    _missing(value, what)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise damaged(f"{what} is {shown(value)}, not a number")
    result = float(value) if isinstance(value, float) or abs(value) < 10**300 else math.inf
    if not low <= result <= high:  # also refuses NaN and infinities
        raise damaged(f"{what} is {shown(value)}, outside {low:g} to {high:g}")
    return result


def wholes(values: Any, what: str, low: int, high: int, limit: int = MAX_LIST) -> list[int]:
    """A list of whole numbers, checked at once (thousands of them per step)."""
    values = items(values, what, limit)
    if not all(type(v) is int and low <= v <= high for v in values):
        bad = next(v for v in values if not (type(v) is int and low <= v <= high))
        whole(bad, f"a value in {what}", low, high)  # says why (an integral float is let through)
        values = [whole(v, f"a value in {what}", low, high) for v in values]
    return values


def numbers(values: Any, what: str, low: float, high: float, limit: int = MAX_LIST) -> list[float]:
    values = items(values, what, limit)
    if not all(type(v) is float and low <= v <= high for v in values):
        values = [number(v, f"a value in {what}", low, high) for v in values]
    return values


def text(value: Any, what: str, limit: int) -> str:
    _missing(value, what)
    if not isinstance(value, str):
        raise damaged(f"{what} is {shown(value)}, not text")
    if len(value) > limit:
        raise damaged(f"{what} is {len(value):,} characters long, more than {limit:,}")
    return value


def items(value: Any, what: str, limit: int = MAX_LIST) -> list[Any]:
    _missing(value, what)
    if not isinstance(value, list):
        raise damaged(f"{what} is {shown(value)}, not a list")
    if len(value) > limit:
        raise damaged(f"{what} has {len(value):,} entries, more than {limit:,}")
    return value


def mapping(value: Any, what: str) -> dict[str, Any]:
    _missing(value, what)
    if not isinstance(value, dict):
        raise damaged(f"{what} is {shown(value)}, not a group of named values")
    return value


def chance(value: Any, what: str) -> float:
    return number(value, what, 0.0, 1.0 + SLACK)


def chances(values: Any, what: str, limit: int = MAX_LIST) -> list[float]:
    return numbers(values, what, 0.0, 1.0 + SLACK, limit)


def score(value: Any, what: str) -> float:
    return number(value, what, -LOGIT_LIMIT, LOGIT_LIMIT)
