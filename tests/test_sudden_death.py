"""Sudden death and rough writing in the window: the real app killed while it generates or while it
writes its autosave comes back with the work of all but the last moments; the autosave is written at
most once an interval and once more at the end; a full disk, a locked folder and hostile session
files are said in one line and never cost the good autosave or the session on show."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QSettings

from synthscope.session import json_io
from synthscope.session.exploration_io import load_exploration
from synthscope.ui.sessions import autosave as autosave_module
from synthscope.ui.sessions.autosave import AUTOSAVE_MS, AUTOSAVE_NAME
from synthscope.ui.window.main_window import MainWindow
from synthscope.ui.worker import engine_worker
from synthscope.ui.worker.engine_worker import SEND_SECONDS
from window_helpers import WAIT_MS, loaded_window, worker_generator

# What a kill may cost beyond the autosave's interval: the batch of steps on its way to the window,
# the window's own tick, and the write itself.
LATENESS_S = SEND_SECONDS + 1.0


def tokens(steps: list) -> list[int]:
    return [s.token_id for s in steps]


def idle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)


def saved_steps(path: Path) -> int:
    """Steps on the current path of the autosave at `path` (-1: none yet)."""
    if not path.is_file():
        return -1
    return len(load_exploration(path).record.steps)


# -- the real app in a child process -----------------------------------------------------------
CHILD = textwrap.dedent("""
    import os, sys, time
    from PySide6.QtCore import QSettings, QTimer
    from synthscope.ui.app import create_application, open_window
    from synthscope.ui.sessions.autosave import autosave_path
    if sys.argv[3] == "hang-in-write":  # a power cut while the autosave is written: it never ends
        real_replace = os.replace
        def replace(source, target):
            if str(target) == str(autosave_path()) and autosave_path().is_file():
                print("WRITING", flush=True)
                time.sleep(600)
            return real_replace(source, target)
        os.replace = replace
    app = create_application()
    window = open_window(None, QSettings(sys.argv[1], QSettings.Format.IniFormat))
    started = False
    def tick():
        global started
        if window.doc.state == "idle" and not started:
            started = True
            window.chat.set_mode(False)
            window.parts.controls.max_tokens.setValue(int(sys.argv[2]))
            window.parts.controls.ignore_end.setChecked(True)
            window.run.generate()
        elif started:
            print("STEPS", len(window.doc.mirror), time.monotonic(), flush=True)
    timer = QTimer(); timer.timeout.connect(tick); timer.start(50)
    app.exec()
""")


def start_child(tmp_path: Path, max_tokens: int, mode: str = "") -> tuple[subprocess.Popen, dict, str]:
    """The real app with its own home, cache and settings, generating as soon as it is idle."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "SYNTHSCOPE_CACHE_DIR": str(tmp_path),
           "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / ".local"),
           "XDG_CACHE_HOME": str(home / ".cache")}
    (tmp_path / "engine-choice.json").write_text(  # the machine check `engine_config` made
        (Path(os.environ["SYNTHSCOPE_CACHE_DIR"]) / "engine-choice.json").read_text())
    settings = str(tmp_path / "settings.ini")
    child = subprocess.Popen([sys.executable, "-c", CHILD, settings, str(max_tokens), mode or "-"],
                             env=env, stdout=subprocess.PIPE, text=True)
    return child, env, settings


def kill(child: subprocess.Popen) -> list[str]:
    """kill -9, then the lines it printed before it died."""
    child.send_signal(signal.SIGKILL)
    rest = child.stdout.read().splitlines()  # type: ignore[union-attr]
    child.wait(timeout=30)
    child.stdout.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL
    return rest


def reopen(qtbot, tmp_path: Path, settings: str, monkeypatch, expected: list[int]) -> MainWindow:
    """The app started again where the killed one saved: it puts back `expected` and stays there."""
    from synthscope.ui.app import open_window

    monkeypatch.setenv("SYNTHSCOPE_CACHE_DIR", str(tmp_path))
    window = open_window(None, QSettings(settings, QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.mirror) == len(expected),
                    timeout=WAIT_MS)
    qtbot.wait(500)  # nothing arrives afterwards to undo the restore
    assert tokens(window.doc.mirror.steps) == expected
    assert tokens(worker_generator(window).record.steps) == expected
    window.autosave.enabled = False  # the test's own window must not rewrite it
    return window


def test_killed_while_generating_it_comes_back_losing_at_most_the_autosave_interval(
        qtbot, tmp_path: Path, monkeypatch, engine_config) -> None:
    child, _, settings = start_child(tmp_path, 3000)
    autosave = tmp_path / AUTOSAVE_NAME
    seen: list[tuple[int, float]] = []
    try:
        first = None
        for line in child.stdout:  # type: ignore[union-attr]
            if not line.startswith("STEPS "):
                continue
            _, steps, when = line.split()
            seen.append((int(steps), float(when)))
            if first is None and saved_steps(autosave) > 0:
                first = float(when)  # autosaving while it generates
            if first is not None and float(when) - first > 3 * AUTOSAVE_MS / 1000:
                break  # several autosaves later, in the middle of the run
        else:
            pytest.fail("the app ended before it was killed")
        seen += [(int(s), float(w)) for _, s, w in (line.split() for line in kill(child)
                                                      if line.startswith("STEPS "))]
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    at_kill, killed_at = seen[-1]
    assert at_kill < 3000  # it was still generating
    window_s = AUTOSAVE_MS / 1000 + LATENESS_S
    before_window = max(n for n, when in seen if when <= killed_at - window_s)
    saved = load_exploration(autosave)
    kept = len(saved.record.steps)
    assert at_kill >= kept >= before_window > 0, (at_kill, kept, before_window)
    # A kill that lands inside an autosave's write leaves that one write's side file (cleared by a later
    # save once it is old); never more than one, and never in the autosave's place.
    assert len(list(tmp_path.glob("*.part"))) <= 1
    window = reopen(qtbot, tmp_path, settings, monkeypatch, tokens(saved.record.steps))
    assert window.parts.editor.generated_text() == saved.record.text
    window.close()


def test_a_power_cut_during_the_autosave_write_leaves_the_last_one_whole(
        qtbot, tmp_path: Path, monkeypatch, engine_config) -> None:
    child, _, settings = start_child(tmp_path, 3000, "hang-in-write")
    autosave = tmp_path / AUTOSAVE_NAME
    try:
        for line in child.stdout:  # type: ignore[union-attr]
            if line.startswith("WRITING"):  # the new copy is on the disk, not yet in place
                break
        else:
            pytest.fail("the app ended before it wrote a second autosave")
        before = autosave.read_bytes()
        kill(child)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert autosave.read_bytes() == before
    saved = load_exploration(autosave)
    (cut_off,) = tmp_path.glob(f"{AUTOSAVE_NAME}.*.part")  # the newer copy the cut kept out of place
    assert len(load_exploration(cut_off).record.steps) > len(saved.record.steps) > 0
    window = reopen(qtbot, tmp_path, settings, monkeypatch, tokens(saved.record.steps))
    window.close()


# -- the autosave in a window ------------------------------------------------------------------
@pytest.fixture
def saving_window(qtbot, qapp, tmp_path: Path, monkeypatch) -> MainWindow:
    """A window idle on SmolLM2 with its autosave on, written to tmp_path."""
    monkeypatch.setattr(autosave_module, "autosave_path", lambda: tmp_path / AUTOSAVE_NAME)
    window = loaded_window(qtbot, qapp, seed=3)
    window.autosave.enabled = True
    window.parts.controls.ignore_end.setChecked(True)
    yield window
    window.autosave.enabled = False
    window.close()


def generate(qtbot, window: MainWindow, count: int) -> None:
    window.parts.controls.max_tokens.setValue(count)
    window.run.generate()
    idle(qtbot, window)


def test_the_autosave_is_written_at_most_once_an_interval_and_once_at_the_end(
        qtbot, saving_window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    window, path = saving_window, tmp_path / AUTOSAVE_NAME
    asked: list[float] = []
    written: list[int] = []
    ask = window.handle.autosave
    monkeypatch.setattr(window.handle, "autosave",
                        lambda *args: asked.append(time.monotonic()) or ask(*args))
    real_save = engine_worker.save_exploration

    def save(exploration: Any, target: str) -> None:
        written.append(len(next(b for b in exploration.branches if b.id == exploration.current).steps))
        real_save(exploration, target)

    monkeypatch.setattr(engine_worker, "save_exploration", save)
    started = time.monotonic()
    generate(qtbot, window, 150)
    ran = time.monotonic() - started
    qtbot.waitUntil(lambda: saved_steps(path) == 150, timeout=AUTOSAVE_MS * 3)  # the write at the end
    qtbot.wait(AUTOSAVE_MS + 500)
    assert written[-1] == 150 and len(written) <= len(asked)
    gaps = [b - a for a, b in zip(asked, asked[1:])]
    assert all(gap >= 0.95 * AUTOSAVE_MS / 1000 for gap in gaps), gaps  # a coarse timer: 5 % early
    assert len(asked) <= ran / (AUTOSAVE_MS / 1000) + 2
    assert written == sorted(written) and len(set(written)) == len(written)  # each one newer
    count = len(written)
    qtbot.wait(AUTOSAVE_MS + 500)
    assert len(written) == count  # nothing changed: nothing written


def fail_on(path: Path, code: int, monkeypatch) -> None:
    """Moving a finished copy onto `path` fails as a full disk or a locked folder makes it fail."""
    real = os.replace

    def replace(source: Any, target: Any) -> None:
        if Path(target) == path:
            raise OSError(code, os.strerror(code))
        real(source, target)

    monkeypatch.setattr(json_io.os, "replace", replace)


def test_a_full_disk_is_said_in_one_line_and_the_last_autosave_is_kept(
        qtbot, saving_window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    window, path = saving_window, tmp_path / AUTOSAVE_NAME
    generate(qtbot, window, 8)
    qtbot.waitUntil(lambda: saved_steps(path) == 8, timeout=AUTOSAVE_MS * 3)
    good = path.read_bytes()
    with monkeypatch.context() as patch:
        fail_on(path, errno.ENOSPC, patch)
        generate(qtbot, window, 8)
        qtbot.waitUntil(lambda: not window.parts.banner.isHidden(), timeout=AUTOSAVE_MS * 3)
        assert window.parts.banner.text.text() == ("The automatic copy of this session could not be saved "
                                                   "(the disk is full); the last copy is kept.")
        assert path.read_bytes() == good and list(tmp_path.glob("*.part")) == []
    assert len(window.doc.mirror) == 16 and window.doc.state == "idle"  # the run itself went on
    generate(qtbot, window, 4)  # room again: the next autosave has everything
    qtbot.waitUntil(lambda: saved_steps(path) == 20, timeout=AUTOSAVE_MS * 3)


def test_saving_into_a_locked_folder_says_so_and_keeps_the_file_there(
        qtbot, saving_window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    window = saving_window
    generate(qtbot, window, 6)
    folder = tmp_path / "locked"
    folder.mkdir()
    target = folder / "lesson.json"
    target.write_text('{"an older": "file"}')
    if os.geteuid() == 0:  # root writes anywhere: the refusal a locked folder gives is simulated
        fail_on(target, errno.EACCES, monkeypatch)
    else:
        folder.chmod(0o500)
    try:
        window.handle.save(str(target), window.sessions.snapshot())
        qtbot.waitUntil(lambda: not window.parts.banner.isHidden(), timeout=WAIT_MS)
    finally:
        folder.chmod(0o700)
    assert window.parts.banner.text.text() == (f"The session could not be saved to {target} (Synthscope "
                                               "may not write in that folder); any file already there is kept.")
    assert json.loads(target.read_text()) == {"an older": "file"} and list(folder.glob("*.part")) == []


def hostile_files(folder: Path, good: dict) -> dict[str, Path]:
    """Session files a person might be sent, each wrong in its own way."""
    files: dict[str, Path] = {}

    def put(name: str, content: str | bytes) -> None:
        files[name] = folder / f"{name}.json"
        if isinstance(content, str):
            content = content.encode()
        files[name].write_bytes(content)

    text = json.dumps(good)
    put("cut-short", text[:len(text) // 2])
    put("nested", "[" * 100_000)
    put("binary", bytes(range(256)) * 50)
    changed = json.loads(text)
    changed["steps"][0]["token_id"] = 10**6  # past the vocabulary: llama.cpp would read beyond its tables
    changed.pop("branches", None)
    put("beyond-vocabulary", json.dumps(changed))
    changed = json.loads(text)
    changed["window_settings"] = {**changed["window_settings"], "temperature": -5}
    put("cold", json.dumps(changed))
    changed = json.loads(text)
    changed["model"]["vocab_size"] += 1000  # the same model file, claiming a larger vocabulary
    put("other-vocabulary", json.dumps(changed))
    files["enormous"] = folder / "enormous.json"
    with files["enormous"].open("wb") as handle:
        handle.truncate(1 << 30)
    return files


def test_hostile_session_files_are_refused_and_cost_nothing(
        qtbot, saving_window: MainWindow, tmp_path: Path) -> None:
    window, path = saving_window, tmp_path / AUTOSAVE_NAME
    generate(qtbot, window, 10)
    qtbot.waitUntil(lambda: saved_steps(path) == 10, timeout=AUTOSAVE_MS * 3)
    good_autosave, shown = path.read_bytes(), tokens(window.doc.mirror.steps)
    text = window.parts.editor.toPlainText()
    folder = tmp_path / "sent"
    folder.mkdir()
    for name, file in hostile_files(folder, json.loads(good_autosave)).items():
        window.parts.banner.hide()
        assert not window.sessions.open_session(str(file)), name
        message = window.parts.banner.text.text()
        assert not window.parts.banner.isHidden() and "could not be opened" in message, name
        assert "\n" not in message and "Error" not in message and len(message) < 400, message
        assert window.doc.state == "idle" and tokens(window.doc.mirror.steps) == shown, name
        assert window.parts.editor.toPlainText() == text and window.doc.opening is None
    qtbot.wait(AUTOSAVE_MS + 500)
    assert path.read_bytes() == good_autosave  # nothing was written over the good copy
    assert window.sessions.open_session(str(path))  # the good one still opens
    qtbot.waitUntil(lambda: window.doc.state == "idle" and window.doc.opening is None, timeout=WAIT_MS)
    assert tokens(window.doc.mirror.steps) == shown
