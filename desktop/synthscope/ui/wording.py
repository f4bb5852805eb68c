"""Plain words for tokens, probabilities and what each sampler stage did."""
from __future__ import annotations

from synthscope.sampling import explain
from synthscope.session.requests import LoadedModel

STAGE_LABELS = {
    "penalties": "Repetition penalty",
    "top_k": "Top-k",
    "typical_p": "Typical-p",
    "top_p": "Top-p",
    "min_p": "Min-p",
    "temperature": "Temperature",
    "dry": "DRY",
    "top_n_sigma": "Top-n-sigma",
    "xtc": "XTC",
    "logit_bias": "Ban or boost",
    "grammar": "Grammar",
    "mirostat": "Mirostat",
    "adaptive_p": "Adaptive-p",
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


def readable(text: str) -> str:
    """A stretch of text as a sentence shows it: spaces as spaces, new lines as ↵ (visible() marks every
    space, which a single word piece needs and a whole line does not)."""
    return text.replace("\r", "").replace("\n", "↵ ").replace("\t", " ").strip() or "∅"


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


WORD_PIECE_HELP = ("A word piece (a token) is what the model writes in one go: a whole word, part of a "
                   "longer word, a space plus a word (␣ marks that space), or a punctuation mark.")


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
