"""Where the code branches on the platform, macOS and Windows take no Linux-only path (faked here)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from synthscope.engine import discovery, llama_log, machine
from synthscope.engine.probe import crash_name
from synthscope.ui import smoke

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("bundle_libraries", ROOT / "scripts" / "bundle_libraries.py")
bundle_libraries = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(bundle_libraries)  # type: ignore[union-attr]

OTHERS = ("darwin", "win32")


@pytest.fixture
def no_linux_files(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Any read of /proc or /sys fails the test: those folders exist on Linux only."""
    touched: list[str] = []
    read_text = Path.read_text

    def guarded(self: Path, *args: object, **kwargs: object) -> str:
        if str(self).startswith(("/proc", "/sys")):
            touched.append(str(self))
            raise AssertionError(f"read {self} on another platform")
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", guarded)
    return touched


@pytest.mark.parametrize("platform", OTHERS)
def test_folders_follow_the_platform(platform: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.delenv("SYNTHSCOPE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "home")
    cache, models = machine.user_cache_dir(), discovery.user_models_dir()
    if platform == "darwin":
        assert cache == tmp_path / "home" / "Library" / "Caches" / "Synthscope"
        assert models == tmp_path / "home" / "Library" / "Application Support" / "Synthscope" / "models"
    else:
        assert cache == tmp_path / "local" / "Synthscope" / "Cache"
        assert models == tmp_path / "roaming" / "Synthscope" / "models"
    assert "xdg" not in str(cache) and "xdg" not in str(models)  # the Linux variables are not read


@pytest.mark.parametrize("platform", OTHERS)
def test_cpu_facts_come_without_proc_or_sys(platform: str, monkeypatch: pytest.MonkeyPatch,
                                            no_linux_files: list[str]) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    asked: list[str] = []

    def sysctl(name: str) -> str:
        asked.append(name)
        return {"machdep.cpu.brand_string": "Apple M2", "hw.perflevel0.physicalcpu": "4"}.get(name, "")

    monkeypatch.setattr(machine, "_sysctl", sysctl)
    name, cores = machine._cpu_name(), machine._physical_cores()
    assert not no_linux_files
    if platform == "darwin":
        assert (name, cores) == ("Apple M2", 4)
    else:
        assert asked == [] and name and cores == machine._logical_cores()


def test_linux_reads_the_cpu_from_proc(monkeypatch: pytest.MonkeyPatch, no_linux_files: list[str]) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(AssertionError, match="/proc/cpuinfo"):
        machine._cpu_name()  # the guard works: Linux does go to /proc


@pytest.mark.parametrize(("platform", "first"), [("linux", "libggml.so.0"), ("darwin", "libggml.0.dylib"),
                                                 ("win32", "ggml.dll")])
def test_the_ggml_library_is_named_as_the_platform_names_it(platform: str, first: str) -> None:
    names = machine.ggml_library_names(platform)
    assert names[0] == first
    assert all(name.endswith({"linux": (".so", ".so.0"), "darwin": (".dylib",), "win32": (".dll",)}[platform])
               for name in names)


def test_a_crash_is_named_in_the_platform_s_own_terms() -> None:
    assert crash_name(-11, "linux") == "SIGSEGV" and crash_name(-4, "darwin") == "SIGILL"
    assert crash_name(1, "linux") is None and crash_name(0, "darwin") is None
    assert crash_name(0xC0000005, "win32") == "access violation"
    assert crash_name(-1073741795, "win32") == "illegal instruction"  # 0xC000001D as a signed int
    assert crash_name(0xC0000135, "win32") == "exception 0xC0000135"
    assert crash_name(1, "win32") is None and crash_name(-11 & 0xFF, "win32") is None


@pytest.mark.parametrize("platform", OTHERS)
def test_the_smoke_test_names_the_cpu_backend_from_the_log(platform: str, monkeypatch: pytest.MonkeyPatch,
                                                           no_linux_files: list[str]) -> None:
    monkeypatch.setattr(llama_log, "loaded_backends", [])
    assert smoke.cpu_backend(platform) == "linked into llama.cpp (one build, no run-time choice)"
    suffix = {"darwin": "dylib", "win32": "dll"}[platform]
    name = f"ggml-cpu-haswell.{suffix}" if platform == "win32" else f"libggml-cpu-haswell.{suffix}"
    line = f"load_backend: loaded CPU backend from C:/Synthscope/_internal/llama_cpp/lib/{name}"
    match = llama_log.LOADED_BACKEND.search(line)
    assert match is not None
    llama_log.loaded_backends.append(match["path"])
    assert smoke.cpu_backend(platform) == f"haswell ({name})"
    assert not no_linux_files


def _folder(tmp_path: Path, names: list[str]) -> Path:
    for name in names:
        (tmp_path / name).write_bytes(b"library")
    return tmp_path


def test_the_linux_bundle_takes_each_library_once_with_its_plain_name_a_link(tmp_path: Path) -> None:
    names = [f"lib{stem}.so{tail}" for stem in ("llama", "ggml", "ggml-base") for tail in ("", ".0", ".0.5.0")]
    take, links = bundle_libraries.llama_libraries(_folder(tmp_path, [*names, "libggml-cpu-zen4.so"]), "linux")
    assert take == ["libggml-base.so.0", "libggml-cpu-zen4.so", "libggml.so.0", "libllama.so.0"]
    assert links == [("libggml-base.so", "libggml-base.so.0"), ("libggml.so", "libggml.so.0"),
                     ("libllama.so", "libllama.so.0")]
    assert bundle_libraries.cpu_variants(take) == ["libggml-cpu-zen4.so"]


def test_the_mac_bundle_takes_each_dylib_once_with_its_plain_name_a_link(tmp_path: Path) -> None:
    names = [f"lib{stem}{tail}.dylib" for stem in ("llama", "ggml", "ggml-metal") for tail in ("", ".0", ".0.5.0")]
    take, links = bundle_libraries.llama_libraries(_folder(tmp_path, names), "darwin")
    assert take == ["libggml-metal.0.dylib", "libggml.0.dylib", "libllama.0.dylib"]
    assert ("libllama.dylib", "libllama.0.dylib") in links and len(links) == 3
    assert bundle_libraries.cpu_variants(take) == []


def test_the_windows_bundle_takes_every_dll_and_makes_no_links(tmp_path: Path) -> None:
    names = ["llama.dll", "ggml.dll", "ggml-base.dll", "ggml-cpu-haswell.dll", "ggml-cpu-x64.dll", "llama.lib"]
    take, links = bundle_libraries.llama_libraries(_folder(tmp_path, names), "win32")
    assert take == sorted(name for name in names if name.endswith(".dll")) and links == []
    assert bundle_libraries.cpu_variants(take) == ["ggml-cpu-haswell.dll", "ggml-cpu-x64.dll"]


@pytest.mark.parametrize("platform", ["linux", "darwin", "win32"])
def test_a_folder_without_libllama_stops_the_build_with_a_sentence(platform: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="not found in"):
        bundle_libraries.llama_libraries(_folder(tmp_path, ["libggml.so.0", "ggml.dll"]), platform)
