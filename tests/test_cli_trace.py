"""`synthscope trace`: JSON shape, greedy equals llama.cpp, seeds replay, bad input exits 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from synthscope.cli.main import main
from synthscope.engine import EngineConfig
from synthscope.engine.baseline import bare_llama
from synthscope.engine.model import DEFAULT_CONTEXT

PROMPT = "<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\n"
STAGES = ["penalties", "dry", "top_n_sigma", "top_k", "typical_p", "top_p", "min_p", "xtc", "temperature"]


def trace(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "trace.json"
    assert main(["trace", "--json", str(out), *args]) == 0
    return json.loads(out.read_text(encoding="utf-8"))


def test_trace_json_has_every_field(tmp_path: Path) -> None:
    doc = trace(tmp_path, "--prompt", "The sea was", "--max-tokens", "8", "--seed", "4",
                "--top-n", "5", "--repeat-penalty", "1.2", "--ignore-eos")
    assert doc["prompt_tokens"] and len(doc["steps"]) == 8
    assert doc["text"] == "".join(step["text"] for step in doc["steps"])
    for step in doc["steps"]:
        assert 0 <= step["u"] < 1 and step["entropy_raw"] > 0
        assert [s["name"] for s in step["stages"]] == STAGES
        assert all({"kept", "removed_mass"} <= set(s) for s in step["stages"])
        assert step["stages"][STAGES.index("top_k")]["kept"] == 40
        cands = step["candidates"]
        assert len(cands) == 5
        assert [c["logit"] for c in cands] == sorted((c["logit"] for c in cands), reverse=True)
        assert all({"token_id", "text", "logit", "p_raw", "p_final"} <= set(c) for c in cands)
        assert all((c["p_final"] > 0) == (c["removed_by"] is None) for c in cands)
        assert sum(c["p_raw"] for c in cands) <= 1.0 + 1e-6


# A chat turn, a story start and a list: with the attention path and KV precision left to
# llama-cpp-python's defaults, greedy continuations of some prompts parted after a dozen tokens.
GREEDY_PROMPTS = [PROMPT, "Once upon a time, in a small village by the sea, there lived",
                  "Ten facts about the Moon:\n1."]


@pytest.mark.parametrize("prompt", GREEDY_PROMPTS)
def test_greedy_reproduces_llama_cpp_token_for_token(tmp_path: Path, smollm_path: Path,
                                                     engine_config: EngineConfig, prompt: str) -> None:
    doc = trace(tmp_path, "--prompt", prompt, "--max-tokens", "40", "--temperature", "0",
                "--ignore-eos")
    # The reference gets exactly the engine's parameters, context size included.
    llm = bare_llama(smollm_path, engine_config, n_ctx=DEFAULT_CONTEXT)
    tokens = llm.tokenize(prompt.encode(), special=True)
    assert tokens == doc["prompt_tokens"]
    theirs = []
    for token in llm.generate(tokens, temp=0.0, repeat_penalty=1.0):
        theirs.append(token)
        if len(theirs) == 40:
            break
    assert [s["token_id"] for s in doc["steps"]] == theirs
    assert all(s["u"] is None for s in doc["steps"])
    completion = llm.create_completion(prompt, max_tokens=40, temperature=0.0, repeat_penalty=1.0)
    assert doc["text"].startswith(completion["choices"][0]["text"])


def test_same_seed_same_run(tmp_path: Path) -> None:
    args = ["--prompt", "Once upon a time", "--max-tokens", "12", "--temperature", "1.5"]
    first = trace(tmp_path, *args, "--seed", "99")
    again = trace(tmp_path, *args, "--seed", "99")
    other = trace(tmp_path, *args, "--seed", "100")
    assert first["steps"] == again["steps"]
    assert [s["u"] for s in first["steps"]] != [s["u"] for s in other["steps"]]


@pytest.mark.parametrize("args", [
    ["trace", "--prompt", "x", "--top-p", "7"],
    ["trace", "--prompt", "x", "--temperature", "-1"],
    ["trace", "--prompt", "x", "--max-tokens", "0"],
    ["trace", "--prompt", "x", "--max-tokens", "many"],
    ["trace", "--prompt", "x", "--model", "/no/such/model.gguf"],
    ["trace", "--prompt", "x", "--model", __file__],
    ["trace"],
    ["frobnicate"],
])
def test_bad_arguments_give_one_line_and_exit_2(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "synthscope.cli", *args], capture_output=True,
                          text=True)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthscope: error:"), done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("system", [None, "You answer in one short sentence."])
def test_chat_prompt_is_the_models_own_template(tmp_path: Path, smollm_path: Path,
                                                engine_config: EngineConfig, system: str | None) -> None:
    extra = ["--system", system] if system else []
    doc = trace(tmp_path, "--chat", "--prompt", "Name three colours.", *extra, "--max-tokens", "3",
                "--seed", "1")
    llm = bare_llama(smollm_path, engine_config, n_ctx=512)
    template = llm.metadata["tokenizer.chat_template"]
    eos = llm._model.token_get_text(llm.token_eos())
    bos = llm._model.token_get_text(llm.token_bos())
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": "Name three colours."}]
    prompt = Jinja2ChatFormatter(template, eos, bos, add_generation_prompt=True)(messages=messages).prompt
    assert doc["prompt"] == prompt and prompt.endswith("<|im_start|>assistant\n")
    assert doc["prompt_tokens"] == llm.tokenize(prompt.encode(), special=True)
    llm.close()


@pytest.mark.parametrize("args", [["--chat"], ["--system", "Be brief."]])
def test_chat_needs_a_template_and_system_needs_chat(gemma_path: Path, args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "synthscope", "trace", "--prompt", "Hello",
                           "--model", str(gemma_path), *args], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthscope: error:"), done.stderr
    assert ("no chat template" if args == ["--chat"] else "--system needs --chat") in lines[0]
