"""The whole chain in any order, with every stage: run_chain against llama.cpp's own samplers chained
the same way (common_sampler_init's construction), on SmolLM2's real logits and history; and runs
with XTC, mirostat or adaptive-p replayed exactly, from their start and from any step."""
from __future__ import annotations

import ctypes
import math
from pathlib import Path

import llama_cpp
import numpy as np
import pytest
from llama_reference import MIN_KEEP, Mt19937, OwnedSamplers, apply_all, dist_u, init_logit_bias, xtc_chance

from synthscope.engine import Engine
from synthscope.engine.dry_breakers import dry_breakers
from synthscope.sampling import SamplerSettings, SettingsError, run_chain
from synthscope.sampling.order import DEFAULT_ORDER, OrderError, format_order, parse_order
from synthscope.sampling.settings import parse_bias
from synthscope.session import Generator
from synthscope.session.replay import replay_with
from synthscope.session.step_inputs import feedback_before

SEED = 4321
PROB_ATOL = 1e-6
ORDERS = [
    DEFAULT_ORDER,
    ("temperature", "top_k", "top_p", "min_p", "penalties", "dry", "xtc", "top_n_sigma", "typical_p"),
    ("dry", "penalties", "min_p", "xtc", "temperature", "top_n_sigma", "top_k", "top_p", "typical_p"),
    ("top_k", "temperature"),
]
SETTINGS = [
    SamplerSettings(),
    SamplerSettings(temperature=1.3, top_k=30, top_p=0.9, min_p=0.02, repeat_penalty=1.2,
                    dry_multiplier=0.8, dry_allowed_length=1, xtc_probability=1.0, xtc_threshold=0.05,
                    top_n_sigma=2.0),
    SamplerSettings(temperature=0.7, top_k=0, top_p=1.0, min_p=0.0, dynatemp_range=0.5,
                    dynatemp_exp=1.5, xtc_probability=0.5, xtc_threshold=0.1, frequency_penalty=0.3,
                    logit_bias=((13, 3.0), (28, -math.inf), (30, -1.5))),
    # Typical-p without a ban or top-n-sigma: a word with no chance at all makes llama.cpp's entropy
    # NaN (0 × log 0), where Synthscope leaves such words out of the sum.
    SamplerSettings(temperature=1.1, typical_p=0.9, top_k=60, presence_penalty=0.5, dry_multiplier=0.5),
]
PROMPT = "The cat sat on the mat. The cat sat on the mat. The cat sat on the"


@pytest.fixture(scope="module")
def real_step(smollm_engine: Engine) -> tuple[np.ndarray, np.ndarray]:
    """Logits after a repetitive prompt (DRY and the penalties have something to do) and its tokens."""
    smollm_engine.reset()
    tokens = smollm_engine.tokenize(PROMPT)
    smollm_engine.decode(tokens)
    return smollm_engine.logits().copy(), np.array(tokens, dtype=np.int32)


def reference(engine: Engine, logits: np.ndarray, history: np.ndarray, s: SamplerSettings,
              seed: int) -> tuple[int, np.ndarray, np.ndarray]:
    """llama.cpp's chain as common_sampler_init builds it, in `s.samplers`' order, then dist(seed):
    the token it selects and the final (ids, p)."""
    vocab = llama_cpp.llama_model_get_vocab(engine._model)
    n = logits.shape[0]
    with OwnedSamplers() as owned:
        chain: list[tuple[str, object]] = []
        if s.logit_bias:
            ids, biases = zip(*s.logit_bias)
            chain.append(("logit_bias", owned.add(init_logit_bias(n, list(ids), list(biases)))))
        for name in s.samplers:
            if name == "penalties":
                sampler = owned.add(llama_cpp.llama_sampler_init_penalties(
                    n, s.repeat_last_n, s.repeat_penalty, s.frequency_penalty, s.presence_penalty))
            elif name == "dry":
                breakers = [b.encode() for b in s.dry_sequence_breakers]
                array = (ctypes.c_char_p * len(breakers))(*breakers)
                sampler = owned.add(llama_cpp.llama_sampler_init_dry(
                    vocab, s.dry_multiplier, s.dry_base, s.dry_allowed_length, s.dry_penalty_last_n,
                    array, len(breakers)))
            elif name == "top_n_sigma":
                sampler = owned.add(llama_cpp.llama_sampler_init_top_n_sigma(s.top_n_sigma))
            elif name == "top_k":
                sampler = owned.add(llama_cpp.llama_sampler_init_top_k(s.top_k))
            elif name == "typical_p":
                sampler = owned.add(llama_cpp.llama_sampler_init_typical(s.typical_p, MIN_KEEP))
            elif name == "top_p":
                sampler = owned.add(llama_cpp.llama_sampler_init_top_p(s.top_p, MIN_KEEP))
            elif name == "min_p":
                sampler = owned.add(llama_cpp.llama_sampler_init_min_p(s.min_p, MIN_KEEP))
            elif name == "xtc":
                sampler = owned.add(llama_cpp.llama_sampler_init_xtc(s.xtc_probability, s.xtc_threshold,
                                                                     MIN_KEEP, seed))
            else:
                sampler = owned.add(llama_cpp.llama_sampler_init_temp_ext(s.temperature, s.dynatemp_range,
                                                                          s.dynatemp_exp))
            for token in history.tolist() if name in ("penalties", "dry") else ():
                llama_cpp.llama_sampler_accept(sampler, int(token))
            chain.append((name, sampler))
        chain.append(("dist", owned.add(llama_cpp.llama_sampler_init_dist(seed))))
        stages, selected = apply_all(logits, chain)
    final = stages[-1]
    return int(final.ids[selected]), final.ids, final.probs


@pytest.mark.parametrize("order", ORDERS, ids=format_order)
@pytest.mark.parametrize("settings", range(len(SETTINGS)))
def test_any_order_of_every_stage_matches_llama_cpp(smollm_engine: Engine, real_step, order, settings) -> None:
    logits, history = real_step
    s = SETTINGS[settings].with_changes(samplers=order)
    token, ids, probs = reference(smollm_engine, logits, history, s, SEED)
    # XTC's own draw is the first output of its mt19937(seed); the dice's is dist's first double.
    ours = run_chain(logits, s, history, dist_u(SEED), xtc_u=xtc_chance(Mt19937(SEED)()),
                     breakers=dry_breakers(smollm_engine, s.dry_sequence_breakers))
    assert [step.name for step in ours.stages] == (["logit_bias"] if s.logit_bias else []) + list(order)
    alive = probs > 0  # llama.cpp keeps −inf (top-n-sigma, bans) in the array with no chance
    ours_alive = ours.final_probs > 0
    assert sorted(ours.final.ids[ours_alive].tolist()) == sorted(ids[alive].tolist())
    chance = dict(zip(ids.tolist(), probs.tolist()))
    for token_id, p in zip(ours.final.ids.tolist(), ours.final_probs.tolist()):
        assert p == pytest.approx(chance[token_id], abs=PROB_ATOL), (order, token_id)
    assert ours.token_id == token
    if s.xtc_probability and "xtc" in order and settings:
        assert ours.stage("xtc").detail is not None  # it rolled, and the roll is recorded


def test_stages_off_cost_nothing_and_change_nothing(real_step) -> None:
    """With the newer stages off, every order of the classic ones that llama-cpp-python uses gives
    today's result, bit for bit, whatever their place."""
    logits, history = real_step
    classic = run_chain(logits, SamplerSettings(samplers="penalties;top_k;typ_p;top_p;min_p;temperature"),
                        history, 0.37)
    default = run_chain(logits, SamplerSettings(), history, 0.37)
    assert classic.token_id == default.token_id
    np.testing.assert_array_equal(classic.final_probs, default.final_probs)
    assert all(not step.active for step in default.stages if step.name in ("dry", "top_n_sigma", "xtc"))


def test_the_order_reads_llama_cpps_syntax_and_refuses_nonsense() -> None:
    assert parse_order("penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature") == DEFAULT_ORDER
    assert parse_order("edskypmxt") == DEFAULT_ORDER
    assert parse_order("Top-K; nucleus ;TEMP") == ("top_k", "top_p", "temperature")
    assert format_order(parse_order("kyt")) == "top_k;typ_p;temperature"
    for bad, words in (("top_k;top_k", "twice"), ("top_k;banana", "not a sampler"), ("", "empty"),
                       ("adaptive_p;top_k", "adaptive-p"), ("infill", "not part")):
        with pytest.raises(OrderError, match=words):
            parse_order(bad)
    with pytest.raises(SettingsError, match="twice"):
        SamplerSettings(samplers=("top_k", "top_k"))
    assert parse_bias("15043+1") == (15043, 1.0) and parse_bias("15043-inf") == (15043, -math.inf)
    for bad in ("15043", "x+1", "15043+inf", "-3+1"):
        with pytest.raises(SettingsError):
            parse_bias(bad)


def test_settings_round_trip_through_a_record(real_step) -> None:
    s = SETTINGS[2].with_changes(samplers=ORDERS[2], grammar="root ::= [a-z]+",
                                 dry_sequence_breakers=("\n", "END"))
    again = SamplerSettings.from_dict(s.to_record())
    assert again == s
    record = SamplerSettings().to_record()
    assert record.keys().isdisjoint({"dry_multiplier", "grammar", "logit_bias"})  # off: left out
    assert record["samplers"] == list(DEFAULT_ORDER)  # the order is in every record


@pytest.mark.parametrize("changes", [
    {"xtc_probability": 0.6, "xtc_threshold": 0.05, "top_k": 0, "top_p": 1.0, "min_p": 0.0},
    {"mirostat": 2, "mirostat_ent": 4.0, "mirostat_lr": 0.2, "temperature": 1.0},
    {"mirostat": 1, "mirostat_ent": 6.0, "temperature": 0.9},
    {"adaptive_target": 0.3, "adaptive_decay": 0.8, "top_k": 0, "top_p": 1.0},
    {"dry_multiplier": 1.5, "dry_allowed_length": 1, "repeat_penalty": 1.0},
], ids=["xtc", "mirostat2", "mirostat1", "adaptive", "dry"])
def test_a_run_replays_exactly_and_any_step_from_its_own_state(smollm_engine: Engine, changes) -> None:
    settings = SamplerSettings(**changes)
    generator = Generator(smollm_engine, seed=77)
    try:
        generator.start(PROMPT)
        steps = generator.generate(settings, 24, ignore_eos=True)
        record = generator.record
        stateful = settings.mirostat or settings.adaptive_target >= 0
        if stateful:  # each step starts from the state the one before it left
            assert all(step.feedback_in != step.feedback_out for step in steps)
            assert all(steps[k].feedback_in == feedback_before(steps, k) for k in range(1, len(steps)))
        if settings.xtc_probability:
            assert all(step.xtc_u is not None for step in steps)
            assert any(step.trace.stage("xtc").detail["fired"] for step in steps)
        # from any step, the recorded state and the same logits give the same word piece again
        for index in (0, 7, 23):
            logits = generator.raw_logits(index)
            again = generator._sample(logits, settings, index, len(record.prompt_tokens) + index)
            assert again.token_id == steps[index].token_id
            assert again.feedback_out == steps[index].feedback_out
    finally:
        generator.close()
    again = Generator(smollm_engine, seed=77)
    try:
        replayed = replay_with(again, record, max_tokens=24, ignore_eos=True)
        assert [s.token_id for s in replayed] == [s.token_id for s in steps]
        assert [s.feedback_out for s in replayed] == [s.feedback_out for s in steps]
        assert [s.xtc_u for s in replayed] == [s.xtc_u for s in steps]
    finally:
        again.close()


def test_every_stage_on_gemma_matches_llama_cpp(gemma_path: Path, engine_config) -> None:
    """The 262,144-word-piece vocabulary: DRY's breakers, top-n-sigma and the bans at Gemma's scale."""
    from synthscope.engine import open_engine

    with open_engine(gemma_path, n_ctx=256, config=engine_config, probe=False) as gemma:
        tokens = gemma.tokenize(PROMPT)
        gemma.decode(tokens)
        logits, history = gemma.logits().copy(), np.array(tokens, dtype=np.int32)
        for settings, order in ((SETTINGS[1], DEFAULT_ORDER), (SETTINGS[2], ORDERS[2]), (SETTINGS[3], ORDERS[1])):
            s = settings.with_changes(samplers=order)
            token, ids, probs = reference(gemma, logits, history, s, SEED)
            ours = run_chain(logits, s, history, dist_u(SEED), xtc_u=xtc_chance(Mt19937(SEED)()),
                             breakers=dry_breakers(gemma, s.dry_sequence_breakers))
            chance = dict(zip(ids.tolist(), probs.tolist()))
            assert sorted(ours.final.ids[ours.final_probs > 0].tolist()) == sorted(ids[probs > 0].tolist())
            for token_id, p in zip(ours.final.ids.tolist(), ours.final_probs.tolist()):
                assert p == pytest.approx(chance[token_id], abs=PROB_ATOL)
            assert ours.token_id == token
