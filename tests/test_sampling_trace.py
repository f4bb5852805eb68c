"""The trace explains the decision: stage counts, removed mass, final probabilities, dice, settings."""
from __future__ import annotations

import math

import numpy as np
import pytest

from synthscope.sampling import (STAGE_NAMES, Dice, SamplerSettings, SettingsError, build_trace,
                                 run_chain)
from synthscope.sampling.trace import NOT_REMOVED


def logits(n: int = 5000, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(n) * 2.5).astype(np.float32)


def test_stage_counts_and_removed_mass_follow_from_the_survivors() -> None:
    raw = logits()
    settings = SamplerSettings(top_k=100, top_p=0.9, min_p=0.1, typical_p=0.95)
    result = run_chain(raw, settings, None, 0.5)
    trace = build_trace(result, top_n=30)
    assert [s.name for s in trace.stages] == list(STAGE_NAMES)
    for stage, step in zip(trace.stages, result.stages):
        assert (stage.n_in, stage.kept) == (step.before.size, step.after.size)
        before = np.exp(step.before.logits.astype(np.float64))
        kept_share = before[np.isin(step.before.ids, step.after.ids)].sum() / before.sum()
        assert stage.removed_mass == pytest.approx(1 - kept_share, abs=1e-6)
    assert trace.stage("top_k").kept == 100


def test_candidates_know_who_removed_them_and_their_final_share() -> None:
    raw = logits(seed=3)
    result = run_chain(raw, SamplerSettings(top_k=8, top_p=0.7), None, 0.25)
    trace = build_trace(result, top_n=12)
    final = dict(zip(result.final.ids.tolist(), result.final_probs.tolist()))
    for row in trace.candidates:
        token = int(row["token_id"])
        if token in final:
            assert row["removed_by"] == NOT_REMOVED and row["p_final"] == pytest.approx(final[token])
        else:
            assert row["p_final"] == 0 and STAGE_NAMES[row["removed_by"]] in ("top_k", "top_p")
    assert [r["removed_by"] for r in trace.candidates[8:]] == [STAGE_NAMES.index("top_k")] * 4
    assert trace.final["p"].sum() == pytest.approx(1.0, abs=1e-6)
    assert trace.final["token_id"][trace.chosen_index] == result.token_id
    p_raw = np.exp(raw.astype(np.float64) - np.logaddexp.reduce(raw.astype(np.float64)))
    np.testing.assert_allclose(trace.candidates["p_raw"], p_raw[trace.candidates["token_id"]], rtol=1e-5)
    assert trace.entropy_raw == pytest.approx(float(-(p_raw * np.log(p_raw)).sum()), rel=1e-6)


def test_the_dice_landing_explains_the_winner() -> None:
    raw = logits(seed=5)
    settings = SamplerSettings(top_k=20, top_p=1.0, min_p=0.0)
    for u in (0.0, 0.1, 0.5, 0.9, 0.999):
        result = run_chain(raw, settings, None, u)
        cumulative = np.cumsum(result.final_probs)
        assert cumulative[result.chosen_index] >= u
        assert result.chosen_index == 0 or cumulative[result.chosen_index - 1] < u


def test_greedy_takes_the_first_maximum_after_penalties_and_rolls_no_dice() -> None:
    raw = logits(seed=2)
    best = int(raw.argmax())
    result = run_chain(raw, SamplerSettings(temperature=0.0), None, None)
    assert result.token_id == best and result.u is None
    penalised = run_chain(raw, SamplerSettings(temperature=0, repeat_penalty=3.0),
                          np.array([best], dtype=np.int32), None)
    assert penalised.token_id != best
    assert {s.name: s.active for s in penalised.stages} == {name: name in ("penalties", "temperature")
                                                            for name in STAGE_NAMES}
    assert penalised.stages[-1].name == "temperature"  # where the top word is taken


def test_dice_are_a_pure_function_of_seed_and_index() -> None:
    dice = Dice(123)
    rolls = [dice.u(i) for i in range(50)]
    assert rolls == [Dice(123).u(i) for i in range(50)]
    assert all(0.0 <= u < 1.0 for u in rolls) and len(set(rolls)) == 50
    assert rolls != [Dice(124).u(i) for i in range(50)]
    with pytest.raises(ValueError, match="seed"):
        Dice(-1)


@pytest.mark.parametrize("change, words", [
    ({"top_p": 1.5}, "Top-p must be between"),
    ({"temperature": math.nan}, "Temperature must be between"),
    ({"top_k": 2.5}, "whole number"),
    ({"temperature": 1e-6}, "0 \\(always the top word\\) or at least 0.001"),
    ({"repeat_penalty": 0.0}, "Repeat penalty must be between 0.1"),
    ({"repeat_last_n": "64"}, "must be a number"),
])
def test_absurd_settings_are_refused_in_plain_words(change: dict, words: str) -> None:
    with pytest.raises(SettingsError, match=words):
        SamplerSettings(**change)


def test_settings_round_trip_and_reject_unknown_keys() -> None:
    settings = SamplerSettings(top_k=5, min_p=0.2)
    assert SamplerSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(SettingsError, match="Unknown"):
        SamplerSettings.from_dict({"top_z": 1})
