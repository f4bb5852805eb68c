"""JSON save/load of a run and of a whole exploration (schema-versioned); the trace command writes
the same format. Version 2 added the exploration's branches (a run is an exploration of one
branch); version 1 files are still read."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from synthscope.sampling import STAGE_NAMES, SamplerSettings, SettingsError, StageTrace, StepTrace
from synthscope.sampling.trace import CANDIDATE_DTYPE, FINAL_DTYPE, NOT_REMOVED
from synthscope.session.record import ModelIdentity, RunRecord, Step

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)


class SessionFileError(Exception):
    """A session file cannot be read; str() is one plain sentence."""


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
        "p_final": trace.chosen_p_final,
        "settings": step.settings.to_dict(),
        **({"chosen_by": step.chosen_by} if step.chosen_by != "dice" else {}),
        "stages": [{"name": s.name, "active": s.active, "n_in": s.n_in, "kept": s.kept,
                    "removed_mass": s.removed_mass, "changed": s.changed} for s in trace.stages],
        "candidates": [{"token_id": int(c["token_id"]), "text": record.piece_text(int(c["token_id"])),
                        "logit": float(c["logit"]), "p_raw": float(c["p_raw"]),
                        "p_final": float(c["p_final"]),
                        "removed_by": None if c["removed_by"] == NOT_REMOVED
                        else STAGE_NAMES[c["removed_by"]]} for c in trace.candidates],
        "final": {"size": trace.final_size, "chosen_index": trace.chosen_index,
                  "token_ids": trace.final["token_id"].tolist(), "p": trace.final["p"].tolist()},
        "chosen_logit": trace.chosen_logit,
    }


def record_from_dict(data: dict[str, Any]) -> RunRecord:
    if not isinstance(data, dict) or "schema_version" not in data:
        raise SessionFileError("This is not a Synthscope session file.")
    if data["schema_version"] not in READABLE_VERSIONS:
        raise SessionFileError(f"This session file has format version {data['schema_version']}; "
                               f"this Synthscope reads versions up to {SCHEMA_VERSION}.")
    try:
        pieces = {int(k): bytes.fromhex(v) for k, v in data["token_pieces"].items()}
        record = RunRecord(ModelIdentity(**data["model"]), str(data["prompt"]),
                           [int(t) for t in data["prompt_tokens"]], int(data["seed"]),
                           int(data["top_n"]), pieces=pieces, engine=dict(data.get("engine") or {}),
                           stop_sequences=[str(s) for s in data.get("stop_sequences") or []])
        record.steps = steps_from_dicts(data["steps"], pieces, {})
    except (KeyError, TypeError, ValueError, SettingsError) as exc:
        raise SessionFileError(f"The session file is damaged ({type(exc).__name__}: {exc}).") from exc
    return record


def steps_from_dicts(items: list[dict[str, Any]], pieces: dict[int, bytes],
                     settings_cache: dict[tuple, SamplerSettings]) -> list[Step]:
    steps = []
    for item in items:
        key = tuple(sorted(item["settings"].items()))
        settings = settings_cache.setdefault(key, SamplerSettings.from_dict(item["settings"]))
        chosen_by = str(item.get("chosen_by", "dice"))
        if chosen_by not in ("dice", "person"):
            raise ValueError(f"unknown chooser {chosen_by!r}")
        steps.append(Step(int(item["token_id"]), pieces.get(int(item["token_id"]), b""),
                          str(item["text"]), item["u"], settings, _trace_from_dict(item), chosen_by))
    return steps


def _trace_from_dict(item: dict[str, Any]) -> StepTrace:
    stages = tuple(StageTrace(s["name"], bool(s["active"]), int(s["n_in"]), int(s["kept"]),
                              float(s["removed_mass"]), int(s["changed"])) for s in item["stages"])
    cands = np.zeros(len(item["candidates"]), dtype=CANDIDATE_DTYPE)
    for row, c in zip(cands, item["candidates"]):
        row["token_id"], row["logit"], row["p_raw"], row["p_final"] = (
            c["token_id"], c["logit"], c["p_raw"], c["p_final"])
        row["removed_by"] = NOT_REMOVED if c["removed_by"] is None else STAGE_NAMES.index(c["removed_by"])
    final = np.zeros(len(item["final"]["token_ids"]), dtype=FINAL_DTYPE)
    final["token_id"], final["p"] = item["final"]["token_ids"], item["final"]["p"]
    return StepTrace(stages, cands, final, int(item["final"]["size"]), int(item["final"]["chosen_index"]),
                     float(item["entropy_raw"]), float(item["entropy_final"]),
                     float(item["chosen_logit"]), float(item["p_raw"]))


def save_record(record: RunRecord, path: str | Path) -> None:
    write_json(record_to_dict(record), path)


def write_json(document: dict[str, Any], path: str | Path) -> None:
    """Written beside the target, flushed to disk, then moved over it: a crash or a kill at any
    moment leaves either the old file or the new one, never half of one."""
    path = Path(path)
    temporary = path.with_name(path.name + ".part")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps(document, ensure_ascii=False))
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def load_record(path: str | Path) -> RunRecord:
    return record_from_dict(read_json(path))


def read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SessionFileError(f"There is no file at {path}.") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SessionFileError(f"{path.name} is not a readable session file ({exc}).") from exc
    return data
