"""Sampler settings: each one declared once with its type, default, range and plain-words help."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


class SettingsError(ValueError):
    """A sampler setting is outside what makes sense; the message is one plain sentence."""


@dataclass(frozen=True)
class SettingSpec:
    key: str
    kind: type
    default: float | int
    minimum: float | int
    maximum: float | int
    label: str
    help: str
    off_value: float | int | None = None  # the value at which the stage does nothing


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("temperature", float, 0.8, 0.0, 5.0, "Temperature",
                "How adventurous the model is. Low (calm) lets the likeliest word win almost every "
                "time; high (wild) gives unlikely words more of a chance. 0 always takes the top word.", 1.0),
    SettingSpec("top_k", int, 40, 0, 1000, "Top-k",
                "Only this many of the likeliest words stay in the game; every other word is crossed "
                "out. 0 = no limit.", 0),
    SettingSpec("top_p", float, 0.95, 0.0, 1.0, "Top-p",
                "Keeps the likeliest words until their chances add up to this share (0.95 = 95%) and "
                "crosses out the long tail of unlikely words. 1 = no limit.", 1.0),
    SettingSpec("min_p", float, 0.05, 0.0, 1.0, "Min-p",
                "Crosses out every word whose chance is below this fraction of the favourite's chance "
                "(0.05 = a twentieth). 0 = no limit.", 0.0),
    SettingSpec("typical_p", float, 1.0, 0.0, 1.0, "Typical-p",
                "Keeps the words about as surprising as a typical word here, crossing out ones that are "
                "too obvious or too strange, up to this share of the chance. 1 = no limit.", 1.0),
    SettingSpec("repeat_penalty", float, 1.0, 0.1, 3.0, "Repeat penalty",
                "Makes words that were already written recently less likely, so the text repeats "
                "itself less. 1 = no change; 1.1 = a small penalty.", 1.0),
    SettingSpec("repeat_last_n", int, 64, 0, 4096, "Penalty window",
                "How many of the latest word pieces (your prompt included) the penalties look back at.", 0),
    SettingSpec("frequency_penalty", float, 0.0, -2.0, 2.0, "Frequency penalty",
                "Lowers a word's score a bit more for every time it was already written. "
                "0 = no change.", 0.0),
    SettingSpec("presence_penalty", float, 0.0, -2.0, 2.0, "Presence penalty",
                "Lowers a word's score once if it was already written at all. 0 = no change.", 0.0),
)
SPEC_BY_KEY = {spec.key: spec for spec in SPECS}
MIN_TEMPERATURE = 0.001


@dataclass(frozen=True)
class SamplerSettings:
    """The knobs of the sampler chain; defaults are llama-cpp-python's."""

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    typical_p: float = 1.0
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0

    def __post_init__(self) -> None:
        for spec in SPECS:
            value = getattr(self, spec.key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise SettingsError(f"{spec.label} must be a number, not {value!r}.")
            if spec.kind is int and int(value) != value:
                raise SettingsError(f"{spec.label} must be a whole number, not {value}.")
            if not (spec.minimum <= value <= spec.maximum):  # also rejects NaN
                raise SettingsError(
                    f"{spec.label} must be between {spec.minimum} and {spec.maximum}, not {value}.")
            object.__setattr__(self, spec.key, spec.kind(value))
        if 0.0 < self.temperature < MIN_TEMPERATURE:  # 1/t overflows float32 scores below this
            raise SettingsError(f"Temperature must be 0 (always the top word) or at least "
                                f"{MIN_TEMPERATURE}, not {self.temperature}.")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def with_changes(self, **changes: Any) -> "SamplerSettings":
        return replace(self, **changes)

    def to_dict(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SamplerSettings":
        unknown = set(data) - set(SPEC_BY_KEY)
        if unknown:
            raise SettingsError(f"Unknown sampler setting: {', '.join(sorted(unknown))}.")
        return cls(**data)
