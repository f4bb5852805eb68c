"""For a room: presentation mode, guess mode, the demo presets and Help → Shortcuts, in the real window
with the real SmolLM2 model."""
from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QRect  # noqa: E402
from PySide6.QtGui import QColor, QFontInfo, QKeySequence, QPalette  # noqa: E402
from PySide6.QtWidgets import QLabel, QWidget  # noqa: E402
from synthscope.sampling import SamplerSettings  # noqa: E402
from synthscope.sampling.explain import penalty_change  # noqa: E402
from synthscope.ui import theme  # noqa: E402
from synthscope.ui.classroom.big_view import HOLD_MS, PENALTY_NOTE, REVEAL_MS, ChancesCover, secondary_ink  # noqa: E402
from synthscope.ui.window.main_window import MainWindow  # noqa: E402
from synthscope.ui.classroom.presentation import TEXT_POINTS, presentation_shot  # noqa: E402
from synthscope.ui.resources import demos, load_demo, resources_dir  # noqa: E402
from synthscope.ui.window.shortcuts import OTHER_KEYS, ShortcutsDialog, key_text  # noqa: E402
from window_helpers import WAIT_MS, loaded_window  # noqa: E402



@pytest.fixture
def window(qtbot, qapp) -> Iterator[MainWindow]:
    win = loaded_window(qtbot, qapp, seed=42)
    yield win
    for other in win.compare.windows:
        other.close()
    win.close()


def idle(qtbot, win: MainWindow) -> None:
    qtbot.waitUntil(lambda: win.doc.state == "idle" and not win.steps.pending and not win.guess_state.revealing, timeout=WAIT_MS)


def inside_window(win: MainWindow, widget: QWidget) -> bool:
    """Whether all of `widget` is on show: inside the window and not clipped by a scroll area."""
    top_left = widget.mapTo(win, widget.rect().topLeft())
    whole = QRect(top_left, widget.size())
    return win.rect().contains(whole) and widget.visibleRegion().boundingRect() == widget.rect()


def present(qtbot, win: MainWindow, size: tuple[int, int] = (1280, 720)) -> None:
    """Presentation mode at `size`, as a projector shows it (not full screen, as in the screenshots)."""
    win.presentation.set_presentation(True, full_screen=False)
    qtbot.wait(50)
    win.resize(*size)
    qtbot.wait(50)
    win.presentation.balance_presentation()
    qtbot.wait(100)


def generate(qtbot, win: MainWindow, tokens: int, **settings: float) -> None:
    win.parts.controls.max_tokens.setValue(tokens)
    win.parts.controls.set_settings(SamplerSettings(**settings))
    win.commands.generate.trigger()
    idle(qtbot, win)


def counted(win: MainWindow) -> int:
    """The number in the Chances heading: 'the 5 likeliest'."""
    found = re.search(r"the (\d+) likeliest", win.parts.distribution.title.text())
    assert found, win.parts.distribution.title.text()
    return int(found.group(1))


def contrast(a: QColor, b: QColor) -> float:
    """The WCAG contrast ratio of two colours."""
    def luminance(c: QColor) -> float:
        parts = [v / 255 for v in (c.red(), c.green(), c.blue())]
        lin = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in parts]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# -- presentation mode ----------------------------------------------------------------------------
def test_presentation_mode_shows_only_the_essentials_in_large_type_and_leaving_restores_all(
        qtbot, window: MainWindow) -> None:
    window.commands.generate.trigger()
    idle(qtbot, window)
    advanced = window.presentation.advanced_widgets()
    before = {w: w.isVisibleTo(window) for w in advanced + [window.parts.distribution, window.parts.dice]}
    fonts = (window.parts.editor.font().pointSize(), window.parts.header.label.font().pointSize(),
             window.parts.controls.controls["temperature"].label.font().pointSize())
    stop_keys = window.commands.stop.shortcuts()
    window.presentation.set_presentation(True, full_screen=False)
    qtbot.wait(50)
    window.resize(1280, 720)
    qtbot.wait(50)
    window.presentation.balance_presentation()
    qtbot.wait(50)
    assert (window.width(), window.height()) == (1280, 720)
    assert window.commands.presentation.isChecked()
    for widget in (window.parts.pipeline, window.parts.branches_panel, window.parts.performance, window.statusBar(),
                   window.parts.controls.presets, window.parts.controls.controls["top_k"], window.parts.controls.seed_box):
        assert not widget.isVisibleTo(window)
    assert window.parts.editor.font().pointSize() >= 28 and TEXT_POINTS >= 28
    assert window.parts.header.label.font().pointSize() >= round(fonts[1] * 1.25)
    assert window.parts.controls.controls["temperature"].label.font().pointSize() >= round(fonts[2] * 1.5)
    assert window.parts.chances_cover.isVisible() and window.parts.dice_cover.isVisible()
    settings = window.parts.controls.controls
    essentials = [window.parts.editor, window.parts.chances_cover, window.parts.dice_cover, settings["temperature"],
                  settings["top_p"]]
    # The layout settles through posted events (the step panels are refitted after the text's
    # column moved): wait for it rather than for a fixed time.
    qtbot.waitUntil(lambda: window.parts.dice_cover.height() >= 150 and window.parts.chances_cover.height() >= 200,
                    timeout=5000)
    for widget in essentials:  # nothing essential cut off at 1280×720
        assert widget.isVisible() and inside_window(window, widget), widget
    window.commands.leave_presentation.trigger()  # Esc
    assert window.presentation.presenting is None and not window.commands.presentation.isChecked()
    assert {w: w.isVisibleTo(window) for w in before} == before
    assert (window.parts.editor.font().pointSize(), window.parts.header.label.font().pointSize(),
            window.parts.controls.controls["temperature"].label.font().pointSize()) == fonts
    assert window.commands.stop.shortcuts() == stop_keys
    assert not window.commands.leave_presentation.shortcuts()
    assert not window.parts.chances_cover.isVisible() and not window.parts.dice_cover.isVisible()


def test_f11_enters_full_screen_and_again_leaves_it(qtbot, window: MainWindow) -> None:
    assert window.commands.presentation.shortcut() == QKeySequence("F11")
    window.commands.presentation.trigger()
    assert window.presentation.presenting is not None and window.isFullScreen()
    window.commands.presentation.trigger()
    assert window.presentation.presenting is None and not window.isFullScreen()
    assert window.statusBar().isVisible() and window.parts.pipeline.isVisible()
    window.commands.presentation.trigger()
    window.close()  # closing leaves it first: the saved geometry is the ordinary one
    assert window.presentation.presenting is None and not window.isFullScreen()


def test_presentation_shot_saves_a_picture_and_leaves_the_mode(qtbot, window: MainWindow, tmp_path) -> None:
    window.commands.generate.trigger()
    idle(qtbot, window)
    path = tmp_path / "presentation.png"
    presentation_shot(window.presentation, path)
    assert path.stat().st_size > 10_000 and window.presentation.presenting is None


# -- guess mode -----------------------------------------------------------------------------------
def test_guess_mode_pauses_on_the_chances_and_the_next_press_writes_the_proposed_token(
        qtbot, window: MainWindow) -> None:
    assert REVEAL_MS + HOLD_MS <= 1500
    window.commands.guess.setChecked(True)
    for index in range(3):
        window.commands.step.trigger()
        qtbot.waitUntil(lambda: window.guess_state.guess is not None, timeout=WAIT_MS)
        idle(qtbot, window)
        assert len(window.doc.mirror) == index  # paused: nothing written yet
        assert len(window.parts.editor.spans) == index and index not in window.parts.editor.marked
        guessed_index, proposed = window.guess_state.guess
        assert guessed_index == index
        cover = window.parts.chances_cover
        assert cover.isVisible() and not cover.reveal and window.parts.dice_cover.isVisible()
        assert cover.view is not None and cover.view.trace is proposed.trace  # the proposed chances
        assert "what will the model write next" in window.parts.header.label.text()
        window.commands.step.trigger()  # reveal: the dice land, the token is written
        assert window.guess_state.revealing and window.parts.dice_cover.reveal
        idle(qtbot, window)
        assert len(window.doc.mirror) == index + 1
        written = window.doc.mirror.steps[index]
        assert written.token_id == proposed.token_id and written.u == proposed.u  # the same dice
        assert written.chosen_by == "dice"
        assert window.guess_state.guess is None and not window.parts.chances_cover.isVisible()
        # Every token written so far is in the text, not only the one just revealed.
        assert window.parts.editor.generated_text() == "".join(s.text for s in window.doc.mirror.steps)


def test_guess_mode_in_a_chat_sends_the_message_then_guesses_the_reply(qtbot, window: MainWindow) -> None:
    demo = next(d for d in demos() if d.mode == "chat")
    assert window.demos.apply_demo(demo)
    window.commands.guess.setChecked(True)
    window.commands.step.trigger()
    qtbot.waitUntil(lambda: window.guess_state.guess is not None, timeout=WAIT_MS)
    assert len(window.doc.mirror) == 0 and window.chat.conversation.asking == demo.prompt
    proposed = window.guess_state.guess[1]
    window.commands.step.trigger()
    idle(qtbot, window)
    assert [s.token_id for s in window.doc.mirror.steps] == [proposed.token_id]


def test_esc_in_presentation_mode_stops_a_run_before_it_leaves(qtbot, window: MainWindow) -> None:
    window.presentation.set_presentation(True, full_screen=False)
    window.parts.controls.max_tokens.setValue(400)
    window.commands.generate.trigger()
    qtbot.waitUntil(lambda: len(window.doc.mirror) > 0 or bool(window.steps.pending), timeout=WAIT_MS)
    window.commands.leave_presentation.trigger()
    idle(qtbot, window)
    assert window.presentation.presenting is not None and len(window.doc.mirror) < 400  # stopped, still presenting
    window.commands.leave_presentation.trigger()
    assert window.presentation.presenting is None


def test_a_guess_follows_the_temperature_and_leaving_guess_mode_uncovers(qtbot, window: MainWindow) -> None:
    # Without top-p and min-p, which run before temperature, a step where the model is nearly certain
    # would keep one word at any temperature and the guess could not show the change.
    window.parts.controls.set_settings(SamplerSettings(top_p=1.0, min_p=0.0))
    window.commands.guess.setChecked(True)
    window.commands.step.trigger()
    qtbot.waitUntil(lambda: window.guess_state.guess is not None, timeout=WAIT_MS)
    first = window.guess_state.guess[1]
    window.parts.controls.controls["temperature"].set_value(2.0)
    qtbot.waitUntil(lambda: window.guess_state.guess is not None and window.guess_state.guess[1].settings.temperature == 2.0,
                    timeout=WAIT_MS)
    hotter = window.guess_state.guess[1].trace
    assert hotter.entropy_final > first.trace.entropy_final, (first.trace.final_size, hotter.final_size)
    window.commands.guess.setChecked(False)
    assert window.guess_state.guess is None
    assert not window.parts.chances_cover.isVisible()
    assert len(window.doc.mirror) == 0


# -- demos ----------------------------------------------------------------------------------------
def test_every_demo_file_is_complete() -> None:
    found = demos()
    assert len(found) >= 5
    for demo in found:
        assert demo.title and demo.prompt and demo.what_to_look_for and demo.mode in ("raw", "chat")
        SamplerSettings.from_dict({**SamplerSettings().to_dict(), **demo.settings})  # valid keys, values
        assert 1 <= demo.max_tokens <= 200
        assert len(re.findall(r"[.!?](\s|$)", demo.what_to_look_for)) <= 3  # one or two plain sentences
    folder = resources_dir()
    assert folder is not None and load_demo(sorted((folder / "demos").glob("*.json"))[0]) == found[0]
    kinds = {(d.settings.get("temperature"), d.settings.get("top_p")) for d in found}
    assert any(t == 0.0 for t, _ in kinds) and any(t == 2.0 for t, _ in kinds)
    assert any(d.compare and {d.settings["top_p"], *(v["top_p"] for v in d.compare)} == {0.5, 1.0}
               for d in found)


def test_each_demo_applies_prompt_mode_settings_dice_and_what_to_look_for(qtbot, window: MainWindow) -> None:
    menu_titles = []
    demos_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Demos")
    demos_menu.aboutToShow.emit()
    menu_titles = [a.text() for a in demos_menu.actions()]
    for number, demo in enumerate(demos(), 1):
        assert f"{number}. {demo.title}" in menu_titles
        assert window.demos.apply_demo(demo)
        assert window.doc.chatting == (demo.mode == "chat")
        if window.doc.chatting:
            assert window.parts.chat_input.message_text() == demo.prompt and not window.chat.conversation.started
        else:
            assert window.parts.editor.toPlainText() == demo.prompt and len(window.doc.mirror) == 0
        expected = SamplerSettings.from_dict({**SamplerSettings().to_dict(), **demo.settings})
        assert window.parts.controls.settings() == expected
        assert window.parts.controls.seed() == demo.seed and not window.parts.controls.new_seed_each_run.isChecked()
        assert window.parts.controls.max_tokens.value() == demo.max_tokens
        assert window.parts.controls.ignore_end.isChecked() == demo.ignore_end
        words = demo.what_to_look_for.split(",")[0]
        assert words in window.parts.header.label.text() and words in window.statusBar().currentMessage()
        if demo.compare:
            compare = window.compare.windows[-1]
            assert [c.spec().settings.top_p for c in compare.columns] == [0.5, 1.0]
            compare.stop()
            compare.close()
        window.commands.step.trigger()  # each demo writes from its prompt
        idle(qtbot, window)
        assert len(window.doc.mirror) == 1


def test_the_greedy_demo_falls_into_a_loop(qtbot, window: MainWindow) -> None:
    demo = next(d for d in demos() if d.settings.get("temperature") == 0.0)
    assert window.demos.apply_demo(demo)
    window.commands.generate.trigger()
    idle(qtbot, window)
    assert len(window.doc.mirror) == demo.max_tokens <= 60
    words = window.parts.editor.generated_text().split()
    grams = Counter(tuple(words[i:i + 4]) for i in range(len(words) - 3))
    gram, count = grams.most_common(1)[0]
    assert count >= 3, f"no repeated 4-word sequence in {' '.join(words)!r}"


def test_the_hot_demo_writes_surprising_tokens(qtbot, window: MainWindow) -> None:
    demo = next(d for d in demos() if d.settings.get("temperature") == 2.0)
    assert window.demos.apply_demo(demo)
    window.commands.generate.trigger()
    idle(qtbot, window)
    surprising = sum(step.trace.chosen_p_raw < 0.05 for step in window.doc.mirror.steps)
    assert surprising >= len(window.doc.mirror) // 2  # most tokens are ones the model itself found unlikely


# -- shortcuts ------------------------------------------------------------------------------------
def test_the_shortcuts_dialog_lists_every_key(qtbot, window: MainWindow) -> None:
    window.commands.shortcuts.trigger()
    dialog = window.shortcuts_dialog
    assert isinstance(dialog, ShortcutsDialog) and dialog.isVisible()
    shown = [(dialog.table.item(r, 0).text(), dialog.table.item(r, 1).text())
             for r in range(dialog.table.rowCount())]
    keys = {k for k, _ in shown}
    with_keys = [a for a in window.actions() if not a.shortcut().isEmpty()]
    assert len(with_keys) >= 15
    for action in with_keys:
        assert key_text(action) in keys, action.text()
    for key, _ in OTHER_KEYS:
        assert any(key == k or k.startswith(key) for k in keys)
    assert {"Space", "Enter", "Esc", "F11"} <= keys
    dialog.close()


def test_shortcuts_list_labels_are_words(window: MainWindow) -> None:
    dialog = ShortcutsDialog(window)
    table = [(dialog.table.item(r, 0).text(), dialog.table.item(r, 1).text())
             for r in range(dialog.table.rowCount())]
    assert table == dialog.rows and len(table) >= 15  # the table shows the rows, one each
    for keys, what in dialog.rows:  # each says what it does in a word first, not a button's symbol
        assert keys and what[:1].isalpha() and what[:1] == what[:1].upper(), (keys, what)
        assert len(what.split()) >= 2, (keys, what)
    dialog.close()


# -- presentation mode at 1280×720: what the back of the room sees -----------------------------------
def test_the_chances_heading_counts_the_rows_the_large_view_shows_and_they_fit(
        qtbot, window: MainWindow) -> None:
    generate(qtbot, window, 20)
    window.steps.select_step(10)
    present(qtbot, window)
    for size in ((1280, 720), (1600, 900), (1024, 768)):
        window.resize(*size)
        qtbot.wait(100)
        cover = window.parts.chances_cover
        rows = cover.shown_rows()
        assert rows and cover.isVisible()
        assert counted(window) == sum(not r.extra for r in rows), size
        needed = len(rows) * cover.row_height() + cover.note_height(rows)
        assert needed <= cover.height(), size  # every counted row is on show, none cut off
    window.presentation.set_presentation(False)
    assert counted(window) == sum(r.rank >= 0 for r in window.parts.distribution.rows)  # the normal panel's own


def test_entering_presentation_leaves_a_leftover_what_if_and_a_new_one_still_shows(
        qtbot, window: MainWindow) -> None:
    generate(qtbot, window, 20)
    window.steps.select_step(8)
    recorded = window.doc.mirror.steps[8].settings
    window.parts.controls.controls["temperature"].set_value(1.7)  # a what-if in the normal window
    qtbot.waitUntil(lambda: window.parts.inspector.view is not None and window.parts.inspector.view.is_what_if,
                    timeout=WAIT_MS)
    present(qtbot, window)
    qtbot.waitUntil(lambda: not window.steps.refresh_timer.isActive(), timeout=WAIT_MS)
    assert window.parts.controls.settings() == recorded  # back to the run's settings
    assert not window.parts.inspector.view.is_what_if and not window.parts.chances_cover.view.is_what_if
    assert not window.parts.distribution.title.text().startswith("What if")
    window.parts.controls.controls["temperature"].set_value(1.7)  # the room moves a setting: a fresh what-if
    qtbot.waitUntil(lambda: window.parts.chances_cover.view is not None and window.parts.chances_cover.view.is_what_if,
                    timeout=WAIT_MS)
    assert window.parts.distribution.title.text().startswith("What if")


def test_the_large_view_marks_words_the_repetition_penalty_lowered(qtbot, window: MainWindow) -> None:
    generate(qtbot, window, 40, repeat_penalty=1.3)
    steps = window.doc.mirror.steps
    lowered = [i for i, st in enumerate(steps[:-1]) if any(
        int(c["token_id"]) in penalty_change(st.trace) for c in st.trace.candidates[:2])]
    plain = [i for i, st in enumerate(steps[:-1]) if not penalty_change(st.trace)]
    assert lowered, "the penalty lowered none of the two likeliest words in 40 steps"
    window.steps.select_step(lowered[0])
    present(qtbot, window)
    rows = window.parts.chances_cover.shown_rows()
    marked = [r for r in rows if r.p_penalty is not None]
    assert marked and all(r.p_penalty < r.p_raw for r in marked)
    assert all("↓" in ChancesCover.value_text(r) for r in marked)
    assert ChancesCover.value_text(rows[0]).count("%") >= 2
    note = window.parts.chances_cover.note(rows)
    assert note == PENALTY_NOTE and note.endswith(".")  # the key to all three numbers, under the rows
    assert "↓" not in window.parts.distribution.legend.text()  # said once, where the rows are
    if plain:
        window.steps.select_step(plain[0])
        qtbot.wait(100)
        rows = window.parts.chances_cover.shown_rows()
        assert not window.parts.chances_cover.note(rows)
        assert all("↓" not in ChancesCover.value_text(r) for r in rows)


def test_the_selected_step_is_scrolled_into_the_text_and_the_text_gets_a_full_column(
        qtbot, window: MainWindow) -> None:
    generate(qtbot, window, 80)
    editor = window.parts.editor

    def on_show(index: int) -> bool:
        rects = editor.token_rects(index)
        return bool(rects) and all(editor.viewport().rect().contains(r) for r in rects)

    window.steps.select_step(70)
    present(qtbot, window)
    assert on_show(70)
    # the text runs the full height beside the chances and the dice, no longer above the dice only
    text_bottom = editor.mapTo(window, editor.rect().bottomRight())
    chances_left = window.parts.distribution.mapTo(window, window.parts.distribution.rect().topLeft()).x()
    dice_top = window.parts.dice.mapTo(window, window.parts.dice.rect().topLeft()).y()
    assert text_bottom.x() < chances_left and text_bottom.y() > dice_top, (text_bottom, dice_top)
    assert editor.height() > window.height() * 0.5, editor.height()
    window.steps.select_step(2)  # far above: the text scrolls back to it
    qtbot.wait(50)
    assert on_show(2)
    window.presentation.set_presentation(False)
    assert window.presentation.stage.top is window.parts.text_split.parentWidget()  # the text is back beside the chances


def test_secondary_text_in_presentation_is_large_and_dark(qtbot, window: MainWindow, qapp) -> None:
    generate(qtbot, window, 10)
    present(qtbot, window)
    hints = [label for label in window.findChildren(QLabel, "hint") if label.isVisible() and label.text()]
    assert window.parts.distribution.legend in hints
    assert not window.parts.controls.hidden_note.isVisible()  # it points at "Show all settings", not shown here
    panel = QColor(theme.PANEL)
    for label in hints:
        assert QFontInfo(label.font()).pixelSize() >= 23, label.text()[:40]  # ~24 px on a 96-dpi screen
        assert contrast(label.palette().color(QPalette.ColorRole.WindowText), panel) >= 7, label.text()[:40]
    assert contrast(QColor(secondary_ink()), panel) >= 7 > contrast(QColor(theme.MUTED), panel)
    window.presentation.set_presentation(False)
    assert QFontInfo(window.parts.distribution.legend.font()).pixelSize() < 23  # the normal window as it was
    was_dark = theme.PANEL == theme.DARK["PANEL"]
    try:
        for dark in (True, False):
            theme.use_palette(dark)
            assert contrast(QColor(secondary_ink()), QColor(theme.PANEL)) >= 7, dark
    finally:
        theme.use_palette(was_dark)
