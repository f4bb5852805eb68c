"""The README's commands are the ones CI runs."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line and not line.startswith(("#", "set ", "cd "))]
    assert len(ci_lines) == 1
    readme = (ROOT / "README.md").read_text()
    assert "    " + ci_lines[0] + "\n" in readme
    assert "pytest" in ci_lines[0] and "models/test.txt" in ci_lines[0]


def test_readme_screenshots_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    for line in readme.splitlines():
        if line.startswith("![") and "](" in line:
            assert (ROOT / line.split("](")[1].rstrip(")")).is_file(), line
