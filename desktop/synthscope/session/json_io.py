"""JSON save/load of a run and of a whole exploration (schema-versioned); the trace command writes
the same format. Version 2 added the exploration's branches (a run is an exploration of one
branch); version 1 files are still read."""
from __future__ import annotations

import errno
import glob
import json
import math
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from synthscope.sampling import FRESH, KNOWN_STAGES, Feedback, SamplerSettings, SettingsError, StageTrace, StepTrace
from synthscope.sampling.feedback import AdaptiveState
from synthscope.sampling.dice import MAX_SEED
from synthscope.sampling.trace import CANDIDATE_DTYPE, FINAL_DTYPE, NOT_REMOVED
from synthscope.session.file_checks import (LOGIT_LIMIT, MAX_FILE_BYTES, MAX_LIST, MAX_NAME_CHARS,
                                            MAX_PIECE_CHARS, MAX_TEXT_CHARS, MAX_TOKENS, MAX_VOCAB, SLACK,
                                            SessionFileError, chance, chances, damaged, items, mapping,
                                            number, score, shown, text, whole, wholes)
from synthscope.session.head_record import HeadRecordError, head_from_dict
from synthscope.session.record import ModelIdentity, RunRecord, Step

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)
LEFTOVER_SECONDS = 600  # a temporary file this old belongs to no writer still running
MAX_FEEDBACK = 1e6  # mirostat's mu and adaptive-p's sums stay far below this in any real run


def record_to_dict(record: RunRecord) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "model": vars(record.model),
        "prompt": record.prompt,
        "prompt_tokens": list(record.prompt_tokens),
        "seed": record.seed,
        "top_n": record.top_n,
        "text": record.text,
        "steps": [step_to_dict(step, record) for step in record.steps],
        "token_pieces": {str(k): v.hex() for k, v in sorted(record.pieces.items())},
        "engine": record.engine,
        "stop_sequences": list(record.stop_sequences),
    }


def step_to_dict(step: Step, record: RunRecord) -> dict[str, Any]:
    trace = step.trace
    return {
        "token_id": step.token_id,
        "text": step.text,
        "u": step.u,
        "entropy_raw": trace.entropy_raw,
        "entropy_final": trace.entropy_final,
        "p_raw": trace.chosen_p_raw,
        "p_final": None if math.isnan(trace.chosen_p_final) else trace.chosen_p_final,  # past the list kept
        "settings": step.settings.to_record(),
        **({"chosen_by": step.chosen_by} if step.chosen_by != "dice" else {}),
        **({"xtc_u": step.xtc_u} if step.xtc_u is not None else {}),
        **({"feedback_in": step.feedback_in.to_dict()} if step.feedback_in != FRESH else {}),
        **({"feedback_out": step.feedback_out.to_dict()} if step.feedback_out != FRESH else {}),
        "stages": [{"name": s.name, "active": s.active, "n_in": s.n_in, "kept": s.kept,
                    "removed_mass": s.removed_mass, "changed": s.changed,
                    **({"detail": s.detail} if s.detail is not None else {})} for s in trace.stages],
        "candidates": [{"token_id": int(c["token_id"]), "text": record.piece_text(int(c["token_id"])),
                        "logit": float(c["logit"]), "p_raw": float(c["p_raw"]),
                        "p_final": float(c["p_final"]),
                        "removed_by": None if c["removed_by"] == NOT_REMOVED
                        else trace.stages[c["removed_by"]].name} for c in trace.candidates],
        "final": {"size": trace.final_size, "chosen_index": trace.chosen_index,
                  "token_ids": trace.final["token_id"].tolist(), "p": trace.final["p"].tolist()},
        "chosen_logit": trace.chosen_logit,
        **({"rank": trace.chosen_rank} if trace.chosen_rank else {}),
        **({"head": step.head} if step.head is not None else {}),
    }


def record_from_dict(data: Any) -> RunRecord:
    if not isinstance(data, dict) or "schema_version" not in data:
        raise SessionFileError("This is not a Synthscope session file.")
    version = data["schema_version"]
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise SessionFileError(f"This session file has format version {shown(version)}; "
                               f"this Synthscope reads versions up to {SCHEMA_VERSION}.")
    try:
        model = model_from_dict(data.get("model"))
        vocab = model.vocab_size
        pieces = pieces_from_dict(data.get("token_pieces"), vocab)
        if "text" in data:  # written for people and other programs; the steps' texts make it again
            text(data["text"], "the text", MAX_TEXT_CHARS)
        record = RunRecord(model, text(data.get("prompt"), "the prompt", MAX_TEXT_CHARS),
                           wholes(data.get("prompt_tokens"), "the prompt's tokens", 0, vocab - 1, MAX_TOKENS),
                           whole(data.get("seed"), "the seed", 0, MAX_SEED),
                           whole(data.get("top_n"), "the number of candidates kept", 0, MAX_LIST),
                           pieces=pieces, engine=dict(mapping(data.get("engine") or {}, "the engine")),
                           stop_sequences=[text(s, "a stop sequence", MAX_NAME_CHARS) for s in
                                           items(data.get("stop_sequences") or [], "the stop sequences")])
        record.steps = steps_from_dicts(data.get("steps"), pieces, {}, vocab)
    except SettingsError as exc:
        raise SessionFileError(f"The session file is damaged: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise SessionFileError("The session file is damaged: some of its parts are missing or of the "
                               "wrong kind.") from exc
    return record


def model_from_dict(value: Any) -> ModelIdentity:
    model = mapping(value, "the model's description")
    return ModelIdentity(text(model.get("path"), "the model's file name", MAX_TEXT_CHARS),
                         text(model.get("name"), "the model's name", MAX_NAME_CHARS),
                         whole(model.get("file_size"), "the model's file size", 0, 1 << 50),
                         text(model.get("head_sha256"), "the model's fingerprint", 64),
                         whole(model.get("vocab_size"), "the model's vocabulary size", 1, MAX_VOCAB))


def pieces_from_dict(value: Any, vocab: int) -> dict[int, bytes]:
    pieces = {}
    for key, piece in mapping(value, "the word pieces").items():
        token = int(key) if key.isdecimal() and len(key) < 10 else -1
        pieces[whole(token, "a word piece's token number", 0, vocab - 1)] = bytes.fromhex(
            text(piece, "a word piece", 2 * MAX_PIECE_CHARS))
    return pieces


def steps_from_dicts(values: Any, pieces: dict[int, bytes], settings_cache: dict[str, SamplerSettings],
                     vocab: int) -> list[Step]:
    """The steps of a path; each token number must be in the model's vocabulary of `vocab` tokens."""
    steps = []
    for n, item in enumerate(items(values, "the steps", MAX_TOKENS), start=1):
        item = mapping(item, f"step {n}")
        raw = mapping(item.get("settings"), f"step {n}'s settings")
        try:
            key: str | None = json.dumps(raw, sort_keys=True)
        except (TypeError, ValueError):  # not JSON's kinds of value: from_dict says what is wrong
            key = None
        settings = settings_cache.get(key) if key is not None else None
        if settings is None:
            settings = SamplerSettings.from_dict(raw)
            if key is not None:
                settings_cache[key] = settings
        chosen_by = item.get("chosen_by", "dice")
        if chosen_by not in ("dice", "person"):
            raise damaged(f"step {n} was chosen by {shown(chosen_by)}, neither the dice nor a person")
        token = whole(item.get("token_id"), f"step {n}'s token number", 0, vocab - 1)
        u, xtc_u = item.get("u"), item.get("xtc_u")
        steps.append(Step(token, pieces.get(token, b""),
                          text(item.get("text"), f"step {n}'s text", MAX_PIECE_CHARS),
                          None if u is None else number(u, f"step {n}'s dice", 0.0, 1.0),
                          settings, _trace_from_dict(item, n, vocab), chosen_by,
                          None if xtc_u is None else number(xtc_u, f"step {n}'s XTC draw", 0.0, 1.0),
                          _feedback_from_dict(item.get("feedback_in"), n),
                          _feedback_from_dict(item.get("feedback_out"), n),
                          _head_from_dict(item.get("head"), n, vocab)))
    return steps


def _feedback_from_dict(value: Any, n: int) -> Feedback:
    if value is None:
        return FRESH
    values = mapping(value, f"what step {n}'s samplers carried over")
    mu = values.get("mirostat_mu")
    adaptive = None
    if "adaptive_weighted_sum" in values or "adaptive_total_weight" in values:
        adaptive = AdaptiveState(number(values.get("adaptive_weighted_sum"), f"step {n}'s adaptive-p memory",
                                        -MAX_FEEDBACK, MAX_FEEDBACK),
                                 number(values.get("adaptive_total_weight"), f"step {n}'s adaptive-p memory",
                                        0.0, MAX_FEEDBACK))
    return Feedback(None if mu is None else number(mu, f"step {n}'s mirostat state", -MAX_FEEDBACK, MAX_FEEDBACK),
                    adaptive)


def _detail_from_dict(value: Any, n: int) -> dict[str, Any] | None:
    """A stage's detail: a few numbers, flags and token lists, nothing else."""
    if value is None:
        return None
    detail = mapping(value, f"a stage's detail at step {n}")
    if len(detail) > 16:
        raise damaged(f"a stage's detail at step {n} is too long")
    for key, entry in detail.items():
        if isinstance(entry, list):
            wholes(entry, f"a stage's detail at step {n}", 0, MAX_VOCAB, MAX_LIST)
        elif entry is not None and not isinstance(entry, (bool, int, float)):
            raise damaged(f"a stage's detail at step {n} holds {shown(entry)}")
        elif isinstance(entry, float) and not math.isfinite(entry):
            raise damaged(f"a stage's detail at step {n} holds a number that is not finite")
    return dict(detail)


def _trace_from_dict(item: dict[str, Any], n: int, vocab: int) -> StepTrace:
    values = [mapping(s, f"a stage of step {n}") for s in
              items(item.get("stages"), f"step {n}'s stages", len(KNOWN_STAGES))]
    names = [s.get("name") for s in values]
    if not names or any(name not in KNOWN_STAGES for name in names) or len(set(names)) != len(names):
        raise damaged(f"step {n}'s stages are not the sampler's stages")
    stages = tuple(StageTrace(s["name"], bool(s.get("active")),
                              whole(s.get("n_in"), f"step {n}'s word count", 0, vocab),
                              whole(s.get("kept"), f"step {n}'s kept word count", 0, vocab),
                              chance(s.get("removed_mass"), f"step {n}'s removed chance"),
                              whole(s.get("changed"), f"step {n}'s changed word count", 0, vocab),
                              _detail_from_dict(s.get("detail"), n))
                   for s in values)
    cands = _candidates_from_dicts(items(item.get("candidates"), f"step {n}'s candidates"), n, vocab,
                                   tuple(names))
    draw = mapping(item.get("final"), f"step {n}'s draw")
    ids = wholes(draw.get("token_ids"), f"step {n}'s draw", 0, vocab - 1, vocab)
    p = chances(draw.get("p"), f"the chances of step {n}'s draw", vocab)
    if len(p) != len(ids):
        raise damaged(f"step {n}'s draw has {len(ids):,} words but {len(p):,} chances")
    final = np.zeros(len(ids), dtype=FINAL_DTYPE)
    final["token_id"], final["p"] = ids, p
    size = whole(draw.get("size"), f"step {n}'s draw size", len(ids), vocab)
    return StepTrace(stages, cands, final, size,
                     whole(draw.get("chosen_index"), f"step {n}'s chosen place", -1, max(size - 1, -1)),
                     number(item.get("entropy_raw"), f"step {n}'s uncertainty", -SLACK, LOGIT_LIMIT),
                     number(item.get("entropy_final"), f"step {n}'s uncertainty", -SLACK, LOGIT_LIMIT),
                     score(item.get("chosen_logit"), f"step {n}'s score"),
                     chance(item.get("p_raw"), f"step {n}'s chance"), None,
                     whole(item.get("rank", 0), f"step {n}'s rank", 0, vocab))


def _head_from_dict(value: Any, n: int, vocab: int) -> dict[str, Any] | None:
    try:
        return head_from_dict(value, vocab)
    except HeadRecordError as error:
        raise damaged(f"step {n}: {error}") from None


def _candidates_from_dicts(found: list[Any], n: int, vocab: int, names: tuple[str, ...]) -> np.ndarray:
    """The candidates of step `n`: a quick look at all of them, and the slow, explaining checks only
    when one is wrong (a long session has tens of thousands)."""
    stage = {None: NOT_REMOVED, **{name: i for i, name in enumerate(names)}}
    high = 1.0 + SLACK

    def fine(c: Any) -> bool:
        return (type(c) is dict and type(c.get("token_id")) is int and 0 <= c["token_id"] < vocab
                and type(c.get("logit")) is float and -LOGIT_LIMIT <= c["logit"] <= LOGIT_LIMIT
                and type(c.get("p_raw")) is float and 0.0 <= c["p_raw"] <= high
                and type(c.get("p_final")) is float and 0.0 <= c["p_final"] <= high
                and (c.get("removed_by") is None or type(c["removed_by"]) is str and c["removed_by"] in stage))

    if not all(fine(c) for c in found):
        found = [_candidate_from_dict(c, n, vocab, names) for c in found]
    return np.array([(c["token_id"], c["logit"], c["p_raw"], c["p_final"], stage[c.get("removed_by")])
                     for c in found], dtype=CANDIDATE_DTYPE)


def _candidate_from_dict(value: Any, n: int, vocab: int, names: tuple[str, ...]) -> dict[str, Any]:
    c = mapping(value, f"a candidate of step {n}")
    removed_by = c.get("removed_by")
    if removed_by is not None and removed_by not in names:
        raise damaged(f"a candidate of step {n} was crossed out by {shown(removed_by)}, not a stage")
    return {"token_id": whole(c.get("token_id"), f"a candidate of step {n}", 0, vocab - 1),
            "logit": score(c.get("logit"), f"a candidate's score at step {n}"),
            "p_raw": chance(c.get("p_raw"), f"a candidate's chance at step {n}"),
            "p_final": chance(c.get("p_final"), f"a candidate's chance at step {n}"),
            "removed_by": removed_by}


def save_record(record: RunRecord, path: str | Path) -> None:
    write_json(record_to_dict(record), path)


def write_json(document: dict[str, Any], path: str | Path, indent: int | None = None) -> None:
    """`document` as UTF-8 JSON, written whole or not at all (see write_atomically)."""
    encoded = json.dumps(document, ensure_ascii=False, indent=indent).encode("utf-8")
    if len(encoded) > MAX_FILE_BYTES:  # it could not be opened again
        raise OSError(errno.EFBIG, f"the session is larger than the {MAX_FILE_BYTES >> 20} MB Synthscope "
                                   "can open again")
    write_atomically(encoded, path)


def write_atomically(encoded: bytes, path: str | Path) -> None:
    """Written beside the target under a name no other writer uses, flushed to disk, then moved over
    it: a crash, a kill, a full disk or another window saving at the same moment leaves either the
    old file or the new one, never half of one."""
    path = Path(path)
    temporary = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}-"
                               f"{secrets.token_hex(4)}.part")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(encoded)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    _remove_leftovers(path)


def _remove_leftovers(path: Path) -> None:
    """Temporary files of writers killed before their move (another writer's is younger)."""
    now = time.time()
    for leftover in path.parent.glob(f"{glob.escape(path.name)}.*.part"):
        try:
            if now - leftover.stat().st_mtime > LEFTOVER_SECONDS:
                leftover.unlink()
        except OSError:
            pass


def _sync_folder(folder: Path) -> None:
    """The rename itself reaches the disk (a power cut could otherwise undo it); Windows has no
    way to open a folder for this, and its renames are journalled."""
    if os.name == "nt":
        return
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:  # some file systems cannot sync a folder; the file itself is on disk
        pass
    finally:
        os.close(handle)


def unsaved_words(path: str | Path, error: OSError, automatic: bool = False) -> str:
    """Why a session was not saved, in one plain sentence that says the old file is kept."""
    reason = failure_reason(error)
    if automatic:
        return f"The automatic copy of this session could not be saved ({reason}); the last copy is kept."
    return f"The session could not be saved to {path} ({reason}); any file already there is kept."


def failure_reason(error: OSError) -> str:
    """Why a file could not be written, in a few plain words."""
    return {errno.ENOSPC: "the disk is full", getattr(errno, "EDQUOT", errno.ENOSPC): "the disk is full",
            errno.EACCES: "Synthscope may not write in that folder",
            errno.EPERM: "Synthscope may not write in that folder",
            errno.EROFS: "that disk can only be read"}.get(error.errno or 0, error.strerror or str(error))


def load_record(path: str | Path) -> RunRecord:
    return record_from_dict(read_json(path))


def read_json(path: str | Path) -> Any:
    """The document in a session file; one larger than MAX_FILE_BYTES is refused before reading."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > MAX_FILE_BYTES:
                raise SessionFileError(f"{path.name} is {size / 1e6:,.0f} MB, too large to be a session "
                                       f"file (they are at most {MAX_FILE_BYTES >> 20} MB).")
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:  # it grew while being read
            raise SessionFileError(f"{path.name} is too large to be a session file.")
        return json.loads(raw.decode("utf-8"))
    except FileNotFoundError as exc:
        raise SessionFileError(f"There is no file at {path}.") from exc
    except IsADirectoryError as exc:
        raise SessionFileError(f"{path.name} is a folder, not a session file.") from exc
    except PermissionError as exc:
        raise SessionFileError(f"Synthscope may not read {path.name}.") from exc
    except OSError as exc:
        raise SessionFileError(f"{path.name} could not be read ({exc.strerror or exc}).") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise SessionFileError(f"{path.name} is not a readable session file: it is cut short, damaged "
                               "or not a session at all.") from exc
    except RecursionError as exc:
        raise SessionFileError(f"{path.name} is not a readable session file: it is nested too "
                               "deeply to be a session.") from exc
    except MemoryError as exc:
        raise SessionFileError(f"{path.name} is too large to open with the memory this computer has "
                               "free.") from exc
