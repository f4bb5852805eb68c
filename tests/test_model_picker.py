"""The model picker lists what a scan found (on a thread of its own), with facts in plain words; only
models that can be opened are offered, and a slow earlier scan never overwrites a newer one."""
from __future__ import annotations

import os
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QColor  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QDialog, QFileDialog  # noqa: E402

from synthscope.engine import discovery  # noqa: E402
from synthscope.engine.discovery import FoundModel  # noqa: E402
from synthscope.ui import theme  # noqa: E402
from synthscope.ui.models import picker as model_picker  # noqa: E402
from synthscope.ui.models.picker import (  # noqa: E402
    COLUMNS,
    LOOKING,
    ModelPickerDialog,
    parameters_text,
    size_text,
)
from synthscope.ui.models.found_note import other_models  # noqa: E402

WAIT_MS = 10_000


def found(smollm: Path) -> list[FoundModel]:
    return [
        FoundModel("/models/hf/smol.gguf", "HuggingFaceTB/SmolLM2-GGUF/smol", "huggingface", 92_400_000,
                   "llama", 134_515_008, "Q4_1", 49152, 8192),
        FoundModel("/models/lms/lfm.gguf", "lmstudio-community/LFM2-1.2B", "lmstudio", 1_230_000_000,
                   "lfm2", 1_170_340_608, "Q8_0", 65536, 128000),
        FoundModel("/models/mine/notes.gguf", "notes", "user", 380, error="this is not a GGUF file."),
        FoundModel(str(smollm), smollm.stem, "package", smollm.stat().st_size, "llama", 134_515_008,
                   "Q4_1", 49152, 8192),
    ]


def opened(qtbot, dialog: ModelPickerDialog) -> ModelPickerDialog:
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.status.text() != LOOKING, timeout=WAIT_MS)
    return dialog


def rows(dialog: ModelPickerDialog) -> dict[str, list[str]]:
    """Each row's texts, keyed by the model's name (without the open-now mark)."""
    table = dialog.table
    texts = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    return {row[0].removeprefix(model_picker.OPEN_NOW).strip(): row for row in texts}


def row_of(dialog: ModelPickerDialog, name: str) -> int:
    names = [dialog.table.item(r, 0).text().removeprefix(model_picker.OPEN_NOW)
             for r in range(dialog.table.rowCount())]
    return next(r for r, text in enumerate(names) if text.startswith(name))


def test_rows_show_each_model_in_plain_words(qtbot, smollm_path: Path) -> None:
    dialog = opened(qtbot, ModelPickerDialog(str(smollm_path), scan=lambda: found(smollm_path)))
    assert dialog.windowTitle() == "Models on this computer"
    listed = rows(dialog)
    assert listed["HuggingFaceTB/SmolLM2-GGUF/smol"][1:] == [
        "Hugging Face", "92 MB", "llama", "135M", "Q4_1", "49,152", "8,192 word pieces"]
    assert listed["lmstudio-community/LFM2-1.2B"][1:] == [
        "LM Studio", "1.2 GB", "lfm2", "1.2B", "Q8_0", "65,536", "128,000 word pieces"]
    assert listed[smollm_path.stem][1] == "Came with Synthscope"
    assert "4 models found" in dialog.status.text() and "1 cannot be opened" in dialog.status.text()
    # The loaded model is marked (its name bold) and selected; every cell's tooltip has the full path.
    current = row_of(dialog, smollm_path.stem)
    assert dialog.table.item(current, 0).text().startswith(model_picker.OPEN_NOW)
    assert dialog.table.item(current, 0).font().bold()
    assert dialog.selected_path() == str(smollm_path) and dialog.open_button.isEnabled()
    hf = row_of(dialog, "HuggingFaceTB")
    assert dialog.table.item(hf, 4).toolTip() == "/models/hf/smol.gguf"
    assert not dialog.table.item(hf, 0).font().bold()
    headers = [dialog.table.horizontalHeaderItem(c) for c in range(len(COLUMNS))]
    assert [h.text() for h in headers] == ["Name", "Found in", "Size", "Kind", "Parameters", "Quantisation",
                                           "Word pieces", "Context"]
    assert all(h.toolTip().endswith(".") for h in headers)
    assert "fewer bits" in headers[5].toolTip()
    # A click on a title sorts by it; sizes sort by bytes, not by their text ("92 MB" > "1.2 GB" as text).
    heading = dialog.table.horizontalHeader()
    qtbot.mouseClick(heading.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(heading.sectionViewportPosition(2) + 5, 5))
    assert [dialog.table.item(r, 2).text() for r in range(4)] == [
        "1 KB", "92 MB", size_text(smollm_path.stat().st_size), "1.2 GB"]
    qtbot.mouseClick(heading.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(heading.sectionViewportPosition(2) + 5, 5))
    assert dialog.table.item(0, 0).text() == "lmstudio-community/LFM2-1.2B"


def test_a_damaged_file_is_greyed_and_cannot_be_opened(qtbot, smollm_path: Path) -> None:
    dialog = opened(qtbot, ModelPickerDialog(None, scan=lambda: found(smollm_path)))
    broken = row_of(dialog, "notes")
    assert rows(dialog)["notes"][3] == "Cannot be opened"
    assert dialog.table.item(broken, 0).foreground().color() == QColor(theme.FAINT)
    assert "not a GGUF file" in dialog.table.item(broken, 0).toolTip()
    dialog.table.selectRow(broken)
    assert dialog.selected_path() is None and not dialog.open_button.isEnabled()
    with qtbot.assertNotEmitted(dialog.chosen):
        dialog.table.itemDoubleClicked.emit(dialog.table.item(broken, 1))
    assert dialog.isVisible()
    dialog.table.selectRow(row_of(dialog, "HuggingFaceTB"))
    assert dialog.open_button.isEnabled()


def test_double_click_and_open_emit_the_path(qtbot, smollm_path: Path) -> None:
    dialog = opened(qtbot, ModelPickerDialog(None, scan=lambda: found(smollm_path)))
    table = dialog.table
    where = table.visualItemRect(table.item(row_of(dialog, "lmstudio-community"), 2)).center()
    # A real double-click: Qt's item views only take one that follows a press on the same row.
    QTest.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where)
    with qtbot.waitSignal(dialog.chosen) as chosen:
        QTest.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where)
    assert chosen.args == ["/models/lms/lfm.gguf"]
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible()

    again = opened(qtbot, ModelPickerDialog(None, scan=lambda: found(smollm_path)))
    again.table.selectRow(row_of(again, "HuggingFaceTB"))
    assert again.open_button.isDefault()
    with qtbot.waitSignal(again.chosen) as chosen:
        qtbot.mouseClick(again.open_button, Qt.MouseButton.LeftButton)
    assert chosen.args == ["/models/hf/smol.gguf"]

    by_key = opened(qtbot, ModelPickerDialog(None, scan=lambda: found(smollm_path)))
    by_key.table.setFocus()
    by_key.table.selectRow(row_of(by_key, "lmstudio-community"))
    with qtbot.waitSignal(by_key.chosen) as chosen:  # Enter in the list presses the default button
        QTest.keyClick(by_key.table, Qt.Key.Key_Return)
    assert chosen.args == ["/models/lms/lfm.gguf"]


def test_open_another_file_asks_for_a_gguf(qtbot, smollm_path: Path, monkeypatch) -> None:
    asked: list[str] = []

    def ask(parent, title, folder, filters):
        asked.append(filters)
        return "/somewhere/else.gguf", filters

    monkeypatch.setattr(QFileDialog, "getOpenFileName", ask)
    dialog = opened(qtbot, ModelPickerDialog(None, scan=list))
    assert dialog.table.rowCount() == 0 and "No models found" in dialog.status.text()
    assert not dialog.open_button.isEnabled()
    with qtbot.waitSignal(dialog.chosen) as chosen:
        dialog.other_button.click()
    assert chosen.args == ["/somewhere/else.gguf"] and "*.gguf" in asked[0]


def test_a_stale_scan_never_replaces_a_newer_one(qtbot, smollm_path: Path) -> None:
    release, first_started = threading.Event(), threading.Event()
    calls: list[int] = []

    def scan() -> list[FoundModel]:
        calls.append(len(calls))
        if len(calls) == 1:  # the first scan is slow and finds what was there before
            first_started.set()
            release.wait(WAIT_MS / 1000)
            return found(smollm_path)
        return found(smollm_path)[:1]

    dialog = ModelPickerDialog(None, scan=scan)
    qtbot.addWidget(dialog)
    assert first_started.wait(WAIT_MS / 1000) and dialog.status.text() == LOOKING
    dialog.again_button.click()
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1, timeout=WAIT_MS)
    with qtbot.waitSignal(dialog.job.scanned, timeout=WAIT_MS) as late:
        release.set()
    assert late.args[0] == 1 and dialog.job.generation == 2
    assert list(rows(dialog)) == ["HuggingFaceTB/SmolLM2-GGUF/smol"]
    assert dialog.status.text().startswith("1 model found")


def test_a_failing_scan_is_reported_in_words(qtbot) -> None:
    def scan() -> list[FoundModel]:
        raise OSError("the disk went away")

    dialog = opened(qtbot, ModelPickerDialog(None, scan=scan))
    assert dialog.status.text() == "Could not look for models: the disk went away"


def test_other_models_are_those_besides_the_default_that_open(smollm_path: Path) -> None:
    models = found(smollm_path)
    default, broken = models[3], models[2]
    assert not other_models([])
    assert not other_models([default])
    assert not other_models([default, broken])
    assert other_models([default, models[0]])
    assert other_models([models[1]])
    assert parameters_text(None) == "—" and parameters_text(7_241_732_096) == "7.2B"
    assert parameters_text(70_553_706_496) == "71B" and size_text(4_368_439_584) == "4.4 GB"


def test_the_real_scan_lists_a_model_in_the_hugging_face_cache(
        qtbot, qapp, tmp_path: Path, monkeypatch, smollm_path: Path, gemma_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    for variable in ("HF_HOME", "OLLAMA_MODELS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(discovery, "gemma_model_path", lambda: gemma_path)  # assembled once, elsewhere
    repo = tmp_path / "hub" / "models--HuggingFaceTB--SmolLM2-135M-Instruct-GGUF"
    blob = repo / "blobs" / "abc123"
    blob.parent.mkdir(parents=True)
    try:
        os.link(smollm_path, blob)
    except OSError:
        blob.write_bytes(smollm_path.read_bytes())
    link = repo / "snapshots" / "deadbeef" / "smollm2-135m-instruct-q4_1.gguf"
    link.parent.mkdir(parents=True)
    link.symlink_to(blob)  # as huggingface_hub lays it out
    mine = tmp_path / "data" / "synthscope" / "models"
    mine.mkdir(parents=True)
    (mine / "notes.gguf").write_text("not a model at all\n" * 20, encoding="utf-8")

    theme.apply(qapp)
    dialog = opened(qtbot, ModelPickerDialog(str(smollm_path)))
    name = "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-135m-instruct-q4_1"
    listed = rows(dialog)
    assert listed[name][1:] == ["Hugging Face", f"{smollm_path.stat().st_size / 1e6:,.0f} MB", "llama",
                                "135M", "Q4_1", "49,152", "8,192 word pieces"]
    assert dialog.table.item(row_of(dialog, name), 0).toolTip() == str(link)
    assert listed["notes"][1] == "Your models folder" and "Cannot be opened" in listed["notes"][3]
    assert listed[smollm_path.stem][0].startswith(model_picker.OPEN_NOW)
    assert other_models(dialog.found)
    assert str(tmp_path / "hub") in dialog.where.toolTip() and "Ollama" in dialog.where.toolTip()
    dialog.table.selectRow(row_of(dialog, name))
    with qtbot.waitSignal(dialog.chosen) as chosen:
        dialog.open_button.click()
    assert chosen.args == [str(link)]


