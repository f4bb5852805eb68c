"""A run as one web page to take away: the prompt, then every written word piece shaded by its chance."""
from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from synthscope.sampling import SPECS, SamplerSettings
from synthscope.sampling.explain import percent
from synthscope.sampling.order import PICKING_STAGES
from synthscope.sampling.specs import SWITCHES
from synthscope.session.bands import BAND_INK, BANDS_TITLE, PROBABILITY_BANDS, band_hex
from synthscope.session.export import encoded, p_final, surprise_bits
from synthscope.session.json_io import write_atomically
from synthscope.session.record import Step

# As the window writes a word piece in a note: its spaces and line ends shown, since they are part of it.
_VISIBLE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"})
MUTED = "#66707A"
BORDER = "#D6DAE0"
STYLE = f"""
body {{ font-family: "DejaVu Sans", "Segoe UI", system-ui, sans-serif; color: {BAND_INK}; background: #FFFFFF;
       max-width: 48em; margin: 2em auto; padding: 0 1.2em; line-height: 1.5; }}
h1 {{ font-size: 1.4em; font-weight: 600; margin: 0 0 .3em; }}
.facts, .key {{ color: {MUTED}; margin: .3em 0; }}
.swatch {{ color: {BAND_INK}; padding: 0 .45em; border-radius: 3px; white-space: nowrap; }}
.text {{ white-space: pre-wrap; overflow-wrap: anywhere; font-size: 1.15em; line-height: 1.75;
        border: 1px solid {BORDER}; border-radius: 8px; padding: .8em 1em; margin-top: 1em; }}
.piece {{ color: {BAND_INK}; border-radius: 2px; -webkit-box-decoration-break: clone;
         box-decoration-break: clone; }}
* {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
@media print {{ body {{ max-width: none; margin: 0; }} .text {{ border: none; padding: 0; }} }}
"""


def visible(text: str) -> str:
    """A word piece with its whitespace shown (␣ is a space); ∅ for one that wrote no character."""
    return text.translate(_VISIBLE) if text else "∅"


def piece_words(number: int, step: Step) -> str:
    """A word piece's note: its chances before and after the samplers, its rank and its surprise."""
    trace = step.trace
    after = p_final(step)
    if after is None:
        later = "after the samplers too little to be recorded"
    elif after <= 0.0:
        later = "the samplers had removed it"
    else:
        later = f"after the samplers {percent(after)}"
    rank = (f"; rank {trace.chosen_rank:,} among all word pieces"
            + (" (the model's favourite)" if trace.chosen_rank == 1 else "") if trace.chosen_rank else "")
    person = " A person picked it, not the dice." if step.chosen_by == "person" else ""
    return (f"Word piece {number}: ‘{visible(step.text)}’ — the model gave it {percent(trace.chosen_p_raw)}, "
            f"{later}{rank}. A surprise of {surprise_bits(trace.chosen_p_raw):.1f} bits.{person}")


def settings_words(settings: SamplerSettings) -> str:
    """The samplers that were on, with their values, in the order of the settings' declarations."""
    running = set(settings.samplers) | set(PICKING_STAGES)
    words = [f"{spec.label} {getattr(settings, spec.key):g}" for spec in SPECS
             if spec.key in SWITCHES and spec.stage in running
             and (spec.key == "temperature" or not spec.is_off(getattr(settings, spec.key)))]
    if settings.logit_bias:
        words.append(f"{len(settings.logit_bias)} word piece{'s' if len(settings.logit_bias) != 1 else ''} "
                     "banned or boosted")
    if settings.grammar:
        words.append("a grammar")
    return ", ".join(words) or "no samplers"


def facts_line(steps: Sequence[Step], model_name: str, seed: int | None) -> str:
    count = f"{len(steps):,} word piece{'s' if len(steps) != 1 else ''}"
    parts = [model_name, count] + ([f"seed {seed}"] if seed is not None else [])
    if steps:
        changed = any(step.settings != steps[0].settings for step in steps[1:])
        parts.append("settings " + ("at the first word piece (they changed later): " if changed else "")
                     + settings_words(steps[0].settings))
    return " · ".join(parts)


def key_line() -> str:
    swatches = " ".join(f'<span class="swatch" style="background:{colour}">{escape(label)}</span>'
                        for _, colour, label in PROBABILITY_BANDS)
    return (f"{escape(BANDS_TITLE)}, before the samplers: {swatches}. Unshaded: the prompt. "
            "Point at a word piece for its numbers (␣ is a space, ↵ a new line).")


def html_page(prompt: str, steps: Sequence[Step], title: str, model_name: str, seed: int | None = None) -> str:
    """A self-contained HTML5 page (no file or address outside it is needed): a key to the colours, the
    model and settings, then the prompt unshaded and each written word piece shaded by the chance the
    model gave it, with its numbers in a note (the `title`) and newlines kept."""
    pieces = "".join(f'<span class="piece" style="background:{band_hex(step.trace.chosen_p_raw)}" '
                     f'title="{escape(piece_words(number, step))}">{escape(step.text)}</span>'
                     for number, step in enumerate(steps, start=1))
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{escape(title)}</h1>\n"
            f'<p class="facts">{escape(facts_line(steps, model_name, seed))}</p>\n'
            f'<p class="key">{key_line()}</p>\n'
            f'<div class="text">{escape(prompt)}{pieces}</div>\n'
            f'<p class="facts">Written with Synthscope.</p>\n</body>\n</html>\n')


def write_html(prompt: str, steps: Sequence[Step], title: str, model_name: str, path: str | Path,
               seed: int | None = None) -> None:
    """The page as a UTF-8 file, written whole or not at all."""
    write_atomically(encoded(html_page(prompt, steps, title, model_name, seed)), path)
