"""Model facts from a GGUF header without loading weights; also catches files that are not models.

gguf.GGUFReader builds a Python object for every vocabulary string (10 s for Gemma 3's 262,144
tokens), so the header is walked here with the `gguf` package's type tables instead.
"""
from __future__ import annotations

import mmap
import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gguf

from synthscope.engine.errors import ModelLoadError

_SCALARS = {
    gguf.GGUFValueType.UINT8: "<B", gguf.GGUFValueType.INT8: "<b",
    gguf.GGUFValueType.UINT16: "<H", gguf.GGUFValueType.INT16: "<h",
    gguf.GGUFValueType.UINT32: "<I", gguf.GGUFValueType.INT32: "<i",
    gguf.GGUFValueType.FLOAT32: "<f", gguf.GGUFValueType.BOOL: "<?",
    gguf.GGUFValueType.UINT64: "<Q", gguf.GGUFValueType.INT64: "<q",
    gguf.GGUFValueType.FLOAT64: "<d",
}
SMALL_ARRAY = 16  # arrays up to this length are kept; longer ones only counted
MAX_DIMS = 4  # GGML_MAX_DIMS: llama.cpp refuses tensors with more
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class ModelFacts:
    path: str
    file_size: int
    architecture: str
    name: str
    parameters: int
    quantisation: str
    context_length: int
    vocab_size: int
    bos_id: int | None
    eos_id: int | None
    has_chat_template: bool
    license: str | None = None  # general.license, as the file states it
    chat_template: str | None = None  # tokenizer.chat_template (Jinja), None for a base model

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def summary(self) -> str:
        millions = self.parameters / 1e6
        return (f"{self.name} · {self.architecture} · {millions:,.0f}M parameters · {self.quantisation}"
                f" · {self.vocab_size:,} tokens · context {self.context_length:,}")


class _Cursor:
    def __init__(self, buffer: mmap.mmap | bytes) -> None:
        self.buffer, self.pos = buffer, 0

    def take(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.buffer, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.take("<Q")
        if self.pos + length > len(self.buffer):
            raise struct.error("string runs past the end")
        raw = self.buffer[self.pos:self.pos + length]
        self.pos += length
        return bytes(raw).decode("utf-8", errors="replace")

    def value(self, kind: int) -> Any:
        if kind == gguf.GGUFValueType.STRING:
            return self.string()
        if kind == gguf.GGUFValueType.ARRAY:
            item_kind, count = self.take("<I"), self.take("<Q")
            if item_kind == gguf.GGUFValueType.ARRAY:  # llama.cpp reads no arrays of arrays
                raise struct.error("an array of arrays")
            if item_kind in _SCALARS and count > SMALL_ARRAY:
                self.pos += count * struct.calcsize(_SCALARS[item_kind])
                if self.pos > len(self.buffer):
                    raise struct.error("array runs past the end")
                return _Counted(count)
            if item_kind == gguf.GGUFValueType.STRING and count > SMALL_ARRAY:
                for _ in range(count):  # a vocabulary: stepped over, not decoded
                    length = self.take("<Q")
                    self.pos += length
                    if self.pos > len(self.buffer):
                        raise struct.error("array runs past the end")
                return _Counted(count)
            return [self.value(item_kind) for _ in range(count)]
        return self.take(_SCALARS[gguf.GGUFValueType(kind)])


@dataclass(frozen=True)
class _Counted:
    count: int


def check_file(path: Path) -> None:
    """Plain-words errors for the common ways a path is not a model file."""
    if not path.exists():
        raise ModelLoadError(f"There is no file at {path}.")
    if path.is_dir():
        raise ModelLoadError(f"{path} is a folder, not a model file.")
    if not path.is_file():
        raise ModelLoadError(f"{path.name} is not an ordinary file (it may be a pipe or a device), "
                             "so it cannot be a model.")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path.name} is empty (0 bytes), so it cannot be a model.")


def read_facts(path: str | Path) -> ModelFacts:
    path = Path(path)
    check_file(path)
    size = path.stat().st_size
    try:
        with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if size < 4 or struct.unpack_from("<I", buf, 0)[0] != gguf.GGUF_MAGIC:
                raise ModelLoadError(f"{path.name} is not a GGUF model file (it does not start with "
                                     "the GGUF signature).")
            meta, data_end = _walk(_Cursor(buf), path.name)
    except (struct.error, ValueError, KeyError, OverflowError, MemoryError) as exc:
        raise ModelLoadError(f"{path.name} looks like a GGUF file but its header is damaged or cut "
                             "short; it may be an unfinished download.") from exc
    if data_end > size:
        should, is_ = _sizes(data_end, size)
        raise ModelLoadError(f"{path.name} is cut short: it should be {should} but is only {is_}. "
                             "It may be an unfinished download.")
    return _facts(path, size, meta)


def _sizes(first: int, second: int) -> tuple[str, str]:
    """Two file sizes in MB, or in bytes where they would read the same in MB."""
    if f"{first / 1e6:,.1f}" != f"{second / 1e6:,.1f}":
        return f"{first / 1e6:,.1f} MB", f"{second / 1e6:,.1f} MB"
    return f"{first:,} bytes", f"{second:,} bytes"


def _walk(cur: _Cursor, name: str) -> tuple[dict[str, Any], int]:
    """The metadata and where the tensor data ends, checked as llama.cpp's gguf reader checks it."""
    cur.take("<I")
    version = cur.take("<I")
    if version not in (2, 3):
        raise ModelLoadError(f"{name} says it uses GGUF format version {version}, which Synthscope cannot "
                             "read; the file is damaged or was made by a newer program.")
    n_tensors, n_kv = cur.take("<Q"), cur.take("<Q")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        if key in meta:
            raise struct.error(f"metadata key {key} twice")
        meta[key] = cur.value(cur.take("<I"))
    alignment = meta.get("general.alignment", 32)
    if type(alignment) is not int or alignment <= 0 or alignment & (alignment - 1):
        raise struct.error("the alignment is not a power of two")
    parameters, expected, data_size, names = 0, 0, 0, set()
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.take("<I")
        if n_dims > MAX_DIMS or name in names:
            raise struct.error("a tensor with too many dimensions, or twice")
        names.add(name)
        dims = [cur.take("<Q") for _ in range(n_dims)]
        kind, offset = cur.take("<I"), cur.take("<Q")
        elements = 1
        for dim in dims:
            elements *= dim
        block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(kind)]
        if elements > INT64_MAX or (dims and dims[0] % block) or offset != expected:
            raise struct.error("a tensor's shape or place does not add up")
        parameters += elements
        size = elements // block * type_size
        data_size = max(data_size, offset + size)
        expected = offset + -(-size // alignment) * alignment
    data_start = -(-cur.pos // alignment) * alignment
    meta["__parameters__"] = parameters
    return meta, data_start + data_size


def _facts(path: Path, size: int, meta: dict[str, Any]) -> ModelFacts:
    arch = str(meta.get("general.architecture", "unknown"))
    tokens = meta.get("tokenizer.ggml.tokens")
    vocab = tokens.count if isinstance(tokens, _Counted) else len(tokens) if isinstance(tokens, list) else 0
    file_type = meta.get("general.file_type")
    try:
        quant = gguf.LlamaFileType(file_type).name.removeprefix("MOSTLY_") if file_type is not None else "?"
    except ValueError:
        quant = f"type {file_type}"
    template = meta.get("tokenizer.chat_template")
    template = template if isinstance(template, str) else None  # a number or a list is no template
    return ModelFacts(
        path=str(path), file_size=size, architecture=arch,
        name=str(meta.get("general.name", path.stem)), parameters=int(meta["__parameters__"]),
        quantisation=quant, context_length=_whole(path, meta, f"{arch}.context_length", "context length") or 0,
        vocab_size=_whole(path, meta, f"{arch}.vocab_size", "vocabulary size") or vocab,
        bos_id=_whole(path, meta, "tokenizer.ggml.bos_token_id", "first token"),
        eos_id=_whole(path, meta, "tokenizer.ggml.eos_token_id", "end token"),
        has_chat_template=template is not None,
        license=str(meta["general.license"]) if "general.license" in meta else None,
        chat_template=template)


def _whole(path: Path, meta: dict[str, Any], key: str, what: str) -> int | None:
    """meta[key] where it is a whole number, None where it is absent; anything else is damage."""
    value = meta.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise ModelLoadError(f"{path.name} has a damaged header: its {what} is not a whole number.")
    return value
