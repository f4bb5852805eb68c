"""llama.cpp's own llama-server, built once from the llama.cpp that llama-cpp-python vendors (the same
version the engine runs), for the suite's server tests; kept beside the virtual environment."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = importlib.metadata.version("llama-cpp-python")
# Inside the virtual environment: built again whenever a fresh one is (llama-cpp-python's version
# may have changed with it), never shared between machines with other processors.
HOME = Path(sys.prefix) / "synthscope-test-tools" / f"llama-server-{VERSION}"
BUILD_MINUTES = 30  # about 8 on two cores


class BuildError(Exception):
    """llama-server could not be built here; the message says which step failed and its last lines."""


def llama_server() -> Path:
    """The llama-server binary, built first if this environment has none (once: minutes)."""
    binary = HOME / ("llama-server.exe" if os.name == "nt" else "llama-server")
    override = os.environ.get("SYNTHSCOPE_LLAMA_SERVER")
    if override:
        return Path(override)
    if binary.is_file():
        return binary
    with tempfile.TemporaryDirectory(prefix="llama-server-build-") as folder:
        work = Path(folder)
        source = _vendored_source(work)
        build = work / "build"
        _run([_cmake(), "-S", str(source), "-B", str(build), "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF",
              "-DLLAMA_CURL=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
              "-DLLAMA_BUILD_SERVER=ON", "-DLLAMA_BUILD_TOOLS=ON"], "configuring llama.cpp")
        _run([_cmake(), "--build", str(build), "--config", "Release", "--target", "llama-server",
              "-j", str(os.cpu_count() or 2)], "building llama-server")
        built = next((path for path in build.rglob(binary.name) if path.is_file()), None)
        if built is None:
            raise BuildError("the build finished without a llama-server binary")
        HOME.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built, binary.with_suffix(".part"))
        binary.with_suffix(".part").replace(binary)  # a build cut short leaves no binary behind
    return binary


def _vendored_source(work: Path) -> Path:
    """llama-cpp-python's source package, from the index pip installs from, unpacked to its llama.cpp."""
    _run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--quiet",
          f"llama-cpp-python=={VERSION}", "-d", str(work)], "downloading llama-cpp-python's source")
    archive = next(work.glob("llama_cpp_python-*.tar.gz"), None)
    if archive is None:
        raise BuildError("pip downloaded no source package of llama-cpp-python")
    prefix = f"{archive.name.removesuffix('.tar.gz')}/vendor/llama.cpp/"
    with tarfile.open(archive) as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(prefix)]
        tar.extractall(work, members=members, filter="data")
    return work / prefix


def _cmake() -> str:
    found = shutil.which("cmake") or shutil.which("cmake", path=str(Path(sys.executable).parent))
    if found is None:
        raise BuildError("cmake is not installed (pip install cmake)")
    return found


def _run(command: list[str], doing: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_MINUTES * 60)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        raise BuildError(f"{doing} failed (exit {done.returncode}):\n{tail}")


if __name__ == "__main__":
    print(llama_server())
