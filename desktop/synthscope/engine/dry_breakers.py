"""DRY's sequence breakers in a model's vocabulary, found as llama.cpp's get_overlapping_token_sequences does."""
from __future__ import annotations

import ctypes
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import llama_cpp
import numpy as np

from synthscope.engine.errors import EngineError
from synthscope.engine.model import Engine
from synthscope.sampling.dry import DryBreakers

MAX_CHAR_LEN = 40  # llama_sampler_init_dry truncates each breaker to 40 bytes ...
MAX_SEQ_LEN = 20  # ... and each tail to 20 tokens


@dataclass(frozen=True)
class VocabTexts:
    """Every token's text as `vocab.detokenize({id}, true)` gives it, end to end in one buffer."""

    data: np.ndarray  # uint8, all texts concatenated
    starts: np.ndarray  # int64, n_vocab + 1 offsets into data

    @property
    def ends(self) -> np.ndarray:
        return self.starts[1:]


_texts: weakref.WeakKeyDictionary[Engine, VocabTexts] = weakref.WeakKeyDictionary()
_tables: weakref.WeakKeyDictionary[Engine, dict[tuple[str, ...], DryBreakers]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def dry_breakers(engine: Engine, breakers: Sequence[str]) -> DryBreakers:
    """The breaker table llama_sampler_init_dry(vocab, …, breakers) builds for `engine`'s vocabulary;
    computed once per (engine, breakers), later calls return the same object."""
    key = tuple(breakers)
    with _lock:
        cached = _tables.get(engine, {}).get(key)
    if cached is not None:
        return cached
    prepared = [b for b in (prepare_breaker(text) for text in key) if b]
    table = DryBreakers.NONE if not prepared else _build(engine, prepared)
    with _lock:
        _tables.setdefault(engine, {})[key] = table
    return table


def prepare_breaker(text: str) -> bytes:
    """What llama.cpp keeps of one breaker: its C string (up to a zero byte), cut to 40 bytes."""
    # A str that cannot be UTF-8 (a lone surrogate) cannot reach llama.cpp either; replace, never fail.
    data = text.encode("utf-8", errors="replace").split(b"\0", 1)[0]
    return data[:MAX_CHAR_LEN]


def _build(engine: Engine, prepared: list[bytes]) -> DryBreakers:
    texts = vocab_texts(engine)
    singles: set[int] = set()
    heads: dict[int, list[tuple[int, ...]]] = {}
    for breaker in prepared:
        containing = _containing(texts, breaker)
        singles.update(containing.tolist())
        for k in range(1, len(breaker)):  # a token ending with the breaker's first k bytes heads the rest
            ending = np.setdiff1d(_ending_with(texts, breaker[:k]), containing, assume_unique=True)
            if ending.size:
                tail = tuple(_tokenize(engine, breaker[k:])[:MAX_SEQ_LEN])
                for token in ending.tolist():
                    heads.setdefault(token, []).append(tail)
    return DryBreakers(frozenset(singles), {head: tuple(tails) for head, tails in heads.items()})


def vocab_texts(engine: Engine) -> VocabTexts:
    """Every token's text, read once per engine through llama_detokenize (special tokens rendered,
    as `vocab.detokenize({id}, true)`: the vocabulary's space and clean-up rules applied)."""
    with _lock:
        cached = _texts.get(engine)
    if cached is not None:
        return cached
    if engine._model is None:
        raise EngineError("The model has been closed, so its word pieces cannot be read.")
    pieces = _detokenize_all(engine._vocab, engine.n_vocab)
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    starts = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    texts = VocabTexts(np.frombuffer(b"".join(pieces), dtype=np.uint8), starts)
    with _lock:
        _texts[engine] = texts
    return texts


def _detokenize_all(vocab: ctypes.c_void_p, n_vocab: int) -> list[bytes]:
    detokenize = llama_cpp.llama_detokenize
    token = (llama_cpp.llama_token * 1)()
    size = 256
    buffer = ctypes.create_string_buffer(size)
    pieces = []
    for token_id in range(n_vocab):
        token[0] = token_id
        n = detokenize(vocab, token, 1, buffer, size, False, True)
        if n < 0:  # longer than the buffer: llama.cpp says how long
            size = -n
            buffer = ctypes.create_string_buffer(size)
            n = detokenize(vocab, token, 1, buffer, size, False, True)
        pieces.append(buffer.raw[:n])
    return pieces


def _containing(texts: VocabTexts, needle: bytes) -> np.ndarray:
    """Ids of the tokens whose text contains `needle` (`word.find(str) != npos`)."""
    data, pattern = texts.data, np.frombuffer(needle, dtype=np.uint8)
    found = np.flatnonzero(data[:max(data.size - pattern.size + 1, 0)] == pattern[0])
    for offset in range(1, pattern.size):
        found = found[data[found + offset] == pattern[offset]]
    tokens = np.searchsorted(texts.starts, found, side="right") - 1
    inside = found + pattern.size <= texts.ends[tokens]
    return np.unique(tokens[inside])


def _ending_with(texts: VocabTexts, suffix: bytes) -> np.ndarray:
    """Ids of the tokens whose text ends with `suffix`."""
    data, pattern = texts.data, np.frombuffer(suffix, dtype=np.uint8)
    ends = texts.ends
    tokens = np.flatnonzero(ends - texts.starts[:-1] >= pattern.size)
    for offset in range(1, pattern.size + 1):  # from the last byte back: the first test removes most
        tokens = tokens[data[ends[tokens] - offset] == pattern[-offset]]
    return tokens


def _tokenize(engine: Engine, text: bytes) -> list[int]:
    """`vocab.tokenize(text, false, false)`: no BOS, special tokens' texts taken as plain text."""
    return engine.tokenize_bytes(text, add_special=False, parse_special=False)
