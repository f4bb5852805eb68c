"""The three views of many futures: the tally of the next word piece (drawn against its chance), the
tree of every path (each as tall as the futures through it), and the list of the texts."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QSizePolicy, QWidget

from synthscope.session.futures import Futures, TreeNode
from synthscope.ui import theme
from synthscope.ui.wording import elide, percent, readable, visible

Namer = Callable[[int], str]
TALLY_ROWS = 12
MIN_SHARE = 0.02  # a path with fewer of the futures joins its siblings' "others" in the tree


class TallyView(QWidget):
    """For the next word piece: how often the dice chose each word (dark) against its chance after the
    samplers (pale), one row per word, most chosen first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[tuple[str, int, float]] = []
        self.n = 0
        self.setMinimumSize(260, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def show_futures(self, futures: Futures, name: Namer) -> None:
        self.n = len(futures.continuations)
        self.rows = [(visible(name(token)), drawn, p) for token, drawn, p in futures.tally()[:TALLY_ROWS]]
        self.update()

    def sentence(self) -> str:
        if not self.rows:
            return ""
        word, drawn, p = self.rows[0]
        return (f"The dice chose ‘{word}’ {drawn} of {self.n} times; its chance was {percent(p)}. "
                "Dark bars: how often each word was chosen; pale bars: its chance after the samplers.")

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = theme.font(theme.BASE_POINT_SIZE, mono=True)
        p.setFont(font)
        row_h = max(p.fontMetrics().height() * 1.6, 24)
        label_w = min(self.width() * 0.28, 130)
        wide = self.width() > 360  # a narrow column gets the short form of the numbers
        value_w = p.fontMetrics().horizontalAdvance(" 100 of 100 · 100% " if wide else " 100 · 100% ") + 8
        bar_w = max(self.width() - label_w - value_w - 16, 40)
        top = max((max(drawn / max(self.n, 1), share) for _, drawn, share in self.rows), default=1.0)
        scale = bar_w / max(top, 0.05)
        for i, (word, drawn, share) in enumerate(self.rows):
            y = i * row_h
            if y + row_h > self.height():
                break
            p.setPen(QColor(theme.INK))
            p.drawText(QRectF(0, y, label_w - 6, row_h), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       elide(word, 14))
            half = row_h * 0.34
            p.fillRect(QRectF(label_w, y + row_h / 2 - half, share * scale, half), QColor(theme.RAW))
            p.fillRect(QRectF(label_w, y + row_h / 2, drawn / max(self.n, 1) * scale, half), QColor(theme.ACCENT))
            p.drawText(QRectF(label_w + bar_w + 8, y, value_w, row_h),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                       f"{drawn} of {self.n} · {percent(share)}" if wide else f"{drawn} · {percent(share)}")
        p.end()


@dataclass(frozen=True)
class Box:
    """One node of the tree on screen: its rectangle, the path to it, and the futures through it."""

    rect: QRectF
    path: tuple[int, ...]
    node: TreeNode | None  # None for the "others" box of small paths
    count: int


class TreeView(QWidget):
    """Every path of the futures, left to right word piece by word piece, each box as tall as the
    share of the futures through it; small paths are pooled as "others". Click a box to pick the
    first future through it."""

    pathClicked = Signal(object)  # tuple of token ids

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree: TreeNode | None = None
        self.name: Namer = lambda token: f"#{token}"
        self.boxes: list[Box] = []
        self.highlight: tuple[int, ...] = ()
        self.setMinimumSize(320, 240)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def show_tree(self, tree: TreeNode, name: Namer) -> None:
        self.tree, self.name, self.highlight = tree, name, ()
        self._lay_out()
        self.update()

    def set_highlight(self, path: tuple[int, ...]) -> None:
        self.highlight = path
        self.update()

    def resizeEvent(self, event: object) -> None:  # noqa: N802
        self._lay_out()

    def _lay_out(self) -> None:
        self.boxes = []
        if self.tree is None or not self.tree.count:
            return
        depth = _depth(self.tree)
        width = max(self.width() / max(depth, 1), 40)
        self._place(self.tree, (), 0, 0.0, float(self.height()), width)

    def _place(self, node: TreeNode, path: tuple[int, ...], level: int, top: float, height: float,
               width: float) -> None:
        total = max(node.count, 1)
        y = top
        small = 0
        for child in sorted(node.children.values(), key=lambda c: -c.count):
            share = child.count / (self.tree.count if self.tree else total)
            h = height * child.count / total
            if share < MIN_SHARE:
                small += child.count
                continue
            child_path = path + (child.token_id,)
            self.boxes.append(Box(QRectF(level * width, y, width - 4, h - 2), child_path, child, child.count))
            self._place(child, child_path, level + 1, y, h, width)
            y += h
        if small:
            h = height * small / total
            self.boxes.append(Box(QRectF(level * width, y, width - 4, h - 2), path + (-1,), None, small))

    def box_at(self, x: float, y: float) -> Box | None:
        return next((box for box in self.boxes if box.rect.contains(x, y)), None)

    def tooltip_for(self, box: Box) -> str:
        n = self.tree.count if self.tree else 1
        if box.node is None:
            return f"{box.count} of {n} futures took rarer turns here (each under {MIN_SHARE:.0%} of them)."
        words = readable("".join(self.name(t) for t in box.path))
        return (f"‘{elide(words, 60)}’: {box.count} of {n} futures ({box.count / n:.0%}) took this path; "
                f"its exact chance is {percent(box.node.path_p)} (the chances after the samplers of each "
                "word piece, multiplied).")

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        box = self.box_at(event.position().x(), event.position().y())
        self.setToolTip(self.tooltip_for(box) if box is not None else "")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        box = self.box_at(event.position().x(), event.position().y())
        if box is not None and box.node is not None:
            self.pathClicked.emit(box.path)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setFont(theme.font(theme.BASE_POINT_SIZE - 1, mono=True))
        metrics = p.fontMetrics()
        for box in self.boxes:
            lit = bool(self.highlight) and self.highlight[:len(box.path)] == box.path
            colour = theme.CHOSEN if lit else (theme.FAINT if box.node is None else theme.ACCENT)
            p.setPen(QPen(QColor(theme.PANEL), 1))
            p.setBrush(QColor(colour))
            p.drawRect(box.rect)
            if box.rect.height() >= metrics.height() + 2:
                label = "others" if box.node is None else visible(self.name(box.path[-1]))
                text = metrics.elidedText(f"{label} {box.count}", Qt.TextElideMode.ElideRight,
                                          int(box.rect.width()) - 6)
                p.setPen(QColor("white"))
                p.drawText(box.rect.adjusted(4, 0, -2, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                           text)
        p.end()


def _depth(node: TreeNode) -> int:
    return 1 + max((_depth(child) for child in node.children.values()), default=0) if node.children else 0


def extreme_paths(tree: TreeNode) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The most likely and the rarest complete path (by exact chance)."""
    leaves: list[tuple[float, tuple[int, ...]]] = []

    def walk(node: TreeNode, path: tuple[int, ...]) -> None:
        if not node.children:
            leaves.append((node.path_p, path))
        for child in node.children.values():
            walk(child, path + (child.token_id,))

    walk(tree, ())
    return max(leaves)[1], min(leaves)[1]


class FutureList(QListWidget):
    """The futures' texts, identical ones grouped with their count, most written first."""

    def show_futures(self, futures: Futures, text: Callable[[list[int]], str]) -> None:
        self.clear()
        groups: dict[tuple[int, ...], int] = {}
        for future in futures.continuations:
            key = tuple(future.token_ids)
            groups[key] = groups.get(key, 0) + 1
        chance = {tuple(f.token_ids): _product(f.p_final) for f in futures.continuations}
        for path, count in sorted(groups.items(), key=lambda item: (-item[1], -chance[item[0]])):
            item = QListWidgetItem(f"×{count}  {readable(text(list(path)))}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(f"Written {count} of {len(futures.continuations)} times; its exact chance is "
                            f"{percent(chance[path])}. Double-click (or Make it a branch) to keep it in the text.")
            self.addItem(item)

    def select_path(self, path: tuple[int, ...]) -> None:
        for row in range(self.count()):
            item = self.item(row)
            if tuple(item.data(Qt.ItemDataRole.UserRole))[:len(path)] == path:
                self.setCurrentRow(row)
                return

    def selected_path(self) -> tuple[int, ...] | None:
        item = self.currentItem()
        return tuple(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None


def _product(values: list[float]) -> float:
    out = 1.0
    for value in values:
        out *= value
    return out
