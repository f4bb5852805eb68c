"""The engine configuration is checked in a real child process, falls back when it crashes, and is
remembered per machine; threads are chosen by measurement."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
from pathlib import Path

import llama_cpp
import pytest

from synthscope.engine import (EngineConfig, ModelLoadError, choice_file, forget_choice, machine_choice,
                               machine_facts, open_engine)
from synthscope.engine import machine as machine_module
from synthscope.engine import choice as choice_module
from synthscope.engine import probe as probe_module

# A real child that dies by SIGSEGV whenever llama.cpp's extra weight layouts are asked for (as the
# AMX layout does on Sapphire Rapids), and otherwise runs the real probe.
CRASH_WITH_EXTRA_BUFFERS = """
import json, os, signal, sys
if json.loads(sys.argv[2])["extra_buffers"]:
    os.kill(os.getpid(), signal.SIGSEGV)
from synthscope.engine.probe import child_main
sys.exit(child_main(*sys.argv[1:]))
"""


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNTHSCOPE_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.fixture
def crashing_probe(monkeypatch: pytest.MonkeyPatch) -> list[EngineConfig]:
    """Swap the probe child for one that crashes on extra buffers; returns the configs it was given."""
    tried: list[EngineConfig] = []

    def command(path: Path, config: EngineConfig, time_threads: tuple[int, ...] = (),
                time_paths: bool = False) -> list[str]:
        tried.append(config)
        return [sys.executable, "-c", CRASH_WITH_EXTRA_BUFFERS, str(path), config.to_json(),
                ",".join(map(str, time_threads)), "paths" if time_paths else ""]

    monkeypatch.setattr(probe_module, "probe_command", command)
    return tried


def test_a_crash_falls_back_and_the_decision_is_remembered(
        cache_dir: Path, crashing_probe: list[EngineConfig], smollm_path: Path) -> None:
    choice = machine_choice(smollm_path, refresh=True)
    # The standard configuration crashes; the safer one survives, then its attention paths are timed.
    assert [c.extra_buffers for c in crashing_probe] == [True, False, False]
    assert not choice.config.extra_buffers
    assert "crashed" in choice.reason and signal.SIGSEGV.name in choice.reason
    assert "weight layouts" in choice.reason
    facts = machine_facts()
    assert set(choice.speeds) == set(facts.thread_candidates())
    assert set(choice.path_speeds) == {"f32/off", "f16/off", "f16/on"}
    assert (choice.config.kv_cache, choice.config.flash_attention) == \
        choice_module.choose_path(choice.path_speeds)
    assert all(speed > 0 for speed in choice.speeds.values())
    assert choice.config.threads == choice_module.fastest(choice.speeds)

    saved = json.loads(choice_file().read_text(encoding="utf-8"))
    assert saved["choices"][facts.key]["config"]["extra_buffers"] is False
    assert choice_file().parent == cache_dir

    # Later starts cost nothing: no child, the same decision, and loads use it.
    crashing_probe.clear()
    assert machine_choice() == choice and crashing_probe == []
    with open_engine(smollm_path, n_ctx=64, probe=False) as engine:
        assert engine.config == choice.config and engine.note == choice.reason
        assert llama_cpp.llama_n_threads(engine._ctx) == choice.config.threads

    assert forget_choice() and not choice_file().exists() and not forget_choice()


def test_a_new_llama_build_or_cpu_is_checked_again(
        cache_dir: Path, crashing_probe: list[EngineConfig], smollm_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = machine_choice(smollm_path, refresh=True)
    crashing_probe.clear()
    other = dataclasses.replace(machine_facts(), llama_build="llama-cpp-python 9.9.9")
    monkeypatch.setattr(choice_module, "machine_facts", lambda: other)
    second = machine_choice(smollm_path)
    assert crashing_probe and second.key == other.key != first.key
    stored = json.loads(choice_file().read_text(encoding="utf-8"))["choices"]
    assert set(stored) == {first.key, other.key}


def test_an_unreadable_remembered_choice_is_checked_again(cache_dir: Path, smollm_path: Path) -> None:
    choice_file().write_text("{not json", encoding="utf-8")
    choice = machine_choice(smollm_path)  # the real probe (it falls back by itself where it must)
    assert choice.speeds and choice.path_speeds and choice.reason.startswith("Checked on this computer")
    assert json.loads(choice_file().read_text(encoding="utf-8"))["choices"][choice.key]
    assert machine_choice() == choice


def test_an_opened_file_that_crashes_is_loaded_the_safe_way(
        cache_dir: Path, crashing_probe: list[EngineConfig], smollm_path: Path) -> None:
    config = EngineConfig(threads=1)
    with open_engine(smollm_path, n_ctx=64, config=config) as engine:  # probe=True: a user's file
        assert not engine.config.extra_buffers and engine.config.threads == 1
        assert "crashed" in engine.note and smollm_path.name in engine.note
        engine.decode(engine.tokenize("Hi"))


def test_a_file_that_crashes_every_way_is_refused(cache_dir: Path, smollm_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_module, "probe_command", lambda *args, **kw: [
        sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"])
    with pytest.raises(ModelLoadError, match="crashed"):
        open_engine(smollm_path, n_ctx=64, config=EngineConfig(threads=1))
    with pytest.raises(ModelLoadError, match="every configuration"):
        machine_choice(smollm_path, refresh=True)


@pytest.mark.parametrize("paths, expected", [
    ({"f32/off": 80.0, "f16/off": 80.0, "f16/on": 82.0}, ("f32", False)),  # exact is within 3%
    ({"f32/off": 75.0, "f16/off": 76.0, "f16/on": 80.0}, ("f16", True)),  # too slow: the fastest
    ({"f32/off": 50.0, "f16/off": 70.0, "f16/on": 20.0}, ("f16", False)),
    ({}, ("f32", False)),  # not measured: exact
])
def test_exact_memory_unless_it_is_much_slower_on_long_texts(paths: dict[str, float],
                                                             expected: tuple[str, bool]) -> None:
    assert choice_module.choose_path(paths) == expected


@pytest.mark.parametrize("speeds, expected", [
    ({1: 41.4, 2: 66.6}, 2),
    ({4: 100.0, 8: 101.5, 16: 90.0}, 4),  # within 3%: fewer threads leave the rest of the computer free
    ({1: 30.0}, 1),
    ({}, None),
])
def test_the_fastest_thread_count_wins(speeds: dict[int, float], expected: int | None) -> None:
    assert choice_module.fastest(speeds) == expected


def test_thread_candidates_cover_physical_and_logical_cores() -> None:
    facts = dataclasses.replace(machine_facts(), physical_cores=8, logical_cores=16)
    assert facts.thread_candidates() == [1, 4, 7, 8, 16]
    two = dataclasses.replace(machine_facts(), physical_cores=2, logical_cores=2)
    assert two.thread_candidates() == [1, 2]


def test_machine_facts_describe_this_computer() -> None:
    facts = machine_facts()
    assert facts.cpu_name and 1 <= facts.physical_cores <= facts.logical_cores <= (os.cpu_count() or 1)
    assert "CPU" in facts.system_info
    assert facts.gpu_offload == bool(llama_cpp.llama_supports_gpu_offload())
    assert len(facts.key) == 16


def test_cache_folder_follows_the_platform(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SYNTHSCOPE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert machine_module.user_cache_dir() == tmp_path / "synthscope"
    monkeypatch.setenv("SYNTHSCOPE_CACHE_DIR", str(tmp_path / "x"))
    assert machine_module.user_cache_dir() == tmp_path / "x"


def test_a_check_that_cannot_finish_keeps_the_safe_configuration(
        cache_dir: Path, crashing_probe: list[EngineConfig], smollm_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """After a crash, a check that fails for another reason (a timeout, say) must not bring back
    the configuration that crashed; and it is not repeated at every load of this process."""
    real = probe_module.probe_model

    def crash_then_fail(path: Path, config: EngineConfig, *args: object, **kwargs: object):
        if config.extra_buffers:
            return real(path, config, *args, **kwargs)  # crashes (the fixture's child)
        raise ModelLoadError("Checking took longer than 300 s.")

    monkeypatch.setattr(choice_module, "probe_model", crash_then_fail)
    choice = machine_choice(smollm_path, refresh=True)
    assert not choice.config.extra_buffers and not choice.speeds and "could not finish" in choice.reason
    assert not choice_file().exists()  # nothing measured, nothing remembered on disk
    crashing_probe.clear()
    assert machine_choice() == choice and crashing_probe == []


def test_attention_paths_that_crash_cost_only_their_timing(
        cache_dir: Path, smollm_path: Path, engine_config: EngineConfig,
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = probe_module.probe_command

    def command(path: Path, config: EngineConfig, time_threads: tuple[int, ...] = (),
                time_paths: bool = False) -> list[str]:
        if time_paths:
            return [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
        return real(path, config, time_threads, time_paths)

    monkeypatch.setattr(probe_module, "probe_command", command)
    choice = machine_choice(smollm_path, refresh=True)
    # The configuration found safe is the one this machine's real check finds (without the extra
    # buffers where llama.cpp crashes with them here); only the paths' timing is lost.
    assert choice.config.extra_buffers == engine_config.extra_buffers
    assert choice.speeds and not choice.path_speeds
    assert (choice.config.kv_cache, choice.config.flash_attention) == ("f32", False)
    assert "most exact" in choice.reason


def test_a_damaged_choice_file_is_replaced(cache_dir: Path, smollm_path: Path,
                                           crashing_probe: list[EngineConfig]) -> None:
    choice_file().write_text("[1, 2, 3]", encoding="utf-8")  # JSON, but not a choice file
    choice = machine_choice(smollm_path, refresh=True)
    assert json.loads(choice_file().read_text(encoding="utf-8"))["choices"][choice.key]
