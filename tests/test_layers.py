"""The import layering (sampling < engine < session < cli/ui; Qt only in ui; the ui's rooms in layers
under the window that composes them; no circles) holds, and breaks where it should."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(source: Path = ROOT / "desktop") -> subprocess.CompletedProcess[str]:
    """import-linter with the project's contracts, on the package found in `source`."""
    return subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command;"
                           "lint_imports_command()", "--no-cache"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(source)})


def test_import_linter_contracts_hold() -> None:
    done = lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 kept, 0 broken" in done.stdout


def test_a_panel_that_imports_the_window_breaks_the_layers_and_makes_a_circle(tmp_path: Path) -> None:
    copy = tmp_path / "synthscope"
    shutil.copytree(ROOT / "desktop" / "synthscope", copy, ignore=shutil.ignore_patterns("__pycache__"))
    dice = copy / "ui" / "steps" / "dice.py"
    dice.write_text(dice.read_text() + "\nfrom synthscope.ui.window import main_window  # noqa: E402\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert "3 kept, 2 broken" in done.stdout, done.stdout
    assert "No cycles are allowed in synthscope.ui." in done.stdout


def test_trace_command_never_imports_qt(tmp_path: Path) -> None:
    code = ("import sys; from synthscope.__main__ import main; "
            "rc = main(['trace', '--prompt', 'Hi', '--max-tokens', '2', '--json', sys.argv[1]]); "
            "assert rc == 0, rc; "
            "assert not [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "trace.json")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
