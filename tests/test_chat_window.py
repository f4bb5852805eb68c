"""Chat mode in the real window with the real model: the template, role labels, the end of a turn,
several turns, prompts that fit the mode, stop sequences, and switching models while it writes."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from synthscope.engine import EngineConfig, default_model_path
from synthscope.engine.baseline import bare_llama
from synthscope.sampling import SamplerSettings
from synthscope.ui.window.main_window import MainWindow
from synthscope.ui.steps.text_view import END_MARK, ROLE_NAMES, chat_end_mark
from window_helpers import WAIT_MS, loaded_window, machine_choice, worker_generator

STORY = "Tell me a long story about a fruit."  # long: the reply is cut by Max tokens, not ended


@pytest.fixture
def window(qtbot, qapp) -> Iterator[MainWindow]:
    win = loaded_window(qtbot, qapp, seed=11, chat=True)
    win.parts.controls.set_settings(SamplerSettings(temperature=0.0))
    yield win
    win.close()


@pytest.fixture(scope="module")
def template_prompt(engine_config: EngineConfig):
    """llama-cpp-python's own rendering of the default model's template: what chat mode must send."""
    llm = bare_llama(default_model_path(), engine_config, n_ctx=256)
    formatter = Jinja2ChatFormatter(llm.metadata["tokenizer.chat_template"],
                                    llm._model.token_get_text(llm.token_eos()),
                                    llm._model.token_get_text(llm.token_bos()), add_generation_prompt=True)
    llm.close()
    return lambda messages: formatter(messages=messages).prompt


def send(qtbot, window: MainWindow, message: str) -> None:
    window.parts.chat_input.set_message(message)
    window.parts.chat_input.send_button.click()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)


def menu_titles(window: MainWindow, title: str) -> list[str]:
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == title)
    menu.aboutToShow.emit()
    return [a.text() for a in menu.actions()]



def test_the_hint_before_a_reply_names_the_button_the_mode_has(window: MainWindow) -> None:
    hint = window.parts.inspector.header.label.text
    assert window.commands.generate.text().endswith("Send")
    assert "Press <b>Send</b> or <b>Step</b>" in hint()
    window.chat.set_mode(False)
    assert "Press <b>Generate</b> or <b>Step</b>" in hint()
    assert window.commands.generate.text().endswith("Generate")

def test_a_reply_uses_the_models_template_and_shows_roles_not_markup(
        qtbot, window: MainWindow, template_prompt) -> None:
    assert window.commands.generate.text().endswith("Send")  # the toolbar names what it does here
    window.parts.chat_input.set_system_text("Answer in one short sentence.")
    window.parts.controls.max_tokens.setValue(200)
    send(qtbot, window, "What is the capital of France?")
    record = worker_generator(window).record
    assert record.prompt == template_prompt([
        {"role": "system", "content": "Answer in one short sentence."},
        {"role": "user", "content": "What is the capital of France?"}])
    shown = window.parts.editor.toPlainText()
    assert "<|im_start|>" not in shown and "<|im_end|>" not in shown
    for role in ("system", "user", "assistant"):
        assert ROLE_NAMES[role].upper() in shown.upper()
    last = record.steps[-1]
    assert worker_generator(window).is_end(last)  # the template's end of turn ends the reply
    assert shown.endswith(chat_end_mark(last.trace.chosen_p_raw))
    assert "(its chance: " in shown and "Paris" in window.chat.reply_text()
    assert window.parts.chat_input.message_text() == ""  # sent
    window.steps.select_step(len(record.steps) - 1)  # the end of turn is named in words in every panel
    panels = [window.parts.header.label.text(), window.parts.header.why.text(), window.parts.dice.explanation.text(),
              " ".join(row.label for row in window.parts.distribution.rows)]
    assert all("⬣ stop here" in text and "im_end" not in text for text in panels), panels
    assert "finished its reply" in window.statusBar().currentMessage()


def test_later_turns_keep_the_earlier_ones_in_the_context(qtbot, window: MainWindow, template_prompt) -> None:
    window.parts.controls.max_tokens.setValue(12)
    send(qtbot, window, STORY)
    first_reply = window.chat.reply_text()
    assert first_reply and len(window.doc.mirror) == 12  # cut off by Max tokens
    send(qtbot, window, "")  # an empty box goes on with the reply
    assert len(window.doc.mirror) > 12 and window.chat.reply_text().startswith(first_reply)
    first_reply = window.chat.reply_text()
    send(qtbot, window, "And a vegetable?")
    record = worker_generator(window).record
    assert record.prompt == template_prompt([
        {"role": "user", "content": STORY}, {"role": "assistant", "content": first_reply},
        {"role": "user", "content": "And a vegetable?"}])
    shown = window.parts.editor.toPlainText()
    assert shown.index(STORY) < shown.index(first_reply) < shown.index("And a vegetable?")
    window.run.clear()  # New chat
    assert not window.chat.conversation.started and len(window.doc.mirror) == 0
    assert STORY not in window.parts.editor.toPlainText()


def test_prompts_fit_the_mode_and_each_mode_keeps_its_own_text(qtbot, window: MainWindow) -> None:
    chat_titles = menu_titles(window, "&Prompts")
    assert "Why is the sky blue?" in chat_titles and "Story" not in chat_titles
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Prompts")
    next(a for a in menu.actions() if a.text() == "Why is the sky blue?").trigger()
    assert window.parts.chat_input.message_text() == "Why is the sky blue?" and len(window.doc.mirror) == 0
    window.chat.set_mode(False)
    assert not window.parts.chat_input.isVisible() and not window.parts.editor.isReadOnly()
    assert "Story" in menu_titles(window, "&Prompts")
    window.parts.editor.set_prompt("A raw text of my own")
    window.chat.set_mode(True)
    assert window.parts.editor.isReadOnly() and window.parts.chat_input.isVisible()
    window.chat.set_mode(False)
    assert window.parts.editor.toPlainText() == "A raw text of my own"


def test_a_stop_sequence_ends_the_run_with_a_word_why(qtbot, qapp) -> None:
    window = loaded_window(qtbot, qapp, seed=5)  # raw text
    window.parts.controls.set_settings(SamplerSettings(temperature=0.0))
    window.parts.editor.set_prompt("My favourite fruits are apples, bananas,")
    window.parts.stops.entry.setText(".")
    window.parts.stops.add_typed()
    window.parts.stops.entry.setText("\\n")  # typed as backslash n: a new line
    window.parts.stops.add_typed()
    assert window.parts.stops.stops() == (".", "\n")
    window.parts.controls.ignore_end.setChecked(True)
    window.run.generate()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)
    record = worker_generator(window).record
    assert len(record.steps) < window.parts.controls.max_tokens.value()
    assert "." in record.steps[-1].text or "\n" in record.steps[-1].text
    assert record.stop_sequences == [".", "\n"]
    assert "a stop sequence" in window.statusBar().currentMessage()
    window.close()


def test_chat_is_refused_for_a_base_model_and_raw_is_its_default(
        qtbot, window: MainWindow, gemma_path) -> None:
    window.models.open_model_file(str(gemma_path))
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == gemma_path, timeout=WAIT_MS)
    assert not window.doc.chatting and not window.parts.chat_input.isVisible()
    window.chat.set_mode(True)
    assert not window.doc.chatting and "no chat template" in window.parts.banner.text.text()
    window.models.open_model_file(str(default_model_path()))  # an instruct model again: its chat is back
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == default_model_path(), timeout=WAIT_MS)
    assert window.doc.chatting


def test_switching_models_while_writing_stops_the_run_first(qtbot, window: MainWindow, gemma_path) -> None:
    window.chat.set_mode(False)
    window.parts.controls.max_tokens.setValue(2000)
    window.parts.controls.ignore_end.setChecked(True)
    window.run.generate()
    qtbot.waitUntil(lambda: len(window.doc.mirror) >= 3, timeout=WAIT_MS)
    assert window.doc.state == "running" and window.commands.open_model.isEnabled()
    window.models.open_model_file(str(gemma_path))
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.model is not None
                    and window.doc.model.path == gemma_path, timeout=WAIT_MS)
    assert window.parts.editor.toPlainText().startswith("Once upon a time")  # the text is kept for the new model
    assert END_MARK not in window.parts.editor.toPlainText()


def test_stop_sequences_and_the_instructions_survive_a_restart(qtbot, tmp_path) -> None:
    from PySide6.QtCore import QSettings

    path = str(tmp_path / "settings.ini")
    first = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(first)
    first.parts.stops.set_stops([".", "\n"])
    first.parts.chat_input.set_system_text("Answer like a pirate.")
    first.parts.controls.apply_preset("Wild")
    first.close()
    again = MainWindow(QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    assert again.parts.stops.stops() == (".", "\n")
    assert again.parts.chat_input.system_text() == "Answer like a pirate."
    assert again.parts.controls.presets.shown().name == "Wild"
    again.close()


def test_the_first_start_opens_ready_and_notes_the_other_models_once(qtbot, tmp_path, gemma_path) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QDialog

    from synthscope.ui.app import open_window

    machine_choice()  # the first check of this machine is not part of the wait for the window
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = open_window(None, store)
    qtbot.addWidget(win)
    note = win.parts.models_note
    qtbot.waitUntil(note.isVisible, timeout=WAIT_MS)  # Gemma 3 is installed beside the default model
    assert any(model.path == str(gemma_path) for model in note.others)
    assert "gemma" in note.text.text().lower() and "nothing else is opened" in note.text.text()
    qtbot.waitUntil(lambda: win.doc.state == "idle", timeout=WAIT_MS)
    # Ready on the default model with a sample question, and no dialog in the way.
    assert win.doc.model is not None and win.doc.chatting and win.parts.chat_input.message_text().strip()
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, QDialog) and w.isVisible()]
    note.see_button.click()  # "See them…" opens the picker and puts the note away
    assert win.models.models_dialog.isVisible() and not note.isVisible()
    win.models.models_dialog.close()
    win.close()
    again = open_window(None, store)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.doc.state == "idle", timeout=WAIT_MS)
    assert again.parts.models_note.job is None and not again.parts.models_note.isVisible()
    again.close()
