"""Named sampler presets: four built in, plus the person's own, checked like any other setting."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from synthscope.sampling.settings import SPECS, SamplerSettings, SettingsError

MAX_NAME_LENGTH = 40
CUSTOM = "Custom"  # what the preset list shows when the settings match no preset
PRESET_KEYS = frozenset({"name", "settings"})


@dataclass(frozen=True)
class Preset:
    name: str
    settings: SamplerSettings
    description: str = ""
    builtin: bool = False


BUILTIN_PRESETS: tuple[Preset, ...] = (
    Preset("Precise", SamplerSettings(temperature=0.2, top_k=40, top_p=0.9, min_p=0.05),
           "Only the few likeliest words can win, so the text stays careful and predictable.", True),
    Preset("Balanced", SamplerSettings(),
           "llama.cpp's everyday settings: mostly sensible words, with the odd surprise.", True),
    Preset("Creative", SamplerSettings(temperature=1.1, top_k=100, top_p=0.95, min_p=0.05),
           "More words get a real chance, so the text takes unexpected turns.", True),
    Preset("Wild", SamplerSettings(temperature=1.8, top_k=0, top_p=1.0, min_p=0.0),
           "Almost every word in the vocabulary can win; expect surprises and nonsense.", True),
)


def builtin_preset(name: str) -> Preset | None:
    """The built-in preset called `name` (any capitalisation), if there is one."""
    wanted = name.strip().casefold()
    return next((p for p in BUILTIN_PRESETS if p.name.casefold() == wanted), None)


def check_preset_name(name: str) -> str:
    """The name as it will be stored (spaces trimmed), or SettingsError saying why it cannot be used."""
    if not isinstance(name, str):
        raise SettingsError("A preset name must be text.")
    name = name.strip()
    if not name:
        raise SettingsError("A preset needs a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise SettingsError(f"A preset name can be at most {MAX_NAME_LENGTH} characters long; "
                            f"this one has {len(name)}.")
    if not name.isprintable():
        raise SettingsError("A preset name cannot contain line breaks or tabs.")
    builtin = builtin_preset(name)
    if builtin is not None:
        raise SettingsError(f"“{builtin.name}” is a built-in preset; please choose another name.")
    if name.casefold() == CUSTOM.casefold():
        raise SettingsError(f"“{CUSTOM}” is what the list shows for settings that match no preset; "
                            "please choose another name.")
    return name


def describe(settings: SamplerSettings) -> str:
    """One sentence naming the values of a person's own preset, for its tooltip."""
    defaults = SamplerSettings().to_dict()
    main = ("temperature", "top_k", "top_p", "min_p")
    parts = [f"{spec.label.lower()} {getattr(settings, spec.key):g}" for spec in SPECS
             if spec.key in main or getattr(settings, spec.key) != defaults[spec.key]]
    return f"Your own preset: {', '.join(parts)}."


def user_preset(name: str, settings: SamplerSettings) -> Preset:
    """A person's own preset, its name checked."""
    return Preset(check_preset_name(name), settings, describe(settings), builtin=False)


def preset_to_dict(preset: Preset) -> dict[str, Any]:
    return {"name": preset.name, "settings": preset.settings.to_record()}


def preset_from_dict(data: Any) -> Preset:
    """A person's own preset read back; anything damaged raises SettingsError, never a crash."""
    if not isinstance(data, dict):
        raise SettingsError("A saved preset must be a name with its settings.")
    unknown = set(data) - PRESET_KEYS
    if unknown:
        raise SettingsError(f"Unknown preset field: {', '.join(sorted(map(str, unknown)))}.")
    if set(data) != PRESET_KEYS or not isinstance(data["settings"], dict):
        raise SettingsError("A saved preset must be a name with its settings.")
    try:
        settings = SamplerSettings.from_dict(data["settings"])
    except TypeError as error:  # e.g. a non-text key
        raise SettingsError("A saved preset has settings that cannot be read.") from error
    return user_preset(data["name"], settings)


def find_preset(presets: Iterable[Preset], name: str) -> Preset | None:
    """The preset called `name`, ignoring capitalisation and surrounding spaces."""
    wanted = name.strip().casefold()
    return next((p for p in presets if p.name.casefold() == wanted), None)


def user_presets_to_json(presets: Iterable[Preset]) -> str:
    return json.dumps([preset_to_dict(p) for p in presets if not p.builtin])


def user_presets_from_json(text: Any) -> list[Preset]:
    """The readable presets in a saved list; damaged entries and repeated names are left out."""
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return []
    if not isinstance(data, list):
        return []
    kept: list[Preset] = []
    for entry in data:
        try:
            preset = preset_from_dict(entry)
        except SettingsError:
            continue
        if find_preset(kept, preset.name) is None:
            kept.append(preset)
    return kept
