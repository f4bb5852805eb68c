"""The branch tree panel: every path explored from the prompt, where each left its parent, with what."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from synthscope.session.tree import TRUNK, Branch, ExplorationTree
from synthscope.ui import theme
from synthscope.ui.wording import visible

ID_ROLE = Qt.ItemDataRole.UserRole
HELP = ("Every version of the text you explored. A branch leaves its parent at one word piece, where a "
        "different word piece was written; the rest is the same dice. Click one to show it everywhere; "
        "double-click to rename it; Delete removes it and the branches that left it.")


def describe(branch: Branch, tree: ExplorationTree, token_text: Callable[[int], str]) -> str:
    """Where and how a branch left its parent, in words."""
    if branch.parent is None:
        return f"the first text: {len(branch.steps)} word pieces"
    parent = tree.branches.get(branch.parent)
    at = branch.fork_at
    if at >= len(branch.steps):
        return f"from word piece {at + 1}; nothing written yet"
    step = branch.steps[at]
    mine = f"‘{visible(token_text(step.token_id))}’ ({step.trace.chosen_p_raw:.0%})"
    was = ""
    if parent is not None and at < len(parent.steps):
        other = parent.steps[at]
        was = f" instead of ‘{visible(token_text(other.token_id))}’ ({other.trace.chosen_p_raw:.0%})"
    how = "you picked" if step.chosen_by == "person" else "the dice picked"
    return f"word piece {at + 1}: {how} {mine}{was} · {len(branch.steps)} word pieces"


def alone_title() -> str:
    """The panel's one line while there is only the first text (the palette is chosen at start)."""
    return (f"Branches <span style='font-weight:normal; color:{theme.MUTED}'>· none yet: click a word "
            "in the text to try another one there</span>")


class _Tree(QTreeWidget):
    deletePressed = Signal()

    def keyPressEvent(self, e: QKeyEvent) -> None:  # noqa: N802
        if e.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.state() != self.State.EditingState:
            self.deletePressed.emit()
            return
        super().keyPressEvent(e)


class BranchesPanel(QFrame):
    """A view of an ExplorationTree (owned by the window, changed only through its signals)."""

    branchChosen = Signal(int)
    renamed = Signal(int, str)
    deleteRequested = Signal(int)
    undoDeleteRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.undo_button = QPushButton("Undo delete")
        self.undo_button.setToolTip("Bring back the branches deleted last.")
        self.undo_button.clicked.connect(self.undoDeleteRequested)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected branch and every branch that left it "
                                      "(Undo delete brings them back).")
        self.delete_button.clicked.connect(self._delete_selected)
        self.buttons = buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.delete_button)
        row.addWidget(self.undo_button)
        layout, self.title = theme.panel(self, "Branches", buttons)
        self.title.setToolTip(HELP)
        # One line that never widens the window: in a narrow one the end of the sentence is cut (the
        # tooltip says it all).
        self.title.setMinimumWidth(1)  # its whole text is the preferred width, not the minimum
        self.tree = _Tree()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Branch (double-click to rename)",
                                   "Where it starts: the word piece where it left the one before"])
        self.tree.setToolTip(HELP)
        self.tree.setUniformRowHeights(True)
        # Header and two rows at least: it scrolls, so a replay's note below it never has to overlap it.
        self.tree.setMinimumHeight(self.tree.fontMetrics().lineSpacing() * 4)
        self.tree.setEditTriggers(QTreeWidget.EditTrigger.NoEditTriggers)  # only the name: see below
        self.tree.itemDoubleClicked.connect(lambda item, _column: self.tree.editItem(item, 0))
        self.tree.itemClicked.connect(self._clicked)
        self.tree.itemChanged.connect(self._edited)
        self.tree.deletePressed.connect(self._delete_selected)
        self.note = QLabel()  # after a replay: where and why it first differs
        self.note.setWordWrap(True)
        self.note.setFont(theme.font(theme.BASE_POINT_SIZE - 1))
        self.note.setObjectName("whatIfNote")
        self.note.setStyleSheet(f"QLabel#whatIfNote {{ background: {theme.WHATIF_BG}; "
                                f"color: {theme.WHATIF_INK}; border-radius: 6px; padding: 6px; }}")
        self.note.hide()
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.note)
        self.names: dict[int, str] = {}
        self._filling = False

    def show_tree(self, tree: ExplorationTree, token_text: Callable[[int], str]) -> None:
        self._filling = True
        self.tree.clear()
        self.names = {b.id: b.name for b in tree.branches.values()}
        items: dict[int, QTreeWidgetItem] = {}

        def add(branch: Branch, parent: QTreeWidgetItem | None) -> None:
            where = describe(branch, tree, token_text)
            item = QTreeWidgetItem([branch.name, where])
            item.setToolTip(1, where)
            item.setData(0, ID_ROLE, branch.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            item.setToolTip(0, HELP)
            if branch.id == tree.current:
                font = item.font(0)
                font.setBold(True)
                item.setFont(0, font)
                item.setText(0, "▶ " + branch.name)
            items[branch.id] = item
            if parent is None:
                self.tree.addTopLevelItem(item)
            else:
                parent.addChild(item)
            for child in tree.children(branch.id):
                add(child, item)

        add(tree.branches[TRUNK], None)
        self.tree.expandAll()
        self.tree.resizeColumnToContents(0)
        self.tree.setCurrentItem(items[tree.current])
        self.tree.scrollToItem(items[tree.current])
        self._filling = False
        alone = len(tree.branches) == 1
        # A tree of one says nothing: the panel shrinks to one line that says how to make a branch,
        # leaving the room to the text.
        self.title.setText(alone_title() if alone else "Branches")
        self.buttons.setVisible(not alone or tree.can_undo_delete)
        self.tree.setVisible(not alone)
        self.undo_button.setEnabled(tree.can_undo_delete)
        self.delete_button.setEnabled(tree.current != TRUNK)

    def show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.show()

    def _clicked(self, item: QTreeWidgetItem) -> None:
        self.branchChosen.emit(int(item.data(0, ID_ROLE)))

    def _edited(self, item: QTreeWidgetItem) -> None:
        if self._filling:
            return
        branch_id = int(item.data(0, ID_ROLE))
        name = item.text(0).removeprefix("▶ ").strip()
        if name and name != self.names.get(branch_id):
            self.renamed.emit(branch_id, name)

    def _delete_selected(self) -> None:
        item = self.tree.currentItem()
        if item is not None and int(item.data(0, ID_ROLE)) != TRUNK:
            self.deleteRequested.emit(int(item.data(0, ID_ROLE)))
