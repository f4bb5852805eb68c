"""The order of the sampler chain: its stages' names, llama.cpp's `--samplers` syntax, and the default."""
from __future__ import annotations

from collections.abc import Iterable


class OrderError(ValueError):
    """A sampler order that cannot be used; str() is one plain sentence."""


# The stages a person may put in any order (llama.cpp's `--samplers`), in llama.cpp's default order.
ORDERABLE = ("penalties", "dry", "top_n_sigma", "top_k", "typical_p", "top_p", "min_p", "xtc",
             "temperature")
DEFAULT_ORDER = ORDERABLE
# llama-cpp-python's fixed chain, which Synthscope used before the order could be chosen; with DRY,
# top-n-sigma and XTC off (their defaults) it writes exactly what DEFAULT_ORDER writes.
LLAMA_CPP_PYTHON_ORDER = ("penalties", "top_k", "typical_p", "top_p", "min_p", "temperature")
# Stages outside the order, as in llama.cpp: the logit bias and the grammar come first; mirostat
# replaces the whole order (after temperature) and adaptive-p replaces the final draw.
FIRST_STAGES = ("logit_bias", "grammar")
PICKING_STAGES = ("mirostat", "adaptive_p")
KNOWN_STAGES = FIRST_STAGES + ORDERABLE + PICKING_STAGES

LLAMA_NAMES = {"typical_p": "typ_p"}  # llama.cpp's canonical names, where they differ from ours
CHARS = {"e": "penalties", "d": "dry", "s": "top_n_sigma", "k": "top_k", "y": "typical_p",
         "p": "top_p", "m": "min_p", "x": "xtc", "t": "temperature"}
_CANONICAL = {LLAMA_NAMES.get(name, name): name for name in ORDERABLE}
ALIASES = {**_CANONICAL,
           **{canonical.replace("_", "-"): name for canonical, name in _CANONICAL.items()},
           **{canonical.replace("_", ""): name for canonical, name in _CANONICAL.items()},
           "nucleus": "top_p", "temp": "temperature", "typ": "typical_p", "typical_p": "typical_p",
           "typical-p": "typical_p"}
NOT_ORDERABLE = {"adaptive_p": "adaptive-p is switched on by its target (--adaptive-target), not by a "
                               "place in the order: it always makes the final pick",
                 "infill": "the infill sampler (for filling in the middle of code) is not part of "
                           "Synthscope"}


def parse_order(text: str) -> tuple[str, ...]:
    """The stages of llama.cpp's `--samplers` text ("penalties;top_k;temperature", any case, with its
    aliases) or of its `--sampler-seq` letters ("ekypmt"). Unlike llama.cpp, an unknown name or a
    stage named twice is refused instead of dropped or run twice."""
    text = text.strip()
    if not text:
        raise OrderError("The sampler order is empty: name at least one stage, e.g. "
                         "“top_k;temperature”.")
    if ";" not in text and text.isalpha() and text.islower() and all(c in CHARS for c in text) \
            and text.casefold() not in ALIASES:
        return check_order(CHARS[c] for c in text)
    names = []
    for raw in text.split(";"):
        name = raw.strip().casefold()
        if not name:
            continue
        if name in NOT_ORDERABLE:
            raise OrderError(f"“{raw.strip()}” cannot be placed in the order: {NOT_ORDERABLE[name]}.")
        if name not in ALIASES:
            raise OrderError(f"“{raw.strip()}” is not a sampler Synthscope knows; the stages are "
                             f"{format_order(ORDERABLE)}.")
        names.append(ALIASES[name])
    return check_order(names)


def check_order(names: Iterable[str]) -> tuple[str, ...]:
    """`names` as an order: known orderable stages, each at most once."""
    order = tuple(names)
    if not order:
        raise OrderError("The sampler order is empty: name at least one stage.")
    seen: set[str] = set()
    for name in order:
        if name not in ORDERABLE:
            raise OrderError(f"“{name}” is not a stage that can be placed in the order; the stages "
                             f"are {format_order(ORDERABLE)}.")
        if name in seen:
            raise OrderError(f"“{llama_name(name)}” is named twice in the sampler order; each stage "
                             "runs once.")
        seen.add(name)
    return order


def llama_name(stage: str) -> str:
    return LLAMA_NAMES.get(stage, stage)


def format_order(order: Iterable[str]) -> str:
    """The order in llama.cpp's `--samplers` syntax."""
    return ";".join(llama_name(name) for name in order)
