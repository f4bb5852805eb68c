"""llama.cpp through llama-cpp-python's low-level API: load, decode, logits, rewind, token bytes."""
from synthscope.engine.config import ConfigError, EngineConfig
from synthscope.engine.default_model import default_model_path, gemma_model_path
from synthscope.engine.errors import EngineError, LoadCancelled, ModelLoadError
from synthscope.engine.machine import MachineFacts, machine_facts
from synthscope.engine.choice import (MachineChoice, choice_file, forget_choice, machine_choice,
                                     preferred_config, remembered_choice)
from synthscope.engine.model import Engine
from synthscope.engine.model_facts import ModelFacts, read_facts
from synthscope.engine.opening import open_engine
from synthscope.engine.probe import probe_model
from synthscope.engine.text import TextAssembler

__all__ = ["ConfigError", "Engine", "EngineConfig", "EngineError", "LoadCancelled", "MachineChoice",
           "MachineFacts", "ModelFacts", "ModelLoadError", "TextAssembler", "choice_file",
           "default_model_path", "forget_choice", "gemma_model_path", "machine_choice",
           "machine_facts", "open_engine", "preferred_config", "probe_model", "read_facts", "remembered_choice"]
