"""Replay a saved run: the same prompt, model file and dice, each step with the settings the
original step used (some of them changed), and the first step where the replay parts from it.

Generator.step() rolls Dice(seed).u(i) for generated token i, so a Generator started with the run's
seed draws the same u at every position; with the same settings and the same engine path it
reproduces the run token for token, probabilities included.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from synthscope.engine import Engine, EngineConfig, preferred_config
from synthscope.sampling import SamplerSettings, SettingsError
from synthscope.sampling.settings import LIST_SPEC_BY_KEY, SPEC_BY_KEY
from synthscope.session.compare import first_divergence
from synthscope.session.record import ModelIdentity, RunRecord, Step
from synthscope.session.runner import Generator
from synthscope.session.stopping import StopWatcher, check_stop_sequences


class ReplayError(ValueError):
    """A run cannot be replayed here; the message is one plain sentence."""


def check_model(original: RunRecord) -> Path:
    """The model file the run was made with, once it is known to be the very same file (same size
    and the same first MiB)."""
    recorded = original.model
    if recorded.served:
        raise ReplayError(recorded.served_words())
    path = Path(recorded.path)
    if not path.is_file():
        raise ReplayError(f"The model this run was made with ({recorded.name}) is no longer at {path}.")
    found = ModelIdentity.of_file(path, recorded.name, recorded.vocab_size)
    if (found.file_size, found.head_sha256) != (recorded.file_size, recorded.head_sha256):
        raise ReplayError(f"{path} is not the model this run was made with ({recorded.name}): "
                          "the file there is a different one now.")
    return path


def replay_config(original: RunRecord, threads: int | None = None, kv_cache: str | None = None,
                  flash_attention: bool | None = None, gpu_layers: int | None = None,
                  probe_path: Path | None = None) -> EngineConfig:
    """This computer's engine configuration computing the numbers the way the run did: its KV-cache
    precision, attention path and GPU layers (they change the logits in the last digits) unless given
    here. Threads never change the numbers, so this computer's are used. The safety decisions stay
    this computer's, except that the run's safer weight layout is kept when it had one."""
    recorded = original.engine
    flash = recorded.get("flash_attention")
    if flash is not None and not isinstance(flash, bool):
        raise ReplayError(f"The run's engine settings are damaged (flash_attention is {flash!r}).")
    config = preferred_config(
        threads=threads,
        kv_cache=kv_cache if kv_cache is not None else recorded.get("kv_cache"),
        flash_attention=flash_attention if flash_attention is not None else flash,
        gpu_layers=gpu_layers if gpu_layers is not None else recorded.get("gpu_layers"),
        probe_path=probe_path)
    if recorded.get("extra_buffers") is False:
        config = config.with_changes(extra_buffers=False)
    return config


def check_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The changed settings, each one checked (SettingsError in plain words if one makes no sense)."""
    unknown = set(overrides) - set(SPEC_BY_KEY) - set(LIST_SPEC_BY_KEY)
    if unknown:
        raise SettingsError(f"Unknown sampler setting: {', '.join(sorted(unknown))}.")
    SamplerSettings(**overrides)  # every given value in its range
    return dict(overrides)


def replay_settings(original: RunRecord, overrides: Mapping[str, Any],
                    n_steps: int) -> list[SamplerSettings]:
    """Step i's settings: the original step i's (beyond its end, its last step's; for a run without
    steps, the defaults) with `overrides` on top. Equal settings stay one shared object."""
    changes = check_overrides(overrides)
    changed: dict[SamplerSettings, SamplerSettings] = {}

    def apply(settings: SamplerSettings) -> SamplerSettings:
        if settings not in changed:
            changed[settings] = settings.with_changes(**changes)
        return changed[settings]

    steps = original.steps
    tail = apply(steps[-1].settings if steps else SamplerSettings())
    return [apply(steps[i].settings) if i < len(steps) else tail for i in range(n_steps)]


def replay_with(generator: Generator, original: RunRecord, overrides: Mapping[str, Any] | None = None,
                max_tokens: int | None = None, ignore_eos: bool = False,
                on_step: Callable[[Step], None] | None = None,
                should_stop: Callable[[], bool] | None = None) -> list[Step]:
    """Start `generator` on the run's prompt with its seed (and its top-N) and make the replay's
    steps (default: as many as the run has). It stops where the run would: at an end-of-generation
    token unless `ignore_eos`, at the first token that completes one of the run's stop sequences,
    at the end of the context, or when `should_stop` says so."""
    n_steps = len(original.steps) if max_tokens is None else max_tokens
    if n_steps < 0:
        raise SettingsError(f"The number of tokens to replay cannot be negative ({n_steps}).")
    plan = replay_settings(original, overrides or {}, n_steps)
    stops = check_stop_sequences(original.stop_sequences)
    generator.top_n = original.top_n
    generator.start(original.prompt, seed=original.seed)
    generator.record.stop_sequences = list(stops)
    watcher = StopWatcher(stops)  # across the chunks below, as generate() watches within one
    made: list[Step] = []
    while len(made) < n_steps:
        settings, start = plan[len(made)], len(made)
        end = start + 1
        while end < n_steps and plan[end] == settings:
            end += 1
        steps = generator.generate(settings, end - start, ignore_eos=ignore_eos, on_step=on_step,
                                   should_stop=should_stop, stop_sequences=stops)
        made.extend(steps)
        if len(steps) < end - start or (not ignore_eos and generator.is_end(steps[-1])):
            break
        if any(watcher.feed(step.text) is not None for step in steps):
            break
    return made


def replay(engine: Engine, original: RunRecord, overrides: Mapping[str, Any] | None = None,
           max_tokens: int | None = None, ignore_eos: bool = False,
           on_step: Callable[[Step], None] | None = None,
           should_stop: Callable[[], bool] | None = None) -> tuple[RunRecord, int | None]:
    """Replay `original` on `engine` (loaded from the run's model file: see check_model and
    replay_config) and return the replay's record and the index of its first step whose token
    differs from the run's (None when it writes the very same tokens)."""
    generator = Generator(engine, seed=original.seed, top_n=original.top_n)
    try:
        replay_with(generator, original, overrides, max_tokens, ignore_eos, on_step, should_stop)
        record = generator.record
    finally:
        generator.close()
    return record, diverged_at(original.token_ids, record.token_ids)


def diverged_at(a_tokens: Sequence[int], b_tokens: Sequence[int]) -> int | None:
    """The first index where the two token sequences differ; where one is a prefix of the other,
    the first index only the longer one has; None when they are the same."""
    return first_divergence([list(a_tokens), list(b_tokens)])
