"""llama.cpp through llama-cpp-python's low-level API: load, decode, logits, rewind, token bytes."""
from synthscope.engine.default_model import default_model_path, gemma_model_path
from synthscope.engine.errors import EngineError, LoadCancelled, ModelLoadError
from synthscope.engine.model import Engine
from synthscope.engine.model_facts import ModelFacts, read_facts
from synthscope.engine.probe import probe_model
from synthscope.engine.text import TextAssembler

__all__ = ["Engine", "EngineError", "LoadCancelled", "ModelFacts", "ModelLoadError", "TextAssembler",
           "default_model_path", "gemma_model_path", "probe_model", "read_facts"]
