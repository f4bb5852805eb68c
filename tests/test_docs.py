"""The README's commands are the ones CI runs."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line]
    assert len(ci_lines) == 1
    readme = (ROOT / "README.md").read_text()
    assert "    " + ci_lines[0] + "\n" in readme
    assert "models/test.txt" in ci_lines[0] and not ci_lines[0].startswith(" ")
    # Before it, CI only installs the packaging tests' Debian tools (the README says so).
    setup = (ROOT / ".ci" / "run").read_text().split(ci_lines[0])[0]
    assert "pip install" not in setup and "desktop-file-utils appstream" in setup
    assert "desktop-file-utils appstream" in readme


def test_readme_screenshots_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    for line in readme.splitlines():
        if line.startswith("![") and "](" in line:
            assert (ROOT / line.split("](")[1].rstrip(")")).is_file(), line
