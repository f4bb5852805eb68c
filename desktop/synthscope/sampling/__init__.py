"""llama.cpp's sampler chain in numpy, stage by stage, with seeded, replayable dice."""
from synthscope.sampling.chain import (FRESH, STAGE_NAMES, BrokenLogits, ChainResult, Feedback, StageStep,
                                       force_choice, run_chain)
from synthscope.sampling.dice import Dice, new_seed
from synthscope.sampling.order import DEFAULT_ORDER, KNOWN_STAGES, ORDERABLE, OrderError
from synthscope.sampling.presets import BUILTIN_PRESETS, Preset
from synthscope.sampling.settings import LIST_SPECS, SPECS, SamplerSettings, SettingSpec, SettingsError
from synthscope.sampling.stages import Candidates
from synthscope.sampling.trace import StageTrace, StepTrace, build_trace

__all__ = ["BUILTIN_PRESETS", "DEFAULT_ORDER", "FRESH", "KNOWN_STAGES", "LIST_SPECS", "ORDERABLE", "STAGE_NAMES",
           "SPECS", "BrokenLogits", "Candidates", "ChainResult", "Dice", "Feedback", "OrderError", "Preset",
           "SamplerSettings", "SettingSpec", "SettingsError", "StageStep", "StageTrace", "StepTrace",
           "build_trace", "force_choice", "new_seed", "run_chain"]
