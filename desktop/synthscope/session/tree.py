"""The exploration: one prompt and seed, and a tree of branches (paths of steps) that never loses one.

Every branch holds its whole path from the first generated token, sharing the Step objects with the
branch it left (a list of references, not copies), so cutting or deleting one branch never changes
another. `fork_at` is where a branch left its parent: the index of its first step of its own.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from synthscope.session.record import Step

TRUNK = 0
MAX_NAME = 60


class TreeError(ValueError):
    """A branch operation that cannot be done; the message is one plain sentence."""


@dataclass
class Branch:
    id: int
    name: str
    parent: int | None  # None for the trunk
    fork_at: int  # the index of the first step that is this branch's own
    steps: list[Step] = field(default_factory=list)  # the whole path, from the first token


@dataclass
class Removed:
    """What a delete took away, for its undo."""

    branches: list[Branch]
    was_current: bool


class ExplorationTree:
    """The branches of one run. The current branch is the path the window shows and extends."""

    def __init__(self) -> None:
        self.branches: dict[int, Branch] = {TRUNK: Branch(TRUNK, "Main text", None, 0)}
        self.current = TRUNK
        self._next_id = 1
        self._deleted: list[Removed] = []

    # -- reading ----------------------------------------------------------------------------
    @property
    def path(self) -> list[Step]:
        return self.branches[self.current].steps

    def children(self, branch_id: int) -> list[Branch]:
        """Branches that left `branch_id`, in the order of where they left it."""
        kids = [b for b in self.branches.values() if b.parent == branch_id]
        return sorted(kids, key=lambda b: (b.fork_at, b.id))

    def ancestors(self, branch_id: int) -> list[int]:
        chain, parent = [], self.branches[branch_id].parent
        while parent is not None:
            chain.append(parent)
            parent = self.branches[parent].parent
        return chain

    def left_parent_at(self, branch_id: int) -> int | None:
        """Where the path of `branch_id` parts from its parent's (None for the trunk)."""
        branch = self.branches[branch_id]
        return None if branch.parent is None else branch.fork_at

    # -- changing the current path ---------------------------------------------------------
    def set_path(self, steps: list[Step]) -> None:
        """The current branch's path is now `steps` (after generating, undoing, a replay)."""
        branch = self.branches[self.current]
        branch.steps = list(steps)
        if len(branch.steps) < branch.fork_at:
            branch.fork_at = len(branch.steps)  # undone past where it left: it is all shared now

    def fork(self, at: int, name: str | None = None) -> Branch:
        """A new branch leaving the current path before step `at`; it becomes the current one and
        shares steps 0..at-1. The old continuation stays where it was."""
        source = self.branches[self.current]
        if not 0 <= at <= len(source.steps):
            raise TreeError(f"There is no token {at + 1} to branch from.")
        branch = Branch(self._next_id, name or f"Branch {self._next_id}", self.current, at,
                        source.steps[:at])
        self.branches[branch.id] = branch
        self._next_id += 1
        self.current = branch.id
        return branch

    def select(self, branch_id: int) -> list[Step]:
        if branch_id not in self.branches:
            raise TreeError("That branch no longer exists.")
        self.current = branch_id
        return self.path

    # -- naming and deleting ---------------------------------------------------------------
    def rename(self, branch_id: int, name: str) -> None:
        name = " ".join(name.split())
        if not name:
            raise TreeError("A branch needs a name.")
        if len(name) > MAX_NAME:
            raise TreeError(f"A branch name can be at most {MAX_NAME} characters long.")
        self.branches[branch_id].name = name

    def subtree(self, branch_id: int) -> list[int]:
        found, todo = [], [branch_id]
        while todo:
            here = todo.pop()
            found.append(here)
            todo += [b.id for b in self.children(here)]
        return found

    def delete(self, branch_id: int) -> list[int]:
        """Remove a branch and every branch that left it; Undo delete brings them back. The
        trunk stays. Returns the removed ids. If the current branch goes, its parent is shown."""
        if branch_id == TRUNK:
            raise TreeError("The main text cannot be deleted; clear it instead.")
        if branch_id not in self.branches:
            raise TreeError("That branch no longer exists.")
        ids = self.subtree(branch_id)
        was_current = self.current in ids
        parent = self.branches[branch_id].parent
        self._deleted.append(Removed([self.branches.pop(i) for i in ids], was_current))
        if was_current:
            self.current = TRUNK if parent is None else parent
        return ids

    @property
    def can_undo_delete(self) -> bool:
        return bool(self._deleted)

    def undo_delete(self) -> list[int]:
        if not self._deleted:
            raise TreeError("Nothing was deleted.")
        removed = self._deleted.pop()
        for branch in removed.branches:
            self.branches[branch.id] = branch
        if removed.was_current:
            self.current = removed.branches[0].id
        return [b.id for b in removed.branches]

    def restore(self, branches: list[Branch], current: int) -> None:
        """Replace everything (a session file was opened)."""
        self.branches = {b.id: b for b in branches}
        if TRUNK not in self.branches:
            raise TreeError("The session has no main text.")
        self.current = current if current in self.branches else TRUNK
        self._next_id = max(self.branches) + 1
        self._deleted.clear()

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]
