"""Hostile session files and rough writing conditions, without a window: cut-short, corrupt, enormous,
deeply nested and absurd files each get one plain sentence; saving is atomic under crashes, full
disks, read-only folders and two writers at once."""
from __future__ import annotations

import copy
import errno
import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from synthscope.engine import Engine
from synthscope.sampling import SamplerSettings
from synthscope.session import Generator
from synthscope.session import json_io
from synthscope.session.exploration_io import exploration_from_dict, load_exploration
from synthscope.session.file_checks import MAX_FILE_BYTES, SessionFileError
from synthscope.session.json_io import (LEFTOVER_SECONDS, read_json, record_to_dict, unsaved_words,
                                        write_json)

SESSION_CODE = Path(json_io.__file__).parent


_MADE: dict[str, dict] = {}


@pytest.fixture
def document(engine: Engine) -> dict[str, Any]:
    """A real run of SmolLM2 as a session document with two branches (the second forks at step 2)."""
    if not _MADE:
        _MADE["document"] = make_document(engine)
    return copy.deepcopy(_MADE["document"])


def make_document(engine: Engine) -> dict[str, Any]:
    gen = Generator(engine, seed=5)
    try:
        gen.start("The robot opened the door and")
        gen.generate(SamplerSettings(), 6, ignore_eos=True)
        data = json.loads(json.dumps(record_to_dict(gen.record)))
    finally:
        gen.close()
    data["branches"] = [{"id": 0, "name": "Main text", "parent": None, "fork_at": 0, "shared": 0,
                         "steps": copy.deepcopy(data["steps"])},
                        {"id": 1, "name": "Other", "parent": 0, "fork_at": 2, "shared": 2,
                         "steps": copy.deepcopy(data["steps"][2:4])}]
    data["current_branch"] = 0
    data["window_settings"] = SamplerSettings().to_dict()
    return data


def one_plain_line(error: SessionFileError) -> str:
    text = str(error)
    assert "\n" not in text and len(text) <= 300 and "Traceback" not in text
    assert not re.search(r"\b(KeyError|TypeError|ValueError|Errno|None)\b", text), text
    return text


def test_the_real_document_loads(document: dict) -> None:
    opened = exploration_from_dict(copy.deepcopy(document))
    assert [s.token_id for s in opened.record.steps] == [s["token_id"] for s in document["steps"]]
    assert len(opened.branches) == 2 and len(opened.branches[1].steps) == 4


def set_path(data: dict, path: tuple, value: Any) -> dict:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


HUGE = 10**400  # beyond a double and beyond 64 bits
HOSTILE = [
    (("steps", 0, "token_id"), 10**9, "token number"),
    (("steps", 0, "token_id"), 49152, "token number"),  # SmolLM2 has 49,152 tokens: one past the end
    (("steps", 0, "token_id"), -1, "token number"),
    (("steps", 0, "token_id"), "12", "not a whole number"),
    (("steps", 0, "token_id"), 2.5, "not a whole number"),
    (("steps", 0, "token_id"), HUGE, "outside"),
    (("steps", 0, "u"), float("nan"), "dice"),
    (("steps", 0, "u"), float("inf"), "dice"),
    (("steps", 0, "u"), 7, "dice"),
    (("steps", 0, "entropy_raw"), 1e308, "uncertainty"),
    (("steps", 0, "chosen_logit"), float("-inf"), "score"),
    (("steps", 0, "candidates", 0, "logit"), 1e308, "score"),
    (("steps", 0, "candidates", 0, "p_raw"), -0.5, "chance"),
    (("steps", 0, "candidates", 0, "token_id"), 10**7, "candidate"),
    (("steps", 0, "candidates", 0, "removed_by"), "the cat", "crossed out"),
    (("steps", 0, "candidates", 1, "removed_by"), ["top_k"], "crossed out"),
    (("steps", 0, "candidates", 1), 3, "candidate"),
    (("steps", 0, "final", "token_ids"), [1, 2, "x"], "draw"),
    (("steps", 0, "final", "p"), [0.5], "chances"),
    (("steps", 0, "final", "size"), -3, "draw size"),
    (("steps", 0, "final", "chosen_index"), 10**6, "chosen place"),
    (("steps", 0, "stages", 0, "n_in"), -7, "word count"),
    (("steps", 0, "stages"), [], "stages"),
    (("steps", 0, "stages"), {"a": 1}, "not a list"),
    (("steps", 0, "settings", "temperature"), -5, "Temperature must be between"),
    (("steps", 0, "settings", "temperature"), 1e9, "Temperature must be between"),
    (("steps", 0, "settings", "top_k"), 10**12, "Top-k must be between"),
    (("steps", 0, "settings", "top_k"), [1, 2], "Top-k must be a number"),
    (("steps", 0, "settings"), ["temperature"], "settings"),
    (("steps", 0, "chosen_by"), "the cat", "chosen by"),
    (("steps", 0, "text"), "x" * 100_000, "characters long"),
    (("steps", 0), "a step", "step 1"),
    (("steps",), {"0": {}}, "not a list"),
    (("seed",), 2**64, "seed"),
    (("seed",), -1, "seed"),
    (("seed",), "1234", "seed"),
    (("top_n",), -20, "candidates kept"),
    (("prompt",), 42, "prompt"),
    (("prompt",), "x" * (100 << 20), "characters long"),  # 100 MB of text
    (("text",), "x" * (100 << 20), "characters long"),
    (("prompt_tokens",), [1, 2, 10**9], "prompt's tokens"),
    (("prompt_tokens",), "1 2 3", "not a list"),
    (("model",), ["SmolLM2"], "model"),
    (("model", "vocab_size"), -1, "vocabulary size"),
    (("model", "vocab_size"), "49152", "vocabulary size"),
    (("token_pieces",), [], "word pieces"),
    (("token_pieces", "999999999"), "41", "word piece"),
    (("token_pieces", "1"), "zz", "wrong kind"),
    (("stop_sequences",), "stop", "not a list"),
    (("branches", 1, "parent"), 7, "not in the file"),
    (("branches", 1, "shared"), 10**6, "shares more steps"),
    (("branches", 1, "shared"), 10**9, "shared steps"),
    (("branches", 1, "id"), 0, "two branches"),
    (("branches", 1, "id"), -4, "branch's number"),
    (("branches", 1, "name"), {"x": 1}, "name"),
    (("branches", 1, "steps", 0, "token_id"), 10**8, "token number"),
    (("branches", 1), None, "missing"),
    (("current_branch",), 9, "current branch"),
    (("current_branch",), "main", "current branch"),
    (("window_settings", "top_p"), float("nan"), "Top-p must be between"),
    (("chat",), {"system": "", "turns": [{"role": "robot", "content": "hi"}]}, "conversation"),
    (("chat",), {"system": 5, "turns": []}, "system message"),
    (("chat",), {"turns": ["hello"]}, "message"),
    (("steps", 0, "head"), "all of them", "not a table"),
    (("steps", 0, "head"), {"seen": 10, "vocab": 10**9}, "does not fit the vocabulary"),
    (("steps", 0, "head"), {"seen": 20, "vocab": 49152, "exact": {"top_k": "surely"}}, "other than exact"),
    (("steps", 0, "head"), {"seen": 20, "vocab": 49152, "listed_mass": 7.0}, "share of the chance"),
    (("steps", 0, "head"), {"seen": 20, "vocab": 49152, "note": ["x"]}, "short text"),
    (("steps", 0, "head"), {"seen": 20, "vocab": 49152, "prompt_exact": "yes"}, "yes-or-no"),
    (("schema_version",), 1e308, "format version"),
    (("schema_version",), True, "format version"),
]


@pytest.mark.parametrize("path, value, words", HOSTILE, ids=[f"{'.'.join(map(str, p))}={str(v)[:12]}"
                                                              for p, v, _ in HOSTILE])
def test_hostile_values_are_refused_in_one_plain_sentence(document: dict, tmp_path: Path, path: tuple,
                                                          value: Any, words: str) -> None:
    data = set_path(document, path, value)
    with pytest.raises(SessionFileError) as caught:
        exploration_from_dict(data)
    assert words in one_plain_line(caught.value)
    # The same through a file: what json writes (NaN, 10**400, 100 MB) is what the file holds.
    (tmp_path / "hostile.json").write_text(json.dumps(data))
    with pytest.raises(SessionFileError, match=re.escape(words)):
        load_exploration(tmp_path / "hostile.json")


def test_every_missing_field_is_refused_in_one_plain_sentence(document: dict) -> None:
    def paths(value: Any, prefix: tuple) -> list[tuple]:
        found = []
        if isinstance(value, dict):
            for key, inner in value.items():
                found += [prefix + (key,)] + paths(inner, prefix + (key,))
        elif isinstance(value, list) and value:
            found += paths(value[0], prefix + (0,))
        return found

    optional = {"engine", "stop_sequences", "text", "window_settings", "chosen_by", "p_final", "u",
                "active", "current_branch", "branches", "removed_by", "parent", "rank",
                *SamplerSettings().to_dict()}  # a setting missing from an older file is its default
    refused = 0
    for path in paths(document, ()):
        data = copy.deepcopy(document)
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
        try:
            exploration_from_dict(data)
        except SessionFileError as exc:
            one_plain_line(exc)
            refused += 1
        else:
            # A list's entry, a word piece (its step shows its text without its bytes), or how the
            # numbers were computed (facts about the run, not read back).
            assert path[-1] in optional or isinstance(path[-1], int) or path[0] in ("token_pieces", "engine")
    assert refused > 40  # nearly every field is needed


@pytest.mark.parametrize("content, words", [
    ("", "not a readable session file"),
    ("[" * 100_000, "not a readable session file"),  # nested past Python's recursion limit
    ("{" + '"a":{' * 100_000, "not a readable session file"),
    ('{"schema_version": 2, "steps": [' + "[" * 50_000, "not a readable session file"),
    ("\ufeff{}", "not a readable session file"),
    ('{"schema_version": 2, "seed": 1' + "0" * 5000 + "}", "not a readable session file"),  # past int digits
    ("[1, 2, 3]", "not a Synthscope session file"),
    ("null", "not a Synthscope session file"),
    ('{"schema_version": [2]}', "format version"),
])
def test_broken_files_give_one_plain_sentence(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SessionFileError, match=words) as caught:
        load_exploration(path)
    one_plain_line(caught.value)


def test_cut_short_and_corrupt_copies_of_a_real_file_are_refused(document: dict, tmp_path: Path) -> None:
    good = json.dumps(document).encode()
    path = tmp_path / "cut.json"
    for cut in range(0, len(good) - 1, max(1, len(good) // 60)):
        path.write_bytes(good[:cut])
        with pytest.raises(SessionFileError) as caught:
            load_exploration(path)
        one_plain_line(caught.value)
    rng = __import__("random").Random(17)
    refused = 0
    for _ in range(150):
        damaged = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        path.write_bytes(bytes(damaged))
        try:
            load_exploration(path)  # a flipped digit can still be a valid file: then it opens
        except SessionFileError as exc:
            one_plain_line(exc)
            refused += 1
    assert refused > 75


@pytest.mark.parametrize("size", [MAX_FILE_BYTES + 1, 1 << 30])
def test_an_enormous_file_is_refused_before_it_is_read(tmp_path: Path, monkeypatch, size: int) -> None:
    path = tmp_path / "enormous.json"
    with path.open("wb") as handle:
        handle.truncate(size)  # sparse: takes no room on the disk
    monkeypatch.setattr(json_io.json, "loads", lambda *a, **k: pytest.fail("it was read"))
    with pytest.raises(SessionFileError, match="too large") as caught:
        read_json(path)
    assert f"{size / 1e6:,.0f} MB" in one_plain_line(caught.value)


def test_a_folder_and_an_unreadable_file_get_plain_sentences(tmp_path: Path) -> None:
    with pytest.raises(SessionFileError, match="a folder"):
        read_json(tmp_path)
    with pytest.raises(SessionFileError, match="There is no file"):
        read_json(tmp_path / "none.json")


def test_session_code_never_runs_what_a_file_holds() -> None:
    pattern = re.compile(r"\b(pickle|marshal|shelve|eval|exec|compile|__import__|yaml\.load)\b\s*[\(\.]"
                         r"|^\s*import\s+(pickle|marshal|shelve)|\bnp\.load\b|allow_pickle")
    files = [*SESSION_CODE.glob("*.py"), *(SESSION_CODE.parent / "ui" / "sessions").glob("*.py")]
    assert len(files) > 10
    for file in files:
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            assert not pattern.search(line), f"{file.name}:{number}: {line.strip()}"


# -- writing ---------------------------------------------------------------------------------
def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.part"))


def test_a_write_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    write_json({"n": 1}, path)
    write_json({"n": 2}, path, indent=1)
    assert json.loads(path.read_text()) == {"n": 2} and leftovers(tmp_path) == []
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~current_umask()  # as any other new file


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.parametrize("where, error", [
    ("dumps", ValueError("boom")), ("fsync", OSError(errno.EIO, "I/O error")),
    ("replace", OSError(errno.ENOSPC, "No space left on device")),
    ("write", OSError(errno.ENOSPC, "No space left on device")),
    ("open", PermissionError(errno.EACCES, "Permission denied")),
    ("replace", KeyboardInterrupt()),
])
def test_a_write_that_fails_midway_keeps_the_old_file(tmp_path: Path, monkeypatch, where: str,
                                                      error: BaseException) -> None:
    path = tmp_path / "s.json"
    write_json({"old": True}, path)
    before = path.read_bytes()

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise error

    if where == "dumps":
        monkeypatch.setattr(json_io.json, "dumps", fail)
    elif where == "write":
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, handle: Any) -> None:
                self.handle = handle

            def __enter__(self) -> "Full":
                return self

            def __exit__(self, *exc: Any) -> None:
                self.handle.close()

            def write(self, data: bytes) -> int:
                self.handle.write(data[:len(data) // 2])
                self.handle.flush()
                raise error

        monkeypatch.setattr(json_io.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(json_io.os, where, fail)
    with pytest.raises(type(error)):
        write_json({"new": "x" * 10_000}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before and leftovers(tmp_path) == []


KILLED_WRITER = """
import os, sys, time
from synthscope.session import json_io
def hang(*args):
    print("WRITING", flush=True)
    time.sleep(60)
setattr(os, sys.argv[2], hang)
json_io.write_json({"new": "x" * 1_000_000}, sys.argv[1])
"""


@pytest.mark.parametrize("moment", ["fsync", "replace"])
def test_a_writer_killed_midway_leaves_the_old_file_readable(tmp_path: Path, moment: str) -> None:
    path = tmp_path / "s.json"
    write_json({"old": True}, path)
    child = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(path), moment],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "WRITING"  # type: ignore[union-attr]
    finally:
        child.kill()
        child.wait(timeout=30)
        child.stdout.close()  # type: ignore[union-attr]
    assert read_json(path) == {"old": True}
    assert len(leftovers(tmp_path)) == 1  # the killed writer's, which a later write clears once old
    (stale,) = leftovers(tmp_path)
    write_json({"next": 1}, path)
    assert leftovers(tmp_path) == [stale]  # it might still be a live writer's
    os.utime(stale, (stale.stat().st_atime, stale.stat().st_mtime - LEFTOVER_SECONDS - 1))
    write_json({"next": 2}, path)
    assert leftovers(tmp_path) == [] and read_json(path) == {"next": 2}


def test_two_writers_at_once_always_leave_one_whole_document(tmp_path: Path) -> None:
    path = tmp_path / "autosave-session.json"
    documents = [{"writer": w, "steps": list(range(20_000 * (w + 1)))} for w in range(2)]
    write_json(documents[0], path)
    stop, problems, reads = threading.Event(), [], [0]

    def write(document: dict) -> None:
        try:
            for _ in range(40):
                write_json(document, path)
        except Exception as exc:  # pragma: no cover - a failure is reported below
            problems.append(exc)

    def read() -> None:
        while not stop.is_set():
            try:
                assert read_json(path) in documents
            except Exception as exc:  # pragma: no cover
                problems.append(exc)
            reads[0] += 1

    writers = [threading.Thread(target=write, args=(d,)) for d in documents]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    reader.join()
    assert problems == [] and reads[0] > 5
    assert read_json(path) in documents and leftovers(tmp_path) == []


def unwritable(folder: Path, monkeypatch) -> None:
    """A folder this process may not write in: by its mode, or (as root, whom modes do not stop) by
    the refusal a real one gives."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return
    real_open = os.open

    def refuse(name: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if Path(name).parent == folder and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(name))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(json_io.os, "open", refuse)


def test_a_read_only_folder_refuses_the_write_and_keeps_the_old_file(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "s.json"
    write_json({"old": True}, path)
    unwritable(folder, monkeypatch)
    try:
        with pytest.raises(OSError) as caught:
            write_json({"new": True}, path)
    finally:
        folder.chmod(0o700)
    monkeypatch.undo()
    assert read_json(path) == {"old": True} and leftovers(folder) == []
    words = unsaved_words(path, caught.value)
    assert words == (f"The session could not be saved to {path} (Synthscope may not write in that "
                     "folder); any file already there is kept.")


@pytest.mark.parametrize("code, reason", [(errno.ENOSPC, "the disk is full"),
                                          (errno.EROFS, "that disk can only be read"),
                                          (errno.EIO, "Input/output error")])
def test_why_a_save_failed_is_one_plain_sentence(code: int, reason: str) -> None:
    error = OSError(code, os.strerror(code))
    assert unsaved_words("/x/s.json", error, automatic=True) == (
        f"The automatic copy of this session could not be saved ({reason}); the last copy is kept.")


def test_a_session_too_large_to_open_again_is_not_written(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "s.json"
    write_json({"old": True}, path)
    monkeypatch.setattr(json_io, "MAX_FILE_BYTES", 1000)
    with pytest.raises(OSError, match="larger than"):
        write_json({"new": "x" * 2000}, path)
    assert read_json(path) == {"old": True} and leftovers(tmp_path) == []


def test_the_trace_command_writes_its_file_whole_and_says_when_it_cannot(
        tmp_path: Path, monkeypatch) -> None:
    from synthscope.cli.main import write_document

    path = tmp_path / "run.json"
    path.write_text('{"old": true}')
    monkeypatch.setattr(json_io.os, "replace", lambda *a: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, "No space left on device")))
    assert write_document({"new": True}, str(path)) == 2
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"old": True} and leftovers(tmp_path) == []
    assert write_document({"new": True}, str(path)) == 0
    assert json.loads(path.read_text()) == {"new": True}
