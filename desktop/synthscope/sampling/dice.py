"""Seeded dice: the uniform number for draw i depends only on (seed, i), so any draw can be replayed."""
from __future__ import annotations

import secrets

import numpy as np

MAX_SEED = 2**32 - 1


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


class Dice:
    """u(i) in [0, 1) for the i-th generated token; undoing and redoing a step rolls the same number."""

    def __init__(self, seed: int) -> None:
        if not 0 <= int(seed) <= MAX_SEED:
            raise ValueError(f"The seed must be a whole number from 0 to {MAX_SEED}, not {seed}.")
        self.seed = int(seed)

    def u(self, index: int) -> float:
        # Philox is counter-based: jumping to draw `index` costs the same as the next draw.
        bits = np.random.Philox(key=self.seed, counter=index)
        return float(np.random.Generator(bits).random())
