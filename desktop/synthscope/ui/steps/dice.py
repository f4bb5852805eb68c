"""The dice strip: the final distribution laid end to end from 0 to 1, and where the draw landed."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QWidget

from synthscope.ui import theme
from synthscope.ui.steps.foldable import FoldButton
from synthscope.session.mirror import StepView
from synthscope.ui.wording import elide, html, percent, visible

KEPT_TONES = ("#3D6FB6", "#6E95CC")  # neighbours alternate so every boundary shows


@dataclass(frozen=True)
class Segment:
    token_id: int | None  # None: the many small words not listed one by one
    start: float
    end: float
    chosen: bool


def segments_for(view: StepView) -> list[Segment]:
    final = view.trace.final
    result, start = [], 0.0
    for i, entry in enumerate(final):
        end = min(1.0, start + float(entry["p"]))
        result.append(Segment(int(entry["token_id"]), start, end, i == view.trace.chosen_index))
        start = end
    if view.trace.final_size > len(final) and start < 1.0:
        result.append(Segment(None, start, 1.0, view.trace.chosen_index >= len(final)))
    return result


class DiceBar(QWidget):
    """Paints the segments, a 0–1 scale and a marker at u."""

    MARGIN = 14

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.segments: list[Segment] = []
        self.u: float | None = None
        self.winner = ""
        self.token_text: Callable[[int], str] = lambda token: f"#{token}"
        self.unlabelled: list[Segment] = []  # slices too thin for their name: listed in the tooltip
        self.setMinimumHeight(112)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(600, 112)

    def set_state(self, segments: list[Segment], u: float | None, winner: str = "") -> None:
        self.segments, self.u, self.winner = segments, u, winner
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        left, width = self.MARGIN, self.width() - 2 * self.MARGIN
        bar = QRectF(left, 30, width, 34)
        p.setPen(QPen(QColor(theme.BORDER), 1))
        p.setBrush(QColor(theme.BACKGROUND))
        p.drawRect(bar)
        p.setFont(theme.font(theme.BASE_POINT_SIZE - 1, mono=True))
        metrics = p.fontMetrics()
        kept = 0
        self.unlabelled = []
        for seg in self.segments:
            rect = QRectF(left + seg.start * width, bar.top(), (seg.end - seg.start) * width, bar.height())
            if seg.chosen:
                colour = QColor(theme.CHOSEN)
            elif seg.token_id is None:
                colour = QColor(theme.FAINT)
            else:
                colour = QColor(KEPT_TONES[kept % 2])
                kept += 1
            p.setPen(QPen(QColor(theme.PANEL), 1))
            p.setBrush(colour)
            p.drawRect(rect)
            text = "others" if seg.token_id is None else visible(self.token_text(seg.token_id))
            # A whole name or none: a cut-off "de…" reads as a word of its own.
            if metrics.horizontalAdvance(text) <= rect.width() - 6:
                p.setPen(QColor("white"))
                p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
            else:
                self.unlabelled.append(seg)
        self._small_note(p, bar)
        p.setFont(theme.font(theme.BASE_POINT_SIZE - 2))
        p.setPen(QColor(theme.MUTED))
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            x = left + tick * width
            p.drawLine(QPointF(x, bar.bottom() + 2), QPointF(x, bar.bottom() + 6))
            # Kept inside the widget: "100%" centred on the line's end would be cut at the edge.
            text = f"{tick:.0%}"
            w = p.fontMetrics().horizontalAdvance(text) + 2
            start = min(max(x - w / 2, 0.0), self.width() - w)
            p.drawText(QRectF(start, bar.bottom() + 6, w, 18), Qt.AlignmentFlag.AlignCenter, text)
        if self.u is not None and self.segments:
            self._marker(p, left + self.u * width, bar)
        p.end()

    def _marker(self, p: QPainter, x: float, bar: QRectF) -> None:
        p.setPen(QPen(QColor(theme.INK), 2.5))
        p.drawLine(QPointF(x, bar.top() - 4), QPointF(x, bar.bottom() + 4))
        tip = QPainterPath()
        tip.moveTo(x, bar.top() - 3)
        tip.lineTo(x - 7, bar.top() - 14)
        tip.lineTo(x + 7, bar.top() - 14)
        tip.closeSubpath()
        p.fillPath(tip, QColor(theme.INK))
        p.setFont(theme.font(theme.BASE_POINT_SIZE - 1, bold=True))
        label = f"the dice landed at {self.u:.1%}" + (f" → {elide(self.winner, 16)}" if self.winner else "")
        w = p.fontMetrics().horizontalAdvance(label) + 8
        lx = min(max(x + 10, self.MARGIN), self.width() - self.MARGIN - w)
        if lx < x < lx + w:
            lx = x - 10 - w
        p.drawText(QRectF(lx, 0, w, 18), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)


    def _small_note(self, p: QPainter, bar: QRectF) -> None:
        """'+N small ones' under the bar's right end; hovering the bar lists them."""
        if not self.unlabelled:
            self.setToolTip(DICE_HELP)
            return
        n = len(self.unlabelled)
        p.setFont(theme.font(theme.BASE_POINT_SIZE - 2))
        p.setPen(QColor(theme.MUTED))
        note = (f"+{n} slice{'s' if n > 1 else ''} too narrow for {'their names' if n > 1 else 'its name'} "
                "(hover to list)")
        p.drawText(QRectF(bar.left(), bar.bottom() + 26, bar.width(), 18),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, note)
        names = [("others" if s.token_id is None else visible(self.token_text(s.token_id)))
                 + f" {percent(s.end - s.start)}" for s in self.unlabelled[:24]]
        more = f", … {n - 24} more" if n > 24 else ""
        self.setToolTip(f"{DICE_HELP}<br><b>Thin slices:</b> {html(', '.join(names))}{more}")


DICE_HELP = ("Every word that is left gets a slice of a line from 0% to 100%, as wide as its chance. The "
             "dice is a random spot on that line; the slice it lands in is the word that gets written. The "
             "seed decides the dice, so the same seed gives the same landings. Neighbouring slices are "
             "dark and light blue only to tell them apart; the chosen word's slice is orange-red.")


class DicePanel(QFrame):
    """Why this word won: the dice bar and one sentence that reads it out."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = DiceBar()
        self.explanation = QLabel()
        self.explanation.setWordWrap(True)
        self.explanation.setTextFormat(Qt.TextFormat.RichText)
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.fold = FoldButton([self.bar, self.explanation], self.summary)
        layout, self.title = theme.panel(self, "The dice", self.fold)
        self.title.setToolTip(DICE_HELP)
        layout.setSpacing(4)
        layout.addWidget(self.bar)
        layout.addWidget(self.explanation)
        layout.addWidget(self.summary)
        self.clear()

    def set_token_text(self, token_text: Callable[[int], str]) -> None:
        self.bar.token_text = token_text

    def clear(self) -> None:
        self.bar.set_state([], None)
        self.explanation.setText("Each word is picked by a roll of the dice, weighted by the chances.")
        self.summary.setText("waiting for a word piece")

    def show_step(self, view: StepView) -> None:
        segments = segments_for(view)
        name = visible(self.bar.token_text(view.token_id))
        self.bar.set_state(segments, view.u, name)
        if view.u is None:
            self.title.setText("The dice: not used")
            self.explanation.setText(f"<b>Temperature 0: always the top word</b> — no dice are thrown, "
                                     f"so <b>{html(name)}</b> wins.")
            self.summary.setText(f"no dice: temperature 0 always writes the top word, <b>{html(name)}</b>")
            return
        self.title.setText("The dice")
        if view.trace.final_size == 1 and view.trace.chosen_index == 0:
            self.title.setText("The dice: did not matter here")
            self.explanation.setText(f"Only <b>{html(elide(name, 24))}</b> was left after the samplers, so it "
                                     f"filled the whole line: wherever the dice landed (here {view.u:.1%} "
                                     "of the way), it would have been written.")
            self.summary.setText(f"did not matter: only <b>{html(elide(name, 24))}</b> was left (the dice "
                                 f"landed {view.u:.1%} of the way)")
            return
        chosen = next((s for s in segments if s.chosen), None)
        span = f" (its slice runs from {chosen.start:.1%} to {chosen.end:.1%})" if chosen else ""
        share = percent(chosen.end - chosen.start) if chosen else "?"
        text = (f"The dice landed <b>{view.u:.1%}</b> of the way along a line from 0% to 100%, inside "
                f"<b>{html(elide(name, 24))}</b>{span}, so it was written. It had a {share} chance.")
        self.summary.setText(f"landed {view.u:.1%} of the way along the line, in the slice of "
                             f"<b>{html(elide(name, 24))}</b> ({share} of the line)")
        if view.is_what_if:
            was = visible(self.bar.token_text(view.recorded_token_id or 0))
            text += (f" <b>Same dice, different word:</b> the run picked {html(was)}."
                     if view.changes_pick else " Same dice, same word as the run.")
        self.explanation.setText(text)
