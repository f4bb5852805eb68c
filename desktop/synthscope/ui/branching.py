"""The main window's branches: write another token anywhere, replay with other settings, follow any
path of the exploration tree, and pick each token yourself."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QMenu

from synthscope.session import Step
from synthscope.session.divergence import explain_divergence, first_difference
from synthscope.session.tree import ExplorationTree, TreeError
from synthscope.ui.compare import CompareWindow
from synthscope.ui.text_view import Piece
from synthscope.ui.worker_messages import RunRequest
from synthscope.ui.wording import visible

if TYPE_CHECKING:
    from synthscope.ui.main_window import MainWindow

    _Base = MainWindow
else:
    _Base = object

ALTERNATIVES = 10  # candidates offered in the menu


class Branching(_Base):
    """Mixed into MainWindow. The tree (session layer) is changed here, the panel only shows it."""

    tree: ExplorationTree
    following: list[Step] | None  # the path the worker is switching to
    replay_of: tuple[int, int] | None  # (branch it replays, from step): explained when it ends
    alternatives_menu: QMenu | None

    def _init_branching(self) -> None:
        self.tree = ExplorationTree()
        self.following = None
        self.replay_of = None
        self.alternatives_menu = None
        panel = self.branches_panel
        panel.branchChosen.connect(self.choose_branch)
        panel.renamed.connect(self.rename_branch)
        panel.deleteRequested.connect(self.delete_branch)
        panel.undoDeleteRequested.connect(self.undo_delete_branch)
        w = self.handle.worker
        w.truncated.connect(self._truncated)
        w.followed.connect(self._followed)
        w.proposed.connect(self._proposed)
        self.editor.tokenClicked.connect(self.offer_alternatives)
        self.commands.manual.toggled.connect(self._manual_toggled)
        self.show_tree()

    # -- the tree and its panel ---------------------------------------------------------------
    def show_tree(self) -> None:
        self.tree.set_path(self.mirror.steps)
        was_alone = self.branches_panel.tree.isHidden()
        self.branches_panel.show_tree(self.tree, self.token_text)
        total = sum(self.text_split.sizes())
        if was_alone and len(self.tree.branches) > 1:  # the first branch: room for the tree
            self.text_split.setSizes([total * 2 // 3, total - total * 2 // 3])
        elif not was_alone and len(self.tree.branches) == 1:  # back to the hint alone
            self.text_split.setSizes([total, 0])
        self.editor.set_fork_mark(self.tree.left_parent_at(self.tree.current))
        self.schedule_autosave()

    def new_tree(self) -> None:
        self.tree.clear()
        self.replay_of = None
        self.branches_panel.note.hide()

    # -- writing another token, replaying --------------------------------------------------
    def offer_alternatives(self, index: int) -> None:
        """The clicked step's candidates: picking one writes it there and goes on from it."""
        if self.state != "idle" or index >= len(self.mirror):
            return
        step = self.mirror.steps[index]
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        title = menu.addAction(f"Word piece {index + 1}: write another one here instead")
        title.setEnabled(False)
        for row in step.trace.candidates[:ALTERNATIVES]:
            token = int(row["token_id"])
            label = (f"‘{self.token_text(token)}’   {float(row['p_raw']):.1%} the model's chance · "
                     f"{float(row['p_final']):.1%} after the samplers")
            action = menu.addAction(label)
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
        if self.state != "idle" or index >= len(self.mirror):
            return
        if token is not None and index < len(self.mirror) and self.mirror.steps[index].token_id == token:
            return  # the same token: nothing would change
        self.show_tree()
        parent, original = self.tree.current, list(self.mirror.steps)
        self.tree.fork(index)
        length = len(original) - index
        if token is None:
            self.replay_of = (parent, index)
            max_tokens = max(length, 1)
        else:
            self.replay_of = None
            max_tokens = max(length, 1) if not self.commands.manual.isChecked() else 1
        self.launch(RunRequest(None, self.mirror.seed, max_tokens, self.controls.ignore_end.isChecked(),
                               self.stops.stops(), fork=(index, token)))

    def _truncated(self, index: int) -> None:
        self.run_clock = (self.run_clock[0], index)
        extra = len(self.mirror) - index
        for _ in range(extra):
            self.mirror.pop()
        self.editor.remove_last_tokens(extra)
        self.pending.clear()

    def explain_replay(self) -> None:
        """After a replay: where it first differs from the path it replays, and why."""
        if self.replay_of is None:
            return
        parent_id, start = self.replay_of
        self.replay_of = None
        parent = self.tree.branches.get(parent_id)
        if parent is None:
            return
        index = first_difference(parent.steps, self.mirror.steps, start)
        if index is None:
            text = "The replay wrote the same text as before: the new settings changed no pick."
        else:
            text = explain_divergence(parent.steps, self.mirror.steps, index,
                                      lambda token: visible(self.token_text(token)))
            self.select_step(index if index < len(self.mirror) else None)
        self.branches_panel.show_note(text)
        sizes = self.text_split.sizes()  # the note must not squeeze the tree: give the panel its height
        wanted = min(self.branches_panel.sizeHint().height(), sum(sizes) // 2)
        if sizes[1] < wanted:
            self.text_split.setSizes([sum(sizes) - wanted, wanted])

    # -- following another path ------------------------------------------------------------
    def choose_branch(self, branch_id: int) -> None:
        if self.state != "idle" or branch_id == self.tree.current or branch_id not in self.tree.branches:
            self.show_tree()
            return
        self.card.hide()
        self.tree.set_path(self.mirror.steps)
        self.following = list(self.tree.select(branch_id))
        self._set_state("busy")
        self.statusBar().showMessage("Switching to the branch…")
        self.handle.follow(self.following)

    def _followed(self, n_steps: int) -> None:
        steps, self.following = self.following, None
        if steps is None:
            steps = self.pending_session_steps()
        if steps is not None and n_steps == len(steps):
            self.show_path(steps)
        self._set_state("idle")
        self.statusBar().clearMessage()
        self.show_tree()
        self._refresh_panels()

    def show_path(self, steps: list[Step]) -> None:
        """The text and the panels show `steps` (the worker follows them already)."""
        ends = self.model.end_tokens if self.model else frozenset()
        self.mirror.replace_steps(steps)
        self.requested_logits.clear()
        self.pending.clear()
        self.editor.clear_generated()
        self.editor.append_tokens([Piece(s.text, s.trace.chosen_p_raw, s.token_id in ends) for s in steps])
        self.selected = None

    def rename_branch(self, branch_id: int, name: str) -> None:
        try:
            self.tree.rename(branch_id, name)
        except TreeError as exc:
            self.banner.show_message(str(exc))
        self.show_tree()

    def delete_branch(self, branch_id: int) -> None:
        if self.state != "idle":
            return
        was = self.tree.current
        try:
            self.tree.delete(branch_id)
        except TreeError as exc:
            self.banner.show_message(str(exc))
            return
        if self.tree.current != was:
            self._follow_current()
        else:
            self.show_tree()

    def undo_delete_branch(self) -> None:
        if self.state != "idle" or not self.tree.can_undo_delete:
            return
        was = self.tree.current
        self.tree.undo_delete()
        if self.tree.current != was:
            self._follow_current()
        else:
            self.show_tree()

    def _follow_current(self) -> None:
        self.following = list(self.tree.path)
        self._set_state("busy")
        self.handle.follow(self.following)

    # -- comparing ------------------------------------------------------------------------
    def open_compare(self) -> CompareWindow | None:
        """Run → Compare runs side by side: the current prompt (or chat) in a window of its own."""
        if self.model is None:
            return None
        if self.chatting:
            message = self.chat_input.message_text() or self.conversation.asking or ""
            if not message:
                self.banner.show_message("Write a message first: the comparison answers it.")
                return None
            messages = self.conversation.next_messages(message, self.reply_text()) \
                if self.chat_input.message_text() else self.conversation.messages()
            prompt = message
        else:
            messages = None
            prompt = self.mirror.prompt if len(self.mirror) else self.editor.toPlainText()
        window = CompareWindow(prompt, self.controls.settings(), self.controls.seed(), self.model.path,
                               self, messages, engine=self.engine_preferences())
        window.show()
        self.compare_windows = [w for w in getattr(self, "compare_windows", []) if w.isVisible()] + [window]
        return window

    def engine_preferences(self) -> dict[str, object]:
        """The Performance choices a compare window loads its models with (not the context length)."""
        wanted = dict(self.performance.preferences())
        wanted.pop("context", None)
        return wanted

    # -- picking each token yourself --------------------------------------------------------
    def _manual_toggled(self, on: bool) -> None:
        self.statusBar().showMessage(
            "You pick each word piece: press Step (Space) to see the candidates." if on else
            "The dice pick the word pieces again.", 8000)

    def propose_next(self) -> None:
        """Manual mode: ask what the dice would write next, then offer the candidates."""
        if self.state == "idle" and len(self.mirror.prompt_tokens):
            self.handle.peek(self.controls.settings())
        elif self.state == "idle":
            self._start(1)  # no run yet: the first token starts one

    def _proposed(self, proposal: tuple[int, Step]) -> None:
        index, step = proposal
        if self.state != "idle" or index != len(self.mirror) or not self.commands.manual.isChecked():
            return
        menu = QMenu(self)
        title = menu.addAction(f"Word piece {index + 1}: which one should be written?")
        title.setEnabled(False)
        dice = menu.addAction(f"🎲 Let the dice decide (they land on ‘{self.token_text(step.token_id)}’)")
        dice.triggered.connect(lambda: self.pick(index, None))
        menu.setActiveAction(dice)
        for row in step.trace.candidates[:ALTERNATIVES]:
            token = int(row["token_id"])
            action = menu.addAction(f"‘{self.token_text(token)}’   {float(row['p_raw']):.1%} the model's "
                                    f"chance · {float(row['p_final']):.1%} after the samplers")
            action.triggered.connect(lambda _c=False, t=token: self.pick(index, t))
        end = self.editor.cursorRect(self.editor.textCursor())
        self.alternatives_menu = menu
        menu.popup(self.editor.viewport().mapToGlobal(end.bottomRight()))

    def pick(self, index: int, token: int | None) -> None:
        """Write `token` as step `index` (a person's pick; None: the dice's), nothing else."""
        if self.state != "idle" or index != len(self.mirror):
            return
        self.launch(RunRequest(None, self.mirror.seed, 1, True, (), fork=(index, token)))
