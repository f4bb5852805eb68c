"""Open a model in a child process first, so a llama.cpp abort or crash cannot take the app down."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from contextlib import ExitStack
from typing import TYPE_CHECKING, TypeVar

from synthscope.engine.config import EngineConfig
from synthscope.engine.errors import LoadCancelled, ModelLoadError

if TYPE_CHECKING:
    from synthscope.engine.model import Engine

K = TypeVar("K")
PROBE_FLAG = "--probe-model"
RESULT_PREFIX = "SYNTHSCOPE-PROBE "
WINDOWS_CRASHES = {0xC0000005: "access violation", 0xC000001D: "illegal instruction",
                   0xC00000FD: "stack overflow", 0xC0000409: "abort", 0xC0000094: "division by zero"}
PROBE_TOKENS = 6  # single-token decodes after the prompt: generation takes other kernels than a batch
TIMED_TOKENS = 24
ROUNDS = 3
POLL_S = 0.1  # how often a check waiting for its child asks whether it is still wanted
TIE = 0.03  # thread counts within 3% of the fastest count as equal; the fewer threads win
# Attention paths timed on a long text: (KV-cache type, flash attention). Flash attention on a CPU
# keeps 16-bit precision whatever the cache type, so f32 with it is no path of its own.
PATHS = (("f32", False), ("f16", False), ("f16", True))
SHORT_DEPTH = 16  # tokens in the context when the paths are timed on a short text ...
PATH_DEPTH = 512  # ... and on a longer one, where they start to differ


class ProbeCrashed(ModelLoadError):
    """The child died by a signal: the file, or this engine configuration, crashes llama.cpp."""

    def __init__(self, message: str, signal_name: str) -> None:
        super().__init__(message)
        self.signal_name = signal_name


@dataclass(frozen=True)
class ProbeResult:
    speeds: dict[int, float] = field(default_factory=dict)  # threads -> tokens per second
    # "kv/flash" (e.g. "f16/on") -> tokens per second, short and PATH_DEPTH-token texts together
    path_speeds: dict[str, float] = field(default_factory=dict)


def path_key(kv_cache: str, flash_attention: bool) -> str:
    return f"{kv_cache}/{'on' if flash_attention else 'off'}"


def fastest(speeds: dict[int, float]) -> int | None:
    """The thread count to use: the fewest threads within TIE of the fastest."""
    if not speeds:
        return None
    best = max(speeds.values())
    return min(n for n, speed in speeds.items() if speed >= best * (1 - TIE))


def probe_command(path: Path, config: EngineConfig, time_threads: tuple[int, ...] = (),
                  time_paths: bool = False) -> list[str]:
    args = [PROBE_FLAG, str(path), config.to_json(), ",".join(map(str, time_threads)),
            "paths" if time_paths else ""]
    if getattr(sys, "frozen", False):  # a PyInstaller bundle: the executable is the app itself
        return [sys.executable, *args]
    return [sys.executable, "-m", "synthscope", *args]


def probe_model(path: Path, config: EngineConfig | None = None, time_threads: tuple[int, ...] = (),
                time_paths: bool = False, timeout: float = 300.0,
                cancelled: Callable[[], bool] | None = None) -> ProbeResult:
    """Raise ModelLoadError unless a child process can load `path` with `config` and generate a
    few tokens; with `time_threads`, also measure decode speed at each of those thread counts; with
    `time_paths`, each attention path's speed at config's thread count. When `cancelled()` turns
    true the child is ended and LoadCancelled raised (a window closing must not wait for it)."""
    config = config or EngineConfig()
    done = _run_child(probe_command(path, config, time_threads, time_paths), timeout, cancelled)
    if done is None:
        raise ModelLoadError(f"Checking {path.name} took longer than {timeout:.0f} s; "
                             "it is too large or the file is unreadable.")
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_PREFIX):
            result = json.loads(line[len(RESULT_PREFIX):])
            if result.get("ok"):
                return ProbeResult({int(k): float(v) for k, v in result.get("speeds", {}).items()},
                                   {str(k): float(v) for k, v in result.get("paths", {}).items()})
            raise ModelLoadError(result["error"])
    name = crash_name(done.returncode)
    if name is not None:
        raise ProbeCrashed(f"llama.cpp crashed ({name}) while opening {path.name}; the file is "
                           "probably damaged or a model type this version cannot run.", name)
    raise ModelLoadError(f"{path.name} could not be opened (the check stopped with code "
                         f"{done.returncode}); the file is probably damaged.")


def _run_child(command: list[str], timeout: float,
               cancelled: Callable[[], bool] | None) -> subprocess.CompletedProcess[str] | None:
    """The child's output once it exits; None if it ran past `timeout` (it is killed either way)."""
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          errors="replace", stdin=subprocess.DEVNULL) as child:
        deadline = time.monotonic() + timeout
        while True:
            try:
                out, err = child.communicate(timeout=min(POLL_S, max(deadline - time.monotonic(), 0)))
            except subprocess.TimeoutExpired:
                if cancelled is not None and cancelled():
                    child.kill()
                    child.communicate()
                    raise LoadCancelled() from None
                if time.monotonic() >= deadline:
                    child.kill()
                    child.communicate()
                    return None
                continue
            return subprocess.CompletedProcess(command, child.returncode, out, err)


def crash_name(returncode: int, platform: str = sys.platform) -> str | None:
    """What killed a child that crashed ("SIGSEGV"; on Windows "access violation"), None if it exited.
    POSIX reports a signal as a negative return code; Windows reports the exception's NTSTATUS
    code (0xC0000005 and the like) as the exit code."""
    if platform == "win32":
        code = returncode & 0xFFFFFFFF
        if code >= 0xC0000000:
            return WINDOWS_CRASHES.get(code, f"exception 0x{code:08X}")
        return None
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return None


def child_main(path: str, config_json: str = "", time_threads: str = "", time_paths: str = "") -> int:
    """Runs in the child: load, decode a prompt and a few single tokens; optionally time thread
    counts or the attention paths; report one JSON line."""
    from synthscope.engine.errors import EngineError
    from synthscope.engine.model import Engine

    config = EngineConfig.from_json(config_json) if config_json else EngineConfig()
    counts = [int(part) for part in time_threads.split(",") if part]
    try:
        with Engine.load(path, config.with_changes(threads=config.threads or 1), n_ctx=256) as engine:
            engine.decode(engine.tokenize("Hello, my name is") or [0])
            _greedy(engine, PROBE_TOKENS)
            speeds = _interleaved({n: (engine, n) for n in counts})
        paths = _time_paths(Path(path), config) if time_paths else {}
        result: dict[str, object] = {"ok": True, "speeds": speeds, "paths": paths}
    except (ModelLoadError, EngineError) as exc:
        result = {"ok": False, "error": str(exc)}
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


def _time_paths(path: Path, config: EngineConfig) -> dict[str, float]:
    """Decode speed of each attention path on a short text and on a PATH_DEPTH-token one, as one
    figure: the harmonic mean (tokens per second over the two taken together)."""
    from synthscope.engine.model import Engine

    with ExitStack() as stack:
        contenders, texts = {}, {}
        for kv_cache, flash in PATHS:
            engine = stack.enter_context(Engine.load(
                path, config.with_changes(kv_cache=kv_cache, flash_attention=flash, threads=config.threads or 1),
                n_ctx=PATH_DEPTH + TIMED_TOKENS + 8))
            text = engine.tokenize("The quick brown fox jumps over the lazy dog. " * 8)
            texts[path_key(kv_cache, flash)] = (text * (PATH_DEPTH // len(text) + 1))[:PATH_DEPTH]
            engine.decode(texts[path_key(kv_cache, flash)][:SHORT_DEPTH])
            contenders[path_key(kv_cache, flash)] = (engine, config.threads or 1)
        short = _interleaved(contenders)
        for key, (engine, _threads) in contenders.items():
            engine.decode(texts[key][SHORT_DEPTH:])
        long = _interleaved(contenders)
    return {key: round(2 / (1 / short[key] + 1 / long[key]), 2) for key in contenders}


def _greedy(engine: Engine, n: int) -> None:
    for _ in range(n):
        engine.decode([int(engine.logits().argmax())])


def _interleaved(contenders: dict[K, tuple[Engine, int]]) -> dict[K, float]:
    """Single-token decode speed of each (engine, threads): best of ROUNDS rounds taken in turn,
    so a slow spell of the machine hits every contender alike."""
    best: dict[K, float] = {key: 0.0 for key in contenders}
    bases = {key: engine.n_past for key, (engine, _threads) in contenders.items()}
    for _ in range(ROUNDS):
        for key, (engine, threads) in contenders.items():
            engine.set_threads(threads)
            start = time.perf_counter()
            _greedy(engine, TIMED_TOKENS)
            best[key] = max(best[key], TIMED_TOKENS / (time.perf_counter() - start))
            engine.rewind_to(bases[key])
    return {key: round(speed, 2) for key, speed in best.items()}
