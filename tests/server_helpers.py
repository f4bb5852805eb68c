"""llama-cpp-python's own server on a free loopback port, started with the engine's own settings."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from synthscope.engine import EngineConfig
from synthscope.engine.server_client import ServerClient, ServerError

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


@contextmanager
def running_server(model: Path, config: EngineConfig, log_folder: Path,
                   n_ctx: int = N_CTX) -> Iterator[ServerClient]:
    """A client of the server, which computes exactly as the engine does (flash attention, KV type,
    threads); stopped (and waited for) on the way out."""
    kv = "1" if config.kv_cache == "f16" else "0"  # GGML_TYPE_F16, GGML_TYPE_F32
    port = free_port()
    start = ["-m", "llama_cpp.server"] if config.extra_buffers else ["-c", SERVER_WRAPPER]
    command = [sys.executable, *start, "--model", str(model), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", str(n_ctx), "--n_batch", str(n_ctx), "--n_ubatch", str(n_ctx),
               "--flash_attn", str(config.flash_attention), "--type_k", kv, "--type_v", kv,
               "--n_threads", str(config.threads), "--n_threads_batch", str(config.threads),
               "--n_gpu_layers", str(config.gpu_layers), "--use_mlock", "False", "--logits_all", "True"]
    log_path = log_folder / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        client = ServerClient(f"http://127.0.0.1:{port}", timeout=30, retries=0)
        probe = ServerClient(f"http://127.0.0.1:{port}", timeout=2, retries=0)
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server stopped (code {process.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                probe.models()
                break
            except ServerError:
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not start within {START_SECONDS} s:\n"
                                f"{log_path.read_text()[-3000:]}")
                time.sleep(0.25)
        yield client
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
