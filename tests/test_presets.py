"""Named sampler presets: the built-ins, the person's own, the preset row, and surviving a restart."""
from __future__ import annotations

import json
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from synthscope.sampling import BUILTIN_PRESETS, SamplerSettings, SettingsError  # noqa: E402
from synthscope.sampling.settings import ADDED_KEYS  # noqa: E402
from synthscope.sampling.presets import (  # noqa: E402
    CUSTOM,
    MAX_NAME_LENGTH,
    check_preset_name,
    preset_from_dict,
    preset_to_dict,
    user_preset,
    user_presets_from_json,
    user_presets_to_json,
)
from synthscope.ui.settings.controls import ControlsPanel  # noqa: E402
from synthscope.ui.settings.presets import SELECTED_KEY, USER_KEY, SaveResult  # noqa: E402

MINE = SamplerSettings(temperature=0.7, top_k=12, top_p=0.8, min_p=0.1, repeat_penalty=1.2)


def ini(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "synthscope.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def panel(qtbot) -> ControlsPanel:
    made = ControlsPanel()
    qtbot.addWidget(made)
    return made


def no_dialogs(panel: ControlsPanel) -> None:
    def fail(*_args: object) -> None:
        raise AssertionError("no dialog expected")
    panel.presets.ask_name = panel.presets.confirm = panel.presets.tell = fail


# -- the Qt-free part ---------------------------------------------------------------------------
def test_builtins_are_valid_distinct_and_explained() -> None:
    names = [p.name for p in BUILTIN_PRESETS]
    assert names == ["Precise", "Balanced", "Creative", "Wild"]
    assert len({p.settings for p in BUILTIN_PRESETS}) == len(BUILTIN_PRESETS)
    assert next(p for p in BUILTIN_PRESETS if p.name == "Balanced").settings == SamplerSettings()
    for preset in BUILTIN_PRESETS:
        assert preset.builtin
        assert SamplerSettings.from_dict(preset.settings.to_dict()) == preset.settings
        sentence = preset.description
        assert sentence.endswith(".") and sentence.count(". ") == 0 and len(sentence) < 100
    temperatures = [p.settings.temperature for p in BUILTIN_PRESETS]
    assert temperatures == sorted(temperatures)  # from careful to wild


def test_balanced_is_llama_cpps_own_defaults() -> None:
    """Balanced, the first view, is what llama-cpp-python samples with when asked for nothing else."""
    import inspect

    from llama_cpp import Llama

    completion = inspect.signature(Llama.create_completion).parameters
    balanced = next(p for p in BUILTIN_PRESETS if p.name == "Balanced").settings.to_dict()
    # llama-cpp-python's completions know only the classic chain; the later samplers (DRY, XTC, …)
    # are off at their llama.cpp defaults, which tests/test_sampling_newer_stages.py checks.
    later = ADDED_KEYS | {"samplers"}  # llama-cpp-python's chain has a fixed order
    assert set(balanced) - {"repeat_last_n"} - later <= set(completion)
    for key, value in balanced.items():
        if key == "repeat_last_n":  # a setting of the model, not of each completion
            assert value == inspect.signature(Llama.__init__).parameters["last_n_tokens_size"].default
        elif key not in later:
            assert value == completion[key].default, key


def test_a_first_start_shows_a_named_preset(qtbot, qapp, tmp_path) -> None:
    from window_helpers import loaded_window

    window = loaded_window(qtbot, qapp, store=ini(tmp_path))  # an empty settings file: a first start
    combo = window.parts.controls.presets.combo
    assert combo.currentText() == "Balanced" and window.parts.controls.presets.shown() is not None
    assert window.parts.controls.settings() == SamplerSettings()
    window.close()


@pytest.mark.parametrize(("name", "message"), [
    ("", "A preset needs a name."),
    ("   ", "A preset needs a name."),
    ("x" * (MAX_NAME_LENGTH + 1), f"at most {MAX_NAME_LENGTH} characters long; this one has 41."),
    ("wild", "“Wild” is a built-in preset; please choose another name."),
    (" PRECISE ", "“Precise” is a built-in preset"),
    ("custom", "“Custom” is what the list shows for settings that match no preset"),
    ("two\nlines", "cannot contain line breaks"),
])
def test_unusable_names_are_refused_in_plain_words(name: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        check_preset_name(name)


def test_names_are_trimmed_and_may_be_forty_characters() -> None:
    assert check_preset_name("  Workshop  ") == "Workshop"
    assert check_preset_name("é" * MAX_NAME_LENGTH) == "é" * MAX_NAME_LENGTH
    assert check_preset_name("Wilder") == "Wilder"


def test_a_user_preset_round_trips_through_a_dict_and_json() -> None:
    preset = user_preset("Workshop", MINE)
    assert not preset.builtin and "temperature 0.7" in preset.description
    assert "repeat penalty 1.2" in preset.description and "frequency" not in preset.description
    assert preset_from_dict(json.loads(json.dumps(preset_to_dict(preset)))) == preset
    assert user_presets_from_json(user_presets_to_json([preset, *BUILTIN_PRESETS])) == [preset]


@pytest.mark.parametrize("damaged", [
    None, 3, [], "Workshop",
    {"name": "Workshop"},
    {"name": "Workshop", "settings": {"temperature": 9.0}},
    {"name": "Workshop", "settings": {"warmth": 1.0}},
    {"name": "Workshop", "settings": {"top_k": 1.5}},
    {"name": "Workshop", "settings": {"top_k": True}},
    {"name": "Workshop", "settings": [1, 2]},
    {"name": "Workshop", "settings": {}, "colour": "red"},
    {"name": 7, "settings": {}},
    {"name": "Balanced", "settings": {}},
])
def test_damaged_presets_raise_settings_error(damaged: object) -> None:
    with pytest.raises(SettingsError):
        preset_from_dict(damaged)


@pytest.mark.parametrize("text", ["{not json", "[[[", '{"name": "x"}', "", 5, None, '"text"', "NaN"])
def test_an_unreadable_preset_list_gives_no_presets(text: object) -> None:
    assert user_presets_from_json(text) == []


# -- the preset row ----------------------------------------------------------------------------------
def test_the_row_lists_builtins_then_the_persons_own_with_tooltips(panel: ControlsPanel) -> None:
    panel.presets.save_preset("Workshop")
    combo = panel.presets.combo
    texts = [combo.itemText(i) for i in range(combo.count())]
    assert texts == ["Precise", "Balanced", "Creative", "Wild", "", "Workshop", CUSTOM]
    wild = combo.itemData(3, Qt.ItemDataRole.ToolTipRole)
    assert "<b>Wild</b>" in wild and "expect surprises and nonsense" in wild
    assert "Your own preset" in combo.itemData(5, Qt.ItemDataRole.ToolTipRole)
    custom = combo.model().item(combo.count() - 1)
    assert not custom.isEnabled() and combo.view().isRowHidden(combo.count() - 1)


def test_applying_a_preset_sets_every_slider_and_signals_once(qtbot, panel: ControlsPanel) -> None:
    for preset in BUILTIN_PRESETS:
        emitted: list[None] = []
        panel.settingsChanged.connect(lambda: emitted.append(None))
        assert panel.apply_preset(preset.name)
        panel.settingsChanged.disconnect()
        assert len(emitted) == 1
        assert panel.settings() == preset.settings
        for key, value in preset.settings.to_dict().items():
            if key not in panel.controls:  # the order, breakers, bans and grammar: not sliders
                assert panel.more.values[key] == value
                continue
            control = panel.controls[key]
            assert control.value() == value and control.slider.value() == control.to_position(value)
        assert panel.presets.combo.currentText() == preset.name
    assert not panel.apply_preset("No such preset")


def test_picking_from_the_list_applies_the_preset(qtbot, panel: ControlsPanel) -> None:
    combo = panel.presets.combo
    row = combo.findText("Creative")
    with qtbot.waitSignal(panel.settingsChanged):
        combo.activated.emit(row)
    assert panel.settings() == BUILTIN_PRESETS[2].settings
    assert combo.currentText() == "Creative" and "unexpected turns" in combo.toolTip()
    combo.activated.emit(combo.count() - 1)  # Custom itself applies nothing
    assert panel.settings() == BUILTIN_PRESETS[2].settings


def test_the_list_shows_custom_until_the_sliders_match_a_preset_again(panel: ControlsPanel) -> None:
    combo = panel.presets.combo
    assert combo.currentText() == "Balanced"  # the defaults are the Balanced preset
    panel.apply_preset("Precise")
    temperature = panel.controls["temperature"]
    temperature.slider.setValue(temperature.to_position(1.3))
    assert combo.currentText() == CUSTOM and panel.presets.shown() is None
    assert not panel.presets.delete_button.isEnabled()
    temperature.box.setValue(0.2)
    assert combo.currentText() == "Precise"
    panel.controls["top_k"].box.setValue(100)
    panel.controls["top_p"].box.setValue(0.95)
    panel.controls["temperature"].box.setValue(1.1)
    assert combo.currentText() == "Creative"  # values that match another preset show its name
    panel.reset()
    assert combo.currentText() == "Balanced"


def test_save_replace_and_delete_the_persons_presets(panel: ControlsPanel) -> None:
    no_dialogs(panel)
    presets = panel.presets
    panel.set_settings(MINE)
    assert presets.combo.currentText() == CUSTOM
    assert presets.save_preset("  Workshop ") is SaveResult.SAVED
    assert presets.combo.currentText() == "Workshop" and presets.delete_button.isEnabled()
    panel.set_settings(MINE.with_changes(temperature=1.5))
    assert presets.combo.currentText() == CUSTOM
    assert presets.save_preset("workshop") is SaveResult.EXISTS  # nothing changed yet
    assert presets.preset("Workshop").settings == MINE
    assert presets.save_preset("workshop", replace=True) is SaveResult.REPLACED
    assert [p.name for p in presets.user] == ["workshop"]
    assert presets.preset("Workshop").settings.temperature == 1.5
    assert presets.combo.currentText() == "workshop"
    with pytest.raises(SettingsError, match="built-in"):
        presets.save_preset("Wild")
    assert not presets.delete_preset("Wild") and not presets.delete_preset("Nothing")
    assert presets.delete_preset("WORKSHOP")
    assert presets.user == [] and presets.combo.currentText() == CUSTOM
    assert panel.settings().temperature == 1.5  # deleting a preset leaves the sliders alone


def test_a_saved_copy_of_a_builtin_is_shown_under_the_name_it_was_saved(panel: ControlsPanel) -> None:
    panel.presets.save_preset("Mine")  # the defaults, the same values as Balanced
    assert panel.presets.combo.currentText() == "Mine"
    panel.apply_preset("Balanced")
    assert panel.presets.combo.currentText() == "Balanced"


def test_the_save_dialog_asks_again_after_a_bad_name_and_asks_before_replacing(panel) -> None:
    presets = panel.presets
    panel.set_settings(MINE)
    presets.save_preset("Workshop")
    panel.set_settings(MINE.with_changes(top_k=3))
    answers = iter(["Wild", "Workshop", "Workshop"])
    asked: list[str] = []
    told: list[str] = []
    questions: list[str] = []
    presets.ask_name = lambda suggestion: asked.append(suggestion) or next(answers, None)
    presets.tell = told.append
    replies = iter([False, True])
    presets.confirm = lambda question: questions.append(question) or next(replies)
    presets.save_dialog()
    assert asked == ["", "Wild", "Workshop"]
    assert told == ["“Wild” is a built-in preset; please choose another name."]
    assert questions == ["You already have a preset called “Workshop”. Replace it with the current "
                         "settings?"] * 2
    assert presets.preset("Workshop").settings.top_k == 3
    presets.ask_name = lambda suggestion: None  # cancelled: nothing saved
    presets.save_dialog()
    assert len(presets.user) == 1


def test_the_delete_button_asks_first_and_only_deletes_the_persons_presets(panel) -> None:
    presets = panel.presets
    presets.save_preset("Workshop")
    presets.confirm = lambda question: False
    presets.delete_button.click()
    assert presets.preset("Workshop") is not None
    presets.confirm = lambda question: "Delete your preset “Workshop”?" in question
    presets.delete_button.click()
    assert presets.preset("Workshop") is None
    no_dialogs(panel)
    panel.apply_preset("Wild")
    assert not presets.delete_button.isEnabled()
    presets.delete_dialog()  # a built-in: nothing to ask, nothing deleted
    assert presets.preset("Wild") is not None


# -- surviving a restart -------------------------------------------------------------------------------
def test_settings_presets_and_the_choice_survive_a_restart(qtbot, tmp_path, panel) -> None:
    panel.restore(ini(tmp_path))  # a fresh file: defaults, no presets of the person's
    panel.set_settings(MINE)
    panel.presets.save_preset("Workshop ①")
    panel.set_settings(SamplerSettings(temperature=1.25, top_k=0))
    panel.presets.save_preset("Say \"hi\", then; go\\on = [x]")  # characters an ini file escapes
    panel.apply_preset("Workshop ①")
    panel.seed_box.setValue(4242)
    panel.max_tokens.setValue(99)
    panel.save(ini(tmp_path))
    del panel

    again = ControlsPanel()
    qtbot.addWidget(again)
    again.restore(ini(tmp_path))
    assert again.settings() == MINE and again.seed() == 4242 and again.max_tokens.value() == 99
    assert [p.name for p in again.presets.user] == ["Workshop ①", "Say \"hi\", then; go\\on = [x]"]
    assert again.presets.user[1].settings == SamplerSettings(temperature=1.25, top_k=0)
    assert again.presets.combo.currentText() == "Workshop ①"
    again.apply_preset("Say \"hi\", then; go\\on = [x]")
    again.save(ini(tmp_path))
    third = ControlsPanel()
    qtbot.addWidget(third)
    third.restore(ini(tmp_path))
    assert third.presets.combo.currentText() == "Say \"hi\", then; go\\on = [x]"


def test_saving_or_deleting_a_preset_is_written_at_once(qtbot, tmp_path, panel) -> None:
    panel.restore(ini(tmp_path))
    panel.presets.save_preset("Workshop")
    fresh = ControlsPanel()
    qtbot.addWidget(fresh)
    fresh.restore(ini(tmp_path))
    assert [p.name for p in fresh.presets.user] == ["Workshop"]
    assert ini(tmp_path).value(SELECTED_KEY) == "Workshop"
    panel.presets.delete_preset("Workshop")
    assert user_presets_from_json(ini(tmp_path).value(USER_KEY)) == []


def test_a_selected_preset_that_no_longer_matches_shows_custom(qtbot, tmp_path, panel) -> None:
    store = ini(tmp_path)
    panel.apply_preset("Wild")
    panel.save(store)
    store.setValue("sampler/temperature", 0.5)
    again = ControlsPanel()
    qtbot.addWidget(again)
    again.restore(ini(tmp_path))
    assert again.settings().temperature == 0.5 and again.presets.combo.currentText() == CUSTOM


@pytest.mark.parametrize("damaged", ["{broken json", "[1, 2", "42", '{"name": "x"}', ["a", "b"]])
def test_an_unreadable_preset_list_is_ignored_at_restore(qtbot, tmp_path, damaged: object) -> None:
    store = ini(tmp_path)
    store.setValue("sampler/temperature", 1.5)
    store.setValue(USER_KEY, damaged)
    store.setValue(SELECTED_KEY, "x")
    store.sync()
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    panel.restore(ini(tmp_path))
    assert panel.presets.user == [] and panel.settings().temperature == 1.5
    assert panel.presets.combo.currentText() == CUSTOM


def test_damaged_entries_are_left_out_and_valid_ones_kept(qtbot, tmp_path) -> None:
    good = preset_to_dict(user_preset("Good", MINE))
    entries = [
        {"name": "Hot", "settings": {"temperature": 99.0}},
        {"name": "Odd", "settings": {"warmth": 1}},
        "not a preset",
        good,
        {"name": "", "settings": {}},
        {"name": "Wild", "settings": {}},
        {"name": "good", "settings": {}},  # the same name again: the first one wins
        {"name": "Fine", "settings": {"top_k": 5}},
    ]
    store = ini(tmp_path)
    store.setValue(USER_KEY, json.dumps(entries))
    store.setValue(SELECTED_KEY, "Good")
    store.sync()
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    panel.restore(ini(tmp_path))
    assert [p.name for p in panel.presets.user] == ["Good", "Fine"]
    assert panel.presets.preset("Good").settings == MINE
    panel.apply_preset("Good")
    assert panel.settings() == MINE


def test_a_stored_value_with_more_decimals_than_shown_still_matches(qtbot, tmp_path) -> None:
    store = ini(tmp_path)
    store.setValue(USER_KEY, json.dumps([{"name": "Fine", "settings": {"temperature": 0.734}}]))
    store.sync()
    panel = ControlsPanel()
    qtbot.addWidget(panel)
    panel.restore(ini(tmp_path))
    panel.apply_preset("Fine")
    assert panel.settings().temperature == 0.73 and panel.presets.combo.currentText() == "Fine"


# -- generating with a preset, on the real model --------------------------------------------------
@pytest.mark.parametrize("name, other", [("Precise", "Wild"), ("Wild", "Precise")])
def test_generating_with_a_preset_samples_every_token_with_its_settings(qtbot, qapp, name: str,
                                                                         other: str) -> None:
    from synthscope.sampling import Dice, run_chain
    from synthscope.sampling.presets import builtin_preset
    from window_helpers import WAIT_MS, loaded_window, worker_generator

    window = loaded_window(qtbot, qapp, seed=9)
    preset, rival = builtin_preset(name), builtin_preset(other)
    assert preset is not None and rival is not None
    assert window.parts.controls.apply_preset(name)
    window.parts.controls.max_tokens.setValue(16)
    window.parts.controls.ignore_end.setChecked(True)
    window.run.generate()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)
    steps = window.doc.mirror.steps
    assert len(steps) == 16 and all(step.settings == preset.settings for step in steps)
    gen = worker_generator(window)
    dice, differs = Dice(9), 0
    for index, step in enumerate(steps):  # the sampler, given the preset and the run's own dice
        logits, history = gen.raw_logits(index), gen.history(index)
        assert run_chain(logits, preset.settings, history, dice.u(index)).token_id == step.token_id
        differs += run_chain(logits, rival.settings, history, dice.u(index)).token_id != step.token_id
    assert differs > 0  # the other preset would have written another text: the preset mattered
    assert window.parts.controls.presets.shown().name == name
    window.close()
