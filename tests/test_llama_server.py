"""llama.cpp's own llama-server (built once from the llama.cpp llama-cpp-python vendors) on loopback:
its raw chances are the engine's for the whole vocabulary, and `trace --server` through it writes the
in-process run word piece for word piece, every number flagged exact."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from synthscope.cli.main import main
from synthscope.engine import Engine, EngineConfig
from synthscope.engine.server_client import LLAMA_SERVER, ServerClient, unfinished_pieces
from synthscope.engine.server_http import ServerError
from synthscope.sampling.head import EXACT
from llama_server_build import llama_server
from server_helpers import N_CTX

PROMPTS = ["Once upon a time, there was a little", "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"]
TOLERANCE = 1e-4  # float32 log-softmax in the server against float64 here, on the same logits
SHIFT = 1e-3  # the most the server's float32 normalisation may move every log chance (a 0.1% change)


@pytest.fixture(scope="module")
def server(llama_server_client: ServerClient) -> ServerClient:
    return llama_server_client


@pytest.fixture(scope="module")
def reference(smollm_path: Path, engine_config: EngineConfig) -> Iterator[Engine]:
    with Engine.load(smollm_path, engine_config, n_ctx=N_CTX) as engine:
        yield engine


@pytest.mark.parametrize("prompt", PROMPTS)
def test_the_whole_vocabulary_comes_back_by_number_with_the_engines_raw_chances(
        server: ServerClient, reference: Engine, prompt: str) -> None:
    assert server.kind() == LLAMA_SERVER
    token_ids = reference.tokenize(prompt)
    head = server.next_head(token_ids, reference.n_vocab)
    reference.reset()
    reference.decode(token_ids)
    logits = reference.logits().astype(np.float64)
    expected = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
    assert head.before_samplers and head.prompt_exact
    assert sorted(head.token_ids.tolist()) == list(range(reference.n_vocab))  # every word piece, by number
    finite = head.logprobs > -1e30  # a chance of 0 comes back as -FLT_MAX
    # llama-server normalises with one float32 running sum over the whole vocabulary, so each of its
    # values carries the same small shift (1.5e-4 here); up to that shift the scores are the engine's.
    difference = head.logprobs[finite] - expected[head.token_ids[finite]]
    assert abs(float(np.median(difference))) < SHIFT
    np.testing.assert_allclose(difference, np.median(difference), rtol=0, atol=1e-5)


def trace(tmp_path: Path, name: str, *options: str) -> dict:
    path = tmp_path / f"{name}.json"
    assert main(["trace", "--prompt", PROMPTS[0], "--json", str(path), "--max-tokens", "12", "--seed", "5",
                 "--ignore-eos", *options]) == 0
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("settings", [["--temperature", "1.3", "--top-k", "0", "--top-p", "1.0", "--min-p", "0"],
                                      ["--temperature", "0.8", "--presence-penalty", "0.5", "--frequency-penalty", "0.3"]])
def test_a_run_through_llama_server_is_the_in_process_run_with_every_number_exact(
        server: ServerClient, tmp_path: Path, settings: list[str]) -> None:
    local = trace(tmp_path, "local", *settings)
    remote = trace(tmp_path, "remote", *settings, "--server", server.url)
    assert [s["token_id"] for s in remote["steps"]] == [s["token_id"] for s in local["steps"]]
    for mine, theirs in zip(remote["steps"], local["steps"]):
        assert mine["p_raw"] == pytest.approx(theirs["p_raw"], abs=TOLERANCE)
        assert mine["p_final"] == pytest.approx(theirs["p_final"], abs=TOLERANCE)
        assert mine["entropy_raw"] == pytest.approx(theirs["entropy_raw"], abs=1e-3)
        head = mine["head"]
        assert head["seen"] == head["vocab"] == 49152 and head["prompt_exact"]
        assert {flag for name, flag in head["exact"].items() if flag != "off"} == {EXACT}, head["exact"]


def test_a_step_whose_draw_would_be_part_of_a_character_still_comes_back(server: ServerClient,
                                                                         reference: Engine) -> None:
    """llama-server holds back a word piece it drew that is the start of a character (its first byte
    of three) and never sends that step's chances; the client keeps its draw off such word pieces and
    reads the step's chances, the engine's own."""
    prompt = reference.tokenize("你好，世")
    reference.reset()
    reference.decode(prompt)
    logits = reference.logits().astype(np.float64)
    favourite = int(np.argmax(logits))
    drawn = reference.token_bytes(favourite)
    assert len(drawn) == 1 and 0xE0 <= drawn[0] <= 0xEF  # the greedy draw: the first byte of "界"
    with pytest.raises(ServerError, match="wrote part of a character"):
        server.next_head(prompt, 20)  # drawing it, the server sends nothing: said in words
    avoid = unfinished_pieces({t: reference.token_bytes(t) for t in range(reference.n_vocab)})
    assert favourite in avoid and reference.tokenize(" the", add_special=False)[0] not in avoid
    head = server.next_head(prompt, 20, avoid=avoid)
    expected = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
    assert head.token_ids[0] == favourite  # still listed, with its own chance: only the draw avoids it
    np.testing.assert_allclose(head.logprobs, expected[head.token_ids], atol=SHIFT)


def test_futures_through_a_server_never_write_a_word_piece_it_did_not_list(server: ServerClient) -> None:
    """With only the top 5 listed and every word piece in play, the dice soon land in the unlisted rest:
    the futures stop with the plain sentence instead of writing a word piece the server never offered."""
    from synthscope.engine import EngineError
    from synthscope.engine.remote import RemoteEngine
    from synthscope.sampling import SamplerSettings
    from synthscope.session.futures import write_futures

    engine = RemoteEngine(ServerClient(server.url, timeout=60), head=5, n_ctx=512)
    context = engine.tokenize(PROMPTS[0])
    engine.decode(context)
    with pytest.raises(EngineError, match="landed among the word pieces the server did not list"):
        write_futures(engine, context, SamplerSettings(temperature=2.0, top_k=0, top_p=1.0, min_p=0.0), 50, 2, 3,
                      len(context))
    listed = write_futures(engine, context, SamplerSettings(top_k=5, top_p=1.0, min_p=0.0), 20, 2, 3, len(context))
    assert all(len(f.token_ids) == 2 for f in listed.continuations)  # top-k 5 keeps the draw inside the five


def test_a_base_model_served_by_llama_server_has_no_chat_template(gemma_path: Path, engine_config: EngineConfig,
                                                                  tmp_path: Path) -> None:
    """llama-server gives a model without a chat template its own ChatML one; Synthscope does not take it
    for the model's (Gemma 3 270M base reads <|im_start|> as ordinary word pieces), so the window stays in
    raw text, as with the model file."""
    from server_helpers import llama_server_running
    from synthscope.engine.remote import RemoteEngine

    with llama_server_running(llama_server(), gemma_path, engine_config, tmp_path) as client:
        assert "<|im_start|>" in str(client.props().get("chat_template"))  # the server's stand-in
        engine = RemoteEngine(ServerClient(client.url, timeout=60), head=20, n_ctx=512)
        assert engine.chat_template() is None and not engine.facts.has_chat_template


def test_the_futures_command_through_llama_server_writes_the_in_process_futures(server: ServerClient,
                                                                               tmp_path: Path) -> None:
    common = ["futures", "--prompt", PROMPTS[0], "--n", "16", "--tokens", "3", "--seed", "9", "--top-k", "40"]
    assert main([*common, "--json", str(tmp_path / "local.json")]) == 0
    assert main([*common, "--server", server.url, "--json", str(tmp_path / "served.json")]) == 0
    local, served = (json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8")) for name in ("local", "served"))
    assert [f["token_ids"] for f in served["continuations"]] == [f["token_ids"] for f in local["continuations"]]
    assert served["model"]["path"].startswith(server.url) and "one at a time" in served["note"]
    for mine, theirs in zip(served["tally"], local["tally"]):
        assert mine["token_id"] == theirs["token_id"] and mine["p_final"] == pytest.approx(theirs["p_final"], abs=1e-4)


def test_the_models_command_lists_what_a_server_offers(server: ServerClient, capsys) -> None:
    assert main(["models", "--server", server.url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{server.url}: llama.cpp's llama-server, 1 model"
    assert lines[1].strip().endswith(".gguf  (49,152 word pieces)")
    assert main(["models", "--server", server.url, "--json"]) == 0
    [model] = json.loads(capsys.readouterr().out)
    assert model["kind"] == "llama-server" and model["n_vocab"] == 49152 and model["server"] == server.url
    from server_helpers import free_port

    assert main(["models", "--server", f"http://127.0.0.1:{free_port()}"]) == 2
    assert capsys.readouterr().err.count("\n") == 1  # one plain line


def test_an_old_steps_scores_through_a_server_leave_the_run_where_it_is(server: ServerClient) -> None:
    """A what-if on a step whose logits were let go asks the server for that point; the run's own text, and
    so what the next step continues, stays as it was (a failed request then cannot leave it cut short)."""
    from synthscope.engine.remote import RemoteEngine
    from synthscope.sampling import SamplerSettings
    from synthscope.session import Generator

    engine = RemoteEngine(ServerClient(server.url, timeout=60), head=100, n_ctx=512)
    generator = Generator(engine, seed=4)  # type: ignore[arg-type]
    generator.start(PROMPTS[0])
    generator.generate(SamplerSettings(), 5, ignore_eos=True)
    kept = generator.raw_logits(2)
    generator._logits.clear()  # as after a long run: the budget let them go
    tokens = engine.tokens
    np.testing.assert_allclose(generator.raw_logits(2), kept, atol=1e-6)
    assert engine.tokens == tokens
    generator.close()
