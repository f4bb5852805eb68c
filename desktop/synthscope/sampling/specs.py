"""Every sampler setting declared once: key (llama.cpp's name), type, default, range, plain-words help."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


class SettingsError(ValueError):
    """A sampler setting is outside what makes sense; the message is one plain sentence."""


@dataclass(frozen=True)
class SettingSpec:
    """A number setting. `stage` is the chain stage it belongs to; `off_value` the value at which the
    stage does nothing, `off_rule` for settings that are off over a whole range."""

    key: str
    kind: type
    default: float | int
    minimum: float | int
    maximum: float | int
    label: str
    help: str
    off_value: float | int | None = None
    stage: str = ""
    off_rule: Callable[[float], bool] | None = None

    def is_off(self, value: float) -> bool:
        if self.off_rule is not None:
            return self.off_rule(value)
        return self.off_value is not None and value == self.off_value


@dataclass(frozen=True)
class ListSpec:
    """A setting that is text or a list rather than one number (the order, the breakers, the biases,
    the grammar); each is checked by its own function in settings.py."""

    key: str
    label: str
    help: str
    stage: str = ""


SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("temperature", float, 0.8, 0.0, 5.0, "Temperature",
                "How adventurous the model is. Low (calm) lets the likeliest word win almost every "
                "time; high (wild) gives unlikely words more of a chance. 0 always takes the top word.", 1.0,
                "temperature"),
    SettingSpec("top_k", int, 40, 0, 1000, "Top-k",
                "Only this many of the likeliest words stay in the game; every other word is crossed "
                "out. 0 = no limit.", 0, "top_k"),
    SettingSpec("top_p", float, 0.95, 0.0, 1.0, "Top-p",
                "Keeps the likeliest words until their chances add up to this share (0.95 = 95%) and "
                "crosses out the long tail of unlikely words. 1 = no limit.", 1.0, "top_p"),
    SettingSpec("min_p", float, 0.05, 0.0, 1.0, "Min-p",
                "Crosses out every word whose chance is below this fraction of the favourite's chance "
                "(0.05 = a twentieth). 0 = no limit.", 0.0, "min_p"),
    SettingSpec("typical_p", float, 1.0, 0.0, 1.0, "Typical-p",
                "Keeps the words about as surprising as a typical word here, crossing out ones that are "
                "too obvious or too strange, up to this share of the chance. 1 = no limit.", 1.0, "typical_p"),
    SettingSpec("repeat_penalty", float, 1.0, 0.1, 3.0, "Repeat penalty",
                "Makes words that were already written recently less likely, so the text repeats "
                "itself less. 1 = no change; 1.1 = a small penalty.", 1.0, "penalties"),
    SettingSpec("repeat_last_n", int, 64, 0, 4096, "Penalty window",
                "How many of the latest word pieces (your prompt included) the penalties look back at.", 0,
                "penalties"),
    SettingSpec("frequency_penalty", float, 0.0, -2.0, 2.0, "Frequency penalty",
                "Lowers a word's score a bit more for every time it was already written. "
                "0 = no change.", 0.0, "penalties"),
    SettingSpec("presence_penalty", float, 0.0, -2.0, 2.0, "Presence penalty",
                "Lowers a word's score once if it was already written at all. 0 = no change.", 0.0,
                "penalties"),
    SettingSpec("dry_multiplier", float, 0.0, 0.0, 5.0, "DRY strength",
                "DRY (“don't repeat yourself”) stops the model from copying a run of words it already "
                "wrote: the word that would continue the copy is made less likely, more so the longer "
                "the copy. This is how hard it pushes. 0 = off; 0.8 is a common choice.", 0.0, "dry"),
    SettingSpec("dry_base", float, 1.75, 1.0, 4.0, "DRY growth",
                "How much harder DRY pushes for each extra word piece of a copy: the push is the "
                "strength × growth to the power of (copy length − allowed length).", None, "dry"),
    SettingSpec("dry_allowed_length", int, 2, 0, 64, "DRY allowed length",
                "Copies up to this many word pieces long are left alone (short phrases repeat "
                "naturally); DRY only acts on longer ones.", None, "dry"),
    SettingSpec("dry_penalty_last_n", int, 64, 0, 4096, "DRY window",
                "How many of the latest word pieces (your prompt included) DRY searches for copies. "
                "0 = off.", 0, "dry"),
    SettingSpec("top_n_sigma", float, -1.0, -1.0, 10.0, "Top-n-sigma",
                "Keeps only the words whose score is close to the favourite's: within this many "
                "“spreads” (standard deviations of all the scores) of the top. Lower keeps fewer. "
                "0 or less = off.", -1.0, "top_n_sigma", off_rule=lambda value: value <= 0.0),
    SettingSpec("xtc_probability", float, 0.0, 0.0, 1.0, "XTC chance",
                "XTC (“exclude top choices”) sometimes crosses out the most obvious words to make the "
                "text less predictable. This is how often it acts: it rolls its own dice at each word "
                "piece. 0 = off.", 0.0, "xtc"),
    SettingSpec("xtc_threshold", float, 0.1, 0.0, 1.0, "XTC threshold",
                "When XTC acts, every word with at least this chance is crossed out except the least "
                "likely of them, so one good word always stays. Above 0.5 = off.", None, "xtc",
                off_rule=lambda value: value > 0.5),
    SettingSpec("dynatemp_range", float, 0.0, 0.0, 5.0, "Temperature swing",
                "Dynamic temperature: the temperature moves with how unsure the model is, up to this "
                "much lower when it is sure and higher when it is unsure. 0 = a fixed temperature.", 0.0,
                "temperature"),
    SettingSpec("dynatemp_exp", float, 1.0, 0.0, 10.0, "Swing shape",
                "How the dynamic temperature follows the model's unsureness: 1 = evenly; above 1 it "
                "stays low until the model is quite unsure.", None, "temperature"),
    SettingSpec("mirostat", int, 0, 0, 2, "Mirostat",
                "Mirostat replaces the word-crossing samplers: it keeps the text about equally "
                "surprising throughout by adjusting how many words may win after every word piece. "
                "0 = off, 1 = Mirostat, 2 = Mirostat 2.0.", 0, "mirostat"),
    SettingSpec("mirostat_ent", float, 5.0, 0.0, 20.0, "Mirostat target surprise",
                "The surprise Mirostat aims for, in bits per word piece: higher lets more unlikely "
                "words through (llama.cpp's tau).", None, "mirostat"),
    SettingSpec("mirostat_lr", float, 0.1, 0.0, 1.0, "Mirostat learning rate",
                "How quickly Mirostat corrects itself after a word piece that was more or less "
                "surprising than its target (llama.cpp's eta).", None, "mirostat"),
    SettingSpec("adaptive_target", float, -1.0, -1.0, 1.0, "Adaptive-p target",
                "Adaptive-p makes the final pick itself, favouring words whose chance is near this "
                "target and steering so that, over time, the chosen words average about this chance. "
                "Below 0 = off.", -1.0, "adaptive_p", off_rule=lambda value: value < 0.0),
    SettingSpec("adaptive_decay", float, 0.9, 0.0, 0.99, "Adaptive-p memory",
                "How long adaptive-p remembers the chances of the words it picked: 0.9 ≈ the last "
                "10 word pieces; lower reacts faster.", None, "adaptive_p"),
)
SPEC_BY_KEY = {spec.key: spec for spec in SPECS}
# The settings that switch a stage on (the others tune a stage: a window, a growth, a threshold).
SWITCHES = ("temperature", "top_k", "top_p", "min_p", "typical_p", "repeat_penalty", "frequency_penalty",
            "presence_penalty", "dry_multiplier", "top_n_sigma", "xtc_probability", "dynatemp_range",
            "mirostat", "adaptive_target")

LIST_SPECS: tuple[ListSpec, ...] = (
    ListSpec("samplers", "Order of the samplers",
             "The order the samplers run in, as llama.cpp's --samplers names it "
             "(penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature). Each one works on "
             "what the one before it left."),
    ListSpec("dry_sequence_breakers", "DRY breakers",
             "Texts that end a copy for DRY: a copy never reaches back past one of these (a new line, "
             "a colon, a quote mark, an asterisk by default).", "dry"),
    ListSpec("logit_bias", "Ban or boost a word",
             "Word pieces whose score is raised (a boost) or lowered (a ban makes them impossible) "
             "before any other sampler runs.", "logit_bias"),
    ListSpec("grammar", "Grammar",
             "A grammar in llama.cpp's GBNF language that decides which word pieces may follow, e.g. "
             "only digits, only “yes” or “no”, or a JSON shape. Empty = no grammar.", "grammar"),
)
LIST_SPEC_BY_KEY = {spec.key: spec for spec in LIST_SPECS}
DEFAULT_BREAKERS = ("\n", ":", "\"", "*")  # llama.cpp's
MIN_TEMPERATURE = 0.001
MAX_BREAKERS = 32
MAX_BREAKER_CHARS = 40  # llama.cpp keeps only the first 40 characters of a breaker
MAX_BIASES = 1024
BOOST = 2.0  # what "Boost" adds to a word piece's score: e² ≈ 7 times as likely
MAX_BIAS = 100.0  # a score shift beyond any model's range; -inf (a ban) is allowed too
MAX_GRAMMAR_CHARS = 100_000
