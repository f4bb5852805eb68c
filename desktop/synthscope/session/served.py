"""What a model server listed at each step of a run, and which of the step's numbers stay exact with it."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from synthscope.engine.remote import RemoteEngine, ServerConfig
from synthscope.engine.server_client import ServerClient
from synthscope.engine.server_http import ServerCancelled, ServerError
from synthscope.sampling.chain import penalty_window
from synthscope.sampling.head import head_exactness
from synthscope.session.record import RunRecord
from synthscope.session.requests import ServerChoice
from synthscope.session.runner import mentioned_tokens

TEXT_KEYED = ("This server names word pieces by their text: where several share one, all but one are hidden "
              "and the value given may be another's, so cuts count as exact only above the unlisted mass.")


def step_head(engine: RemoteEngine, record: RunRecord, index: int) -> dict[str, Any]:
    """What the server listed at step `index` and which of the step's numbers are exact with it."""
    step = record.steps[index]
    position = len(record.prompt_tokens) + index
    info = engine.heads.get(position)
    if info is None:  # not asked at this position (a step taken over from elsewhere)
        return {"seen": 0, "vocab": engine.n_vocab, "exact": {}}
    history = [*record.prompt_tokens, *record.token_ids[:index]]
    window = penalty_window(np.asarray(history, dtype=np.int32), step.settings).tolist()
    exactness = head_exactness(step.settings, step.trace, info.seen_ids, engine.n_vocab, info.seen_logprobs,
                               info.complete, info.unseen_bound, chosen=step.token_id, penalised=window,
                               trusted=info.prompt_exact and info.before_samplers)
    text_keyed = {} if info.complete else {"note": TEXT_KEYED}
    return {**exactness.to_dict(), **text_keyed, "listed_mass": round(1.0 - info.tail, 9),
            "prompt_exact": info.prompt_exact, "before_samplers": info.before_samplers,
            "seconds": round(info.seconds, 4)}


class ServerLink:
    """The worker's connection to a model server: its client, what the window was sent of its texts, and
    `cancel`, set from the UI thread (Stop, Close) to break off the request in flight."""

    def __init__(self, closing: threading.Event, timeout: float) -> None:
        self.closing, self.timeout = closing, timeout
        self.cancel = threading.Event()
        self.client: ServerClient | None = None
        self.sent_pieces: set[int] | None = None  # word pieces' texts the window has (None: all of them)

    def connect(self, choice: ServerChoice, n_ctx: int,
                progress: Callable[[float], None]) -> tuple[RemoteEngine, list[str], list[int]]:
        """The engine, each word piece's text (one request to llama-server; "#id" for the others until a
        step names them) and the end-of-text word pieces."""
        self.client = client = ServerClient(choice.url, api_key=choice.api_key, timeout=self.timeout, retries=1,
                                            allow_other_hosts=choice.allow_other_hosts, cancelled=self.cancel)
        if self.closing.is_set():
            raise ServerCancelled(f"Connecting to {client.url} was stopped.")
        engine = RemoteEngine(client, model=choice.model, head=choice.head, n_ctx=n_ctx)
        progress(0.3)
        complete = engine.learn_vocabulary()
        progress(0.9)
        self.sent_pieces = None if complete else set()
        vocab = [engine.known_text(token) or f"#{token}" for token in range(engine.n_vocab)]
        return engine, vocab, [token for token in range(engine.n_vocab) if engine.is_end_of_generation(token)]

    def texts_to_send(self, engine: object, tokens: Iterable[int], seconds: float = 3.0) -> dict[int, str]:
        """The texts of `tokens` the window has not been sent, asked of a server that names word pieces only
        by text (one request each, for at most `seconds`; the rest stay "#id" until a step names them)."""
        if self.sent_pieces is None or not isinstance(engine, RemoteEngine):
            return {}
        deadline, found = time.monotonic() + seconds, {}
        for token in dict.fromkeys(int(t) for t in tokens):
            if token in self.sent_pieces or time.monotonic() > deadline:
                continue
            try:
                found[token] = engine.token_text(token)
            except ServerError:  # not answering now: left for a later step
                break
            self.sent_pieces.add(token)
        return found

    def fresh(self) -> None:
        """A Stop breaks off only the request in flight then: what is asked later goes ahead (unless the
        window is closing)."""
        self.cancel.clear()
        if self.closing.is_set():  # set while it was cleared: Close must still break off what follows
            self.cancel.set()

    def interrupt(self) -> None:
        """From another thread: break off the request in flight (also a connection not made yet)."""
        self.cancel.set()
        client = self.client
        if client is not None:
            client.interrupt()


def batch_heads(engine: RemoteEngine, record: RunRecord, indices: Iterable[int],
                sent: set[int] | None) -> dict[int, str]:
    """The steps at `indices` get their heads (Step.head: what the server listed and what is exact); returns
    the texts of the word pieces they name that the window has not been sent yet (added to `sent`; None:
    it knows them all)."""
    pieces = {}
    for index in indices:
        record.steps[index].head = step_head(engine, record, index)
        for token in mentioned_tokens(record.steps[index]) if sent is not None else ():
            if token not in sent and (text := engine.known_text(int(token))) is not None:
                pieces[int(token)] = text
                sent.add(int(token))
    return pieces


def served_config(engine: object) -> ServerConfig | None:
    """The server an engine computes with, or None for a model opened here."""
    config = getattr(engine, "config", None)
    return config if isinstance(config, ServerConfig) else None
