"""Colours, fonts and the style sheet: calm, high-contrast and large enough for a projector."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from synthscope.session.bands import BAND_INK, PROBABILITY_BANDS, band_hex

FONT_FAMILY = "DejaVu Sans"
MONO_FAMILY = "DejaVu Sans Mono"
BASE_POINT_SIZE = 12
TEXT_POINT_SIZE = 17
REFRESH_MS = 33  # views redraw at most ~30 times a second, however fast tokens arrive
# While tokens stream, the window's thread wakes only when the worker sends a batch (about
# RUN_TEXT_MS apart) and redraws the text at most every RUN_TEXT_MS and the step panels (chances,
# samplers, dice) at most every RUN_PANELS_MS. When llama.cpp uses every core, each wake-up takes
# one from it: then each view also waits long enough that redrawing it takes at most its share of a
# core, so a long text or a slow computer redraws less often instead of slowing the model
# (measured: benchmarks/bench_gui.py). The panels show the last token as soon as a run ends.
RUN_TEXT_MS = 100
RUN_PANELS_MS = 500
RUN_TEXT_SHARE = 0.02
RUN_PANELS_SHARE = 0.01

BACKGROUND = "#F6F5F1"
PANEL = "#FFFFFF"
INK = "#1F2933"
MUTED = "#66707A"
FAINT = "#A9B0B8"
BORDER = "#D6DAE0"
ACCENT = "#2F5E9E"  # the draw's odds, buttons
RAW = "#AFC0D6"  # the model's own odds
CHOSEN = "#C45200"  # the winning token, everywhere (vermillion: no chance band uses it)
REMOVED = "#E1E3E7"
WARNING_BG = "#FFF4D6"
WARNING_INK = "#6B4A00"
WHATIF_BG = "#E7F0FB"
WHATIF_INK = "#1D3F6E"
SELECTION = "#CFE0F5"

LIGHT = {name: globals()[name] for name in (
    "BACKGROUND", "PANEL", "INK", "MUTED", "FAINT", "BORDER", "ACCENT", "RAW", "CHOSEN", "REMOVED",
    "WARNING_BG", "WARNING_INK", "WHATIF_BG", "WHATIF_INK", "SELECTION")}
# For a computer set to dark: the same roles, light ink on dark panels. The chance bands stay light
# (with BAND_INK on them), so the shading reads the same and keeps its colour-blind-safe steps.
DARK = {"BACKGROUND": "#181B20", "PANEL": "#22272E", "INK": "#E6EAEE", "MUTED": "#A4AEB9",
        "FAINT": "#6C7682", "BORDER": "#3A434D", "ACCENT": "#5C93DA", "RAW": "#7E94B1",
        "CHOSEN": "#F07A3A", "REMOVED": "#3A4149", "WARNING_BG": "#4A3C14", "WARNING_INK": "#FFE3A3",
        "WHATIF_BG": "#1F3553", "WHATIF_INK": "#D2E4FF", "SELECTION": "#2E4E78"}


def band_colour(p: float) -> QColor:
    """The colour of chance `p`'s band (the bands live in session/bands.py: the exports use them too)."""
    return QColor(band_hex(p))


def font(point_size: int = BASE_POINT_SIZE, bold: bool = False, mono: bool = False) -> QFont:
    result = QFont(MONO_FAMILY if mono else FONT_FAMILY)
    result.setPointSize(point_size)
    result.setBold(bold)
    return result


def style_sheet() -> str:
    return f"""
QMainWindow, QWidget#central {{ background: {BACKGROUND}; }}
QToolTip {{ background: {PANEL}; color: {INK}; border: 1px solid {BORDER}; padding: 6px;
            font-size: {BASE_POINT_SIZE}pt; }}
QFrame#panel {{ background: {PANEL}; border: 1px solid {BORDER}; border-radius: 8px; }}
QLabel#panelTitle {{ color: {INK}; font-weight: bold; font-size: {BASE_POINT_SIZE + 1}pt; }}
QLabel#hint {{ color: {MUTED}; }}
QFrame#banner {{ background: {WARNING_BG}; border: 1px solid #E8CF8A; border-radius: 8px; }}
QFrame#banner QLabel {{ color: {WARNING_INK}; }}
QFrame#notice {{ background: {WHATIF_BG}; border: 1px solid {BORDER}; border-radius: 8px; }}
QFrame#notice QLabel {{ color: {WHATIF_INK}; }}
QFrame#whatIf {{ background: {WHATIF_BG}; border: 1px solid #B9CFEA; border-radius: 8px; }}
QFrame#whatIf QLabel {{ color: {WHATIF_INK}; }}
QPushButton {{ padding: 6px 14px; border: 1px solid {BORDER}; border-radius: 6px; background: {PANEL};
               color: {INK}; }}
QPushButton:hover {{ border-color: {ACCENT}; }}
QPushButton:disabled {{ color: {FAINT}; }}
QToolBar {{ background: {BACKGROUND}; border: none; spacing: 6px; padding: 6px; }}
QToolButton {{ padding: 6px 12px; border: 1px solid {BORDER}; border-radius: 6px; background: {PANEL};
               color: {INK}; font-size: {BASE_POINT_SIZE + 1}pt; }}
QToolButton:hover {{ border-color: {ACCENT}; }}
QToolButton:disabled {{ color: {FAINT}; background: {BACKGROUND}; }}
QToolButton#primary {{ background: {ACCENT}; color: white; border-color: {ACCENT}; font-weight: bold; }}
QToolButton#primary:disabled {{ background: {FAINT}; border-color: {FAINT}; }}
QPlainTextEdit {{ background: {PANEL}; color: {INK}; border: 1px solid {BORDER}; border-radius: 8px;
                  padding: 8px; selection-background-color: {SELECTION}; selection-color: {INK}; }}
QSlider::groove:horizontal {{ height: 6px; background: {BORDER}; border-radius: 3px; }}
QSlider::sub-page:horizontal {{ background: {RAW}; border-radius: 3px; }}
QSlider::handle:horizontal {{ background: {ACCENT}; width: 16px; margin: -6px 0; border-radius: 8px; }}
QSlider::handle:horizontal:disabled {{ background: {FAINT}; }}
QStatusBar {{ color: {MUTED}; }}
QProgressBar {{ border: 1px solid {BORDER}; border-radius: 5px; background: {PANEL}; text-align: center;
                min-height: 18px; }}
QProgressBar::chunk {{ background: {ACCENT}; border-radius: 4px; }}
"""


def use_palette(dark: bool) -> None:
    """Switch every colour role to the dark or the light palette (before any window is built)."""
    globals().update(DARK if dark else LIGHT)


def system_is_dark(app: QApplication) -> bool:
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def row(*items: QWidget | tuple[QWidget, int]) -> QHBoxLayout:
    """Widgets side by side without margins; (widget, stretch) gives one a share of the room."""
    layout = QHBoxLayout()
    layout.setContentsMargins(0, 0, 0, 0)
    for item in items:
        widget, stretch = item if isinstance(item, tuple) else (item, 0)
        layout.addWidget(widget, stretch)
    return layout


def banner_row(frame: QFrame, icon: str, text: QLabel, button: QWidget, close_tip: str) -> None:
    """A message strip's row: an icon, the words (they take the room), one way forward, and ✕ to hide."""
    close = QPushButton("✕")
    close.setToolTip(close_tip)
    close.setFixedWidth(44)
    close.clicked.connect(frame.hide)
    symbol = QLabel(icon)
    symbol.setFont(font(BASE_POINT_SIZE + 4))
    layout = QHBoxLayout(frame)
    layout.setContentsMargins(12, 6, 8, 6)
    layout.addWidget(symbol)
    layout.addWidget(text, 1)
    layout.addWidget(button)
    layout.addWidget(close)


def panel(frame: QFrame, title: str, trailing: QWidget | None = None) -> tuple[QVBoxLayout, QLabel]:
    """Give `frame` the panel look and a layout that starts with its title (and `trailing` beside it)."""
    frame.setObjectName("panel")
    label = QLabel(title)
    label.setObjectName("panelTitle")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(12, 10, 12, 10)
    if trailing is None:
        layout.addWidget(label)
    else:
        row = QHBoxLayout()
        row.addWidget(label)
        row.addStretch(1)
        row.addWidget(trailing)
        layout.addLayout(row)
    return layout, label


def apply(app: QApplication, dark: bool | None = None) -> None:
    """Give the whole application the calm palette (dark when the computer is set to dark, unless
    `dark` says otherwise), large fonts and plot defaults."""
    use_palette(system_is_dark(app) if dark is None else dark)
    app.setFont(font())
    palette = app.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor(BACKGROUND))
    palette.setColor(QPalette.ColorRole.WindowText, QColor(INK))
    palette.setColor(QPalette.ColorRole.Base, QColor(PANEL))
    palette.setColor(QPalette.ColorRole.Text, QColor(INK))
    palette.setColor(QPalette.ColorRole.ToolTipBase, QColor(PANEL))
    palette.setColor(QPalette.ColorRole.ToolTipText, QColor(INK))
    palette.setColor(QPalette.ColorRole.Button, QColor(PANEL))
    palette.setColor(QPalette.ColorRole.ButtonText, QColor(INK))
    palette.setColor(QPalette.ColorRole.PlaceholderText, QColor(MUTED))
    palette.setColor(QPalette.ColorRole.AlternateBase, QColor(BACKGROUND))
    app.setPalette(palette)
    app.setStyleSheet(style_sheet())
    pg.setConfigOptions(antialias=True, background=PANEL, foreground=INK)
