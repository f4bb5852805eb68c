"""`synthscope trace` and `replay` with every sampler llama.cpp has, named as llama.cpp's command line
names them: the order, DRY, XTC, mirostat, bans, a grammar; replays exact; bad input one line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthscope.cli.main import main

STORY = "The robot said: I am a robot. I am a robot. I am a robot. The robot said: I am"


def run(tmp_path: Path, *args: str, name: str = "run.json") -> dict:
    out = tmp_path / name
    assert main([*args, "--json", str(out)]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_the_order_and_the_newer_samplers_reach_every_step(tmp_path: Path) -> None:
    doc = run(tmp_path, "trace", "--prompt", STORY, "--max-tokens", "12", "--seed", "9", "--ignore-eos",
              "--samplers", "dry;top_k;xtc;temperature", "--dry-multiplier", "1.0", "--dry-allowed-length", "1",
              "--xtc-probability", "0.7", "--xtc-threshold", "0.05", "--logit-bias", "13-inf",
              "--logit-bias", "28+1.5", "--dry-sequence-breaker", "\\n", "--dry-sequence-breaker", ".")
    for step in doc["steps"]:
        assert [s["name"] for s in step["stages"]] == ["logit_bias", "dry", "top_k", "xtc", "temperature"]
        assert step["settings"]["samplers"] == ["dry", "top_k", "xtc", "temperature"]
        assert step["settings"]["logit_bias"] == [[13, False], [28, 1.5]]
        assert step["settings"]["dry_sequence_breakers"] == ["\n", "."]
        assert step["token_id"] != 13 and 0 <= step["xtc_u"] < 1
    assert any(s["stages"][1]["changed"] for s in doc["steps"])  # DRY held back a copy somewhere
    assert any(s["stages"][3]["detail"] and s["stages"][3]["detail"]["fired"] for s in doc["steps"])


@pytest.mark.parametrize("flags", [
    ["--xtc-probability", "0.6", "--xtc-threshold", "0.05", "--top-k", "0"],
    ["--mirostat", "2", "--mirostat-ent", "4", "--mirostat-lr", "0.3"],
    ["--adaptive-target", "0.4", "--adaptive-decay", "0.7"],
    ["--dynatemp-range", "0.6", "--top-n-sigma", "1.5", "--dry-multiplier", "0.8"],
], ids=["xtc", "mirostat", "adaptive", "dynatemp"])
def test_a_replay_with_no_change_writes_the_same_tokens(tmp_path: Path, flags: list[str]) -> None:
    original = run(tmp_path, "trace", "--prompt", STORY, "--max-tokens", "16", "--seed", "21", "--ignore-eos",
                   *flags, name="original.json")
    again = run(tmp_path, "replay", str(tmp_path / "original.json"), "--ignore-eos", name="again.json")
    assert again["diverged_at"] is None
    assert [s["token_id"] for s in again["steps"]] == [s["token_id"] for s in original["steps"]]
    assert [s.get("feedback_out") for s in again["steps"]] == [s.get("feedback_out") for s in original["steps"]]
    changed = run(tmp_path, "replay", str(tmp_path / "original.json"), "--ignore-eos", "--samplers",
                  "top_k;temperature", "--mirostat", "0", "--adaptive-target", "-1", name="changed.json")
    assert all([s["name"] for s in step["stages"]] == ["top_k", "temperature"] for step in changed["steps"])


def test_a_grammar_on_the_command_line_and_in_a_file(tmp_path: Path) -> None:
    doc = run(tmp_path, "trace", "--prompt", "The year was", "--max-tokens", "5", "--seed", "2",
              "--grammar", "root ::= [0-9]+")
    assert doc["text"].isdigit() and doc["steps"][0]["stages"][0]["name"] == "grammar"
    grammar = tmp_path / "yes-no.gbnf"
    grammar.write_text('root ::= ("yes" | "no")\n', encoding="utf-8")
    answer = run(tmp_path, "trace", "--chat", "--prompt", "Is the sea wet?", "--max-tokens", "4", "--seed", "2",
                 "--grammar-file", str(grammar), name="answer.json")
    assert answer["text"].replace("<|im_end|>", "") in ("yes", "no")


@pytest.mark.parametrize("args, words", [
    (["--samplers", "top_k;top_k"], "twice"),
    (["--samplers", "top_k;wiggle"], "not a sampler"),
    (["--logit-bias", "99999999+1"], "vocabulary"),
    (["--logit-bias", "13*2"], "TOKEN_ID"),
    (["--grammar", "root ::= [0-9"], "grammar"),
    (["--grammar-file", "/no/such/file.gbnf"], "could not be read"),
    (["--dry-multiplier", "99"], "DRY strength"),
    (["--mirostat", "3"], "Mirostat"),
])
def test_bad_sampler_input_is_one_plain_line_and_exit_2(args: list[str], words: str) -> None:
    done = subprocess.run([sys.executable, "-m", "synthscope", "trace", "--prompt", "Hi", "--max-tokens", "2",
                           *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in done.stderr, done.stderr
