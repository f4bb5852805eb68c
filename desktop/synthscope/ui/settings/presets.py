"""The preset row of the sampler panel: pick a named preset, save the sliders as one, delete one."""
from __future__ import annotations

import html
from collections.abc import Callable
from enum import Enum

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from synthscope.sampling import BUILTIN_PRESETS, Preset, SamplerSettings, SettingsError
from synthscope.sampling.presets import (
    CUSTOM,
    MAX_NAME_LENGTH,
    find_preset,
    user_preset,
    user_presets_from_json,
    user_presets_to_json,
)
from synthscope.ui import theme

USER_KEY = "presets/user"
SELECTED_KEY = "presets/selected"
CUSTOM_TIP = f"<b>{CUSTOM}</b><br>Your own mix: these settings match no preset."


class SaveResult(Enum):
    SAVED = "saved"
    REPLACED = "replaced"
    EXISTS = "exists"  # one of the person's presets has this name: ask, then save with replace=True


def tooltip(preset: Preset) -> str:
    return f"<b>{html.escape(preset.name)}</b><br>{html.escape(preset.description)}"


class PresetPicker(QWidget):
    """A list of presets that follows the sliders ("Custom" when none matches), with save and delete."""

    chosen = Signal(object)  # a Preset the person picked: its settings are to be applied

    def __init__(self, current: Callable[[], SamplerSettings],
                 as_shown: Callable[[SamplerSettings], SamplerSettings] = lambda s: s,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.current = current
        # A saved value with more decimals than its number box shows must still match after applying.
        self.as_shown = as_shown
        self.store: QSettings | None = None  # when set, saving or deleting a preset is written at once
        self.user: list[Preset] = []
        self.selected = ""  # the preset last picked or saved: shown first when several match
        # The dialogs, replaceable so that tests need no modal window.
        self.ask_name: Callable[[str], str | None] = self._ask_name
        self.confirm: Callable[[str], bool] = self._confirm
        self.tell: Callable[[str], None] = self._tell

        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(8)  # a long name of the person's must not widen the panel
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.combo.setAccessibleName("Preset")
        self.combo.activated.connect(self._activated)
        self.save_button = QPushButton("Save as preset…")
        self.save_button.setToolTip("Keep the current sampler settings under a name of your own.")
        self.save_button.clicked.connect(self.save_dialog)
        self.delete_button = QPushButton("Delete preset")
        self.delete_button.setToolTip("Remove the preset of yours shown in the list. "
                                      "The built-in presets cannot be deleted.")
        self.delete_button.clicked.connect(self.delete_dialog)
        label = QLabel("Preset")
        label.setFont(theme.font(theme.BASE_POINT_SIZE, bold=True))
        label.setToolTip("Named sets of sampler settings. Pick one to move every slider at once.")

        top = theme.row(label, (self.combo, 1))
        buttons = theme.row(self.save_button, self.delete_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addLayout(buttons)
        self._rebuild()

    # -- what there is and what is shown ------------------------------------------------------
    def presets(self) -> list[Preset]:
        return [*BUILTIN_PRESETS, *self.user]

    def preset(self, name: str) -> Preset | None:
        return find_preset(self.presets(), name)

    def matching(self, settings: SamplerSettings) -> Preset | None:
        """The preset these settings are, preferring the one last picked; None means Custom."""
        matches = [p for p in self.presets() if self.as_shown(p.settings) == settings]
        return next((p for p in matches if p.name == self.selected), matches[0] if matches else None)

    def shown(self) -> Preset | None:
        """The preset the list shows; None while it shows Custom."""
        name = self.combo.currentData()
        return self.preset(str(name)) if name else None

    def follow(self, settings: SamplerSettings) -> None:
        """Show the preset the sliders now match, or Custom."""
        match = self.matching(settings)
        row = self.combo.findData(match.name) if match is not None else self.combo.count() - 1
        self.combo.setCurrentIndex(row)
        self.combo.setToolTip(tooltip(match) if match is not None else CUSTOM_TIP)
        self.delete_button.setEnabled(match is not None and not match.builtin)

    def _rebuild(self) -> None:
        self.combo.clear()
        for preset in BUILTIN_PRESETS:
            self._add(preset)
        if self.user:
            self.combo.insertSeparator(self.combo.count())
        for preset in self.user:
            self._add(preset)
        # Custom is only ever shown, never picked: disabled, and hidden from the open list.
        self.combo.addItem(CUSTOM, None)
        row = self.combo.count() - 1
        self.combo.setItemData(row, CUSTOM_TIP, Qt.ItemDataRole.ToolTipRole)
        model = self.combo.model()
        assert isinstance(model, QStandardItemModel)
        item = model.item(row)
        item.setEnabled(False)
        item.setSelectable(False)
        self.combo.view().setRowHidden(row, True)
        self.follow(self.current())

    def _add(self, preset: Preset) -> None:
        self.combo.addItem(preset.name, preset.name)
        self.combo.setItemData(self.combo.count() - 1, tooltip(preset), Qt.ItemDataRole.ToolTipRole)

    # -- picking, saving, deleting --------------------------------------------------------------
    def choose(self, name: str) -> bool:
        """Pick the preset called `name`: `chosen` asks for its settings to be applied."""
        preset = self.preset(name)
        if preset is None:
            return False
        self.selected = preset.name
        self.chosen.emit(preset)
        self.follow(self.current())
        return True

    def _activated(self, row: int) -> None:
        name = self.combo.itemData(row)
        if name:
            self.choose(str(name))

    def save_preset(self, name: str, replace: bool = False) -> SaveResult:
        """Save the current settings as the person's preset `name`; SettingsError if the name cannot be
        used. An existing name is only overwritten with replace=True (else EXISTS, and nothing changes)."""
        preset = user_preset(name, self.current())
        existing = find_preset(self.user, preset.name)
        if existing is not None and not replace:
            return SaveResult.EXISTS
        if existing is not None:
            self.user[self.user.index(existing)] = preset
        else:
            self.user.append(preset)
        self.selected = preset.name
        self._changed()
        return SaveResult.REPLACED if existing is not None else SaveResult.SAVED

    def delete_preset(self, name: str) -> bool:
        """Delete the person's preset `name`; built-in presets and unknown names are left alone."""
        preset = find_preset(self.user, name)
        if preset is None:
            return False
        self.user.remove(preset)
        if self.selected == preset.name:
            self.selected = ""
        self._changed()
        return True

    def _changed(self) -> None:
        self._rebuild()
        if self.store is not None:
            self.save(self.store)

    def save_dialog(self) -> None:
        shown = self.shown()
        suggestion = shown.name if shown is not None and not shown.builtin else ""
        while (name := self.ask_name(suggestion)) is not None:
            suggestion = name
            try:
                result = self.save_preset(name)
            except SettingsError as error:
                self.tell(str(error))
                continue
            if result is not SaveResult.EXISTS:
                return
            existing = find_preset(self.user, name)
            assert existing is not None
            if self.confirm(f"You already have a preset called “{existing.name}”. "
                            "Replace it with the current settings?"):
                self.save_preset(name, replace=True)
                return

    def delete_dialog(self) -> None:
        shown = self.shown()
        if shown is None or shown.builtin:
            return
        if self.confirm(f"Delete your preset “{shown.name}”? The sliders keep their values."):
            self.delete_preset(shown.name)

    def _ask_name(self, suggestion: str) -> str | None:
        name, ok = QInputDialog.getText(self, "Save as preset",
                                        f"A name for the current settings (at most {MAX_NAME_LENGTH} "
                                        "characters):", text=suggestion)
        return name if ok else None

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(self, "Presets", question)
        return answer == QMessageBox.StandardButton.Yes

    def _tell(self, message: str) -> None:
        QMessageBox.information(self, "Presets", message)

    # -- remembering ------------------------------------------------------------------------------
    def save(self, store: QSettings) -> None:
        # JSON text, so that an ini file and a macOS property list give back exactly what was saved.
        store.setValue(USER_KEY, user_presets_to_json(self.user))
        shown = self.shown()
        store.setValue(SELECTED_KEY, shown.name if shown is not None else "")

    def restore(self, store: QSettings) -> None:
        """Read the person's presets back; damaged entries are left out, the rest kept."""
        self.store = store
        self.user = user_presets_from_json(store.value(USER_KEY))
        selected = store.value(SELECTED_KEY, "")
        self.selected = selected if isinstance(selected, str) else ""
        self._rebuild()
