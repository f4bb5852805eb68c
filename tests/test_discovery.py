"""Models already on disk are found in the Hugging Face cache, LM Studio, Ollama and Synthscope's own
folders (real files planted in temporary layouts), with their facts; damaged files never stop a scan."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from synthscope.cli.main import main
from synthscope.engine import discovery

FIELDS = {"path", "name", "source", "size_bytes", "architecture", "parameters", "quantization",
          "n_vocab", "context_length"}


def _plant(source: Path, target: Path) -> Path:
    """A real file at `target` with the model's bytes (a hard link where the file system allows)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        target.write_bytes(source.read_bytes())
    return target


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smollm_path: Path, gemma_path: Path) -> Path:
    """A home folder of its own; the shipped models stay where the suite installed them."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    for variable in ("HF_HUB_CACHE", "HF_HOME", "OLLAMA_MODELS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(discovery, "gemma_model_path", lambda: gemma_path)
    return tmp_path


def _ollama_store(store: Path, model: Path, name: str, tag: str, namespace: str = "library") -> Path:
    digest = "sha256:" + hashlib.sha256(model.name.encode() + tag.encode()).hexdigest()
    blob = _plant(model, store / "blobs" / digest.replace(":", "-"))
    manifest = store / "manifests" / "registry.ollama.ai" / namespace / name / tag
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": "sha256:" + "0" * 64, "size": 485},
        "layers": [
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:" + "1" * 64,
             "size": 182},
            {"mediaType": OLLAMA_MODEL, "digest": digest, "size": model.stat().st_size},
        ]}), encoding="utf-8")
    return blob


OLLAMA_MODEL = discovery.OLLAMA_MODEL_LAYER


def test_models_are_found_in_every_store_with_their_facts(home: Path, smollm_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    hf = home / ".cache" / "huggingface" / "hub" / "models--HuggingFaceTB--SmolLM2-135M-Instruct-GGUF"
    snapshot = _plant(smollm_path, hf / "blobs" / "abc123")
    link = hf / "snapshots" / "deadbeef" / "smollm2-135m-instruct-q4_1.gguf"
    link.parent.mkdir(parents=True)
    link.symlink_to(snapshot)  # as huggingface_hub lays it out
    lmstudio = _plant(smollm_path, home / ".lmstudio" / "models" / "bartowski" / "SmolLM2-GGUF"
                      / "SmolLM2-135M-Instruct-Q4_1.gguf")
    blob = _ollama_store(home / ".ollama" / "models", smollm_path, "smollm2", "135m")
    mine = _plant(smollm_path, home / "data" / "synthscope" / "models" / "my-copy.gguf")

    found = {m.source: m for m in discovery.discover() if m.source != "package"}
    assert set(found) == {"huggingface", "lmstudio", "ollama", "user"}
    assert found["huggingface"].name == "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-135m-instruct-q4_1"
    assert found["lmstudio"].name == "bartowski/SmolLM2-GGUF/SmolLM2-135M-Instruct-Q4_1"
    assert found["ollama"].name == "smollm2:135m" and found["ollama"].path == str(blob)
    assert found["user"].path == str(mine) and found["lmstudio"].path == str(lmstudio)
    for model in found.values():
        assert (model.architecture, model.quantization, model.n_vocab) == ("llama", "Q4_1", 49152)
        assert model.context_length == 8192 and 130e6 < (model.parameters or 0) < 140e6
        assert model.size_bytes == smollm_path.stat().st_size and model.error is None
    packages = [m for m in discovery.discover() if m.source == "package"]
    assert {m.n_vocab for m in packages} == {49152, 262144}

    # HF_HUB_CACHE and OLLAMA_MODELS move those stores.
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "elsewhere"))
    monkeypatch.setenv("OLLAMA_MODELS", str(home / "ollama-elsewhere"))
    _ollama_store(home / "ollama-elsewhere", smollm_path, "tiny", "latest", namespace="someone")
    sources = {m.name: m.source for m in discovery.discover()}
    assert "someone/tiny:latest" in sources and "smollm2:135m" not in sources
    assert "huggingface" not in sources.values()


def test_split_models_show_once_and_damaged_files_get_an_error(home: Path, smollm_path: Path) -> None:
    folder = home / "data" / "synthscope" / "models"
    data = smollm_path.read_bytes()
    half = len(data) // 2
    folder.mkdir(parents=True)
    (folder / "big-00001-of-00002.gguf").write_bytes(data[:half])
    (folder / "big-00002-of-00002.gguf").write_bytes(data[half:])
    (folder / "notes.gguf").write_text("not a model at all\n" * 20, encoding="utf-8")
    (folder / "lonely-00001-of-00003.gguf").write_bytes(data[:half])
    found = {m.name: m for m in discovery.discover() if m.source == "user"}
    assert set(found) == {"big", "notes", "lonely"}
    assert found["big"].size_bytes == len(data)
    assert found["notes"].error and "GGUF" in found["notes"].error and found["notes"].n_vocab is None
    assert found["lonely"].error and "missing" in found["lonely"].error


def test_a_reader_failure_on_one_file_names_it_and_the_scan_goes_on(
        home: Path, smollm_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    folder = home / "data" / "synthscope" / "models"
    _plant(smollm_path, folder / "odd.gguf")
    _plant(smollm_path, folder / "fine.gguf")
    real_read = discovery.read_facts

    def read(path: Path):  # an error of a kind the reader was never meant to raise
        if Path(path).name == "odd.gguf":
            raise RuntimeError("a bug in the reader")
        return real_read(path)

    monkeypatch.setattr(discovery, "read_facts", read)
    found = {m.name: m for m in discovery.discover() if m.source == "user"}
    assert set(found) == {"odd", "fine"}
    assert found["odd"].error == "it could not be read as a model file."
    assert found["fine"].error is None and found["fine"].n_vocab == real_read(smollm_path).vocab_size
    assert "odd.gguf" in caplog.text  # the whole story is logged for a bug report


def test_a_broken_ollama_manifest_is_skipped(home: Path, smollm_path: Path) -> None:
    store = home / ".ollama" / "models"
    _ollama_store(store, smollm_path, "good", "1b")
    broken = store / "manifests" / "registry.ollama.ai" / "library" / "broken" / "latest"
    broken.parent.mkdir(parents=True)
    broken.write_text("{not json", encoding="utf-8")
    names = [m.name for m in discovery.discover() if m.source == "ollama"]
    assert names == ["good:1b"]


def test_models_command_prints_json(home: Path, smollm_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    _plant(smollm_path, home / ".lmstudio" / "models" / "a" / "b" / "model.gguf")
    (home / ".lmstudio" / "models" / "a" / "b" / "broken.gguf").write_bytes(b"GGUF" + b"\0" * 40)
    assert main(["models", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert all(FIELDS <= set(item) for item in listed)
    assert {item["source"] for item in listed} == {"lmstudio", "package"}
    assert set(discovery.SOURCES) >= {item["source"] for item in listed}
    broken = next(item for item in listed if item["name"] == "a/b/broken")
    assert broken["error"] and broken["n_vocab"] is None
    assert main(["models"]) == 0
    plain = capsys.readouterr().out
    assert "a/b/model" in plain and "lmstudio" in plain and "cannot be used" in plain
