"""Sampler settings: the knobs of one step's chain, checked against their declarations in specs.py."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from synthscope.sampling.order import DEFAULT_ORDER, OrderError, check_order, format_order, parse_order
from synthscope.sampling.specs import (DEFAULT_BREAKERS, LIST_SPEC_BY_KEY, LIST_SPECS, MAX_BIAS, MAX_BIASES,
                                       MAX_BREAKER_CHARS, MAX_BREAKERS, MAX_GRAMMAR_CHARS, MIN_TEMPERATURE,
                                       SPEC_BY_KEY, SPECS, ListSpec, SettingSpec, SettingsError)

__all__ = ["DEFAULT_BREAKERS", "LIST_SPECS", "LIST_SPEC_BY_KEY", "MIN_TEMPERATURE", "SPECS", "SPEC_BY_KEY",
           "ListSpec", "SamplerSettings", "SettingSpec", "SettingsError", "ADDED_KEYS"]

# Settings added after sessions were first saved: a record leaves them out at their defaults, so a
# file that does not use them stays small. The order is the exception: every record says it.
ADDED_KEYS = frozenset(spec.key for spec in SPECS if spec.key.startswith(
    ("dry_", "top_n_sigma", "xtc_", "dynatemp_", "mirostat", "adaptive_"))) | frozenset(
    LIST_SPEC_BY_KEY) - {"samplers"}
Bias = tuple[int, float]


@dataclass(frozen=True)
class SamplerSettings:
    """The knobs of the sampler chain; defaults are llama.cpp's."""

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    typical_p: float = 1.0
    repeat_penalty: float = 1.0
    repeat_last_n: int = 64
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    dry_multiplier: float = 0.0
    dry_base: float = 1.75
    dry_allowed_length: int = 2
    dry_penalty_last_n: int = 64
    top_n_sigma: float = -1.0
    xtc_probability: float = 0.0
    xtc_threshold: float = 0.1
    dynatemp_range: float = 0.0
    dynatemp_exp: float = 1.0
    mirostat: int = 0
    mirostat_ent: float = 5.0
    mirostat_lr: float = 0.1
    adaptive_target: float = -1.0
    adaptive_decay: float = 0.9
    samplers: tuple[str, ...] = DEFAULT_ORDER
    dry_sequence_breakers: tuple[str, ...] = DEFAULT_BREAKERS
    logit_bias: tuple[Bias, ...] = ()
    grammar: str = ""

    def __post_init__(self) -> None:
        for spec in SPECS:
            object.__setattr__(self, spec.key, _number(spec, getattr(self, spec.key)))
        if 0.0 < self.temperature < MIN_TEMPERATURE:  # 1/t overflows float32 scores below this
            raise SettingsError(f"Temperature must be 0 (always the top word) or at least "
                                f"{MIN_TEMPERATURE}, not {self.temperature}.")
        object.__setattr__(self, "samplers", _order(self.samplers))
        object.__setattr__(self, "dry_sequence_breakers", _breakers(self.dry_sequence_breakers))
        object.__setattr__(self, "logit_bias", _biases(self.logit_bias))
        if not isinstance(self.grammar, str) or len(self.grammar) > MAX_GRAMMAR_CHARS:
            raise SettingsError(f"The grammar must be text of at most {MAX_GRAMMAR_CHARS:,} characters.")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    def with_changes(self, **changes: Any) -> SamplerSettings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Every setting, in JSON's terms: lists for the order and the breakers, [token, bias] pairs
        with `false` for a ban (as llama-server writes it)."""
        values: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        values["samplers"] = list(self.samplers)
        values["dry_sequence_breakers"] = list(self.dry_sequence_breakers)
        values["logit_bias"] = [[token, False if bias == -math.inf else bias] for token, bias in self.logit_bias]
        return values

    def to_record(self) -> dict[str, Any]:
        """to_dict() less the added settings that are at their defaults (see ADDED_KEYS)."""
        defaults = _DEFAULT_DICT
        return {key: value for key, value in self.to_dict().items()
                if key not in ADDED_KEYS or value != defaults[key]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplerSettings:
        unknown = set(data) - set(SPEC_BY_KEY) - set(LIST_SPEC_BY_KEY)
        if unknown:
            raise SettingsError(f"Unknown sampler setting: {', '.join(sorted(map(str, unknown)))}.")
        return cls(**data)

    def describe_order(self) -> str:
        return format_order(self.samplers)


def _number(spec: SettingSpec, value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SettingsError(f"{spec.label} must be a number, not {value!r}.")
    if spec.kind is int and int(value) != value:
        raise SettingsError(f"{spec.label} must be a whole number, not {value}.")
    if not (spec.minimum <= value <= spec.maximum):  # also rejects NaN
        raise SettingsError(f"{spec.label} must be between {spec.minimum} and {spec.maximum}, not {value}.")
    return spec.kind(value)


def _order(value: Any) -> tuple[str, ...]:
    try:
        if isinstance(value, str):
            return parse_order(value)
        if not isinstance(value, (list, tuple)) or not all(isinstance(name, str) for name in value):
            raise SettingsError("The sampler order must be a list of stage names.")
        return check_order(value)
    except OrderError as exc:
        raise SettingsError(str(exc)) from exc


def _breakers(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise SettingsError("DRY's breakers must be a list of texts.")
    if len(value) > MAX_BREAKERS:
        raise SettingsError(f"DRY takes at most {MAX_BREAKERS} breakers, not {len(value)}.")
    for breaker in value:
        if not isinstance(breaker, str) or not breaker:
            raise SettingsError("Each DRY breaker must be a text of at least one character.")
        if len(breaker) > MAX_BREAKER_CHARS:
            raise SettingsError(f"A DRY breaker can be at most {MAX_BREAKER_CHARS} characters long "
                                "(llama.cpp keeps no more).")
    return tuple(value)


def _biases(value: Any) -> tuple[Bias, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise SettingsError("The logit bias must be a list of [word piece number, bias] pairs.")
    if len(value) > MAX_BIASES:
        raise SettingsError(f"At most {MAX_BIASES} word pieces can be banned or boosted, not {len(value)}.")
    pairs = []
    for pair in value:
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise SettingsError("The logit bias must be a list of [word piece number, bias] pairs.")
        token, bias = pair
        if isinstance(token, bool) or not isinstance(token, int) or token < 0:
            raise SettingsError(f"A banned or boosted word piece must be a word piece number, not {token!r}.")
        if bias is False or (isinstance(bias, float) and bias == -math.inf):
            bias = -math.inf
        elif isinstance(bias, bool) or not isinstance(bias, (int, float)) or not -MAX_BIAS <= bias <= MAX_BIAS:
            raise SettingsError(f"A word piece's bias must be a number from {-MAX_BIAS:g} to {MAX_BIAS:g}, "
                                f"or a ban; not {bias!r}.")
        pairs.append((int(token), float(bias)))
    return tuple(pairs)


def parse_bias(text: str) -> Bias:
    """llama.cpp's `--logit-bias TOKEN_ID(+/-)BIAS` ("15043+1", "15043-inf" bans)."""
    head = text.strip()
    for at, char in enumerate(head):
        if char in "+-" and at > 0:
            token, sign, amount = head[:at], char, head[at + 1:]
            break
    else:
        raise SettingsError(f"“{text}” is not TOKEN_ID+BIAS or TOKEN_ID-BIAS (e.g. 15043+1 or 15043-inf).")
    try:
        number = float(amount)
        token_id = int(token)
    except ValueError:
        raise SettingsError(f"“{text}” is not TOKEN_ID+BIAS or TOKEN_ID-BIAS (e.g. 15043+1 or "
                            "15043-inf).") from None
    bias = -number if sign == "-" else number
    return _biases([(token_id, bias)])[0]


_DEFAULT_DICT = SamplerSettings().to_dict()
