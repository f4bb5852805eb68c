"""A run's word pieces as a table to take away: one CSV row per written word piece, with its numbers."""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synthscope.session.json_io import write_atomically
from synthscope.session.record import Step

# The first ten are the ones a reader asks for; the rest say how the word piece was chosen.
CSV_COLUMNS: tuple[str, ...] = (
    "index", "token_id", "text", "p_raw", "p_final", "rank", "surprise_bits", "entropy_raw_bits",
    "entropy_final_bits", "u", "xtc_u", "chosen_by", "kept", "piece_hex",
)
LN2 = math.log(2)


def p_final(step: Step) -> float | None:
    """The chance after the samplers as the run's JSON holds it: None where the draw's list, which
    keeps only its likeliest entries, did not reach the word piece written."""
    p = step.trace.chosen_p_final
    return None if math.isnan(p) else p


def surprise_bits(p: float) -> float:
    """−log2 of the model's chance: how many bits of surprise the word piece was."""
    return -math.log2(p) if p > 0.0 else math.inf


def step_rows(steps: Sequence[Step]) -> list[dict[str, Any]]:
    """One row per written word piece (index 1 = the first one written), keyed by CSV_COLUMNS; None
    where a value is not known (an empty cell). Entropies are in bits, the run's JSON has nats."""
    rows = []
    for index, step in enumerate(steps, start=1):
        trace = step.trace
        rows.append({
            "index": index,
            "token_id": step.token_id,
            "text": step.text,
            "p_raw": trace.chosen_p_raw,
            "p_final": p_final(step),
            "rank": trace.chosen_rank or None,  # 0: a run saved before ranks were recorded
            "surprise_bits": surprise_bits(trace.chosen_p_raw),
            "entropy_raw_bits": trace.entropy_raw / LN2,
            "entropy_final_bits": trace.entropy_final / LN2,
            "u": step.u,
            "xtc_u": step.xtc_u,
            "chosen_by": step.chosen_by,
            "kept": trace.final_size,
            "piece_hex": step.token_bytes.hex(),
        })
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # every digit: the cell parses back to the very number in the run's JSON
    return str(value)


def csv_text(steps: Sequence[Step]) -> str:
    """The table as CSV text (RFC 4180: a header row, quoted cells where needed, CRLF line ends)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in step_rows(steps):
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
    return out.getvalue()


def encoded(text: str) -> bytes:
    # A damaged run can hold half of a UTF-16 pair, which UTF-8 cannot write: it is spelled out.
    return text.encode("utf-8", errors="backslashreplace")


def write_csv(steps: Sequence[Step], path: str | Path) -> None:
    """The table as a UTF-8 CSV file, written whole or not at all."""
    write_atomically(encoded(csv_text(steps)), path)
