"""What the text view paints over its text: the fork flag, word-piece boundaries, the note at the end."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QTextCursor

from synthscope.ui import theme

# The text view (ui/steps/text_view.TokenTextView), which imports this module: its spans, fork_at,
# tail_note, token_rects() and span_index() are what these painters read.
TokenTextView = Any


def paint_tail_note(view: TokenTextView, p: QPainter) -> None:
    """The view's tail note just after the last word piece, or under it when the line is full."""
    font = QFont(view.font())
    font.setItalic(True)
    font.setPointSize(max(theme.BASE_POINT_SIZE, font.pointSize() - 4))
    p.setFont(font)
    p.setPen(QColor(theme.WARNING_INK))
    end = QTextCursor(view.document())
    end.movePosition(QTextCursor.MoveOperation.End)
    rect = view.cursorRect(end)
    width = p.fontMetrics().horizontalAdvance(view.tail_note) + 12
    room = view.viewport().width() - rect.right() - 8
    x, y = (rect.right() + 10, rect.top()) if room >= width else (4, rect.bottom() + 2)
    p.drawText(QRect(x, y, view.viewport().width() - x - 4, rect.height() + 4),
               int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap),
               view.tail_note)


def paint_fork(view: TokenTextView, p: QPainter) -> None:
    """A flag where the shown branch left the text it came from."""
    rects = view.token_rects(view.fork_at)  # type: ignore[arg-type]
    if not rects:
        return
    first = rects[0]
    colour = QColor(theme.ACCENT)
    p.setPen(QPen(colour, 3))
    p.drawLine(first.left() - 2, first.top(), first.left() - 2, first.bottom())
    p.setBrush(colour)
    p.setPen(Qt.PenStyle.NoPen)
    p.drawPolygon([QPoint(first.left() - 3, first.top()), QPoint(first.left() + 6, first.top() + 4),
                   QPoint(first.left() - 3, first.top() + 8)])


def paint_boundaries(view: TokenTextView, p: QPainter) -> None:
    """Thin ticks where one token ends and the next begins (only while the mouse is over the text)."""
    first = view.span_index(view.cursorForPosition(QPoint(0, 0)).position()) or 0
    last_pos = view.cursorForPosition(QPoint(view.viewport().width(), view.viewport().height()))
    last = view.span_index(last_pos.position())
    last = len(view.spans) - 1 if last is None else last
    p.setPen(QPen(QColor(theme.MUTED), 1))
    cursor = QTextCursor(view.document())
    for start, _ in view.spans[first:last + 1]:
        cursor.setPosition(start)
        rect = view.cursorRect(cursor)
        p.drawLine(rect.left(), rect.top() + 2, rect.left(), rect.bottom() - 2)
