"""Synthscope: watch a small language model write, one sampled token at a time."""

__version__ = "0.1.0"
