"""The text: prompt plus generated tokens shaded by their probability, with hover and click per token."""
from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from typing import NamedTuple

from PySide6.QtCore import QEvent, QPoint, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QRegion,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from synthscope.ui import theme
from synthscope.ui.steps.text_marks import paint_boundaries, paint_fork, paint_tail_note

TEXT_LINES = 10  # lines of text that stay in sight whatever panels are open
END_MARK = " ⬣ end of text "  # ⬣, a stop sign's shape: ■ is the legends' colour swatch
FRAME_MARGIN = 4  # pixels the selected token's frame reaches beyond the token
ROLE_NAMES = {"system": "Instructions for the model", "user": "You", "assistant": "Model"}


def chat_end_mark(p: float) -> str:
    """How the end of a chat reply shows: the model picked its end-of-turn token, with its chance."""
    return f" ⬣ the model chose to stop here (its chance: {p:.0%}) "


class Piece(NamedTuple):
    """One generated token as the editor receives it."""

    text: str  # what the token adds to the run's text
    p: float  # its chance before the samplers, which picks the shading
    end: bool = False  # the model's end-of-text token: shown as END_MARK, read back as `text`


class TokenTextView(QPlainTextEdit):
    """One editor: the prompt is ordinary text; each generated token is a span tied to its step."""

    tokenClicked = Signal(int)
    tokenHovered = Signal(int, QPoint)  # step index, global position for the card
    hoverLeft = Signal()
    userEdited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.min_lines = TEXT_LINES  # before the font is set: a font change fits the least height
        self.setFont(theme.font(theme.TEXT_POINT_SIZE))
        self.setUndoRedoEnabled(False)  # Ctrl+Z removes tokens; a second, text-level undo would confuse
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.viewport().setMouseTracking(True)
        self.spans: list[tuple[int, int]] = []  # document positions [start, end) per step
        self.marked: dict[int, str] = {}  # step index -> its own text, for steps shown as END_MARK
        self.prompt_end = 0
        self.end_mark: Callable[[float], str] = lambda _p: END_MARK  # chat mode names the chance
        self.selected: int | None = None
        self.frame_colour = theme.CHOSEN  # the frame around the selected token
        self.fork_at: int | None = None  # where the shown branch left its parent
        self.hovered: int | None = None
        self._mouse_inside = False
        self._programmatic = 0
        self.tail_note = ""  # painted after the last word piece, e.g. that a reply was cut short
        self.document().contentsChange.connect(self._contents_changed)
        self._fit_min_height()

    def set_min_lines(self, lines: int) -> None:
        """The least number of lines kept in sight (presentation mode's full-height column needs fewer
        of its large ones to fit 1280×720)."""
        self.min_lines = lines
        self._fit_min_height()

    def _fit_min_height(self) -> None:
        """The text first: room for `min_lines` lines at the font it has, whatever panels are open."""
        self.setMinimumHeight(self.fontMetrics().lineSpacing() * self.min_lines + 2 * self.frameWidth()
                              + 2 * int(self.document().documentMargin()) + 8)

    def changeEvent(self, e: QEvent) -> None:  # noqa: N802
        super().changeEvent(e)
        if e.type() == QEvent.Type.FontChange:
            self._fit_min_height()

    # --- content -------------------------------------------------------------------------
    def set_prompt(self, text: str) -> None:
        with self._editing():
            self.setPlainText(text)
        self.spans, self.marked, self.selected, self.hovered = [], {}, None, None
        self.prompt_end = self._end()
        self.moveCursor(QTextCursor.MoveOperation.End)  # ready to go on typing the prompt

    def set_transcript(self, messages: list[dict[str, str]], replying: bool = True) -> None:
        """A chat shown as its turns under quiet role labels (never the template's markup); the
        model's reply follows the last label when `replying`."""
        label, body = QTextCharFormat(), QTextCharFormat()
        label.setFont(theme.font(max(theme.BASE_POINT_SIZE, self.font().pointSize() - 5), bold=True))
        label.setForeground(QColor(theme.MUTED))
        label.setFontCapitalization(QFont.Capitalization.AllUppercase)
        label.setFontLetterSpacing(105)
        turns = [(m["role"], m["content"]) for m in messages] + ([("assistant", "")] if replying else [])
        with self._editing():
            self.clear()
            cursor = QTextCursor(self.document())
            cursor.beginEditBlock()
            for number, (role, content) in enumerate(turns):
                if number:
                    cursor.insertText("\n\n", body)
                cursor.insertText(ROLE_NAMES.get(role, role) + "\n", label)
                cursor.insertText(content, body)
            cursor.endEditBlock()
        self.spans, self.marked, self.selected, self.hovered = [], {}, None, None
        self.prompt_end = self._end()
        self._scroll_to_end_if_following()

    def prompt_text(self) -> str:
        return self._text_between(0, self.prompt_end)

    def generated_text(self) -> str:
        """The run's text: an end marker reads back as the token's own text."""
        parts, position = [], self.prompt_end
        for index in sorted(self.marked):
            start, end = self.spans[index]
            parts += [self._text_between(position, start), self.marked[index]]
            position = end
        parts.append(self._text_between(position, self._end()))
        return "".join(parts)

    def append_tokens(self, tokens: Iterable[tuple[str, float] | Piece]) -> None:
        """Add generated tokens at the end, each shaded by its probability."""
        if not self.spans:
            self.prompt_end = self._end()
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt, end_fmt = QTextCharFormat(), QTextCharFormat()
        fmt.setForeground(QColor(theme.BAND_INK))  # on a light band in either palette
        end_fmt.setForeground(QColor(theme.MUTED if theme.INK == theme.BAND_INK else theme.BAND_INK))
        end_fmt.setFontItalic(True)
        following = self._following()  # before the text grows: a large batch must not lose the end
        with self._editing():
            cursor.beginEditBlock()
            for text, p, end in (Piece(*token) for token in tokens):
                start = cursor.position()
                if end:
                    self.marked[len(self.spans)] = text
                    end_fmt.setBackground(theme.band_colour(p))
                    cursor.insertText(self.end_mark(p), end_fmt)
                else:
                    fmt.setBackground(theme.band_colour(p))
                    cursor.insertText(text, fmt)
                self.spans.append((start, cursor.position()))  # Qt may merge "\r\n": measure, don't count
            cursor.endEditBlock()
        if following:
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def recolour(self, values: list[float]) -> None:
        """Shade every written word piece anew, by `values` (one per step, on the chance scale)."""
        cursor = QTextCursor(self.document())
        with self._editing():
            cursor.beginEditBlock()
            for (start, end), value in zip(self.spans, values):
                cursor.setPosition(start)
                cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                shade = QTextCharFormat()
                shade.setBackground(theme.band_colour(value))
                cursor.mergeCharFormat(shade)
            cursor.endEditBlock()

    def remove_last_tokens(self, count: int = 1) -> None:
        if count <= 0 or not self.spans:  # spans[-0:] would be all of them
            return
        count = min(count, len(self.spans))
        start = self.spans[-count][0]
        del self.spans[-count:]
        self.marked = {i: text for i, text in self.marked.items() if i < len(self.spans)}
        self._remove_from(start)
        if self.selected is not None and self.selected >= len(self.spans):
            self.selected = len(self.spans) - 1 if self.spans else None
        self.hovered = None

    def clear_generated(self) -> None:
        self._remove_from(self.prompt_end)
        self.spans, self.marked, self.selected, self.hovered = [], {}, None, None

    def adopt_as_prompt(self) -> None:
        """After an edit the whole text is the next prompt: drop the token spans and their shading,
        and put back each end marker's own text (in a chat it ends the turn)."""
        with self._editing():
            cursor = QTextCursor(self.document())
            cursor.beginEditBlock()
            for index in sorted(self.marked, reverse=True):
                start, end = self.spans[index]
                cursor.setPosition(start)
                cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
                cursor.insertText(self.marked[index])
            cursor.select(QTextCursor.SelectionType.Document)
            cursor.setCharFormat(QTextCharFormat())
            cursor.endEditBlock()
        self.spans, self.marked, self.selected, self.hovered = [], {}, None, None
        self.prompt_end = self._end()
        self.viewport().update()

    def set_fork_mark(self, index: int | None) -> None:
        self.fork_at = index
        self.viewport().update()

    def set_selected(self, index: int | None) -> None:
        """Frame step `index`; only the old and the new frame are painted again."""
        old, self.selected = self.selected, index
        if old != index:
            self._update_tokens(old, index)

    def _update_tokens(self, *indices: int | None) -> None:
        region = QRegion()
        for index in indices:
            if index is not None and index < len(self.spans):
                for rect in self.token_rects(index):
                    region += rect.adjusted(-FRAME_MARGIN, -FRAME_MARGIN, FRAME_MARGIN, FRAME_MARGIN)
        if not region.isEmpty():
            self.viewport().update(region)

    def token_rects(self, index: int) -> list[QRect]:
        """Viewport rectangles covering token `index` (one per line it spans)."""
        start, end = self.spans[index]
        if end <= start:
            return []
        rects: list[QRect] = []
        cursor = QTextCursor(self.document())
        for pos in range(start, end):
            cursor.setPosition(pos)
            left = self.cursorRect(cursor)
            cursor.setPosition(pos + 1)
            right = self.cursorRect(cursor)
            x2 = right.left() if right.top() == left.top() else left.left() + 8
            rect = QRect(left.left(), left.top(), max(2, x2 - left.left()), left.height())
            if rects and rects[-1].top() == rect.top():
                rects[-1] = rects[-1].united(rect)
            else:
                rects.append(rect)
        return rects

    def token_at(self, point: QPoint) -> int | None:
        if not self.spans:
            return None
        pos = self.cursorForPosition(point).position()
        for q in (pos - 1, pos):
            index = self.span_index(q)
            if index is not None and any(r.adjusted(-1, 0, 1, 0).contains(point)
                                         for r in self.token_rects(index)):
                return index
        return None

    # --- events --------------------------------------------------------------------------
    def event(self, e: QEvent) -> bool:
        # Ctrl+Z belongs to the window's Undo-token action, not the editor.
        if (e.type() == QEvent.Type.ShortcutOverride and isinstance(e, QKeyEvent)
                and e.matches(QKeySequence.StandardKey.Undo)):
            e.ignore()
            return False
        return super().event(e)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        super().mouseMoveEvent(e)
        self._mouse_inside = True
        index = self.token_at(e.position().toPoint())
        if index != self.hovered:
            self.hovered = index
            self.viewport().update()
            if index is None:
                self.hoverLeft.emit()
        if index is not None:
            self.tokenHovered.emit(index, self.viewport().mapToGlobal(e.position().toPoint()))

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        super().mousePressEvent(e)
        index = self.token_at(e.position().toPoint())
        if index is not None and e.button() == Qt.MouseButton.LeftButton:
            self.tokenClicked.emit(index)

    def leaveEvent(self, e: QEvent) -> None:  # noqa: N802
        super().leaveEvent(e)
        self._mouse_inside = False
        self.hovered = None
        self.viewport().update()
        self.hoverLeft.emit()

    def set_tail_note(self, text: str) -> None:
        """Words after the end of the text (not part of it); any change to the text takes them away."""
        self.tail_note = text
        self.viewport().update()

    def paintEvent(self, e: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(e)
        if not self.spans:
            return
        p = QPainter(self.viewport())
        if self.tail_note:
            paint_tail_note(self, p)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._mouse_inside:
            paint_boundaries(self, p)
        if self.hovered is not None and self.hovered != self.selected:
            p.setPen(QPen(QColor(theme.INK), 1.2))
            for rect in self.token_rects(self.hovered):
                p.drawRoundedRect(rect.adjusted(0, 0, -1, -1), 3, 3)
        if self.fork_at is not None and self.fork_at < len(self.spans):
            paint_fork(self, p)
        if self.selected is not None and self.selected < len(self.spans):
            p.setBrush(Qt.BrushStyle.NoBrush)  # a frame only: the fork flag above leaves its fill behind
            p.setPen(QPen(QColor(self.frame_colour), 2.5))
            for rect in self.token_rects(self.selected):
                p.drawRoundedRect(rect.adjusted(-1, -1, 0, 0), 3, 3)
        p.end()

    # --- helpers -------------------------------------------------------------------------
    def span_index(self, pos: int) -> int | None:
        i = bisect.bisect_right(self.spans, pos, key=lambda span: span[0]) - 1
        return i if i >= 0 and pos < self.spans[i][1] else None

    def _end(self) -> int:
        return self.document().characterCount() - 1

    def _text_between(self, start: int, end: int) -> str:
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        return cursor.selectedText().replace("\u2029", "\n")

    def _remove_from(self, start: int) -> None:
        with self._editing():
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
        self.viewport().update()

    def _following(self) -> bool:
        """Whether the view shows the end of the text (give or take a line), so it follows it."""
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 40

    def _scroll_to_end_if_following(self) -> None:
        if self._following():
            self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())

    def _contents_changed(self, position: int, removed: int, added: int) -> None:
        if not self._programmatic and (removed or added):
            self._follow_edit(position, removed, added)
            self.userEdited.emit()

    def _follow_edit(self, position: int, removed: int, added: int) -> None:
        """Move the spans after the user's edit along with their text; a marker the edit reached
        into is the user's text now."""
        shift = added - removed
        for index, (start, end) in enumerate(self.spans):
            if start >= position + removed:
                self.spans[index] = (start + shift, end + shift)
            elif end > position:
                self.marked.pop(index, None)

    def _editing(self) -> _Programmatic:
        self.tail_note = ""  # the text changes: a note about where it ended no longer holds
        return _Programmatic(self)


class _Programmatic:
    """Marks edits made by the app, so only the user's own typing counts as an edit."""

    def __init__(self, view: TokenTextView) -> None:
        self.view = view

    def __enter__(self) -> None:
        self.view._programmatic += 1

    def __exit__(self, *_exc: object) -> None:
        self.view._programmatic -= 1
