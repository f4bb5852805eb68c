"""Other ways to open a model: File → Recent models, and a .gguf file dropped on the window."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from synthscope.ui.window.main_window import MainWindow  # noqa: E402
from synthscope.ui.models.sources import RECENT_LIMIT, RecentModels  # noqa: E402
from window_helpers import WAIT_MS, loaded_window  # noqa: E402



def drop(widget, mime: QMimeData) -> bool:
    """Drag `mime` onto `widget` and drop it; returns whether the drop was accepted."""
    where = QPointF(widget.width() / 2, widget.height() / 2)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(where.toPoint(), actions, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(where, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def files(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


@pytest.fixture
def store(tmp_path: Path):
    from PySide6.QtCore import QSettings
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_a_dropped_gguf_opens_through_the_probe_and_text_still_drops_as_text(
        qtbot, qapp, store, smollm_path: Path, tmp_path: Path) -> None:
    window = loaded_window(qtbot, qapp, store)
    copy = tmp_path / "dropped-copy.gguf"
    shutil.copyfile(smollm_path, copy)
    assert drop(window.parts.editor.viewport(), files(copy))  # onto the text: the model, not its path
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == copy, timeout=WAIT_MS)
    assert str(copy) not in window.parts.editor.toPlainText()
    # A file that is not a model is left to the widget; plain text still drops as text.
    other = tmp_path / "notes.txt"
    other.write_text("hello", encoding="utf-8")
    assert not drop(window, files(other))
    assert window.doc.chatting  # the instruct model opened in chat mode, where the text is read-only
    window.chat.set_mode(False)  # continuing raw text: the text takes drops
    before = window.parts.editor.toPlainText()
    text = QMimeData()
    text.setText(" and more")
    assert drop(window.parts.editor.viewport(), text)
    after = window.parts.editor.toPlainText()
    assert " and more" in after and len(after) == len(before) + len(" and more")
    assert window.doc.model.path == copy and window.doc.state == "idle"
    window.close()


def test_recent_models_are_remembered_newest_first_and_open_again(
        qtbot, qapp, store, smollm_path: Path, gemma_path: Path) -> None:
    window = loaded_window(qtbot, qapp, store)
    window.models.open_model_file(str(gemma_path))
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == gemma_path, timeout=WAIT_MS)
    assert window.parts.recent.paths[:2] == [str(gemma_path), str(smollm_path)]
    titles = [a.text() for a in window.parts.recent.menu.actions()]
    assert titles[:2] == [gemma_path.name, smollm_path.name]
    window.parts.recent.menu.actions()[1].trigger()  # SmolLM2 again, from the menu
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == smollm_path, timeout=WAIT_MS)
    window.close()
    again = MainWindow(store)
    qtbot.addWidget(again)
    assert again.parts.recent.paths[:2] == [str(smollm_path), str(gemma_path)]
    again.close()


def test_recent_list_is_bounded_and_greys_missing_files(tmp_path: Path, store) -> None:
    recent = RecentModels(store)
    for i in range(RECENT_LIMIT + 3):
        path = tmp_path / f"m{i}.gguf"
        path.write_bytes(b"GGUF")
        recent.add(path)
    recent.add(tmp_path / "m4.gguf")  # opened again: moves to the top, no duplicate
    assert len(recent.paths) == RECENT_LIMIT and recent.paths[0].endswith("m4.gguf")
    assert len(set(recent.paths)) == RECENT_LIMIT
    (tmp_path / "m4.gguf").unlink()
    reread = RecentModels(store)
    assert reread.paths == recent.paths
    assert not reread.menu.actions()[0].isEnabled() and reread.menu.actions()[1].isEnabled()


def test_model_information_shows_facts_licence_and_template(qtbot, qapp, store, gemma_path: Path) -> None:
    window = loaded_window(qtbot, qapp, store)
    assert window.commands.model_info.isEnabled()
    window.commands.model_info.trigger()
    dialog = window.models.info_dialog
    facts = window.doc.model.facts
    assert dialog.values["Licence"].text() == "apache-2.0"
    assert dialog.values["Vocabulary"].text() == "49,152 word pieces"
    assert f"{window.doc.model.n_ctx:,} in use" in dialog.values["Context length"].text()
    assert dialog.template.toPlainText() == facts.chat_template
    engine = window.handle.worker.generator.engine
    assert facts.chat_template == engine.chat_template()  # the header walker reads what llama.cpp reads
    dialog.close()
    window.models.open_model_file(str(gemma_path))
    assert not window.commands.model_info.isEnabled()  # nothing to describe while loading
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == gemma_path, timeout=WAIT_MS)
    window.models.show_model_info()
    assert "no chat template" in window.models.info_dialog.template.toPlainText()
    assert window.models.info_dialog.values["Vocabulary"].text() == "262,144 word pieces"
    window.models.info_dialog.close()
    window.close()


def test_a_session_whose_model_moved_finds_it_again_where_the_person_shows(
        qtbot, qapp, store, smollm_path: Path, tmp_path: Path, monkeypatch) -> None:
    import json

    from PySide6.QtWidgets import QFileDialog, QMessageBox

    old = tmp_path / "old-place" / "SmolLM2.gguf"
    old.parent.mkdir()
    shutil.copyfile(smollm_path, old)
    window = loaded_window(qtbot, qapp, store, seed=5)
    window.chat.set_mode(False)
    window.models.load_model(old, probe=False)
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == old, timeout=WAIT_MS)
    window.chat.set_mode(False)
    window.parts.controls.max_tokens.setValue(10)
    window.run.generate()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)
    written = [step.token_id for step in window.doc.mirror.steps]
    session = tmp_path / "session.json"
    window.handle.save(str(session), window.sessions.snapshot())
    qtbot.waitUntil(session.is_file, timeout=WAIT_MS)
    assert json.loads(session.read_text(encoding="utf-8"))["model"]["path"] == str(old)
    window.close()

    moved = tmp_path / "new-place" / "renamed.gguf"
    moved.parent.mkdir()
    old.rename(moved)
    asked: list[str] = []
    # The real question and file dialog of Sessions, answered as a person would.
    monkeypatch.setattr(QMessageBox, "question", lambda _parent, _title, text, *_a: (
        asked.append(text) or QMessageBox.StandardButton.Yes))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *_a, **_k: (str(moved), ""))
    again = MainWindow(store)  # a fresh start with no model yet: the default one would match by content
    qtbot.addWidget(again)
    again.show()
    assert again.doc.model is None
    assert again.sessions.open_session(str(session))
    assert len(asked) == 1 and str(old) in asked[0] and "no longer" in asked[0]
    qtbot.waitUntil(lambda: again.doc.state == "idle" and again.doc.model is not None
                    and again.doc.model.path == moved and len(again.doc.mirror) == len(written),
                    timeout=WAIT_MS)
    assert [step.token_id for step in again.doc.mirror.steps] == written
    assert again.parts.editor.generated_text() == "".join(step.text for step in again.doc.mirror.steps)
    again.close()
