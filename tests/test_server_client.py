"""The model-server client against a real llama-cpp-python server on loopback, and fake servers that misbehave."""
from __future__ import annotations

import ctypes
import dataclasses
import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from synthscope.engine import Engine, EngineConfig
from synthscope.engine.server_client import LLAMA_SERVER, OPENAI, UNKNOWN_ID, ServerClient, unfinished_pieces
from synthscope.engine.server_http import ServerError, check_address
from server_helpers import N_CTX, free_port, running_server

# Both sides run the same llama.cpp build with the same settings, so the logits are the same floats; what is
# left is the log-softmax: the server's is float32 ((x - max) - log Σ exp), ours float64. A few float32 ulps
# of values up to ~30 in size stay far below 1e-4.
TOLERANCE = 1e-4
PROMPTS = ["The capital of France is", "def fibonacci(n):\n    if n <", "Once upon a time, there was a little"]


@pytest.fixture(scope="module")
def server(smollm_path: Path, engine_config: EngineConfig,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerClient]:
    """llama-cpp-python's own server on a free loopback port, computing exactly as the engine does."""
    with running_server(smollm_path, engine_config, tmp_path_factory.mktemp("server"), N_CTX) as client:
        yield client


@pytest.fixture(scope="module")
def reference(smollm_path: Path, engine_config: EngineConfig) -> Iterator[Engine]:
    with Engine.load(smollm_path, engine_config, n_ctx=N_CTX) as engine:
        yield engine


def raw_logprobs(engine: Engine, token_ids: list[int]) -> np.ndarray:
    """The in-process engine's raw next-token log-softmax, in float64."""
    engine.reset()
    engine.decode(token_ids)
    logits = engine.logits().astype(np.float64)
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


# -- the real server ---------------------------------------------------------------------------------
def test_the_server_lists_its_model_and_is_openai_compatible(server: ServerClient, smollm_path: Path) -> None:
    models = server.models()
    assert len(models) == 1 and Path(models[0]).name == smollm_path.name
    assert server.kind() == OPENAI


@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_head_is_the_engines_raw_softmax(server: ServerClient, reference: Engine, prompt: str) -> None:
    token_ids = reference.tokenize(prompt)
    head = server.next_head(token_ids, 20)
    expected = raw_logprobs(reference, token_ids)
    top = np.sort(expected)[::-1]
    assert head.prompt_exact and head.before_samplers and head.n_asked == 20
    assert head.token_ids.dtype == np.int32 and head.logprobs.dtype == np.float64
    assert len(head.token_ids) == len(head.logprobs) == len(head.texts) == 20
    assert np.all(np.diff(head.logprobs) <= 0)
    assert np.all(head.token_ids != UNKNOWN_ID) and len(set(head.token_ids.tolist())) == 20
    # Rank by rank, up to ties: each id's own raw value is the value of that rank.
    np.testing.assert_allclose(expected[head.token_ids], top[:20], rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(head.logprobs, top[:20], rtol=0, atol=TOLERANCE)
    assert head.texts == tuple(reference.token_text(int(t)) for t in head.token_ids)
    assert 0 < head.seconds < 30


def test_a_server_in_the_safe_weight_layout_agrees_with_the_engine_in_it(smollm_path: Path, tmp_path: Path,
                                                                        engine_config: EngineConfig) -> None:
    """Where the machine's check turns llama.cpp's repacked layouts off (they crash on some Xeons), the
    suite's server is started without them too: that start must work on every machine."""
    safe = dataclasses.replace(engine_config, extra_buffers=False)
    with running_server(smollm_path, safe, tmp_path) as client, Engine.load(smollm_path, safe, n_ctx=N_CTX) as engine:
        token_ids = engine.tokenize(PROMPTS[0])
        head = client.next_head(token_ids, 10)
        expected = raw_logprobs(engine, token_ids)
    np.testing.assert_allclose(head.logprobs, np.sort(expected)[::-1][:10], rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("n", [1, 5, 40])
def test_it_returns_as_many_as_asked(server: ServerClient, reference: Engine, n: int) -> None:
    head = server.next_head(reference.tokenize(PROMPTS[0]), n)
    assert head.n_asked == n and len(head.token_ids) == n


def server_texts(engine: Engine) -> dict[str, list[int]]:
    """Every token under the text llama-cpp-python's server gives it: special tokens rendered as nothing and
    the stray bytes of a split character dropped, so several tokens can share one text."""
    vocab, buffer = llama_cpp.llama_model_get_vocab(engine.model_pointer), ctypes.create_string_buffer(256)
    texts: dict[str, list[int]] = {}
    for token in range(engine.n_vocab):
        size = llama_cpp.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, False)
        texts.setdefault(buffer.raw[:size].decode("utf-8", errors="ignore"), []).append(token)
    return texts


def test_asking_for_more_than_the_vocabulary_gives_one_value_per_text(server: ServerClient,
                                                                     reference: Engine) -> None:
    token_ids = reference.tokenize(PROMPTS[2])
    head = server.next_head(token_ids, 60_000)
    expected = raw_logprobs(reference, token_ids)
    sharers = server_texts(reference)
    # No cap, but the answer is keyed by text, one entry per distinct text. Where tokens share a text (" " for
    # 38 of them) the value is the least likely one's and the others are lost; tokens longer than 32 bytes
    # come out as runs of NUL characters (llama-cpp-python's detokeniser has a 32-byte buffer).
    assert head.n_asked == 60_000 and 0.98 * len(sharers) < len(head.texts) <= len(sharers)
    assert len(set(head.texts)) == len(head.texts)
    unique = [i for i, t in enumerate(head.texts) if len(sharers.get(t, ())) == 1 and "\x00" not in t]
    assert len(unique) > 0.98 * len(head.texts)
    np.testing.assert_allclose(head.logprobs[unique], [expected[sharers[head.texts[i]][0]] for i in unique],
                               rtol=0, atol=TOLERANCE)
    space = head.texts.index(" ")
    assert head.logprobs[space] == pytest.approx(expected[sharers[" "]].min(), abs=TOLERANCE)
    known = head.token_ids != UNKNOWN_ID
    assert known[:200].all() and known.sum() < 2000  # ids are looked up for at most 256 new texts a step
    np.testing.assert_array_equal(head.token_ids[unique][known[unique]],
                                  [sharers[head.texts[i]][0] for i in unique if known[i]])
    assert all(i == UNKNOWN_ID for i, t in zip(head.token_ids, head.texts) if t == "")


def test_a_text_that_reads_back_as_other_tokens_is_flagged(server: ServerClient, reference: Engine) -> None:
    token_ids = reference.tokenize(" Par", add_special=False) + reference.tokenize("is", add_special=False)
    assert reference.tokenize(" Paris", add_special=False) != token_ids
    assert not server.next_head(token_ids, 5).prompt_exact


def test_special_tokens_go_through_as_text(server: ServerClient, reference: Engine) -> None:
    text = "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"
    token_ids = reference.tokenize(text)
    head = server.next_head(token_ids, 10, text=text)
    assert head.prompt_exact
    np.testing.assert_allclose(head.logprobs, np.sort(raw_logprobs(reference, token_ids))[::-1][:10],
                               rtol=0, atol=TOLERANCE)


def test_word_pieces_that_end_inside_a_character_give_a_plain_error(server: ServerClient,
                                                                    reference: Engine) -> None:
    piece = next(t for t in range(reference.n_vocab) if reference.token_bytes(t) == b"\xa1")
    with pytest.raises(ServerError, match="middle of a character"):
        server.next_head([piece], 5)


# -- failures, fast and in plain words --------------------------------------------------------------
def plain(error: pytest.ExceptionInfo[ServerError]) -> str:
    message = str(error.value)
    assert "\n" not in message and "Traceback" not in message and "Errno" not in message
    return message


def test_a_refused_connection_fails_fast() -> None:
    client = ServerClient(f"http://127.0.0.1:{free_port()}", timeout=10, retries=3)
    started = time.monotonic()
    with pytest.raises(ServerError) as error:
        client.models()
    assert time.monotonic() - started < 3
    assert "Nothing is answering" in plain(error)


class FakeServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), FakeHandler)
        self.behaviour = "ok"
        self.model_name = "/models/tiny.gguf"  # what its answers say wrote them
        self.requests: list[tuple[str, str, dict]] = []
        self.keys: list[str | None] = []
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FakeHandler(http.server.BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, *_args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.answer({})

    def do_POST(self) -> None:
        self.answer(json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}"))

    def answer(self, body: dict) -> None:
        self.server.requests.append((self.command, self.path, body))
        self.server.keys.append(self.headers.get("Authorization"))
        behaviour = self.server.behaviour
        if behaviour == "slow":
            self.server.stop.wait(10)
            return
        if behaviour == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                if self.server.stop.wait(0.3):
                    return
                self.wfile.write(b" ")
                self.wfile.flush()
            return
        if behaviour == "drop":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b'{"data": [')
            return
        status, payload = {
            "malformed": (200, b'{"data": [oops'),
            "error": (500, json.dumps({"error": {"message": "the model\nexploded " + "x" * 500}}).encode()),
            "locked": (401, b'{"error": {"message": "Invalid API key"}}'),
            "not-found": (404, b'{"detail": "Not Found"}'),
        }.get(behaviour) or self.route(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def route(self, body: dict) -> tuple[int, bytes]:
        """A llama-server ("ok") or an Ollama ("ollama") answering correctly."""
        if self.path == "/props":
            if self.server.behaviour == "ollama":
                return 404, b'{"error": "404 page not found"}'
            return 200, json.dumps({"default_generation_settings": {}, "build_info": "b1"}).encode()
        if self.path == "/v1/models":
            return 200, json.dumps({"object": "list", "data": [{"id": "tiny"}]}).encode()
        if self.path == "/completion":
            top = [{"id": 9, "token": " b", "bytes": [32, 98], "logprob": -2.5},
                   {"id": 7, "token": " a", "bytes": [32, 97], "logprob": -0.1},
                   {"id": 3, "token": "\ufffd", "bytes": [226], "logprob": -3.0}][:body["n_probs"]]
            step = {"id": 7, "token": " a", "bytes": [32, 97], "logprob": -0.1, "top_logprobs": top}
            if self.server.behaviour == "post":  # what a server that ignores post_sampling_probs: false sends
                step = {"id": 7, "token": " a", "prob": 0.75, "top_probs": [
                    {"id": 7, "token": " a", "prob": 0.75}, {"id": 9, "token": " b", "prob": 0.25}]}
            return 200, json.dumps({"content": " a", "model": self.server.model_name,
                                    "completion_probabilities": [step]}).encode()
        if self.path == "/v1/completions":
            top = [{"token": " yes", "logprob": -0.5, "bytes": [32, 121, 101, 115]},
                   {"token": " no", "logprob": -1.25, "bytes": [32, 110, 111]}]
            step = {"token": " yes", "logprob": -0.5, "top_logprobs": top}
            return 200, json.dumps({"choices": [{"text": " yes", "logprobs": {"content": [step]}}]}).encode()
        return 404, b'{"error": "not found"}'


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.parametrize("behaviour, words", [
    ("malformed", "not JSON"),
    ("error", "refused /v1/models (500): the model"),
    ("locked", "asks for an API key"),
    ("not-found", "refused /v1/models (404)"),
])
def test_a_bad_answer_gives_one_plain_sentence(fake: FakeServer, behaviour: str, words: str) -> None:
    fake.behaviour = behaviour
    with pytest.raises(ServerError) as error:
        ServerClient(fake.url, timeout=5, retries=2).models()
    message = plain(error)
    assert words in message and "exploded" not in message and len(message) < 320
    assert len(fake.requests) == 1  # an answer, even a bad one, is not tried again


@pytest.mark.parametrize("behaviour", ["slow", "trickle"])
def test_a_server_that_takes_too_long_is_given_up_on_in_time(fake: FakeServer, behaviour: str) -> None:
    fake.behaviour = behaviour
    started = time.monotonic()
    with pytest.raises(ServerError) as error:
        ServerClient(fake.url, timeout=1, retries=0).models()
    assert time.monotonic() - started < 2
    assert "did not answer within 1 seconds" in plain(error)


def test_a_connection_dropped_mid_answer_is_retried_then_reported(fake: FakeServer) -> None:
    fake.behaviour = "drop"
    with pytest.raises(ServerError) as error:
        ServerClient(fake.url, timeout=5, retries=1).models()
    assert "closed the connection before its answer was complete" in plain(error)
    assert len(fake.requests) == 2


def test_a_llama_server_is_asked_for_raw_probabilities_by_token_ids(fake: FakeServer) -> None:
    client = ServerClient(fake.url, api_key="secret")
    assert client.kind() == LLAMA_SERVER
    head = client.next_head([1, 2, 3], 3)
    method, path, body = fake.requests[-1]
    assert (method, path) == ("POST", "/completion")
    assert body == {"prompt": [1, 2, 3], "n_predict": 1, "n_probs": 3, "post_sampling_probs": False,
                    "cache_prompt": True, "stream": False, "temperature": 0.0}
    assert head.token_ids.tolist() == [7, 9, 3] and head.texts == (" a", " b", "\ufffd")
    np.testing.assert_array_equal(head.logprobs, [-0.1, -2.5, -3.0])
    assert head.before_samplers and head.prompt_exact and head.n_asked == 3
    assert len(client.next_head([1], 2).token_ids) == 2
    assert set(fake.keys) == {"Bearer secret"}


def test_probabilities_after_the_servers_samplers_are_marked_so(fake: FakeServer) -> None:
    fake.behaviour = "post"
    head = ServerClient(fake.url).next_head([1, 2], 5)
    assert not head.before_samplers and head.token_ids.tolist() == [7, 9]
    np.testing.assert_allclose(head.logprobs, np.log([0.75, 0.25]))


def test_an_ollama_style_answer_has_texts_but_no_ids(fake: FakeServer) -> None:
    fake.behaviour = "ollama"
    client = ServerClient(fake.url)
    assert client.kind() == OPENAI and client.models() == ["tiny"]
    head = client.next_head([5, 6], 2, "tiny", text="Is it?")
    assert head.texts == (" yes", " no") and head.token_ids.tolist() == [UNKNOWN_ID, UNKNOWN_ID]
    assert head.before_samplers and not head.prompt_exact  # same values at two temperatures; text unchecked
    sent = [body for _, path, body in fake.requests if path == "/v1/completions"]
    assert {b["temperature"] for b in sent} == {0.0, 1.5}
    assert all(b["prompt"] == "Is it?" and b["logprobs"] == 2 and b["max_tokens"] == 1 for b in sent)
    with pytest.raises(ServerError, match="reads text only"):
        client.next_head([5, 6], 2, "tiny")


# -- addresses ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:11434", "http://192.168.1.5:1234",
                                 "http://10.0.0.2", "https://172.16.3.4", "http://[::1]:8080",
                                 "http://169.254.10.1", "http://[fd00::5]:80", "http://studio.local:1234",
                                 "http://[::ffff:127.0.0.1]:8080"])
def test_addresses_at_home_are_accepted(url: str) -> None:
    assert check_address(url) == url


@pytest.mark.parametrize("url", ["http://8.8.8.8", "https://example.com", "http://172.32.0.1",
                                 "http://[2001:4860:4860::8888]", "http://[::ffff:8.8.8.8]", "http://mybox"])
def test_other_hosts_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ServerError, match="not on this computer or your local network"):
        check_address(url)
    with pytest.raises(ServerError):
        ServerClient(url)
    assert check_address(url, allow_other_hosts=True) == url


@pytest.mark.parametrize("url, words", [("ftp://127.0.0.1", "must start with http"),
                                        ("file:///etc/passwd", "must start with http"),
                                        ("127.0.0.1:8080", "must start with http"),
                                        ("http://user:pw@127.0.0.1", "API key in its own box"),
                                        ("http://127.0.0.1:99999", "not a number from 1 to 65535")])
def test_other_schemes_and_odd_addresses_are_refused_even_when_allowed(url: str, words: str) -> None:
    with pytest.raises(ServerError, match=words):
        check_address(url, allow_other_hosts=True)


def test_an_openai_base_address_is_trimmed_to_the_server() -> None:
    assert check_address(" http://127.0.0.1:1234/v1/ ") == "http://127.0.0.1:1234"
    assert check_address("http://localhost:8080/proxy/") == "http://localhost:8080/proxy"


def test_word_pieces_that_end_inside_a_character_are_the_ones_a_server_draw_must_avoid() -> None:
    pieces = {0: b"a", 1: b"\xe7", 2: b"\xe3\x81", 3: "あ".encode(), 4: b" \xf0\x9f", 5: b"\x80", 6: b"",
              7: "é".encode(), 8: b"ab\xc3", 9: "🍕".encode(), 10: b"\xf0\x9f\x8d"}
    assert unfinished_pieces(pieces) == [1, 2, 4, 8, 10]


def test_a_llama_server_draw_is_kept_off_the_word_pieces_it_would_hold_back(fake: FakeServer) -> None:
    client = ServerClient(fake.url)
    client.next_head([1, 2, 3], 3, avoid=[7, 9])
    assert fake.requests[-1][2]["logit_bias"] == [[7, False], [9, False]]


def test_a_server_restarted_with_another_model_mid_run_is_one_plain_line(fake: FakeServer) -> None:
    """Two models' numbers are never mixed: the answers name the model that wrote them."""
    client = ServerClient(fake.url)
    client.next_head([1, 2, 3], 3)
    client.next_head([1, 2, 3, 7], 3)
    fake.model_name = "C:\\models\\other.gguf"
    with pytest.raises(ServerError, match=r"now runs another model \(other.gguf, not tiny.gguf\): connect"):
        client.next_head([1, 2, 3, 7, 9], 3)
