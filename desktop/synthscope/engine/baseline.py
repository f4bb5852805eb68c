"""llama-cpp-python's own `Llama`, built with exactly the engine's configuration: the reference that
tests and benchmarks compare Synthscope with (same weights layout, threads, attention, KV cache)."""
from __future__ import annotations

import contextlib
import io
import threading
from pathlib import Path
from typing import Any

import llama_cpp
import llama_cpp.llama_cpp as low_level

from synthscope.engine import llama_log
from synthscope.engine.config import EngineConfig

_patch_lock = threading.Lock()


def bare_llama(path: str | Path, config: EngineConfig, n_ctx: int, **kwargs: Any) -> llama_cpp.Llama:
    """A `llama_cpp.Llama` whose model and context parameters equal `config`'s.

    `Llama` takes no argument for llama_model_params.use_extra_bufts, so its source of default
    model parameters is swapped for ours while it loads.
    """
    if config.threads is None:
        raise ValueError("the configuration needs a thread count (see machine_choice)")
    llama_log.install()  # llama.cpp's log goes to Python logging, as for the engine
    original = low_level.llama_model_default_params

    def defaults() -> llama_cpp.llama_model_params:
        params = original()
        params.use_extra_bufts = config.extra_buffers
        return params

    with _patch_lock, contextlib.redirect_stderr(io.StringIO()):
        # verbose=True keeps llama-cpp-python away from the process's file descriptors (llama.cpp's
        # own log goes to Python logging); what it prints itself (metadata, chat formats) is dropped.
        low_level.llama_model_default_params = defaults
        try:
            return llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, verbose=True,
                                   **config.llama_kwargs(config.threads), **kwargs)
        finally:
            low_level.llama_model_default_params = original
