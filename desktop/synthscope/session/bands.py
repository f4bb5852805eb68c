"""The chance bands: the colours that shade each written word piece by the chance the model gave it."""
from __future__ import annotations

# Yellow (a surprise) to lavender (expected): a sequential yellow–green–blue scale whose neighbours
# stay apart for red-green and blue-yellow colour blindness (tests/test_explanations.py simulates
# both), light enough for dark text on a projector, in the window and in an exported page alike.
# Each band: (upper limit, exclusive; colour; label). The last limit is above 1 so that 1 fits.
PROBABILITY_BANDS: tuple[tuple[float, str, str], ...] = (
    (0.05, "#FFE55C", "<5%"),
    (0.20, "#C8E07A", "5–20%"),
    (0.50, "#8FD0A0", "20–50%"),
    (0.90, "#72ACD9", "50–90%"),
    (1.01, "#9794EC", "≥90%"),
)
BAND_INK = "#1F2933"  # text on a chance band: the bands are light in either palette
BANDS_TITLE = "Chance the model gave each word piece"


def band_hex(p: float) -> str:
    """The colour ("#RRGGBB") of the band that chance `p` falls in (NaN: the last band, as in the window)."""
    for limit, colour, _ in PROBABILITY_BANDS:
        if p < limit:
            return colour
    return PROBABILITY_BANDS[-1][1]
