"""Synthscope's chain and dice on a model server's head: the rebuilt logits, `trace --server`, the exactness flags."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from synthscope.cli.main import main
from synthscope.engine import EngineConfig
from synthscope.engine.remote import RemoteEngine
from synthscope.engine.server_client import ServerClient
from synthscope.sampling import SamplerSettings, run_chain
from synthscope.sampling.head import (APPROXIMATE, EXACT, OFF, UPPER_BOUND, head_exactness, logits_from_head,
                                      tail_mass)
from server_helpers import free_port, running_server

PROMPT = "Once upon a time, there was a little"  # no word piece near the top shares its text with another
CUTS = ["--top-k", "10", "--top-p", "0.9", "--temperature", "0.8"]
TAIL = ["--top-k", "0", "--top-p", "1.0", "--min-p", "0"]


@pytest.fixture(scope="module")
def server(smollm_path: Path, engine_config: EngineConfig,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerClient]:
    with running_server(smollm_path, engine_config, tmp_path_factory.mktemp("server")) as client:
        yield client


def trace(tmp_path: Path, name: str, *options: str) -> dict:
    path = tmp_path / f"{name}.json"
    assert main(["trace", "--prompt", PROMPT, "--json", str(path), *options]) == 0
    return json.loads(path.read_text(encoding="utf-8"))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max()
    return np.exp(shifted) / np.exp(shifted).sum()


# -- (a) the rebuilt logits ---------------------------------------------------------------------------
def test_the_rebuilt_logits_give_each_listed_chance_and_the_tail_its_mass(server: ServerClient) -> None:
    with RemoteEngine(server, head=50) as engine:
        engine.decode(engine.tokenize(PROMPT))
        head = server.next_head(list(engine.tokens), 50)
        known = head.token_ids >= 0
        chances = softmax(logits_from_head(head.token_ids, head.logprobs, engine.n_vocab))
        np.testing.assert_allclose(chances[head.token_ids[known]], np.exp(head.logprobs[known]), rtol=0, atol=1e-6)
        unseen = np.ones(engine.n_vocab, dtype=bool)
        unseen[head.token_ids[known]] = False
        assert chances[unseen].sum() == pytest.approx(tail_mass(head.logprobs, head.token_ids), abs=1e-6)
        assert np.ptp(chances[unseen]) < 1e-12  # spread evenly: the highest-entropy guess
        np.testing.assert_array_equal(engine.logits(), logits_from_head(head.token_ids, head.logprobs,
                                                                        engine.n_vocab))


def test_a_list_that_sums_to_one_leaves_the_unlisted_almost_nothing() -> None:
    logits = logits_from_head(np.array([2, 0, -1]), np.log([0.75, 0.25, 0.1]), 5)
    chances = softmax(logits)
    np.testing.assert_allclose(chances[[2, 0]], [0.75, 0.25], atol=1e-12)
    assert chances[[1, 3, 4]].max() < 1e-20  # the entry without an id gives its chance to nobody in particular
    with pytest.raises(ValueError):
        logits_from_head(np.array([7]), np.array([-0.1]), 5)


# -- (b) the same run as in-process -------------------------------------------------------------------
def test_trace_through_the_server_writes_the_in_process_tokens(server: ServerClient, tmp_path: Path) -> None:
    local = trace(tmp_path, "local", *CUTS, "--seed", "7", "--max-tokens", "8")
    remote = trace(tmp_path, "remote", *CUTS, "--seed", "7", "--max-tokens", "8", "--server", server.url,
                   "--head", "1000")
    assert [s["token_id"] for s in remote["steps"]] == [s["token_id"] for s in local["steps"]]
    assert remote["text"] == local["text"] and len(remote["steps"]) == 8
    np.testing.assert_allclose([s["p_raw"] for s in remote["steps"]], [s["p_raw"] for s in local["steps"]],
                               rtol=0, atol=1e-4)
    assert all(s["head"]["prompt_exact"] and s["head"]["chosen_is_seen"] for s in remote["steps"])
    for key in ("server", "engine"):
        assert remote[key]["server"] == server.url and remote[key]["head"] == 1000
        assert remote[key]["vocab"] == 49152 and remote[key]["server_model"] == server.models()[0]
    assert remote["model"]["path"].startswith(server.url) and remote["model"]["vocab_size"] == 49152


# -- (c) what the flags say -----------------------------------------------------------------------------
def test_cuts_inside_the_list_are_flagged_exact(server: ServerClient, tmp_path: Path) -> None:
    run = trace(tmp_path, "inside", "--top-k", "3", "--top-p", "0.9", "--temperature", "0.8", "--seed", "1",
                "--max-tokens", "1", "--server", server.url, "--head", "1000")
    head = run["steps"][0]["head"]
    assert head["seen"] > 200 and head["vocab"] == 49152
    exact = head["exact"]
    assert {exact[k] for k in ("top_k", "top_p", "min_p", "temperature", "final", "raw_chances")} == {EXACT}
    assert exact["penalties"] == exact["dry"] == exact["xtc"] == OFF
    assert exact["entropy_raw"] == UPPER_BOUND  # the even tail is the highest-entropy guess


def test_a_draw_from_the_whole_distribution_is_flagged_approximate(server: ServerClient, tmp_path: Path) -> None:
    run = trace(tmp_path, "tail", *TAIL, "--temperature", "0.8", "--seed", "3", "--max-tokens", "1",
                "--server", server.url, "--head", "50")
    exact = run["steps"][0]["head"]["exact"]
    assert exact["top_k"] == exact["top_p"] == exact["min_p"] == OFF
    assert exact["temperature"] == exact["final"] == APPROXIMATE
    assert exact["raw_chances"] == EXACT and exact["entropy_raw"] == UPPER_BOUND


def test_flags_for_a_complete_list_follow_the_cuts() -> None:
    """A llama-server-like head (the true top N, each with its id), on made-up logits."""
    raw = np.random.default_rng(5).normal(0, 3, 2000).astype(np.float32)
    log_chances = raw.astype(np.float64) - np.log(np.exp(raw.astype(np.float64)).sum())
    top = np.argsort(-raw)[:50]
    rebuilt = logits_from_head(top, log_chances[top], raw.size)
    history = np.array([int(top[0])], dtype=np.int32)
    cases = [(SamplerSettings(top_k=10, top_p=0.9, temperature=0.8), EXACT),
             (SamplerSettings(top_k=60, top_p=1.0, min_p=0.0, temperature=0.8), APPROXIMATE),
             (SamplerSettings(top_k=10, repeat_penalty=1.2), APPROXIMATE),
             (SamplerSettings(top_k=10, presence_penalty=0.5), EXACT)]
    for settings, expected in cases:
        for u in np.linspace(0.01, 0.99, 25):
            result = run_chain(rebuilt, settings, history, float(u))
            flags = head_exactness(settings, result, top, raw.size, log_chances[top], complete=True,
                                   penalised=history.tolist())
            assert flags.final == expected and flags.entropy_raw == UPPER_BOUND
            if expected == EXACT:  # the same word and the same final chances as on the model's own logits
                truth = run_chain(raw, settings, history, float(u))
                assert result.token_id == truth.token_id
                np.testing.assert_allclose(result.final_probs, truth.final_probs, atol=1e-6)


# -- (d) dice in the unlisted part -------------------------------------------------------------------------
def test_dice_in_the_unlisted_part_give_a_plain_error_not_a_word(server: ServerClient, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # At temperature 1 the unlisted part holds its own share (37% past the top 3): some seeds land there.
    outcomes: dict[int, str] = {}  # exit code -> standard error, for the first seed of each outcome
    for seed in range(40):
        path = tmp_path / f"tail-{seed}.json"
        code = main(["trace", "--prompt", PROMPT, *TAIL, "--temperature", "1", "--seed", str(seed),
                     "--max-tokens", "1", "--server", server.url, "--head", "3", "--json", str(path)])
        assert code in (0, 2) and path.exists() == (code == 0)  # an error writes nothing: no word invented
        outcomes.setdefault(code, capsys.readouterr().err)
        if len(outcomes) == 2:
            break
    assert set(outcomes) == {0, 2} and outcomes[0] == ""  # the dice decide, and both ways happen
    lines = outcomes[2].strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("synthscope: error: The dice landed among the word pieces the server did not list")
    assert "% it did not show); ask the server for more word pieces at each step (--head" in lines[0]


# -- (e) what cannot run ----------------------------------------------------------------------------------
@pytest.mark.parametrize("options, words", [
    (["--server", f"http://127.0.0.1:{free_port()}"], "Nothing is answering at http://127.0.0.1:"),
    (["--server", "http://8.8.8.8:8080"], "not on this computer or your local network"),
    (["--server", "ftp://127.0.0.1"], "must start with http"),
])
def test_a_server_that_cannot_be_used_gives_one_line(options: list[str], words: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--prompt", PROMPT, "--max-tokens", "1", *options]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and words in captured.err


@pytest.mark.parametrize("options, words", [
    (["--dry-multiplier", "0.8"], "DRY works only with a model opened in Synthscope"),
    (["--grammar", "root ::= [0-9]+"], "A grammar needs llama.cpp's grammar sampler"),
    (["--chat"], "--model and --chat cannot go with it"),
    (["--head", "0"], "--head must be between 1 and"),
    (["--server-model", "nope"], "has no model called 'nope'"),
])
def test_what_a_server_cannot_do_is_refused_in_one_line(server: ServerClient, options: list[str], words: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--prompt", PROMPT, "--max-tokens", "1", "--server", server.url, *options]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err


def test_the_engine_reads_ends_and_word_pieces_from_the_server(server: ServerClient) -> None:
    with RemoteEngine(server, head=20) as engine:
        assert engine.n_vocab == 49152 and engine.is_end_of_generation(2) and not engine.is_end_of_generation(7042)
        assert engine.token_bytes(7042) == b" Paris" and engine.token_bytes(2) == b"<|im_end|>"
        engine.decode(engine.tokenize(PROMPT))
        before = engine.n_past
        engine.logits()
        engine.rewind_to(before - 2)
        assert engine.n_past == before - 2 and engine.tokens == tuple(engine.tokenize(PROMPT)[:before - 2])
        # a record names the server and its model, with no weights file on this computer to read
        path, name, size, digest, vocab = engine.served_identity
        assert path == f"{server.url}#{engine.model}" and size == 0 and vocab == 49152 and len(digest) == 64
        assert name.endswith(f"at {server.url}")


def test_a_step_whose_top_word_ends_the_text_still_gets_its_chances(server: ServerClient) -> None:
    """llama-cpp-python's server lists nothing when the word it draws ends the text (<|im_end|> leads here,
    at 16%): the client draws again, hotter. <|im_end|>'s text is "" there, shared, so it stays unlisted."""
    with RemoteEngine(server, head=20) as engine:
        engine.decode(engine.tokenize("My favourite fruit is the banana."))
        logits = engine.logits()
        info = engine.heads[engine.n_past]
        assert info.listed >= 15 and 2 not in info.seen_ids.tolist() and info.unseen_bound > 0.15
        assert softmax(logits)[339] == pytest.approx(0.0976, abs=1e-3)  # the second most likely, listed


def test_a_servers_run_is_read_and_exported_but_not_replayed_here(server: ServerClient, tmp_path: Path,
                                                                   qtbot, qapp) -> None:
    import subprocess
    import sys

    from window_helpers import loaded_window

    trace(tmp_path, "served", *CUTS, "--seed", "2", "--max-tokens", "3", "--server", server.url, "--head", "200")
    run = str(tmp_path / "served.json")
    for command in (["replay", run], ["futures", "--from-run", run, "--at", "1", "--n", "2", "--tokens", "2"]):
        done = subprocess.run([sys.executable, "-m", "synthscope.cli", *command], capture_output=True, text=True)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert f"computed by the model server at {server.url}" in lines[0] and "http:/1" not in lines[0]
    assert main(["export", run, "--csv", str(tmp_path / "served.csv")]) == 0
    window = loaded_window(qtbot, qapp, seed=1)
    steps = len(window.doc.mirror)
    assert not window.sessions.open_session(run)
    assert "computed by the model server" in window.parts.banner.text.text()
    assert len(window.doc.mirror) == steps and window.doc.state == "idle"
    window.close()
