"""The sentence a step says when a model server computed it: how many word pieces it listed, and which
of the step's numbers are exact with them and which are estimates."""
from __future__ import annotations

from typing import Any

from synthscope.sampling.head import APPROXIMATE, EXACT, OFF, UPPER_BOUND
from synthscope.ui.wording import STAGE_LABELS, listed, percent

SERVED_HELP = ("A model server (often on another computer) worked out this step's chances and sent the most likely "
               "word pieces' chances; Synthscope's own samplers and dice ran on them here. Where a sampler's "
               "cut falls among the word pieces it listed, the numbers are exactly what the whole list would "
               "give; where it needs the word pieces it did not list, they are estimates.")
# What each of the step's other numbers is called, for the lists of exact ones and estimates.
OTHER_NUMBERS = {"raw_chances": "the listed chances before the samplers", "final": "the chances after the samplers",
                 "entropy_raw": "how sure the model was"}


def seen_words(head: dict[str, Any] | None) -> str:
    """'the server listed 1,000 of 49,152', for the places with no room for a sentence ("" where every
    word piece was listed, or nothing is known)."""
    seen, vocab = (int(head.get("seen", 0)), int(head.get("vocab", 0))) if head else (0, 0)
    return f"the server listed {seen:,} of {vocab:,}" if 0 < seen < vocab else ""


def served_sentence(head: dict[str, Any] | None, what_if: bool = False) -> str:
    """One or two plain sentences for the step header (empty for a model opened here)."""
    if head is None:
        return ""
    seen, vocab = int(head.get("seen", 0)), int(head.get("vocab", 0))
    if seen == 0:
        return ("From the model server. What it listed for this word piece was not kept (a session saved by "
                "an older Synthscope), so which numbers are exact is not known.")
    given = head.get("exact") or {}
    if seen >= vocab and all(verdict in (EXACT, OFF) for verdict in given.values()):
        first = f"From the model server, which sent the chances of all {vocab:,} word pieces: every number here is exact."
        given = {}
    elif seen >= vocab:
        first = f"From the model server, which sent the chances of all {vocab:,} word pieces."
    else:
        mass = head.get("listed_mass")
        share = f" ({percent(float(mass))} of the whole chance)" if isinstance(mass, (int, float)) else ""
        first = (f"From the model server: {seen:,} of {vocab:,} word pieces seen{share}; the other "
                 f"{vocab - seen:,} share the rest evenly, as an estimate.")
    # In the order a step happens: the server's chances, each sampler, the draw, then the step's unsureness.
    verdicts = {key: given[key] for key in ("raw_chances", *given, "final", "entropy_raw") if key in given}
    exact = [_name(key) for key, verdict in verdicts.items() if verdict == EXACT]
    rough = [_name(key) + (" (at most this unsure)" if verdict == UPPER_BOUND else "")
             for key, verdict in verdicts.items() if verdict in (APPROXIMATE, UPPER_BOUND)]
    parts = [first]
    if rough:
        parts.append(f"Exact: {listed(exact) if exact else 'nothing'}. Estimates: {listed(rough)}.")
    if not head.get("chosen_is_seen", True):
        parts.append("The word piece written was not among those listed.")
    if head.get("note"):
        parts.append(str(head["note"]))
    if what_if:
        parts.append("(Checked for the run's own settings: yours may cut outside the listed word pieces.)")
    return " ".join(parts)


def _name(key: str) -> str:
    return OTHER_NUMBERS.get(key) or STAGE_LABELS.get(key, key.replace("_", " "))
