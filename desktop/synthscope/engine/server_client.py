"""Ask a model server (llama-server, llama-cpp-python, Ollama, LM Studio) for one step's top log-probabilities."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synthscope.engine.server_http import HttpChannel, ServerError

LLAMA_SERVER = "llama-server"  # llama.cpp's own server: token ids in, ids and raw log-probabilities out
OPENAI = "openai-compatible"  # /v1/completions: text in, log-probabilities keyed by token text out
UNKNOWN_ID = -1  # a token the server named only by a text that several tokens share
END_RETRIES = 8  # hotter draws when llama-cpp-python's top token ends the text (it then lists nothing)
# Word pieces llama-server is asked to write in turn until it sends any step's list (it holds back a word
# piece that ends inside a character; a character has at most 4 bytes).
VOCABULARY_WRITES = (1, 4, 8)
ID_LOOKUPS = 256  # texts looked up per step (a request each, remembered; within timeout): others UNKNOWN_ID


@dataclass(frozen=True)
class Head:
    """The top of one step's distribution as the server gave it, most likely first."""
    token_ids: np.ndarray  # int32; UNKNOWN_ID where the server gave only an ambiguous text
    logprobs: np.ndarray  # float64, natural log, descending
    texts: tuple[str, ...]  # each token's text exactly as the server returned it
    n_asked: int
    before_samplers: bool  # raw model probabilities, untouched by the server's own samplers
    seconds: float
    prompt_exact: bool = True  # False: the server read text that is not (or not known to be) token_ids


def unfinished_pieces(pieces: dict[int, bytes]) -> list[int]:
    """The word pieces whose bytes end inside a character (a first byte, or two of three): llama-server
    holds such a draw back and sends no chances for its step."""
    unfinished = []
    for token, piece in pieces.items():
        for back in range(1, min(4, len(piece)) + 1):
            byte = piece[-back]
            if byte & 0xC0 == 0x80:  # a continuation byte: look further back for the first
                continue
            needed = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
            if needed > back:
                unfinished.append(token)
            break
    return unfinished


class ServerClient(HttpChannel):
    """Talks to one model server: what it is, its word pieces, and one step's top chances."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0, retries: int = 1,
                 allow_other_hosts: bool = False, cancelled: threading.Event | None = None) -> None:
        super().__init__(url, api_key, timeout, retries, allow_other_hosts, cancelled)
        self._kind: str | None = None
        self._extras: bool | None = None  # llama-cpp-python's /extras/tokenize and /extras/detokenize
        self._readable = False  # its tokeniser reads a token's text back as that token
        self._bos: list[int] = []
        self._ids: dict[tuple[str | None, str], int] = {}
        self._verified: dict[str | None, bool] = {}
        self._answered_by: dict[str | None, str] = {}  # the model that wrote the first answer, by model asked

    def models(self) -> list[str]:
        return [str(e.get("id") or e.get("model") or e.get("name")) for e in self.model_entries()]

    def model_entries(self) -> list[dict[str, Any]]:  # as sent; llama-server adds `meta` with n_vocab
        answer = self._request("GET", "/v1/models")
        entries = answer.get("data") or answer.get("models") or []  # llama-server sends both
        if not isinstance(entries, list):
            raise self._malformed()
        return [e for e in entries if isinstance(e, dict)]

    def props(self) -> dict[str, Any]:  # llama-server's /props ({} from other servers)
        return self._request("GET", "/props") if self.kind() == LLAMA_SERVER else {}

    def tokenize(self, text: str, model: str | None = None) -> list[int]:
        """The server's word pieces for `text`: special tokens read as themselves, the beginning-of-text
        token included where the model adds one (as the in-process engine's tokenize)."""
        if self.kind() == LLAMA_SERVER:
            answer = self._request("POST", "/tokenize", {"content": text, "add_special": True,
                                                         "parse_special": True})
            try:
                return [int(t["id"] if isinstance(t, dict) else t) for t in answer.get("tokens", [])]
            except (TypeError, ValueError, KeyError):
                raise self._malformed() from None
        if not self._has_extras():
            raise ServerError(f"The model server at {self.url} cannot split text into numbered word pieces, "
                              "which Synthscope needs (Ollama and LM Studio cannot); use llama.cpp's llama-server.")
        return self._tokenize(text, model, strip=False)

    def detokenize(self, token_ids: list[int], model: str | None = None) -> str:
        """The text of `token_ids` as the server renders it (llama-cpp-python: special tokens as nothing,
        and a refusal (ServerError with a status) for ids that end inside a character)."""
        body = _with_model({"tokens": [int(t) for t in token_ids]}, model)
        if self.kind() == LLAMA_SERVER:
            return str(self._request("POST", "/detokenize", body).get("content", ""))
        if not self._has_extras():
            raise ServerError(f"The model server at {self.url} cannot turn word pieces back into text.")
        return str(self._request("POST", "/extras/detokenize", body).get("text", ""))

    def kind(self) -> str:
        """LLAMA_SERVER where /props answers like llama.cpp's server, else OPENAI (/v1/models)."""
        if self._kind is None:
            try:
                props = self._request("GET", "/props")
            except ServerError as error:
                if error.status not in (404, 405):
                    raise
                props = {}
            llama = "default_generation_settings" in props or "build_info" in props
            try:
                if not llama:
                    self.models()
            except ServerError as error:
                if error.status != 404:
                    raise
                raise ServerError(f"{self.url} does not look like a model server: it offers neither /props "
                                  "nor /v1/models.", 404) from None
            self._kind = LLAMA_SERVER if llama else OPENAI
        return self._kind

    def next_head(self, token_ids: list[int], n: int, model: str | None = None, *,
                  text: str | None = None, avoid: Sequence[int] = ()) -> Head:
        """The n most likely next tokens after token_ids, with raw log-probabilities. OpenAI-compatible
        servers read text only (`text` if given, else the server's detokeniser is asked) and name tokens by
        text: fewer than n may come back, and ids are looked up where the server can (llama-cpp-python).
        `avoid`: llama-server's own draw never picks these (unfinished_pieces: it would send nothing)."""
        if n < 1 or not token_ids or any(not isinstance(t, (int, np.integer)) or t < 0 for t in token_ids):
            raise ValueError("next_head needs at least one token number and n of at least 1")
        started = time.perf_counter()
        if self.kind() == LLAMA_SERVER:
            step = self._native_step(token_ids, n, model, avoid)
            entries, before = step.get("top_logprobs"), True
            if entries is None:  # a server that ignored post_sampling_probs: values after its samplers
                entries, before = step.get("top_probs") or [], False
            rows = self._rows(entries, lambda e: (e["logprob"] if "logprob" in e else
                                                  math.log(e["prob"]) if e["prob"] > 0 else None,
                                                  e.get("token", ""), e["id"]))
            return self._head(rows, n, before, started, True)
        prompt, exact = self._prompt_text(token_ids, model, text)
        rows = self._rows_with_a_word(prompt, n, model, temperature=0.0)
        if model not in self._verified:  # a second temperature shows whether its samplers touch the values
            hot = {t: lp for lp, t, _ in self._rows_with_a_word(prompt, n, model, temperature=1.5)}
            shared = [(lp, hot[t]) for lp, t, _ in rows if t in hot]
            self._verified[model] = bool(shared) and all(abs(a - b) <= 1e-3 for a, b in shared)
        rows = sorted(rows, key=lambda row: -row[0])[:n]
        found = iter(self._token_ids([t for _, t, i in rows if i == UNKNOWN_ID], model, started + self.timeout))
        rows = [(lp, t, next(found) if i == UNKNOWN_ID else i) for lp, t, i in rows]
        return self._head(rows, n, self._verified[model], started, exact)

    def vocabulary_pieces(self, token_ids: list[int], n_vocab: int, model: str | None = None) -> dict[int, bytes]:
        """Every word piece's exact bytes, from one whole-vocabulary step (llama-server only: it sends ids
        and bytes with each entry; one request instead of one per word piece)."""
        if self.kind() != LLAMA_SERVER:
            raise ServerError(f"The model server at {self.url} does not send word pieces by number.")
        step = self._native_step(token_ids, n_vocab, model, writes=VOCABULARY_WRITES)
        pieces: dict[int, bytes] = {}
        try:
            for entry in step.get("top_logprobs") or step.get("top_probs") or []:
                raw = entry.get("bytes")
                pieces[int(entry["id"])] = bytes(raw) if isinstance(raw, list) else str(entry["token"]).encode()
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._malformed() from None
        return pieces

    def _native_step(self, token_ids: list[int], n: int, model: str | None, avoid: Sequence[int] = (),
                     writes: Sequence[int] = (1,)) -> dict[str, Any]:
        """llama-server's first step after token_ids, raw. Its own draw is greedy (the same answer every
        time, whatever its defaults; the chances sent come before its samplers either way) and never one of
        `avoid`: a word piece that ends inside a character is held back, its chances never sent, until the
        character is whole. `writes`: how many word pieces to ask for in turn until one comes back (only
        where any step's list will do)."""
        for n_predict in writes:
            body = _with_model({"prompt": [int(t) for t in token_ids], "n_predict": n_predict, "n_probs": int(n),
                                "temperature": 0.0, "post_sampling_probs": False, "cache_prompt": True,
                                "stream": False,
                                **({"logit_bias": [[int(t), False] for t in avoid]} if avoid else {})}, model)
            answer = self._same_model(self._request("POST", "/completion", body), model)
            if answer.get("completion_probabilities") or answer.get("stop_type") != "limit":
                break
        if not answer.get("completion_probabilities") and answer.get("stop_type") == "limit":
            raise ServerError(f"The model server at {self.url} wrote part of a character and so sent no chances "
                              "for this step.")
        return self._first_step(answer, "completion_probabilities")

    def _rows_with_a_word(self, prompt: str, n: int, model: str | None,
                          temperature: float) -> list[tuple[float, str, int]]:
        # llama-cpp-python sends no log-probabilities when the token it draws ends the text. Its values come
        # before its samplers, so drawing again, hotter and with other seeds, gives the same values.
        for attempt in range(END_RETRIES + 1):
            try:
                return self._completion_rows(prompt, n, model, temperature if attempt == 0 else 2.0, attempt)
            except _EndedText:
                continue
        raise ServerError(f"The model server at {self.url} ended the text at each of {END_RETRIES + 1} draws "
                          "and so gave no chances for this step (llama-server does not have this limit).")

    def _completion_rows(self, prompt: str, n: int, model: str | None, temperature: float,
                         seed: int = 0) -> list[tuple[float, str, int]]:
        # Greedy, no penalties: the token the server draws is its top one, already in the list. (Drawn hotter,
        # a token outside the top n is added to the list and cut off again by next_head.)
        body = _with_model({"prompt": prompt, "max_tokens": 1, "logprobs": int(n), "temperature": temperature,
                            "top_p": 1.0, "repeat_penalty": 1.0, "presence_penalty": 0.0,
                            "frequency_penalty": 0.0, "seed": seed, "stream": False}, model)
        choices = self._same_model(self._request("POST", "/v1/completions", body), model).get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        logprobs = first.get("logprobs") if isinstance(first, dict) else None
        if isinstance(logprobs, dict) and (logprobs.get("top_logprobs") == [] or logprobs.get("content") == []):
            raise _EndedText
        if isinstance(logprobs, dict) and "content" in logprobs:  # the chat format (Ollama; llama-server adds ids)
            entries = self._first_step(logprobs, "content").get("top_logprobs")
            return self._rows(entries, lambda e: (e["logprob"], e["token"], e.get("id", UNKNOWN_ID)))
        tops = self._first_step(logprobs, "top_logprobs")  # {text: logprob}, OpenAI's legacy format
        return self._rows(tops, lambda item: (item[1], item[0], UNKNOWN_ID))

    def _rows(self, entries: Any, read: Any) -> list[tuple[float, str, int]]:
        try:
            entries = list(entries.items()) if isinstance(entries, dict) else list(entries)
            return [(_number(lp), str(text), int(token)) for lp, text, token in map(read, entries)]
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self._malformed() from None

    def _prompt_text(self, token_ids: list[int], model: str | None, text: str | None) -> tuple[str, bool]:
        if text is None:
            if not self._has_extras():
                raise ServerError(f"The model server at {self.url} reads text only and cannot turn word "
                                  "pieces back into text.")
            try:
                body = _with_model({"tokens": [int(t) for t in token_ids]}, model)
                text = str(self._request("POST", "/extras/detokenize", body)["text"])
            except ServerError as error:
                if error.status is None:  # not answering, or stopped: said as it is
                    raise
                raise ServerError(f"The model server at {self.url} could not turn these word pieces back into "
                                  "text (they may end in the middle of a character).") from None
            except KeyError:
                raise self._malformed() from None
        # Its completions read the text exactly as /extras/tokenize does, beginning-of-text token included.
        return text, self._has_extras() and self._tokenize(text, model, strip=False) == [int(t) for t in token_ids]

    def _has_extras(self) -> bool:
        if self._extras is None:
            try:
                self._bos = self._tokenize("", None, strip=False)
                # A tokeniser that adds a space in front (SentencePiece) reads no token's text back as itself.
                probe = {"tokens": self._tokenize("Synthscope", None)}
                self._readable = self._request("POST", "/extras/detokenize", probe).get("text") == "Synthscope"
                self._extras = True
            except ServerError as error:
                if error.status is None:
                    raise
                self._extras = False
        return self._extras

    def _tokenize(self, text: str, model: str | None, strip: bool = True) -> list[int]:
        answer = self._request("POST", "/extras/tokenize", _with_model({"input": text}, model))
        try:
            tokens = [int(t) for t in answer.get("tokens", [])]
        except (TypeError, ValueError):
            raise self._malformed() from None
        return tokens[len(self._bos):] if strip and self._bos and tokens[:len(self._bos)] == self._bos else tokens

    def _token_ids(self, texts: list[str], model: str | None, deadline: float) -> list[int]:
        # Its texts drop special tokens and the stray bytes of split characters, so several tokens can share
        # one ("", " "; the answer then keeps only the least likely one's value): a text names a token only
        # where it reads back as exactly that one.
        if not self._has_extras() or not self._readable:
            return [UNKNOWN_ID] * len(texts)
        for text in [t for t in dict.fromkeys(texts) if t and (model, t) not in self._ids][:ID_LOOKUPS]:
            if time.perf_counter() > deadline:  # the rest wait for a later step
                break
            tokens = self._tokenize(text, model)
            self._ids[model, text] = tokens[0] if len(tokens) == 1 else UNKNOWN_ID
        return [self._ids.get((model, text), UNKNOWN_ID) for text in texts]

    def _head(self, rows: list[tuple[float, str, int]], n: int, before: bool, started: float,
              exact: bool) -> Head:
        rows = sorted(rows, key=lambda row: -row[0])[:n]  # stable: the server's order among ties stays
        ids = np.array([row[2] for row in rows], dtype=np.int32)
        values, counts = np.unique(ids, return_counts=True)
        ids[np.isin(ids, values[counts > 1])] = UNKNOWN_ID  # a token named twice: neither entry can be trusted
        return Head(token_ids=ids, logprobs=np.array([row[0] for row in rows], dtype=np.float64),
                    texts=tuple(row[1] for row in rows), n_asked=int(n), before_samplers=before,
                    seconds=time.perf_counter() - started, prompt_exact=exact)

    def _same_model(self, answer: dict[str, Any], model: str | None) -> dict[str, Any]:
        """The answer, if the model that wrote it is the one that wrote the first: a server restarted with
        another model in the middle of a run would otherwise mix two models' numbers."""
        name = answer.get("model")
        if isinstance(name, str) and name:
            first = self._answered_by.setdefault(model, name)
            if name != first:
                raise ServerError(f"The model server at {self.url} now runs another model ({_file_name(name)}, not "
                                  f"{_file_name(first)}): connect to it again to go on with that one.")
        return answer

    def _first_step(self, answer: Any, key: str) -> dict[str, Any]:
        steps = answer.get(key) if isinstance(answer, dict) else None
        if not isinstance(steps, list) or not steps or not isinstance(steps[0], dict):
            raise ServerError(f"The model server at {self.url} sent no log-probabilities: it may not offer them.")
        return steps[0]

class _EndedText(Exception):  # the server drew an end-of-text token and so listed no chances
    pass


def _file_name(model: str) -> str:
    """A served model's name without the folders (servers name it by its file's path, on any system)."""
    return model.replace("\\", "/").rsplit("/", 1)[-1]


def _with_model(body: dict[str, Any], model: str | None) -> dict[str, Any]:
    return {**body, "model": model} if model else body


def _number(value: Any) -> float:
    if value is None:  # JSON has no -inf; servers send null for it
        return -math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("not a number")
    return float(value)
