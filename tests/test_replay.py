"""`synthscope replay`: the same run back token for token, changed settings part from it where the
tokens first differ, per-step settings and stop sequences are honoured, bad input exits 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthscope.cli.main import main
from synthscope.engine import Engine, EngineConfig
from synthscope.sampling import Dice, SamplerSettings
from synthscope.session import Generator, load_record, save_record
from synthscope.session.replay import diverged_at, replay, replay_settings

RUN_ARGS = ["--prompt", "Once upon a time", "--max-tokens", "24", "--seed", "7", "--temperature", "0.9"]
FIRST = SamplerSettings(temperature=0.9, top_k=40)
SECOND = SamplerSettings(temperature=1.3, top_k=0, top_p=0.9, repeat_penalty=1.1)


def cli(*args: str) -> None:
    assert main(list(args)) == 0


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def tokens(doc: dict) -> list[int]:
    return [step["token_id"] for step in doc["steps"]]


def first_difference(a: list[int], b: list[int]) -> int | None:
    common = min(len(a), len(b))
    differing = [i for i in range(common) if a[i] != b[i]]
    if differing:
        return differing[0]
    return None if len(a) == len(b) else common


@pytest.fixture(scope="module")
def run_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "run.json"
    cli("trace", *RUN_ARGS, "--ignore-eos", "--json", str(path))
    return path


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory, smollm_engine: Engine) -> Path:
    """Settings changed in the middle of a run, as the window allows: 6 steps, then 6 others."""
    smollm_engine.reset()
    generator = Generator(smollm_engine, seed=11, top_n=8)
    try:
        generator.start("The old lighthouse keeper")
        for settings in [FIRST] * 6 + [SECOND] * 6:
            generator.step(settings)
        path = tmp_path_factory.mktemp("replay") / "mixed.json"
        save_record(generator.record, path)
    finally:
        generator.close()
    return path


def test_unchanged_settings_reproduce_the_run_exactly(run_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "again.json"
    cli("replay", str(run_file), "--json", str(out))
    original, again = read(run_file), read(out)
    assert again.pop("diverged_at") is None
    assert again["steps"] == original["steps"]  # tokens, dice, probabilities, every candidate
    assert again == original
    seed = original["seed"]
    assert [s["u"] for s in again["steps"]] == [Dice(seed).u(i) for i in range(len(again["steps"]))]


@pytest.mark.parametrize("change", [["--temperature", "1.8"], ["--top-k", "1"]])
def test_changed_settings_part_where_the_tokens_first_differ(run_file: Path, tmp_path: Path,
                                                            change: list[str]) -> None:
    out = tmp_path / "changed.json"
    cli("replay", str(run_file), *change, "--ignore-eos", "--json", str(out))
    original, changed = read(run_file), read(out)
    assert len(changed["steps"]) == len(original["steps"])  # the run's length by default
    expected = first_difference(tokens(original), tokens(changed))
    assert expected is not None and changed["diverged_at"] == expected
    key, value = change[0][2:].replace("-", "_"), float(change[1])
    for before, after in zip(original["steps"], changed["steps"]):
        assert after["u"] == before["u"]  # the same dice at every position
        assert after["settings"] == {**before["settings"], key: value}


def test_a_run_with_a_settings_change_replays_exactly(mixed_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "again.json"
    cli("replay", str(mixed_run), "--json", str(out))
    original, again = read(mixed_run), read(out)
    assert [s["settings"]["temperature"] for s in original["steps"]] == [0.9] * 6 + [1.3] * 6
    assert again.pop("diverged_at") is None
    assert again["steps"] == original["steps"]


def test_overrides_apply_to_each_steps_own_settings_and_beyond(mixed_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "longer.json"
    cli("replay", str(mixed_run), "--min-p", "0.1", "--max-tokens", "16", "--ignore-eos",
        "--json", str(out))
    original, longer = read(mixed_run), read(out)
    assert len(longer["steps"]) == 16
    expected = [{**s["settings"], "min_p": 0.1} for s in original["steps"]]
    expected += [expected[-1]] * 4  # past the run's end: its last step's settings
    assert [s["settings"] for s in longer["steps"]] == expected
    assert longer["diverged_at"] == first_difference(tokens(original), tokens(longer))


def test_replay_settings_and_a_stop_at_a_settings_change(mixed_run: Path, engine: Engine) -> None:
    original = load_record(mixed_run)
    plan = replay_settings(original, {"top_k": 3}, 14)
    assert plan[:6] == [FIRST.with_changes(top_k=3)] * 6
    assert plan[6:] == [SECOND.with_changes(top_k=3)] * 8 and plan[6] is plan[13]
    # A stop sequence completed by the last step before the settings change ends the replay there.
    texts = [step.text for step in original.steps]
    stop = texts[5]
    assert stop.strip() and stop not in "".join(texts[:5])
    original.stop_sequences = [stop]
    record, diverged = replay(engine, original)
    assert record.token_ids == original.token_ids[:6] and diverged == 6
    assert record.stop_sequences == [stop]
    assert [s.trace.chosen_p_final for s in record.steps] == [
        s.trace.chosen_p_final for s in original.steps[:6]]


def test_the_run_keeps_its_own_engine_path(tmp_path: Path, engine_config: EngineConfig) -> None:
    # The KV-cache precision and attention path change the numbers: the run's are used, not this
    # computer's choice, unless the command line says otherwise.
    mine = ["--kv-cache", engine_config.kv_cache,
            "--flash-attention", "on" if engine_config.flash_attention else "off"]
    other = "f16" if (engine_config.kv_cache, engine_config.flash_attention) == ("f32", False) else "f32"
    run, again, changed = tmp_path / "run.json", tmp_path / "again.json", tmp_path / "changed.json"
    cli("trace", *RUN_ARGS, "--kv-cache", other, "--flash-attention", "off", "--json", str(run))
    cli("replay", str(run), "--json", str(again))
    assert read(again)["engine"]["kv_cache"] == other and read(again)["diverged_at"] is None
    assert read(again)["steps"] == read(run)["steps"]
    cli("replay", str(run), *mine, "--json", str(changed))
    assert read(changed)["engine"]["kv_cache"] == engine_config.kv_cache
    assert [s["p_raw"] for s in read(changed)["steps"]] != [s["p_raw"] for s in read(run)["steps"]]


def test_the_recorded_stop_sequences_end_the_replay(tmp_path: Path) -> None:
    run, again = tmp_path / "run.json", tmp_path / "again.json"
    cli("trace", "--prompt", "Ten facts about the Moon:\n1.", "--max-tokens", "60", "--seed", "3",
        "--stop", "\\n", "--json", str(run))
    cli("replay", str(run), "--max-tokens", "60", "--json", str(again))
    original, replayed = read(run), read(again)
    assert original["stop_sequences"] == ["\n"] and replayed["stop_sequences"] == ["\n"]
    assert "\n" in replayed["text"] and len(replayed["steps"]) < 60
    assert replayed["diverged_at"] is None and replayed["steps"] == original["steps"]


def broken(tmp_path: Path, run_file: Path, gemma_path: Path, kind: str) -> list[str]:
    doc = read(run_file)
    target = tmp_path / f"{kind}.json"
    if kind == "missing":
        return [str(tmp_path / "no-such-run.json")]
    if kind == "broken":
        target.write_text(run_file.read_text(encoding="utf-8")[:500], encoding="utf-8")
        return [str(target)]
    if kind == "another-model":
        doc["model"]["path"] = str(gemma_path)
    elif kind == "model-gone":
        doc["model"]["path"] = str(tmp_path / "gone.gguf")
    elif kind == "old-schema":
        doc["schema_version"] = 0
    elif kind == "not-a-run":
        doc = {"hello": "world"}
    target.write_text(json.dumps(doc), encoding="utf-8")
    return [str(target)] + (["--top-p", "3"] if kind == "out-of-range" else [])


@pytest.mark.parametrize("kind", ["missing", "broken", "another-model", "model-gone", "old-schema",
                                  "not-a-run", "out-of-range"])
def test_bad_input_gives_one_line_and_exit_2(tmp_path: Path, run_file: Path, gemma_path: Path,
                                             kind: str) -> None:
    args = broken(tmp_path, run_file, gemma_path, kind)
    done = subprocess.run([sys.executable, "-m", "synthscope.cli", "replay", *args],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthscope: error:"), done.stderr
    assert done.stdout == ""
    if kind in ("another-model", "model-gone"):
        assert "model this run was made with" in lines[0]


def test_the_synthscope_command_runs_replay_headless(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "synthscope", "replay", str(tmp_path / "none.json")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == f"synthscope: error: There is no file at {tmp_path / 'none.json'}."


@pytest.mark.parametrize(("a", "b", "expected"), [
    ([], [], None), ([1, 2, 3], [1, 2, 3], None), ([1, 2, 3], [1, 5, 3], 1), ([4], [5], 0),
    ([1, 2], [1, 2, 3], 2), ([1, 2, 3], [1], 1), ([], [7], 0), ([1, 2, 3], [1, 9], 1),
])
def test_diverged_at(a: list[int], b: list[int], expected: int | None) -> None:
    assert diverged_at(a, b) == expected == first_difference(a, b)
    assert diverged_at(b, a) == expected
