"""Headless command line: `synthscope trace` writes a run's full sampling trace as JSON (no Qt)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from synthscope import __version__
from synthscope.engine import Engine, EngineError, LoadCancelled, ModelLoadError, default_model_path
from synthscope.engine.model import DEFAULT_CONTEXT
from synthscope.sampling import SPECS, SamplerSettings, SettingsError, new_seed
from synthscope.session import Generator, record_to_dict

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, like every other bad input
        raise SystemExit(f"synthscope: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="synthscope", description="Watch a small language model write.",
                     epilog="Without a command, synthscope opens the window "
                            "(synthscope --model PATH opens it on another GGUF file).")
    parser.add_argument("--version", action="version", version=f"synthscope {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    trace = commands.add_parser("trace", help="generate from a prompt and write every step's trace "
                                              "as JSON")
    trace.add_argument("--prompt", required=True, help="text the model continues (used as raw text)")
    trace.add_argument("--model", help="a GGUF file (default: SmolLM2-135M-Instruct)")
    trace.add_argument("--max-tokens", type=int, default=16)
    trace.add_argument("--seed", type=int, help="dice seed (default: a new random one)")
    for spec in SPECS:
        trace.add_argument("--" + spec.key.replace("_", "-"), type=spec.kind, default=spec.default,
                           help=f"{spec.help} Default {spec.default}.")
    trace.add_argument("--top-n", type=int, default=10, help="candidates recorded per step")
    trace.add_argument("--ignore-eos", action="store_true", help="keep going past end-of-text tokens")
    trace.add_argument("--json", metavar="PATH", help="write here instead of standard output")
    return parser


def run_trace(args: argparse.Namespace) -> int:
    settings = SamplerSettings(**{spec.key: getattr(args, spec.key) for spec in SPECS})
    if not 1 <= args.max_tokens <= 100_000:
        raise SettingsError(f"--max-tokens must be between 1 and 100000, not {args.max_tokens}.")
    if not 1 <= args.top_n <= 1000:
        raise SettingsError(f"--top-n must be between 1 and 1000, not {args.top_n}.")
    seed = new_seed() if args.seed is None else args.seed
    path = args.model or default_model_path()
    # Room for the prompt (at most one token per byte) and every requested token.
    n_ctx = max(DEFAULT_CONTEXT, len(args.prompt.encode()) + args.max_tokens + 8)
    with Engine.load(path, n_ctx=n_ctx, probe=args.model is not None) as engine:
        generator = Generator(engine, seed=seed, top_n=args.top_n)
        try:
            generator.start(args.prompt)
            generator.generate(settings, args.max_tokens, ignore_eos=args.ignore_eos)
            document = record_to_dict(generator.record)
        finally:
            generator.close()
    text = json.dumps(document, ensure_ascii=False, indent=1)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text + "\n")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    try:
        args = build_parser().parse_args(argv)
        return run_trace(args)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return EXIT_USAGE
        return int(exc.code or 0)
    except (SettingsError, ModelLoadError, LoadCancelled, EngineError, ValueError, OSError) as exc:
        print(f"synthscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
