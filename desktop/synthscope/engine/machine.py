"""Facts about this computer and this llama.cpp build: CPU, cores, compiled features, GPU devices."""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import llama_cpp

DEVICE_TYPES = {0: "CPU", 1: "GPU", 2: "integrated GPU", 3: "accelerator", 4: "meta"}


@dataclass(frozen=True)
class Device:
    name: str
    description: str
    kind: str  # one of DEVICE_TYPES' values


@dataclass(frozen=True)
class MachineFacts:
    cpu_name: str
    logical_cores: int  # the ones this process may run on
    physical_cores: int
    llama_build: str  # llama-cpp-python's version and its library file (size, mtime)
    system_info: str  # llama.cpp's compiled CPU features, e.g. "AVX512 = 1 | AMX_INT8 = 1 | …"
    gpu_offload: bool
    devices: tuple[Device, ...]

    @property
    def key(self) -> str:
        """Changes whenever the llama.cpp build, the CPU or the backends change."""
        text = "\n".join([self.llama_build, self.cpu_name, str(self.logical_cores), self.system_info,
                          str(self.gpu_offload), *(f"{d.name}:{d.description}" for d in self.devices)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def gpu_devices(self) -> tuple[Device, ...]:
        return tuple(d for d in self.devices if d.kind in ("GPU", "integrated GPU"))

    def thread_candidates(self) -> list[int]:
        """Thread counts worth timing: llama.cpp's own default (physical cores), every logical
        core, and a few below, since memory bandwidth often peaks before the last core."""
        top = self.logical_cores
        counts = {1, self.physical_cores, top, max(1, self.physical_cores - 1),
                  max(1, self.physical_cores // 2)}
        return sorted(c for c in counts if 1 <= c <= top)


@cache
def machine_facts() -> MachineFacts:
    logical = _logical_cores()
    return MachineFacts(_cpu_name(), logical, min(_physical_cores(), logical), _llama_build(),
                        llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
                        bool(llama_cpp.llama_supports_gpu_offload()), _devices())


def _logical_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _physical_cores() -> int:
    """Distinct (package, core) pairs among the CPUs this process may use; logical count elsewhere."""
    if sys.platform.startswith("linux") and hasattr(os, "sched_getaffinity"):
        cores = set()
        for cpu in os.sched_getaffinity(0):
            topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
            try:
                cores.add((topology.joinpath("physical_package_id").read_text().strip(),
                           topology.joinpath("core_id").read_text().strip()))
            except OSError:
                return _logical_cores()
        return max(1, len(cores))
    if sys.platform == "darwin":
        value = _sysctl("hw.perflevel0.physicalcpu") or _sysctl("hw.physicalcpu")
        if value.isdigit():
            return int(value)
    return _logical_cores()


def _sysctl(name: str) -> str:
    try:
        return subprocess.run(["sysctl", "-n", name], capture_output=True, text=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _cpu_name() -> str:
    if sys.platform.startswith("linux"):
        try:
            for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
                if line.startswith(("model name", "Model", "Hardware")) and ":" in line:
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
    elif sys.platform == "darwin":
        name = _sysctl("machdep.cpu.brand_string")
        if name:
            return name
    return platform.processor() or platform.machine() or "unknown CPU"


def _llama_build() -> str:
    library = Path(getattr(llama_cpp.llama_cpp._lib, "_name", "") or "")
    try:
        stat = library.stat()
        where = f"{library.name}:{stat.st_size}:{int(stat.st_mtime)}"
    except OSError:
        where = library.name
    return f"llama-cpp-python {llama_cpp.__version__} {where}"


def ggml_library_names(platform: str = sys.platform) -> tuple[str, ...]:
    """libggml's file names beside libllama on `platform`, the one libllama loaded first.
    On Linux and macOS that is the versioned name (libggml.so.0, libggml.0.dylib): a wheel also
    ships libggml.so as a separate copy, and opening it would load a second libggml with an
    empty backend registry."""
    if platform == "darwin":
        return ("libggml.0.dylib", "libggml.dylib")
    if platform == "win32":
        return ("ggml.dll",)
    return ("libggml.so.0", "libggml.so", "libggml-base.so")


def _ggml_library() -> ctypes.CDLL | None:
    """libggml beside libllama (it holds the backend registry); None where it cannot be found."""
    folder = Path(getattr(llama_cpp.llama_cpp._lib, "_name", "") or "").parent
    for name in ggml_library_names():
        candidate = folder / name
        if candidate.exists():
            try:
                return ctypes.CDLL(str(candidate))
            except OSError:
                continue
    return None


def _devices() -> tuple[Device, ...]:
    library = _ggml_library()
    if library is None or not hasattr(library, "ggml_backend_dev_count"):
        return ()
    library.ggml_backend_dev_count.restype = ctypes.c_size_t
    library.ggml_backend_dev_get.restype = ctypes.c_void_p
    library.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    for function in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
        getattr(library, function).restype = ctypes.c_char_p
        getattr(library, function).argtypes = [ctypes.c_void_p]
    library.ggml_backend_dev_type.restype = ctypes.c_int
    library.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    devices = []
    for index in range(library.ggml_backend_dev_count()):
        device = library.ggml_backend_dev_get(index)
        devices.append(Device((library.ggml_backend_dev_name(device) or b"").decode(errors="replace"),
                              (library.ggml_backend_dev_description(device) or b"")
                              .decode(errors="replace"),
                              DEVICE_TYPES.get(library.ggml_backend_dev_type(device), "other")))
    return tuple(devices)


def user_cache_dir() -> Path:
    """Synthscope's folder in the platform's cache location (SYNTHSCOPE_CACHE_DIR overrides it)."""
    override = os.environ.get("SYNTHSCOPE_CACHE_DIR")
    if override:
        return Path(override)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "Synthscope"
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "Synthscope" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "synthscope"
