"""How llama.cpp runs a model: threads, attention path, KV-cache precision, weight layouts, GPU layers."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import llama_cpp

KV_TYPES = {"f32": llama_cpp.GGML_TYPE_F32, "f16": llama_cpp.GGML_TYPE_F16}
ALL_LAYERS = -1
MAX_THREADS = 512


class ConfigError(ValueError):
    """An engine setting makes no sense; the message is one plain sentence."""


@dataclass(frozen=True)
class EngineConfig:
    """Everything about how llama.cpp computes that Synthscope chooses instead of inheriting.

    The defaults were chosen by measurement (benchmarks/bench_attention.py): on CPU, flash attention
    slows long texts down about twofold, and an F32 KV cache is the most exact at about the same speed.
    """

    threads: int | None = None  # None: the count measured fastest on this machine (machine_choice)
    flash_attention: bool = False
    kv_cache: str = "f32"  # "f32" or "f16"
    # llama.cpp's repacked weight layouts (CPU_REPACK, AMX). Faster on most CPUs, but the AMX one
    # crashes on Sapphire-Rapids-class Xeons (llama.cpp issue #20824).
    extra_buffers: bool = True
    gpu_layers: int = ALL_LAYERS  # layers offloaded when the build supports a GPU; -1 means all

    def __post_init__(self) -> None:
        if self.kv_cache not in KV_TYPES:
            raise ConfigError(f"The KV cache type must be one of {', '.join(KV_TYPES)}, "
                              f"not {self.kv_cache!r}.")
        if self.threads is not None and not (isinstance(self.threads, int)
                                             and 1 <= self.threads <= MAX_THREADS):
            raise ConfigError(f"Threads must be a whole number from 1 to {MAX_THREADS}, "
                              f"not {self.threads!r}.")
        if not isinstance(self.gpu_layers, int) or self.gpu_layers < ALL_LAYERS:
            raise ConfigError(f"GPU layers must be -1 (all) or a whole number of layers, "
                              f"not {self.gpu_layers!r}.")

    def with_changes(self, **changes: Any) -> EngineConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EngineConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"Unknown engine setting: {', '.join(sorted(unknown))}.")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EngineConfig:
        return cls.from_dict(json.loads(text))

    # -- llama.cpp parameters -----------------------------------------------------------------
    def model_params(self) -> llama_cpp.llama_model_params:
        params = llama_cpp.llama_model_default_params()
        params.use_extra_bufts = self.extra_buffers
        params.n_gpu_layers = _gpu_layers(self.gpu_layers)
        return params

    def context_params(self, n_ctx: int, threads: int) -> llama_cpp.llama_context_params:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = min(512, n_ctx)
        params.n_ubatch = min(512, n_ctx)
        params.n_threads = threads
        params.n_threads_batch = threads
        params.flash_attn_type = (llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED if self.flash_attention
                                  else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED)
        params.type_k = params.type_v = KV_TYPES[self.kv_cache]
        params.swa_full = True  # sliding-window models (Gemma 3) can then rewind to any position
        return params

    def llama_kwargs(self, threads: int) -> dict[str, Any]:
        """The same choices as keyword arguments of llama_cpp.Llama (model params aside: see
        engine.baseline)."""
        return {"n_threads": threads, "n_threads_batch": threads, "flash_attn": self.flash_attention,
                "type_k": KV_TYPES[self.kv_cache], "type_v": KV_TYPES[self.kv_cache],
                "n_gpu_layers": self.gpu_layers, "swa_full": True}

    def describe(self) -> str:
        """One line for the status bar and About box."""
        threads = self.threads or 1
        memory = "exact (32-bit)" if self.kv_cache == "f32" else "compact (16-bit)"
        attention = "standard attention"
        if self.flash_attention:  # on a CPU it computes in 16 bits whatever the memory holds
            attention = "flash attention (16-bit)" if self.kv_cache == "f32" else "flash attention"
        parts = [f"{threads} thread{'s' if threads != 1 else ''}", f"{memory} memory of the text",
                 attention]
        if not self.extra_buffers:
            parts.append("safe weight layout")
        return ", ".join(parts)


def _gpu_layers(layers: int) -> int:
    return 0x7FFFFFFF if layers == ALL_LAYERS else layers  # llama.cpp caps it at the model's layers
