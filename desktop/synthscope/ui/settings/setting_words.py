"""What each sampler setting's control says in words: its two ends, what "off" means, what a hidden
one does, and the seed's and the length's explanations."""
from __future__ import annotations

from synthscope.sampling import SettingSpec
from synthscope.sampling.settings import SPEC_BY_KEY

OFF_MEANING = {"top_k": "no limit", "top_p": "no limit", "min_p": "no limit", "typical_p": "no limit",
               "repeat_penalty": "no change", "frequency_penalty": "no change",
               "presence_penalty": "no change", "repeat_last_n": "looks back at nothing",
               "dry_multiplier": "off", "dry_penalty_last_n": "off", "top_n_sigma": "off",
               "xtc_probability": "off", "dynatemp_range": "fixed", "mirostat": "off",
               "adaptive_target": "off"}
SEED_HELP = ("The seed is the starting number for the dice. The same seed and the same settings give the "
             "same text again; another seed gives other rolls. A new run (after Clear, or after you edit "
             "the text) uses the seed shown here.")
SEED_SUBTITLE = ("the dice's starting number: the same seed gives the same text again; Roll, or New dice "
                 "each run, gives a different text")
LENGTH_LABEL = "Length (word pieces)"
LENGTH_HELP = "How many word pieces Generate writes before it stops by itself."
# Each slider's two ends in words, shown under it (the temperature's: calm on the left, wild on the right).
ENDS = {"temperature": ("◀ calm: the likeliest word", "wild: surprises ▶"),
        "top_k": ("◀ fewer words (0: all)", "more words ▶"),
        "top_p": ("◀ only the top few words", "all words ▶"),
        "min_p": ("◀ off: all words", "only the favourite ▶"),
        "typical_p": ("◀ only the most typical", "off: all words ▶"),
        "repeat_penalty": ("◀ repeats more likely", "less likely ▶")}


def plain_effect(key: str, value: float) -> str:
    """What a sampler that is not off does, in a few plain words: 'only the 40 likeliest words'."""
    if key == "top_k":
        return f"only the {value:g} likeliest words" if value != 1 else "only the likeliest word"
    if key == "top_p":
        return f"only the likeliest words holding {value:.0%} of the chance"
    if key == "min_p":
        return f"no word under {value * 100:g}% of the favourite's chance"
    if key == "typical_p":
        return "only words about as surprising as usual"
    if key == "repeat_penalty":
        return f"recent words made {'less' if value > 1 else 'more'} likely"
    if key == "frequency_penalty":
        return f"each repeat makes a word {'less' if value > 0 else 'more'} likely"
    if key == "presence_penalty":
        return f"words already written made {'less' if value > 0 else 'more'} likely"
    if key == "dry_multiplier":
        return "copies of earlier text held back"
    if key == "top_n_sigma":
        return "only words scored close to the favourite"
    if key == "xtc_probability":
        return f"the top words sometimes crossed out ({value:.0%} of the time)"
    if key == "dynatemp_range":
        return "a temperature that follows how unsure the model is"
    if key == "mirostat":
        return "mirostat picks instead of the other samplers"
    if key == "adaptive_target":
        return f"adaptive-p picks words near {value:.0%}"
    return f"{SPEC_BY_KEY[key].label.lower()} {value:g}"


def tag_for(spec: SettingSpec, value: float) -> str:
    """A few words after the label saying what the current value means: 'off (0 = no limit)'."""
    if spec.key == "temperature":
        return "always the top word" if value == 0 else ("off (1 = no change)" if value == 1 else "")
    if spec.off_value is not None and spec.is_off(value):
        return f"off ({value:g} = {OFF_MEANING.get(spec.key, 'no change')})"
    return ""
