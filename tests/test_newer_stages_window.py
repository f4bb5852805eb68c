"""The newer samplers in the real window on SmolLM2: DRY, XTC, a grammar, bans from the chances list,
a new order dragged in the strip, and what-ifs that need the engine's grammar verdict or DRY table."""
from __future__ import annotations

import math

import numpy as np
import pytest

from synthscope.sampling import SamplerSettings, run_chain
from synthscope.sampling.order import DEFAULT_ORDER
from synthscope.ui.steps.pipeline import moved
from window_helpers import WAIT_MS, generate_with, loaded_window, worker_generator

REPETITIVE = "One two three. One two three. One two three. One two"


def generate(qtbot, win, prompt: str, settings: SamplerSettings, length: int) -> None:
    generate_with(qtbot, win, prompt, settings, length, ignore_end=True)


@pytest.fixture
def win(qtbot, qapp):
    window = loaded_window(qtbot, qapp, seed=11)
    yield window
    window.close()


def test_dry_and_xtc_steps_show_what_they_did_and_a_what_if_fetches_the_dry_table(qtbot, win) -> None:
    settings = SamplerSettings(dry_multiplier=1.0, dry_allowed_length=1, xtc_probability=0.9,
                               xtc_threshold=0.05, top_k=0, top_p=1.0, min_p=0.0)
    generate(qtbot, win, REPETITIVE, settings, 12)
    steps = win.doc.mirror.steps
    assert len(steps) == 12 and all(step.xtc_u is not None for step in steps)
    held = [i for i, step in enumerate(steps) if step.trace.stage("dry").changed]
    assert held, "DRY should hold back a copy of the repeated sentence"
    win.steps.select_step(held[0])
    win.steps.refresh_panels()
    dry_box = win.parts.pipeline.boxes["dry"]
    assert dry_box.isVisible() and dry_box.headline.text().startswith("held back")
    assert "would continue a copy of" in dry_box.detail.text()
    xtc_box = win.parts.pipeline.boxes["xtc"]
    assert xtc_box.isVisible() and "rolled" in xtc_box.detail.text()
    # A what-if with other breakers needs a table the window has not got: it is fetched, then shown.
    changed = settings.with_changes(dry_multiplier=2.0, dry_sequence_breakers=("\n", "."))
    win.parts.controls.set_settings(changed)
    inspector = win.parts.inspector
    qtbot.waitUntil(lambda: inspector.view is not None and inspector.view.is_what_if, timeout=WAIT_MS)
    view = inspector.view
    gen = worker_generator(win)
    logits = gen.raw_logits(held[0])
    extras = gen.extras(held[0], "", changed.dry_sequence_breakers)
    expected = run_chain(logits, changed, gen.history(held[0]), win.doc.mirror.u(held[0]),
                         xtc_u=steps[held[0]].xtc_u, breakers=extras.table)
    assert view.token_id == expected.token_id
    np.testing.assert_array_equal(view.trace.final["p"], np.asarray(expected.final_probs[:64], np.float32))


def test_a_grammar_writes_only_what_fits_and_a_bad_one_is_said_in_words(qtbot, win) -> None:
    digits = SamplerSettings(grammar="root ::= [0-9]+", temperature=1.0)
    generate(qtbot, win, "The year was", digits, 6)
    text = win.parts.editor.generated_text()
    assert text and text.isdigit(), text
    win.steps.refresh_panels()
    box = win.parts.pipeline.boxes["grammar"]
    assert box.isVisible() and box.headline.text().startswith("allowed ") and "of 49,152" in box.headline.text()
    allowed = win.doc.mirror.steps[0].trace.stage("grammar").kept
    assert 0 < allowed < 1000
    generate(qtbot, win, "The year was", SamplerSettings(grammar="root ::= [0-9"), 3)
    message = win.parts.banner.text.text()
    assert "grammar" in message.lower() and "\n" not in message.strip() and "Traceback" not in message
    generate(qtbot, win, "The year was", SamplerSettings(), 3)  # the window goes on without one
    assert len(win.doc.mirror) == 3


def test_a_ban_from_the_chances_list_keeps_the_word_out(qtbot, win) -> None:
    generate(qtbot, win, "The capital of France is", SamplerSettings(temperature=0.0), 1)
    favourite = win.doc.mirror.steps[0].token_id
    panel = win.parts.distribution
    win.steps.refresh_panels()
    row = next(r for r in panel.rows if r.token_id == favourite)
    menu = panel.bias_menu(row)
    ban = next(action for action in menu.actions() if action.text().startswith("Ban"))
    ban.trigger()
    assert win.parts.controls.settings().logit_bias == ((favourite, -math.inf),)
    assert "banned" in win.parts.controls.more.bias_list.text()
    generate(qtbot, win, "The capital of France is", win.parts.controls.settings(), 1)
    assert win.doc.mirror.steps[0].token_id != favourite
    win.steps.refresh_panels()
    assert "banned" in win.parts.pipeline.boxes["logit_bias"].headline.text()


def test_dragging_a_box_changes_the_order_of_the_next_run(qtbot, win) -> None:
    generate(qtbot, win, "Once upon a time", SamplerSettings(), 2)
    strip = win.parts.pipeline
    assert moved(DEFAULT_ORDER, "temperature", "top_k")[:4] == ("penalties", "dry", "top_n_sigma", "temperature")
    with qtbot.waitSignal(strip.orderChanged) as caught:
        strip._dropped("temperature", strip.boxes["top_k"].geometry().left() + 1)
    order = caught.args[0]
    assert order.index("temperature") < order.index("top_k")
    assert win.parts.controls.settings().samplers == order
    assert "your own order" in win.parts.controls.more.order_label.text()
    generate(qtbot, win, "Once upon a time", win.parts.controls.settings(), 2)
    names = win.doc.mirror.steps[-1].trace.stage_names
    assert names.index("temperature") < names.index("top_k")
    win.parts.controls.more.default_chain.click()
    assert win.parts.controls.settings() == SamplerSettings()


def test_every_example_grammar_is_usable_and_one_click_puts_it_in_place(qtbot, win) -> None:
    from synthscope.engine.grammar import check_grammar
    from synthscope.ui.settings.more_samplers import GRAMMAR_EXAMPLES

    more = win.parts.controls.more
    for index, (name, text) in enumerate(GRAMMAR_EXAMPLES.items(), start=1):
        assert check_grammar(text) is None, name
        more.examples.activated.emit(index)
        assert win.parts.controls.settings().grammar == text and more.examples.currentIndex() == 0
    more.no_grammar.click()
    assert win.parts.controls.settings().grammar == ""
    json_shape = SamplerSettings(grammar=GRAMMAR_EXAMPLES["A JSON object with an answer"], temperature=0.7)
    generate(qtbot, win, "Answer in JSON: what colour is the sky?", json_shape, 14)
    assert win.parts.editor.generated_text().startswith('{')
