"""Where two paths of the same dice part, and why, in one plain paragraph."""
from __future__ import annotations

from collections.abc import Callable

from synthscope.sampling import SPECS
from synthscope.sampling.settings import LIST_SPECS
from synthscope.sampling.explain import percent
from synthscope.sampling.trace import NOT_REMOVED
from synthscope.session.compare import first_divergence
from synthscope.session.record import Step

STAGE_WORDS = {"penalties": "the repetition penalties", "top_k": "top-k", "typical_p": "typical-p",
               "top_p": "top-p", "min_p": "min-p", "temperature": "temperature", "dry": "DRY",
               "top_n_sigma": "top-n-sigma", "xtc": "XTC", "logit_bias": "the logit bias",
               "grammar": "the grammar", "mirostat": "mirostat", "adaptive_p": "adaptive-p"}


def first_difference(a: list[Step], b: list[Step], start: int = 0) -> int | None:
    """The first index from `start` where the paths write different tokens (or one has ended);
    None when they are the same."""
    found = first_divergence([[s.token_id for s in a[start:]], [s.token_id for s in b[start:]]])
    return None if found is None else start + found


def changed_settings(before: Step, after: Step) -> str:
    """“temperature 0.8 → 1.5, top-p 0.95 → 0.5”, or "" when the settings are the same."""
    parts = []
    for spec in SPECS:
        old, new = getattr(before.settings, spec.key), getattr(after.settings, spec.key)
        if old != new:
            parts.append(f"{spec.label.lower()} {old:g} → {new:g}")
    for list_spec in LIST_SPECS:
        if getattr(before.settings, list_spec.key) != getattr(after.settings, list_spec.key):
            parts.append(f"{list_spec.label.lower()} changed")
    return ", ".join(parts)


def explain_divergence(original: list[Step], replay: list[Step], index: int,
                       token_text: Callable[[int], str]) -> str:
    """Why the replay wrote another token than the original at `index`, from the replay's trace."""
    if index >= len(replay) or index >= len(original):
        longer = "the replay" if len(replay) > len(original) else "the original"
        return f"The two agree for {index} word pieces; then {longer} goes on where the other one ended."
    old, new = original[index], replay[index]
    old_word, new_word = token_text(old.token_id), token_text(new.token_id)
    text = (f"The replay first differs at word piece {index + 1}: it wrote ‘{new_word}’ (the model gave it "
            f"{percent(new.trace.chosen_p_raw)}, {percent(new.trace.chosen_p_final)} after the samplers) "
            f"where the original wrote ‘{old_word}’.")
    rows = new.trace.candidates
    found = rows[rows["token_id"] == old.token_id]
    if new.chosen_by == "person":
        text += " You picked it."
    elif found.size == 0:
        text += f" ‘{old_word}’ was not even among the replay's top candidates."
    elif int(found[0]["removed_by"]) != NOT_REMOVED:
        stage = new.trace.stages[int(found[0]["removed_by"])].name
        text += f" This time {STAGE_WORDS[stage]} removed ‘{old_word}’ before the draw."
    else:
        text += (f" ‘{old_word}’ still had {percent(float(found[0]['p_final']))} after the samplers, but the "
                 f"same dice (landing {new.u:.1%} of the way along the line) fell on ‘{new_word}’ under the "
                 "new odds."
                 if new.u is not None else
                 f" With temperature 0 the top word piece always wins, and now that is ‘{new_word}’.")
    changes = changed_settings(old, new)
    if changes:
        text += f" Settings changed: {changes}."
    elif index > 0:
        text += " The settings are the same: an earlier different word piece changed what the model expected."
    return text
