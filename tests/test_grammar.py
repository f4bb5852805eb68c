"""The grammar stage: masks agree with llama.cpp's grammar sampler and the texts; bad grammars are refused safely."""
from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from llama_reference import TokenArray

from synthscope.engine import Engine, open_engine
from synthscope.engine.grammar import MAX_GRAMMAR_CHARS, Grammar, GrammarError, check_grammar

DIGITS = "root ::= [0-9]+"
YES_NO = 'root ::= "yes" | "no"'
JSONISH = ('root ::= "{" ws "\\"name\\"" ws ":" ws string ws "," ws "\\"age\\"" ws ":" ws [0-9]+ ws "}"\n'
           'string ::= "\\"" [a-zA-Z ]* "\\""\n'
           "ws ::= [ \\t\\n]*\n")


def oracle_mask(engine: Engine, gbnf: str, generated: Sequence[int]) -> np.ndarray:
    """llama.cpp's grammar sampler applied directly to the whole vocabulary after `generated`."""
    sampler = llama_cpp.llama_sampler_init_grammar(engine._vocab, gbnf.encode(), b"root")
    assert sampler
    try:
        for token in generated:
            llama_cpp.llama_sampler_accept(sampler, token)
        tokens = TokenArray(np.zeros(engine.n_vocab, dtype=np.float32))
        tokens.apply(sampler)
        return tokens.buffer["logit"] != -np.inf
    finally:
        llama_cpp.llama_sampler_free(sampler)


def texts(engine: Engine) -> list[bytes]:
    return [engine.token_bytes(t) for t in range(engine.n_vocab)]


def ends(engine: Engine) -> np.ndarray:
    return np.array([engine.is_end_of_generation(t) for t in range(engine.n_vocab)])


@pytest.fixture(scope="module")
def digits(smollm_engine: Engine) -> Iterator[Grammar]:
    with Grammar(smollm_engine, DIGITS) as grammar:
        yield grammar


def test_digits_allow_only_digit_pieces_and_an_end_once_complete(smollm_engine: Engine,
                                                                  digits: Grammar) -> None:
    pieces, eog = texts(smollm_engine), ends(smollm_engine)
    only_digits = np.array([bool(p) and p.isdigit() for p in pieces])
    start = digits.allowed_after([])
    np.testing.assert_array_equal(start, only_digits)
    for text, allowed in (("7", True), ("2024", True), (" 7", False), ("a", False), ("7a", False),
                          (".", False)):
        ids = smollm_engine.tokenize(text, add_special=False)
        assert len(ids) > 1 or start[ids[0]] == allowed, text
    after = digits.allowed_after(smollm_engine.tokenize("12", add_special=False))
    np.testing.assert_array_equal(after, only_digits | eog)
    assert eog.any() and not start[eog].any()


def test_yes_or_no_allows_exactly_the_prefixes(smollm_engine: Engine) -> None:
    pieces, eog = texts(smollm_engine), ends(smollm_engine)
    with Grammar(smollm_engine, YES_NO) as grammar:
        np.testing.assert_array_equal(grammar.allowed_after([]), np.array(
            [bool(p) and (b"yes".startswith(p) or b"no".startswith(p)) for p in pieces]))
        y = smollm_engine.tokenize("y", add_special=False)
        rest = np.array([bool(p) and b"es".startswith(p) for p in pieces])
        np.testing.assert_array_equal(grammar.allowed_after(y), rest)
        yes = smollm_engine.tokenize("yes", add_special=False)
        np.testing.assert_array_equal(grammar.allowed_after(yes), eog)


def test_jsonish_shape_matches_llama_cpp_at_every_step(smollm_engine: Engine) -> None:
    text = '{"name": "Ada Lovelace",\n "age": 36}'
    tokens = smollm_engine.tokenize(text, add_special=False)
    with Grammar(smollm_engine, JSONISH) as grammar:
        for n in range(len(tokens) + 1):
            mask = grammar.allowed_after(tokens[:n])
            np.testing.assert_array_equal(mask, oracle_mask(smollm_engine, JSONISH, tokens[:n]))
            assert mask[tokens[n]] if n < len(tokens) else mask.any()
        np.testing.assert_array_equal(mask, ends(smollm_engine))  # complete: only an end may follow
        with pytest.raises(GrammarError, match=r'^[^\n]* cannot come after “\{\\n "name": ”\.$'):
            grammar.allowed_after(smollm_engine.tokenize('{\n "name": 5', add_special=False))


def test_going_back_gives_the_masks_of_a_fresh_grammar(smollm_engine: Engine, digits: Grammar) -> None:
    a = smollm_engine.tokenize("31415926", add_special=False)
    b = smollm_engine.tokenize("2718", add_special=False)
    walk = [a[:2], a, a[:1], [], b, b[:1] + a[1:], a[:3]]
    with Grammar(smollm_engine, JSONISH) as jsonish:
        brace = smollm_engine.tokenize('{"name": "x", "age": 1}', add_special=False)
        for generated in walk:
            mask = digits.allowed_after(generated)
            with Grammar(smollm_engine, DIGITS) as fresh:
                np.testing.assert_array_equal(mask, fresh.allowed_after(generated))
            np.testing.assert_array_equal(mask, oracle_mask(smollm_engine, DIGITS, generated))
            part = brace[:len(generated) + 2]
            np.testing.assert_array_equal(jsonish.allowed_after(part),
                                          oracle_mask(smollm_engine, JSONISH, part))


def test_mask_is_read_only_and_reused(digits: Grammar, smollm_engine: Engine) -> None:
    generated = smollm_engine.tokenize("42", add_special=False)
    first = digits.allowed_after(generated)
    assert first.dtype == bool and first.shape == (smollm_engine.n_vocab,) and not first.flags.writeable
    assert digits.allowed_after(list(generated)) is first


def test_text_that_does_not_fit_is_refused_in_words(smollm_engine: Engine, digits: Grammar) -> None:
    bad = smollm_engine.tokenize("12a", add_special=False)
    refused = "^The text so far does not fit the grammar: “a” cannot come after “12”.$"
    with pytest.raises(GrammarError, match=refused) as caught:
        digits.allowed_after(bad)
    assert "\n" not in str(caught.value)
    eos = next(t for t in range(smollm_engine.n_vocab) if smollm_engine.is_end_of_generation(t))
    with pytest.raises(GrammarError, match="cannot end at the start"):
        digits.allowed_after([eos])
    with pytest.raises(GrammarError, match="not a word piece"):
        digits.allowed_after([smollm_engine.n_vocab])
    good = smollm_engine.tokenize("12", add_special=False)
    ended = good + [eos]  # an end is accepted once the grammar is complete, and changes nothing
    np.testing.assert_array_equal(digits.allowed_after(ended), oracle_mask(smollm_engine, DIGITS, ended))
    np.testing.assert_array_equal(digits.allowed_after(good), oracle_mask(smollm_engine, DIGITS, good))


def deep(n: int) -> str:
    return "root ::= " + "(" * n + '"a"' + ")" * n


def left_recursion_blowup(n: int) -> str:
    """llama.cpp's left-recursion check follows both alternatives of every rule: 2^n steps."""
    return "root ::= a0\n" + "".join(f"a{i} ::= a{i + 1} | a{i + 1}\n" for i in range(n)) + f'a{n} ::= "x"\n'


@pytest.mark.parametrize(("gbnf", "words"), [
    ("", "empty"),
    ("   \n# only a comment\n", "no rules"),
    ("# only a comment\nroot", "expected ::="),
    ("root ::= [0-9", "ends too early"),
    ("root ::= root \"a\" | \"b\"", "left recursion"),
    ("root ::= digit+", "rule called digit that it never defines"),
    ('item ::= "a"', "no rule called root"),
    ('root ::= "\\q"', "unknown escape"),
    ('root ::= "a"{5000}', "more than 2,000 times"),
    ("root ::= " + " | ".join(f'"w{i}"' for i in range(20_000)), "too long"),
    ("\x00\x01binary\xff\xfe junk", "zero character"),
    (bytes(range(1, 256)).decode("latin-1") * 4, "expected name"),
    ("root ::= \"\ud800\"", "not valid text"),
    (deep(5000), "crash"),
])
def test_bad_grammars_are_refused_in_one_plain_sentence(smollm_engine: Engine, gbnf: str, words: str) -> None:
    with pytest.raises(GrammarError) as caught:
        Grammar(smollm_engine, gbnf)
    message = str(caught.value)
    assert words in message and message.endswith(".") and "\n" not in message and len(message) < 200
    assert check_grammar(gbnf, engine=smollm_engine) == message
    smollm_engine.decode(smollm_engine.tokenize("Still alive"))  # the process (and llama.cpp) carries on
    smollm_engine.reset()


def test_a_grammar_that_hangs_llama_cpp_is_stopped() -> None:
    start = time.perf_counter()
    message = check_grammar(left_recursion_blowup(40), timeout_s=2)
    assert message is not None and "too complicated" in message
    assert time.perf_counter() - start < 10


def test_tokens_named_in_a_grammar(smollm_engine: Engine) -> None:
    named = 'root ::= "hi" <|im_start|>'
    assert check_grammar(named) is None  # without a vocabulary the name is taken on trust
    with Grammar(smollm_engine, named) as grammar:
        hi = smollm_engine.tokenize("hi", add_special=False)
        mask = grammar.allowed_after(hi)
        assert mask[smollm_engine.tokenize("<|im_start|>", add_special=False)].sum() == 1 == mask.sum()
        np.testing.assert_array_equal(mask, oracle_mask(smollm_engine, named, hi))
    assert "not a single token" in check_grammar("root ::= <no such token>", engine=smollm_engine)
    assert MAX_GRAMMAR_CHARS >= 16_384


def test_closed_grammar_and_closed_model_refuse_in_words(smollm_path: Path) -> None:
    engine = open_engine(smollm_path, n_ctx=64, probe=False)
    grammar = Grammar(engine, DIGITS)
    engine.close()
    with pytest.raises(GrammarError, match="model has been closed"):
        grammar.allowed_after([])
    grammar.close()
    grammar.close()


def test_gemma_mask_matches_llama_cpp_and_is_quick(gemma_path: Path, smollm_engine: Engine,
                                                  digits: Grammar) -> None:
    step = smollm_engine.tokenize("2", add_special=False)
    timings = {"smollm": per_step(digits, step)}
    with open_engine(gemma_path, n_ctx=64, probe=False) as gemma, Grammar(gemma, JSONISH) as grammar:
        tokens = gemma.tokenize('{"name": "Ada", "age": 36}', add_special=False)
        for n in (0, 3, len(tokens)):
            np.testing.assert_array_equal(grammar.allowed_after(tokens[:n]),
                                          oracle_mask(gemma, JSONISH, tokens[:n]))
        timings["gemma"] = per_step(grammar, tokens[:4])
    print(f"grammar mask per step: {timings}")
    assert timings["smollm"] < 0.5 and timings["gemma"] < 2.0


def per_step(grammar: Grammar, generated: list[int]) -> float:
    """Seconds for one full-vocabulary mask after one new token (the best of three)."""
    best = np.inf
    for _ in range(3):
        grammar.allowed_after(generated[:-1])
        start = time.perf_counter()
        grammar.allowed_after(generated)
        best = min(best, time.perf_counter() - start)
    return float(best)
