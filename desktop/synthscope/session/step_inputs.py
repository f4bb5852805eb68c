"""What one step's chain needs besides the logits: the dice, XTC's draw, the state mirostat and
adaptive-p carried over, DRY's breakers and the grammar's verdict, from the engine that owns them."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from synthscope.engine import Engine, EngineError
from synthscope.engine.dry_breakers import dry_breakers
from synthscope.engine.remote import RemoteEngine, check_server_settings
from synthscope.sampling import FRESH, Dice, Feedback, SamplerSettings
from synthscope.sampling.dry import dry_enabled
from synthscope.sampling.newer_stages import xtc_enabled
from synthscope.session.record import Step

if TYPE_CHECKING:
    from synthscope.engine.grammar import Grammar


def feedback_before(steps: Sequence[Step], index: int) -> Feedback:
    """What mirostat and adaptive-p carried into step `index` of a path."""
    return steps[index - 1].feedback_out if 0 < index <= len(steps) else FRESH


def check_for_model(settings: SamplerSettings, n_vocab: int) -> None:
    """Refuse, in words, settings that name word pieces this model does not have."""
    for token, _bias in settings.logit_bias:
        if token >= n_vocab:
            raise EngineError(f"Word piece {token:,} cannot be banned or boosted: this model's "
                              f"vocabulary has {n_vocab:,} word pieces (0 to {n_vocab - 1:,}).")


class StepInputs:
    """Per engine: DRY's breaker table and the grammar, made once and reused from step to step."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._grammar: Grammar | None = None
        self._grammar_text = ""

    def close(self) -> None:
        if self._grammar is not None:
            self._grammar.close()
            self._grammar = None

    def grammar_for(self, text: str) -> Grammar:
        from synthscope.engine.grammar import Grammar  # only a run with a grammar needs llama.cpp's parser
        if self._grammar is None or self._grammar_text != text:
            self.close()
            self._grammar = Grammar(self.engine, text)
            self._grammar_text = text
        return self._grammar

    def for_step(self, settings: SamplerSettings, dice: Dice, index: int, generated: Sequence[int],
                 feedback: Feedback) -> dict[str, Any]:
        """run_chain's keyword arguments for step `index`, after the `generated` tokens."""
        check_for_model(settings, self.engine.n_vocab)
        if isinstance(self.engine, RemoteEngine):  # each step: the settings may change during a run
            check_server_settings(settings)
        inputs: dict[str, Any] = {"feedback": feedback}
        if xtc_enabled(settings.xtc_probability, settings.xtc_threshold) and not settings.mirostat:
            inputs["xtc_u"] = dice.xtc_u(index)
        if dry_enabled(settings.dry_multiplier, settings.dry_base, settings.dry_penalty_last_n) \
                and not settings.mirostat:
            inputs["breakers"] = dry_breakers(self.engine, settings.dry_sequence_breakers)
        if settings.grammar:
            inputs["allowed"] = self.grammar_for(settings.grammar).allowed_after(list(generated))
        return inputs


def generated_tokens(history: np.ndarray, prompt_length: int) -> list[int]:
    return history[prompt_length:].tolist()
