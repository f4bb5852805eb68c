"""A whole exploration as one JSON document: the run format (its current path) plus every branch."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from synthscope.sampling import SamplerSettings, SettingsError
from synthscope.session.json_io import (SessionFileError, step_to_dict, read_json, record_from_dict,
                                        record_to_dict, steps_from_dicts, write_json)
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
        document["window_settings"] = exploration.settings.to_dict()
    document.update(exploration.extras)
    return document


def exploration_from_dict(data: Any) -> Exploration:
    """Version 2 with branches, or any run document (version 1 or 2): a run is its trunk."""
    record = record_from_dict(data)
    settings = None
    try:
        if isinstance(data.get("window_settings"), dict):
            settings = SamplerSettings.from_dict(data["window_settings"])
        items = data.get("branches")
        if not items:
            branches = [Branch(TRUNK, "Main text", None, 0, list(record.steps))]
            current = TRUNK
        else:
            branches, by_id, cache = [], {}, {}
            for item in sorted(items, key=lambda i: int(i["id"])):
                parent_id = None if item["parent"] is None else int(item["parent"])
                shared = int(item["shared"])
                if parent_id is not None and parent_id not in by_id:
                    raise ValueError(f"branch {item['id']} leaves a branch that is not in the file")
                prefix = by_id[parent_id].steps[:shared] if parent_id is not None else []
                if len(prefix) != shared:
                    raise ValueError(f"branch {item['id']} shares more than its parent has")
                steps = prefix + steps_from_dicts(item["steps"], record.pieces, cache)
                branch = Branch(int(item["id"]), str(item["name"]), parent_id,
                                min(int(item["fork_at"]), len(steps)), steps)
                by_id[branch.id] = branch
                branches.append(branch)
            current = int(data.get("current_branch", TRUNK))
            if TRUNK not in by_id or current not in by_id:
                raise ValueError("the main text or the current branch is missing")
            record.steps = list(by_id[current].steps)
    except (KeyError, TypeError, ValueError, AttributeError, SettingsError) as exc:
        raise SessionFileError(f"The session file is damaged ({type(exc).__name__}: {exc}).") from exc
    extras = {key: data[key] for key in ("chat",) if key in data}
    return Exploration(record, branches, current, settings, extras)


def save_exploration(exploration: Exploration, path: str | Path) -> None:
    write_json(exploration_to_dict(exploration), path)


def load_exploration(path: str | Path) -> Exploration:
    return exploration_from_dict(read_json(path))


def tree_of(exploration: Exploration) -> ExplorationTree:
    tree = ExplorationTree()
    tree.restore(exploration.branches, exploration.current)
    return tree
