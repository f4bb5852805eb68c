"""The palette follows the computer's light or dark setting, and stays readable in both."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette, QTextCursor

from synthscope.ui import theme
from synthscope.ui.steps.text_view import Piece, TokenTextView


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.fixture
def dark(qapp) -> Iterator[None]:
    theme.apply(qapp, dark=True)
    yield
    theme.apply(qapp, dark=False)


@pytest.mark.parametrize("palette", [theme.LIGHT, theme.DARK])
def test_every_text_colour_is_readable_on_its_background(palette: dict[str, str]) -> None:
    assert contrast(palette["INK"], palette["PANEL"]) >= 7  # body text
    assert contrast(palette["INK"], palette["BACKGROUND"]) >= 7
    assert contrast(palette["MUTED"], palette["PANEL"]) >= 4.5  # hints
    assert contrast(palette["WARNING_INK"], palette["WARNING_BG"]) >= 4.5
    assert contrast(palette["WHATIF_INK"], palette["WHATIF_BG"]) >= 4.5
    assert contrast(palette["INK"], palette["SELECTION"]) >= 4.5
    for _, band, _ in theme.PROBABILITY_BANDS:  # the bands keep dark ink in both palettes
        assert contrast(theme.BAND_INK, band) >= 4.5


def test_a_dark_computer_gets_the_dark_palette_and_shaded_words_keep_dark_ink(qapp, dark) -> None:
    assert theme.PANEL == theme.DARK["PANEL"] and theme.INK == theme.DARK["INK"]
    assert qapp.palette().color(QPalette.ColorRole.Window).name().upper() == theme.DARK["BACKGROUND"].upper()
    assert theme.DARK["PANEL"] in qapp.styleSheet()
    view = TokenTextView()
    view.set_prompt("Once")
    view.append_tokens([Piece(" upon", 0.95), Piece(" a", 0.02)])
    cursor = QTextCursor(view.document())
    cursor.setPosition(view.spans[0][0] + 1)
    fmt = cursor.charFormat()
    assert fmt.foreground().color().name().upper() == theme.BAND_INK.upper()
    assert fmt.background().color() == theme.band_colour(0.95)
    view.deleteLater()


class _Hints:
    """Style hints reporting one colour scheme, as a computer set to it would."""

    def __init__(self, scheme: Qt.ColorScheme) -> None:
        self.scheme = scheme

    def colorScheme(self) -> Qt.ColorScheme:  # noqa: N802 (Qt's name)
        return self.scheme


@pytest.mark.parametrize("scheme, dark", [(Qt.ColorScheme.Dark, True), (Qt.ColorScheme.Light, False),
                                          (Qt.ColorScheme.Unknown, False)])
def test_the_computers_colour_setting_chooses_the_palette(qapp, monkeypatch, scheme, dark: bool) -> None:
    monkeypatch.setattr(qapp, "styleHints", lambda: _Hints(scheme))
    assert theme.system_is_dark(qapp) is dark
    try:
        theme.apply(qapp)  # no choice given: the computer's setting decides
        expected = theme.DARK if dark else theme.LIGHT
        assert theme.PANEL == expected["PANEL"] and theme.INK == expected["INK"]
        assert qapp.palette().color(QPalette.ColorRole.Base).name().upper() == expected["PANEL"].upper()
    finally:
        monkeypatch.undo()
        theme.apply(qapp, dark=False)


def test_the_light_palette_comes_back(qapp) -> None:
    theme.apply(qapp, dark=True)
    theme.apply(qapp, dark=False)
    assert theme.PANEL == theme.LIGHT["PANEL"]
    assert qapp.palette().color(QPalette.ColorRole.Base).name().upper() == theme.LIGHT["PANEL"].upper()
