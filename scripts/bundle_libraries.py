"""Which of llama-cpp-python's libraries the bundle takes, on Linux, macOS and Windows (used by build.spec).

llama-cpp-python loads libllama (and engine/machine.py libggml) with ctypes by path, and the
libraries find each other by their versioned name (Linux: soname libggml.so.0 through
RUNPATH=$ORIGIN; macOS: install name @rpath/libggml.0.dylib). Wheels cannot hold links, so the
wheel ships each library as byte-identical copies: libX.so, libX.so.0, libX.so.0.5.0 (macOS:
libX.dylib, libX.0.dylib, libX.0.5.0.dylib). Only the versioned name is bundled, with the plain
name as a link to it: a copy opened by path would be loaded as a second library (a second libggml
has a backend registry of its own, empty with plug-in backends). Windows names its DLLs once
(llama.dll, ggml.dll, ggml-cpu-haswell.dll, …): every one is taken, no link is needed.
"""
from __future__ import annotations

import re
from pathlib import Path

# The plain name, and the name with one version number, of each library, per platform.
_NAMES = {
    "linux": re.compile(r"^(?P<stem>lib[\w.-]+?\.so)(?P<version>\.\d+)?$"),
    "darwin": re.compile(r"^(?P<stem>lib[\w-]+)(?P<version>\.\d+)?\.dylib$"),
    "win32": re.compile(r"^(?P<stem>[\w-]+)\.dll$"),
}
LLAMA = {"linux": "libllama.so", "darwin": "libllama.dylib", "win32": "llama.dll"}
CPU_VARIANT = re.compile(r"^(lib)?ggml-cpu-[\w.-]+\.(so|dylib|dll)$")


def platform_key(platform: str) -> str:
    return "linux" if platform.startswith("linux") else platform


def _versioned(plain: str, platform: str) -> str:
    if platform == "darwin":
        return plain.removesuffix(".dylib") + ".0.dylib"
    return f"{plain}.0"


def llama_libraries(folder: Path, platform: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(file names to bundle, (link, target) pairs to add) from llama_cpp/lib on `platform`."""
    key = platform_key(platform)
    pattern = _NAMES.get(key)
    if pattern is None:
        raise SystemExit(f"build.spec: no bundle layout for the platform {platform!r}")
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and pattern.match(p.name))
    present = set(names)
    links = [(name, _versioned(name, key)) for name in names
             if key != "win32" and not pattern.match(name)["version"] and _versioned(name, key) in present]
    linked = {link for link, _ in links}
    take = [name for name in names if name not in linked]
    if LLAMA[key] not in present:
        raise SystemExit(f"build.spec: {LLAMA[key]} not found in {folder}")
    return take, links


def cpu_variants(names: list[str]) -> list[str]:
    """The CPU plug-ins of a build with run-time CPU dispatch (none: built for one kind of CPU)."""
    return sorted(name for name in names if CPU_VARIANT.match(name))
