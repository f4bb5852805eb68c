"""Branches: write another word piece anywhere, replay with other settings, and follow any path of
the exploration tree."""
from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, Signal
from PySide6.QtWidgets import QMenu, QSplitter

from synthscope.session import Step
from synthscope.session.divergence import explain_divergence, first_difference
from synthscope.session.tree import TreeError
from synthscope.session.workspace import Workspace
from synthscope.ui.exploring.branches import BranchesPanel
from synthscope.ui.frame.notices import Notices
from synthscope.ui.frame.run_state import RunState
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.settings.stop_sequences import StopSequencesBox
from synthscope.ui.steps.display import StepDisplay
from synthscope.ui.steps.hover_card import HoverCard
from synthscope.ui.steps.text_view import TokenTextView
from synthscope.ui.wording import visible
from synthscope.ui.worker.handle import WorkerHandle
from synthscope.ui.writing.manual import ALTERNATIVES, candidate_label
from synthscope.ui.writing.run import Run


class Branching(QObject):
    """The tree (in the document) is changed here; the panel only shows it."""

    treeChanged = Signal()  # shown anew: worth an autosave

    def __init__(self, doc: Workspace, panel: BranchesPanel, text_split: QSplitter, editor: TokenTextView,
                 card: HoverCard, controls: ControlsPanel, stops: StopSequencesBox, handle: WorkerHandle,
                 run_state: RunState, run: Run, steps: StepDisplay, notices: Notices,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.doc, self.panel, self.text_split, self.editor, self.card = doc, panel, text_split, editor, card
        self.controls, self.stops, self.handle = controls, stops, handle
        self.run_state, self.run, self.steps, self.notices = run_state, run, steps, notices
        self.alternatives_menu: QMenu | None = None  # the clicked step's candidates on offer
        self.show_tree()

    # -- the tree and its panel ---------------------------------------------------------------
    def show_tree(self) -> None:
        tree = self.doc.tree
        tree.set_path(self.doc.mirror.steps)
        was_alone = self.panel.tree.isHidden()
        self.panel.show_tree(tree, self.steps.token_text)
        total = sum(self.text_split.sizes())
        if was_alone and len(tree.branches) > 1:  # the first branch: room for the tree
            self.text_split.setSizes([total * 2 // 3, total - total * 2 // 3])
        elif not was_alone and len(tree.branches) == 1:  # back to the hint alone
            self.text_split.setSizes([total, 0])
        self.editor.set_fork_mark(tree.left_parent_at(tree.current))
        self.treeChanged.emit()

    def new_tree(self) -> None:
        self.doc.tree.clear()
        self.doc.replay_of = None
        self.panel.note.hide()

    def forgotten(self) -> None:
        """The run was forgotten: a tree of one empty branch."""
        self.new_tree()
        self.show_tree()

    def after_run(self) -> None:
        self.show_tree()
        self.explain_replay()

    # -- writing another token, replaying --------------------------------------------------
    def offer_alternatives(self, index: int) -> None:
        """The clicked step's candidates: picking one writes it there and goes on from it."""
        if self.doc.state != "idle" or index >= len(self.doc.mirror):
            return
        step = self.doc.mirror.steps[index]
        menu = QMenu(self.editor.window())
        menu.setToolTipsVisible(True)
        title = menu.addAction(f"Word piece {index + 1}: write another one here instead")
        title.setEnabled(False)
        for row in step.trace.candidates[:ALTERNATIVES]:
            token = int(row["token_id"])
            action = menu.addAction(candidate_label(self.steps.token_text(token), float(row["p_raw"]),
                                                    float(row["p_final"])))
            action.setCheckable(True)
            action.setChecked(token == step.token_id)
            action.setToolTip("The text after it is written again with the same dice; the old text "
                              "stays as a branch.")
            action.triggered.connect(lambda _c=False, t=token: self.branch_from(index, t))
        menu.addSeparator()
        replay = menu.addAction("Write on from here with the current settings (same dice)")
        replay.setToolTip("Replays the rest of this text from this word piece with the sampler settings "
                          "as they are now, and says where and why it first differs.")
        replay.triggered.connect(lambda: self.branch_from(index, None))
        rects = self.editor.token_rects(index)
        where = rects[-1].bottomLeft() if rects else QPoint(0, 0)
        self.alternatives_menu = menu
        menu.popup(self.editor.viewport().mapToGlobal(where))

    def branch_from(self, index: int, token: int | None) -> None:
        """A new branch leaving the current path before step `index`: `token` is written there (None:
        the dice choose again, with the current settings) and the text goes on with the same dice."""
        if self.doc.state != "idle" or not self.doc.branch_changes(index, token):
            return
        self.show_tree()
        self.run.launch(self.doc.plan_branch(index, token, self.controls.ignore_end.isChecked(),
                                             self.stops.stops()))

    def branch_future(self, index: int, tokens: tuple[int, ...]) -> None:
        """A future from the futures window made a branch: its word pieces written from step `index`."""
        written = [s.token_id for s in self.doc.mirror.steps[index:index + len(tokens)]]
        if self.doc.state != "idle" or not tokens or written == list(tokens):
            return
        self.show_tree()
        self.run.launch(self.doc.plan_future_branch(index, tokens, self.stops.stops()))

    def explain_replay(self) -> None:
        """After a replay: where it first differs from the path it replays, and why."""
        doc = self.doc
        if doc.replay_of is None:
            return
        parent_id, start = doc.replay_of
        doc.replay_of = None
        parent = doc.tree.branches.get(parent_id)
        if parent is None:
            return
        index = first_difference(parent.steps, doc.mirror.steps, start)
        if index is None:
            text = "The replay wrote the same text as before: the new settings changed no pick."
        else:
            text = explain_divergence(parent.steps, doc.mirror.steps, index,
                                      lambda token: visible(self.steps.token_text(token)))
            self.steps.select_step(index if index < len(doc.mirror) else None)
        self.panel.show_note(text)
        sizes = self.text_split.sizes()  # the note must not squeeze the tree: give the panel its height
        wanted = min(self.panel.sizeHint().height(), sum(sizes) // 2)
        if sizes[1] < wanted:
            self.text_split.setSizes([sum(sizes) - wanted, wanted])

    # -- following another path ------------------------------------------------------------
    def choose_branch(self, branch_id: int) -> None:
        tree = self.doc.tree
        if self.doc.state != "idle" or branch_id == tree.current or branch_id not in tree.branches:
            self.show_tree()
            return
        self.card.hide()
        tree.set_path(self.doc.mirror.steps)
        self.doc.following = list(tree.select(branch_id))
        self.run_state.set("busy")
        self.notices.say("Switching to the branch…")
        self.handle.follow(self.doc.following)

    def take_following(self) -> list[Step] | None:
        steps, self.doc.following = self.doc.following, None
        return steps

    def followed(self, steps: list[Step] | None, n_steps: int) -> None:
        """The worker follows the path it was given (`n_steps` long): show `steps` if they are it."""
        if steps is not None and n_steps == len(steps):
            self.steps.show_path(steps)
        self.run_state.set("idle")
        self.notices.quiet()
        self.show_tree()
        self.steps.refresh_panels()

    def rename_branch(self, branch_id: int, name: str) -> None:
        try:
            self.doc.tree.rename(branch_id, name)
        except TreeError as exc:
            self.notices.problem(str(exc))
        self.show_tree()

    def delete_branch(self, branch_id: int) -> None:
        if self.doc.state != "idle":
            return
        tree = self.doc.tree
        was = tree.current
        try:
            tree.delete(branch_id)
        except TreeError as exc:
            self.notices.problem(str(exc))
            return
        if tree.current != was:
            self._follow_current()
        else:
            self.show_tree()

    def undo_delete_branch(self) -> None:
        tree = self.doc.tree
        if self.doc.state != "idle" or not tree.can_undo_delete:
            return
        was = tree.current
        tree.undo_delete()
        if tree.current != was:
            self._follow_current()
        else:
            self.show_tree()

    def _follow_current(self) -> None:
        self.doc.following = list(self.doc.tree.path)
        self.run_state.set("busy")
        self.handle.follow(self.doc.following)
