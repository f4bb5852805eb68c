"""llama.cpp's grammar sampler (GBNF): which tokens may come next; a child process reads each grammar first."""
from __future__ import annotations

import ctypes
import json
import math
import re
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import llama_cpp
import numpy as np

from synthscope.engine import llama_log
from synthscope.engine.errors import EngineError
from synthscope.engine.model import Engine
from synthscope.engine.probe import crash_name

MAX_GRAMMAR_CHARS = 100_000  # as the settings allow; longer ones (a 200,000-way choice) only hang llama.cpp
CHECK_TIMEOUT_S = 15.0
MAX_STEP_S = 2.0  # a grammar slower than this to check the whole vocabulary once is refused
CHILD_STACK_BYTES = 512 * 1024  # no thread the app runs llama.cpp on has less (a QThread on macOS)
CHECK_FLAG = "--check-grammar"  # the frozen app's entry point runs child_main() for it
RESULT_PREFIX = "SYNTHSCOPE-GRAMMAR "
MAX_REMEMBERED = 256  # verdicts kept per process, so a grammar is checked in a child only once
TOKEN_DATA = np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")], align=True)
if TOKEN_DATA.itemsize != ctypes.sizeof(llama_cpp.llama_token_data):
    raise ImportError("llama_token_data's layout is not (int32 id, float logit, float p)")
_verdicts: dict[tuple[str | None, str, str], str | None] = {}
_verdicts_lock = threading.Lock()


class GrammarError(EngineError):
    """A grammar that cannot be used; str() is one plain sentence naming the problem (llama.cpp's
    parse error reason where it gives one)."""


def check_grammar(gbnf: str, root: str = "root", engine: Engine | None = None,
                  timeout_s: float = CHECK_TIMEOUT_S) -> str | None:
    """None if llama.cpp can use `gbnf`, else one plain sentence why not. llama.cpp reads it in a
    child process, so a grammar that crashes or hangs it costs only that child. Without an engine,
    tokens named by their text (`<think>`) cannot be looked up and are taken on trust."""
    problem = _refuse_early(gbnf, root)
    if problem is not None:
        return problem
    key = (str(engine.path) if engine is not None else None, root, gbnf)
    with _verdicts_lock:
        if key in _verdicts:
            return _verdicts[key]
    verdict, lasting = _check_in_child(gbnf, root, key[0], timeout_s)
    if lasting:
        with _verdicts_lock:
            if len(_verdicts) >= MAX_REMEMBERED:
                _verdicts.clear()
            _verdicts[key] = verdict
    return verdict


def _refuse_early(gbnf: str, root: str) -> str | None:
    if not isinstance(gbnf, str) or not gbnf.strip():
        return 'The grammar is empty; it needs at least one rule, such as root ::= "yes" | "no".'
    if "\0" in gbnf or "\0" in root:
        return "The grammar contains a zero character, which cannot be part of a grammar."
    try:
        gbnf.encode("utf-8")
    except UnicodeEncodeError:
        return "The grammar contains characters that are not valid text."
    if len(gbnf) > MAX_GRAMMAR_CHARS:
        return (f"The grammar is too long: {len(gbnf):,} characters, where at most {MAX_GRAMMAR_CHARS:,} "
                "can be used.")
    if not re.fullmatch(r"[A-Za-z0-9-]+", root):
        return f"The grammar cannot start from “{root}”: rule names are letters, digits and dashes."
    return None


def check_command() -> list[str]:
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: the executable is the app itself
        return [sys.executable, CHECK_FLAG]
    return [sys.executable, "-c",
            "from synthscope.engine.grammar import child_main; raise SystemExit(child_main())"]


def _check_in_child(gbnf: str, root: str, model: str | None, timeout_s: float) -> tuple[str | None, bool]:
    """(verdict, whether it is worth remembering) from a child that parses `gbnf` with llama.cpp."""
    request = json.dumps({"gbnf": gbnf, "root": root, "model": model})
    try:
        done = subprocess.run(check_command(), input=request.encode(), capture_output=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return (f"The grammar is too complicated: llama.cpp was still reading it after {timeout_s:g} "
                "seconds.", False)
    stderr = done.stderr.decode("utf-8", errors="replace")
    for line in done.stdout.decode("utf-8", errors="replace").splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            if result["ok"]:
                return _too_slow(result.get("step_s")), True
            if model is None and "no vocab to parse token" in stderr:
                return None, True  # token names: only the engine's vocabulary can tell (Grammar checks)
            if result.get("unreadable"):
                return "The grammar could not be checked: the model's vocabulary could not be read.", False
            return f"The grammar cannot be used: {_reason(stderr, root)}.", True
    if crash_name(done.returncode) is not None:
        return ("The grammar made llama.cpp crash while reading it; it is probably nested too deeply "
                "or too long.", True)
    return f"The grammar could not be checked (the check stopped with code {done.returncode}).", False


def _too_slow(step_s: float | None) -> str | None:
    if step_s is None or step_s <= MAX_STEP_S:
        return None
    return (f"The grammar is too complicated: finding the word pieces that fit takes {step_s:.1f} "
            "seconds for every word.")


def _reason(stderr: str, root: str) -> str:
    """What llama.cpp printed about the grammar, in plainer words."""
    parsed = re.search(r"error parsing grammar: (.*?)\n\n", stderr, re.S)
    if parsed:
        return _parse_reason(parsed.group(1))
    if "left recursion" in stderr:
        return "a rule begins with itself (left recursion), which llama.cpp cannot follow"
    if "does not contain a" in stderr:
        return f"it has no rule called {root}, where llama.cpp starts"
    if "references undefined rule" in stderr:
        return "it uses a rule it never defines"
    return "it contains no rules" if "failed to parse grammar" in stderr else "llama.cpp refused it"


def _parse_reason(what: str) -> str:
    named = re.match(r"Undefined rule identifier '(.*)'", what)
    if named:
        return f"it uses a rule called {named.group(1)} that it never defines"
    plain = {"Undefined rule": "it uses a rule it never defines",
             "unexpected end of input": "it ends too early (a quote, bracket or parenthesis is not closed)",
             "stoull": "a repetition count is too large", "stoul": "a token number is too large"}
    if what in plain:
        return plain[what]
    if what.startswith("number of repetitions exceeds"):
        return "it repeats something more than 2,000 times"
    if what.startswith("number of rules that are going to be repeated"):
        return "its repetitions multiply to more than 2,000 copies"
    token = re.match(r"invalid token '(.*)'", what, re.S)
    if token:
        return f"{token.group(1)} is not a single token of this model"
    at = re.match(r"(.*?) at (.*)", what, re.S)
    if at:
        problem, place = at.group(1), at.group(2).split("\n", 1)[0].strip()
        place = _visible(place)
        place = f"“{place[:24]}…”" if len(place) > 24 else (f"“{place}”" if place else "the end")
        if problem.startswith("expecting "):
            return f"llama.cpp expected {problem[len('expecting '):]} at {place}"
        if problem == "unknown escape":
            return f"llama.cpp found an unknown escape at {place}"
        return f"{problem} at {place}"
    return what.split("\n", 1)[0][:120]


def _visible(text: str) -> str:
    """`text` on one line: new lines and tabs as \\n and \\t, other control characters as ·."""
    text = text.replace("\n", "\\n").replace("\t", "\\t")
    return "".join(ch if ch.isprintable() else "·" for ch in text)


def child_main() -> int:
    """Runs in the child: parse the grammar of the JSON request on stdin, time one full-vocabulary
    check with the model's vocabulary if one is named, and print one result line."""
    request = json.loads(sys.stdin.buffer.read())
    llama_cpp.llama_backend_init()
    threading.stack_size(CHILD_STACK_BYTES)  # a grammar that fits this stack fits the app's threads
    result: dict[str, object] = {"ok": False}
    worker = threading.Thread(target=lambda: result.update(_check_here(request)))
    worker.start()
    worker.join()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def _check_here(request: dict[str, str | None]) -> dict[str, object]:
    vocab, model = None, None
    if request["model"] is not None:
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        model = llama_cpp.llama_model_load_from_file(str(request["model"]).encode(), params)
        if not model:
            return {"ok": False, "unreadable": True}
        vocab = llama_cpp.llama_model_get_vocab(model)
    gbnf, root = str(request["gbnf"]).encode(), str(request["root"]).encode()
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, gbnf, root)
    if not sampler:
        return {"ok": False}
    step_s = None
    if vocab is not None:
        tokens = TokenBuffer(int(llama_cpp.llama_vocab_n_tokens(vocab)))
        start = time.perf_counter()
        tokens.apply(sampler)
        step_s = time.perf_counter() - start
    return {"ok": True, "step_s": step_s}


class TokenBuffer:
    """A llama_token_data_array over a reused numpy buffer of the token ids 0..n-1 (or one id)."""

    def __init__(self, n: int) -> None:
        self.buffer = np.zeros(n, dtype=TOKEN_DATA)
        self.buffer["id"] = np.arange(n, dtype=np.int32)
        self.array = llama_cpp.llama_token_data_array(
            data=self.buffer.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token_data)),
            size=n, selected=-1, sorted=False)

    def apply(self, sampler: ctypes.c_void_p) -> np.ndarray:
        """True where the sampler left a token's logit finite."""
        self.buffer["logit"] = 0.0
        self.array.size = self.buffer.size
        llama_cpp.llama_sampler_apply(sampler, ctypes.byref(self.array))
        return self.buffer["logit"] != -math.inf


class Grammar:
    """llama.cpp's grammar sampler (GBNF) over an engine's vocabulary: which word pieces may come
    next after the tokens generated so far."""

    def __init__(self, engine: Engine, gbnf: str, root: str = "root") -> None:
        problem = check_grammar(gbnf, root, engine)
        if problem is not None:
            raise GrammarError(problem)
        self._engine = engine
        self._require_model()
        llama_log.recent_errors.clear()
        self._sampler = llama_cpp.llama_sampler_init_grammar(engine._vocab, gbnf.encode(), root.encode())
        if not self._sampler:
            reason = llama_log.last_error() or "llama.cpp refused it"
            raise GrammarError(f"The grammar cannot be used: {reason.rstrip('.')}.")
        self._all = TokenBuffer(engine.n_vocab)
        self._one = TokenBuffer(1)
        self._accepted: list[int] = []
        self._mask: np.ndarray | None = None

    def allowed_after(self, generated: Sequence[int]) -> np.ndarray:
        """bool array of length n_vocab: True where llama.cpp's grammar lets the token follow
        `generated` (the tokens generated since the prompt; the prompt is never fed to the grammar).
        Incremental when `generated` extends the tokens already accepted; otherwise resets and
        accepts them again (a what-if from an earlier step). The array is read-only."""
        self._require_model()
        tokens = [int(t) for t in generated]
        if tokens[:len(self._accepted)] != self._accepted:
            llama_cpp.llama_sampler_reset(self._sampler)  # rebuilds the grammar from its text
            self._accepted, self._mask = [], None
        for token in tokens[len(self._accepted):]:
            self._accept(token)
        if self._mask is None:
            self._mask = self._all.apply(self._sampler)
            self._mask.flags.writeable = False
        return self._mask

    def _accept(self, token: int) -> None:
        """Accept one token, first asking the grammar whether it may come: llama.cpp aborts the
        whole process when it is made to accept a token its grammar does not allow."""
        if not 0 <= token < self._engine.n_vocab:
            raise GrammarError(f"The text so far does not fit the grammar: {token} is not a word piece of "
                               "this model.")
        self._one.buffer["id"][0] = token
        if not self._one.apply(self._sampler)[0]:
            raise GrammarError(self._misfit(token))
        llama_cpp.llama_sampler_accept(self._sampler, token)
        self._accepted.append(token)
        self._mask = None

    def _misfit(self, token: int) -> str:
        so_far = b"".join(self._engine.token_bytes(t) for t in self._accepted).decode("utf-8", errors="replace")
        shown = _visible(so_far if len(so_far) <= 30 else "…" + so_far[-30:])
        where = f"after “{shown}”" if so_far else "at the start"
        start = "The text so far does not fit the grammar:"
        if self._engine.is_end_of_generation(token):
            return f"{start} it cannot end {where}, before the grammar is complete."
        return f"{start} “{_visible(self._engine.token_text(token))}” cannot come {where}."

    def _require_model(self) -> None:
        if self._engine._model is None:  # the vocabulary the grammar reads is gone with the model
            raise GrammarError("The grammar cannot be used: its model has been closed.")
        if getattr(self, "_sampler", True) is None:
            raise GrammarError("The grammar cannot be used after it has been closed.")

    def close(self) -> None:
        sampler, self._sampler = getattr(self, "_sampler", None), None
        if sampler:
            llama_cpp.llama_sampler_free(sampler)

    def __enter__(self) -> Grammar:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

