"""Plain words for tokens, probabilities and what each sampler stage did."""
from __future__ import annotations

from dataclasses import dataclass

from synthscope.sampling import SamplerSettings, StageTrace, explain
from synthscope.session.requests import LoadedModel

STAGE_LABELS = {
    "penalties": "Repetition penalty",
    "top_k": "Top-k",
    "typical_p": "Typical-p",
    "top_p": "Top-p",
    "min_p": "Min-p",
    "temperature": "Temperature",
}
_VISIBLE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"})


STOP_WORDS = "⬣ stop here"  # the end-of-text (or end-of-reply) token, wherever a token is named


def token_name(model: LoadedModel | None, token: int) -> str:
    """A token as the window names it: its text, or STOP_WORDS for one that ends a text or a turn
    (words, not template markup)."""
    if model is not None and token in model.end_tokens:
        return STOP_WORDS
    vocab = model.vocab if model else ()
    return vocab[token] if 0 <= token < len(vocab) else f"#{token}"


def visible(text: str) -> str:
    """Token text with its whitespace shown: a leading space is part of the word and matters."""
    if text == STOP_WORDS:
        return text  # plain words, not a token's own text
    return text.translate(_VISIBLE) if text else "∅"


def listed(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': items in a sentence."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def elide(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


percent = explain.percent


def number(n: int) -> str:
    return f"{n:,}"


def setting_value(value: float) -> str:
    return f"{value:g}"


# What "off" means for each stage, said once so nobody has to guess whether off is 0 or 1.
OFF_WORDS = {
    "top_k": "off (0 = no limit): every word may be picked",
    "top_p": "off (1 = no limit): every word may be picked",
    "typical_p": "off (1 = no limit): every word may be picked",
    "min_p": "off (0 = no limit): every word may be picked",
    "temperature": "off (1 = no change): the odds stay as they are",
}
WORD_PIECE_HELP = ("A word piece (a token) is what the model writes in one go: a whole word, part of a "
                   "longer word, a space plus a word (␣ marks that space), or a punctuation mark.")


@dataclass(frozen=True)
class StageWords:
    """What one stage box says: a title, a headline with numbers, a detail line, and idleness.

    `off` tells a stage that is switched off from one that ran but removed nothing (both are idle)."""

    title: str
    headline: str
    detail: str
    idle: bool
    off: bool = False

    @property
    def sentence(self) -> str:
        return f"{self.title}: {self.headline} — {self.detail}"


def describe_stage(stage: StageTrace, settings: SamplerSettings) -> StageWords:
    label = STAGE_LABELS.get(stage.name, stage.name)
    if stage.name == "penalties":
        return _penalties(stage, settings)
    if stage.name == "temperature":
        return _temperature(stage, settings)
    value = getattr(settings, stage.name)
    title = f"{label} {setting_value(value)}"
    if settings.greedy:
        return StageWords(title, "skipped", "temperature 0 takes the top word", True, True)
    if not stage.active:
        return StageWords(title, "off", OFF_WORDS[stage.name], True, True)
    if stage.kept >= stage.n_in:
        return StageWords(title, "removed nothing", f"all {number(stage.n_in)} words passed", True)
    # Top-k always sees every word piece (the penalty before it removes none); later stages see what is left.
    of = "of all it knows" if stage.name == "top_k" else "of what was left"
    return StageWords(title, f"kept {number(stage.kept)} of {number(stage.n_in)}",
                      f"{of}; removed {percent(stage.removed_mass)} of the chance still in play", False)


def _penalties(stage: StageTrace, settings: SamplerSettings) -> StageWords:
    parts = []
    if settings.repeat_penalty != 1.0:
        parts.append(setting_value(settings.repeat_penalty))
    if settings.frequency_penalty != 0.0:
        parts.append(f"frequency {setting_value(settings.frequency_penalty)}")
    if settings.presence_penalty != 0.0:
        parts.append(f"presence {setting_value(settings.presence_penalty)}")
    title = f"Repetition penalty {', '.join(parts)}" if parts else "Repetition penalty"
    if not stage.active:
        detail = ("nothing written yet to look back at" if parts
                  else "off (1 = no change): repeats are not punished")
        return StageWords(title, "off", detail, True, not parts)
    if stage.changed == 0:
        return StageWords(title, "changed nothing", "nothing was repeated", True)
    words = "word piece" if stage.changed == 1 else "word pieces"
    return StageWords(title, f"made {number(stage.changed)} {words} less likely",
                      f"already written in the last {number(settings.repeat_last_n)}: repeats are held back",
                      False)


def _temperature(stage: StageTrace, settings: SamplerSettings) -> StageWords:
    t = settings.temperature
    title = f"Temperature {setting_value(t)}"
    if settings.greedy:
        return StageWords(title, "always the top word", "0: no dice are thrown", False)
    if not stage.active:
        return StageWords(title, "odds unchanged", OFF_WORDS["temperature"], True, True)
    if t < 1.0:
        return StageWords(title, "sharper odds", f"{setting_value(t)} sharpens: likely words gain", False)
    return StageWords(title, "flatter odds", f"{setting_value(t)} flattens: unlikely words gain", False)


# One sentence for each bit of jargon the window shows, for tooltips (a 14-year-old should follow).
JARGON = {
    "parameters": "Parameters are the numbers the model learned from lots of text: 135M means 135 million of "
                  "them (big chat models have hundreds of billions).",
    "quantisation": "Q4_1, Q8_0 and the like say how squeezed the model's numbers are: Q4 keeps about 4 bits "
                    "per number, so the file is small and fast but a little less exact.",
    "tokens_per_second": "How many word pieces (tokens) the model writes per second on this computer.",
    "seed": "The seed is the starting number for the dice: the same seed and settings give the same text.",
    "roll": "Roll picks a new random seed, so the next run throws different dice.",
}


def model_help(name: str, parameters: int) -> str:
    """The model label's tooltip: what its size and its Q-code mean."""
    lines = [f"{name}: a model with {parameters / 1e6:,.0f} million parameters. {JARGON['parameters']}"]
    if any(part.upper().startswith(("Q", "IQ", "F16", "BF16")) for part in name.replace("-", ".").split(".")):
        lines.append(JARGON["quantisation"])
    return "\n".join(lines)
