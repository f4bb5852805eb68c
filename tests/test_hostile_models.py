"""Hostile model files: some 290 damaged GGUFs made from SmolLM2 meet the header reader, the command
line, the model scan and the window; each is refused in one plain line (or opens), nothing crashes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hostile_gguf import Case, build_corpus
from synthscope.cli.main import main
from synthscope.engine import discovery
from synthscope.engine.errors import ModelLoadError
from synthscope.engine.model_facts import check_file, read_facts

# Kinds whose header is well-formed, so only llama.cpp (in the probe's child process) can refuse
# them; every other kind must be refused by the header reader before llama.cpp sees it.
WELL_FORMED = {"absurd tensor count", "metadata of the wrong type", "chat template not a string",
               "chat template that is broken text", "missing metadata", "absurd metadata value",
               "huge metadata string", "invalid text", "real header, tensor data of zeros",
               "real file, chat template not a string"}
JARGON = ("Traceback", "struct.error", "unpack", "Error:", "Exception", 'File "', "invalid literal",
          "NoneType", "object has no", "_impl", "errno", "unexpected problem", "int()")
SUBPROCESS_KINDS = ("truncated in the header", "truncated in the metadata", "truncated in the tensor data",
                    "flipped header byte", "wrong magic", "absurd tensor count",
                    "absurd dimension", "absurd string length",
                    "chat template not a string", "absurd metadata value", "nested arrays",
                    "random bytes", "real file truncated in the tensor data", "empty file",
                    "real file, chat template not a string")
WINDOW_KINDS = ("absurd metadata value", "real file, chat template not a string", "metadata of the wrong type",
                "nested arrays", "bad alignment", "real file truncated in the tensor data", "wrong magic",
                "random bytes", "empty file", "folder named like a model", "huge metadata string")
TRACE = ["trace", "--prompt", "Hi", "--max-tokens", "1", "--seed", "1", "--model"]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile-home")


@pytest.fixture(scope="module")
def corpus(home: Path, smollm_path: Path) -> list[Case]:
    """The damaged files, in the folder the scan calls the person's own models folder."""
    cases = build_corpus(home / "data" / "synthscope" / "models", smollm_path)
    assert len(cases) >= 200
    return cases


def assert_plain(message: str) -> None:
    text = message.strip()
    assert text and "\n" not in text, message
    assert not any(word in text for word in JARGON), message


def first_of_each(corpus: list[Case], kinds: tuple[str, ...]) -> list[Case]:
    chosen = [next(case for case in corpus if case.kind == kind) for kind in kinds]
    assert len(chosen) == len(kinds)
    return chosen


def test_the_header_reader_accepts_or_refuses_each_file_in_one_plain_line(corpus: list[Case]) -> None:
    refused: Counter[str] = Counter()
    for case in corpus:
        try:
            check_file(case.path)
            facts = read_facts(case.path)
        except ModelLoadError as exc:  # any other exception fails the test with its traceback
            assert_plain(str(exc))
            assert case.path.name in str(exc)
            refused[case.kind] += 1
            continue
        assert case.kind in WELL_FORMED, f"{case.path.name} ({case.kind}) was read as a model"
        if case.kind.endswith("chat template not a string"):
            assert not facts.has_chat_template and facts.chat_template is None
    broken = [case for case in corpus if case.kind not in WELL_FORMED]
    assert sum(refused.values()) >= len(broken) > 200


def test_the_command_line_refuses_each_file_in_one_plain_line(
        corpus: list[Case], home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """In this process: a file that would make llama.cpp abort must be caught by the probe's child."""
    outcome: dict[str, Counter[str]] = defaultdict(Counter)
    for case in corpus:
        code = main([*TRACE, str(case.path)])
        out, err = capsys.readouterr()
        if code == 0:
            assert case.may_load, f"{case.path.name} ({case.kind}) opened"
            assert json.loads(out)["steps"] and not err
            outcome[case.kind]["opened"] += 1
            continue
        assert code == 2 and not out
        assert err.startswith("synthscope: error: ") and case.path.name in err
        assert_plain(err)
        outcome[case.kind]["crashed llama.cpp in the check" if "crashed" in err else
                           "refused by llama.cpp in the check" if "llama.cpp" in err else
                           "refused by the header reader"] += 1
    assert sum(outcome["absurd metadata value"].values()) == 6
    assert outcome["absurd metadata value"]["crashed llama.cpp in the check"] >= 1  # the probe's job
    odd = next(case for case in corpus if case.kind == "real file, chat template not a string")
    assert main(["trace", "--chat", "--prompt", "Hi", "--max-tokens", "1", "--model", str(odd.path)]) == 2
    err = capsys.readouterr().err
    assert "has no chat template" in err
    assert_plain(err)
    lines = [f"{kind}: {sum(counts.values())} ({', '.join(f'{n} {what}' for what, n in counts.items())})"
             for kind, counts in outcome.items()]
    lines.append(f"total: {len(corpus)}")
    (home / "hostile-summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_the_command_line_as_a_process_prints_one_line_and_exits_2(corpus: list[Case]) -> None:
    sample = first_of_each(corpus, SUBPROCESS_KINDS)

    def run(case: Case) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "synthscope", *TRACE, str(case.path)], capture_output=True,
                              text=True, timeout=120, stdin=subprocess.DEVNULL, env=dict(os.environ))

    with ThreadPoolExecutor(max_workers=3) as pool:
        done = list(pool.map(run, sample))
    for case, result in zip(sample, done):
        if case.may_load and result.returncode == 0:
            assert json.loads(result.stdout)["steps"]
            continue
        assert result.returncode == 2, (case.kind, result.returncode, result.stderr[-2000:])
        assert result.stderr.startswith("synthscope: error: ") and case.path.name in result.stderr
        assert_plain(result.stderr)
        assert not result.stdout


def test_the_model_scan_lists_every_file_with_its_error_and_goes_on(
        qtbot, qapp, corpus: list[Case], home: Path, monkeypatch: pytest.MonkeyPatch,
        smollm_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from synthscope.ui import theme
    from synthscope.ui.models.picker import LOOKING, PATH_ROLE, ModelPickerDialog

    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("OLLAMA_MODELS", str(home / "ollama"))
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.setattr(discovery, "project_models_dir", lambda: None)
    monkeypatch.setattr(discovery, "gemma_model_path", lambda: None)
    files = {str(case.path): case for case in corpus if case.path.is_file()}

    found = discovery.discover()
    assert len(found) == len(files) + 1  # and the shipped SmolLM2
    assert [model.path for model in found if model.source == "package"] == [str(smollm_path)]
    for model in found:
        if model.source == "package":
            assert model.error is None
            continue
        case = files[model.path]
        if case.kind not in WELL_FORMED:
            assert model.error is not None, model.path
        if model.error is not None:
            assert_plain(model.error)

    theme.apply(qapp)
    dialog = ModelPickerDialog(str(smollm_path))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.status.text() != LOOKING, timeout=60_000)
    assert dialog.table.rowCount() == len(files) + 1
    broken = sum(1 for model in found if model.error)
    assert dialog.status.text().startswith(f"{len(files) + 1} models found. {broken} cannot be opened")
    for row in range(dialog.table.rowCount()):
        name = dialog.table.item(row, 0)
        tip = name.toolTip()
        path = tip.split("\n")[0]
        if path == str(smollm_path) or name.data(PATH_ROLE):
            continue
        assert dialog.table.item(row, 3).text() == "Cannot be opened"
        why = tip.split("This file cannot be opened: ", 1)[1]
        assert_plain(why)
    dialog.close()

    capsys.readouterr()
    assert main(["models"]) == 0
    out, err = capsys.readouterr()
    unusable = [line for line in out.splitlines() if "cannot be used: " in line]
    assert len(unusable) == broken and not err
    for line in unusable:
        assert_plain(line.split("cannot be used: ", 1)[1])


def test_opening_damaged_files_in_the_window_shows_one_line_and_it_keeps_working(
        qtbot, qapp, corpus: list[Case]) -> None:
    from synthscope.engine import default_model_path
    from window_helpers import WAIT_MS, loaded_window

    win = loaded_window(qtbot, qapp, seed=3)
    for case in first_of_each(corpus, WINDOW_KINDS):
        win.models.open_model_file(str(case.path))
        qtbot.waitUntil(lambda: win.doc.state in ("idle", "no-model"), timeout=WAIT_MS)
        if case.may_load and win.doc.state == "idle":
            assert not win.doc.chatting  # a number where the chat template belongs: raw text only
            win.run.step()
            qtbot.waitUntil(lambda: win.doc.state == "idle" and not win.steps.pending, timeout=WAIT_MS)
            assert len(win.doc.mirror) == 1
            continue
        assert win.doc.state == "no-model", case.kind
        message = win.parts.banner.text.text()
        assert win.parts.banner.isVisible() and case.path.name in message
        assert_plain(message)
        assert win.commands.open_model.isEnabled() and not win.commands.generate.isEnabled()
    win.models.load_model(default_model_path(), probe=False)
    qtbot.waitUntil(lambda: win.doc.state == "idle", timeout=WAIT_MS)
    assert not win.parts.banner.isVisible()
    win.run.step()
    qtbot.waitUntil(lambda: win.doc.state == "idle" and not win.steps.pending, timeout=WAIT_MS)
    assert len(win.doc.mirror) == 1 and win.parts.editor.toPlainText()
    win.close()
