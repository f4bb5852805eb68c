"""Stage by stage: every mark and tooltip names the stage that changed a word, with the chain's numbers."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from synthscope.engine import Engine  # noqa: E402
from synthscope.sampling import STAGE_NAMES, Dice, SamplerSettings, build_trace, run_chain  # noqa: E402
from synthscope.ui import theme  # noqa: E402
from synthscope.session.mirror import StepView  # noqa: E402
from synthscope.ui.steps.stage_view import (FINAL, FINAL_HELP, HEADER_HELP, HEADERS, LEGEND,  # noqa: E402
                                             STAGE_SUBJECTS, StageTable)
from synthscope.ui.wording import percent, visible  # noqa: E402

PROMPT = "The cat sat on the mat. The cat sat on the mat. The cat sat on the"
# A strong penalty lowers the repeated words; top-k 6 and min-p remove the tail; temperature 1.4 spreads.
SETTINGS = SamplerSettings(temperature=1.4, repeat_penalty=1.8, top_k=6, top_p=1.0, min_p=0.1)

STAGE_COLUMNS = ("model",) + STAGE_NAMES  # the default chain's columns


@pytest.fixture(scope="module")
def step(smollm_engine: Engine) -> tuple[StepView, Engine]:
    smollm_engine.reset()
    tokens = smollm_engine.tokenize(PROMPT)
    smollm_engine.decode(tokens)
    u = Dice(3).u(0)
    result = run_chain(smollm_engine.logits().copy(), SETTINGS, np.array(tokens, dtype=np.int32), u)
    trace = build_trace(result, top_n=12)
    return StepView(0, trace, result.token_id, u, SETTINGS), smollm_engine


@pytest.fixture
def table(qtbot, qapp, step) -> StageTable:
    theme.apply(qapp, dark=False)
    view, engine = step
    table = StageTable()
    qtbot.addWidget(table)
    table.token_text = lambda token: engine.token_text(token)
    table.resize(520, 420)
    table.show()
    table.show_step(view, 12)
    return table


def test_each_tooltip_names_the_stage_and_the_chains_own_numbers(table: StageTable, step) -> None:
    view, engine = step
    trace = view.trace
    seen = {"lower": 0, "removed": 0}
    for r, row in enumerate(table.rows):
        j = int(np.flatnonzero(trace.candidates["token_id"] == row.token_id)[0])
        word = f"‘{visible(engine.token_text(row.token_id))}’"
        assert table.table.item(r, 1).toolTip() == f"The model gave {word} " \
            f"{percent(float(trace.candidates['p_raw'][j]))}, before any sampler changed it."
        for column in range(1, len(STAGE_COLUMNS)):
            stage = STAGE_NAMES[column - 1]
            before = float(trace.candidates["p_raw"][j] if column == 1 else trace.stage_p[column - 2, j])
            after = float(trace.stage_p[column - 1, j])
            item = table.table.item(r, column + 1)
            tip, effect = item.toolTip(), row.effect(column)
            if row.removed_at is not None and column > row.removed_at:
                assert item.text() == "" and "already removed" in tip
                continue
            assert word in tip and STAGE_SUBJECTS[stage] in tip
            if effect == "lower" and stage != "temperature":
                seen["lower"] += 1
                assert item.text() == "↓" + percent(after)
                assert f"lowered {word} from {percent(before)} to {percent(after)}" in tip
            elif effect == "removed":
                seen["removed"] += 1
                assert item.text() == "✗" and f"removed {word}" in tip and f"it had {percent(before)}" in tip
            else:
                assert "↓" not in item.text() and item.text() == percent(after)
                if stage == "temperature":
                    assert f"from {percent(before)} to {percent(after)}" in tip and "spreads" in tip
    assert seen["lower"] and seen["removed"], "the step should show a lowered and a removed word"
    # The penalty is what lowered words here: the arrows stand in its column only, never at temperature.
    lowered = [c for row in table.rows for c in range(1, len(STAGE_COLUMNS))
               if table.table.item(table.rows.index(row), c + 1).text().startswith("↓")]
    assert lowered and set(lowered) == {STAGE_COLUMNS.index("penalties")}


def test_the_legend_and_headers_say_what_each_mark_and_column_is(table: StageTable) -> None:
    assert table.legend.isVisible() and table.legend.text() == LEGEND
    assert "↓ = this stage lowered it" in LEGEND and "✗ = this stage removed it" in LEGEND
    assert "Temperature" in LEGEND and "no arrows" in LEGEND
    last = table.table.horizontalHeaderItem(len(STAGE_COLUMNS))
    assert last.text() == HEADERS["temperature"] + FINAL and "final" in last.text()
    assert last.toolTip() == HEADER_HELP["temperature"] + FINAL_HELP
    for column in range(table.table.columnCount() - 1):
        tip = table.table.horizontalHeaderItem(column).toolTip()
        assert tip in HEADER_HELP.values() and tip.count(". ") == 0 and tip.endswith(".")
    header = table.table.horizontalHeader()
    for column in range(1, table.table.columnCount()):  # no header is cut off
        if not table.table.isColumnHidden(column):
            lines = table.table.horizontalHeaderItem(column).text().split("\n")
            assert max(header.fontMetrics().horizontalAdvance(line) for line in lines) \
                <= header.sectionSize(column)


@pytest.mark.parametrize("height", [260, 333, 420, 511])
def test_the_table_shows_whole_rows_only(table: StageTable, qtbot, height: int) -> None:
    table.resize(520, height)
    qtbot.waitUntil(lambda: table.table.geometry().bottom() < table.legend.geometry().top())
    step = table.table.verticalHeader().defaultSectionSize()
    viewport = table.table.viewport().height()
    shown = min(viewport // step, table.table.rowCount())
    assert shown >= 1 and viewport == shown * step  # not a pixel of a half row
    assert table.legend.geometry().bottom() <= table.height()
