"""Every stage honest on screen, on the real model: what a first-time user misread, said plainly —
hidden stages that cut, stages with nothing left to do, a roll that did not matter, certainty that
is not overstated, which setting gives a class another text, presentation mode's numbers and words,
a reply cut short, and the text kept in sight whatever panels are open."""
from __future__ import annotations

import pytest

from synthscope.sampling import SamplerSettings
from PySide6.QtGui import QFontMetrics

from synthscope.ui import theme
from synthscope.ui.classroom.big_view import PENALTY_NOTE, segments_for, whole_label
from synthscope.ui.stage_words import ONE_LEFT
from synthscope.ui.steps.text_view import TEXT_LINES
from window_helpers import STORY, generate_with, idle, loaded_window


def generate(qtbot, win, settings: SamplerSettings, length: int, prompt: str = STORY) -> None:
    generate_with(qtbot, win, prompt, settings, length)


@pytest.fixture
def win(qtbot, qapp):
    window = loaded_window(qtbot, qapp, seed=3)
    window.resize(1600, 1000)
    yield window
    window.close()


def test_a_cut_by_a_hidden_stage_is_on_screen_and_the_off_ones_are_named(qtbot, win) -> None:
    generate(qtbot, win, SamplerSettings(), 30)
    steps = win.doc.mirror.steps
    cut = next(i for i, s in enumerate(steps) if s.trace.stage("min_p").kept < s.trace.stage("min_p").n_in)
    win.steps.select_step(cut)
    win.steps.refresh_panels()
    strip = win.parts.pipeline
    assert not win.parts.controls.show_all.isChecked()  # the simple view
    assert strip.boxes["min_p"].isVisible() and strip.boxes["min_p"].headline.text().startswith("kept")
    note = strip.off_note.text()
    for name in ("DRY", "XTC", "Typical-p", "Top-n-sigma"):
        assert name in note
    assert "Show all settings" in note and not strip.boxes["typical_p"].isVisible()


def test_with_one_word_left_the_later_stages_and_the_dice_say_they_did_not_matter(qtbot, win) -> None:
    generate(qtbot, win, SamplerSettings(top_k=1, temperature=0.8), 4)
    win.steps.select_step(2)
    win.steps.refresh_panels()
    words = win.parts.pipeline.boxes["temperature"]
    assert words.headline.text() == "no effect here" and ONE_LEFT.endswith(words.detail.text())
    dice = win.parts.dice
    assert dice.title.text() == "The dice: did not matter here"
    assert "wherever the dice landed" in dice.explanation.text() and "landed at" not in dice.explanation.text()


def test_certainty_is_not_overstated_on_a_real_step(qtbot, win) -> None:
    generate(qtbot, win, SamplerSettings(temperature=0.0), 24, "The capital of France is")
    seen = set()
    for index, step in enumerate(win.doc.mirror.steps):
        top = float(step.trace.candidates["p_raw"][0])
        win.steps.select_step(index)
        win.steps.refresh_panels()
        why = win.parts.header.why.text()
        assert "as if only one word" not in why and "only one word could" not in why
        if top >= 0.995:
            assert "all but certain" in why
        elif top >= 0.8:
            assert "very sure" in why and "the others" in why and "together" in why
        seen.add(top >= 0.8)
    assert True in seen  # a sure step was among them: the sentence was put to the test


def test_the_seed_says_which_setting_gives_a_class_another_text(win) -> None:
    subtitle = win.parts.controls.seed_subtitle.text()
    assert "same seed gives the same text" in subtitle and "Roll" in subtitle and "New dice each run" in subtitle


def test_presentation_names_every_number_shows_every_cut_and_the_dice_words(qtbot, win) -> None:
    generate(qtbot, win, SamplerSettings(repeat_penalty=1.3), 30)
    steps = win.doc.mirror.steps
    index = next(i for i, s in enumerate(steps) if s.trace.stage("min_p").kept < s.trace.stage("min_p").n_in)
    win.steps.select_step(index)
    win.presentation.set_presentation(True, full_screen=False)
    win.resize(1280, 720)
    qtbot.wait(200)
    win.steps.refresh_panels()
    try:
        cover = win.parts.chances_cover
        rows = cover.shown_rows()
        if any(r.p_penalty is not None for r in rows):  # "38% ↓9.1% → 9.2%" comes with its key
            assert cover.note(rows) == PENALTY_NOTE
        for words in ("the model's chance", "↓ after the repetition penalty", "→ after all the samplers"):
            assert words in PENALTY_NOTE
        at_work = win.parts.controls.at_work
        assert at_work.isVisible() and "Min-p 0.05" in at_work.text() and "left" in at_work.text()
        # the list names the words with the widest dice slices, largest first, as the dice shows them
        view = win.parts.inspector.view
        kept = [s for s in segments_for(view) if s.token_id is not None]
        widest = sorted(kept, key=lambda s: s.start - s.end)[:len(rows)]
        listed = [r.token_id for r in rows if not r.removed and not r.extra]
        assert [s.token_id for s in widest][:len(listed)] == listed
        # a dice label is a whole name or none: never "sp…"
        metrics = QFontMetrics(theme.font(20, mono=True))
        assert whole_label("␣spectacular", 40, metrics) == ""
        assert whole_label("␣sea", 400, metrics) == "␣sea"
    finally:
        win.presentation.set_presentation(False)


def test_a_reply_cut_short_says_so_and_the_question_stays_in_sight(qtbot, qapp) -> None:
    win = loaded_window(qtbot, qapp, seed=5, chat=True)
    win.resize(1600, 1000)
    try:
        win.parts.controls.max_tokens.setValue(6)
        win.parts.chat_input.set_message("What is the capital of France, and what is it famous for?")
        win.parts.chat_input.send_button.click()
        idle(qtbot, win)
        qtbot.wait(100)
        editor = win.parts.editor
        assert "cut short" in editor.tail_note and "press Send" in editor.tail_note
        assert not win.parts.pipeline.fold.isChecked() and not win.parts.dice.fold.isChecked()
        lines = editor.viewport().height() / editor.fontMetrics().lineSpacing()
        assert lines >= TEXT_LINES, lines
        # the question and the reply's start, in one view: nothing scrolled away
        assert editor.verticalScrollBar().value() == 0 and "capital of France" in editor.toPlainText()
        assert len(win.doc.mirror) == 6
        win.parts.chat_input.send_button.click()  # an empty box goes on with the reply
        idle(qtbot, win)
        assert len(win.doc.mirror) > 6
    finally:
        win.close()


def test_the_chances_say_what_their_numbers_are_shares_of(qtbot, win) -> None:
    from synthscope.ui.steps.distribution import CHANCES_HELP

    generate(qtbot, win, SamplerSettings(), 6)
    win.steps.refresh_panels()
    assert win.parts.distribution.plot.toolTip() == CHANCES_HELP
    assert "chance still in play" in CHANCES_HELP and "Stage by stage" in CHANCES_HELP
    box = win.parts.pipeline.boxes["top_k"]
    assert "of the chance still in play" in box.detail.text()
    from PySide6.QtCore import Qt

    with qtbot.waitSignal(win.parts.pipeline.stageClicked):
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert win.parts.distribution.stage_button.isChecked()  # the per-stage chances, one click away
