"""A corpus of damaged GGUF files, each labelled with its kind, derived from the shipped SmolLM2 model."""
from __future__ import annotations

import os
import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gguf
import numpy as np

T = gguf.GGUFValueType
SCALARS = {T.UINT8: "<B", T.INT8: "<b", T.UINT16: "<H", T.INT16: "<h", T.UINT32: "<I", T.INT32: "<i",
           T.FLOAT32: "<f", T.BOOL: "<?", T.UINT64: "<Q", T.INT64: "<q", T.FLOAT64: "<d"}
HEADER_READ = 3_000_000  # SmolLM2's metadata and tensor table end at 1.79 MB
SMALL_VOCAB = 2048  # the small model keeps this many of SmolLM2's 49,152 tokens: fast to read
TOKEN_ARRAYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges")
HUGE = (2**32, 2**63, 2**64 - 1)


@dataclass(frozen=True)
class Case:
    kind: str  # what was done to the file, e.g. "truncated in the tensor table"
    path: Path
    may_load: bool = False  # the damage leaves a model llama.cpp can run: it may open


@dataclass
class Entry:
    """Where one metadata pair or tensor record lies in a file, by byte offset."""

    name: str
    start: int  # the name's length field
    kind_at: int  # the value type (metadata) or the dimension count (tensor)
    end: int
    vtype: int = 0
    value_at: int = 0
    type_at: int = 0  # a tensor's GGML type
    offset_at: int = 0  # a tensor's data offset


@dataclass
class Layout:
    kv: list[Entry] = field(default_factory=list)
    tensors: list[Entry] = field(default_factory=list)
    info_end: int = 0
    data_start: int = 0

    def key(self, name: str) -> Entry:
        return next(entry for entry in self.kv if entry.name == name)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.take("<Q")
        self.pos += length
        return self.data[self.pos - length:self.pos].decode("utf-8")

    def value(self, vtype: int) -> tuple[Any, int | None]:
        if vtype == T.STRING:
            return self.string(), None
        if vtype == T.ARRAY:
            sub, count = self.take("<I"), self.take("<Q")
            return [self.value(sub)[0] for _ in range(count)], sub
        return self.take(SCALARS[T(vtype)]), None


def read_layout(data: bytes) -> tuple[Layout, list[tuple[str, int, Any, int | None]]]:
    """The byte layout of a well-formed GGUF's header, and its metadata as (key, type, value, item type)."""
    read, layout, items = _Reader(data), Layout(), []
    read.pos = 8
    n_tensors, n_kv = read.take("<Q"), read.take("<Q")
    for _ in range(n_kv):
        start = read.pos
        key = read.string()
        kind_at = read.pos
        vtype = read.take("<I")
        value, sub = read.value(vtype)
        items.append((key, vtype, value, sub))
        layout.kv.append(Entry(key, start, kind_at, read.pos, vtype, kind_at + 4))
    for _ in range(n_tensors):
        start = read.pos
        name = read.string()
        kind_at = read.pos
        read.pos += 4 + 8 * read.take("<I")
        layout.tensors.append(Entry(name, start, kind_at, read.pos + 12, type_at=read.pos,
                                    offset_at=read.pos + 4))
        read.pos += 12
    layout.info_end = read.pos
    layout.data_start = -(-read.pos // 32) * 32
    return layout, items


def write_small_model(path: Path, items: list[tuple[str, int, Any, int | None]]) -> None:
    """SmolLM2's metadata (its vocabulary cut to SMALL_VOCAB) and two tiny tensors, by GGUFWriter."""
    writer = gguf.GGUFWriter(path, arch="llama")
    for key, vtype, value, sub in items:
        if key == "general.architecture":
            continue  # GGUFWriter writes it from `arch`
        if key in TOKEN_ARRAYS:
            value = value[:SMALL_VOCAB]
        if key == "llama.vocab_size":
            value = SMALL_VOCAB
        writer.add_key_value(key, value, T(vtype), sub_type=T(sub) if sub is not None else None)
    rng = np.random.default_rng(0)
    writer.add_tensor("token_embd.weight", rng.standard_normal((SMALL_VOCAB, 8)).astype(np.float32))
    writer.add_tensor("output_norm.weight", np.ones(8, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def kv_bytes(key: str, vtype: int, payload: bytes) -> bytes:
    raw = key.encode()
    return struct.pack("<Q", len(raw)) + raw + struct.pack("<I", vtype) + payload


def string_bytes(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def _put(data: bytes, at: int, fmt: str, value: Any) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, at, value)
    return bytes(out)


def _replace_kv(data: bytes, layout: Layout, key: str, new: bytes, shift_data: bool = True) -> bytes:
    """`data` with the metadata pair `key` replaced by `new` (b"" removes it), the tensor data
    moved to stay aligned when `shift_data`."""
    entry = layout.key(key)
    head = data[:entry.start] + new + data[entry.end:layout.info_end]
    if not new:
        head = _put(head, 16, "<Q", len(layout.kv) - 1)
    if not shift_data:
        return head + data[layout.info_end:]
    return head + bytes(-len(head) % 32) + data[layout.data_start:]


def _add_kv(data: bytes, layout: Layout, new: bytes) -> bytes:
    head = data[:layout.kv[-1].end] + new + data[layout.kv[-1].end:layout.info_end]
    head = _put(head, 16, "<Q", len(layout.kv) + 1)
    return head + bytes(-len(head) % 32) + data[layout.data_start:]


class _Corpus:
    def __init__(self, folder: Path) -> None:
        self.folder, self.cases, self.names = folder, [], set()

    def add(self, kind: str, data: bytes | None, may_load: bool = False,
            make: Callable[[Path], None] | None = None) -> None:
        path = self.folder / f"{len(self.cases):03d}-{_slug(kind)}.gguf"
        if make is not None:
            make(path)
        else:
            assert data is not None
            path.write_bytes(data)
        self.cases.append(Case(kind, path, may_load))


def _slug(kind: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in kind.lower())[:40].strip("-")


def build_corpus(folder: Path, real: Path) -> list[Case]:
    """Write the damaged files into `folder` (created); most come from a small valid model written
    here, a few from the real file's header and prefixes."""
    folder.mkdir(parents=True, exist_ok=True)
    with real.open("rb") as handle:
        real_head = handle.read(HEADER_READ)
    real_layout, items = read_layout(real_head)
    small_path = folder.parent / "small-valid.gguf"
    write_small_model(small_path, items)
    base = small_path.read_bytes()
    layout, _ = read_layout(base)
    corpus = _Corpus(folder)
    for kind, data in _small_cases(base, layout):
        corpus.add(kind, data)
    _real_cases(corpus, real, real_head, real_layout)
    _odd_paths(corpus)
    return corpus.cases


def _offsets(start: int, end: int, count: int) -> list[int]:
    step = max(1, (end - start) // count)
    return list(range(start, end, step))[:count]


def _small_cases(base: bytes, layout: Layout) -> Iterator[tuple[str, bytes]]:
    kv_end, info_end, data_start = layout.kv[-1].end, layout.info_end, layout.data_start
    for cut in (1, 3, 4, 5, 7, 8, 12, 16, 20, 23):
        yield "truncated in the header", base[:cut]
    cuts = {entry.start for entry in layout.kv} | {entry.kind_at for entry in layout.kv}
    cuts |= {entry.start + 3 for entry in layout.kv[:12]} | {entry.value_at + 2 for entry in layout.kv[:12]}
    cuts |= set(_offsets(layout.kv[0].start, kv_end, 20))
    for cut in sorted(cuts)[:70]:
        yield "truncated in the metadata", base[:cut]
    for entry in layout.tensors:
        for cut in (entry.start, entry.start + 9, entry.kind_at + 2, entry.type_at, entry.offset_at + 3):
            yield "truncated in the tensor table", base[:cut]
    for cut in (info_end, data_start, data_start + 1, data_start + 100, len(base) - 33, len(base) - 1):
        yield "truncated in the tensor data", base[:cut]
    for at in range(24):
        out = bytearray(base)
        out[at] ^= 0xFF
        yield "flipped header byte", bytes(out)
    for magic in (b"GGML", b"GGJT", b"gguf", b"FUGG", b"\0\0\0\0", b"GGU\0"):
        yield "wrong magic", magic + base[4:]
    for version in (0, 1, 4, 99, 2**31, 2**32 - 1):
        yield "wrong version", _put(base, 4, "<I", version)
    for count in (0, 1, 3, 1000, *HUGE):
        yield "absurd tensor count", _put(base, 8, "<Q", count)
    for count in (0, 1, len(layout.kv) + 1, 10**6, *HUGE):
        yield "absurd metadata count", _put(base, 16, "<Q", count)
    embd = layout.tensors[0]
    for n_dims in (0, 3, 5, 64, 2**32 - 1):
        yield "absurd dimension count", _put(base, embd.kind_at, "<I", n_dims)
    for dim in (0, 3, 2**31, 2**40, 2**62, 2**63, 2**64 - 1):
        yield "absurd dimension", _put(base, embd.kind_at + 4, "<Q", dim)
    for ggml_type in (4, 5, 39, 999, 2**32 - 1):  # 4 and 5: types llama.cpp removed
        yield "unknown tensor type", _put(base, embd.type_at, "<I", ggml_type)
    for offset in (1, 31, 2**20, 2**40, 2**64 - 1):
        yield "bad tensor data offset", _put(base, embd.offset_at, "<Q", offset)
    yield "bad tensor data offset", _put(base, layout.tensors[1].offset_at, "<Q", 0)  # overlaps the first
    for entry in (layout.kv[0], layout.key("tokenizer.ggml.model"), layout.key("tokenizer.chat_template")):
        name_len = entry.kind_at - entry.start - 8
        for length in (0, name_len - 1, name_len + 1, 2**31, *HUGE):
            yield "absurd string length", _put(base, entry.start, "<Q", length)
    for key in ("general.name", "tokenizer.chat_template", "tokenizer.ggml.pre"):
        entry = layout.key(key)
        real_len = struct.unpack_from("<Q", base, entry.value_at)[0]
        for length in (real_len + 1, 2**40, 2**64 - 1):
            yield "absurd string length", _put(base, entry.value_at, "<Q", length)
    for length in (0, 10**6, 2**64 - 1):
        yield "absurd string length", _put(base, embd.start, "<Q", length)
    for key in TOKEN_ARRAYS:
        entry = layout.key(key)
        for count in (SMALL_VOCAB + 1, 10**7, 2**63, 2**64 - 1):
            yield "absurd array length", _put(base, entry.value_at + 4, "<Q", count)
    tokens = layout.key("tokenizer.ggml.tokens")
    for sub in (T.ARRAY, T.UINT64, 13, 99, 2**32 - 1):
        yield "bad array item type", _put(base, tokens.value_at, "<I", sub)
    for entry in layout.kv[:14]:
        yield "bad metadata value type", _put(base, entry.kind_at, "<I", 99 + entry.kind_at % 7)
    for key in ("llama.block_count", "llama.context_length", "llama.embedding_length"):
        yield "metadata of the wrong type", _put(base, layout.key(key).kind_at, "<I", T.FLOAT32)
    yield from _typed_cases(base, layout)


def _typed_cases(base: bytes, layout: Layout) -> Iterator[tuple[str, bytes]]:
    """Well-formed headers whose values make no sense."""
    def scalar(key: str, vtype: int, fmt: str, value: Any) -> bytes:
        return _replace_kv(base, layout, key, kv_bytes(key, vtype, struct.pack(fmt, value)))

    def text(key: str, value: str) -> bytes:
        return _replace_kv(base, layout, key, kv_bytes(key, T.STRING, string_bytes(value)))

    def strings(key: str, values: list[str]) -> bytes:
        body = struct.pack("<IQ", T.STRING, len(values)) + b"".join(string_bytes(v) for v in values)
        return _replace_kv(base, layout, key, kv_bytes(key, T.ARRAY, body))

    template = "tokenizer.chat_template"
    yield "chat template not a string", scalar(template, T.INT32, "<i", 42)
    yield "chat template not a string", scalar(template, T.FLOAT64, "<d", 1.5)
    yield "chat template not a string", scalar(template, T.BOOL, "<?", True)
    yield "chat template not a string", strings(template, ["{{ messages }}", "two"])
    yield "chat template not a string", _replace_kv(base, layout, template, kv_bytes(
        template, T.ARRAY, struct.pack("<IQ", T.UINT32, 40) + bytes(160)))
    yield "chat template that is broken text", text(template, "{% for m in messages %}{{ m.content ")
    yield "metadata of the wrong type", text("llama.context_length", "lots")
    yield "metadata of the wrong type", strings("llama.vocab_size", ["a", "b"])
    yield "metadata of the wrong type", text("tokenizer.ggml.bos_token_id", "one")
    yield "metadata of the wrong type", scalar("general.name", T.UINT32, "<I", 7)
    yield "metadata of the wrong type", scalar("general.architecture", T.UINT32, "<I", 7)
    yield "metadata of the wrong type", scalar("general.file_type", T.FLOAT32, "<f", 3.5)
    yield "metadata of the wrong type", text("general.file_type", "Q4_1")
    yield "metadata of the wrong type", scalar("general.license", T.INT8, "<b", -1)
    yield "metadata of the wrong type", scalar("tokenizer.ggml.tokens", T.UINT32, "<I", 5)
    for key in ("tokenizer.ggml.tokens", "general.architecture", "tokenizer.ggml.model"):
        yield "missing metadata", _replace_kv(base, layout, key, b"")
    for value in (0, 3, 2**31):
        yield "bad alignment", _add_kv(base, layout, kv_bytes("general.alignment", T.UINT32,
                                                               struct.pack("<I", value)))
    yield "bad alignment", _add_kv(base, layout, kv_bytes("general.alignment", T.STRING, string_bytes("32")))
    yield "duplicate metadata key", _add_kv(base, layout, kv_bytes("general.name", T.STRING,
                                                                     string_bytes("again")))
    for key, value in (("llama.block_count", 2**31), ("llama.attention.head_count", 0),
                       ("llama.embedding_length", 0), ("llama.context_length", 0),
                       ("tokenizer.ggml.bos_token_id", 10**9), ("tokenizer.ggml.eos_token_id", 2**32 - 1)):
        yield "absurd metadata value", scalar(key, T.UINT32, "<I", value)
    yield "huge metadata string", _add_kv(base, layout, kv_bytes("general.description", T.STRING,
                                                                  string_bytes("x" * 8_000_000)))
    yield "huge metadata string", _add_kv(base, layout, kv_bytes("k" * 70_000, T.UINT8, b"\x01"))
    nested = struct.pack("<IQ", T.UINT8, 0)
    for _ in range(5000):
        nested = struct.pack("<IQ", T.ARRAY, 1) + nested
    yield "nested arrays", _add_kv(base, layout, kv_bytes("general.tags", T.ARRAY, nested))
    yield "invalid text", _replace_kv(base, layout, "general.name", kv_bytes(
        "general.name", T.STRING, string_bytes(b"\xff\xfe\x80 broken")))
    duplicated = base[:layout.tensors[1].start] + base[layout.tensors[0].start:layout.tensors[0].end]
    duplicated += base[layout.tensors[1].end:layout.info_end]
    yield "duplicate tensor name", duplicated + bytes(-len(duplicated) % 32) + base[layout.data_start:]
    yield "valid header, no tensor data", base[:layout.data_start]
    yield "valid header, short tensor data", base[:layout.data_start + 64]
    rng = random.Random(17)
    for size in (1, 7, 24, 1000, 65_536, 1_000_000):
        yield "random bytes", bytes(rng.getrandbits(8) for _ in range(min(size, 4096))) * max(1, size // 4096)
    for size in (24, 5000):
        yield "random bytes after the signature", b"GGUF" + struct.pack("<I", 3) + rng.randbytes(size)
    yield "text file", b"This is a shopping list, not a model.\n" * 40


def _real_cases(corpus: _Corpus, real: Path, head: bytes, layout: Layout) -> None:
    """Cases from the real 98 MB file: prefixes at every region, its header over bad data, a
    chat template that is a number over the real weights (that one may open)."""
    size = real.stat().st_size
    tokens = layout.key("tokenizer.ggml.tokens")
    for cut, where in ((6, "header"), (1000, "metadata"), (tokens.value_at + 400_000, "metadata"),
                       (layout.tensors[40].start + 5, "tensor table"), (layout.info_end, "tensor data"),
                       (layout.data_start + 5_000_000, "tensor data"), (size - 1, "tensor data")):
        corpus.add(f"real file truncated in the {where}", None, make=lambda p, n=cut: _copy_prefix(real, p, n))
    corpus.add("real header, tensor data of zeros", None, may_load=True,
               make=lambda p: _write_with(p, head[:layout.data_start], size - layout.data_start))
    template = layout.key("tokenizer.chat_template")
    corpus.add("real file, flipped header byte", _put(head[:layout.data_start], template.kind_at, "<I", 77))
    new_head = head[:template.start] + kv_bytes("tokenizer.chat_template", T.INT32, struct.pack("<i", 42))
    new_head += head[template.end:layout.info_end]
    new_head += bytes(-len(new_head) % 32)
    corpus.add("real file, chat template not a string", None, may_load=True,
               make=lambda p: _splice(real, p, new_head, layout.data_start))


def _copy_prefix(source: Path, target: Path, length: int) -> None:
    with source.open("rb") as src, target.open("wb") as out:
        while length > 0:
            block = src.read(min(length, 8 << 20))
            out.write(block)
            length -= len(block)


def _write_with(target: Path, head: bytes, zeros: int) -> None:
    with target.open("wb") as out:
        out.write(head)
        out.truncate(len(head) + zeros)


def _splice(source: Path, target: Path, head: bytes, data_start: int) -> None:
    with source.open("rb") as src, target.open("wb") as out:
        out.write(head)
        src.seek(data_start)
        while block := src.read(8 << 20):
            out.write(block)


def _odd_paths(corpus: _Corpus) -> None:
    corpus.add("empty file", b"")
    corpus.add("folder named like a model", None, make=lambda p: p.mkdir())
    corpus.add("link to nothing", None, make=lambda p: p.symlink_to(p.with_name("gone.gguf")))
    if hasattr(os, "mkfifo"):  # a pipe: opening it to read would wait for ever
        corpus.add("pipe named like a model", None, make=lambda p: os.mkfifo(p))


def with_chat_template(real: Path, target: Path, template: str) -> Path:
    """A copy of the real model at `target` whose chat template is `template` (weights untouched)."""
    with real.open("rb") as handle:
        head = handle.read(HEADER_READ)
    layout, _ = read_layout(head)
    entry = layout.key("tokenizer.chat_template")
    new_head = head[:entry.start] + kv_bytes("tokenizer.chat_template", T.STRING, string_bytes(template))
    new_head += head[entry.end:layout.info_end]
    new_head += bytes(-len(new_head) % 32)
    _splice(real, target, new_head, layout.data_start)
    return target
