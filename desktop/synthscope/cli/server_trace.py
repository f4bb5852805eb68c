"""`synthscope trace --server URL`: the same trace with each step's chances from a model server; and
`synthscope models --server URL`: what a server offers."""
from __future__ import annotations

import argparse
import json
from typing import Any

from synthscope.engine.remote import RemoteEngine, check_server_settings
from synthscope.engine.server_client import LLAMA_SERVER, ServerClient
from synthscope.sampling import SamplerSettings, SettingsError
from synthscope.session import Generator, record_to_dict
from synthscope.session.served import step_head

SERVER_TIMEOUT = 60.0  # seconds per request: a full-vocabulary head takes about 0.3 s, a cold prompt more


def add_server_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model server (instead of a model file: the server gives each step's "
                                      "chances, Synthscope's chain and dice choose)")
    group.add_argument("--server", metavar="URL",
                       help="a llama-server or llama-cpp-python server, e.g. http://127.0.0.1:8080")
    group.add_argument("--server-model", metavar="NAME", help="which of the server's models (default: its first)")
    group.add_argument("--head", type=int, metavar="N",
                       help="word pieces asked for per step (default: the whole vocabulary); the chain is exact "
                            "where its cuts fall inside these N")
    group.add_argument("--vocab", type=int, metavar="V",
                       help="the model's vocabulary size, for servers that do not say it")
    group.add_argument("--api-key", metavar="KEY", help="the server's API key, if it asks for one")
    group.add_argument("--allow-other-hosts", action="store_true",
                       help="allow a server that is not on this computer or the local network")


def served_engine(args: argparse.Namespace, n_ctx: int) -> RemoteEngine:
    """The model server the options name, as an engine."""
    client = ServerClient(args.server, api_key=args.api_key, timeout=SERVER_TIMEOUT, retries=1,
                          allow_other_hosts=args.allow_other_hosts)
    return RemoteEngine(client, model=args.server_model, head=args.head, vocab=args.vocab, n_ctx=n_ctx)


def run_server_trace(args: argparse.Namespace, settings: SamplerSettings, seed: int, stops: tuple[str, ...],
                     n_ctx: int) -> dict[str, Any]:
    """The run's JSON, with the server, N and each step's exactness ("head") recorded."""
    if args.chat or args.model:
        raise SettingsError("--server computes with the server's model: --model and --chat cannot go with it.")
    check_server_settings(settings)
    with served_engine(args, n_ctx) as engine:
        generator = Generator(engine, seed=seed, top_n=args.top_n)  # type: ignore[arg-type]
        try:
            generator.start(args.prompt)
            generator.generate(settings, args.max_tokens, ignore_eos=args.ignore_eos, stop_sequences=stops)
            record = generator.record
        finally:
            generator.close()
        for index, step in enumerate(record.steps):
            step.head = step_head(engine, record, index)
        document = record_to_dict(record)
    document["server"] = engine.config.to_dict()
    return document


def print_server_models(args: argparse.Namespace) -> int:
    """`synthscope models --server URL`: what the server is and the models it offers, a line each (or JSON)."""
    client = ServerClient(args.server, api_key=args.api_key, timeout=SERVER_TIMEOUT, retries=1,
                          allow_other_hosts=args.allow_other_hosts)
    kind, entries = client.kind(), client.model_entries()
    models = [{"id": str(e.get("id") or e.get("model") or e.get("name")), "server": client.url, "kind": kind,
               **({"n_vocab": e["meta"]["n_vocab"]} if isinstance(e.get("meta"), dict)
                  and type(e["meta"].get("n_vocab")) is int else {})} for e in entries]
    if args.json:
        print(json.dumps(models, indent=1))
        return 0
    what = "llama.cpp's llama-server" if kind == LLAMA_SERVER else "an OpenAI-style model server"
    print(f"{client.url}: {what}, {len(models)} model{'s' if len(models) != 1 else ''}")
    for model in models:
        vocab = f"  ({model['n_vocab']:,} word pieces)" if "n_vocab" in model else ""
        print(f"    {model['id']}{vocab}")
    return 0
