"""Conformance: logit bias, top-n-sigma, XTC, dynamic temperature, mirostat v1/v2 and adaptive-p
against llama.cpp's own samplers.

Both sides get the same float32 logits; every seeded sampler's own mt19937(seed) is replayed as
llama.cpp consumes it (XTC: one output per apply on 2+ candidates; mirostat and adaptive-p: two
per discrete_distribution over 2+ weights, none otherwise). After every sampler both must keep the
same ids with logits within 1e-5 (relative), in the same order up to exact ties (llama.cpp's sorts
are not stable), chances within 1e-6, and pick the same token at every step of a sequence.
"""
from __future__ import annotations

import platform
from pathlib import Path

import llama_cpp as lib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llama_reference import (Mt19937, OwnedSamplers, RefStage, RngReplay, apply_all, dist_u,
                             init_logit_bias, xtc_chance)

from synthscope.engine import EngineConfig
from synthscope.engine.baseline import bare_llama
from synthscope.sampling import feedback as fb
from synthscope.sampling import newer_stages as ns
from synthscope.sampling import stages
from synthscope.sampling.stages import Candidates

LOGIT_RTOL = 1e-5
PROB_ATOL = 1e-6
F32 = np.float32
MIN_KEEP = 1


def vocab(logits: np.ndarray) -> Candidates:
    return Candidates(np.arange(logits.size, dtype=np.int32), logits.astype(F32), False)


def random_logits(seed: int, n: int, scale: float = 3.0, peak: float = 0.0) -> np.ndarray:
    """Normal logits; `peak` lifts one token that far above the rest."""
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(n) * scale).astype(F32)
    if peak:
        logits[rng.integers(n)] = logits.max() + F32(peak)
    return logits


def row_sequence(seed: int, steps: int, n: int) -> list[np.ndarray]:
    """Varied steps: flat, sharp, and every ninth one so peaked that one token has all the mass."""
    rng = np.random.default_rng(seed)
    return [random_logits(seed * 1000 + i, n, scale=float(rng.uniform(0.3, 4.0)),
                          peak=200.0 if i % 9 == 4 else float(rng.choice([0.0, 0.0, 3.0])))
            for i in range(steps)]


def assert_same(name: str, ours: Candidates, ref: RefStage, check_flag: bool = True,
                rtol: float = LOGIT_RTOL) -> None:
    """Same ids with the same logits, in the same order up to exact ties: positional logits agree,
    and where the ids differ (a cut through equal logits, e.g. top-k into a -inf tail) only ids
    whose logits are exactly equal trade places."""
    assert ours.size == ref.size, f"{name}: kept {ours.size}, llama.cpp kept {ref.size}"
    np.testing.assert_allclose(ours.logits, ref.logits, rtol=rtol, atol=0, err_msg=f"{name}: order")
    both, ia, ib = np.intersect1d(ours.ids, ref.ids, assume_unique=True, return_indices=True)
    np.testing.assert_allclose(ours.logits[ia], ref.logits[ib], rtol=rtol, atol=0,
                               err_msg=f"{name}: logits")
    if both.size < ours.size:
        only_ours = np.sort(ours.logits[np.isin(ours.ids, both, invert=True)])
        only_ref = np.sort(ref.logits[np.isin(ref.ids, both, invert=True)])
        np.testing.assert_array_equal(only_ours, only_ref, err_msg=f"{name}: kept ids")
        assert np.isin(only_ours, ours.logits[ia]).all() or np.unique(only_ours).size == 1, (
            f"{name}: ids differ beyond a tie")
    if check_flag:
        assert ours.sorted == ref.sorted, f"{name}: sorted flag {ours.sorted} vs {ref.sorted}"


def assert_identical(name: str, ours: Candidates, ref: RefStage) -> None:
    """Bit for bit (float adds and compares only), order up to exact ties."""
    assert_same(name, ours, ref, rtol=0)


def assert_same_pick(name: str, pick: fb.Pick, ref: RefStage, selected: int) -> None:
    np.testing.assert_allclose(pick.probs, ref.probs, rtol=0, atol=PROB_ATOL,
                               err_msg=f"{name}: chances")
    assert pick.index == selected, f"{name}: picked #{pick.index}, llama.cpp #{selected}"
    ours, theirs = pick.token_id, int(ref.ids[selected])
    if ours != theirs:  # only two tokens with exactly equal logits may trade places
        logit = dict(zip(pick.candidates.ids.tolist(), pick.candidates.logits.tolist()))
        assert logit[ours] == logit[theirs], f"{name}: picked {ours}, llama.cpp {theirs}"


# --- upstream's golden vectors (vendor/llama.cpp/tests/test-sampling.cpp) ---------------------

def golden(probs: list[float]) -> Candidates:
    """sampler_tester: logit = logf(p) per token id."""
    return vocab(ns.logf(np.array(probs, dtype=F32)))


def llama_run(c: Candidates, samplers: list[tuple[str, object]]) -> list[RefStage]:
    return apply_all(c.logits, samplers)[0]


@pytest.mark.parametrize("probs, expected, n", [
    ([0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.428571, 0.571429], 1.0),
    ([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], 0.0),
    ([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], 3.0)])
def test_golden_top_n_sigma(probs: list[float], expected: list[float], n: float) -> None:
    ours = ns.top_n_sigma(golden(probs), n)
    chances, _ = stages.dist_probabilities(ours)  # the test applies dist(0) after it
    np.testing.assert_allclose(chances, expected, rtol=0, atol=1e-5, err_msg="golden")
    with OwnedSamplers() as owned:
        ref = llama_run(golden(probs), [("sigma", owned.add(lib.llama_sampler_init_top_n_sigma(n))),
                                        ("dist", owned.add(lib.llama_sampler_init_dist(0)))])
    assert_same("top_n_sigma", ours, ref[0])
    np.testing.assert_allclose(ref[1].probs, expected, rtol=0, atol=1e-5, err_msg="golden")


@pytest.mark.parametrize("probs, expected, p, t", [
    ([0.4, 0.3, 0.2, 0.1], [0.1], 0.99, 0.09),
    ([0.4, 0.3, 0.2, 0.1], [0.2, 0.1], 0.99, 0.19),
    ([0.4, 0.3, 0.2, 0.1], [0.3, 0.2, 0.1], 0.99, 0.29),
    ([0.4, 0.3, 0.2, 0.1], [0.4, 0.3, 0.2, 0.1], 0.99, 0.39)])
def test_golden_xtc(probs: list[float], expected: list[float], p: float, t: float) -> None:
    """llama_sampler_init_xtc(p, t, min_keep=0, seed=0); XTC leaves the pre-removal chances."""
    draw = ns.xtc_draw(Mt19937(0)())
    ours, outcome = ns.xtc(golden(probs), p, t, draw, min_keep=0)
    assert outcome is not None and outcome.fired
    _, before = ns.llama_softmax(golden(probs), do_sort=True)
    np.testing.assert_allclose(before[outcome.removed:], expected, rtol=0, atol=1e-5,
                               err_msg="golden")
    assert ours.size == len(expected)
    with OwnedSamplers() as owned:
        ref = llama_run(golden(probs), [("xtc", owned.add(lib.llama_sampler_init_xtc(p, t, 0, 0)))])
    assert_same("xtc", ours, ref[0])
    np.testing.assert_allclose(ref[0].probs, expected, rtol=0, atol=1e-5, err_msg="golden")


@pytest.mark.parametrize("probs, expected, temp, delta, exponent", [
    ([0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4], 1.0, 0.0, 1.0),
    ([0.1, 0.2, 0.3, 0.4], [0.0, 0.0, 0.0, 1.0], 0.0, 0.0, 1.0)])
def test_golden_temp_ext(probs: list[float], expected: list[float], temp: float, delta: float,
                         exponent: float) -> None:
    ours, used = ns.dynamic_temperature(golden(probs), temp, delta, exponent)
    assert used is None
    chances, _ = stages.dist_probabilities(ours)
    np.testing.assert_allclose(chances, expected, rtol=0, atol=1e-5, err_msg="golden")
    with OwnedSamplers() as owned:
        sampler = owned.add(lib.llama_sampler_init_temp_ext(temp, delta, exponent))
        ref = llama_run(golden(probs), [("temp_ext", sampler)])
    assert_same("temp_ext", ours, ref[0])


# --- the random adaptors ---------------------------------------------------------------------

def test_xtc_draw_is_float_canonical() -> None:
    assert ns.xtc_draw(0) == 0.0
    assert ns.xtc_draw(2**31) == 0.5
    assert ns.xtc_draw(2**32 - 1) == float(np.nextafter(F32(1), F32(0)))  # rounds up to 1.0f
    rng = Mt19937(77)
    for _ in range(2000):
        x = rng()
        assert ns.xtc_draw(x) == xtc_chance(x) and 0.0 <= ns.xtc_draw(x) < 1.0


@pytest.mark.parametrize("seed", [0, 1, 42, 2**31, 2**32 - 2])
def test_canonical_double_is_dist_u(seed: int) -> None:
    rng = Mt19937(seed)
    assert fb.canonical_double(rng(), rng()) == dist_u(seed)
    assert fb.canonical_double(2**32 - 1, 2**32 - 1) == float(np.nextafter(1.0, 0.0))


def test_discrete_draw_is_lower_bound_of_normalised_cumulative_weights() -> None:
    weights = np.array([0.25, 0.25, 0.5], dtype=F32)
    for u, index in ((0.0, 0), (0.25, 0), (0.2500001, 1), (0.5, 1), (0.75, 2), (0.999, 2)):
        assert fb.discrete_draw(weights, u) == index
    assert fb.discrete_draw(np.array([0.3], dtype=F32), 0.9) == 0
    assert not fb.draws_needed(1) and fb.draws_needed(2)


@settings(max_examples=40)
@given(st.integers(0, 2**32 - 2), st.sampled_from([2, 3, 50, 2000]), st.floats(0.2, 5.0))
def test_plain_adaptive_p_is_discrete_distribution(seed: int, n: int, scale: float) -> None:
    """adaptive-p with a negative target is std::discrete_distribution over the softmax."""
    logits = random_logits(seed, n, scale)
    with OwnedSamplers() as owned:
        ref, selected = apply_all(logits, [("adaptive", owned.add(
            lib.llama_sampler_init_adaptive_p(-1.0, 0.9, seed)))])
    result = fb.adaptive_p(vocab(logits), -1.0, 0.9, fb.adaptive_initial_state(-1.0, 0.9),
                           dist_u(seed))
    assert result.adapted_target is None
    assert_same_pick("adaptive_p", result.pick, ref[0], selected)


# --- logit bias ------------------------------------------------------------------------------

@st.composite
def bias_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n = draw(st.sampled_from([5, 300, 5000]))
    count = draw(st.integers(1, 12))
    tokens = draw(st.lists(st.integers(-3, n + 3), min_size=count, max_size=count))
    tokens += draw(st.lists(st.sampled_from(tokens), max_size=4))  # the same token again
    biases = draw(st.lists(st.one_of(st.floats(-30, 30, width=32), st.just(-np.inf)),
                           min_size=len(tokens), max_size=len(tokens)))
    top_k = draw(st.sampled_from([0, 0, 3, n // 2]))
    return (random_logits(draw(st.integers(0, 2**32 - 1)), n), np.array(tokens),
            np.array(biases, dtype=F32), top_k)


@settings(max_examples=80)
@given(bias_cases())
def test_logit_bias_matches_llama_cpp(case: tuple[np.ndarray, np.ndarray, np.ndarray, int]) -> None:
    """First in id order (every pair added, twice-named tokens twice) and, after a top-k, on an
    array llama.cpp must search (only a token's first bias counts there)."""
    logits, tokens, biases, top_k = case
    c = stages.top_k(vocab(logits), top_k)
    ours = ns.logit_bias(c, tokens, biases)
    with OwnedSamplers() as owned:
        ref, _ = apply_all(logits, [("top_k", owned.add(lib.llama_sampler_init_top_k(top_k))),
                                    ("bias", owned.add(init_logit_bias(logits.size, tokens,
                                                                       biases)))])
    assert_identical("top_k", c, ref[0])
    assert_identical("logit_bias", ours, ref[1])


def test_logit_bias_bans_and_adds_twice() -> None:
    logits = random_logits(3, 100)
    top = int(np.argmax(logits))
    ours = ns.logit_bias(vocab(logits), np.array([top, 7, 7, 500]), np.array([-np.inf, 1, 2, 9]))
    assert ours.logits[top] == -np.inf and ours.logits[7] == (logits[7] + F32(1)) + F32(2)
    untouched = np.setdiff1d(np.arange(100), [top, 7])
    np.testing.assert_array_equal(ours.logits[untouched], logits[untouched])
    c = vocab(logits)
    assert ns.logit_bias(c, np.array([], dtype=np.int32), np.array([], dtype=F32)) is c


# --- top-n-sigma -----------------------------------------------------------------------------

@settings(max_examples=80)
@given(st.integers(0, 2**32 - 1), st.sampled_from([2, 3, 40, 1000, 49152]), st.floats(0.05, 8.0),
       st.floats(-20, 20), st.floats(-1.0, 5.0), st.sampled_from([0, 0, 5, 300]),
       st.integers(0, 3))
def test_top_n_sigma_matches_llama_cpp(seed: int, n_vocab: int, scale: float, offset: float,
                                       n: float, top_k: int, masked: int) -> None:
    """Masks in place (size, order and flag kept), -inf left out of mean and std; also on a
    sorted array (after top-k) and with tokens already at -inf."""
    logits = random_logits(seed, n_vocab, scale) + F32(offset)
    logits[np.random.default_rng(seed).choice(n_vocab, min(masked, n_vocab - 1), False)] = -np.inf
    c = stages.top_k(vocab(logits), top_k)
    ours = ns.top_n_sigma(c, n)
    with OwnedSamplers() as owned:
        ref, _ = apply_all(logits, [("top_k", owned.add(lib.llama_sampler_init_top_k(top_k))),
                                    ("sigma", owned.add(lib.llama_sampler_init_top_n_sigma(n)))])
    assert_identical("top_n_sigma", ours, ref[1])  # no transcendental function: bit for bit
    assert ours.sorted == c.sorted and ours.size == c.size


def test_top_n_sigma_on_a_gemma_sized_vocabulary() -> None:
    logits = random_logits(11, 262144, scale=2.5, peak=6.0)
    for n in (0.5, 1.0, 2.0, 3.5):
        ours = ns.top_n_sigma(vocab(logits), n)
        with OwnedSamplers() as owned:
            ref, _ = apply_all(logits, [("s", owned.add(lib.llama_sampler_init_top_n_sigma(n)))])
        np.testing.assert_array_equal(ours.logits, ref[0].logits)
        assert 0 < np.count_nonzero(ours.logits > -np.inf) < logits.size


def test_float_sum_of_doubles_rounds_every_step() -> None:
    terms = np.random.default_rng(5).uniform(0, 50, 20000) ** 2
    acc = F32(0)
    for term in terms:
        acc = F32(np.float64(acc) + term)
    assert ns.float_sum_of_doubles(terms) == acc


# --- XTC -------------------------------------------------------------------------------------

XTC_CASES = [(0.5, 0.1, 1, 123), (1.0, 0.05, 1, 7), (0.3, 0.2, 0, 99), (0.8, 0.1, 30, 5),
             (0.0, 0.1, 1, 3), (0.5, 0.6, 1, 3)]


@pytest.mark.parametrize("probability, threshold, min_keep, seed", XTC_CASES)
def test_xtc_sequence_replays_its_rng(probability: float, threshold: float, min_keep: int,
                                      seed: int) -> None:
    """top-k → XTC over 90 steps with XTC's mt19937(seed) replayed one output per eligible apply
    (top-k 1 leaves one candidate: no draw)."""
    ks = np.random.default_rng(seed).choice([1, 2, 10, 40, 0], 90)
    rows = row_sequence(seed, 90, 2000)
    replay, fired, missed, removed = RngReplay(seed), 0, 0, 0
    with OwnedSamplers() as owned:
        sampler = owned.add(lib.llama_sampler_init_xtc(probability, threshold, min_keep, seed))
        for k, logits in zip(ks, rows):
            top = owned.add(lib.llama_sampler_init_top_k(int(k)))
            ref, _ = apply_all(logits, [("top_k", top), ("xtc", sampler)])
            c = stages.top_k(vocab(logits), int(k))
            eligible = ns.xtc_enabled(probability, threshold) and c.size >= 2
            draw = ns.xtc_draw(replay.take_u32()) if eligible else 0.5
            ours, outcome = ns.xtc(c, probability, threshold, draw, min_keep)
            assert (outcome is None) == (not eligible)
            assert_same("xtc", ours, ref[1])
            if outcome is not None:
                fired, missed = fired + outcome.fired, missed + (not outcome.fired)
                removed += outcome.removed > 0
                assert outcome.removed == c.size - ours.size
            if outcome is not None and outcome.fired:  # XTC's p: the softmax before removal
                _, before = ns.llama_softmax(c, do_sort=True)
                np.testing.assert_allclose(before[outcome.removed:], ref[1].probs, rtol=0,
                                           atol=PROB_ATOL, err_msg="xtc: chances")
    if ns.xtc_enabled(probability, threshold):
        assert fired > 0 and replay.consumed < 90
        assert missed > 0 or probability == 1.0
        assert removed > 0 or min_keep > 10
    else:
        assert replay.consumed == 0


@settings(max_examples=60)
@given(st.integers(0, 2**32 - 2), st.sampled_from([2, 3, 20, 500]), st.floats(0.1, 6.0),
       st.floats(0.01, 1.0), st.floats(0.0, 0.5), st.integers(0, 4))
def test_xtc_single_apply(seed: int, n: int, scale: float, probability: float, threshold: float,
                          min_keep: int) -> None:
    logits = random_logits(seed, n, scale)
    ours, outcome = ns.xtc(vocab(logits), probability, threshold,
                           ns.xtc_draw(Mt19937(seed)()), min_keep)
    with OwnedSamplers() as owned:
        ref, _ = apply_all(logits, [("xtc", owned.add(
            lib.llama_sampler_init_xtc(probability, threshold, min_keep, seed)))])
    assert outcome is not None
    assert_same("xtc", ours, ref[0])


# --- dynamic temperature ---------------------------------------------------------------------

TEMP_EXT_CASES = [(0.8, 0.5, 1.0), (1.0, 0.7, 2.0), (0.5, 1.0, 0.5), (1.3, 0.0, 1.0),
                  (1.0, -1.0, 1.0), (0.0, 0.0, 1.0), (2.0, 0.3, 0.0), (0.7, 0.2, 3.0),
                  (0.0, 0.5, 1.0), (-0.5, 1.0, 1.0)]


@pytest.mark.parametrize("temp, delta, exponent", TEMP_EXT_CASES)
@pytest.mark.parametrize("n, top_k, top_p", [(2000, 40, 0.95), (5000, 0, 0.9), (300, 300, 1.0),
                                             (50, 2, 1.0)])
def test_temp_ext_chain_matches_llama_cpp(temp: float, delta: float, exponent: float, n: int,
                                          top_k: int, top_p: float) -> None:
    """top-k → top-p → temp-ext → dist, stage by stage, with dist's dice replayed."""
    for seed in (1, 2, 3):
        logits = random_logits(seed + n, n, scale=1.0 + seed)
        c1 = stages.top_k(vocab(logits), top_k)
        c2 = stages.top_p(c1, top_p)
        c3, used = ns.dynamic_temperature(c2, temp, delta, exponent)
        assert (used is None) == (not F32(delta) > 0 or c2.size <= 1)
        with OwnedSamplers() as owned:
            ref, selected = apply_all(logits, [
                ("top_k", owned.add(lib.llama_sampler_init_top_k(top_k))),
                ("top_p", owned.add(lib.llama_sampler_init_top_p(top_p, MIN_KEEP))),
                ("temp_ext", owned.add(lib.llama_sampler_init_temp_ext(temp, delta, exponent))),
                ("dist", owned.add(lib.llama_sampler_init_dist(seed)))])
        for name, ours, theirs in (("top_k", c1, ref[0]), ("top_p", c2, ref[1]),
                                   ("temp_ext", c3, ref[2])):
            assert_same(name, ours, theirs)
        probs, running = stages.dist_probabilities(c3)
        np.testing.assert_allclose(probs, ref[3].probs, rtol=0, atol=PROB_ATOL,
                                   err_msg="dist: chances")
        assert stages.draw(running, dist_u(seed)) == selected


def test_temp_ext_with_no_entropy_keeps_only_the_top() -> None:
    """All the mass on one token: entropy 0, so the temperature is max(0, t − delta) = 0 and
    llama.cpp's temp 0 keeps the first maximum only."""
    logits = random_logits(4, 500, peak=300.0)
    ours, used = ns.dynamic_temperature(vocab(logits), 0.4, 0.5, 1.0)
    assert used == 0.0
    assert np.count_nonzero(ours.logits > -np.inf) == 1 and ours.ids[0] == np.argmax(logits)
    with OwnedSamplers() as owned:
        sampler = owned.add(lib.llama_sampler_init_temp_ext(0.4, 0.5, 1.0))
        ref, _ = apply_all(logits, [("temp_ext", sampler)])
    assert_same("temp_ext", ours, ref[0])


def test_temp_ext_skips_masked_tokens_in_the_entropy() -> None:
    """top-n-sigma leaves -inf in the array: p = 0 there, left out of the entropy but counted in
    the maximum entropy's candidate count."""
    for seed in range(5):
        logits = random_logits(seed, 3000, scale=2.0)
        c, used = ns.dynamic_temperature(ns.top_n_sigma(vocab(logits), 1.5), 0.9, 0.6, 1.5)
        assert used is not None
        with OwnedSamplers() as owned:
            ref, selected = apply_all(logits, [
                ("sigma", owned.add(lib.llama_sampler_init_top_n_sigma(1.5))),
                ("temp_ext", owned.add(lib.llama_sampler_init_temp_ext(0.9, 0.6, 1.5))),
                ("dist", owned.add(lib.llama_sampler_init_dist(seed)))])
        assert_same("temp_ext", c, ref[1])
        assert np.isneginf(c.logits).sum() > 2000
        probs, running = stages.dist_probabilities(c)
        np.testing.assert_allclose(probs, ref[2].probs, rtol=0, atol=PROB_ATOL,
                                   err_msg="dist: chances")
        assert stages.draw(running, dist_u(seed)) == selected


# --- mirostat --------------------------------------------------------------------------------

def run_mirostat(rows: list[np.ndarray], version: int, tau: float, eta: float, temp: float,
                 seed: int, m: int = 100) -> list[fb.MirostatResult]:
    """temp → mirostat (as llama.cpp's common builds it) over a sequence, mu carried by us and
    by llama.cpp's sampler; every step must agree."""
    n_vocab = rows[0].size
    replay, mu, results = RngReplay(seed), fb.mirostat_initial_mu(tau), []
    with OwnedSamplers() as owned:
        temper = owned.add(lib.llama_sampler_init_temp(temp))
        sampler = owned.add(lib.llama_sampler_init_mirostat(n_vocab, seed, tau, eta, m)
                            if version == 1 else lib.llama_sampler_init_mirostat_v2(seed, tau, eta))
        for step, logits in enumerate(rows):
            ref, selected = apply_all(logits, [("temp", temper), ("mirostat", sampler)])
            c = stages.temperature(vocab(logits), temp)
            u = replay.peek_double()
            result = (fb.mirostat_v1(c, n_vocab, tau, eta, mu, u, m) if version == 1
                      else fb.mirostat_v2(c, tau, eta, mu, u))
            if fb.draws_needed(result.pick.candidates.size):
                replay.take_double()
            name = f"mirostat v{version} step {step}"
            assert_same(name, result.pick.candidates, ref[1])  # v1: its k; v2: its cut
            assert_same_pick(name, result.pick, ref[1], selected)
            assert result.mu_before == mu
            mu = result.mu_after
            results.append(result)
    return results


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("tau, eta, temp, seed", [(5.0, 0.1, 1.0, 42), (3.0, 0.3, 0.8, 7),
                                                  (1.0, 0.05, 1.5, 2024), (8.0, 1.0, 0.7, 1)])
def test_mirostat_sequence_matches_llama_cpp(version: int, tau: float, eta: float, temp: float,
                                             seed: int) -> None:
    results = run_mirostat(row_sequence(seed, 60, 3000), version, tau, eta, temp, seed)
    sizes = [r.pick.candidates.size for r in results]
    assert min(sizes) == 1 and max(sizes) > 2  # steps without a draw and steps with one
    assert len({r.mu_after for r in results}) > 30  # mu moves every step
    for r in results:
        assert r.surprise == pytest.approx(-np.log2(r.pick.probs[r.pick.index]), rel=1e-5, abs=1e-6)
        assert r.mu_after == pytest.approx(r.mu_before - eta * (r.surprise - tau), rel=1e-5,
                                           abs=1e-5)
        assert (r.k is None) == (version == 2)
        if r.k is not None:
            assert r.pick.candidates.size == min(r.k, 3000)


@pytest.mark.parametrize("m", [2, 5, 1000, 1, 0])
def test_mirostat_v1_estimate_over_other_m(m: int) -> None:
    """m tokens estimate s_hat; m = 1 leaves no terms (0/0: k is NaN, so 1) and m = 0 wraps
    size_t(m - 1) to every candidate."""
    results = run_mirostat(row_sequence(m + 3, 20, 1500), 1, 4.0, 0.2, 1.0, m + 3, m)
    if m == 1:
        assert {r.k for r in results} == {1}


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                    reason="int(float) beyond int's range is INT_MIN on x86-64 only")
def test_mirostat_k_beyond_int_range_becomes_one() -> None:
    """A large mu makes k overflow int: x86-64's conversion gives INT_MIN, so top-k keeps 1."""
    results = run_mirostat(row_sequence(17, 3, 3000), 1, 40.0, 0.1, 1.0, 17)
    assert all(r.k == 1 and r.pick.candidates.size == 1 for r in results)


def test_mirostat_initial_mu_is_twice_tau_in_float() -> None:
    assert fb.mirostat_initial_mu(5.0) == 10.0
    assert fb.mirostat_initial_mu(0.1) == float(F32(2) * F32(0.1))


# --- adaptive-p ------------------------------------------------------------------------------

def run_adaptive(rows: list[np.ndarray], target: float, decay: float, seed: int,
                 before: str, other_every: int = 7) -> list[fb.AdaptiveState]:
    """min-p or top-k → adaptive-p over a sequence; after each step llama_sampler_accept gets the
    pick, or on every `other_every`-th step another token (a person's choice)."""
    replay, state, states = RngReplay(seed), fb.adaptive_initial_state(target, decay), []
    with OwnedSamplers() as owned:
        sampler = owned.add(lib.llama_sampler_init_adaptive_p(target, decay, seed))
        for step, logits in enumerate(rows):
            first = owned.add(lib.llama_sampler_init_min_p(0.05, MIN_KEEP) if before == "min_p"
                              else lib.llama_sampler_init_top_k(50))
            ref, selected = apply_all(logits, [(before, first), ("adaptive", sampler)])
            c = (stages.min_p(vocab(logits), 0.05) if before == "min_p"
                 else stages.top_k(vocab(logits), 50))
            assert_same(before, c, ref[0])
            u = replay.peek_double()
            result = fb.adaptive_p(c, target, decay, state, u)
            if fb.draws_needed(c.size):
                replay.take_double()
            name = f"adaptive-p step {step}"
            assert_same(name, result.pick.candidates, ref[1], check_flag=False)
            assert ref[1].sorted == c.sorted  # llama.cpp leaves the flag, now stale
            assert result.pick.candidates.sorted == (c.sorted and target < 0)
            assert_same_pick(name, result.pick, ref[1], selected)
            _, original = ns.llama_softmax(c, do_sort=False)
            np.testing.assert_array_equal(result.original_probs, original)
            token = result.pick.token_id
            if step % other_every == other_every - 1 and c.size > 1:
                token = int(c.ids[1] if c.ids[0] == token else c.ids[0])
            lib.llama_sampler_accept(sampler, token)
            new_state = fb.adaptive_accept(state, target, decay, result, token)
            if token != result.pick.token_id or target < 0:
                assert new_state == state
            state = new_state
            states.append(state)
    return states


@pytest.mark.parametrize("target, decay, seed", [(0.3, 0.9, 11), (0.7, 0.5, 12), (0.05, 0.99, 13),
                                                 (1.5, 1.5, 14), (0.4, -0.2, 15), (-1.0, 0.9, 16)])
@pytest.mark.parametrize("before", ["min_p", "top_k"])
def test_adaptive_p_sequence_matches_llama_cpp(target: float, decay: float, seed: int,
                                               before: str) -> None:
    """The EMA moves the target each step (checked through the transformed logits and chances
    llama.cpp leaves in the array); top-k's sorted flag makes both take the first new score as
    the softmax's max."""
    states = run_adaptive(row_sequence(seed, 60, 2000), target, decay, seed, before)
    if target >= 0:
        assert len(set(states)) > 20
    else:
        assert set(states) == {fb.adaptive_initial_state(target, decay)}


def test_adaptive_initial_state_clamps_decay() -> None:
    assert fb.adaptive_initial_state(0.5, 3.0) == fb.adaptive_initial_state(0.5, 0.99)
    assert fb.adaptive_initial_state(0.5, -1.0) == fb.AdaptiveState(0.5, 1.0)
    state = fb.adaptive_initial_state(0.25, 0.5)
    assert state == fb.AdaptiveState(0.5, 2.0)


# --- the whole of llama.cpp's common chain ---------------------------------------------------

def test_common_chain_over_a_sequence() -> None:
    """logit-bias → top-n-sigma → top-k → top-p → min-p → XTC → temp-ext → dist, 60 steps,
    the XTC and dist RNGs (same seed, separate streams) both replayed."""
    seed, n = 31, 4000
    ids, biases = np.array([3, 17, 17, 2500]), np.array([2.5, -1.0, 0.5, -np.inf], dtype=F32)
    xtc_replay, dist_replay = RngReplay(seed), RngReplay(seed)
    with OwnedSamplers() as owned:
        chain = [("logit_bias", owned.add(init_logit_bias(n, ids, biases))),
                 ("top_n_sigma", owned.add(lib.llama_sampler_init_top_n_sigma(2.0))),
                 ("top_k", owned.add(lib.llama_sampler_init_top_k(60))),
                 ("top_p", owned.add(lib.llama_sampler_init_top_p(0.95, MIN_KEEP))),
                 ("min_p", owned.add(lib.llama_sampler_init_min_p(0.02, MIN_KEEP))),
                 ("xtc", owned.add(lib.llama_sampler_init_xtc(0.5, 0.1, MIN_KEEP, seed))),
                 ("temp_ext", owned.add(lib.llama_sampler_init_temp_ext(0.8, 0.4, 1.0))),
                 ("dist", owned.add(lib.llama_sampler_init_dist(seed)))]
        for step, logits in enumerate(row_sequence(seed, 60, n)):
            ref, selected = apply_all(logits, chain)
            c = ns.logit_bias(vocab(logits), ids, biases)
            outs = [c, ns.top_n_sigma(c, 2.0)]
            outs.append(stages.top_k(outs[-1], 60))
            outs.append(stages.top_p(outs[-1], 0.95))
            outs.append(stages.min_p(outs[-1], 0.02))
            draw = ns.xtc_draw(xtc_replay.take_u32()) if outs[-1].size >= 2 else 0.5
            outs.append(ns.xtc(outs[-1], 0.5, 0.1, draw)[0])
            outs.append(ns.dynamic_temperature(outs[-1], 0.8, 0.4, 1.0)[0])
            for (name, _), ours, theirs in zip(chain, outs, ref):
                assert_same(f"{name} step {step}", ours, theirs)
            probs, running = stages.dist_probabilities(outs[-1])
            np.testing.assert_allclose(probs, ref[-1].probs, rtol=0, atol=PROB_ATOL,
                                       err_msg="dist: chances")
            assert stages.draw(running, dist_replay.take_double()) == selected


# --- real logits -----------------------------------------------------------------------------

PROMPT = (b"The history of the printing press begins in the fifteenth century, when Johannes "
          b"Gutenberg combined a screw press, oil-based ink and movable metal type. Within fifty "
          b"years, presses had spread to more than two hundred cities across Europe, and the "
          b"number of books grew from thousands to millions. Printers in Venice, Paris and London "
          b"competed for scholars, merchants and readers of every kind.")


@pytest.fixture(scope="module")
def smollm_rows(smollm_path: Path, engine_config: EngineConfig) -> list[np.ndarray]:
    """SmolLM2-135M-Instruct's logits at every position of one prompt (one eval)."""
    llm = bare_llama(smollm_path, engine_config, n_ctx=256, logits_all=True)
    try:
        tokens = llm.tokenize(PROMPT, add_bos=True)
        llm.reset()
        llm.eval(tokens)
        rows = [np.array(row, dtype=F32) for row in llm.scores[:len(tokens)]]
    finally:
        llm.close()
    assert len(rows) >= 60 and rows[0].shape == (49152,)
    return rows


def test_real_top_n_sigma_and_logit_bias(smollm_rows: list[np.ndarray]) -> None:
    for i, logits in enumerate(smollm_rows[::6]):
        top = int(np.argmax(logits))
        ids, biases = np.array([top, 42, 42]), np.array([-np.inf, 3.0, -1.5], dtype=F32)
        with OwnedSamplers() as owned:
            ref, _ = apply_all(logits, [
                ("bias", owned.add(init_logit_bias(logits.size, ids, biases))),
                ("sigma", owned.add(lib.llama_sampler_init_top_n_sigma(1.0 + i % 3)))])
        biased = ns.logit_bias(vocab(logits), ids, biases)
        np.testing.assert_array_equal(biased.logits, ref[0].logits)
        np.testing.assert_array_equal(ns.top_n_sigma(biased, 1.0 + i % 3).logits, ref[1].logits)


def test_real_xtc_sequence(smollm_rows: list[np.ndarray]) -> None:
    replay, fired = RngReplay(8), 0
    with OwnedSamplers() as owned:
        top = owned.add(lib.llama_sampler_init_top_k(40))
        sampler = owned.add(lib.llama_sampler_init_xtc(0.6, 0.08, MIN_KEEP, 8))
        for logits in smollm_rows:
            ref, _ = apply_all(logits, [("top_k", top), ("xtc", sampler)])
            c = stages.top_k(vocab(logits), 40)
            ours, outcome = ns.xtc(c, 0.6, 0.08, ns.xtc_draw(replay.take_u32()))
            assert_same("xtc", ours, ref[1])
            fired += outcome is not None and outcome.removed > 0
    assert fired > 0


@pytest.mark.parametrize("temp, delta, exponent", [(0.8, 0.5, 1.0), (1.2, 1.2, 2.0)])
def test_real_temp_ext_chain(smollm_rows: list[np.ndarray], temp: float, delta: float,
                             exponent: float) -> None:
    for seed, logits in enumerate(smollm_rows[::5]):
        c = stages.top_p(stages.top_k(vocab(logits), 100), 0.95)
        ours, _ = ns.dynamic_temperature(c, temp, delta, exponent)
        with OwnedSamplers() as owned:
            ref, selected = apply_all(logits, [
                ("top_k", owned.add(lib.llama_sampler_init_top_k(100))),
                ("top_p", owned.add(lib.llama_sampler_init_top_p(0.95, MIN_KEEP))),
                ("temp_ext", owned.add(lib.llama_sampler_init_temp_ext(temp, delta, exponent))),
                ("dist", owned.add(lib.llama_sampler_init_dist(seed)))])
        assert_same("temp_ext", ours, ref[2])
        probs, running = stages.dist_probabilities(ours)
        np.testing.assert_allclose(probs, ref[3].probs, rtol=0, atol=PROB_ATOL,
                                   err_msg="dist: chances")
        assert stages.draw(running, dist_u(seed)) == selected


@pytest.mark.parametrize("version", [1, 2])
def test_real_mirostat_sequence(smollm_rows: list[np.ndarray], version: int) -> None:
    results = run_mirostat(smollm_rows, version, 4.0, 0.15, 0.9, 5)
    assert len({r.pick.candidates.size for r in results}) > 5


@pytest.mark.parametrize("target, decay", [(0.4, 0.9), (0.1, 0.6)])
def test_real_adaptive_p_sequence(smollm_rows: list[np.ndarray], target: float, decay: float,
                                  ) -> None:
    run_adaptive(smollm_rows, target, decay, 21, "min_p", other_every=5)
