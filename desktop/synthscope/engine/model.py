"""A loaded GGUF model and its context: tokenise, decode, zero-copy logits, rewind, token bytes."""
from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import llama_cpp
import numpy as np

from synthscope.engine import llama_log
from synthscope.engine.config import EngineConfig
from synthscope.engine.errors import EngineError, LoadCancelled, ModelLoadError, check_room
from synthscope.engine.model_facts import ModelFacts, read_facts

ProgressCallback = Callable[[float], bool]  # fraction 0..1; return False to cancel
DEFAULT_CONTEXT = 4096
_backend_lock = threading.Lock()
_backend_ready = False


def _init_backend() -> None:
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            llama_log.install()
            llama_cpp.llama_backend_init()
            _backend_ready = True


class Engine:
    """Owns one llama_model and one llama_context; use it from a single thread."""

    def __init__(self, path: Path, facts: ModelFacts, model: int, ctx: int, n_ctx: int,
                 config: EngineConfig, note: str) -> None:
        self.path, self.facts, self.n_ctx = path, facts, n_ctx
        self.config, self.note = config, note  # note: why this configuration, in one sentence
        self._model, self._ctx = model, ctx
        self._vocab = llama_cpp.llama_model_get_vocab(model)
        self._memory = llama_cpp.llama_get_memory(ctx)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self.n_batch = int(llama_cpp.llama_n_batch(ctx))
        self._tokens: list[int] = []
        self._pieces: dict[int, bytes] = {}
        self._piece_buffer = ctypes.create_string_buffer(256)

    @classmethod
    def load(cls, path: str | Path, config: EngineConfig, note: str = "",
             progress: ProgressCallback | None = None, n_ctx: int = DEFAULT_CONTEXT,
             facts: ModelFacts | None = None) -> Engine:
        """Load a model with `config`, decided beforehand (engine.opening.open_engine decides it
        and checks untrusted files first); `note` says why, in one sentence."""
        path = Path(path)
        facts = facts if facts is not None else read_facts(path)
        if config.threads is None:
            raise ValueError("Engine.load needs a thread count: open_engine decides one")
        _init_backend()
        cancelled = False

        def on_progress(fraction: float, _user: ctypes.c_void_p) -> bool:
            nonlocal cancelled
            try:
                keep_going = progress is None or progress(float(fraction)) is not False
            except Exception:  # an exception cannot cross the C boundary; treat it as a cancel
                keep_going = False
            cancelled = not keep_going
            return keep_going

        callback = llama_cpp.llama_progress_callback(on_progress)
        params = config.model_params()
        params.progress_callback = callback
        llama_log.recent_errors.clear()  # the reason given below is this load's own
        model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not model:
            if cancelled:
                raise LoadCancelled(f"Loading {path.name} was cancelled.")
            reason = llama_log.load_reason()
            raise ModelLoadError(f"llama.cpp could not load {path.name}: the file is damaged or a kind of "
                                 "model this version cannot run" + (f" ({reason})." if reason else "."))
        n_ctx = min(n_ctx, facts.context_length) if facts.context_length else n_ctx
        ctx = llama_cpp.llama_init_from_model(model, config.context_params(n_ctx, config.threads))
        if not ctx:
            llama_cpp.llama_model_free(model)
            raise ModelLoadError(f"llama.cpp loaded {path.name} but could not prepare it for "
                                 f"generation (context of {n_ctx} tokens).")
        return cls(path, facts, model, ctx, n_ctx, config, note)

    @property
    def model_pointer(self) -> int:
        """The llama_model, for a second context on the same weights (engine.batched)."""
        return self._model

    def set_threads(self, threads: int) -> None:
        """Use `threads` from the next decode on (no reload needed)."""
        self.config = self.config.with_changes(threads=threads)
        llama_cpp.llama_set_n_threads(self._ctx, threads, threads)

    # -- text <-> tokens ------------------------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return self.tokenize_bytes(text.encode("utf-8"), add_special)

    def tokenize_bytes(self, data: bytes, add_special: bool = True, parse_special: bool = True) -> list[int]:
        """llama_tokenize: `add_special` adds the beginning-of-text token, `parse_special` reads
        special tokens' texts (e.g. <|im_end|>) as those tokens rather than as plain text."""
        size = len(data) + 8
        while True:
            buffer = (llama_cpp.llama_token * size)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buffer, size, add_special, parse_special)
            if n >= 0:
                return list(buffer[:n])
            size = -n

    def token_bytes(self, token_id: int) -> bytes:
        """The token's exact bytes (special tokens rendered), possibly part of a UTF-8 character."""
        piece = self._pieces.get(token_id)
        if piece is None:
            buffer = self._piece_buffer
            n = llama_cpp.llama_token_to_piece(self._vocab, token_id, buffer, len(buffer), 0, True)
            if n < 0:
                buffer = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self._vocab, token_id, buffer, len(buffer), 0, True)
            piece = self._pieces[token_id] = buffer.raw[:n]
        return piece

    def token_text(self, token_id: int) -> str:
        """For labels: the token's bytes as text, stray bytes of a split character as \\xNN."""
        return self.token_bytes(token_id).decode("utf-8", errors="backslashreplace")

    def vocabulary(self, progress: Callable[[float], None] | None = None,
                   stop: Callable[[], bool] | None = None) -> tuple[list[str], list[int]] | None:
        """Every token's text for labels and the tokens that end a text or a turn; None when `stop` said so
        (asked, with `progress`, every 8,192 tokens)."""
        texts, ends = [], []
        for token in range(self.n_vocab):
            texts.append(self.token_text(token))
            if self.is_end_of_generation(token):
                ends.append(token)
            if token % 8192 == 0:
                if stop is not None and stop():
                    return None
                if progress is not None:
                    progress(token / self.n_vocab)
        return texts, ends

    def chat_template(self) -> str | None:
        """The model's own chat template from its metadata, None for a base model."""
        if not self.facts.has_chat_template:  # absent, or a number or list where the text belongs
            return None
        text = llama_cpp.llama_model_chat_template(self._model, None)
        return text.decode("utf-8", errors="replace") if text else None

    def special_texts(self) -> tuple[str, str]:
        """The texts of the beginning- and end-of-text tokens ("" where the model has none), as
        llama-cpp-python gives them to chat templates."""
        texts = []
        for token in (llama_cpp.llama_vocab_bos(self._vocab), llama_cpp.llama_vocab_eos(self._vocab)):
            text = llama_cpp.llama_vocab_get_text(self._vocab, token) if token != -1 else b""
            texts.append((text or b"").decode("utf-8", errors="replace"))
        return texts[0], texts[1]

    def is_end_of_generation(self, token_id: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token_id))

    # -- decoding ---------------------------------------------------------------------------
    @property
    def n_past(self) -> int:
        return len(self._tokens)

    @property
    def tokens(self) -> tuple[int, ...]:
        return tuple(self._tokens)

    def decode(self, tokens: Sequence[int]) -> None:
        """Append tokens to the context; afterwards `logits()` holds the last one's next-token scores."""
        check_room(len(tokens), self.n_past, self.n_ctx)
        for start in range(0, len(tokens), self.n_batch):
            chunk = list(tokens[start:start + self.n_batch])
            array = (llama_cpp.llama_token * len(chunk))(*chunk)
            status = llama_cpp.llama_decode(self._ctx, llama_cpp.llama_batch_get_one(array, len(chunk)))
            if status != 0:
                # Drop whatever the failed batch left in the cache; the logits are stale until the
                # next successful decode or rewind.
                llama_cpp.llama_memory_seq_rm(self._memory, 0, self.n_past, -1)
                raise EngineError(f"llama.cpp could not process the text (code {status}).")
            self._tokens.extend(chunk)

    def logits(self) -> np.ndarray:
        """Zero-copy, read-only view of the last position's logits; the next decode overwrites it."""
        if not self._tokens:
            raise EngineError("No text has been processed yet.")
        pointer = llama_cpp.llama_get_logits_ith(self._ctx, -1)
        view = np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))
        view.flags.writeable = False
        return view

    def rewind_to(self, n_keep: int) -> None:
        """Forget every position from n_keep on; `logits()` then belongs to position n_keep - 1."""
        n_keep = max(0, min(n_keep, self.n_past))
        kept = self._tokens[:n_keep]
        if n_keep == 0:
            llama_cpp.llama_memory_clear(self._memory, True)
            self._tokens = []
            return
        # Re-decoding the last kept token refreshes the logits for it.
        if llama_cpp.llama_memory_seq_rm(self._memory, 0, n_keep - 1, -1):
            self._tokens = kept[:-1]
            self.decode(kept[-1:])
        else:
            llama_cpp.llama_memory_clear(self._memory, True)
            self._tokens = []
            self.decode(kept)

    def reset(self) -> None:
        self.rewind_to(0)

    def close(self) -> None:
        if self._ctx:
            llama_cpp.llama_free(self._ctx)
            self._ctx = None
        if self._model:
            llama_cpp.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
