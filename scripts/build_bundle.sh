#!/usr/bin/env bash
# Build the one-folder PyInstaller bundle: build/dist/synthscope/synthscope (see docs/packaging.md).
# Usage: scripts/build_bundle.sh            (uses .venv/ if present, else the python on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=${PYTHON:-python3}; fi
if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "PyInstaller is not installed; run: $PYTHON -m pip install pyinstaller" >&2
    exit 1
fi

"$PYTHON" -m PyInstaller --noconfirm --distpath build/dist --workpath build/pyinstaller build.spec
echo "Bundle: build/dist/synthscope/synthscope ($(du -sh build/dist/synthscope | cut -f1))"
