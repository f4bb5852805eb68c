"""Errors the engine raises; their messages are single plain-words sentences for people."""
from __future__ import annotations


class ModelLoadError(Exception):
    """The file cannot be used as a model; str() is one line a non-programmer can act on."""


class LoadCancelled(Exception):
    """The person cancelled a model load."""


class EngineError(RuntimeError):
    """llama.cpp refused an operation on a loaded model (e.g. the context is full)."""


def check_room(count: int, n_past: int, n_ctx: int) -> None:
    """Refuse to decode nothing, or more word pieces than the context has room for."""
    if not count:
        raise EngineError("Nothing to decode.")
    if n_past + count > n_ctx:
        raise EngineError(f"The text has reached this model's limit of {n_ctx:,} tokens. "
                          "Undo some tokens or clear to continue.")
