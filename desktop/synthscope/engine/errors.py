"""Errors the engine raises; their messages are single plain-words sentences for people."""


class ModelLoadError(Exception):
    """The file cannot be used as a model; str() is one line a non-programmer can act on."""


class LoadCancelled(Exception):
    """The person cancelled a model load."""


class EngineError(RuntimeError):
    """llama.cpp refused an operation on a loaded model (e.g. the context is full)."""
