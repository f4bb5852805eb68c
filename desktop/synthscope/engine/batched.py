"""Many continuations side by side: a second llama.cpp context on an engine's model decodes one word
piece of every sequence per batch, all of them sharing the prompt's memory."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import llama_cpp
import numpy as np

from synthscope.engine.errors import EngineError

if TYPE_CHECKING:
    from synthscope.engine.model import Engine

MAX_SEQUENCES = 256  # llama.cpp's own limit (LLAMA_MAX_SEQ)


class BatchedDecoder:
    """Up to `n_seq` sequences that all start from one prompt. Use from the engine's own thread; the
    engine's context is left alone (this one is separate and freed by close())."""

    def __init__(self, engine: Engine, n_seq: int, depth: int, prompt_length: int) -> None:
        if not 1 <= n_seq <= MAX_SEQUENCES:
            raise EngineError(f"Between 1 and {MAX_SEQUENCES} continuations can be written at once, "
                              f"not {n_seq}.")
        self.n_seq, self.n_vocab = n_seq, engine.n_vocab
        # Every sequence's word pieces after the shared prompt, with room for one batch more.
        n_ctx = prompt_length + n_seq * depth + n_seq + 8
        limit = engine.facts.context_length
        if limit and prompt_length + depth > limit:
            raise EngineError(f"The text and {depth} more word pieces would not fit this model's "
                              f"context of {limit:,} word pieces.")
        params = engine.config.context_params(n_ctx, engine.config.threads or 1)
        params.n_seq_max = n_seq
        params.n_batch = params.n_ubatch = max(min(512, n_ctx), min(n_seq, n_ctx))
        params.kv_unified = True  # the prompt's cells are shared by every sequence, not copied
        self._ctx = llama_cpp.llama_init_from_model(engine.model_pointer, params)
        if not self._ctx:
            raise EngineError(f"llama.cpp could not make room for {n_seq} continuations of {depth} word "
                              "pieces; try fewer or shorter ones.")
        self._memory = llama_cpp.llama_get_memory(self._ctx)
        self.n_batch = int(llama_cpp.llama_n_batch(self._ctx))
        self._batch = llama_cpp.llama_batch_init(max(self.n_batch, n_seq), 0, 1)
        self.prompt_length = 0

    def start(self, prompt: Sequence[int]) -> np.ndarray:
        """Decode the prompt once (in batches, as the engine does) for sequence 0 and return its last
        logits (a copy); other sequences get its memory with copy_sequence()."""
        if not prompt:
            raise EngineError("The prompt is empty.")
        for start in range(0, len(prompt), self.n_batch):
            chunk = list(prompt[start:start + self.n_batch])
            last = start + len(chunk) == len(prompt)
            self._fill([(token, start + i, 0, last and i == len(chunk) - 1) for i, token in enumerate(chunk)])
            self._decode()
        self.prompt_length = len(prompt)
        return self._row_logits(-1)

    def copy_sequence(self, source: int, target: int) -> None:
        """`target` gets `source`'s memory (in the unified cache: the same cells, shared)."""
        llama_cpp.llama_memory_seq_cp(self._memory, source, target, -1, -1)

    def step(self, tokens: Sequence[int], depth: int, sequences: Sequence[int]) -> np.ndarray:
        """Append `tokens[i]` to sequence `sequences[i]` at position prompt + depth, all in one batch;
        their next logits, shape (len(tokens), n_vocab), copied."""
        if len(tokens) != len(sequences) or not 0 < len(tokens) <= self.n_seq:
            raise ValueError("one token for each of at most n_seq sequences")
        position = self.prompt_length + depth
        self._fill([(int(token), position, int(seq), True) for token, seq in zip(tokens, sequences)])
        self._decode()
        pointer = llama_cpp.llama_get_logits(self._ctx)
        return np.ctypeslib.as_array(pointer, shape=(len(tokens), self.n_vocab)).copy()

    def _fill(self, entries: list[tuple[int, int, int, bool]]) -> None:
        batch = self._batch
        for i, (token, position, seq, wanted) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = position
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = wanted
        batch.n_tokens = len(entries)

    def _decode(self) -> None:
        status = llama_cpp.llama_decode(self._ctx, self._batch)
        if status != 0:
            raise EngineError(f"llama.cpp could not process the continuations (code {status}).")

    def _row_logits(self, index: int) -> np.ndarray:
        pointer = llama_cpp.llama_get_logits_ith(self._ctx, index)
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,)).copy()

    def close(self) -> None:
        if self._ctx:
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._ctx)
            self._ctx = None

    def __enter__(self) -> BatchedDecoder:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
