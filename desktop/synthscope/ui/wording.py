"""Plain words for tokens, probabilities and what each sampler stage did."""
from __future__ import annotations

from dataclasses import dataclass

from synthscope.sampling import SamplerSettings, StageTrace

STAGE_LABELS = {
    "penalties": "Penalties",
    "top_k": "Top-k",
    "typical_p": "Typical-p",
    "top_p": "Top-p",
    "min_p": "Min-p",
    "temperature": "Temperature",
}
_VISIBLE = str.maketrans({" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"})


def visible(text: str) -> str:
    """Token text with its whitespace shown: a leading space is part of the word and matters."""
    return text.translate(_VISIBLE) if text else "∅"


def html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def elide(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def percent(p: float) -> str:
    if p != p:  # NaN: not known
        return "?"
    if p <= 0.0:
        return "0%"
    if p < 0.001:
        return "<0.1%"
    if p < 0.1:
        return f"{p * 100:.1f}%"
    if p > 0.995 and p < 1.0:
        return ">99%"
    return f"{p * 100:.0f}%"


def number(n: int) -> str:
    return f"{n:,}"


def setting_value(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class StageWords:
    """What one stage box says: a title, a headline with numbers, a detail line, and idleness."""

    title: str
    headline: str
    detail: str
    idle: bool

    @property
    def sentence(self) -> str:
        label = self.title.split(" ")[0]
        return f"{label} {self.headline} — {self.detail}"


def describe_stage(stage: StageTrace, settings: SamplerSettings) -> StageWords:
    label = STAGE_LABELS.get(stage.name, stage.name)
    if stage.name == "penalties":
        return _penalties(stage, settings)
    if stage.name == "temperature":
        return _temperature(stage, settings)
    value = getattr(settings, stage.name)
    title = f"{label} {setting_value(value)}"
    if settings.greedy:
        return StageWords(title, "skipped", "temperature 0 takes the top token", True)
    if not stage.active:
        return StageWords(title, "off", "keeps every token", True)
    if stage.kept >= stage.n_in:
        return StageWords(title, f"kept all {number(stage.n_in)}", "removed nothing", True)
    return StageWords(title, f"kept {number(stage.kept)} of {number(stage.n_in)}",
                      f"removed {percent(stage.removed_mass)} of the probability", False)


def _penalties(stage: StageTrace, settings: SamplerSettings) -> StageWords:
    parts = []
    if settings.repeat_penalty != 1.0:
        parts.append(f"×{setting_value(settings.repeat_penalty)}")
    if settings.frequency_penalty != 0.0:
        parts.append(f"freq {setting_value(settings.frequency_penalty)}")
    if settings.presence_penalty != 0.0:
        parts.append(f"pres {setting_value(settings.presence_penalty)}")
    title = f"Penalties {', '.join(parts)}" if parts else "Penalties"
    if not stage.active:
        detail = "nothing to look back at" if parts else "repeats are not punished"
        return StageWords(title, "off", detail, True)
    if stage.changed == 0:
        return StageWords(title, "changed nothing", "nothing was repeated", True)
    words = "token" if stage.changed == 1 else "tokens"
    return StageWords(title, f"lowered {number(stage.changed)} {words}",
                      f"seen in the last {number(settings.repeat_last_n)} tokens", False)


def _temperature(stage: StageTrace, settings: SamplerSettings) -> StageWords:
    t = settings.temperature
    title = f"Temperature {setting_value(t)}"
    if settings.greedy:
        return StageWords(title, "always the top token", "no dice are thrown", False)
    if not stage.active:
        return StageWords(title, "odds unchanged", "scores divided by 1", True)
    if t < 1.0:
        return StageWords(title, "sharper odds", f"scores ÷ {setting_value(t)}: likely tokens gain", False)
    return StageWords(title, "flatter odds", f"scores ÷ {setting_value(t)}: rare tokens gain", False)
