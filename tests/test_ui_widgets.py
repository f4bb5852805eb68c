"""The UI's widgets and helpers on synthetic sampling steps (fast; no model needed)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from synthscope.sampling import STAGE_NAMES, Dice, SamplerSettings, build_trace, run_chain  # noqa: E402
from synthscope.ui.settings.controls import ControlsPanel, SettingControl  # noqa: E402
from synthscope.ui.steps.dice import DicePanel, segments_for  # noqa: E402
from synthscope.ui.steps.distribution import DistributionPanel, rows_for  # noqa: E402
from synthscope.ui.steps.pipeline import PipelineStrip  # noqa: E402
from synthscope.session.mirror import LogitsCache, RunMirror, StepView  # noqa: E402
from synthscope.ui.steps.text_view import END_MARK, Piece, TokenTextView  # noqa: E402
from synthscope.ui.stage_words import describe_stage  # noqa: E402
from synthscope.ui.wording import percent, visible  # noqa: E402
from synthscope.sampling import FRESH  # noqa: E402

N_VOCAB = 4096


def token_text(token: int) -> str:
    return {0: " the", 1: "\n", 2: "cat", 3: "\t"}.get(token, f" w{token}")


def synthetic(settings: SamplerSettings, seed: int = 0, index: int = 3) -> tuple[StepView, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, N_VOCAB).astype(np.float32)
    logits[:30] += np.linspace(8, 4, 30).astype(np.float32)
    u = None if settings.greedy else Dice(seed).u(index)
    result = run_chain(logits, settings, np.arange(20, dtype=np.int32), u)
    return StepView(index, build_trace(result, 20), result.token_id, u, settings), logits


class FakeStep:
    def __init__(self, view: StepView, text: str) -> None:
        self.token_id, self.u, self.settings, self.trace, self.text = (
            view.token_id, view.u, view.settings, view.trace, text)
        self.feedback_in = self.feedback_out = FRESH  # no mirostat or adaptive-p in these steps


def test_visible_whitespace_and_percentages() -> None:
    assert visible(" the") == "␣the"
    assert visible("\n\n") == "↵↵"
    assert visible("") == "∅"
    assert percent(0.4567) == "46%"
    assert percent(0.0123) == "1.2%"
    assert percent(0.00001) == "<0.1%"


def test_stage_words_say_what_each_stage_did() -> None:
    view, _ = synthetic(SamplerSettings(top_k=12, top_p=0.5))
    top_k = describe_stage(view.trace.stage("top_k"), view.settings)
    assert top_k.headline == f"kept 12 of {N_VOCAB:,}" and not top_k.idle
    top_p = view.trace.stage("top_p")
    words = describe_stage(top_p, view.settings)
    assert words.headline == f"kept {top_p.kept} of 12"
    assert words.detail == (f"of what was left; removed {percent(top_p.removed_mass)} of the chance "
                            "still in play")
    assert describe_stage(view.trace.stage("typical_p"), view.settings).idle
    greedy, _ = synthetic(SamplerSettings(temperature=0.0))
    assert describe_stage(greedy.trace.stage("temperature"), greedy.settings).headline == \
        "always the top word"


def shown_panel(qtbot, view, width: int, height: int) -> DistributionPanel:
    """A distribution panel of this size, on screen, showing `view`."""
    panel = DistributionPanel()
    qtbot.addWidget(panel)
    panel.token_text = token_text
    panel.resize(width, height)
    panel.show()
    panel.show_step(view)
    return panel


def test_distribution_rows_follow_the_trace(qtbot) -> None:
    view, _ = synthetic(SamplerSettings(top_k=5, repeat_penalty=1.3))
    panel = shown_panel(qtbot, view, 500, 800)
    cands = view.trace.candidates
    shown = [row for row in panel.rows if row.rank >= 0]
    assert [r.token_id for r in shown] == cands["token_id"][:len(shown)].tolist()
    assert len(shown) >= 10
    for row, cand in zip(shown, cands[:len(shown)], strict=True):
        stage = int(cand["removed_by"])
        assert (row.removed_by is None) == (stage < 0)
        if stage >= 0:
            assert row.removed_by.lower().replace("-", "_") == STAGE_NAMES[stage]
            assert "removed by" in row.value_text()
            assert "✗" in row.value_text(compact=True)
    assert sum(r.chosen for r in panel.rows) == 1
    assert next(r for r in panel.rows if r.chosen).token_id == view.token_id
    kept = [r for r in shown if r.removed_by is None]
    assert len(kept) <= 5


def test_every_row_label_is_drawn_after_resizes(qtbot) -> None:
    """pyqtgraph silently drops a tick label that does not fit its axis; none may go missing."""
    from PySide6.QtGui import QImage, QPainter

    view, _ = synthetic(SamplerSettings(temperature=3.0, top_k=0, top_p=1.0, min_p=0.0), seed=5)
    panel = DistributionPanel()
    qtbot.addWidget(panel)
    panel.token_text = token_text
    panel.show()
    for width, height in ((700, 700), (420, 500), (900, 380)):
        panel.resize(width, height)
        panel.show_step(view)
        qtbot.wait(20)
        for axis in (panel.left_axis, panel.right_axis):
            image = QImage(10, 10, QImage.Format.Format_ARGB32)
            painter = QPainter(image)
            painter.setFont(axis.style["tickFont"])
            texts = axis.generateDrawSpecs(painter)[2]
            painter.end()
            assert len(texts) == len(panel.rows), (width, height, axis.orientation)


def test_a_chosen_token_below_the_list_gets_its_own_row() -> None:
    view, _ = synthetic(SamplerSettings(temperature=3.0, top_k=0, top_p=1.0, min_p=0.0), seed=5)
    rows = rows_for(view, token_text, limit=3)
    # The setup itself is checked: were the draw to land in the top 3, nothing below would be tested.
    assert view.token_id not in view.trace.candidates["token_id"][:3], "seed 5 now draws from the top 3"
    assert rows[-1].rank == -1 and rows[-1].chosen and rows[-1].token_id == view.token_id
    assert len(rows) == 4


def test_a_what_if_keeps_the_runs_pick_in_view_below_the_list(qtbot) -> None:
    from dataclasses import replace

    view, _ = synthetic(SamplerSettings(top_k=0, top_p=1.0, min_p=0.0), seed=3)
    cands = view.trace.candidates
    rank = 12 if int(cands["token_id"][12]) != view.token_id else 13
    picked = int(cands["token_id"][rank])
    what_if = replace(view, recorded_token_id=picked)
    rows = rows_for(what_if, token_text, limit=5)
    assert rows[-1].token_id == picked and rows[-1].was_picked and rows[-1].rank == -1
    assert rows[-1].p_raw == pytest.approx(float(cands["p_raw"][rank]))
    assert "(was picked)" in rows[-1].value_text()
    panel = shown_panel(qtbot, what_if, 500, 400)
    assert any(r.was_picked for r in panel.rows)
    known = what_if.trace.stages[0].n_in  # the whole vocabulary: the penalty stage sees every word piece
    assert panel.title.text().endswith(f"the {sum(r.rank >= 0 for r in panel.rows)} likeliest of {known:,}, "
                                       "plus the run's pick")


def test_fewer_rows_in_a_short_panel(qtbot) -> None:
    view, _ = synthetic(SamplerSettings())
    panel = shown_panel(qtbot, view, 500, 900)
    tall = len(panel.rows)
    panel.resize(500, 330)
    qtbot.waitUntil(lambda: len(panel.rows) < tall)
    assert len(panel.rows) >= 5


def test_dice_segments_lay_the_draw_end_to_end_and_u_lands_in_the_winner(qtbot) -> None:
    for seed in range(8):
        view, _ = synthetic(SamplerSettings(top_k=8, min_p=0.0), seed=seed)
        segments = segments_for(view)
        assert segments[0].start == 0.0
        assert segments[-1].end == pytest.approx(1.0, abs=1e-5)
        assert all(a.end == pytest.approx(b.start) for a, b in zip(segments, segments[1:], strict=False))
        winner = next(s for s in segments if s.chosen)
        assert winner.token_id == view.token_id
        assert winner.start - 1e-6 <= view.u <= winner.end + 1e-6
    panel = DicePanel()
    qtbot.addWidget(panel)
    panel.set_token_text(token_text)
    panel.show_step(view)
    assert f"{view.u:.1%}" in panel.explanation.text()
    greedy, _ = synthetic(SamplerSettings(temperature=0.0))
    panel.show_step(greedy)
    assert "Temperature 0: always the top word" in panel.explanation.text()
    assert panel.bar.u is None


def test_pipeline_boxes_look_idle_only_when_the_stage_did_nothing(qtbot) -> None:
    view, _ = synthetic(SamplerSettings(top_k=10, top_p=1.0))
    strip = PipelineStrip()
    qtbot.addWidget(strip)
    strip.show_step(view)
    assert strip.boxes["top_k"].idle is False
    assert strip.boxes["top_p"].idle is True  # turned off
    assert strip.boxes["penalties"].idle is True
    assert "kept 10 of" in strip.sentences()["top_k"]


def test_slider_and_number_box_agree_and_reset_restores_defaults(qtbot) -> None:
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    top_k = panel.controls["top_k"]
    with qtbot.waitSignal(panel.settingsChanged):
        top_k.slider.setValue(top_k.to_position(200))
    assert panel.settings().top_k == 200
    assert top_k.slider.value() == top_k.to_position(200)
    panel.controls["temperature"].box.setValue(1.37)
    assert panel.settings().temperature == pytest.approx(1.37)
    assert panel.controls["temperature"].slider.value() == panel.controls["temperature"].to_position(1.37)
    panel.controls["top_p"].box.setValue(1.0)
    assert panel.controls["top_p"].tag.text() == "off (1 = no limit)"
    panel.reset()
    assert panel.settings() == SamplerSettings()


@pytest.mark.parametrize("key", ["temperature", "top_k", "top_p", "repeat_last_n", "presence_penalty"])
def test_every_slider_position_is_a_valid_value_and_round_trips(qtbot, key: str) -> None:
    control = SettingControl(next(s for s in __import__("synthscope.sampling").sampling.SPECS
                                  if s.key == key))
    qtbot.addWidget(control)
    for position in range(0, 1001, 25):
        value = control.from_position(position)
        assert control.spec.minimum <= value <= control.spec.maximum
        assert abs(control.to_position(value) - position) <= 30
    assert control.from_position(0) == control.spec.minimum
    assert control.from_position(1000) == control.spec.maximum


def test_controls_persist_through_qsettings(qtbot, tmp_path) -> None:
    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    panel.set_settings(SamplerSettings(temperature=1.5, top_k=7))
    panel.seed_box.setValue(99)
    panel.save(store)
    store.setValue("sampler/top_p", "nonsense")
    other = ControlsPanel()
    qtbot.addWidget(other)
    other.restore(store)
    assert other.settings() == SamplerSettings(temperature=1.5, top_k=7)
    assert other.seed() == 99


def test_an_unreadable_seed_keeps_its_default_and_the_rest_is_restored(qtbot, tmp_path) -> None:
    store = QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat)
    store.setValue("run/seed", "nonsense")
    store.setValue("run/max_tokens", 77)
    store.setValue("run/ignore_end", True)
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    panel.restore(store)
    assert panel.seed() == 1234 and panel.max_tokens.value() == 77
    assert panel.ignore_end.isChecked() and not panel.new_seed_each_run.isChecked()


def test_new_dice_each_run_rolls_a_new_seed(qtbot) -> None:
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    panel.seed_box.setValue(5)
    assert panel.seed_for_new_run() == 5
    panel.new_seed_each_run.setChecked(True)
    seeds = {panel.seed_for_new_run() for _ in range(4)}
    assert len(seeds) > 1 and panel.seed() in seeds


def test_logits_cache_stays_within_its_byte_budget() -> None:
    cache = LogitsCache(budget=3 * 4 * 100)
    for i in range(6):
        cache.put(i, np.zeros(100, dtype=np.float32))
    assert cache.nbytes <= 1200 and len(cache) == 3
    assert 5 in cache and 0 not in cache
    cache.discard_from(4)
    assert 4 not in cache and 5 not in cache and 3 in cache


def test_what_if_with_the_recorded_settings_reproduces_the_step() -> None:
    settings = SamplerSettings(repeat_penalty=1.2, top_k=30)
    mirror = RunMirror()
    mirror.reset("p", np.arange(20, dtype=np.int32), seed=7)
    rng = np.random.default_rng(1)
    all_logits = []
    for index in range(4):
        logits = rng.normal(0, 3, N_VOCAB).astype(np.float32)
        result = run_chain(logits, settings, mirror.history(index), Dice(7).u(index))
        view = StepView(index, build_trace(result, 20), result.token_id, result.u, settings)
        mirror.append(FakeStep(view, token_text(result.token_id)), logits)
        all_logits.append(logits)
    for index, logits in enumerate(all_logits):
        again = mirror.what_if(index, settings)
        assert again.token_id == mirror.steps[index].token_id and not again.changes_pick
        assert again.u == mirror.steps[index].u
        cold = mirror.what_if(index, settings.with_changes(temperature=0.0))
        top = int(np.argmax(logits))
        assert cold.u is None and cold.recorded_token_id == mirror.steps[index].token_id
        if top not in mirror.history(index):  # penalties only ever lower seen tokens
            assert cold.token_id == top
    assert mirror.what_if(0, settings) is not None
    mirror.logits.clear()
    assert mirror.what_if(0, settings) is None  # the window then asks the worker for them


def shown_text_view(qtbot, prompt: str, height: int = 300) -> TokenTextView:
    view = TokenTextView()
    qtbot.addWidget(view)
    view.resize(600, height)
    view.show()
    view.set_prompt(prompt)
    return view


def test_text_view_keeps_token_spans_through_odd_text(qtbot) -> None:
    view = shown_text_view(qtbot, "Hi")
    edits = []
    view.userEdited.connect(lambda: edits.append(1))
    tokens = [(" there", 0.9), ("\r\n", 0.5), ("😀", 0.01), ("", 0.3), (" ok", 0.6)]
    view.append_tokens(tokens)
    assert len(view.spans) == 5 and view.prompt_text() == "Hi"
    assert view.generated_text().replace("\r", "") == " there\n😀 ok".replace("\r", "")
    assert view.spans[3][0] == view.spans[3][1]  # half a character adds nothing yet
    rect = view.token_rects(4)[0]
    assert view.token_at(rect.center()) == 4
    view.remove_last_tokens(2)
    assert view.generated_text().endswith("😀") and len(view.spans) == 3
    assert edits == []  # the app's own changes are not the user's edits
    view.adopt_as_prompt()
    assert view.spans == [] and view.prompt_text().startswith("Hi there")


def test_hover_card_follows_a_new_step_at_the_same_index(qtbot) -> None:
    """After Undo and Step (or a new run) a token at the same index has a new, equal-looking trace."""
    from synthscope.ui.steps.hover_card import HoverCard

    card = HoverCard()
    qtbot.addWidget(card)
    card.token_text = token_text
    first, _ = synthetic(SamplerSettings(), seed=1)
    again, _ = synthetic(SamplerSettings(), seed=1)
    other, _ = synthetic(SamplerSettings(), seed=2)
    card.show_for(first, card.pos())
    card.show_for(again, card.pos())
    assert card.view is again
    card.show_for(other, card.pos())
    assert card.view is other
    assert card.lines[0][0] == visible(token_text(int(other.trace.candidates[0]["token_id"])))


def test_end_of_text_shows_as_a_marker_and_reads_back_as_its_token(qtbot) -> None:
    view = TokenTextView()
    qtbot.addWidget(view)
    view.show()
    view.set_prompt("Q:")
    view.append_tokens([Piece(" 4", 0.9), Piece("<|im_end|>", 0.8, end=True), Piece("\n", 0.5)])
    assert view.toPlainText() == "Q: 4" + END_MARK + "\n"
    assert view.generated_text() == " 4<|im_end|>\n"
    view.remove_last_tokens(2)
    assert view.generated_text() == " 4" and view.marked == {}
    view.append_tokens([Piece("<|im_end|>", 0.8, end=True), Piece(" more", 0.2)])
    assert view.generated_text() == " 4<|im_end|> more"
    # The user types before the marker: it moves along, and becomes the token's text in the prompt.
    cursor = view.textCursor()
    cursor.setPosition(2)
    view.setTextCursor(cursor)
    qtbot.keyClicks(view, "!")
    view.adopt_as_prompt()
    assert view.toPlainText() == "Q:! 4<|im_end|> more" and view.marked == {}


def test_an_end_marker_the_user_edits_is_the_users_text(qtbot) -> None:
    view = TokenTextView()
    qtbot.addWidget(view)
    view.show()
    view.set_prompt("Q:")
    view.append_tokens([Piece("<|im_end|>", 0.8, end=True)])
    cursor = view.textCursor()
    cursor.setPosition(view.spans[0][0] + 3)
    view.setTextCursor(cursor)
    qtbot.keyClicks(view, "x")
    view.adopt_as_prompt()
    assert view.toPlainText() == "Q:" + END_MARK[:3] + "x" + END_MARK[3:]


def test_the_selected_word_stays_readable_beside_a_branch_flag(qtbot) -> None:
    from synthscope.ui import theme

    view = shown_text_view(qtbot, "Once upon a time", 200)
    view.append_tokens([Piece(" there", 0.3), Piece(" lived", 0.02), Piece(" a", 0.6)])
    view.set_fork_mark(0)  # the flag is painted with a fill...
    view.set_selected(1)  # ...which must not spill into the selected word's frame
    image = view.viewport().grab().toImage()
    rect = view.token_rects(1)[0]
    inside = image.pixelColor(rect.left() + 4, rect.center().y())  # the word's leading space
    band = theme.band_colour(0.02)
    distance = sum(abs(a - b) for a, b in zip(inside.getRgb()[:3], band.getRgb()[:3], strict=True))
    assert distance < 30, (inside.name(), band.name())  # the word's own band, not the flag's blue


def test_a_large_batch_of_text_keeps_a_view_that_followed_the_end_at_the_end(qtbot) -> None:
    view = shown_text_view(qtbot, "Once upon a time", 150)
    view.append_tokens([Piece(f" word{i}", 0.3) for i in range(60)])  # more than fits: it scrolls
    bar = view.verticalScrollBar()  # in lines of text
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    before = bar.maximum()
    view.append_tokens([Piece(f" more{i}", 0.3) for i in range(400)])  # dozens of lines at once
    assert bar.maximum() > before + 40 and bar.value() == bar.maximum()
    bar.setValue(0)  # a reader scrolled far back: new text leaves the view where it is
    view.append_tokens([Piece(" again", 0.3)])
    assert bar.value() == 0


def test_selecting_a_word_paints_only_the_old_and_the_new_frame(qtbot) -> None:
    from PySide6.QtCore import QEvent, QObject

    view = shown_text_view(qtbot, "Once upon a time", 300)
    view.append_tokens([Piece(f" word{i}", 0.3) for i in range(40)])
    view.set_selected(3)
    qtbot.wait(20)

    class Regions(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.painted = []

        def eventFilter(self, watched, event) -> bool:  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                self.painted.append(event.region())
            return False

    spy = Regions()
    view.viewport().installEventFilter(spy)
    view.set_selected(30)
    qtbot.waitUntil(lambda: bool(spy.painted), timeout=2000)
    painted = spy.painted[0]
    for index in (3, 30):
        for rect in view.token_rects(index):
            assert painted.contains(rect), index
    area = sum(r.width() * r.height() for r in painted)
    assert area < view.viewport().width() * view.viewport().height() / 5


def test_a_views_redraws_wait_for_their_share_of_a_core_only_when_llama_cpp_uses_every_core(monkeypatch) -> None:
    from synthscope.ui.steps import display
    from synthscope.ui.steps.display import RedrawMeter

    now = [100.0]
    monkeypatch.setattr(display.time, "perf_counter", lambda: now[0])
    meter = RedrawMeter(least_ms=100, share=0.02)
    meter.shown_at, meter.cost = 100.0, 0.001  # a cheap redraw: the least interval rules
    assert meter.wait(contended=True) == pytest.approx(0.1)
    meter.cost = 0.010  # 10 ms of CPU per redraw: at most 2% of a core means every 0.5 s
    assert meter.wait(contended=True) == pytest.approx(0.5)
    assert meter.wait(contended=False) == pytest.approx(0.1)  # a free core: no need to wait longer
    now[0] = 100.6
    assert meter.wait(contended=True) < 0  # due
