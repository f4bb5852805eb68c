"""llama.cpp's own samplers, run through llama-cpp-python's low-level API: the conformance oracle.

`reference_chain` applies penalties → top-k → typical → top-p → min-p → temperature → dist
(penalties → greedy at temperature 0) to one llama_token_data_array, in the order of
llama-cpp-python's `Llama._init_sampler`, and snapshots the array after every sampler.
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

import llama_cpp
import numpy as np

TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")], align=True)
if TOKEN_DATA.itemsize != ctypes.sizeof(llama_cpp.llama_token_data):
    raise ImportError("llama_token_data's layout is not (int32 id, float logit, float p)")

MIN_KEEP = 1  # what llama-cpp-python passes (n_probs is 0)
DEFAULT_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: llama.cpp would pick a random seed
SamplerPointer = ctypes.POINTER(llama_cpp.llama_sampler)


@dataclass(frozen=True)
class RefStage:
    """The token array after one sampler: its first `size` entries and its `sorted` flag."""

    name: str
    ids: np.ndarray  # int32
    logits: np.ndarray  # float32
    probs: np.ndarray  # float32, the `p` field (only meaningful after samplers that write it)
    sorted: bool

    @property
    def size(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class RefResult:
    stages: tuple[RefStage, ...]  # penalties, then (unless greedy) top_k … temperature, dist
    token_id: int  # what greedy or dist selected
    selected: int  # its index in the last stage's order

    def stage(self, name: str) -> RefStage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    @property
    def final(self) -> RefStage:
        return self.stages[-1]


class TokenArray:
    """A llama_token_data_array over a numpy buffer, so snapshots are cheap copies."""

    def __init__(self, logits: np.ndarray) -> None:
        n = logits.shape[0]
        self.buffer = np.zeros(n, dtype=TOKEN_DATA)
        self.buffer["id"] = np.arange(n, dtype=np.int32)
        self.buffer["logit"] = logits
        self.array = llama_cpp.llama_token_data_array(
            data=self.buffer.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)),
            size=n, selected=-1, sorted=False)

    def apply(self, sampler: SamplerPointer) -> None:
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(self.array))

    def snapshot(self, name: str) -> RefStage:
        kept = self.buffer[:self.array.size]
        return RefStage(name, kept["id"].copy(), kept["logit"].copy(), kept["p"].copy(),
                        bool(self.array.sorted))


def reference_chain(logits: np.ndarray, history: np.ndarray | list[int], *, temperature: float,
                    top_k: int, top_p: float, min_p: float, typical_p: float,
                    repeat_penalty: float, repeat_last_n: int, frequency_penalty: float,
                    presence_penalty: float, seed: int = 0) -> RefResult:
    """Run llama.cpp's samplers on `logits` (float32, one per token id) after `history`.

    The keyword arguments are SamplerSettings' fields, so `**settings.to_dict()` fits. Every
    history token is accepted into the penalties sampler, which keeps its own last-n window.
    """
    if seed == DEFAULT_SEED:
        raise ValueError("seed 0xFFFFFFFF makes llama.cpp draw from a random seed")
    logits = np.ascontiguousarray(logits, dtype=np.float32)
    tokens = TokenArray(logits)
    samplers = []

    def make(sampler: SamplerPointer) -> SamplerPointer:
        if not sampler:
            raise RuntimeError("llama.cpp could not create a sampler")
        samplers.append(sampler)
        return sampler

    try:
        penalties = make(llama_cpp.llama_sampler_init_penalties(
            logits.shape[0], repeat_last_n, repeat_penalty, frequency_penalty, presence_penalty))
        for token in history:
            llama_cpp.llama_sampler_accept(penalties, int(token))
        tokens.apply(penalties)
        stages = [tokens.snapshot("penalties")]
        if temperature == 0.0:
            greedy = make(llama_cpp.llama_sampler_init_greedy())
            tokens.apply(greedy)
        else:
            chain = (("top_k", llama_cpp.llama_sampler_init_top_k(top_k)),
                     ("typical_p", llama_cpp.llama_sampler_init_typical(typical_p, MIN_KEEP)),
                     ("top_p", llama_cpp.llama_sampler_init_top_p(top_p, MIN_KEEP)),
                     ("min_p", llama_cpp.llama_sampler_init_min_p(min_p, MIN_KEEP)),
                     ("temperature", llama_cpp.llama_sampler_init_temp(temperature)),
                     ("dist", llama_cpp.llama_sampler_init_dist(seed)))
            for name, sampler in chain:
                tokens.apply(make(sampler))
                stages.append(tokens.snapshot(name))
        selected = int(tokens.array.selected)
        return RefResult(tuple(stages), int(tokens.buffer["id"][selected]), selected)
    finally:
        for sampler in samplers:
            llama_cpp.llama_sampler_free(sampler)


class Mt19937:
    """std::mt19937 seeded with one 32-bit value (its first outputs for seed 5489 are known)."""

    def __init__(self, seed: int) -> None:
        state = [seed & 0xFFFFFFFF]
        for i in range(1, 624):
            state.append((1812433253 * (state[-1] ^ (state[-1] >> 30)) + i) & 0xFFFFFFFF)
        self.state = state
        self.index = 624

    def __call__(self) -> int:
        if self.index >= 624:
            s = self.state
            for i in range(624):
                y = (s[i] & 0x80000000) | (s[(i + 1) % 624] & 0x7FFFFFFF)
                s[i] = s[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
            self.index = 0
        y = self.state[self.index]
        self.index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C5680
        y ^= (y << 15) & 0xEFC60000
        return y ^ (y >> 18)


def dist_u(seed: int) -> float:
    """The first uniform that llama_sampler_init_dist(seed) draws.

    libstdc++'s uniform_real_distribution<double>(0, 1) over a 32-bit mt19937 is
    generate_canonical<double, 53>: two outputs, (x0 + x1·2³²) / 2⁶⁴ in double arithmetic.
    """
    rng = Mt19937(seed)
    x0, x1 = rng(), rng()
    u = (float(x0) + float(x1) * 4294967296.0) / 18446744073709551616.0
    return u if u < 1.0 else float(np.nextafter(1.0, 0.0))


# --- the newer samplers: samplers kept across steps, arrays whose start moves, replayed RNGs ---

class OwnedSamplers:
    """llama.cpp samplers that live across several applies (their state carries), all freed on
    leaving the `with` block."""

    def __init__(self) -> None:
        self.pointers: list[SamplerPointer] = []

    def add(self, sampler: SamplerPointer) -> SamplerPointer:
        if not sampler:
            raise RuntimeError("llama.cpp could not create a sampler")
        self.pointers.append(sampler)
        return sampler

    def __enter__(self) -> OwnedSamplers:
        return self

    def __exit__(self, *exc: object) -> None:
        for sampler in self.pointers:
            llama_cpp.llama_sampler_free(sampler)
        self.pointers.clear()


def init_logit_bias(n_vocab: int, token_ids: np.ndarray | list[int],
                    biases: np.ndarray | list[float]) -> SamplerPointer:
    """llama_sampler_init_logit_bias over (token, bias) pairs in the given order."""
    pairs = (llama_cpp.llama_logit_bias * len(token_ids))()
    for entry, token, bias in zip(pairs, token_ids, biases, strict=True):
        entry.token, entry.bias = int(token), float(bias)
    return llama_cpp.llama_sampler_init_logit_bias(n_vocab, len(token_ids), pairs)


def current(tokens: TokenArray, name: str) -> RefStage:
    """The array as llama.cpp now sees it: XTC removes from the front by moving `data` forward."""
    start = (ctypes.cast(tokens.array.data, ctypes.c_void_p).value
             - tokens.buffer.ctypes.data) // TOKEN_DATA.itemsize
    kept = tokens.buffer[start:start + tokens.array.size]
    return RefStage(name, kept["id"].copy(), kept["logit"].copy(), kept["p"].copy(),
                    bool(tokens.array.sorted))


def apply_all(logits: np.ndarray, samplers: list[tuple[str, SamplerPointer]],
              ) -> tuple[list[RefStage], int]:
    """Apply the samplers in turn to one fresh array; the array after each, and `selected`."""
    tokens = TokenArray(np.ascontiguousarray(logits, dtype=np.float32))
    stages = []
    for name, sampler in samplers:
        tokens.apply(sampler)
        stages.append(current(tokens, name))
    return stages, int(tokens.array.selected)


class RngReplay:
    """One sampler's own std::mt19937(seed) as llama.cpp consumes it: a float draw takes one
    output, a double draw two (libstdc++'s generate_canonical); `peek_double` looks ahead."""

    def __init__(self, seed: int) -> None:
        self.rng = Mt19937(seed)
        self.ahead: list[int] = []
        self.consumed = 0  # 32-bit outputs taken so far

    def _fill(self, n: int) -> None:
        while len(self.ahead) < n:
            self.ahead.append(self.rng())

    def take_u32(self) -> int:
        self._fill(1)
        self.consumed += 1
        return self.ahead.pop(0)

    def peek_double(self) -> float:
        self._fill(2)
        x0, x1 = self.ahead[:2]
        u = (float(x0) + float(x1) * 4294967296.0) / 18446744073709551616.0
        return u if u < 1.0 else float(np.nextafter(1.0, 0.0))

    def take_double(self) -> float:
        u = self.peek_double()
        del self.ahead[:2]
        self.consumed += 2
        return u


def xtc_chance(x: int) -> float:
    """uniform_real_distribution<float>(0, 1) from one output: float(x) / 2³² in float."""
    r = np.float32(np.uint32(x)) / np.float32(2.0**32)
    return float(r) if r < 1 else float(np.nextafter(np.float32(1), np.float32(0)))
