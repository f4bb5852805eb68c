"""Large-type covers over the Chances and dice panels: for presentation mode and for guess mode."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from PySide6.QtCore import (QEasingCurve, QEvent, QObject, QPointF, QRectF, Qt, QTimer, QVariantAnimation,
                            Signal)
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from synthscope.sampling.explain import penalty_change
from synthscope.ui import theme
from synthscope.ui.steps.dice import KEPT_TONES, Segment, segments_for
from synthscope.ui.steps.distribution import Row, title_text
from synthscope.session.mirror import StepView
from synthscope.ui.wording import elide, percent, visible

SCALE = 1.5  # presentation mode's factor for every panel font
REVEAL_MS = 1200  # the dice land, then the strip zooms into their slice
HOLD_MS = 250  # the landed dice stay in view this long before the normal panels return
MAX_ROWS = 10
# The key under the rows when a ↓ is shown: every number named, so "38% ↓9.1% → 9.2%" reads on its own.
PENALTY_NOTE = "First the model's chance, ↓ after the repetition penalty lowered it, → after all the samplers."


def big(points: int) -> int:
    """`points` scaled for the back of a room."""
    return round(points * SCALE)


def secondary_ink() -> str:
    """Secondary text on a projector: half way between the ink and the muted grey, so it still reads
    as secondary but keeps a contrast of at least 7:1 on the panel (the muted grey alone fades)."""
    ink, muted = QColor(theme.INK), QColor(theme.MUTED)
    return QColor((ink.red() + muted.red()) // 2, (ink.green() + muted.green()) // 2,
                  (ink.blue() + muted.blue()) // 2).name()


class Cover(QWidget):
    """A child painted over part of its parent panel, following the parent's size; `below` is the
    widget under whose bottom edge the cover starts (the panel's title or legend)."""

    def __init__(self, parent: QWidget, below: QWidget) -> None:
        super().__init__(parent)
        self.below = below
        self.view: StepView | None = None
        self.reveal = True  # False: guess mode, the chosen token is not shown
        self.token_text: Callable[[int], str] = lambda token: f"#{token}"
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        parent.installEventFilter(self)
        below.installEventFilter(self)  # the title above may wrap to more lines, moving what is below
        self.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Move, QEvent.Type.LayoutRequest) and \
                watched in (self.parent(), self.below):
            self.fit()
        return False

    def fit(self) -> None:
        parent = self.parentWidget()
        top = self.below.geometry().bottom() + 4
        self.setGeometry(8, top, parent.width() - 16, max(parent.height() - top - 8, 0))

    def show_view(self, view: StepView | None, reveal: bool) -> None:
        self.view, self.reveal = view, reveal
        self.fit()
        self.raise_()
        self.show()
        self.update()

    def clear(self) -> None:
        """Hidden, with no step: nothing to report until the next show_view."""
        self.view = None
        self.hide()

    def _painter(self) -> QPainter:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(theme.PANEL))
        return p


class BigRow(NamedTuple):
    token_id: int
    p_raw: float
    p_final: float  # 0 when removed
    removed: bool
    p_penalty: float | None = None  # its chance after the repetition penalty, when that lowered it
    extra: bool = False  # the winner, added below the likeliest because it ranks lower


def big_rows(view: StepView, limit: int, reveal: bool) -> list[BigRow]:
    """The `limit` candidates with the largest chances after the samplers (the dice's widest slices,
    in the dice's order of size), then any removed ones; when revealed and the winner ranks lower,
    it takes the last row."""
    lowered = penalty_change(view.trace)  # the rule the normal Chances panel uses for its ↓

    def row(c: object) -> BigRow:
        token, removed = int(c["token_id"]), int(c["removed_by"]) >= 0  # type: ignore[index]
        final = 0.0 if removed else float(c["p_final"])  # type: ignore[index]
        return BigRow(token, float(c["p_raw"]), 0.0 if math.isnan(final) else final,  # type: ignore[index]
                      removed, lowered[token][1] if token in lowered else None)

    cands = view.trace.candidates
    ordered = sorted((row(c) for c in cands), key=lambda r: (r.removed, -r.p_final, -r.p_raw))
    rows = ordered[:limit]
    if reveal and view.token_id not in {r.token_id for r in rows}:
        found = [row(c) for c in cands if int(c["token_id"]) == view.token_id]
        final = view.trace.chosen_p_final
        chosen = found[0] if found else BigRow(view.token_id, view.trace.chosen_p_raw,
                                               0.0 if math.isnan(final) else final, False)
        rows = rows[:max(limit - 1, 0)] + [chosen._replace(extra=True)]
    return rows


def big_title(view: StepView, rows: list[BigRow]) -> str:
    """The Chances panel's own heading, counting the rows the large-type view shows."""
    return title_text(view, [Row(r.token_id, -1 if r.extra else rank, "", r.p_raw, r.p_final,
                                 "removed" if r.removed else None, r.extra, False)
                             for rank, r in enumerate(rows)], after_samplers=True)


class ChancesCover(Cover):
    """The top candidates in large type: the model's chance (light) and after the samplers (dark);
    `rows_shown` hears which rows it shows each time it is fitted (for the heading above it)."""

    def __init__(self, parent: QWidget, below: QWidget) -> None:
        super().__init__(parent, below)
        self.rows_shown: Callable[[StepView, list[BigRow]], None] | None = None

    @staticmethod
    def fonts() -> tuple[QFont, QFont, QFont]:
        """The candidates' names, their values, and the note under them."""
        size = big(theme.BASE_POINT_SIZE)
        return theme.font(size, bold=True, mono=True), theme.font(size, bold=True), theme.font(size)

    def row_height(self) -> int:
        return int(QFontMetrics(self.fonts()[0]).height() * 1.4)

    def note_height(self, rows: list[BigRow] | None = None) -> int:
        """The key's height (0 without one): it wraps in a narrow panel rather than being cut."""
        text = self.note(rows) if rows is not None else PENALTY_NOTE
        if not text:
            return 0
        box = QFontMetrics(self.fonts()[2]).boundingRect(0, 0, max(self.width(), 1), 10_000,
                                                         Qt.TextFlag.TextWordWrap, text)
        return box.height() + 8

    def shown_rows(self) -> list[BigRow]:
        """As many rows as fit whole above the key that names their numbers."""
        if self.view is None:
            return []
        row_h = self.row_height()
        fit = max(1, min(MAX_ROWS, self.height() // row_h))
        rows = big_rows(self.view, fit, self.reveal)
        while fit > 1 and len(rows) * row_h + self.note_height(rows) > self.height():
            fit -= 1
            rows = big_rows(self.view, fit, self.reveal)
        return rows

    def fit(self) -> None:
        super().fit()
        if self.view is not None and self.rows_shown is not None:
            self.rows_shown(self.view, self.shown_rows())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = self._painter()
        if self.view is None:
            p.end()
            return
        label_font, value_font, note_font = self.fonts()
        p.setFont(label_font)
        row_h = self.row_height()
        rows = self.shown_rows()
        what_if = self.view.is_what_if
        names = [("▶ " if self.reveal and r.token_id == self.view.token_id else
                  "◇ " if what_if and r.token_id == self.view.recorded_token_id else "")
                 + elide(visible(self.token_text(r.token_id)), 12) for r in rows]
        label_w = min(self.width() * 0.34, max((p.fontMetrics().horizontalAdvance(n) for n in names),
                                               default=40) + 12)
        p.setFont(value_font)
        value_w = max((p.fontMetrics().horizontalAdvance(self.value_text(r)) for r in rows), default=40) + 12
        bar_left, bar_w = label_w + 10, max(self.width() - label_w - value_w - 20, 20)
        scale = bar_w / max(max((max(r.p_raw, r.p_final) for r in rows), default=0.0), 0.05)
        half = row_h * 0.36
        for i, (r, name) in enumerate(zip(rows, names)):
            y = i * row_h
            is_chosen = self.reveal and r.token_id == self.view.token_id
            p.setFont(label_font)
            p.setPen(QColor(theme.CHOSEN if is_chosen else theme.MUTED if r.removed else theme.INK))
            right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            p.drawText(QRectF(0, y, label_w, row_h), right, name)
            p.fillRect(QRectF(bar_left, y + row_h / 2 - half, r.p_raw * scale, half),
                       QColor(theme.REMOVED if r.removed else theme.RAW))
            p.fillRect(QRectF(bar_left, y + row_h / 2, r.p_final * scale, half),
                       QColor(theme.CHOSEN if is_chosen else theme.ACCENT))
            p.setFont(value_font)
            p.drawText(QRectF(self.width() - value_w, y, value_w, row_h),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.value_text(r))
        if self.note(rows):
            p.setFont(note_font)
            p.setPen(QColor(secondary_ink()))
            note_h = self.note_height(rows)
            top = min(len(rows) * row_h, self.height() - note_h) + 4
            p.drawText(QRectF(0, top, self.width(), note_h),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap,
                       self.note(rows))
        p.end()

    @staticmethod
    def note(rows: list[BigRow]) -> str:
        """The key to the three numbers under the rows, when a shown row has a ↓."""
        return PENALTY_NOTE if any(r.p_penalty is not None for r in rows) else ""

    @staticmethod
    def value_text(row: BigRow) -> str:
        """'6.0% → 11%': the model's chance, then after the samplers; '2.4%  ✗' when removed;
        '38% ↓20% → 13%' when the repetition penalty lowered it first (as the normal panel writes it)."""
        raw = percent(row.p_raw) + (f" ↓{percent(row.p_penalty)}" if row.p_penalty is not None else "")
        return f"{raw}  ✗" if row.removed else f"{raw} → {percent(row.p_final)}"


def whole_label(text: str, room: float, metrics: QFontMetrics) -> str:
    """A slice's name, whole or not at all: "sp…" could not be matched with the list above it."""
    return text if metrics.horizontalAdvance(text) + 8 <= room else ""


class DiceCover(Cover):
    """The final chances end to end from 0 to 1 in large type; in guess mode without the dice, and
    `land()` animates the dice falling and the strip zooming into the slice they landed in."""

    landed = Signal()

    def __init__(self, parent: QWidget, below: QWidget) -> None:
        super().__init__(parent, below)
        self.progress = 1.0  # of the landing animation; 1: landed (and zoomed in when animated)
        self.zoomed = False
        self.animation = QVariantAnimation(self)
        self.animation.setStartValue(0.0)
        self.animation.setEndValue(1.0)
        self.animation.setDuration(REVEAL_MS)
        self.animation.setEasingCurve(QEasingCurve.Type.InOutCubic)
        self.animation.valueChanged.connect(self._advance)
        self.animation.finished.connect(self._finished)

    def land(self, view: StepView) -> None:
        """Play the landing on `view` (the proposed step); `landed` fires HOLD_MS after it ends."""
        self.show_view(view, reveal=True)
        self.zoomed, self.progress = True, 0.0
        self.animation.stop()
        self.animation.start()

    def _advance(self, value: object) -> None:
        self.progress = float(value)  # type: ignore[arg-type]
        self.update()

    def _finished(self) -> None:
        QTimer.singleShot(HOLD_MS, self.landed.emit)

    def show_view(self, view: StepView | None, reveal: bool) -> None:
        self.zoomed, self.progress = False, 1.0
        super().show_view(view, reveal)

    def window_range(self, chosen: Segment | None) -> tuple[float, float]:
        """The part of 0–1 in view: all of it, moving towards the chosen slice as the zoom goes on."""
        if not self.zoomed or chosen is None:
            return 0.0, 1.0
        zoom = min(max((self.progress - 0.3) / 0.7, 0.0), 1.0)
        width = max(chosen.end - chosen.start, 0.002)
        lo, hi = max(chosen.start - width * 0.6, 0.0), min(chosen.end + width * 0.6, 1.0)
        return zoom * lo, 1.0 + zoom * (hi - 1.0)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = self._painter()
        if self.view is None:
            p.end()
            return
        view = self.view
        segments = segments_for(view)
        chosen = next((s for s in segments if s.chosen), None)
        lo, hi = self.window_range(chosen)
        margin = 16.0
        strip = QRectF(margin, 34, self.width() - 2 * margin, 50)

        def x_of(v: float) -> float:
            return strip.left() + (v - lo) / (hi - lo) * strip.width()

        p.setPen(QPen(QColor(theme.BORDER), 1))
        p.drawRect(strip)
        p.save()
        p.setClipRect(strip.adjusted(-1, -1, 1, 1))
        p.setFont(theme.font(big(theme.BASE_POINT_SIZE - 1), mono=True))
        metrics = p.fontMetrics()
        for kept, seg in enumerate(segments):
            rect = QRectF(x_of(seg.start), strip.top(), x_of(seg.end) - x_of(seg.start), strip.height())
            if rect.right() < strip.left() or rect.left() > strip.right():
                continue
            colour = (theme.CHOSEN if seg.chosen and self.reveal and self.progress >= 0.3 else
                      theme.FAINT if seg.token_id is None else KEPT_TONES[kept % 2])
            p.setPen(QPen(QColor(theme.PANEL), 2))
            p.setBrush(QColor(colour))
            p.drawRect(rect)
            text = "others" if seg.token_id is None else visible(self.token_text(seg.token_id))
            shown = rect.intersected(strip)
            text = whole_label(text, shown.width(), metrics)
            if text:
                p.setPen(QColor("white"))
                p.drawText(shown, Qt.AlignmentFlag.AlignCenter, text)
        p.restore()
        p.setFont(theme.font(big(theme.BASE_POINT_SIZE)))  # as large as the sentence: read from the back
        p.setPen(QColor(secondary_ink()))
        tick_h = p.fontMetrics().height() + 2
        ticks = (0.0, 0.25, 0.5, 0.75, 1.0) if hi - lo > 0.5 else (
            (chosen.start, chosen.end) if chosen else ())
        for tick in ticks:
            x = x_of(tick)
            p.drawLine(QPointF(x, strip.bottom() + 2), QPointF(x, strip.bottom() + 8))
            text = f"{tick:.0%}" if hi - lo > 0.5 else f"{tick:.1%}"
            w = p.fontMetrics().horizontalAdvance(text) + 8
            left = min(max(x - w / 2, 0.0), self.width() - w)  # 0% and 100% stay whole at the edges
            p.drawText(QRectF(left, strip.bottom() + 8, w, tick_h), Qt.AlignmentFlag.AlignCenter, text)
        if self.reveal:
            self._marker(p, view, chosen, x_of, strip)
        p.setFont(theme.font(big(theme.BASE_POINT_SIZE)))
        p.setPen(QColor(theme.INK))
        below = strip.bottom() + 10 + tick_h
        words = QRectF(margin, below, self.width() - 2 * margin, self.height() - below)
        p.drawText(words, Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap, self.sentence(view, chosen))
        p.end()

    def sentence(self, view: StepView, chosen: Segment | None) -> str:
        if not self.reveal:
            return ("Where will the dice land? Each word gets a slice as wide as its chance. "
                    "Guess, then press Step.")
        name = elide(visible(self.token_text(view.token_id)), 20)
        if view.u is None:
            return f"Temperature 0: no dice are thrown, the top word ‘{name}’ always wins."
        if self.progress < 1.0:
            return "The dice are rolling…"
        span = f" (its slice runs from {chosen.start:.1%} to {chosen.end:.1%})" if chosen else ""
        return f"The dice landed {view.u:.1%} of the way along, inside ‘{name}’{span}, so ‘{name}’ wins."

    def _marker(self, p: QPainter, view: StepView, chosen: Segment | None,
                x_of: Callable[[float], float], strip: QRectF) -> None:
        u = view.u if view.u is not None else ((chosen.start + chosen.end) / 2 if chosen else None)
        if u is None:
            return
        fall = min(self.progress / 0.3, 1.0) if self.zoomed else 1.0
        x, drop = x_of(u), (1.0 - fall) * -30
        p.setPen(QPen(QColor(theme.INK), 4))
        p.drawLine(QPointF(x, strip.top() - 4 + drop), QPointF(x, strip.bottom() + 4 + drop))
        tip = QPainterPath()
        tip.moveTo(x, strip.top() - 3 + drop)
        tip.lineTo(x - 11, strip.top() - 20 + drop)
        tip.lineTo(x + 11, strip.top() - 20 + drop)
        tip.closeSubpath()
        p.fillPath(tip, QColor(theme.INK))
        label = "top word" if view.u is None else f"dice {u:.1%}"
        p.setFont(theme.font(big(theme.BASE_POINT_SIZE - 1), bold=True))
        w = p.fontMetrics().horizontalAdvance(label) + 8
        lx = min(max(x + 16, 0.0), self.width() - w)
        if lx < x < lx + w:
            lx = x - 16 - w
        p.setPen(QColor(theme.INK))
        p.drawText(QRectF(lx, 0, w, 30), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
