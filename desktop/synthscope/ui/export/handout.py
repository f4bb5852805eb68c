"""A printable one-page handout of one step: the text up to it, the chances before and after the
samplers, what each sampler did, and the dice — the same numbers the window shows, in plain words."""
from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtGui import QTextDocument

from synthscope.sampling import explain
from synthscope.session import Step
from synthscope.session.mirror import StepView
from synthscope.ui import theme
from synthscope.ui.export.pdf import paper_document, write_pdf
from synthscope.ui.stage_words import describe_stage
from synthscope.ui.wording import STAGE_LABELS, STOP_WORDS, html, listed, percent, visible

ROWS = 12  # candidates listed: a page holds them with the rest
BAR_CELLS = 36  # a bar of the whole width stands for 100%
CONTEXT_CHARS = 700  # the text before the step, at most (the start is elided)
POINTS = 10.5
PAPER = theme.LIGHT  # paper is white whatever the screen's palette
CHOSEN, RAW, ACCENT, MUTED = PAPER["CHOSEN"], PAPER["RAW"], PAPER["ACCENT"], PAPER["MUTED"]


def _bar(p: float, colour: str) -> str:
    cells = round(max(0.0, min(1.0, p)) * BAR_CELLS)
    return f"<span style='color:{colour}'>{'█' * cells}</span>" if cells else ""


def _text_part(prompt: str, steps: Sequence[Step], index: int, name: str) -> str:
    before = prompt + "".join(step.text for step in steps[:index])
    cut = len(before) > CONTEXT_CHARS
    shown = ("…" if cut else "") + before[-CONTEXT_CHARS:]
    text = html(shown).replace("\n", "<br>")
    return (f"<p style='white-space:pre-wrap'>{text}<span style='color:{CHOSEN}'><b><u>"
            f"{html(name)}</u></b></span> …</p>")


def _chances_table(view: StepView, name: Callable[[int], str]) -> str:
    trace = view.trace
    rows = []
    for cand in trace.candidates[:ROWS]:
        token = int(cand["token_id"])
        p_raw, p_final = float(cand["p_raw"]), float(cand["p_final"])
        chosen = token == view.token_id
        removed = int(cand["removed_by"])
        if chosen:
            note = "<b>written</b>"
        elif 0 <= removed < len(trace.stages):
            stage = describe_stage(trace.stages[removed], view.settings).title
            note = f"removed by {html(stage)}"
        else:
            note = ""
        word = html(visible(name(token)))
        style = f" style='color:{CHOSEN}'" if chosen else ""
        rows.append(f"<tr><td align=right{style}>{'<b>' if chosen else ''}{word}{'</b>' if chosen else ''}</td>"
                    f"<td align=right>{percent(p_raw)}</td><td>{_bar(p_raw, RAW)}</td>"
                    f"<td align=right>{percent(p_final) if p_final > 0 else '—'}</td>"
                    f"<td>{_bar(p_final, CHOSEN if chosen else ACCENT)}</td><td>{note}</td></tr>")
    head = ("<tr><th align=right>word piece</th><th align=right colspan=2>the model's chance</th>"
            "<th align=right colspan=2>after the samplers</th><th></th></tr>")
    return f"<table cellspacing=0 cellpadding=3>{head}{''.join(rows)}</table>"


def _samplers(view: StepView, name: Callable[[int], str], vocab: int) -> str:
    items = []
    for stage in view.trace.stages:
        words = describe_stage(stage, view.settings, lambda t: visible(name(t)), vocab)
        if words.off:
            continue
        items.append(f"<li><b>{html(words.title)}</b>: {html(words.headline)} — {html(words.detail)}</li>")
    off = [STAGE_LABELS[s.name] for s in view.trace.stages if describe_stage(s, view.settings).off]
    tail = f"<p>Switched off, so they changed nothing: {html(listed(off))}.</p>" if off else ""
    return (f"<ol>{''.join(items)}</ol>" if items else "<p>No sampler was at work.</p>") + tail


def _dice(view: StepView, chosen: str) -> str:
    trace = view.trace
    if view.u is None:
        return f"No dice: temperature 0 always writes the top word, ‘{html(chosen)}’."
    if trace.final_size == 1 and trace.chosen_index == 0:
        return (f"The dice did not matter here: only ‘{html(chosen)}’ was left after the samplers, so "
                f"wherever they landed (here {view.u:.1%} of the way) it would have been written.")
    if trace.chosen_index < 0:
        return f"No dice: a person picked ‘{html(chosen)}’ themselves."
    start = float(trace.final["p"][:trace.chosen_index].sum()) if trace.chosen_index < len(trace.final) else None
    share = trace.chosen_p_final
    slice_words = (f" Its slice ran from {start:.1%} to {start + share:.1%}."
                   if start is not None and share == share else "")
    return (f"Lay every word piece still in play along a line from 0% to 100%, each as long as its chance "
            f"after the samplers. The dice landed <b>{view.u:.1%}</b> of the way along, in the slice of "
            f"‘{html(chosen)}’, so it was written.{slice_words}")


def handout_html(view: StepView, steps: Sequence[Step], prompt: str, name: Callable[[int], str],
                 model_name: str, vocab: int, seed: int | None = None) -> str:
    """The handout as rich text; `name` gives a word piece's own text."""
    trace = view.trace
    chosen = visible(name(view.token_id))
    why = explain.why(trace, view.token_id, lambda t: visible(name(t)), greedy=view.u is None)
    fav_raw = float(trace.candidates["p_raw"][0]) if len(trace.candidates) else None
    sure = explain.certainty_words(trace.entropy_raw, fav_raw)
    what_if = (" <i>(a what-if: the chances with other settings than the run's)</i>"
               if view.is_what_if else "")
    when = datetime.date.today().strftime("%d %B %Y")
    facts = f"{html(model_name)} · {vocab:,} word pieces it knows" + (f" · dice seed {seed}" if seed is not None
                                                                       else "")
    return f"""
<p><font size=+3><b>How the model chose word piece {view.index + 1} of {len(steps)}</b></font><br>
<span style='color:{MUTED}'>{facts} · {when} · made with Synthscope</span></p>
<p><font size=+1><b>The text</b></font> (the word piece it chose is underlined){what_if}</p>
{_text_part(prompt, steps, view.index, name(view.token_id) if view.token_id >= 0 else STOP_WORDS)}
<p><b>Why ‘{html(chosen)}’?</b> {html(why.sentence)} Before the samplers, {html(sure)}.</p>
<p><font size=+1><b>The chances</b></font> — each is a share of all {vocab:,} word pieces the model knows;
the first {min(ROWS, len(trace.candidates))} are listed. <span style='color:{RAW}'>█</span> the
model's own chance, <span style='color:{ACCENT}'>█</span> after the samplers (what the dice
used); a whole bar is 100%.</p>
{_chances_table(view, name)}
<p><font size=+1><b>What the samplers did</b></font>, in this order:</p>
{_samplers(view, name, vocab)}
<p><font size=+1><b>The dice</b></font></p>
<p>{_dice(view, chosen)}</p>
<p style='color:{MUTED}'>A word piece is what the model writes in one go: a word, part of one, a space
plus a word (␣ marks the space) or a punctuation mark. The same text, settings and dice give the same
numbers again.</p>"""


def handout_document(markup: str) -> QTextDocument:
    """The handout laid out as the PDF prints it (the README's picture of it draws this too)."""
    document = paper_document(POINTS)
    document.setHtml(markup)
    return document


def save_handout(markup: str, path: str | Path) -> int:
    """Write the handout as a one-page PDF; returns its page count."""
    return write_pdf(handout_document(markup), path, "Synthscope: how the model chose a word piece",
                     one_page=True)
