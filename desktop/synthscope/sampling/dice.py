"""Seeded dice: the uniform number for draw i depends only on (seed, i), so any draw can be replayed."""
from __future__ import annotations

import secrets

import numpy as np

MAX_SEED = 2**32 - 1


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


XTC_STREAM = 1  # the counter's second word: XTC's draws never meet the dice's
FUTURE_STREAM, FUTURE_XTC_STREAM = 2, 3  # the many futures' own dice, and their XTC draws
BLOCK = 32  # draws rolled together: one at a time right after a decode costs several times more


class Dice:
    """u(i) in [0, 1) for the i-th generated token; undoing and redoing a step rolls the same number."""

    def __init__(self, seed: int) -> None:
        if not 0 <= int(seed) <= MAX_SEED:
            raise ValueError(f"The seed must be a whole number from 0 to {MAX_SEED}, not {seed}.")
        self.seed = int(seed)
        self._block: tuple[int, list[float]] = (-BLOCK, [])

    def u(self, index: int) -> float:
        start, values = self._block
        if not start <= index < start + len(values):
            start = index - index % BLOCK
            values = [self._roll(i) for i in range(start, start + BLOCK)]
            self._block = (start, values)
        return values[index - start]

    def xtc_u(self, index: int) -> float:
        """XTC's own draw for the i-th generated token: a second stream of the same seed, turned
        into a float as llama.cpp's XTC turns one 32-bit number from its generator into one."""
        raw = int(np.random.Philox(key=self.seed, counter=[index, XTC_STREAM, 0, 0]).random_raw())
        word = raw >> 32
        value = np.float32(word) / np.float32(4294967296.0)
        return float(value) if value < 1.0 else float(np.nextafter(np.float32(1.0), np.float32(0.0)))

    def _roll(self, index: int) -> float:
        # Philox is counter-based: jumping to draw `index` costs the same as the next draw. The
        # first 64 bits become a double as Generator.random() makes them: the top 53 bits / 2**53.
        raw = int(np.random.Philox(key=self.seed, counter=index).random_raw())
        return (raw >> 11) * (1.0 / 9007199254740992.0)


class FutureDice:
    """Fresh dice for each of many continuations: u(future, depth) depends only on (seed, future,
    depth), so the same seed writes the same futures, and none shares a roll with the run's dice."""

    def __init__(self, seed: int) -> None:
        if not 0 <= int(seed) <= MAX_SEED:
            raise ValueError(f"The seed must be a whole number from 0 to {MAX_SEED}, not {seed}.")
        self.seed = int(seed)

    def _raw(self, future: int, depth: int, stream: int) -> int:
        return int(np.random.Philox(key=self.seed, counter=[depth, stream, future, 0]).random_raw())

    def u(self, future: int, depth: int) -> float:
        return (self._raw(future, depth, FUTURE_STREAM) >> 11) * (1.0 / 9007199254740992.0)

    def xtc_u(self, future: int, depth: int) -> float:
        value = np.float32(self._raw(future, depth, FUTURE_XTC_STREAM) >> 32) / np.float32(4294967296.0)
        return float(value) if value < 1.0 else float(np.nextafter(np.float32(1.0), np.float32(0.0)))
