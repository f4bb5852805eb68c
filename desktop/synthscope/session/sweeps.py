"""Sweeps of one step: how the top candidates' chances, the number of words still in play and the
model's certainty change as temperature goes 0 → 2 or top-p goes 0 → 1, through the step's own chain
(its logits, history, dice and whatever else it ran with)."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from synthscope.sampling import ChainResult, SamplerSettings

SWEPT = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0)}
POINTS = 41  # steps of 0.05 for temperature, 0.025 for top-p
TRACKED = 5  # candidates followed by a line


@dataclass(frozen=True)
class Sweep:
    setting: str
    values: np.ndarray  # the swept setting's values, ascending
    tokens: list[int]  # the candidates followed (the likeliest before the samplers)
    chances: np.ndarray  # (len(values), len(tokens)): each one's chance after the samplers
    in_play: np.ndarray  # words with a chance after the samplers, at each value
    equally_likely: np.ndarray  # certainty: as unsure as choosing between this many equal words

    def at(self, value: float) -> int:
        """The index of the value nearest to `value`."""
        return int(np.argmin(np.abs(self.values - value)))

    def sentence(self, name: Callable[[int], str], current: float) -> str:
        """What the picture shows, in one plain sentence about the likeliest candidate."""
        if not self.tokens:
            return ""
        label = {"temperature": "temperature", "top_p": "top-p"}[self.setting]
        first, last, here = self.chances[0, 0], self.chances[-1, 0], self.chances[self.at(current), 0]
        word = name(self.tokens[0])
        return (f"As {label} goes from {self.values[0]:g} to {self.values[-1]:g}, the favourite ‘{word}’ goes "
                f"from {first:.0%} to {last:.0%}, and the words still in play from {int(self.in_play[0]):,} "
                f"to {int(self.in_play[-1]):,}; at {current:g} (the marker) it has {here:.0%}.")


def sweep(chain: Callable[[SamplerSettings], ChainResult], settings: SamplerSettings, setting: str,
          tokens: list[int], points: int = POINTS) -> Sweep:
    """`chain(settings)` is the step's own chain (the caller binds its logits, history and dice); it is
    run once per value of `setting`, every other setting as in `settings`."""
    low, high = SWEPT[setting]
    values = np.linspace(low, high, points)
    chances = np.zeros((points, len(tokens)))
    in_play = np.zeros(points)
    equal = np.zeros(points)
    for row, value in enumerate(values):
        result = chain(settings.with_changes(**{setting: _legal(setting, float(value))}))
        probs = result.final_probs
        lookup = dict(zip(result.final.ids.tolist(), probs.tolist()))
        chances[row] = [lookup.get(token, 0.0) for token in tokens]
        live = probs[probs > 0]
        in_play[row] = live.size
        equal[row] = math.exp(max(0.0, float(-np.sum(live * np.log(live)))))
    return Sweep(setting, values, list(tokens), chances, in_play, equal)


def _legal(setting: str, value: float) -> float:
    """The nearest value the settings accept (temperature is 0 or at least 0.001)."""
    if setting == "temperature" and 0.0 < value < 0.001:
        return 0.001
    return round(value, 6)
