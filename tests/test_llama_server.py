"""llama.cpp's own llama-server (built once from the llama.cpp llama-cpp-python vendors) on loopback:
its raw chances are the engine's for the whole vocabulary, and `trace --server` through it writes the
in-process run word piece for word piece, every number flagged exact."""
from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from synthscope.cli.main import main
from synthscope.engine import Engine, EngineConfig
from synthscope.engine.server_client import LLAMA_SERVER, ServerClient, ServerError
from synthscope.sampling.head import EXACT
from llama_server_build import llama_server
from server_helpers import N_CTX, START_SECONDS, free_port

PROMPTS = ["Once upon a time, there was a little", "<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n"]
TOLERANCE = 1e-4  # float32 log-softmax in the server against float64 here, on the same logits
SHIFT = 1e-3  # the most the server's float32 normalisation may move every log chance (a 0.1% change)


@pytest.fixture(scope="module")
def server(smollm_path: Path, engine_config: EngineConfig,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerClient]:
    """llama-server computing as the engine does: flash attention, KV type, threads, weight layout."""
    binary = llama_server()
    port = free_port()
    kv = engine_config.kv_cache
    command = [str(binary), "-m", str(smollm_path), "--host", "127.0.0.1", "--port", str(port), "-c", str(N_CTX),
               "-b", str(N_CTX), "-ub", str(N_CTX), "-t", str(engine_config.threads), "-tb", str(engine_config.threads),
               "-fa", "on" if engine_config.flash_attention else "off", "-ctk", kv, "-ctv", kv, "-np", "1",
               *([] if engine_config.extra_buffers else ["--no-repack"])]
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        client = ServerClient(f"http://127.0.0.1:{port}", timeout=60, retries=0)
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama-server stopped (code {process.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                client.models()
                break
            except ServerError:  # 503 while the model loads, refused before it listens
                if time.monotonic() > deadline:
                    pytest.fail(f"llama-server did not start within {START_SECONDS} s:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.25)
        yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


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
