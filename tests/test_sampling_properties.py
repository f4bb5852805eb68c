"""Properties of the sampler chain that hold for any scores: chances add up, tighter cuts keep
fewer words, greedy is the top word, extreme scores and settings never break a step, and NaN
scores from a broken model are refused in one plain sentence."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from synthscope.cli.main import main
from synthscope.engine import Engine
from synthscope.sampling.trace import FINAL_LIMIT
from synthscope.sampling import BrokenLogits, SamplerSettings, build_trace, run_chain
from synthscope.session import Generator

OFF = SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, typical_p=1.0)
EXAMPLES = settings(max_examples=150)
EXTREME = float(np.finfo(np.float32).max)

finite_scores = st.lists(st.floats(-30.0, 30.0, width=32), min_size=1, max_size=60)
# Scores a broken or adversarial model can produce, apart from NaN.
wild_score = st.one_of(st.floats(-30.0, 30.0, width=32),
                       st.sampled_from([np.inf, -np.inf, 1e30, -1e30, EXTREME, -EXTREME, 0.0]))
wild_scores = st.lists(wild_score, min_size=1, max_size=40)
dice = st.floats(0.0, 1.0, exclude_max=True)
any_settings = st.builds(
    SamplerSettings,
    temperature=st.one_of(st.just(0.0), st.floats(0.001, 5.0)),
    top_k=st.integers(0, 80), top_p=st.floats(0.0, 1.0), min_p=st.floats(0.0, 1.0),
    typical_p=st.floats(0.0, 1.0), repeat_penalty=st.floats(0.1, 3.0),
    repeat_last_n=st.integers(0, 64), frequency_penalty=st.floats(-2.0, 2.0),
    presence_penalty=st.floats(-2.0, 2.0))
EXTREME_SETTINGS = [SamplerSettings(temperature=5.0), SamplerSettings(temperature=0.001),
                    SamplerSettings(temperature=0.0), SamplerSettings(top_k=1),
                    SamplerSettings(top_p=0.0), SamplerSettings(min_p=1.0),
                    SamplerSettings(typical_p=0.0), OFF,
                    SamplerSettings(temperature=0.001, top_k=0, top_p=1.0, min_p=0.0),
                    SamplerSettings(repeat_penalty=0.1, frequency_penalty=-2.0, presence_penalty=-2.0,
                                    temperature=0.001),
                    SamplerSettings(repeat_penalty=3.0, frequency_penalty=2.0, presence_penalty=2.0,
                                    temperature=5.0, top_k=1000, top_p=1.0, min_p=1.0, typical_p=0.0)]


def scores(values: list[float]) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def survivors(logits: np.ndarray, chosen: SamplerSettings, u: float = 0.5) -> set[int]:
    return set(run_chain(logits, chosen, None, u).final.ids.tolist())


def assert_sound(logits: np.ndarray, chosen: SamplerSettings, history: np.ndarray, u: float) -> None:
    """One step gives a usable draw and a trace without NaN."""
    result = run_chain(logits, chosen, history, u)
    assert result.final.size >= 1
    assert not np.isnan(result.final_probs).any()
    assert (result.final_probs >= 0).all()
    assert result.final_probs.sum() == pytest.approx(1.0, abs=1e-9)
    assert result.token_id == result.final.ids[result.chosen_index]
    assert result.final_probs[result.chosen_index] > 0  # the dice never pick a word with no chance
    trace = build_trace(result, top_n=5)
    numbers = [trace.entropy_raw, trace.entropy_final, trace.chosen_p_raw,
               *[stage.removed_mass for stage in trace.stages]]
    if result.chosen_index < FINAL_LIMIT:  # beyond, the trace does not keep it (NaN by design)
        numbers.append(trace.chosen_p_final)
    assert not np.isnan(numbers).any()
    assert not np.isnan(trace.candidates["p_raw"]).any()
    assert trace.stage_p is not None and not np.isnan(trace.stage_p).any()


@EXAMPLES
@given(finite_scores, any_settings, dice, st.lists(st.integers(0, 59), max_size=20))
def test_final_chances_add_up_to_one(values: list[float], chosen: SamplerSettings, u: float,
                                     history: list[int]) -> None:
    assert_sound(scores(values), chosen, np.array(history, dtype=np.int32), u)


@EXAMPLES
@given(finite_scores, st.integers(1, 60), st.integers(0, 60), st.floats(0.0, 1.0), dice)
def test_a_smaller_top_k_never_adds_a_word(values: list[float], tight: int, loose: int, top_p: float,
                                           u: float) -> None:
    assume(loose == 0 or tight <= loose)  # 0 is no limit: the loosest
    logits = scores(values)
    base = SamplerSettings(top_p=top_p)
    assert survivors(logits, base.with_changes(top_k=tight), u) <= survivors(
        logits, base.with_changes(top_k=loose), u)


@EXAMPLES
@given(finite_scores, st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(0, 60), dice)
def test_a_smaller_top_p_never_adds_a_word(values: list[float], a: float, b: float, top_k: int,
                                           u: float) -> None:
    logits, base = scores(values), SamplerSettings(top_k=top_k)
    tight, loose = sorted((a, b))
    assert survivors(logits, base.with_changes(top_p=tight), u) <= survivors(
        logits, base.with_changes(top_p=loose), u)


@EXAMPLES
@given(finite_scores, st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(0.0, 1.0), dice)
def test_a_larger_min_p_never_adds_a_word(values: list[float], a: float, b: float, top_p: float,
                                          u: float) -> None:
    logits, base = scores(values), SamplerSettings(top_p=top_p)
    loose, tight = sorted((a, b))
    assert survivors(logits, base.with_changes(min_p=tight), u) <= survivors(
        logits, base.with_changes(min_p=loose), u)


@EXAMPLES
@given(finite_scores, st.integers(0, 60), st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_greedy_takes_the_first_highest_score(values: list[float], top_k: int, top_p: float,
                                              min_p: float) -> None:
    logits = scores(values)
    result = run_chain(logits, SamplerSettings(temperature=0.0, top_k=top_k, top_p=top_p, min_p=min_p))
    assert result.token_id == int(np.flatnonzero(logits == logits.max())[0])
    assert result.u is None and result.final_probs.tolist() == [1.0]


@EXAMPLES
@given(st.integers(0, 2**32 - 1), st.sampled_from([5, 200, 50_000]), st.integers(1, 120))
def test_tied_scores_are_cut_like_a_stable_sort(seed: int, n_vocab: int, k: int) -> None:
    """Of words tied at top-k's cut the first ones stay, so top-k 1 keeps the word greedy takes."""
    logits = np.random.default_rng(seed).integers(-4, 4, n_vocab).astype(np.float32)
    kept = run_chain(logits, OFF.with_changes(top_k=k), None, 0.5).stage("top_k").after.ids
    assert kept.tolist() == np.argsort(-logits, kind="stable")[:k].tolist()
    greedy = run_chain(logits, OFF.with_changes(temperature=0.0)).token_id
    assert run_chain(logits, OFF.with_changes(top_k=1), None, 0.5).token_id == greedy


# Scores in 64ths and whole shifts add exactly in float32, so only the chain's own rounding is left.
sixty_fourths = st.lists(st.integers(-20 * 64, 20 * 64), min_size=2, max_size=60)


@EXAMPLES
@given(sixty_fourths, st.integers(-50, 50), st.floats(0.5, 5.0), st.integers(0, 60),
       st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_adding_a_constant_to_every_score_changes_nothing(steps: list[int], shift: int, temperature: float,
                                                          top_k: int, top_p: float,
                                                          typical_p: float) -> None:
    logits = scores([s / 64 for s in steps])
    # min-p stays off: its threshold (best score + log p) rounds differently at another height.
    chosen = SamplerSettings(temperature=temperature, top_k=top_k, top_p=top_p, typical_p=typical_p,
                             min_p=0.0)
    before = run_chain(logits, chosen, None, 0.5)
    after = run_chain(logits + np.float32(shift), chosen, None, 0.5)
    assert before.final.ids.tolist() == after.final.ids.tolist()
    np.testing.assert_allclose(after.final_probs, before.final_probs, rtol=1e-4, atol=1e-7)


@EXAMPLES
@given(finite_scores, st.floats(0.05, 5.0), st.integers(0, 60), st.floats(0.0, 1.0))
def test_cooling_down_only_helps_the_favourite(values: list[float], temperature: float, top_k: int,
                                               top_p: float) -> None:
    logits = scores(values)
    best = int(np.flatnonzero(logits == logits.max())[0])
    base = SamplerSettings(top_k=top_k, top_p=top_p)
    odds = []
    for t in (temperature, temperature / 2, temperature / 10, 0.001):
        result = run_chain(logits, base.with_changes(temperature=max(t, 0.001)), None, 0.5)
        odds.append(float(result.final_probs[result.final.ids == best].sum()))
    assert all(colder >= warmer - 1e-6 for warmer, colder in zip(odds, odds[1:]))


@EXAMPLES
@given(st.lists(st.integers(-20 * 16, 20 * 16), min_size=2, max_size=60, unique=True),
       st.floats(1e-6, 1.0, exclude_max=True))  # u = 0 takes the first word with any chance at all
def test_near_zero_temperature_is_greedy(steps: list[int], u: float) -> None:
    logits = scores([s / 16 for s in steps])  # the top two differ by at least 1/16
    greedy = run_chain(logits, OFF.with_changes(temperature=0.0))
    cold = run_chain(logits, OFF.with_changes(temperature=0.001), None, u)
    assert cold.token_id == greedy.token_id
    assert cold.final_probs[cold.chosen_index] > 0.999999


@settings(max_examples=40)
@given(wild_scores, st.sampled_from(EXTREME_SETTINGS), dice, st.lists(st.integers(0, 39), max_size=10))
def test_extreme_scores_and_settings_never_break_a_step(values: list[float], chosen: SamplerSettings,
                                                        u: float, history: list[int]) -> None:
    assert_sound(scores(values), chosen, np.array(history, dtype=np.int32), u)


@pytest.mark.parametrize("values", [
    [np.inf, 1.0, 2.0], [np.inf, np.inf, 0.0], [-np.inf, 1.0, 2.0], [-np.inf, -np.inf, 5.0, -np.inf],
    [-np.inf] * 4, [1e30, -1e30, 0.0], [EXTREME, -EXTREME, 0.0], [2.0] * 5, [0.0]])
@pytest.mark.parametrize("chosen", EXTREME_SETTINGS)
def test_named_extremes_give_a_draw(values: list[float], chosen: SamplerSettings) -> None:
    for u in (0.0, 0.5, 0.999999):
        assert_sound(scores(values), chosen, np.array([0, 0, 1], dtype=np.int32), u)


def test_infinite_scores_mean_certain_and_impossible() -> None:
    result = run_chain(scores([np.inf, 3.0, np.inf, -np.inf]), OFF, None, 0.7)
    assert sorted(result.final.ids[result.final_probs > 0].tolist()) == [0, 2]
    np.testing.assert_allclose(result.final_probs[result.final_probs > 0], [0.5, 0.5])
    only = run_chain(scores([-np.inf, -np.inf, 5.0, -np.inf]), OFF, None, 0.99)
    assert only.token_id == 2


@pytest.mark.parametrize("chosen", EXTREME_SETTINGS)
def test_nan_scores_are_refused_in_plain_words(chosen: SamplerSettings) -> None:
    with pytest.raises(BrokenLogits) as caught:
        run_chain(scores([1.0, np.nan, 2.0]), chosen, None, 0.5)
    message = str(caught.value)
    assert "\n" not in message and message.endswith(".") and "NaN" in message
    assert isinstance(caught.value, ValueError)


def real_scores(engine: Engine) -> np.ndarray:
    engine.decode(engine.tokenize("The best thing about the sea is"))
    return engine.logits().copy()


def test_properties_hold_on_the_real_model(engine: Engine) -> None:
    logits = real_scores(engine)
    for chosen in EXTREME_SETTINGS:
        assert_sound(logits, chosen, np.arange(20, dtype=np.int32), 0.3)
    looser = survivors(logits, SamplerSettings(top_k=0, top_p=0.99, min_p=0.01))
    tighter = survivors(logits, SamplerSettings(top_k=20, top_p=0.9, min_p=0.1))
    assert tighter <= looser and len(tighter) < len(looser)
    shifted = run_chain(logits + np.float32(7.0), SamplerSettings(), None, 0.3)
    plain = run_chain(logits, SamplerSettings(), None, 0.3)
    assert shifted.token_id == plain.token_id
    np.testing.assert_allclose(shifted.final_probs, plain.final_probs, rtol=1e-3, atol=1e-7)


def test_a_broken_real_model_stops_with_one_sentence(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generator = Generator(engine, seed=3)
    try:
        generator.start("Once upon a time")
        generator.step(SamplerSettings())
        good = generator.n_steps
        broken = engine.logits().copy()
        broken[::7] = np.nan  # what a damaged model file makes llama.cpp compute
        monkeypatch.setattr(Engine, "logits", lambda _self: broken)
        with pytest.raises(BrokenLogits):
            generator.step(SamplerSettings())
        assert generator.n_steps == good  # nothing half-written
    finally:
        generator.close()
    capsys.readouterr()
    code = main(["trace", "--prompt", "Once upon a time", "--max-tokens", "3",
                 "--json", str(tmp_path / "trace.json")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(lines) == 1
    assert "invalid numbers (NaN)" in lines[0] and "Traceback" not in lines[0]


def test_the_window_worker_says_it_in_words(qapp: object, smollm_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:
    from synthscope.session.requests import RunRequest
    from synthscope.ui.worker.engine_worker import EngineWorker
    worker = EngineWorker()
    said: list[str] = []
    finished: list[str] = []
    worker.failed.connect(said.append)
    worker.loadFailed.connect(said.append)
    worker.runFinished.connect(finished.append)
    worker.load(str(smollm_path), False, {"context": 512})  # slots run here, in this thread
    try:
        assert worker.generator is not None and not said
        vocabulary = worker.generator.engine.n_vocab
        monkeypatch.setattr(Engine, "logits", lambda _self: np.full(vocabulary, np.nan, np.float32))
        with caplog.at_level(logging.ERROR):
            worker.run(RunRequest("Once upon a time", seed=1, max_tokens=5))
    finally:
        worker.release()
    assert finished == ["error"]
    assert len(said) == 1 and "invalid numbers (NaN)" in said[0] and "\n" not in said[0]
    assert "unexpected" not in said[0] and not caplog.records  # a damaged model, not a bug
