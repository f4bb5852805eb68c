"""llama-cpp-python's own server on a free loopback port, started with the engine's own settings."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from synthscope.engine import EngineConfig
from synthscope.engine.server_client import ServerClient
from synthscope.engine.server_http import ServerError

N_CTX = 512
START_SECONDS = 60
# llama-cpp-python's server has no switch for llama.cpp's repacked weight layouts, whose AMX form
# crashes on Sapphire-Rapids-class Xeons: where the engine turned them off, the server is started
# through this wrapper, which turns them off in the same way as engine/baseline.py.
SERVER_WRAPPER = """
import runpy, sys
import llama_cpp.llama_cpp as low_level
original = low_level.llama_model_default_params
def defaults():
    params = original()
    params.use_extra_bufts = False
    return params
low_level.llama_model_default_params = defaults
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def python_server_command(model: Path, config: EngineConfig, port: int, n_ctx: int = N_CTX) -> list[str]:
    """llama-cpp-python's server computing exactly as the engine does (flash attention, KV type,
    threads, weight layout)."""
    kv = "1" if config.kv_cache == "f16" else "0"  # GGML_TYPE_F16, GGML_TYPE_F32
    start = ["-m", "llama_cpp.server"] if config.extra_buffers else ["-c", SERVER_WRAPPER]
    return [sys.executable, *start, "--model", str(model), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", str(n_ctx), "--n_batch", str(n_ctx), "--n_ubatch", str(n_ctx),
            "--flash_attn", str(config.flash_attention), "--type_k", kv, "--type_v", kv,
            "--n_threads", str(config.threads), "--n_threads_batch", str(config.threads),
            "--n_gpu_layers", str(config.gpu_layers), "--use_mlock", "False", "--logits_all", "True"]


def llama_server_command(binary: Path | str, model: Path, config: EngineConfig, port: int,
                         n_ctx: int = N_CTX) -> list[str]:
    """llama.cpp's llama-server computing as the engine does, one slot."""
    kv = config.kv_cache
    return [str(binary), "-m", str(model), "--host", "127.0.0.1", "--port", str(port), "-c", str(n_ctx),
            "-b", str(n_ctx), "-ub", str(n_ctx), "-t", str(config.threads), "-tb", str(config.threads),
            "-fa", "on" if config.flash_attention else "off", "-ctk", kv, "-ctv", kv, "-np", "1",
            *([] if config.extra_buffers else ["--no-repack"])]


class ServerStartError(RuntimeError):
    """A server stopped or did not answer in time; the message ends with its log's last lines."""


@contextmanager
def running(command: list[str], port: int, log_path: Path) -> Iterator[ServerClient]:
    """A client of the server `command` starts, once it answers; terminated (then killed) on the way out."""
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        probe, deadline = ServerClient(url, timeout=2, retries=0), time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                raise ServerStartError(f"{Path(command[0]).name} stopped (code {process.returncode}):\n"
                                       f"{log_path.read_text()[-3000:]}")
            try:
                probe.models()
                break
            except ServerError:  # not listening yet, or 503 while the model loads
                if time.monotonic() > deadline:
                    raise ServerStartError(f"{Path(command[0]).name} did not start within {START_SECONDS} s:\n"
                                           f"{log_path.read_text()[-3000:]}") from None
                time.sleep(0.25)
        yield ServerClient(url, timeout=60, retries=0)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@contextmanager
def running_server(model: Path, config: EngineConfig, log_folder: Path,
                   n_ctx: int = N_CTX) -> Iterator[ServerClient]:
    """llama-cpp-python's server as the engine computes; its log in `log_folder`/server.log."""
    port = free_port()
    with running(python_server_command(model, config, port, n_ctx), port, log_folder / "server.log") as client:
        yield client


@contextmanager
def llama_server_running(binary: Path | str, model: Path, config: EngineConfig,
                         log_folder: Path) -> Iterator[ServerClient]:
    """llama.cpp's llama-server as the engine computes, on a free port; its log in `log_folder`/server.log."""
    port = free_port()
    with running(llama_server_command(binary, model, config, port), port, log_folder / "server.log") as client:
        yield client
