"""Runs side by side: alignment without Qt, and the compare window on the real SmolLM2 model."""
from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QTextCursor  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402
from synthscope.engine import default_model_path, machine_choice, open_engine, preferred_config  # noqa: E402
from synthscope.sampling import SamplerSettings  # noqa: E402
from synthscope.session import Generator  # noqa: E402
from synthscope.session.compare import (MAX_SURPRISE_BITS, CompareSpec, agreement,  # noqa: E402
                                        alignment_keys, column_label, differs_at, divergence_from_first,
                                        first_divergence, labelled, surprise_bits)
from synthscope.ui import theme  # noqa: E402
from synthscope.ui.exploring.compare_window import KEY, CompareWindow  # noqa: E402
from synthscope.ui.exploring.compare_column import CLICKED, DIVERGE, MARK_COLOURS, SURPRISE_HELP, quoted  # noqa: E402
from synthscope.ui.exploring.compare_worker import COMPARE_CONTEXT  # noqa: E402

PROMPT = "Once upon a time, in a small village by the sea,"
WAIT_MS = 120_000  # generous: the suite may share the cores with other llama.cpp processes
BASE = SamplerSettings()


# -- alignment, without Qt -------------------------------------------------------------------
def test_first_divergence_finds_the_first_differing_position() -> None:
    assert first_divergence([[1, 2, 3], [1, 2, 3]]) is None
    assert first_divergence([[1, 2, 3], [1, 5, 3], [1, 2, 3]]) == 1
    assert first_divergence([[7, 2], [1, 2]]) == 0
    assert first_divergence([[1, 2, 3], [1, 2, 3], [1, 2, 4]]) == 2
    assert first_divergence([[1, 2, 3]]) is None
    assert first_divergence([[], []]) is None


def test_a_run_that_ended_early_diverges_there_unless_it_is_still_writing() -> None:
    assert first_divergence([[1, 2], [1, 2, 3]]) == 2
    assert first_divergence([[1, 2], [1, 2, 3]], finished=[True, False]) == 2
    assert first_divergence([[1, 2], [1, 2, 3]], finished=[False, False]) is None
    assert first_divergence([[1, 9], [1, 2, 3]], finished=[False, False]) == 1


def test_agreement_flags_and_each_runs_own_parting_point() -> None:
    runs = [[1, 2, 3, 4], [1, 2, 5], [1, 2, 3, 6]]
    assert agreement(runs) == [True, True, False, False]
    assert divergence_from_first(runs) == [None, 2, 3]
    assert divergence_from_first([[1, 2], [1, 2, 3]], finished=[False, False]) == [None, None]
    assert differs_at(runs, 2) == 1
    assert differs_at(runs, 3) == 1  # column 2 has no token there
    assert differs_at([[1], [1]], 0) is None


def test_surprise_is_minus_log2_of_the_chance_and_capped() -> None:
    assert surprise_bits(1.0) == 0.0
    assert surprise_bits(0.5) == pytest.approx(1.0)
    assert surprise_bits(0.125) == pytest.approx(3.0)
    assert surprise_bits(0.0) == MAX_SURPRISE_BITS
    assert surprise_bits(math.nan) == MAX_SURPRISE_BITS
    assert surprise_bits(1e-300) == MAX_SURPRISE_BITS


def test_labels_name_what_differs_from_the_first_column() -> None:
    model = Path("/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    first = CompareSpec(model, 1, BASE)
    assert column_label(CompareSpec(model, 1, BASE.with_changes(temperature=1.2)), first) == "Temperature 1.2"
    assert column_label(CompareSpec(model, 42, BASE), first) == "Seed 42"
    assert column_label(CompareSpec(model, 1, BASE.with_changes(top_p=0.5)), first) == "Top-p 0.5"
    assert column_label(CompareSpec(Path("/m/gemma-3-270m.gguf"), 1, BASE), first) == "gemma-3-270m"
    assert column_label(CompareSpec(model, 1, BASE, model_name="Gemma"), first) == "Same settings as column 1"
    greedy = CompareSpec(model, 1, BASE.with_changes(temperature=0))
    assert column_label(greedy, first) == "Temperature 0 (always the top word piece)"
    both = column_label(CompareSpec(model, 3, BASE.with_changes(temperature=1.2)), first)
    assert both == "Temperature 1.2 · Seed 3"
    specs = labelled([first, CompareSpec(model, 2, BASE)])
    assert [s.label for s in specs] == ["The reference for the other columns", "Seed 2"]


def test_different_models_are_aligned_by_token_text() -> None:
    ids, texts = [[1, 2], [1, 3]], [[" a", " b"], [" a", " b"]]
    assert alignment_keys(["m.gguf", "m.gguf"], ids, texts) == ids
    assert alignment_keys(["m.gguf", "n.gguf"], ids, texts) == texts


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def test_the_marks_cannot_be_mistaken_for_or_lost_on_a_chance_band() -> None:
    marks = set(MARK_COLOURS) | {DIVERGE, CLICKED}
    for mark in marks:
        assert mark.lower() != theme.CHOSEN.lower()  # orange means "chosen" everywhere else
        for _, band, _ in theme.PROBABILITY_BANDS:
            assert mark.lower() != band.lower()
            light, dark = sorted((_luminance(band), _luminance(mark)), reverse=True)
            assert (light + 0.05) / (dark + 0.05) >= 3.0, f"{mark} is hard to see on {band}"
    assert "▎" in KEY and "underlined" in KEY and "framed" in KEY and "half as likely" in KEY
    assert "half as likely" in SURPRISE_HELP
    assert quoted(" man") == "‘␣man’"


# -- the window on the real model ------------------------------------------------------------
@pytest.fixture
def reference() -> Iterator[Generator]:
    """An independent generator with the engine settings every column uses."""
    with open_engine(default_model_path(), n_ctx=COMPARE_CONTEXT, config=preferred_config(),
                     probe=False) as engine:
        generator = Generator(engine, top_n=5)
        yield generator
        generator.close()


def alone(generator: Generator, spec: CompareSpec, max_tokens: int) -> list[int]:
    generator.start(PROMPT, seed=spec.seed)
    return [step.token_id for step in generator.generate(spec.settings, max_tokens)]


def open_window(qtbot, qapp, specs: list[CompareSpec], max_tokens: int) -> CompareWindow:
    machine_choice()  # the first check of this machine is not part of the waits
    theme.apply(qapp)
    win = CompareWindow(PROMPT, BASE, 42, default_model_path())
    qtbot.addWidget(win)
    win.resize(1400, 800)
    win.show()
    win.set_columns(specs)
    win.max_tokens.setValue(max_tokens)
    return win


def run_to_end(qtbot, win: CompareWindow) -> None:
    with qtbot.waitSignal(win.runFinished, timeout=WAIT_MS):
        win.run_all()


def tokens(win: CompareWindow) -> list[list[int]]:
    return [[t.token_id for t in column.tokens] for column in win.columns]


def test_two_columns_with_the_same_seed_and_settings_write_the_same_text(qtbot, qapp) -> None:
    model = default_model_path()
    win = open_window(qtbot, qapp, [CompareSpec(model, 42, BASE), CompareSpec(model, 42, BASE)], 16)
    run_to_end(qtbot, win)
    first, second = tokens(win)
    assert len(first) == 16 and first == second
    assert win.divergence() is None
    assert all(column.view.first is None and column.view.own is None for column in win.columns)
    assert win.summary.text() == "All 2 runs wrote the same 16 word pieces."
    # The main window's words (Length (word pieces), Generate) and its ink for the prompt.
    assert win.run_button.text().endswith("Generate")
    assert "Length (word pieces)" in [label.text() for label in win.findChildren(QLabel)]
    prompt = QTextCursor(win.columns[0].view.document())
    prompt.setPosition(3)
    assert prompt.charFormat().foreground().color().name().lower() != theme.MUTED.lower()
    assert win.columns[1].label.text() == "Same settings as column 1"
    win.close()
    assert not win.handle.worker_thread.isRunning()


def test_three_columns_match_independent_runs_and_mark_where_they_part(qtbot, qapp, reference) -> None:
    model = default_model_path()
    specs = [CompareSpec(model, 42, BASE), CompareSpec(model, 42, BASE.with_changes(temperature=0.0)),
             CompareSpec(model, 7, BASE)]
    win = open_window(qtbot, qapp, specs, 16)
    run_to_end(qtbot, win)
    expected = [alone(reference, spec, 16) for spec in specs]
    assert tokens(win) == expected
    for column in win.columns:  # every token arrived once, in order, from the run that was asked for
        assert [t.index for t in column.tokens] == list(range(len(column.tokens)))
        assert column.view.generated_text() == "".join(t.text for t in column.tokens)
    parting = first_divergence(expected)
    assert parting is not None and win.divergence() == parting
    own = divergence_from_first(expected)
    for column, mine in zip(win.columns, own):
        assert column.view.first == parting and column.view.own == mine
        assert column.plot.parting.isVisible() and column.plot.parting.value() == parting + 1
    other = differs_at(expected, parting)
    summary = win.summary.text()
    assert f"then column {other + 1} picks" in summary or "very first word piece" in summary
    for number, mine in enumerate(own[1:], start=2):  # every column is named, with what it did
        assert f"olumn {number} " in summary
        if mine is not None:
            word = quoted(win.columns[number - 1].tokens[mine].label)
            assert word.replace(" ", "␣") == word and word in summary.replace("&amp;", "&")
        else:
            assert f"Column {number} writes the same as column 1." in summary
    labels = [column.label.text() for column in win.columns][1:]
    assert labels == ["Temperature 0 (always the top word piece)", "Seed 7"]

    # Clicking a token in column 1 selects that position in every column.
    view = win.columns[0].view
    rect = view.token_rects(3)[0]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert win.selected == 3
    for column in win.columns:
        assert column.selected == 3 and column.view.selected == 3
        assert column.plot.selected.isVisible() and column.plot.selected.value() == 4
        assert column.readout.text().startswith("Word piece 4:")


def test_a_new_run_replaces_the_old_one_and_stop_ends_it(qtbot, qapp, reference) -> None:
    model = default_model_path()
    specs = [CompareSpec(model, 3, BASE), CompareSpec(model, 4, BASE)]
    win = open_window(qtbot, qapp, specs, 400)
    win.run_all()
    qtbot.waitUntil(lambda: len(win.columns[0].tokens) >= 3, timeout=WAIT_MS)
    win.max_tokens.setValue(12)
    run_to_end(qtbot, win)  # the first run's late tokens must not reach the columns
    assert tokens(win) == [alone(reference, spec, 12) for spec in specs]
    for column in win.columns:
        assert [t.index for t in column.tokens] == list(range(12))

    win.max_tokens.setValue(400)
    win.run_all()
    qtbot.waitUntil(lambda: len(win.columns[0].tokens) >= 3, timeout=WAIT_MS)
    with qtbot.waitSignal(win.runFinished, timeout=WAIT_MS) as finished:
        win.stop()
    assert finished.args == ["stopped"]
    assert all(column.ended in ("stopped", "end") for column in win.columns)
    assert len(win.columns[0].tokens) < 400


def test_closing_during_a_run_stops_the_thread_and_frees_the_engines(qtbot, qapp) -> None:
    model = default_model_path()
    win = open_window(qtbot, qapp, [CompareSpec(model, 1, BASE), CompareSpec(model, 2, BASE),
                                    CompareSpec(model, 3, BASE)], 400)
    win.run_all()
    qtbot.waitUntil(lambda: len(win.columns[2].tokens) >= 2, timeout=WAIT_MS)
    worker = win.handle.worker
    assert worker.engine_count() == 3
    win.close()
    assert not win.handle.worker_thread.isRunning()
    assert worker.engine_count() == 0
    assert len(win.columns[0].tokens) < 400


def test_columns_can_be_added_up_to_four_and_removed_down_to_two(qtbot, qapp) -> None:
    model = default_model_path()
    win = open_window(qtbot, qapp, [CompareSpec(model, 5, BASE), CompareSpec(model, 5, BASE)], 8)
    assert not win.columns[0].remove_button.isVisibleTo(win)
    third, fourth = win.add_column(), win.add_column()
    assert third is not None and fourth is not None and win.add_column() is None
    assert not win.add_button.isEnabled()
    assert [spec.seed for spec in win.specs()] == [5, 5, 6, 7]
    assert [column.title.text() for column in win.columns] == [f"Column {n}" for n in range(1, 5)]
    fourth.temperature.setValue(1.2)
    assert win.columns[3].label.text() == "Temperature 1.2 · Seed 7"
    win.remove_column(0)
    win.remove_column(0)
    win.remove_column(0)  # two columns stay
    assert len(win.columns) == 2 and win.columns[0] is third
    assert win.columns[1].label.text() == "Temperature 1.2 · Seed 7"  # against the new column 1


def test_column_one_uses_the_main_windows_engine_choices_and_writes_its_text(qtbot, qapp) -> None:
    from synthscope.ui.window.main_window import MainWindow

    machine_choice()
    theme.apply(qapp)
    main = MainWindow()
    qtbot.addWidget(main)
    main.resize(1400, 900)
    main.show()
    perf = main.parts.performance  # chosen by hand: exact memory, standard attention (the numbers depend on it)
    perf.memory.setCurrentIndex(perf.memory.findData("f32"))
    perf.attention.setCurrentIndex(perf.attention.findData("standard"))
    main.models.load_model(default_model_path(), probe=False)
    qtbot.waitUntil(lambda: main.doc.state == "idle", timeout=WAIT_MS)
    main.chat.set_mode(False)
    main.parts.controls.seed_box.setValue(11)
    main.parts.controls.max_tokens.setValue(16)
    main.run.generate()
    qtbot.waitUntil(lambda: main.doc.state == "idle" and not main.steps.pending, timeout=WAIT_MS)
    win = main.compare.open_compare()
    assert win is not None and win.engine["kv_cache"] == "f32" and win.engine["flash_attention"] is False
    win.max_tokens.setValue(16)
    run_to_end(qtbot, win)
    loaded = [engine.config for kept in win.handle.worker._pool.values() for engine, _ in kept]
    assert loaded and all(c.kv_cache == "f32" and not c.flash_attention for c in loaded)
    assert tokens(win)[0] == [step.token_id for step in main.doc.mirror.steps]  # same settings, seed, engine
    win.close()
    main.close()


def test_two_models_write_what_each_writes_alone_and_are_aligned_by_text(
        qtbot, qapp, gemma_path: Path) -> None:
    specs = [CompareSpec(default_model_path(), 42, BASE), CompareSpec(gemma_path, 42, BASE)]
    win = open_window(qtbot, qapp, specs, 12)
    run_to_end(qtbot, win)
    expected, labels = [], []
    for spec in specs:  # each model on its own, one after the other
        with open_engine(spec.model_path, n_ctx=COMPARE_CONTEXT, config=preferred_config(),
                         probe=False) as engine:
            generator = Generator(engine, top_n=5)
            expected.append(alone(generator, spec, 12))
            labels.append([engine.token_text(token) for token in expected[-1]])
            generator.close()
    assert tokens(win) == expected
    assert [[t.label for t in column.tokens] for column in win.columns] == labels
    assert expected[0] != expected[1]  # two vocabularies: their numbers say nothing about each other
    assert win.divergence() == first_divergence(labels)  # parted where the texts part, not the numbers
    assert "gemma" in win.columns[1].label.text().lower()  # the column is named by its model
    for column in win.columns:
        assert column.ended in ("limit", "end")
        assert column.view.generated_text() == "".join(t.text for t in column.tokens)
    win.close()
    assert not win.handle.worker_thread.isRunning() and win.handle.worker.engine_count() == 0


def test_a_chat_compared_from_the_main_window_answers_in_the_models_template(qtbot, qapp, reference) -> None:
    from synthscope.engine.chat import format_chat
    from synthscope.ui.window.main_window import MainWindow

    machine_choice()
    theme.apply(qapp)
    main = MainWindow()
    qtbot.addWidget(main)
    main.resize(1400, 900)
    main.show()
    main.models.load_model(default_model_path(), probe=False)
    qtbot.waitUntil(lambda: main.doc.state == "idle", timeout=WAIT_MS)
    assert main.doc.chatting
    main.parts.chat_input.set_message("Name one fruit.")
    main.parts.controls.seed_box.setValue(8)
    win = main.compare.open_compare()
    assert win is not None and win.messages is not None
    assert win.messages[-1] == {"role": "user", "content": "Name one fruit."}
    win.max_tokens.setValue(10)
    run_to_end(qtbot, win)
    prompt = format_chat(reference.engine, list(win.messages))
    assert prompt != "Name one fruit." and "Name one fruit." in prompt  # the template wraps the message
    expected = []
    for spec in win.specs():
        reference.start(prompt, seed=spec.seed)
        expected.append([step.token_id for step in reference.generate(spec.settings, 10)])
    assert [spec.seed for spec in win.specs()] == [8, 9]
    assert tokens(win) == expected and all(expected)
    win.close()
    main.close()


def test_the_clicked_position_is_framed_dark_not_in_the_chosen_orange(qtbot) -> None:
    from PySide6.QtGui import QColor

    from synthscope.ui.exploring.compare_column import CompareTextView
    from synthscope.ui.steps.text_view import Piece

    view = CompareTextView()
    qtbot.addWidget(view)
    view.resize(500, 200)
    view.show()
    view.show_prompt("Once upon a time")
    view.append_tokens([Piece(" there", 0.3), Piece(" lived", 0.02)])
    view.set_selected(1)
    image = view.viewport().grab().toImage()
    rect = view.token_rects(1)[0]
    edge = image.pixelColor(rect.left() - 1, rect.center().y())

    def distance(colour: str) -> int:
        return sum(abs(a - b) for a, b in zip(edge.getRgb()[:3], QColor(colour).getRgb()[:3], strict=True))

    assert distance(CLICKED) < distance(theme.CHOSEN), edge.name()
