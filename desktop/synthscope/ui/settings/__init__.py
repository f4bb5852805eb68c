"""The settings column: the sampler controls, presets, stop sequences and how llama.cpp runs (Performance)."""
