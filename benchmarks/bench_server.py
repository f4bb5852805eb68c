"""Per-word-piece cost of Synthscope through a model server against the same server used by a plain client.

On loopback, SmolLM2, each server started here with the engine's own settings (flash attention, KV type,
threads) and the same context: llama-cpp-python's `python -m llama_cpp.server` always, llama.cpp's
`llama-server` too when given with --llama-server PATH or found. For each server and head size N:
  plain (per step)  one request per word piece with the server's own sampling and N log-probabilities
                    (llama-server: /completion with token ids, n_predict 1, n_probs N, cache_prompt;
                    llama_cpp.server: /v1/completions with text, max_tokens 1, logprobs N), on one
                    kept-alive connection, each answer parsed with json.loads: what a client that only
                    wants the token and its top N pays per step;
  one request       all the word pieces in one request (n_predict / max_tokens = the count, N log-
                    probabilities each): the server's fastest use;
  synthscope        RemoteEngine + Generator as `synthscope trace --server URL --head N` builds them (a
                    fresh client each round, fixed seed, default samplers, end of text banned); "head" is
                    the time inside ServerClient.next_head (Head.seconds: its HTTP requests and parsing),
                    the rest is Synthscope's chain, its other requests (detokenise) and bookkeeping.
  window            the window (offscreen) connected through File → Connect's part, timed from Generate to
                    every word piece shown (benchmarks/served_window.py; --no-window skips it).
N is 20 and 1000, and the whole vocabulary for llama-server only. The in-process rate (Generator on a
local Engine) is context. Rounds alternate between all contenders; medians and bests are printed. Asserts
nothing. Every server is stopped at the end, also on errors and Ctrl+C."""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from synthscope.engine import default_model_path, machine_choice, machine_facts, open_engine
from synthscope.engine.remote import RemoteEngine
from synthscope.engine.server_client import ServerClient
from synthscope.sampling import SamplerSettings
from synthscope.session import Generator

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from server_helpers import free_port, llama_server_command, python_server_command, running  # noqa: E402

PROMPT = "Once upon a time, in a village by the sea, there lived"
N_CTX = 512
# Where the test suite keeps the llama-server it builds (tests/llama_server_build.py), in this environment.
LLAMA_SERVER_PLACES = tuple(str(p) for p in (Path(sys.prefix) / "synthscope-test-tools").glob("llama-server-*/llama-server"))


class Plain:
    """A plain client: one kept-alive connection, the server's own sampling, answers parsed."""

    def __init__(self, url: str, native: bool, prompt_ids: list[int]) -> None:
        self.port, self.native, self.prompt_ids = int(url.rsplit(":", 1)[1]), native, prompt_ids
        self.connection = self.connect()

    def connect(self) -> http.client.HTTPConnection:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        connection.connect()  # no Nagle: a kept-alive connection would otherwise wait for delayed ACKs
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection

    def post(self, path: str, body: dict) -> dict:
        for attempt in (0, 1):
            try:
                self.connection.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
                response = self.connection.getresponse()
                answer = json.loads(response.read())
                if response.status >= 400:
                    raise RuntimeError(f"{path} answered {response.status}: {str(answer)[:300]}")
                return answer
            except (http.client.HTTPException, ConnectionError):  # the server dropped the kept connection
                self.connection.close()
                self.connection = self.connect()
                if attempt:
                    raise
        raise AssertionError

    def per_step(self, steps: int, n: int) -> float:
        ids, text = list(self.prompt_ids), PROMPT
        start = time.perf_counter()
        for _ in range(steps):
            if self.native:
                answer = self.post("/completion", {"prompt": ids, "n_predict": 1, "n_probs": n,
                                                   "cache_prompt": True, "stream": False})
                ids.append(int(answer["completion_probabilities"][0]["id"]))
            else:
                answer = self.post("/v1/completions", {"prompt": text, "max_tokens": 1, "logprobs": n})
                text += answer["choices"][0]["text"]
        return steps / (time.perf_counter() - start)

    def one_request(self, steps: int, n: int) -> float:
        start = time.perf_counter()
        if self.native:
            answer = self.post("/completion", {"prompt": self.prompt_ids, "n_predict": steps, "n_probs": n,
                                               "cache_prompt": True, "stream": False})
            made = len(answer["completion_probabilities"])
        else:
            answer = self.post("/v1/completions", {"prompt": PROMPT, "max_tokens": steps, "logprobs": n})
            made = len(answer["choices"][0]["logprobs"]["tokens"])
        return max(made, 1) / (time.perf_counter() - start)  # it may stop early at an end of text


def synthscope_remote(url: str, steps: int, n: int, seed: int) -> tuple[float, float]:
    """Word pieces per second, and seconds per step spent inside ServerClient.next_head."""
    client = ServerClient(url, timeout=60.0, retries=1)  # as server_trace.run_server_trace
    with RemoteEngine(client, head=n, n_ctx=N_CTX) as engine:
        generator = Generator(engine, seed=seed, top_n=min(10, n))  # type: ignore[arg-type]
        try:
            generator.start(PROMPT)
            start = time.perf_counter()
            made = generator.generate(SamplerSettings(), steps, ignore_eos=True)
            elapsed = time.perf_counter() - start
        finally:
            generator.close()
        first = len(engine.tokenize(PROMPT))
        head = sum(info.seconds for position, info in engine.heads.items() if position >= first)
    return len(made) / elapsed, head / max(len(made), 1)


def synthscope_local(engine: object, steps: int, seed: int) -> float:
    generator = Generator(engine, seed=seed, top_n=10)  # type: ignore[arg-type]
    try:
        generator.start(PROMPT)
        start = time.perf_counter()
        made = generator.generate(SamplerSettings(), steps, ignore_eos=True)
        return len(made) / (time.perf_counter() - start)
    finally:
        generator.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="word pieces per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--heads", default="20,1000", help="N values, comma-separated")
    parser.add_argument("--llama-server", metavar="PATH", help="llama.cpp's llama-server binary")
    parser.add_argument("--no-llama-server", action="store_true", help="do not look for llama-server")
    parser.add_argument("--no-full-vocab", action="store_true", help="skip N = whole vocabulary (llama-server)")
    parser.add_argument("--no-window", action="store_true", help="skip the window through each server")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    model, config = default_model_path(), machine_choice().config
    binary = None if args.no_llama_server else (args.llama_server or os.environ.get("SYNTHSCOPE_LLAMA_SERVER")
                                                      or shutil.which("llama-server") or next(
        (p for p in LLAMA_SERVER_PLACES if Path(p).is_file()), None))
    heads, facts = [int(h) for h in args.heads.split(",")], machine_facts()
    print(f"{facts.cpu_name}: {facts.physical_cores} cores, {facts.logical_cores} threads; "
          f"{config.describe()}; model {model.name}; {args.steps} word pieces x {args.rounds} rounds; n_ctx {N_CTX}")
    rates: dict[str, list[float]] = {}
    heads_s: dict[str, list[float]] = {}  # seconds per step inside next_head
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-server-") as logs:
        port = free_port()
        servers = {"llama_cpp.server": stack.enter_context(
            running(python_server_command(model, config, port, N_CTX), port, Path(logs) / "python.log")).url}
        if binary:
            port = free_port()
            servers["llama-server"] = stack.enter_context(
                running(llama_server_command(binary, model, config, port, N_CTX), port, Path(logs) / "cpp.log")).url
        engine = open_engine(str(model), n_ctx=N_CTX, config=config, probe=False)
        stack.callback(engine.close)
        prompt_ids = engine.tokenize(PROMPT)
        plain = {name: Plain(url, name == "llama-server", prompt_ids) for name, url in servers.items()}
        cases = [(name, n) for name in servers for n in heads]
        if "llama-server" in servers and not args.no_full_vocab:
            cases.append(("llama-server", engine.n_vocab))
        jobs: list[tuple[str, Callable[[int], float | tuple[float, float]]]] = [
            ("in-process synthscope", lambda r: synthscope_local(engine, args.steps, r))]
        for name, n in cases:
            jobs += [(f"{name} N={n} plain", lambda r, p=plain[name], n=n: p.per_step(args.steps, n)),
                     (f"{name} N={n} one-request", lambda r, p=plain[name], n=n: p.one_request(args.steps, n)),
                     (f"{name} N={n} synthscope",
                      lambda r, u=servers[name], n=n: synthscope_remote(u, args.steps, n, 7 + r))]
            if not args.no_window:
                from served_window import ServedWindow

                window = ServedWindow(servers[name], n)
                stack.callback(window.close)
                jobs.append((f"{name} N={n} window", lambda r, w=window: w.run(PROMPT, args.steps, 7 + r)))
        for key, job in jobs:  # warm-up at the smallest N: page in weights, start every Python path
            if key.startswith("in-process") or f" N={heads[0]} " in key:
                job(0)
        for r in range(args.rounds):
            for key, job in jobs:
                result = job(r)
                rate, head = result if isinstance(result, tuple) else (result, None)
                rates.setdefault(key, []).append(rate)
                if head is not None:
                    heads_s.setdefault(key, []).append(head)
                print(f"  round {r + 1}: {key:42s} {rate:7.2f} word pieces/s", flush=True)
    med = {k: statistics.median(v) for k, v in rates.items()}
    best = {k: max(v) for k, v in rates.items()}
    print(f"\nword pieces per second (median / best of {args.rounds}); ms per word piece from the median")
    for key in rates:
        print(f"  {key:42s} {med[key]:7.2f} / {best[key]:7.2f}   {1000 / med[key]:8.1f} ms")
    print("\nsynthscope against the same server (ratios of rates: median, best)")
    for name, n in cases:
        p, o, s = (f"{name} N={n} {what}" for what in ("plain", "one-request", "synthscope"))
        head_ms, step_ms = statistics.median(heads_s[s]) * 1000, 1000 / med[s]
        print(f"  {name} N={n}: synthscope/plain {med[s] / med[p]:.3f}, {best[s] / best[p]:.3f};"
              f"  synthscope/one-request {med[s] / med[o]:.3f}, {best[s] / best[o]:.3f}")
        print(f"      overhead per step vs plain {step_ms - 1000 / med[p]:+.1f} ms;  synthscope step {step_ms:.1f} ms"
              f" = next_head {head_ms:.1f} ms + chain/other {step_ms - head_ms:.1f} ms")
        w = f"{name} N={n} window"
        if w in med:
            print(f"      window {1000 / med[w]:.1f} ms per step: window/synthscope {med[w] / med[s]:.3f}, "
                  f"window/plain {med[w] / med[p]:.3f}")
    print(f"\n  in-process synthscope: {med['in-process synthscope']:.2f} word pieces/s "
          f"({1000 / med['in-process synthscope']:.1f} ms per step)")


if __name__ == "__main__":
    main()
