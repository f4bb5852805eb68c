"""The window's help text (Help → How to read this window) and its About box."""
from __future__ import annotations

from synthscope import __version__
from synthscope.engine import choice_file, machine_facts
from synthscope.session.requests import LoadedModel

HELP_TEXT = (
    "<p><b>The text</b> holds your prompt and what the model wrote, one word piece (a word or a piece of "
    "a word) at a time. Each generated word piece is shaded by how likely the model thought it was. "
    "Hover a word piece to see its rivals; click it to inspect it in every panel. <i>⬣ end of text</i> marks "
    "where the model picked its end-of-text word piece.</p>"
    "<p><b>Chat mode</b> (Run → Chat with the model) is for instruct models: write a message below the "
    "conversation and press Enter. The model answers in its own chat format; <i>⬣ the model chose to "
    "stop here</i> marks where it picked its end-of-turn word piece, with the chance it gave it.</p>"
    "<p><b>Chances</b> lists the likeliest next word pieces: the pale bar is the model's own chance, the "
    "dark bar the chance after the samplers. Greyed word pieces were removed by the stage named.</p>"
    "<p><b>What the samplers did</b> shows each stage at work in the order it runs; the ones switched off "
    "are named in one line under the boxes. Thin-framed boxes had no effect at this word piece. Drag a "
    "box left or right to run that sampler earlier or later; click one (or <b>Stage by stage</b> in "
    "Chances) to follow each word through every sampler. <b>Show all settings</b> has every sampler "
    "llama.cpp has: DRY, XTC, top-n-sigma, a temperature that swings, mirostat, adaptive-p, bans and "
    "boosts (also with a right-click in Chances) and a grammar.</p>"
    "<p><b>The dice</b> lays the remaining chances end to end from 0 to 1. A random number (the dice) "
    "lands somewhere; the word piece it lands on is written. When only one word piece is left, the roll "
    "does not matter, and the panel says so.</p>"
    "<p><b>What if?</b> When the model is not writing, move any setting: the panels show what the same "
    "dice would have picked with the new settings.</p>"
    "<p><b>Branches:</b> click a word piece to write another one there (the rest is written again with the "
    "same dice) or to replay from it with the current settings. Every version stays in the Branches "
    "panel; a blue flag marks where the shown one left its parent.</p>"
    "<p><b>Keys:</b> Ctrl+Enter generate (or send) · Ctrl+T chat or raw text · Ctrl+P pick word pieces "
    "yourself · Ctrl+Shift+C compare runs · Ctrl+S save session · Ctrl+Shift+O open session · "
    "Ctrl+M models on this computer · Esc stop · "
    "Space one word piece (unless the text, a button or a "
    "box has the keyboard focus) · Ctrl+Z undo the last word piece · Ctrl+L clear · Ctrl+plus/minus text "
    "size.</p>")


def about_text(model: LoadedModel | None) -> str:
    """Version, the model, how llama.cpp runs it and why, and how to make Synthscope check again."""
    facts = machine_facts()
    lines = [f"<p><b>Synthscope {__version__}</b>: watch a small language model write.</p>"]
    if model is not None:
        config = model.config
        if model.server is not None:
            lines.append(f"<p><b>Model:</b> {model.location} — {model.facts.vocab_size:,} word pieces</p>"
                         f"<p><b>Computed by</b> {config.describe()}.</p>")
        else:
            lines.append(f"<p><b>Model:</b> {model.path.name} — {model.facts.summary}</p>"
                         f"<p><b>Running on</b> {model.device}: {config.describe()}."
                         f"<br>{model.note}</p>")
    lines.append(f"<p><b>Computer:</b> {facts.cpu_name}, {facts.physical_cores} cores "
                 f"({facts.logical_cores} threads).<br>The check of how llama.cpp runs here is "
                 f"remembered in {choice_file()}; delete that file (or run "
                 f"<tt>synthscope engine --reset</tt>) to check again.</p>")
    return "".join(lines)
