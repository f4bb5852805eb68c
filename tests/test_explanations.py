"""Plain-words explanations: the 'why' sentence, certainty, each word's chance after every stage, colours."""
from __future__ import annotations

import math
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from synthscope.engine import Engine  # noqa: E402
from synthscope.sampling import STAGE_NAMES, Dice, SamplerSettings, build_trace, run_chain  # noqa: E402
from synthscope.sampling.explain import (  # noqa: E402
    certainty_words,
    equally_likely,
    penalty_change,
    stage_rows,
    why,
)
from synthscope.sampling.stages import dist_probabilities  # noqa: E402
from synthscope.sampling.trace import FINAL_LIMIT  # noqa: E402
from synthscope.ui import theme  # noqa: E402
from synthscope.ui.settings.controls import SIMPLE_KEYS, ControlsPanel  # noqa: E402
from synthscope.ui.steps.dice import DicePanel  # noqa: E402
from synthscope.ui.steps.distribution import DistributionPanel, rows_for  # noqa: E402
from synthscope.ui.steps.pipeline import PipelineStrip  # noqa: E402
from synthscope.session.mirror import StepView  # noqa: E402
from synthscope.ui.steps.stage_view import StageTable, cell_text  # noqa: E402
from synthscope.ui.wording import percent  # noqa: E402

PROMPT = "The cat sat on the mat. The cat sat on the"
SETTINGS = (SamplerSettings(), SamplerSettings(repeat_penalty=1.3, top_k=20, top_p=0.9, min_p=0.02),
            SamplerSettings(temperature=1.5, top_k=0, top_p=0.8, typical_p=0.9, min_p=0.0,
                            repeat_penalty=1.1, presence_penalty=0.3),
            SamplerSettings(temperature=0.0, repeat_penalty=1.2))

STAGE_COLUMNS = ("model",) + STAGE_NAMES  # the default chain's columns


@pytest.fixture(scope="module")
def real_steps(smollm_engine: Engine) -> list[tuple[np.ndarray, np.ndarray]]:
    """(logits, history) at a few positions of a real SmolLM2 text: true, repetitive distributions."""
    smollm_engine.reset()
    tokens = smollm_engine.tokenize(PROMPT)
    smollm_engine.decode(tokens)
    steps = [(smollm_engine.logits().copy(), np.array(tokens, dtype=np.int32))]
    for token in smollm_engine.tokenize(" mat. The dog", add_special=False):
        tokens.append(token)
        smollm_engine.decode([token])
        steps.append((smollm_engine.logits().copy(), np.array(tokens, dtype=np.int32)))
    return steps


def traced(logits: np.ndarray, history: np.ndarray, settings: SamplerSettings, index: int):
    u = None if settings.greedy else Dice(7).u(index)
    result = run_chain(logits, settings, history, u)
    return result, build_trace(result, top_n=15)


def test_each_stage_column_is_the_chains_own_stage_output(real_steps) -> None:
    for index, (logits, history) in enumerate(real_steps):
        for settings in SETTINGS:
            result, trace = traced(logits, history, settings, index)
            assert trace.stage_p.shape == (len(STAGE_NAMES), len(trace.candidates))
            for s, step in enumerate(result.stages):
                after = step.after
                if s == len(result.stages) - 1:  # the draw's distribution, as llama_sampler_dist makes it
                    probs = dist_probabilities(after)[0] if after.size > 1 else np.ones(1)
                else:
                    shifted = after.logits.astype(np.float64) - after.logits.max()
                    probs = np.exp(shifted) / np.exp(shifted).sum()
                chance = dict(zip(after.ids.tolist(), probs.tolist()))
                for j, token in enumerate(trace.candidates["token_id"].tolist()):
                    assert trace.stage_p[s, j] == pytest.approx(chance.get(token, 0.0), abs=2e-6,
                                                                rel=1e-4), (settings, step.name, token)
            rows = stage_rows(trace)
            assert len(rows[0].chances) == len(STAGE_COLUMNS)
            for row, cand in zip(rows, trace.candidates, strict=True):
                assert row.chances[0] == pytest.approx(float(cand["p_raw"]))
                assert row.chances[-1] == pytest.approx(float(cand["p_final"]), abs=1e-7)
                removed = int(cand["removed_by"])
                assert row.removed_at == (None if removed < 0 else removed + 1)


def test_the_why_sentence_matches_the_steps_numbers(real_steps) -> None:
    for index, (logits, history) in enumerate(real_steps):
        for settings in SETTINGS:
            result, trace = traced(logits, history, settings, index)
            reason = why(trace, result.token_id, lambda t: f"#{t}", settings.greedy)
            assert reason.chosen_id == result.token_id
            assert f"‘#{result.token_id}’" in reason.sentence
            if settings.greedy:
                assert reason.kind == "the favourite" and "Temperature 0" in reason.sentence
                continue
            best = int(np.argmax(result.final_probs))
            assert reason.favourite_id == int(result.final.ids[best])
            assert reason.favourite_p == pytest.approx(float(result.final_probs[best]), rel=1e-6)
            chosen_p = float(result.final_probs[result.chosen_index])
            if result.chosen_index < FINAL_LIMIT:
                assert reason.chosen_p == pytest.approx(chosen_p, rel=1e-6)
                assert f"({percent(chosen_p)})" in reason.sentence
            else:  # beyond the recorded part of the draw: bounded by the least recorded chance
                least = float(trace.final["p"].min())
                assert math.isnan(reason.chosen_p) and chosen_p <= least + 1e-9
                assert f"(under {percent(least)})" in reason.sentence
            if result.token_id == reason.favourite_id:
                assert reason.kind == "the favourite" and "picked the favourite" in reason.sentence
            else:
                assert f"‘#{reason.favourite_id}’ ({percent(reason.favourite_p)})" in reason.sentence
                assert (reason.kind == "a long shot") == (chosen_p < 0.05)
                assert reason.kind in reason.sentence


def test_certainty_counts_equally_likely_words(real_steps) -> None:
    logits, history = real_steps[0]
    _, trace = traced(logits, history, SamplerSettings(), 0)
    n = round(math.exp(trace.entropy_raw))
    assert equally_likely(trace.entropy_raw) == max(1, n)
    assert equally_likely(0.0) == 1 and "sure" in certainty_words(0.0)
    assert equally_likely(math.log(12)) == 12
    assert "about 12 equally likely words" in certainty_words(math.log(12))
    assert "1,000" in certainty_words(math.log(1000))
    # One dominant word is said plainly: a count of "2 equally likely words" hides a 92% favourite.
    top = float(trace.candidates["p_raw"][0])
    plain = certainty_words(trace.entropy_raw, top)
    assert ("very sure" in plain and percent(top) in plain) == (0.8 <= top < 0.995)
    assert "92%" in certainty_words(math.log(2), 0.92)
    assert "very sure" not in certainty_words(math.log(12), 0.3)


def test_certainty_never_overstates_it() -> None:
    """A 96.6% favourite with rivals at 3.4% is very sure, not 'as if only one word could come next'."""
    for entropy, top in ((0.17, 0.966), (0.05, 0.99), (0.0, None), (0.3, 0.9)):
        words = certainty_words(entropy, top)
        assert "only one word" not in words and "as if" not in words, words
    rivals = certainty_words(0.17, 0.966)
    assert "97%" in rivals and "the others 3.4% together" in rivals
    assert "all but certain" in certainty_words(0.01, 0.999)


def test_rows_show_what_the_repetition_penalty_did(real_steps) -> None:
    logits, history = real_steps[-1]
    result, trace = traced(logits, history, SamplerSettings(repeat_penalty=1.5, top_k=0, min_p=0.0), 2)
    lowered = penalty_change(trace)
    assert lowered, "the repeated words of the prompt are among the candidates"
    seen = set(history.tolist())
    assert set(lowered) <= seen
    view = StepView(2, trace, result.token_id, Dice(7).u(2), SamplerSettings(repeat_penalty=1.5))
    rows = [r for r in rows_for(view, str, 15) if r.rank >= 0]
    for row in rows:
        if row.token_id in lowered:
            assert row.p_penalty == pytest.approx(lowered[row.token_id][1])
            assert f"↓{percent(row.p_penalty)}" in row.value_text()
        else:
            assert row.p_penalty is None and "↓" not in row.value_text()
    assert penalty_change(build_trace(run_chain(logits, SamplerSettings(), history, 0.5))) == {}


def test_the_stage_table_shows_the_chains_numbers(qtbot, real_steps) -> None:
    logits, history = real_steps[-1]
    settings = SamplerSettings(repeat_penalty=1.3, top_k=20, top_p=0.9)
    result, trace = traced(logits, history, settings, 1)
    view = StepView(1, trace, result.token_id, Dice(7).u(1), settings)
    table = StageTable()
    qtbot.addWidget(table)
    table.show_step(view, 10)
    assert table.table.rowCount() == 10
    for r, row in enumerate(table.rows):
        for column in range(len(STAGE_COLUMNS)):
            text = table.table.item(r, column + 1).text()
            assert text == cell_text(row, column, STAGE_COLUMNS)
            if row.removed_at is None or column < row.removed_at:
                assert text.endswith(percent(row.chances[column]))
            elif column == row.removed_at:
                assert text == "✗"
            else:
                assert text == ""


def test_distribution_title_counts_what_it_shows(qtbot, real_steps) -> None:
    logits, history = real_steps[0]
    settings = SamplerSettings(temperature=3.0, top_k=0, top_p=1.0, min_p=0.0)
    for seed in range(40):
        result = run_chain(logits, settings, history, Dice(seed).u(0))
        trace = build_trace(result, top_n=15)
        if result.token_id not in trace.candidates["token_id"][:5].tolist():
            break
    view = StepView(0, trace, result.token_id, Dice(seed).u(0), settings)
    panel = DistributionPanel()
    qtbot.addWidget(panel)
    panel.resize(500, 300)
    panel.show()
    panel.show_step(view)
    shown = sum(r.rank >= 0 for r in panel.rows)
    assert panel.title.text().endswith(f"the {shown} likeliest of {logits.shape[0]:,}, plus the chosen one")
    assert len(panel.rows) == shown + 1
    panel.stage_button.setChecked(True)
    assert panel.stages.isVisible() and not panel.plot.isVisible()


def test_simple_mode_is_the_first_view_and_is_remembered(qtbot, tmp_path) -> None:
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.show_all.isChecked()
    assert [k for k, c in panel.controls.items() if c.isVisible()] == list(SIMPLE_KEYS)
    assert "top-k 40" in panel.hidden_note.text() and "min-p 0.05" in panel.hidden_note.text()
    panel.show_all.setChecked(True)
    assert all(c.isVisible() for c in panel.controls.values())
    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    panel.save(store)
    again = ControlsPanel()
    qtbot.addWidget(again)
    again.restore(store)
    assert again.show_all.isChecked()


# Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB.
CVD = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
    "normal vision": np.eye(3).tolist(),
}


def _linear(hex_colour: str) -> np.ndarray:
    c = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear: np.ndarray) -> np.ndarray:
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _seen(hex_colour: str, matrix: list[list[float]]) -> np.ndarray:
    return _lab(np.clip(np.array(matrix) @ _linear(hex_colour), 0, 1))


def _contrast(a: str, b: str) -> float:
    lum = [float(np.dot([0.2126, 0.7152, 0.0722], _linear(c))) for c in (a, b)]
    return (max(lum) + 0.05) / (min(lum) + 0.05)


@pytest.mark.parametrize("vision", list(CVD))
def test_chance_colours_stay_apart_for_colour_blind_pupils(vision: str) -> None:
    bands = [colour for _, colour, _ in theme.PROBABILITY_BANDS]
    seen = [_seen(c, CVD[vision]) for c in bands]
    for i, (a, b) in enumerate(zip(seen, seen[1:])):
        assert np.linalg.norm(a - b) >= 10, (vision, theme.PROBABILITY_BANDS[i][2])  # ΔE (CIE 1976)
    chosen = _seen(theme.CHOSEN, CVD[vision])
    assert min(np.linalg.norm(chosen - s) for s in seen) >= 20, vision  # the pick never looks like a band


def test_chance_colours_are_visible_and_readable() -> None:
    for _, colour, label in theme.PROBABILITY_BANDS:
        assert _contrast(colour, theme.INK) >= 4.5, label  # dark text stays readable on every band (WCAG AA)
        assert _contrast(colour, theme.PANEL) >= 1.15, label  # no band vanishes into the white page


def test_thin_dice_slices_are_listed_not_cut_off(qtbot, real_steps) -> None:
    logits, history = real_steps[0]
    settings = SamplerSettings(temperature=1.5, top_k=60, top_p=1.0, min_p=0.0)
    result = run_chain(logits, settings, history, 0.5)
    view = StepView(0, build_trace(result, 15), result.token_id, 0.5, settings)
    panel = DicePanel()
    qtbot.addWidget(panel)
    panel.set_token_text(lambda t: f"word{t}")
    panel.resize(700, 200)
    panel.show()
    panel.show_step(view)
    panel.bar.grab()  # paints
    assert panel.bar.unlabelled and "Thin slices:" in panel.bar.toolTip()
    assert "of the way along a line from 0% to 100%" in panel.explanation.text()


def test_switched_off_and_removed_nothing_look_different(qtbot, real_steps) -> None:
    logits, history = real_steps[0]
    settings = SamplerSettings(top_k=2, top_p=0.95, typical_p=1.0)
    result = run_chain(logits, settings, history, 0.5)
    view = StepView(0, build_trace(result, 15), result.token_id, 0.5, settings)
    strip = PipelineStrip()
    qtbot.addWidget(strip)
    strip.show_step(view)
    typical, top_p = strip.boxes["typical_p"], strip.boxes["top_p"]
    assert typical.off and typical.idle and "off (1 = no limit)" in typical.detail.text()
    assert top_p.idle and not top_p.off and top_p.headline.text() == "no effect here"
    assert typical.styleSheet() != top_p.styleSheet()
