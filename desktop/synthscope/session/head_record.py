"""A step's model-server head as a session file holds it: checked on reading, since only the window's
sentences use it and a damaged file must give a plain message, never a wrong sentence."""
from __future__ import annotations

from typing import Any

from synthscope.sampling.head import APPROXIMATE, EXACT, OFF, UPPER_BOUND

VERDICTS = (EXACT, APPROXIMATE, UPPER_BOUND, OFF)
MAX_NOTE = 1000


class HeadRecordError(ValueError):
    """The head's fields are not what Synthscope writes (the message names which)."""


def head_from_dict(value: Any, vocab: int) -> dict[str, Any] | None:
    """The head as written by session.served.step_head, or None where the step has none."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HeadRecordError("its model server's list is not a table")
    seen, size = value.get("seen"), value.get("vocab")
    if type(seen) is not int or type(size) is not int or not 0 <= seen <= size or size != vocab:
        raise HeadRecordError("its model server's list does not fit the vocabulary")
    exact = value.get("exact", {})
    if not isinstance(exact, dict) or not all(isinstance(k, str) and len(k) <= 40 and v in VERDICTS
                                              for k, v in exact.items()) or len(exact) > 40:
        raise HeadRecordError("its model server's list says something other than exact or approximate")
    mass = value.get("listed_mass", 1.0)
    if not isinstance(mass, (int, float)) or isinstance(mass, bool) or not 0.0 <= mass <= 1.0 + 1e-6:
        raise HeadRecordError("its model server's list has a share of the chance that is not one")
    note = value.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise HeadRecordError("its model server's note is not a short text")
    flags = {key: value[key] for key in ("chosen_is_seen", "prompt_exact", "before_samplers") if key in value}
    if not all(isinstance(flag, bool) for flag in flags.values()):
        raise HeadRecordError("its model server's list has a yes-or-no that is neither")
    return {"seen": seen, "vocab": size, "exact": dict(exact), "listed_mass": float(mass), **flags,
            **({"note": note} if note else {})}
