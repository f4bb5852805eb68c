"""The engine configuration this computer runs safely and fastest: probed once in a child, remembered.

Some llama.cpp CPU paths crash the whole process (the AMX weight layout on Sapphire-Rapids-class
Xeons, llama.cpp issue #20824). Before the first real load on a machine, and whenever the
llama.cpp build, the CPU or the backends change, a child process loads a model and generates a few
tokens with each candidate configuration in turn; the first that survives is used, and the child
also times decoding at a few thread counts, then each attention path on a short and a longer text.
The decision is kept in the user's cache folder.

Which numbers Synthscope shows: the exact path (F32 KV cache, no flash attention: llama.cpp's most
precise) unless it is more than PATH_TOLERANCE slower than the fastest path here; then the fastest,
whose probabilities differ from exact by about 3% (benchmarks/bench_attention.py). Which path is
fastest differs between machines: flash attention halved long-text speed on one CPU at one thread
and was the fastest path on another at two.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthscope.engine.config import EngineConfig
from synthscope.engine.errors import ModelLoadError
from synthscope.engine.machine import MachineFacts, machine_facts, user_cache_dir
from synthscope.engine.probe import ProbeCrashed, fastest, path_key, probe_model

log = logging.getLogger(__name__)
CHOICE_FILE = "engine-choice.json"
FORMAT_VERSION = 1
PATH_TOLERANCE = 0.03  # exact memory is kept while it is at most 3% slower than the fastest path
EXACT = ("f32", False)

# Tried in order; each entry: the changes to the standard configuration, and what they avoid.
FALLBACKS: tuple[tuple[dict[str, object], str], ...] = (
    ({}, ""),
    ({"extra_buffers": False}, "llama.cpp's special weight layouts for this processor"),
    ({"extra_buffers": False, "gpu_layers": 0}, "llama.cpp's special weight layouts and its GPU code"),
)
MAX_PATH_TIMING_BYTES = 1 << 30  # the path timing loads three copies: skipped for larger models
_lock = threading.Lock()
# Decisions made or read in this process, by (cache file, machine key): a check that could not be
# remembered on disk is still not repeated at every load.
_known: dict[tuple[str, str], MachineChoice] = {}


@dataclass(frozen=True)
class MachineChoice:
    config: EngineConfig  # threads always set
    reason: str  # one plain sentence for the status bar and About box
    speeds: dict[int, float]  # threads -> measured tokens per second (empty when not measured)
    key: str  # MachineFacts.key the decision belongs to
    path_speeds: dict[str, float] = field(default_factory=dict)  # probe.path_key -> tokens/s

    def to_dict(self) -> dict[str, object]:
        return {"config": self.config.to_dict(), "reason": self.reason,
                "speeds": {str(k): v for k, v in self.speeds.items()},
                "path_speeds": self.path_speeds}

    @classmethod
    def from_dict(cls, data: dict[str, Any], key: str) -> MachineChoice:
        config = EngineConfig.from_dict(dict(data["config"]))
        if config.threads is None:
            raise ValueError("no thread count")
        speeds = {int(k): float(v) for k, v in dict(data.get("speeds") or {}).items()}
        paths = {str(k): float(v) for k, v in dict(data.get("path_speeds") or {}).items()}
        return cls(config, str(data["reason"]), speeds, key, paths)


def choice_file() -> Path:
    return user_cache_dir() / CHOICE_FILE


def forget_choice() -> bool:
    """Delete every remembered decision; the next load probes again. True if there was one."""
    _known.clear()
    try:
        choice_file().unlink()
        return True
    except FileNotFoundError:
        return False


def machine_choice(probe_path: Path | None = None, refresh: bool = False) -> MachineChoice:
    """The remembered decision for this machine, or a new one probed with the shipped model (or
    `probe_path` where it is not installed). Raises ModelLoadError only if llama.cpp crashes in
    every configuration."""
    facts = machine_facts()
    with _lock:
        if not refresh:
            remembered = remembered_choice()
            if remembered is not None:
                return remembered
        choice = _decide(facts, probe_path)
        _known[(str(choice_file()), facts.key)] = choice
        if choice.speeds:  # only a measured decision is worth remembering on disk
            _write(choice)
        return choice


def remembered_choice() -> MachineChoice | None:
    """The decision known for this machine as it is now, if any (at most a file read)."""
    key = machine_facts().key
    known = _known.get((str(choice_file()), key))
    if known is None:
        known = _read(key)
        if known is not None:
            _known[(str(choice_file()), key)] = known
    return known


def _decide(facts: MachineFacts, probe_path: Path | None) -> MachineChoice:
    shipped = _shipped_model()
    path = shipped or probe_path
    fallback_threads = facts.physical_cores
    if path is None:
        return MachineChoice(EngineConfig(threads=fallback_threads),
                             "Synthscope uses llama.cpp's standard settings (not yet checked on this "
                             "computer: no model to check with).", {}, facts.key)
    crashes: list[str] = []
    for changes, avoided in _fallbacks(facts):
        config = EngineConfig(**changes)  # type: ignore[arg-type]
        try:
            result = probe_model(path, config, tuple(facts.thread_candidates()))
        except ProbeCrashed as exc:
            log.warning("engine check: %s crashed with %s", config, exc.signal_name)
            crashes.append(exc.signal_name)
            continue
        except ModelLoadError as exc:  # the check itself could not run: keep what is known safe
            log.warning("engine check could not run: %s", exc)
            return MachineChoice(config.with_changes(threads=fallback_threads),
                                 "Synthscope uses llama.cpp's standard settings"
                                 f"{' without ' + avoided if avoided else ''} (the check on this "
                                 f"computer could not finish: {exc})", {}, facts.key)
        threads = fastest(result.speeds) or fallback_threads
        config = config.with_changes(threads=threads)
        path_speeds = _time_paths(path, config)
        kv_cache, flash = choose_path(path_speeds)
        chosen = config.with_changes(kv_cache=kv_cache, flash_attention=flash)
        return MachineChoice(chosen, _reason(avoided, crashes, chosen, result.speeds, path_speeds),
                             result.speeds, facts.key, path_speeds)
    if shipped is None:  # the person's own file was the only one to check with: it may be to blame
        raise ModelLoadError(f"llama.cpp crashed with {path.name} in every configuration Synthscope "
                             f"tried ({', '.join(crashes)}); the file is probably damaged.")
    raise ModelLoadError("llama.cpp crashed on this computer in every configuration Synthscope "
                         f"tried ({', '.join(crashes)}); please report your processor model.")


def _time_paths(path: Path, config: EngineConfig) -> dict[str, float]:
    """Each attention path's speed, in a child of its own: a path that crashes or runs out of
    memory there costs its measurement, never the configuration found safe."""
    try:
        if path.stat().st_size > MAX_PATH_TIMING_BYTES:
            return {}
        return probe_model(path, config, time_paths=True).path_speeds
    except (ModelLoadError, OSError) as exc:
        log.warning("attention paths not timed: %s", exc)
        return {}


def _fallbacks(facts: MachineFacts) -> list[tuple[dict[str, object], str]]:
    return [(c, a) for c, a in FALLBACKS if facts.gpu_offload or "gpu_layers" not in c]


def choose_path(path_speeds: dict[str, float]) -> tuple[str, bool]:
    """(KV-cache type, flash attention): exact unless it is too slow here."""
    if not path_speeds or path_key(*EXACT) not in path_speeds:
        return EXACT
    best = max(path_speeds, key=path_speeds.__getitem__)
    if path_speeds[path_key(*EXACT)] >= path_speeds[best] * (1 - PATH_TOLERANCE):
        return EXACT
    kv_cache, flash = best.split("/")
    return kv_cache, flash == "on"


def _reason(avoided: str, crashes: list[str], config: EngineConfig, speeds: dict[int, float],
            path_speeds: dict[str, float]) -> str:
    threads = config.threads or 1
    speed = f" ({speeds[threads]:.0f} word pieces a second)" if threads in speeds else ""
    threads_part = f"{threads} thread{'s are' if threads != 1 else ' is'} fastest{speed}"
    if (config.kv_cache, config.flash_attention) == EXACT:
        path_part = ("exact 32-bit memory of the text costs under 3% of the speed, so you see llama.cpp's "
                     "most exact chances" if path_speeds else
                     "you see llama.cpp's most exact chances (32-bit memory of the text)")
    else:
        gain = path_speeds[path_key(config.kv_cache, config.flash_attention)] / path_speeds[path_key(*EXACT)]
        path_part = (f"compact 16-bit memory{' with flash attention' if config.flash_attention else ''}"
                     f" is {gain:.2f}× as fast as exact memory, so Automatic uses it (the chances it "
                     "shows differ from exact ones by about 3% of their value)")
    if not avoided:
        return (f"Checked on this computer: llama.cpp's standard settings run safely, {threads_part}, "
                f"and {path_part}.")
    return (f"Checked on this computer: {avoided} crashed (error {crashes[-1]}), so Synthscope "
            f"runs without them; {threads_part}, and {path_part}.")


def _shipped_model() -> Path | None:
    from synthscope.engine.default_model import default_model_path
    try:
        return default_model_path()
    except ModelLoadError:
        return None


def _read(key: str) -> MachineChoice | None:
    try:
        data = json.loads(choice_file().read_text(encoding="utf-8"))
        if data.get("version") == FORMAT_VERSION and key in data["choices"]:
            return MachineChoice.from_dict(data["choices"][key], key)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("ignoring an unreadable %s: %s", choice_file(), exc)
    return None


def _write(choice: MachineChoice) -> None:
    path = choice_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if (not isinstance(data, dict) or data.get("version") != FORMAT_VERSION
                or not isinstance(data.get("choices"), dict)):
            raise ValueError("not a choice file")
    except (OSError, ValueError):
        data = {"version": FORMAT_VERSION, "choices": {}}
    data["choices"][choice.key] = choice.to_dict()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1)
        os.replace(temporary, path)
    except OSError as exc:  # a read-only cache folder costs a probe per start, nothing else
        log.warning("could not remember the engine choice in %s: %s", path, exc)


def probe_user_file(path: Path, config: EngineConfig,
                    cancelled: Callable[[], bool] | None = None) -> tuple[EngineConfig, str]:
    """Probe a file the person opened with `config`; if llama.cpp crashes, try the safer
    configurations. Returns the configuration to load it with and a sentence if it changed;
    LoadCancelled once `cancelled()` turns true."""
    try:
        probe_model(path, config, cancelled=cancelled)
        return config, ""
    except ProbeCrashed as first:
        crash = first
    for changes, avoided in _fallbacks(machine_facts())[1:]:
        safer = config.with_changes(**changes)
        if safer == config:
            continue
        try:
            probe_model(path, safer, cancelled=cancelled)
        except ProbeCrashed:
            continue
        return safer, (f"{path.name} runs without {avoided}, because they crashed with this file "
                       f"(error {crash.signal_name}).")
    raise crash


def resolve_config(config: EngineConfig | None = None) -> tuple[EngineConfig, str]:
    """`config` ready to load with, and why: None means this machine's choice; a config without a
    thread count gets the measured one. A complete config never starts a check (the probe child
    passes one), but carries the machine's reason where it is known."""
    if config is not None and config.threads is not None:
        known = remembered_choice()
        return config, known.reason if known is not None else ""
    choice = machine_choice()
    if config is None:
        return choice.config, choice.reason
    return config.with_changes(threads=choice.config.threads), choice.reason


def preferred_config(threads: int | None = None, kv_cache: str | None = None,
                     flash_attention: bool | None = None, gpu_layers: int | None = None,
                     probe_path: Path | None = None) -> EngineConfig:
    """This machine's choice with the person's preferences on top (None keeps the choice);
    `probe_path` checks the machine where the shipped model is not installed.

    The safety decisions (weight layouts, and the GPU where it crashed) are never overridden."""
    base = machine_choice(probe_path).config
    changes: dict[str, object] = {"threads": threads, "kv_cache": kv_cache,
                                  "flash_attention": flash_attention}
    if base.gpu_layers != 0:
        changes["gpu_layers"] = gpu_layers
    return base.with_changes(**{k: v for k, v in changes.items() if v is not None})
