"""Many futures through a model server: BatchedDecoder's interface, each sequence's next chances one
request (the server's prompt cache keeps the shared start, so each asks for one new word piece's work)."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synthscope.engine.errors import EngineError
from synthscope.engine.remote import HeadInfo, RemoteEngine
from synthscope.sampling.head import chosen_is_seen, unseen_choice_message

SERVED_NOTE = ("Through the model server, each future's word pieces are asked for one at a time, so their "
               "chances are the server's own, as exact as the run's (see each step for what it listed).")


class ServedDecoder:
    """Up to `n_seq` sequences that all start from one prompt, each continued by asking the server. A word
    piece appended must be one its sequence's last answer listed: an unlisted one is only the even tail's
    guess, so writing it would invent a word."""

    def __init__(self, engine: RemoteEngine, n_seq: int, depth: int, prompt_length: int) -> None:
        if prompt_length + depth > engine.n_ctx:
            raise EngineError(f"The text and {depth} more word pieces would not fit the server's context of "
                              f"{engine.n_ctx:,} word pieces.")
        self.engine, self.n_seq = engine, n_seq
        self._paths: dict[int, list[int]] = {}
        self._heads: dict[int, HeadInfo] = {}  # each sequence's last answer

    def start(self, prompt: Sequence[int]) -> np.ndarray:
        if not prompt:
            raise EngineError("The prompt is empty.")
        self._paths = {0: [int(t) for t in prompt]}
        logits, self._heads[0] = self.engine.head_logits(self._paths[0])
        return logits

    def copy_sequence(self, source: int, target: int) -> None:
        self._paths[target] = list(self._paths[source])
        self._heads[target] = self._heads[source]

    def step(self, tokens: Sequence[int], depth: int, sequences: Sequence[int]) -> np.ndarray:
        """Append `tokens[i]` to sequence `sequences[i]`; their next logits, shape (len(tokens), n_vocab)."""
        rows = []
        for token, seq in zip(tokens, sequences):
            self.check(token, seq)
            self._paths[seq].append(int(token))
            logits, self._heads[seq] = self.engine.head_logits(self._paths[seq])
            rows.append(logits)
        return np.stack(rows)

    def check(self, token: int, seq: int) -> None:
        """Refuse, in words, a word piece drawn after sequence `seq` that its last answer did not list."""
        head = self._heads[seq]
        if head.listed < self.engine.n_vocab and not chosen_is_seen(int(token), head.seen_ids):
            raise EngineError(unseen_choice_message(head.tail))

    def close(self) -> None:
        """Nothing to free: the server keeps no sequence of ours."""
