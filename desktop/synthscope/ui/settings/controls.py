"""Sampler controls generated from SPECS: a slider with exact numeric entry per setting, seed, length."""
from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from synthscope.sampling import SPECS, SamplerSettings, SettingSpec, new_seed
from synthscope.sampling.specs import SWITCHES
from synthscope.sampling.dice import MAX_SEED
from synthscope.ui import theme
from synthscope.ui.settings.more_samplers import MoreSamplers
from synthscope.ui.settings.setting_words import (ENDS, LENGTH_HELP, LENGTH_LABEL, SEED_HELP, SEED_SUBTITLE,
                                                  plain_effect, tag_for)
from synthscope.ui.settings.presets import PresetPicker
from synthscope.ui.wording import JARGON

SLIDER_STEPS = 1000
# Settings whose useful values crowd near the bottom of their range get a curved slider.
CURVES = {"temperature": 2.0, "top_k": 2.5, "repeat_last_n": 2.5, "dry_penalty_last_n": 2.5}
DECIMALS = {"min_p": 3, "typical_p": 3, "top_p": 3}
SECTIONS = {"temperature": "How bold", "top_k": "Which words may be picked", "repeat_penalty": "Repetition",
            "top_n_sigma": "More samplers", "mirostat": "Samplers that pick by themselves"}
DEFAULT_MAX_TOKENS = 60
SIMPLE_KEYS = ("temperature", "top_p")  # what the simple view shows; the rest is one click away
class SettingControl(QWidget):
    """One setting: label and state tag, exact number box, and a slider below them."""

    changed = Signal(str, object)

    def __init__(self, spec: SettingSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.curve = CURVES.get(spec.key, 1.0)
        self.label = QLabel(spec.label)
        self.label.setFont(theme.font(theme.BASE_POINT_SIZE, bold=True))
        self.tag = QLabel()
        self.tag.setObjectName("hint")
        # Wrapping, "off (0 = no change)" beside a long name fits the column instead of widening it.
        self.tag.setWordWrap(True)
        if spec.kind is int:
            self.box: QSpinBox | QDoubleSpinBox = QSpinBox()
        else:
            self.box = QDoubleSpinBox()
            self.box.setDecimals(DECIMALS.get(spec.key, 2))
            self.box.setSingleStep(0.05 if spec.maximum - spec.minimum <= 5 else 0.1)
        self.box.setRange(spec.kind(spec.minimum), spec.kind(spec.maximum))
        self.box.setKeyboardTracking(False)  # typing "0.75" must not apply 0, 0.7 on the way
        self.box.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.box.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.UpDownArrows)
        self.box.setMinimumWidth(92)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setPageStep(SLIDER_STEPS // 20)
        for widget in (self, self.label, self.box, self.slider):
            widget.setToolTip(f"<b>{spec.label}</b><br>{spec.help}")
        self.label.setAccessibleName(spec.label)
        self.slider.setAccessibleName(spec.label)
        self.box.setAccessibleName(spec.label)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.label)
        top.addWidget(self.tag, 1)
        top.addWidget(self.box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.slider)
        self.ends = [QLabel(text) for text in ENDS.get(spec.key, ())]
        for end in self.ends:
            end.setObjectName("hint")
            end.setFont(theme.font(theme.BASE_POINT_SIZE - 2))
            end.setToolTip(f"<b>{spec.label}</b><br>{spec.help}")
        if self.ends:
            layout.addLayout(theme.row(self.ends[0], (QWidget(), 1), self.ends[1]))
        self.slider.valueChanged.connect(self._slider_moved)
        self.box.valueChanged.connect(self._box_changed)
        self.set_value(spec.default, emit=False)

    def value(self) -> float | int:
        return self.spec.kind(self.box.value())

    def as_shown(self, value: float | int) -> float | int:
        """`value` as the number box would hold it (rounded to its decimals)."""
        if isinstance(self.box, QDoubleSpinBox):
            return self.spec.kind(round(value, self.box.decimals()))
        return self.spec.kind(value)

    def _set_box(self, value: float) -> None:
        self.box.blockSignals(True)
        self.box.setValue(self.spec.kind(value))
        self.box.blockSignals(False)

    def set_value(self, value: float | int, emit: bool = True) -> None:
        self._set_box(value)
        self._sync_slider()
        self._sync_tag()
        if emit:
            self.changed.emit(self.spec.key, self.value())

    def to_position(self, value: float) -> int:
        span = self.spec.maximum - self.spec.minimum
        share = min(max((value - self.spec.minimum) / span, 0.0), 1.0)
        return round(share ** (1.0 / self.curve) * SLIDER_STEPS)

    def from_position(self, position: int) -> float | int:
        span = self.spec.maximum - self.spec.minimum
        value = self.spec.minimum + span * (position / SLIDER_STEPS) ** self.curve
        if isinstance(self.box, QSpinBox):
            return int(round(value))
        return round(value, self.box.decimals())

    def _slider_moved(self, position: int) -> None:
        value = self.from_position(position)
        if value == self.value():
            return
        self._set_box(value)
        self._sync_tag()
        self.changed.emit(self.spec.key, self.value())

    def _box_changed(self, _value: float) -> None:
        self._sync_slider()
        self._sync_tag()
        self.changed.emit(self.spec.key, self.value())

    def _sync_slider(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(self.to_position(self.box.value()))
        self.slider.blockSignals(False)

    def _sync_tag(self) -> None:
        self.tag.setText(tag_for(self.spec, self.value()))


class ControlsPanel(QFrame):
    """Every sampler knob, named presets, the seed and the length; `settingsChanged` fires on any
    sampler change (once when a preset is applied)."""

    settingsChanged = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.more = MoreSamplers()  # before anything asks for settings()
        # Presentation mode's one line of what every sampler did at the step on show (under the two
        # sliders it keeps, so a cut made by a hidden sampler is never out of sight).
        self.at_work = QLabel()
        self.at_work.setWordWrap(True)
        self.at_work.setObjectName("atWork")
        self.at_work.hide()
        self.controls = {spec.key: SettingControl(spec) for spec in SPECS}
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setToolTip("Put every sampler setting back to llama.cpp's defaults.")
        self.reset_button.clicked.connect(self.reset)
        layout, _ = theme.panel(self, "Sampler settings", self.reset_button)
        layout.setSpacing(4)
        self.presets = PresetPicker(self.settings, self._as_shown)
        self.presets.chosen.connect(lambda preset: self.set_settings(preset.settings))
        layout.addWidget(self.presets)
        self.show_all = QCheckBox("Show all settings")
        self.show_all.setToolTip("Off: only temperature and top-p, the two that matter most. On: every "
                                 "sampler, and the Performance section (how llama.cpp runs on this "
                                 "computer). Hidden settings keep working with the values they have.")
        self.hidden_note = QLabel()
        self.hidden_note.setObjectName("hint")
        self.hidden_note.setWordWrap(True)
        layout.addWidget(self.show_all)
        layout.addWidget(self.hidden_note)
        self.sections: dict[str, QLabel] = {}
        for spec in SPECS:
            if spec.key in SECTIONS:
                self.sections[spec.key] = self._section(SECTIONS[spec.key])
                layout.addWidget(self.sections[spec.key])
            layout.addWidget(self.controls[spec.key])
            self.controls[spec.key].changed.connect(self._changed)
            if spec.key == "top_p":
                layout.addWidget(self.at_work)
        self.more.changed.connect(lambda: self._changed("", None))
        self.more.default_chain.clicked.connect(self.reset)
        self.more_section = self._section("Order, breakers, bans and grammar")
        layout.addWidget(self.more_section)
        layout.addWidget(self.more)
        self.show_all.toggled.connect(self._show_all)
        self._show_all(False)  # a first start shows the simple view
        layout.addWidget(self._section("Dice and length"))
        layout.addLayout(self._run_controls())
        layout.addStretch(1)

    def _section(self, text: str) -> QLabel:
        label = QLabel(text.upper())
        label.setObjectName("hint")
        label.setFont(theme.font(theme.BASE_POINT_SIZE - 2, bold=True))
        label.setContentsMargins(0, 8, 0, 0)
        return label

    def _run_controls(self) -> QGridLayout:
        self.seed_box = QDoubleSpinBox()  # a double holds every 32-bit seed exactly; QSpinBox cannot
        self.seed_box.setDecimals(0)
        self.seed_box.setRange(0, MAX_SEED)
        self.seed_box.setValue(1234)
        self.seed_box.setKeyboardTracking(False)
        self.seed_box.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.new_seed_each_run = QCheckBox("New dice each run")
        self.new_seed_each_run.setToolTip(
            "On: every new run throws fresh dice, so the text differs each time.\n"
            "Off: the seed stays fixed, so the same settings give the same text again.")
        self.roll_button = QPushButton("Roll")
        self.roll_button.setToolTip(JARGON["roll"])
        self.roll_button.clicked.connect(lambda: self.seed_box.setValue(new_seed()))
        seed_help = SEED_HELP
        self.seed_box.setToolTip(seed_help)
        self.seed_subtitle = QLabel(SEED_SUBTITLE)
        self.seed_subtitle.setObjectName("hint")
        self.seed_subtitle.setFont(theme.font(theme.BASE_POINT_SIZE - 2))
        self.seed_subtitle.setWordWrap(True)
        self.seed_subtitle.setToolTip(seed_help)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 2048)
        self.max_tokens.setValue(DEFAULT_MAX_TOKENS)
        self.max_tokens.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.max_tokens.setToolTip(LENGTH_HELP)
        self.ignore_end = QCheckBox("Keep going past the end")
        self.ignore_end.setToolTip(
            "Off: writing stops when the model picks its end-of-text mark.\n"
            "On: it writes on regardless, up to the Length.")
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        seed_label = QLabel("Seed")
        seed_label.setToolTip(seed_help)
        grid.addWidget(seed_label, 0, 0)
        grid.addWidget(self.seed_box, 0, 1)
        grid.addWidget(self.roll_button, 0, 2)
        grid.addWidget(self.seed_subtitle, 1, 0, 1, 3)
        grid.addWidget(self.new_seed_each_run, 2, 0, 1, 3)
        length = QLabel(LENGTH_LABEL)
        length.setToolTip(LENGTH_HELP)
        self.max_tokens.setAccessibleName(LENGTH_LABEL)
        # A row of its own: sharing the seed's columns, the long label would widen the whole column.
        grid.addLayout(theme.row(length, (self.max_tokens, 1)), 3, 0, 1, 3)
        grid.addWidget(self.ignore_end, 4, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        return grid

    def _show_all(self, on: bool) -> None:
        for key, control in self.controls.items():
            control.setVisible(on or key in SIMPLE_KEYS)
        for key, section in self.sections.items():
            if key not in SIMPLE_KEYS and key != "top_k":
                section.setVisible(on)
        self.more_section.setVisible(on)
        self.more.setVisible(on)
        self._note_hidden()

    def _note_hidden(self) -> None:
        """In the simple view, say which hidden samplers are still at work."""
        if self.show_all.isChecked():
            self.hidden_note.hide()
            return
        values = self.settings().to_dict()
        working = [spec for spec in SPECS if spec.key in SWITCHES and spec.key not in SIMPLE_KEYS
                   and not spec.is_off(values[spec.key])]
        # Plain words first; the sampler's name and value say which hidden box to look for.
        parts = [f"{plain_effect(spec.key, values[spec.key])} ({spec.label.lower()} {values[spec.key]:g})"
                 for spec in working]
        if values["logit_bias"]:
            parts.append(f"{len(values['logit_bias'])} word pieces banned or boosted")
        if values["grammar"]:
            parts.append("a grammar decides which word pieces may follow")
        if tuple(values["samplers"]) != SamplerSettings().samplers:
            parts.append("the samplers run in your own order")
        self.hidden_note.setText("Also at work, under Show all settings: " + "; ".join(parts) + "."
                                 if parts else "The other samplers are off.")
        self.hidden_note.setToolTip("<br>".join(f"<b>{spec.label}</b>: {spec.help}" for spec in working))
        self.hidden_note.show()

    def _changed(self, _key: str, _value: object) -> None:
        self.presets.follow(self.settings())
        self._note_hidden()
        self.settingsChanged.emit()

    def _as_shown(self, settings: SamplerSettings) -> SamplerSettings:
        return SamplerSettings.from_dict({key: self.controls[key].as_shown(value) if key in self.controls
                                          else value for key, value in settings.to_dict().items()})

    def apply_preset(self, name: str) -> bool:
        """Apply every setting of the preset called `name` (one settingsChanged); False if there is none."""
        return self.presets.choose(name)

    def settings(self) -> SamplerSettings:
        return SamplerSettings.from_dict({**{key: control.value() for key, control in self.controls.items()},
                                          **self.more.values})

    def set_settings(self, settings: SamplerSettings) -> None:
        for key, value in settings.to_dict().items():
            if key in self.controls:
                self.controls[key].set_value(value, emit=False)
        self.more.set_values(settings)
        self.presets.follow(self.settings())
        self._note_hidden()
        self.settingsChanged.emit()

    def reset(self) -> None:
        self.set_settings(SamplerSettings())

    def seed(self) -> int:
        return int(self.seed_box.value())

    def seed_for_new_run(self) -> int:
        """The seed a fresh run uses: a new one when asked for, shown so it can be written down."""
        if self.new_seed_each_run.isChecked():
            self.seed_box.setValue(new_seed())
        return self.seed()

    def save(self, store: QSettings) -> None:
        for key, value in self.settings().to_dict().items():
            if key in self.controls:
                store.setValue(f"sampler/{key}", value)
        self.more.save(store)
        store.setValue("run/seed", self.seed())
        store.setValue("run/new_seed_each_run", self.new_seed_each_run.isChecked())
        store.setValue("run/max_tokens", self.max_tokens.value())
        store.setValue("run/ignore_end", self.ignore_end.isChecked())
        store.setValue("view/show_all_settings", self.show_all.isChecked())
        self.presets.save(store)

    def restore(self, store: QSettings) -> None:
        """Apply saved values; anything unreadable or out of range keeps its default. Presets saved or
        deleted from now on are written to `store` at once."""
        self.presets.restore(store)  # first: the restored sliders are then shown as their preset
        values = {**SamplerSettings().to_dict(), **self.more.restore(store)}
        for spec in SPECS:
            saved = store.value(f"sampler/{spec.key}")
            try:
                candidate = spec.kind(float(saved)) if saved is not None else values[spec.key]
                checked = SamplerSettings.from_dict({**values, spec.key: candidate})
                values[spec.key] = checked.to_dict()[spec.key]
            except (TypeError, ValueError):
                continue
        self.set_settings(SamplerSettings.from_dict(values))
        for key, box in (("run/seed", self.seed_box), ("run/max_tokens", self.max_tokens)):
            try:
                box.setValue(int(str(store.value(key))))
            except (TypeError, ValueError):  # missing or unreadable: this one keeps its default
                continue
        # An ini file gives back "true"; a macOS property list gives back True.
        for key, check in (("run/new_seed_each_run", self.new_seed_each_run),
                           ("run/ignore_end", self.ignore_end), ("view/show_all_settings", self.show_all)):
            check.setChecked(str(store.value(key, False)).lower() == "true")
