"""The compact card shown over a generated token: the chosen token and its strongest rivals."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

from synthscope.ui import theme
from synthscope.ui.steps.distribution import rows_for
from synthscope.session.mirror import StepView
from synthscope.ui.wording import elide, percent, visible

ROWS = 6
ROW_HEIGHT = 24
WIDTH = 360


class HoverCard(QWidget):
    """A frameless tool-tip window; painted by hand so it stays small and quick to update."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.ToolTip | Qt.WindowType.FramelessWindowHint)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.token_text: Callable[[int], str] = lambda token: f"#{token}"
        self.view: StepView | None = None
        self.lines: list[tuple[str, float, float, str, bool]] = []  # label, chances, removed by, chosen

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(WIDTH, 58 + ROW_HEIGHT * max(1, len(self.lines)))

    def show_for(self, view: StepView, global_pos: QPoint) -> None:
        # By identity: traces hold arrays, so `==` on them raises; a new run gives new trace objects.
        if self.view is None or self.view.trace is not view.trace:
            self.view = view
            rivals = [row for row in rows_for(view, self.token_text, ROWS) if row.rank >= 0]
            self.lines = [(r.label, r.p_raw, r.p_final, r.removed_by or "", r.chosen) for r in rivals]
            self.resize(self.sizeHint())
            self.update()
        self._place(global_pos)
        self.show()  # a tool-tip window already stays on top; raise_() is not needed

    def _place(self, global_pos: QPoint) -> None:
        pos = global_pos + QPoint(16, 22)
        screen = QGuiApplication.screenAt(global_pos) or QGuiApplication.primaryScreen()
        if screen is not None:
            area = screen.availableGeometry()
            if pos.x() + self.width() > area.right():
                pos.setX(global_pos.x() - self.width() - 16)
            if pos.y() + self.height() > area.bottom():
                pos.setY(global_pos.y() - self.height() - 16)
        self.move(pos)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if self.view is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(theme.BORDER), 1))
        p.setBrush(QColor(theme.PANEL))
        p.drawRoundedRect(QRectF(0.5, 0.5, self.width() - 1, self.height() - 1), 8, 8)
        view = self.view
        name = visible(self.token_text(view.token_id))
        p.setPen(QColor(theme.CHOSEN))
        p.setFont(theme.font(theme.BASE_POINT_SIZE + 1, bold=True, mono=True))
        p.drawText(QRectF(12, 8, WIDTH - 24, 24), Qt.AlignmentFlag.AlignLeft, elide(name, 20))
        p.setPen(QColor(theme.MUTED))
        p.setFont(theme.font(theme.BASE_POINT_SIZE - 1))
        p.drawText(QRectF(12, 8, WIDTH - 24, 24), Qt.AlignmentFlag.AlignRight,
                   f"word piece {view.index + 1} · the model gave it {percent(view.trace.chosen_p_raw)}")
        p.drawText(QRectF(12, 32, WIDTH - 24, 20), Qt.AlignmentFlag.AlignLeft,
                   "Its rivals (the model's chances):")
        top = max((line[1] for line in self.lines), default=1.0) or 1.0
        for i, (label, p_raw, _p_final, removed_by, chosen) in enumerate(self.lines):
            y = 56 + i * ROW_HEIGHT
            colour = QColor(theme.CHOSEN if chosen else (theme.FAINT if removed_by else theme.INK))
            p.setPen(colour)
            p.setFont(theme.font(theme.BASE_POINT_SIZE - 1, bold=chosen, mono=True))
            p.drawText(QRectF(12, y, 120, ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter, elide(label, 12))
            bar = QRectF(136, y + 6, 110 * p_raw / top, ROW_HEIGHT - 12)
            p.fillRect(bar, QColor(theme.CHOSEN if chosen else (theme.REMOVED if removed_by else theme.RAW)))
            p.setFont(theme.font(theme.BASE_POINT_SIZE - 2, mono=False))
            p.setPen(QColor(theme.MUTED if removed_by else theme.INK))
            p.drawText(QRectF(252, y, WIDTH - 262, ROW_HEIGHT), Qt.AlignmentFlag.AlignVCenter,
                       f"{percent(p_raw)}" + ("  ✗" if removed_by else ""))
        p.end()
