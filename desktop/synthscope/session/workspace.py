"""The main window's document, without Qt: the run on show, the step selected, the mode and the
run's state, with the decisions the window's parts make from them."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from synthscope.sampling import SamplerSettings
from synthscope.session.chat import Conversation
from synthscope.session.exploration_io import Exploration
from synthscope.session.mirror import RunMirror, StepExtras, StepView
from synthscope.session.record import Step
from synthscope.session.requests import LoadedModel, RunRequest
from synthscope.session.tree import Branch, ExplorationTree

STATES = ("no-model", "loading", "idle", "running", "busy")  # busy: an undo, a branch switch, an opening


@dataclass(frozen=True)
class ShownStep:
    """What the step panels show for one step: the view (recorded, or a what-if), the recorded step,
    and whether the what-if waits for the step's logits (`fetch`: they must be asked for now)."""

    view: StepView
    recorded: StepView
    fetching: bool = False
    fetch: bool = False
    fetch_extras: tuple[str, tuple[str, ...] | None] | None = None  # (grammar, breakers) to ask for


@dataclass
class Workspace:
    """The state every part of the window reads; each part changes only what it owns (named beside
    each field)."""

    mirror: RunMirror = field(default_factory=RunMirror)  # the run: steps and recent logits
    tree: ExplorationTree = field(default_factory=ExplorationTree)  # branching
    state: str = "no-model"  # one of STATES (the run state)
    model: LoadedModel | None = None  # model loading
    model_source: tuple[Path, bool] | None = None  # what was last opened, and whether it was probed
    queued_model: str | None = None  # asked for while busy: opened when the window is free
    selected: int | None = None  # the step on show; None follows the newest
    text_edited: bool = True  # the text is not yet the prompt of a started run
    requested_logits: set[int] = field(default_factory=set)  # what-ifs waiting for old logits
    # what-ifs waiting for a grammar verdict or DRY table: (step, (grammar, breakers))
    requested_extras: set[tuple[int, tuple[str, tuple[str, ...] | None]]] = field(default_factory=set)
    run_clock: tuple[float, int] = (0.0, 0)  # when the run started, and how many steps there were
    run_speed: tuple[object, float] = (None, 0.0)  # the last run's last step, and its steps per second
    stop_met: str = ""  # the stop sequence that ended the last run, as shown
    chatting: bool = False  # the mode: a conversation (True) or raw text
    manual: bool = False  # a person picks each word piece
    following: list[Step] | None = None  # the path the worker is switching to
    replay_of: tuple[int, int] | None = None  # (branch it replays, from step): explained at its end
    opening: Exploration | None = None  # a session the worker is starting and following
    waiting: Exploration | None = None  # a session waiting for its model to load

    # -- the run --------------------------------------------------------------------------
    @property
    def end_tokens(self) -> frozenset[int]:
        return self.model.end_tokens if self.model is not None else frozenset()

    def ended(self) -> bool:
        """Whether the last step is the model's end of text (or of its turn)."""
        steps = self.mirror.steps
        return bool(steps) and steps[-1].token_id in self.end_tokens

    def forget_run(self, prompt: str) -> None:
        """No run any more: the text (`prompt`) becomes the next run's prompt."""
        self.mirror.reset(prompt, self.mirror.prompt_tokens[:0], 0)
        self.requested_logits.clear()
        self.requested_extras.clear()
        self.selected = None
        self.text_edited = True

    def continuation(self, max_tokens: int, ignore_end: bool, stops: tuple[str, ...]) -> RunRequest:
        """A request that goes on with the current run."""
        return RunRequest(None, self.mirror.seed, max_tokens, ignore_end, stops)

    def made(self) -> int:
        """Steps written since the run (or the continuation) started."""
        return len(self.mirror) - self.run_clock[1]

    def run_rate(self, least_seconds: float = 0.0) -> float | None:
        """Steps per second since the run started (None before two steps or `least_seconds`)."""
        started = self.run_clock[0]
        seconds, made = time.perf_counter() - started, self.made()
        return made / seconds if started and made > 1 and seconds > least_seconds else None

    def finish_words(self, reason: str) -> str:
        """What the status bar says when a run ends (nothing after an error: the banner says it)."""
        made = self.made()
        return {"limit": f"Wrote {made} word pieces.", "stopped": f"Stopped after {made} word pieces.",
                "end": "The model finished its reply." if self.chatting else "The model ended the text.",
                "stop-sequence": f"Stopped at “{self.stop_met}” (a stop sequence) after {made} word pieces.",
                "error": ""}[reason]

    # -- the step on show ---------------------------------------------------------------------
    def select(self, index: int | None) -> None:
        """Show step `index`; the newest (and None) means follow the newest as it grows."""
        self.selected = None if index is None or index >= len(self.mirror) - 1 else index

    def shown_index(self) -> int | None:
        if not self.mirror.steps:
            return None
        return len(self.mirror) - 1 if self.selected is None else self.selected

    def shown_step(self, settings: SamplerSettings) -> ShownStep | None:
        """The step on show as recorded or, when the window is still and `settings` differ from the
        step's own, re-sampled with them on the same dice (a what-if). A what-if whose logits are
        not here is marked to fetch once."""
        index = self.shown_index()
        if index is None:
            return None
        recorded = self.mirror.recorded(index)
        if self.state not in ("idle", "busy") or settings == recorded.settings:
            return ShownStep(recorded, recorded)
        what_if = self.mirror.what_if(index, settings)
        if what_if is not None:
            return ShownStep(what_if, recorded)
        idle = self.state == "idle"
        fetch = index not in self.mirror.logits and index not in self.requested_logits and idle
        if fetch:
            self.requested_logits.add(index)
        missing = self.mirror.missing_extras(index, settings)
        extras = None
        if missing is not None and (index, missing) not in self.requested_extras and idle:
            self.requested_extras.add((index, missing))
            extras = missing
        return ShownStep(recorded, recorded, fetching=True, fetch=fetch, fetch_extras=extras)

    def extras_arrived(self, extras: StepExtras) -> bool:
        """Keep what a what-if asked the engine for; False if the step is gone meanwhile."""
        self.requested_extras = {key for key in self.requested_extras if key[0] != extras.index}
        if extras.index >= len(self.mirror):
            return False
        self.mirror.add_extras(extras)
        return True

    def logits_arrived(self, index: int, logits: object) -> bool:
        """Keep the logits a what-if asked for; False if the step is gone meanwhile."""
        self.requested_logits.discard(index)
        if index >= len(self.mirror):
            return False
        self.mirror.logits.put(index, logits)  # type: ignore[arg-type]
        return True

    def show_path(self, steps: list[Step]) -> None:
        """The run is now `steps` (another branch, or an opened session); their logits are fetched."""
        self.mirror.replace_steps(steps)
        self.requested_logits.clear()
        self.requested_extras.clear()
        self.selected = None

    # -- branches -----------------------------------------------------------------------------
    def branch_changes(self, index: int, token: int | None) -> bool:
        """Whether writing `token` at step `index` (None: the dice again) makes a new branch."""
        return index < len(self.mirror) and (token is None or self.mirror.steps[index].token_id != token)

    def plan_branch(self, index: int, token: int | None, ignore_end: bool,
                    stops: tuple[str, ...]) -> RunRequest:
        """Fork the tree before step `index` and return the run that writes the branch: `token`
        there (None: the dice again, with the current settings, as a replay to explain) and the
        rest with the same dice."""
        parent, length = self.tree.current, len(self.mirror) - index
        self.tree.set_path(self.mirror.steps)
        self.tree.fork(index)
        self.replay_of = (parent, index) if token is None else None
        max_tokens = 1 if token is not None and self.manual else max(length, 1)
        return RunRequest(None, self.mirror.seed, max_tokens, ignore_end, stops, fork=(index, token))

    def plan_future_branch(self, index: int, tokens: tuple[int, ...], stops: tuple[str, ...]) -> RunRequest:
        """Fork the tree before step `index` and return the run that writes `tokens` there, one by one
        as the run writes (so every number is the run's own, exactly): a future taken into the text."""
        self.tree.set_path(self.mirror.steps)
        if index < len(self.mirror):  # at the end of the text the future simply goes on with it
            self.tree.fork(index)
        self.replay_of = None
        return RunRequest(None, self.mirror.seed, len(tokens), False, stops, fork=(index, tokens[0]),
                          then=tuple(tokens[1:]))

    def take_opened(self) -> list[Step] | None:
        """When the worker has followed an opened session's path: its tree is the tree now."""
        if self.opening is None:
            return None
        exploration, self.opening = self.opening, None
        self.tree.restore(exploration.branches, exploration.current)
        self.text_edited = False
        return self.tree.path

    # -- sessions -----------------------------------------------------------------------------
    def snapshot(self, settings: SamplerSettings, conversation: Conversation) -> Exploration | None:
        """The exploration as the window shows it, without the run's facts (the worker adds them);
        None when there is no run to keep."""
        if not len(self.mirror) and not self.tree.branches[0].steps and len(self.tree.branches) == 1:
            return None
        self.tree.set_path(self.mirror.steps)
        branches = [Branch(b.id, b.name, b.parent, b.fork_at, list(b.steps))
                    for b in self.tree.branches.values()]
        extras = {}
        if self.chatting:
            c = conversation
            extras["chat"] = {"system": c.system, "asking": c.asking,
                              "turns": [{"role": t.role, "content": t.content} for t in c.turns]}
        return Exploration(None, branches, self.tree.current, settings, extras)  # type: ignore[arg-type]
