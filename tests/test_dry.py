"""DRY against upstream's golden vectors and llama.cpp's own DRY sampler on the real vocabularies and logits."""
from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from llama_reference import TokenArray

from synthscope.engine import Engine, open_engine
from synthscope.engine.dry_breakers import dry_breakers, prepare_breaker, vocab_texts
from synthscope.sampling.dry import DryBreakers, DryReport, dry, dry_enabled
from synthscope.sampling.stages import Candidates, softmax32, top_k

DEFAULT_BREAKERS = ("\n", ":", "\"", "*")
CUSTOM_BREAKERS = ("sat on the mat.\n", "Question:", "é", "x" * 50, "", "###\n", 'mat."')
REPEATED = ('Notes: "The cat sat on the mat.\nThe cat sat on the mat." *' + " The cat sat on the mat." * 4
            + " The cat sat")


def probs_of(c: Candidates) -> np.ndarray:
    return softmax32(c.logits)


# --- upstream's golden vectors (tests/test-sampling.cpp, test_dry) -----------------------------

@pytest.mark.parametrize(("probs", "history", "expected", "mult", "base", "allowed", "last_n", "breakers"), [
    ([0.25] * 4, [0, 1], [0.25] * 4, 1.0, 1.1, 2, 4, []),
    ([0.25] * 4, [0, 1, 2, 0, 1], [0.296923, 0.296923, 0.109232, 0.296923], 1.0, 1.1, 2, 5, []),
    ([0.2] * 5, [0, 1, 3, 4, 0, 1], [0.2] * 5, 1.0, 1.1, 2, 6, [[3]]),
    ([0.2] * 5, [0, 1, 2, 0, 1], [0.241818, 0.241818, 0.032727, 0.241818, 0.241818], 2.0, 1.1, 2, 5, []),
    ([0.2] * 5, [0, 1, 2, 3, 4, 0, 1], [0.2] * 5, 1.0, 1.1, 4, 7, []),
])
def test_upstream_golden_vectors(probs: list[float], history: list[int], expected: list[float], mult: float,
                                 base: float, allowed: int, last_n: int, breakers: list[list[int]]) -> None:
    table = DryBreakers(frozenset(), {b[0]: (tuple(b[1:]),) for b in breakers})
    logits = np.log(np.array(probs, dtype=np.float32))
    c = Candidates(np.arange(len(probs), dtype=np.int32), logits, False)
    out, _report = dry(c, np.array(history), mult, base, allowed, last_n, table)
    np.testing.assert_allclose(probs_of(out), expected, atol=1e-5, rtol=0)


# --- llama.cpp's own DRY sampler as the oracle ----------------------------------------------------

class LlamaDry:
    """llama_sampler_init_dry on a real vocabulary; reset and fed a history for every comparison."""

    def __init__(self, engine: Engine, mult: float, base: float, allowed: int, last_n: int,
                 breakers: Sequence[str]) -> None:
        self.texts = [b.encode() for b in breakers]
        array = (ctypes.c_char_p * max(len(self.texts), 1))(*self.texts)
        self.sampler = llama_cpp.llama_sampler_init_dry(engine._vocab, mult, base, allowed, last_n,
                                                        array, len(self.texts))
        assert self.sampler

    @property
    def name(self) -> bytes:
        return llama_cpp.llama_sampler_name(self.sampler)

    def apply(self, c: Candidates, history: Sequence[int]) -> Candidates:
        llama_cpp.llama_sampler_reset(self.sampler)
        for token in history:
            llama_cpp.llama_sampler_accept(self.sampler, int(token))
        tokens = TokenArray(c.logits)
        tokens.buffer["id"] = c.ids
        tokens.array.sorted = c.sorted
        tokens.apply(self.sampler)
        return Candidates(tokens.buffer["id"].copy(), tokens.buffer["logit"].copy(), bool(tokens.array.sorted))

    def close(self) -> None:
        llama_cpp.llama_sampler_free(self.sampler)


@dataclass(frozen=True)
class Setting:
    mult: float
    base: float
    allowed: int
    last_n: int
    breakers: tuple[str, ...]


SETTINGS = [
    Setting(0.8, 1.75, 2, 64, DEFAULT_BREAKERS),
    Setting(0.5, 1.1, 1, 16, DEFAULT_BREAKERS),
    Setting(2.0, 3.0, 3, 64, DEFAULT_BREAKERS),
    Setting(1.0, 2.0, 4, 64, CUSTOM_BREAKERS),
    Setting(1.5, 1.3, 1, 64, CUSTOM_BREAKERS),
    Setting(1.0, 1.75, 2, 0, DEFAULT_BREAKERS),  # last_n 0: off
    Setting(1.0, 1.75, 2, 16, ()),
]


def assert_same(ours: Candidates, report: DryReport, before: Candidates, ref: Candidates) -> None:
    np.testing.assert_array_equal(ours.ids, ref.ids)
    np.testing.assert_allclose(ours.logits, ref.logits, rtol=1e-5, atol=0)
    assert ours.sorted == ref.sorted
    changed = set(ref.ids[ref.logits != before.logits].tolist())
    assert set(report.penalties) == changed
    for token, penalty in report.penalties.items():
        at = int(np.flatnonzero(before.ids == token)[0])
        assert before.logits[at] - np.float32(penalty) == ours.logits[at]


def candidate_views(logits: np.ndarray, seed: int) -> Iterator[Candidates]:
    """The whole vocabulary in id order, and a top-k cut (sorted, then shuffled): any order."""
    whole = Candidates(np.arange(logits.size, dtype=np.int32), logits, False)
    yield whole
    cut = top_k(whole, 60)
    yield cut
    order = np.random.default_rng(seed).permutation(cut.size)
    yield Candidates(cut.ids[order], cut.logits[order], False)


@pytest.fixture(scope="module")
def smollm_steps(smollm_engine: Engine) -> list[tuple[list[int], np.ndarray]]:
    """(history, logits) after a prompt that repeats a sentence and a few greedy steps."""
    smollm_engine.reset()
    history = smollm_engine.tokenize(REPEATED)
    smollm_engine.decode(history)
    steps = []
    for _ in range(4):
        logits = np.array(smollm_engine.logits(), dtype=np.float32)
        steps.append((list(history), logits))
        history.append(int(logits.argmax()))
        smollm_engine.decode(history[-1:])
    smollm_engine.reset()
    return steps


@pytest.mark.parametrize("s", SETTINGS,
                         ids=lambda s: f"{s.mult}-{s.base}-{s.allowed}-{s.last_n}-{len(s.breakers)}")
def test_real_smollm2_logits_match_llama_cpp(smollm_engine: Engine, smollm_steps: list, s: Setting) -> None:
    table = dry_breakers(smollm_engine, s.breakers)
    oracle = LlamaDry(smollm_engine, s.mult, s.base, s.allowed, s.last_n, s.breakers)
    penalised = 0
    try:
        for step, (history, logits) in enumerate(smollm_steps):
            for cut in (0, 1, 3, 7):  # also histories that end inside the repeat or on a breaker
                past = history[:len(history) - cut]
                for c in candidate_views(logits, step):
                    ours, report = dry(c, np.array(past), s.mult, s.base, s.allowed, s.last_n, table)
                    assert_same(ours, report, c, oracle.apply(c, past))
                    penalised += bool(report.penalties)
                    if not report.penalties:
                        assert ours is c or (c.sorted and ours.logits is c.logits)
    finally:
        oracle.close()
    assert (penalised > 0) == dry_enabled(s.mult, s.base, s.last_n)


def test_inputs_are_not_mutated_and_report_names_the_repeat(smollm_engine: Engine, smollm_steps: list) -> None:
    history, logits = smollm_steps[0]
    c = Candidates(np.arange(logits.size, dtype=np.int32), logits, False)
    kept_logits, past = logits.copy(), np.array(history)
    kept_past = past.copy()
    table = dry_breakers(smollm_engine, ())
    out, report = dry(c, past, 1.0, 1.75, 2, 64, table)
    np.testing.assert_array_equal(logits, kept_logits)
    np.testing.assert_array_equal(past, kept_past)
    assert report.penalties and report.limit == min(len(history), 64) and out is not c and not out.sorted
    worst = max(report.penalties, key=report.penalties.get)
    assert report.repeat and tuple(past[-len(report.repeat):]) == report.repeat
    window = past[-64:].tolist()
    n = len(report.repeat)
    earlier = [i for i in range(len(window) - n)
               if tuple(window[i:i + n]) == report.repeat and window[i + n] == worst]
    assert earlier, "the repeat followed by the penalised token occurs earlier in the window"


@pytest.mark.parametrize(("mult", "base", "last_n"), [
    (1.0, 1.75, 64), (0.0, 1.75, 64), (1e-50, 1.75, 64), (-0.5, 1.75, 64), (1.0, 0.9999999, 64),
    (1.0, 0.99999999, 64), (1.0, 1.0, 64), (1.0, 1.75, 0), (1.0, 1.75, -1), (float("nan"), 2.0, 8)])
def test_enabled_exactly_when_llama_cpp_builds_a_real_sampler(smollm_engine: Engine, mult: float, base: float,
                                                              last_n: int) -> None:
    oracle = LlamaDry(smollm_engine, mult, base, 2, last_n, ())
    try:
        assert dry_enabled(mult, base, last_n) == (oracle.name == b"dry")
    finally:
        oracle.close()


@pytest.mark.parametrize(("mult", "base", "allowed"), [
    (1.0, 1.75, 0), (1.0, 1.75, -1), (-0.7, 1.75, 2), (1.0, 1.0, 1), (1.0, 1.0000011, 1), (1e30, 1e10, 1),
    (1.0, 3.4e38, 1), (1e38, 3.0, 1), (2.0, 100.0, 1), (1.0, float("inf"), 2), (float("nan"), 2.0, 2)])
def test_edge_settings_match_llama_cpp(smollm_engine: Engine, mult: float, base: float, allowed: int) -> None:
    """Allowed lengths of 0 and below, no base, the max-exponent clamp and overflow, as C computes them."""
    history = np.tile([11, 22, 33, 44, 55, 66, 77], 20)[:-3]
    ids = np.array([44, 7, 22, 55, 11, 66, 33, 77, 9], dtype=np.int32)
    c = Candidates(ids, np.linspace(-3, 3, ids.size).astype(np.float32), False)
    oracle = LlamaDry(smollm_engine, mult, base, allowed, 128, ())
    try:
        ours, report = dry(c, history, mult, base, allowed, 128, DryBreakers.NONE)
        ref = oracle.apply(c, history.tolist())
    finally:
        oracle.close()
    np.testing.assert_array_equal(ours.ids, ref.ids)
    np.testing.assert_allclose(ours.logits, ref.logits, rtol=1e-5, atol=0)
    assert report.penalties and ours.sorted == ref.sorted


def test_history_ending_in_a_breaker_penalises_nothing(smollm_engine: Engine) -> None:
    table = dry_breakers(smollm_engine, DEFAULT_BREAKERS)
    history = smollm_engine.tokenize("one two three four\none two three four\none two three", add_special=False)
    n_vocab = smollm_engine.n_vocab
    c = Candidates(np.arange(n_vocab, dtype=np.int32), np.zeros(n_vocab, np.float32), False)
    assert dry(c, np.array(history), 1.0, 1.75, 2, 64, table)[1].penalties  # the repeat is penalised ...
    newline = smollm_engine.tokenize("\n", add_special=False)
    assert newline[0] in table.singles
    out, report = dry(c, np.array(history + newline), 1.0, 1.75, 2, 64, table)
    assert out is c and report == DryReport({}, (), 0)  # ... but not right after a breaker


def probe_histories(table: DryBreakers, filler: list[int], others: np.ndarray) -> Iterator[list[int]]:
    """Histories whose repeat crosses a (possible) breaker: x y z B T w x y z B T. If B+T breaks
    sequences, nothing is penalised; otherwise w is."""
    x, y, z, w = filler
    heads = [(head, tail) for head, tails in table.heads.items() for tail in tails]
    rng = np.random.default_rng(7)
    picked = [heads[i] for i in rng.permutation(len(heads))[:120]]
    singles = sorted(table.singles)
    picked += [(singles[i], ()) for i in rng.permutation(len(singles))[:120]]
    picked += [(int(t), ()) for t in others]
    for head, tail in picked:
        if head not in filler:
            yield [x, y, z, head, *tail, w, x, y, z, head, *tail]


@pytest.mark.parametrize("breakers", [DEFAULT_BREAKERS, CUSTOM_BREAKERS])
def test_breaker_table_behaves_as_llama_cpp(smollm_engine: Engine, breakers: tuple[str, ...]) -> None:
    check_breaker_table(smollm_engine, breakers)


def check_breaker_table(engine: Engine, breakers: tuple[str, ...]) -> None:
    table = dry_breakers(engine, breakers)
    assert table.singles
    filler = engine.tokenize(" apple banana cherry grape", add_special=False)[:4]
    assert len(filler) == 4 and not set(filler) & (table.singles | set(table.heads))
    others = np.random.default_rng(3).integers(0, engine.n_vocab, 200)
    oracle = LlamaDry(engine, 1.0, 2.0, 1, 64, breakers)
    broken = kept = 0
    try:
        for history in probe_histories(table, filler, others):
            # Only tokens of the history can be penalised: they and a few others are the candidates.
            ids = np.unique(np.concatenate((history, others[:20]))).astype(np.int32)
            c = Candidates(ids, np.zeros(ids.size, np.float32), False)
            ours, report = dry(c, np.array(history), 1.0, 2.0, 1, 64, table)
            assert_same(ours, report, c, oracle.apply(c, history))
            broken += not report.penalties
            kept += bool(report.penalties)
    finally:
        oracle.close()
    assert broken and kept


def test_breakers_are_cut_and_cached(smollm_engine: Engine) -> None:
    assert prepare_breaker("x" * 50) == b"x" * 40 and prepare_breaker("a\0b") == b"a"
    assert prepare_breaker("é" * 30)[:2] == "é".encode() and len(prepare_breaker("é" * 30)) == 40
    assert dry_breakers(smollm_engine, []) is DryBreakers.NONE
    assert dry_breakers(smollm_engine, ["", "\0"]) is DryBreakers.NONE
    first = dry_breakers(smollm_engine, ["\n", "Question:"])
    start = time.perf_counter()
    assert dry_breakers(smollm_engine, ["\n", "Question:"]) is first
    assert time.perf_counter() - start < 0.01
    assert any(len(tail) >= 2 for tails in first.heads.values() for tail in tails)
    for head, tails in first.heads.items():  # a head's text ends with the breaker's beginning
        text = smollm_engine.token_bytes(head)
        assert any(text.endswith(b"Question:"[:k]) for k in range(1, 9))
        assert all(1 <= len(tail) <= 20 for tail in tails)


def assert_texts_are_the_pieces(engine: Engine) -> None:
    """llama.cpp's detokenize({id}, true) equals token_to_piece(id, special) for every token of
    SmolLM2 and Gemma 3 (it need not for every vocabulary: it may strip a space prefix and clean up)."""
    texts = vocab_texts(engine)
    assert texts.starts.size == engine.n_vocab + 1
    data = texts.data.tobytes()
    pieces = [data[a:b] for a, b in zip(texts.starts[:-1].tolist(), texts.starts[1:].tolist())]
    assert pieces == [engine.token_bytes(token) for token in range(engine.n_vocab)]


def test_vocabulary_texts_are_llama_cpps_pieces(smollm_engine: Engine) -> None:
    assert_texts_are_the_pieces(smollm_engine)


# --- Gemma 3: a 262,144-token vocabulary ----------------------------------------------------------

@pytest.fixture(scope="module")
def gemma_engine(gemma_path: Path) -> Iterator[Engine]:
    with open_engine(gemma_path, n_ctx=256, probe=False) as engine:
        yield engine


def test_gemma_breakers_and_logits_match_llama_cpp(gemma_engine: Engine) -> None:
    assert_texts_are_the_pieces(gemma_engine)
    check_breaker_table(gemma_engine, DEFAULT_BREAKERS)
    history = gemma_engine.tokenize(REPEATED)
    gemma_engine.decode(history)
    logits = np.array(gemma_engine.logits(), dtype=np.float32)
    s = Setting(1.0, 1.75, 2, 64, DEFAULT_BREAKERS + ('mat."', "sat on the mat.\n"))
    table = dry_breakers(gemma_engine, s.breakers)
    oracle = LlamaDry(gemma_engine, s.mult, s.base, s.allowed, s.last_n, s.breakers)
    try:
        for cut in (0, 2):
            for c in candidate_views(logits, cut):
                past = history[:len(history) - cut]
                ours, report = dry(c, np.array(past), s.mult, s.base, s.allowed, s.last_n, table)
                assert_same(ours, report, c, oracle.apply(c, past))
                assert report.penalties or c.size < gemma_engine.n_vocab  # a cut may leave the repeat out
    finally:
        oracle.close()
