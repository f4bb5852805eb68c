"""The llama.cpp engine on the real models: load, facts, tokens, logits, rewind, bad files."""
from __future__ import annotations

import logging
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from synthscope.engine import (Engine, EngineConfig, LoadCancelled, ModelLoadError, TextAssembler,
                               open_engine, probe_model, read_facts)
from synthscope.engine import probe as probe_module


def test_facts_come_from_the_header_without_loading(smollm_path: Path, gemma_path: Path) -> None:
    smol = read_facts(smollm_path)
    assert (smol.architecture, smol.vocab_size, smol.quantisation) == ("llama", 49152, "Q4_1")
    assert smol.has_chat_template and smol.context_length == 8192
    assert 130e6 < smol.parameters < 140e6 and smol.file_size == smollm_path.stat().st_size
    assert (smol.bos_id, smol.eos_id) == (1, 2)
    gemma = read_facts(gemma_path)
    assert (gemma.architecture, gemma.vocab_size, gemma.quantisation) == ("gemma3", 262144, "Q4_K_M")
    assert not gemma.has_chat_template


def test_load_reports_progress_and_can_be_cancelled(smollm_path: Path) -> None:
    seen: list[float] = []
    with open_engine(smollm_path, n_ctx=128, probe=False, progress=lambda f: seen.append(f) or True):
        pass
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    with pytest.raises(LoadCancelled):
        open_engine(smollm_path, n_ctx=128, probe=False, progress=lambda f: f < 0.3)


def test_llama_log_goes_to_python_logging(smollm_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="synthscope.llama"):
        open_engine(smollm_path, n_ctx=128, probe=False).close()
    assert any("llama_model_loader" in r.getMessage() for r in caplog.records)


def test_logits_are_a_zero_copy_view_overwritten_by_the_next_decode(engine: Engine) -> None:
    engine.decode(engine.tokenize("The capital of France is"))
    view = engine.logits()
    assert view.shape == (engine.n_vocab,) and view.dtype == np.float32
    assert not view.flags.writeable and not view.flags.owndata
    before = view.copy()
    assert engine.logits().ctypes.data == view.ctypes.data
    assert engine.token_text(int(before.argmax())) == " Paris"
    engine.decode([int(before.argmax())])
    assert not np.array_equal(view, before)  # same memory, new contents


def test_rewind_then_continue_matches_the_original(engine: Engine) -> None:
    tokens = engine.tokenize("One, two, three, four")
    engine.decode(tokens[:1])
    snapshots = []
    for token in tokens[1:]:
        engine.decode([token])
        snapshots.append(engine.logits().copy())
    engine.rewind_to(3)
    assert engine.n_past == 3 and engine.tokens == tuple(tokens[:3])
    np.testing.assert_allclose(engine.logits(), snapshots[1], atol=1e-4)
    engine.decode(tokens[3:])
    np.testing.assert_allclose(engine.logits(), snapshots[-1], atol=1e-3)


def test_gemma_sliding_window_model_rewinds(gemma_path: Path) -> None:
    with open_engine(gemma_path, n_ctx=256, probe=False) as engine:
        assert engine.n_vocab == 262144
        tokens = engine.tokenize("The quick brown fox jumps over the lazy dog")
        # Gemma's logits depend on how tokens were batched: decode one at a time throughout,
        # as generation does.
        for token in tokens:
            engine.decode([token])
        full = engine.logits().copy()
        engine.decode(engine.tokenize(" and", add_special=False))
        engine.rewind_to(len(tokens) - 2)
        for token in tokens[-2:]:
            engine.decode([token])
        np.testing.assert_allclose(engine.logits(), full, atol=1e-4)


def test_split_characters_become_whole_text(engine: Engine) -> None:
    text = "naïve café 🙂 日本語"
    tokens = engine.tokenize(text, add_special=False)
    pieces = [engine.token_bytes(t) for t in tokens]
    assert any(_is_partial_utf8(p) for p in pieces), "needs a token holding half a character"
    texts = TextAssembler.texts(pieces)
    assert "".join(texts) == text and "\ufffd" not in "".join(texts)
    assert "" in texts  # the half character waited for its other half
    assert all(engine.token_text(t) for t in tokens)  # labels never empty: stray bytes as \xNN


def _is_partial_utf8(piece: bytes) -> bool:
    try:
        piece.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "missing.gguf", "There is no file"),
    (lambda d: d, "is a folder"),
    (lambda d: _write(d / "empty.gguf", b""), "empty"),
    (lambda d: _write(d / "notes.gguf", b"hello, I am text\n" * 10), "not a GGUF model file"),
])
def test_bad_paths_give_one_plain_line(tmp_path: Path, make, words: str) -> None:
    with pytest.raises(ModelLoadError) as caught:
        open_engine(make(tmp_path))
    message = str(caught.value)
    assert words in message and "\n" not in message


def test_truncated_model_is_reported_as_cut_short(smollm_path: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with smollm_path.open("rb") as source:
        cut.write_bytes(source.read(20_000_000))
    with pytest.raises(ModelLoadError, match="cut short"):
        open_engine(cut)
    header_only = tmp_path / "header.gguf"
    header_only.write_bytes(cut.read_bytes()[:100_000])
    with pytest.raises(ModelLoadError, match="damaged or cut short"):
        open_engine(header_only)


def test_damaged_tensor_table_is_caught_before_llama_cpp(smollm_path: Path, tmp_path: Path) -> None:
    data = bytearray(smollm_path.read_bytes()[:4_000_000])
    name = b"token_embd.weight"
    at = data.index(struct.pack("<Q", len(name)) + name) + 8 + len(name)
    n_dims = struct.unpack_from("<I", data, at)[0]
    struct.pack_into("<I", data, at + 4 + 8 * n_dims, 999)  # an unknown tensor type
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(bytes(data) + smollm_path.read_bytes()[4_000_000:])
    with pytest.raises(ModelLoadError, match="damaged"):
        read_facts(bad)


def test_a_crash_while_probing_is_contained(smollm_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "probe_command",
                        lambda *args: [shutil.which("python3") or "python3", "-c",
                                       "import os; os.abort()"])
    with pytest.raises(ModelLoadError, match="crashed"):
        probe_model(smollm_path)


def test_probe_accepts_a_good_model_in_a_child_process(smollm_path: Path, engine_config: EngineConfig) -> None:
    # With the configuration checked for this machine: llama.cpp's standard one crashes on some
    # processors (AMX on Sapphire Rapids), which the engine check finds and avoids.
    probe_model(smollm_path, engine_config)  # raises on failure


def test_llama_cpp_load_failure_is_plain_words(smollm_path: Path, tmp_path: Path) -> None:
    """A header that reads fine but weights llama.cpp rejects: the probe reports it, no crash."""
    data = bytearray(smollm_path.read_bytes())
    key = b"general.architecture"
    at = data.index(key) + len(key) + 4 + 8  # after the key, the value type and the string length
    data[at:at + 5] = b"zzzzz"  # "llama" -> an architecture llama.cpp does not know
    odd = tmp_path / "odd.gguf"
    odd.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError) as caught:
        open_engine(odd)
    assert "odd.gguf" in str(caught.value) and "\n" not in str(caught.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
