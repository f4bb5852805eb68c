"""The import layering (sampling < engine < session < cli/ui; Qt only in ui) holds."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold() -> None:
    done = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command;"
                           "lint_imports_command()", "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_trace_command_never_imports_qt(tmp_path: Path) -> None:
    code = ("import sys; from synthscope.__main__ import main; "
            "rc = main(['trace', '--prompt', 'Hi', '--max-tokens', '2', '--json', sys.argv[1]]); "
            "assert rc == 0, rc; "
            "assert not [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "trace.json")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
