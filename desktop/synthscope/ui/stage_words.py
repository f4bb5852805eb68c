"""What each sampler stage did at one step, in plain words for its box in the samplers strip."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from synthscope.sampling import SamplerSettings, StageTrace, StepTrace
from synthscope.ui.wording import STAGE_LABELS, elide, number, percent, setting_value, visible

# What "off" means for each stage, said once so nobody has to guess whether off is 0 or 1.
OFF_WORDS = {
    "top_k": "off (0 = no limit): every word may be picked",
    "top_p": "off (1 = no limit): every word may be picked",
    "typical_p": "off (1 = no limit): every word may be picked",
    "min_p": "off (0 = no limit): every word may be picked",
    "temperature": "off (1 = no change): the odds stay as they are",
    "top_n_sigma": "off (0 or less): every word may be picked",
    "dry": "off (strength 0): copies of earlier text are not held back",
    "xtc": "off (chance 0): the top words are never crossed out",
}
ONE_LEFT = "no effect here: only one word was left"
GREEDY_WORDS = "temperature 0 takes the top word"
SHARE_NOTE = "of the chance still in play"  # a stage's removed share is of what reached it


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


Namer = Callable[[int], str]


def describe_stage(stage: StageTrace, settings: SamplerSettings, name: Namer | None = None,
                   vocab: int | None = None) -> StageWords:
    """The box's words for `stage` at one step; `name` quotes a word piece (DRY's repeat, a ban),
    `vocab` is the model's vocabulary size (a stage that saw all of it says so)."""
    describer = _DESCRIBERS.get(stage.name)
    if describer is None:
        words = _cut(stage, settings, vocab)
    else:
        words = describer(stage, settings, name or (lambda token: f"#{token}"))
    if stage.active and stage.n_in <= 1 and not words.off and stage.name not in ("logit_bias", "grammar"):
        return StageWords(words.title, "no effect here", ONE_LEFT[len("no effect here: "):], True)
    return words


def _title(stage: str, settings: SamplerSettings) -> str:
    value = getattr(settings, stage, None)
    label = STAGE_LABELS.get(stage, stage)
    return f"{label} {setting_value(value)}" if isinstance(value, (int, float)) else label


def _cut(stage: StageTrace, settings: SamplerSettings, vocab: int | None) -> StageWords:
    """The stages that cross words out: top-k, typical-p, top-p, min-p, top-n-sigma."""
    title = _title(stage.name, settings)
    if settings.greedy and not stage.active:
        return StageWords(title, "skipped", GREEDY_WORDS, True, True)
    if not stage.active:
        return StageWords(title, "off", OFF_WORDS.get(stage.name, "off"), True, True)
    if stage.kept >= stage.n_in:
        return StageWords(title, "no effect here", f"all {number(stage.n_in)} words passed", True)
    # The first stage to cut sees every word piece; a later one sees what the ones before it left.
    of = "of all it knows" if vocab is not None and stage.n_in >= vocab else "of what was left"
    return StageWords(title, f"kept {number(stage.kept)} of {number(stage.n_in)}",
                      f"{of}; removed {percent(stage.removed_mass)} {SHARE_NOTE}", False)



def _penalties(stage: StageTrace, settings: SamplerSettings, _name: Namer) -> StageWords:
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
        return StageWords(title, "off" if not parts else "no effect here", detail, True, not parts)
    if stage.changed == 0:
        return StageWords(title, "no effect here", "nothing was repeated", True)
    words = "word piece" if stage.changed == 1 else "word pieces"
    return StageWords(title, f"made {number(stage.changed)} {words} less likely",
                      f"already written in the last {number(settings.repeat_last_n)}: repeats are held back",
                      False)


def _temperature(stage: StageTrace, settings: SamplerSettings, _name: Namer) -> StageWords:
    t = settings.temperature
    title = f"Temperature {setting_value(t)}"
    if settings.greedy:
        return StageWords(title, "always the top word", "0: no dice are thrown", False)
    dynamic = (stage.detail or {}).get("temperature")
    if not stage.active:
        return StageWords(title, "odds unchanged", OFF_WORDS["temperature"], True, True)
    if dynamic is not None:
        low, high = max(0.0, t - settings.dynatemp_range), t + settings.dynatemp_range
        used = float(dynamic)
        shape = "sharper odds" if used < 1.0 else "flatter odds" if used > 1.0 else "odds unchanged"
        return StageWords(f"Temperature {setting_value(t)} ± {setting_value(settings.dynatemp_range)}", shape,
                          f"dynamic: {used:.2f} here (it moves from {low:g} when the model is sure to "
                          f"{high:g} when it is unsure)", used == 1.0)
    if t < 1.0:
        return StageWords(title, "sharper odds", f"{setting_value(t)} sharpens: likely words gain", False)
    return StageWords(title, "flatter odds", f"{setting_value(t)} flattens: unlikely words gain", False)


def _dry(stage: StageTrace, settings: SamplerSettings, name: Namer) -> StageWords:
    title = f"DRY {setting_value(settings.dry_multiplier)}"
    if not stage.active:
        return StageWords(title, "off" if settings.dry_multiplier == 0 else "no effect here",
                          OFF_WORDS["dry"] if settings.dry_multiplier == 0 else
                          f"no copy longer than {settings.dry_allowed_length} word pieces to continue",
                          True, settings.dry_multiplier == 0)
    detail = stage.detail or {}
    repeat = [name(int(token)) for token in detail.get("repeat", [])]
    count = int(detail.get("penalised", stage.changed))
    if count == 0:
        return StageWords(title, "no effect here",
                          f"no copy longer than {settings.dry_allowed_length} word pieces to continue", True)
    words = "word piece" if count == 1 else "word pieces"
    copied = elide(visible("".join(repeat)), 28) if repeat else "earlier text"
    return StageWords(title, f"held back {number(count)} {words}",
                      f"each would continue a copy of ‘{copied}’; the strongest push lowered a score by "
                      f"{float(detail.get('largest', 0.0)):.2g}", False)


def _xtc(stage: StageTrace, settings: SamplerSettings, _name: Namer) -> StageWords:
    title = f"XTC {setting_value(settings.xtc_probability)} at {setting_value(settings.xtc_threshold)}"
    detail = stage.detail
    if settings.xtc_probability == 0 or settings.xtc_threshold > 0.5:
        return StageWords(title, "off", OFF_WORDS["xtc"], True, True)
    if detail is None:
        return StageWords(title, "no effect here", "only one word was left: XTC did not roll", True)
    draw = percent(float(detail["draw"]))
    if not detail.get("fired"):
        return StageWords(title, "did not act", f"its own dice rolled {draw}; it acts only at "
                          f"{percent(settings.xtc_probability)} or less", True)
    removed = int(detail.get("removed", 0))
    if removed == 0:
        return StageWords(title, "acted, removed nothing", f"rolled {draw}, but fewer than two words had "
                          f"{percent(settings.xtc_threshold)} or more", True)
    words = "word" if removed == 1 else "words"
    return StageWords(title, f"crossed out the {removed} top {words}",
                      f"rolled {draw}: every word with {percent(settings.xtc_threshold)} or more went, "
                      f"but the least likely of them; removed {percent(stage.removed_mass)} {SHARE_NOTE}",
                      False)


def _logit_bias(stage: StageTrace, settings: SamplerSettings, name: Namer) -> StageWords:
    banned = [name(token) for token, bias in settings.logit_bias if bias == -math.inf]
    boosted = [(name(token), bias) for token, bias in settings.logit_bias if bias != -math.inf]
    parts = []
    if banned:
        parts.append("banned " + ", ".join(f"‘{elide(visible(word), 12)}’" for word in banned[:3])
                     + (f" and {len(banned) - 3} more" if len(banned) > 3 else ""))
    if boosted:
        parts.append("changed " + ", ".join(f"‘{elide(visible(word), 12)}’ {bias:+g}"
                                            for word, bias in boosted[:3])
                     + (f" and {len(boosted) - 3} more" if len(boosted) > 3 else ""))
    return StageWords("Ban or boost", "; ".join(parts) or "nothing to change",
                      "before any other sampler: a ban makes a word piece impossible, a boost adds to "
                      "its score", not parts)


def _grammar(stage: StageTrace, _settings: SamplerSettings, _name: Namer) -> StageWords:
    return StageWords("Grammar", f"allowed {number(stage.kept)} of {number(stage.n_in)}",
                      "only word pieces that fit the grammar here may follow", stage.kept >= stage.n_in)


def _mirostat(stage: StageTrace, settings: SamplerSettings, _name: Namer) -> StageWords:
    detail = stage.detail or {}
    title = f"Mirostat {'2.0' if settings.mirostat == 2 else '1'} (aim {setting_value(settings.mirostat_ent)} bits)"
    mu_before, mu_after = detail.get("mu_before"), detail.get("mu_after")
    moved = (f"its limit moved from {float(mu_before):.2f} to {float(mu_after):.2f} bits of surprise"
             if mu_before is not None and mu_after is not None else "")
    return StageWords(title, f"kept {number(stage.kept)} of {number(stage.n_in)}",
                      f"and picked; {moved}" if moved else "and picked", False)


def _adaptive(stage: StageTrace, settings: SamplerSettings, _name: Namer) -> StageWords:
    target = (stage.detail or {}).get("adapted_target")
    here = f"it favoured words near {percent(float(target))} here" if target is not None else ""
    return StageWords(f"Adaptive-p {setting_value(settings.adaptive_target)}", "reshaped the odds and picked",
                      here + (" (its aim, adjusted for what it picked before)" if here else ""), False)


_DESCRIBERS: dict[str, Callable[[StageTrace, SamplerSettings, Namer], StageWords]] = {
    "penalties": _penalties, "temperature": _temperature, "dry": _dry, "xtc": _xtc,
    "logit_bias": _logit_bias, "grammar": _grammar, "mirostat": _mirostat, "adaptive_p": _adaptive,
}


def compact_line(trace: StepTrace, settings: SamplerSettings) -> str:
    """Every stage at work at one step, shortest form: 'Top-k 40: 40 left → Min-p 0.05: 2 left → …'."""
    parts = []
    for stage in trace.stages:
        words = describe_stage(stage, settings)
        if words.off:
            continue
        left = f": {number(stage.kept)} left" if stage.kept < stage.n_in else ""
        parts.append(words.title + left)
    return " → ".join(parts)
