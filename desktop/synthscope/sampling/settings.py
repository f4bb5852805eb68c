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
                "Divides every score before the draw. Low values make the likeliest word win almost "
                "always; high values flatten the odds. 0 means always take the top word.", 1.0),
    SettingSpec("top_k", int, 40, 0, 1000, "Top-k",
                "Keep only this many of the likeliest words. 0 turns it off.", 0),
    SettingSpec("top_p", float, 0.95, 0.0, 1.0, "Top-p",
                "Keep the likeliest words until together they cover this share of the probability. "
                "1 turns it off.", 1.0),
    SettingSpec("min_p", float, 0.05, 0.0, 1.0, "Min-p",
                "Drop words less likely than this fraction of the top word's chance. 0 turns it off.", 0.0),
    SettingSpec("typical_p", float, 1.0, 0.0, 1.0, "Typical-p",
                "Keep the words whose surprise is closest to the average surprise, up to this share "
                "of the probability. 1 turns it off.", 1.0),
    SettingSpec("repeat_penalty", float, 1.0, 0.1, 3.0, "Repeat penalty",
                "Makes words that already appeared recently less likely. 1 turns it off.", 1.0),
    SettingSpec("repeat_last_n", int, 64, 0, 4096, "Penalty window",
                "How many of the latest tokens (prompt included) the penalties look back over.", 0),
    SettingSpec("frequency_penalty", float, 0.0, -2.0, 2.0, "Frequency penalty",
                "Lowers a word's score by this much for every time it appeared in the window.", 0.0),
    SettingSpec("presence_penalty", float, 0.0, -2.0, 2.0, "Presence penalty",
                "Lowers a word's score by this much once if it appeared in the window at all.", 0.0),
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
