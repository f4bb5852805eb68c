"""A whole exploration as one JSON document: the run format (its current path) plus every branch."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from synthscope.sampling import SamplerSettings, SettingsError
from synthscope.session.chat import ROLES
from synthscope.session.file_checks import (MAX_LIST, MAX_NAME_CHARS, MAX_TEXT_CHARS, MAX_TOKENS,
                                            SessionFileError, damaged, items, mapping, maybe_whole, shown,
                                            text, whole)
from synthscope.session.json_io import (read_json, record_from_dict, record_to_dict, step_to_dict,
                                        steps_from_dicts, write_json)
from synthscope.session.record import RunRecord
from synthscope.session.tree import TRUNK, Branch, ExplorationTree


@dataclass
class Exploration:
    """What a session file holds: the run (prompt, seed, model, pieces; its steps are the current
    path), the branches, and the window's state to put back (settings, chat, anything JSON)."""

    record: RunRecord
    branches: list[Branch]
    current: int = TRUNK
    settings: SamplerSettings | None = None  # the sliders when it was saved
    extras: dict[str, Any] = field(default_factory=dict)  # e.g. the conversation of chat mode


def shared_length(a: list, b: list) -> int:
    """How many first steps two paths share (the same Step, or the same token)."""
    n = 0
    for x, y in zip(a, b):
        if x is not y and x.token_id != y.token_id:
            break
        n += 1
    return n


def exploration_to_dict(exploration: Exploration) -> dict[str, Any]:
    by_id = {b.id: b for b in exploration.branches}
    current = by_id[exploration.current]
    document = record_to_dict(replace(exploration.record, steps=current.steps))
    branches = []
    for branch in sorted(exploration.branches, key=lambda b: b.id):
        parent = by_id.get(branch.parent) if branch.parent is not None else None
        # A parent undone after the fork may be shorter than the branch point: store what is shared.
        shared = 0 if parent is None else min(branch.fork_at, shared_length(parent.steps, branch.steps))
        branches.append({"id": branch.id, "name": branch.name, "parent": branch.parent,
                         "fork_at": branch.fork_at, "shared": shared,
                         "steps": [step_to_dict(step, exploration.record) for step in branch.steps[shared:]]})
    document["branches"] = branches
    document["current_branch"] = exploration.current
    if exploration.settings is not None:
        document["window_settings"] = exploration.settings.to_record()
    document.update(exploration.extras)
    return document


def exploration_from_dict(data: Any) -> Exploration:
    """Version 2 with branches, or any run document (version 1 or 2): a run is its trunk."""
    record = record_from_dict(data)
    settings = None
    try:
        if isinstance(data.get("window_settings"), dict):
            settings = SamplerSettings.from_dict(data["window_settings"])
        listed = data.get("branches")
        if not listed:
            branches = [Branch(TRUNK, "Main text", None, 0, list(record.steps))]
            current = TRUNK
        else:
            branches, current = _branches_from_dicts(listed, data.get("current_branch", TRUNK), record)
            record.steps = list(next(b for b in branches if b.id == current).steps)
        extras = {"chat": _chat_from_dict(data["chat"])} if data.get("chat") is not None else {}
    except SettingsError as exc:
        raise SessionFileError(f"The session file is damaged: {exc}") from exc
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise SessionFileError("The session file is damaged: some of its parts are missing or of the "
                               "wrong kind.") from exc
    return Exploration(record, branches, current, settings, extras)


def _branches_from_dicts(values: Any, wanted: Any, record: RunRecord) -> tuple[list[Branch], int]:
    """The branches, each after its parent, and the one followed (`wanted`)."""
    branches: list[Branch] = []
    by_id: dict[int, Branch] = {}
    cache: dict[tuple, SamplerSettings] = {}
    found = [mapping(item, "a branch") for item in items(values, "the branches")]
    for item in sorted(found, key=lambda i: whole(i.get("id"), "a branch's number", 0, MAX_LIST)):
        number = int(item["id"])
        if number in by_id:
            raise damaged(f"two branches have the number {number}")
        parent_id = maybe_whole(item.get("parent"), f"branch {number}'s parent", 0, MAX_LIST)
        shared = whole(item.get("shared"), f"branch {number}'s shared steps", 0, MAX_TOKENS)
        if parent_id is not None and parent_id not in by_id:
            raise damaged(f"branch {number} leaves a branch that is not in the file")
        prefix = by_id[parent_id].steps[:shared] if parent_id is not None else []
        if len(prefix) != shared:
            raise damaged(f"branch {number} shares more steps than its parent has")
        steps = prefix + steps_from_dicts(item.get("steps"), record.pieces, cache, record.model.vocab_size)
        branch = Branch(number, text(item.get("name"), f"branch {number}'s name", MAX_NAME_CHARS), parent_id,
                        min(whole(item.get("fork_at"), f"branch {number}'s fork", 0, MAX_TOKENS), len(steps)),
                        steps)
        by_id[branch.id] = branch
        branches.append(branch)
    current = whole(wanted, "the current branch's number", 0, MAX_LIST)
    if TRUNK not in by_id or current not in by_id:
        raise damaged("the main text or the current branch is missing")
    return branches, current


def _chat_from_dict(value: Any) -> dict[str, Any]:
    """The conversation of chat mode, as the window puts it back."""
    chat = mapping(value, "the conversation")
    if not chat:
        return {}
    turns = []
    for turn in items(chat.get("turns") or [], "the conversation's messages"):
        turn = mapping(turn, "a message of the conversation")
        role = turn.get("role")
        if role not in ROLES:
            raise damaged(f"a message of the conversation is from {shown(role)}, not a person or the model")
        turns.append({"role": role, "content": text(turn.get("content"), "a message", MAX_TEXT_CHARS)})
    asking = chat.get("asking")
    return {"system": text(chat.get("system") or "", "the system message", MAX_TEXT_CHARS),
            "asking": None if asking is None else text(asking, "the question being answered", MAX_TEXT_CHARS),
            "turns": turns}


def save_exploration(exploration: Exploration, path: str | Path) -> None:
    write_json(exploration_to_dict(exploration), path)


def load_exploration(path: str | Path) -> Exploration:
    return exploration_from_dict(read_json(path))


def tree_of(exploration: Exploration) -> ExplorationTree:
    tree = ExplorationTree()
    tree.restore(exploration.branches, exploration.current)
    return tree
