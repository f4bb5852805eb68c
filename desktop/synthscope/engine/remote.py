"""An Engine look-alike backed by a model server: the server gives each step's head, Synthscope rolls the dice."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from synthscope.engine.errors import EngineError, check_room
from synthscope.engine.model_facts import ModelFacts, read_facts
from synthscope.engine.server_client import LLAMA_SERVER, ServerClient, unfinished_pieces
from synthscope.engine.server_http import ServerError
from synthscope.sampling.dry import dry_enabled
from synthscope.sampling.head import chosen_is_seen, logits_from_head, tail_mass, unseen_choice_message
from synthscope.sampling.settings import SamplerSettings

DEFAULT_CONTEXT = 4096
# Texts llama.cpp itself treats as ends of generation when a vocabulary has them as one special token.
END_TEXTS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>", "<|end|>",
             "</s>", "<eos>", "<|eom_id|>", "<|return|>")
REPLACEMENT = "\ufffd".encode()
CHATML_MARKERS = ("<|im_start|>", "<|im_end|>")
SPECIAL_LOOKUPS = 1024  # special tokens named at connecting (the others when a step names them)


def check_server_settings(settings: SamplerSettings) -> None:
    """Refuse, in one sentence, what needs every word piece's text or llama.cpp's grammar sampler."""
    if settings.grammar:
        raise EngineError("A grammar needs llama.cpp's grammar sampler, which runs only with a model opened "
                          "in Synthscope, not through a model server.")
    if dry_enabled(settings.dry_multiplier, settings.dry_base, settings.dry_penalty_last_n) \
            and not settings.mirostat:
        raise EngineError("DRY works only with a model opened in Synthscope, not through a model server: turn "
                          "it off (DRY strength 0, or --dry-multiplier 0) to go on.")


@dataclass(frozen=True)
class ServerConfig:
    """What the record says about how the numbers were computed: by which server and model, from N chances."""

    server: str
    kind: str
    model: str
    head: int
    vocab: int
    vocab_from: str
    threads: int | None = None  # the Generator reads it: None computes the statistics after each step

    def describe(self) -> str:
        asked = ("every word piece" if self.head >= self.vocab
                 else f"the top {self.head:,} of {self.vocab:,} word pieces")
        who = "llama.cpp's llama-server" if self.kind == LLAMA_SERVER else "an OpenAI-style model server"
        return f"{who} at {self.server}, asked for {asked} at each step"

    def to_dict(self) -> dict[str, Any]:
        return {"server": self.server, "server_kind": self.kind, "server_model": self.model, "head": self.head,
                "vocab": self.vocab, "vocab_from": self.vocab_from}


@dataclass(frozen=True)
class HeadInfo:
    """One step's head: the ids the server listed (with an id) and what came with them."""

    seen_ids: np.ndarray
    seen_logprobs: np.ndarray  # aligned with seen_ids
    complete: bool  # the true top N, each with its id (llama-server): no unlisted word outranks a listed one
    listed: int
    tail: float
    unseen_bound: float  # no word piece outside seen_ids has a larger chance
    prompt_exact: bool
    before_samplers: bool
    seconds: float


class RemoteEngine:
    """What Generator needs from an Engine, with each step's logits rebuilt from the server's top chances."""

    def __init__(self, client: ServerClient, model: str | None = None, head: int | None = None,
                 vocab: int | None = None, n_ctx: int = DEFAULT_CONTEXT) -> None:
        self.client = client
        kind = client.kind()
        entries = client.model_entries()
        names = [str(e.get("id") or e.get("model") or e.get("name")) for e in entries]
        if model is not None and names and model not in names:
            raise ServerError(f"The model server at {client.url} has no model called {model!r} (it has "
                              f"{', '.join(names[:5])}).")
        self.model = model or (names[0] if names else "")
        entry = entries[names.index(self.model)] if self.model in names else {}
        meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
        props = client.props()
        self.n_vocab, vocab_from = self._vocabulary(vocab, meta)
        server_ctx = _int(meta.get("n_ctx")) or _int((props.get("default_generation_settings") or {}).get("n_ctx"))
        self.n_ctx = min(n_ctx, server_ctx) if server_ctx else n_ctx
        self._bos = client.tokenize("", self.model or None)  # also refuses a server without a tokeniser
        if head is not None and not 1 <= head <= self.n_vocab:
            raise EngineError(f"--head must be between 1 and the vocabulary's {self.n_vocab:,}, not {head}.")
        # Both servers that tokenise (llama-server, llama-cpp-python's) give as many as asked.
        self.head = head or self.n_vocab
        self.config = ServerConfig(client.url, kind, self.model, self.head, self.n_vocab, vocab_from)
        self._pieces: dict[int, bytes] = {}
        self._avoid: tuple[int, ...] = ()  # llama-server's draw never picks these (see unfinished_pieces)
        self._known_text: tuple[list[int], str] | None = None  # the last text tokenised and its ids
        self._end_ids = self._end_tokens(str(props.get("eos_token") or ""))
        # llama-server states the model's chat template and its special texts; other servers do not.
        template = str(props.get("chat_template") or "") or None
        self._template = template if template is not None and self._speaks(template) else None
        self._special = (str(props.get("bos_token") or ""), str(props.get("eos_token") or ""))
        self.path = f"{client.url}#{self.model}"
        name = Path(self.model).name or self.model or "model"
        self.facts = ModelFacts(path=self.path, file_size=0, architecture="served",
                                name=f"{name} at {client.url}", parameters=0, quantisation="",
                                context_length=self.n_ctx, vocab_size=self.n_vocab, bos_id=None, eos_id=None,
                                has_chat_template=self._template is not None, chat_template=self._template)
        self.note = f"computed by the model server at {client.url}"
        self._tokens: list[int] = []
        self._last: tuple[tuple[int, ...], np.ndarray, HeadInfo] | None = None
        self.heads: dict[int, HeadInfo] = {}  # by position: the head each step's chain ran on
        # What a record names instead of a weights file: the server, its model and a digest of both,
        # in ModelIdentity's order (path, name, file size, digest, vocabulary).
        identity = json.dumps({"server": client.url, "model": self.model, "vocab": self.n_vocab}, sort_keys=True)
        self.served_identity = (self.path, self.facts.name, 0, hashlib.sha256(identity.encode()).hexdigest(),
                                self.n_vocab)
        self.learn_vocabulary()  # llama-server: one request, and its steps then never come back empty

    def _vocabulary(self, vocab: int | None, meta: dict[str, Any]) -> tuple[int, str]:
        if vocab is not None:
            if vocab < 2:
                raise EngineError(f"--vocab must be at least 2, not {vocab}.")
            return vocab, "given"
        if _int(meta.get("n_vocab")):
            return int(meta["n_vocab"]), "the server (/v1/models meta.n_vocab)"
        # llama-cpp-python's server names its model by the file's path: on this computer, read its header.
        candidate = Path(self.model) if self.model.endswith(".gguf") else None
        if candidate is not None and candidate.is_file():
            try:
                return read_facts(candidate).vocab_size, f"the header of {candidate}, the file the server names"
            except Exception:  # any unreadable file: fall through to asking the person
                pass
        raise EngineError(f"The model server at {self.client.url} does not say how many word pieces its model "
                          "has; give it with --vocab.")

    def _end_tokens(self, eos_text: str) -> frozenset[int]:
        """The ids of end-of-generation tokens: each known end text (and the server's eos_token) that the
        server's tokeniser reads as one special token. Not llama.cpp's own list: a model whose end token
        has another text will write past it (ignore_eos, --max-tokens and --stop still stop the run)."""
        ends: set[int] = set()
        for text in dict.fromkeys((*END_TEXTS, eos_text)):
            if not text:
                continue
            pieces = self.tokenize(text, add_special=False)
            if len(pieces) == 1:
                ends.add(pieces[0])
                self._pieces[pieces[0]] = text.encode()
        return frozenset(ends)

    def learn_vocabulary(self) -> bool:
        """Every word piece's bytes at once where the server sends them by number (llama-server); False
        where each must be asked for on its own (then token_text asks as they are needed)."""
        if self.config.kind != LLAMA_SERVER:
            return False
        if not self._avoid:
            start = self._bos or self.tokenize(" ", add_special=False)[:1] or [0]
            pieces = self.client.vocabulary_pieces(start, self.n_vocab, self.model or None)
            self._avoid = tuple(unfinished_pieces(pieces)) or (-1,)
            self._pieces.update((token, piece) for token, piece in pieces.items() if piece)
            # Its steps give special tokens no bytes; its detokeniser names them ("<|im_end|>"), a request each.
            unnamed = [t for t, piece in pieces.items() if not piece and t not in self._pieces]
            for token in unnamed[:SPECIAL_LOOKUPS]:
                self.token_bytes(token)
        return all(token in self._pieces for token in range(self.n_vocab))

    def known_text(self, token_id: int) -> str | None:
        """The word piece's text if it is known here already (nothing is asked of the server)."""
        piece = self._pieces.get(token_id)
        return None if piece is None else piece.decode("utf-8", errors="backslashreplace")

    # -- text <-> word pieces -------------------------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        tokens = self.client.tokenize(text, self.model or None)
        if not add_special:
            return tokens[len(self._bos):] if self._bos and tokens[:len(self._bos)] == self._bos else tokens
        self._known_text = (tokens, text)
        return tokens

    def token_bytes(self, token_id: int) -> bytes:
        """The word piece's text from the server's detokeniser, cached. llama-cpp-python's server refuses a
        piece that is part of a character and renders special tokens as nothing: U+FFFD and b"" stand in."""
        piece = self._pieces.get(token_id)
        if piece is None:
            try:
                piece = self.client.detokenize([int(token_id)], self.model or None).encode()
            except ServerError as error:
                if error.status is None:
                    raise
                piece = REPLACEMENT
            self._pieces[token_id] = piece
        return piece

    def token_text(self, token_id: int) -> str:
        return self.token_bytes(token_id).decode("utf-8", errors="backslashreplace")

    def _speaks(self, template: str) -> bool:
        """Whether the model knows the template's markers: llama-server gives a model without a template
        its own ChatML one (a stand-in), whose <|im_start|> such a model reads as several word pieces."""
        return all(len(self.tokenize(marker, add_special=False)) == 1 for marker in CHATML_MARKERS
                   if marker in template)

    def chat_template(self) -> str | None:
        return self._template

    def special_texts(self) -> tuple[str, str]:
        """The beginning- and end-of-text tokens' texts, as the server states them ("" where it does not)."""
        return self._special

    def is_end_of_generation(self, token_id: int) -> bool:
        return token_id in self._end_ids

    # -- the context, kept here; the server is asked for the whole of it each step ---------------------
    @property
    def n_past(self) -> int:
        return len(self._tokens)

    @property
    def tokens(self) -> tuple[int, ...]:
        return tuple(self._tokens)

    def decode(self, tokens: Sequence[int]) -> None:
        """Append tokens. One token where the dice just ran must be one the server listed: an unlisted id
        is only the even tail's guess, so writing it would invent a word."""
        check_room(len(tokens), self.n_past, self.n_ctx)
        last = self._last
        if len(tokens) == 1 and last is not None and last[0] == tuple(self._tokens):
            info = last[2]
            if info.listed < self.n_vocab and not chosen_is_seen(int(tokens[0]), info.seen_ids):
                raise EngineError(unseen_choice_message(info.tail))
        self._tokens.extend(int(t) for t in tokens)

    def logits(self) -> np.ndarray:
        """The current position's full logits, rebuilt from the server's top `head` chances (read-only)."""
        if not self._tokens:
            raise EngineError("No text has been processed yet.")
        key = tuple(self._tokens)
        if self._last is None or self._last[0] != key:
            logits, info = self.head_logits(self._tokens, self._text())
            self._last = (key, logits, info)
            self.heads[len(key)] = info
        return self._last[1]

    def head_logits(self, tokens: Sequence[int], text: str | None = None) -> tuple[np.ndarray, HeadInfo]:
        """The full logits after `tokens` (any text, the context is left as it is), rebuilt from the server's
        top `head` chances (read-only), and what it listed."""
        head = self.client.next_head(list(tokens), self.head, self.model or None, text=text,
                                     avoid=[t for t in self._avoid if t >= 0])
        known = head.token_ids >= 0
        try:
            logits = logits_from_head(head.token_ids, head.logprobs, self.n_vocab)
        except ValueError as error:
            raise EngineError(f"The model server's answer does not fit a vocabulary of {self.n_vocab:,} "
                              f"word pieces ({error}); give the right one with --vocab.") from None
        logits.flags.writeable = False
        ids, first = np.unique(head.token_ids[known], return_index=True)
        return logits, HeadInfo(ids.astype(np.int32), head.logprobs[known][first],
                                self.config.kind == LLAMA_SERVER and bool(known.all()), int(known.sum()),
                                tail_mass(head.logprobs, head.token_ids), _unseen_bound(head.logprobs, known),
                                head.prompt_exact, head.before_samplers, head.seconds)

    def _text(self) -> str | None:
        """The text the server should read, for servers that read text: the prompt as given, then what the
        server's detokeniser makes of the rest (the client checks it reads back as these ids)."""
        if self.config.kind == LLAMA_SERVER or self._known_text is None:
            return None
        ids, text = self._known_text
        if self._tokens[:len(ids)] != ids:
            return None
        rest = self._tokens[len(ids):]
        if not rest:
            return text
        try:
            return text + self.client.detokenize(rest, self.model or None)
        except ServerError as error:
            if error.status is None:
                raise
            raise ServerError(f"The model server at {self.client.url} could not turn the written word pieces "
                              "back into text (they may end in the middle of a character).") from None

    def rewind_to(self, n_keep: int) -> None:
        del self._tokens[max(0, min(n_keep, self.n_past)):]

    def reset(self) -> None:
        self.rewind_to(0)

    def close(self) -> None:
        """Nothing to release: each request opens and closes its own connection."""

    def __enter__(self) -> RemoteEngine:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _unseen_bound(logprobs: np.ndarray, known: np.ndarray) -> float:
    """The largest chance a word piece outside the listed ids can have: an entry without an id, or one
    the list does not show at all (together at most what the listed entries leave)."""
    chances = np.exp(logprobs)
    unlisted = tail_mass(logprobs)
    return max(unlisted, float(chances[~known].max()) if (~known).any() else 0.0)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0
