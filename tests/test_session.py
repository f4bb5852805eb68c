"""The run record and generator on the real model: steps, undo, replay, memory, JSON."""
from __future__ import annotations

import gc
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from synthscope.engine import Engine, EngineError, open_engine
from synthscope.sampling import SamplerSettings, build_trace, run_chain
from synthscope.session import (Generator, SessionFileError, load_record, record_from_dict,
                                record_to_dict, save_record)

PROMPT = "The old lighthouse keeper said"


@pytest.fixture
def generator(engine: Engine):
    gen = Generator(engine, seed=11, top_n=20)
    gen.start(PROMPT)
    yield gen
    gen.close()


def test_steps_record_the_chain_decision_and_decode_it(generator: Generator) -> None:
    settings = SamplerSettings(repeat_penalty=1.3)
    for _ in range(12):
        before = generator.raw_logits(generator.n_steps - 1) if generator.n_steps else None
        raw = generator.engine.logits().copy()
        history = generator.history()
        step = generator.step(settings)
        expected = run_chain(raw, settings, history, step.u)
        assert step.token_id == expected.token_id
        assert generator.engine.tokens[-1] == step.token_id
        assert step.trace.stage("top_k").kept == 40
        assert before is None or before.shape == raw.shape
    assert generator.record.text == "".join(s.text for s in generator.record.steps)
    assert len(generator.engine.tokens) == len(generator.record.prompt_tokens) + 12


def test_undo_rewinds_and_the_same_dice_roll_again(generator: Generator) -> None:
    settings = SamplerSettings()
    first = [generator.step(settings) for _ in range(6)]
    undone = generator.undo()
    assert undone is first[-1] and generator.n_steps == 5
    assert generator.engine.n_past == len(generator.record.prompt_tokens) + 5
    redo = generator.step(settings)
    assert (redo.token_id, redo.u) == (undone.token_id, undone.u)


def test_same_seed_same_run_other_seed_other_dice(engine: Engine) -> None:
    def run(seed: int) -> tuple[list[int], list[float]]:
        gen = Generator(engine, seed=seed)
        gen.start(PROMPT)
        steps = gen.generate(SamplerSettings(temperature=1.2), 15, ignore_eos=True)
        gen.close()
        return [s.token_id for s in steps], [s.u for s in steps]

    assert run(5) == run(5)
    assert run(5)[1] != run(6)[1]


def test_old_logits_are_recomputed_when_evicted(engine: Engine) -> None:
    gen = Generator(engine, seed=3, logits_budget=1)  # keeps one step's logits only
    gen.start(PROMPT)
    steps = gen.generate(SamplerSettings(), 8, ignore_eos=True)
    logits = gen.raw_logits(2)
    replay = run_chain(logits, steps[2].settings, gen.history(2), steps[2].u)
    assert replay.token_id == steps[2].token_id
    assert build_trace(replay, 20).stage("top_p").kept == steps[2].trace.stage("top_p").kept
    assert gen.engine.tokens[-1] == steps[-1].token_id and gen.n_steps == 8
    gen.step(SamplerSettings())  # and generation carries on after the detour
    gen.close()


def test_a_step_costs_at_most_4_kb(engine: Engine) -> None:
    gen = Generator(engine, seed=1, top_n=20, logits_budget=1)
    gen.start(PROMPT)
    tracemalloc.start()
    gen.generate(SamplerSettings(), 60, ignore_eos=True)
    with_steps = tracemalloc.get_traced_memory()[0]
    del gen.record.steps[:]  # what dropping the steps frees is what they held
    gc.collect()
    without = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    gen.close()
    per_step = (with_steps - without) / 60
    assert 200 < per_step <= 4096, f"{per_step:.0f} bytes per step"


def test_json_round_trip_keeps_everything(generator: Generator, tmp_path: Path) -> None:
    generator.generate(SamplerSettings(top_p=0.8), 10, ignore_eos=True)
    path = tmp_path / "run.json"
    save_record(generator.record, path)
    loaded = load_record(path)
    assert loaded.text == generator.record.text
    assert loaded.prompt_tokens == generator.record.prompt_tokens
    for a, b in zip(loaded.steps, generator.record.steps):
        assert (a.token_id, a.u, a.settings, a.token_bytes) == (b.token_id, b.u, b.settings, b.token_bytes)
        np.testing.assert_allclose(a.trace.candidates["p_raw"], b.trace.candidates["p_raw"])
        assert a.trace.stages == b.trace.stages
    assert record_to_dict(loaded) == record_to_dict(generator.record)


@pytest.mark.parametrize("content, words", [
    ("{not json", "not a readable session file"),
    ('{"hello": 1}', "not a Synthscope session file"),
    ('{"schema_version": 99}', "format version 99"),
    ('{"schema_version": 1, "model": {}}', "damaged"),
])
def test_broken_session_files_get_plain_messages(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content)
    with pytest.raises(SessionFileError, match=words):
        load_record(path)


def test_absurd_settings_in_a_session_file_are_refused(generator: Generator) -> None:
    generator.step(SamplerSettings())
    data = json.loads(json.dumps(record_to_dict(generator.record)))
    data["steps"][0]["settings"]["top_p"] = 40
    with pytest.raises(SessionFileError, match="Top-p must be between"):
        record_from_dict(data)


def test_gemma_generation_traces_a_262k_vocabulary(gemma_path: Path) -> None:
    with open_engine(gemma_path, n_ctx=256, probe=False) as engine:
        gen = Generator(engine, seed=8, top_n=10)
        gen.start("The three primary colours are")
        steps = gen.generate(SamplerSettings(top_k=0, top_p=0.9), 6, ignore_eos=True)
        for index, step in enumerate(steps):
            assert step.trace.stage("top_k").kept == 262144  # off: the whole vocabulary goes on
            assert step.trace.stage("min_p").kept == step.trace.final_size
            replay = run_chain(gen.raw_logits(index), step.settings, gen.history(index), step.u)
            assert replay.token_id == step.token_id
        gen.close()


def test_generation_stops_cleanly_at_the_end_of_the_context(smollm_path: Path) -> None:
    with open_engine(smollm_path, n_ctx=48, probe=False) as small:
        gen = Generator(small, seed=2)
        gen.start(PROMPT)
        steps = gen.generate(SamplerSettings(), 500, ignore_eos=True)
        assert len(gen.record.prompt_tokens) + len(steps) == 48 == small.n_past
        with pytest.raises(EngineError, match="limit of 48 tokens"):
            gen.step(SamplerSettings())
        gen.close()
