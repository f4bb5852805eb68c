"""Headless command line: `synthscope trace` writes a run's full sampling trace as JSON, `synthscope
replay` re-runs a saved one with some settings changed (no Qt)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from synthscope import __version__
from synthscope.engine import (ConfigError, EngineError, LoadCancelled, ModelLoadError, choice_file,
                               default_model_path, machine_choice, machine_facts, open_engine,
                               preferred_config)
from synthscope.cli.export_command import add_export_parser, run_export
from synthscope.cli.futures_command import add_futures_parser, run_futures
from synthscope.cli.server_trace import add_server_options, print_server_models, run_server_trace
from synthscope.engine.chat import chat_prompt
from synthscope.engine.config import KV_TYPES, MAX_THREADS, EngineConfig
from synthscope.engine.model import DEFAULT_CONTEXT
from synthscope.engine.probe import PATH_DEPTH
from synthscope.engine.server_http import ServerError
from synthscope.sampling import SPECS, SamplerSettings, SettingsError, new_seed
from synthscope.sampling.settings import parse_bias
from synthscope.sampling.specs import MAX_GRAMMAR_CHARS
from synthscope.session import Generator, RunRecord, SessionFileError, load_record, record_to_dict
from synthscope.session.json_io import unsaved_words, write_json
from synthscope.session.replay import check_model, check_overrides, replay, replay_config
from synthscope.session.stopping import check_stop_sequences, unescape

EXIT_USAGE = 2
PATH_WORDS = {"f32/off": "exact memory", "f16/off": "compact memory",
              "f16/on": "compact memory with flash attention"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line and exit 2, like every other bad input
        raise SystemExit(f"synthscope: error: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="synthscope", description="Watch a small language model write.",
                     epilog="Without a command, synthscope opens the window "
                            "(synthscope --model PATH opens it on another GGUF file; "
                            "synthscope --smoke-test checks an install: it writes 8 tokens offscreen).")
    parser.add_argument("--version", action="version", version=f"synthscope {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    trace = commands.add_parser("trace", help="generate from a prompt and write every step's trace "
                                              "as JSON")
    trace.add_argument("--prompt", required=True,
                       help="text the model continues (raw text), or with --chat the user's message")
    trace.add_argument("--chat", action="store_true",
                       help="format --prompt (and --system) with the model's own chat template")
    trace.add_argument("--system", help="with --chat: a system message before the user's")
    trace.add_argument("--model", help="a GGUF file (default: SmolLM2-135M-Instruct)")
    trace.add_argument("--max-tokens", type=int, default=16)
    trace.add_argument("--seed", type=int, help="dice seed (default: a new random one)")
    for spec in SPECS:
        trace.add_argument("--" + spec.key.replace("_", "-"), type=spec.kind, default=spec.default,
                           help=f"{spec.help} Default {spec.default}.")
    add_list_options(trace)
    trace.add_argument("--top-n", type=int, default=10, help="candidates recorded per step")
    trace.add_argument("--ignore-eos", action="store_true", help="keep going past end-of-text tokens")
    trace.add_argument("--stop", action="append", default=[], metavar="TEXT",
                       help="stop once the generated text contains TEXT (\\n is a new line); "
                            "may be given several times")
    trace.add_argument("--json", metavar="PATH", help="write here instead of standard output")
    add_engine_options(trace)
    add_server_options(trace)
    again = commands.add_parser("replay", help="re-run a saved run (its prompt, model and dice) with "
                                               "some settings changed; say where it parts from it")
    again.add_argument("run", metavar="RUN.json", help="a run written by trace or saved by the window")
    for spec in SPECS:
        again.add_argument("--" + spec.key.replace("_", "-"), type=spec.kind,
                           help=f"{spec.help} Default: what each step of the run used.")
    add_list_options(again, replaying=True)
    again.add_argument("--max-tokens", type=int, help="default: as many as the run has")
    again.add_argument("--ignore-eos", action="store_true", help="keep going past end-of-text tokens")
    again.add_argument("--json", metavar="PATH", help="write here instead of standard output")
    add_engine_options(again, replaying=True)
    add_futures_parser(commands, add_list_options, add_engine_options)
    add_export_parser(commands)
    engine = commands.add_parser("engine", help="show how llama.cpp runs on this computer (the "
                                                "checked, remembered choice)")
    engine.add_argument("--reset", action="store_true",
                        help="forget the remembered choice and check this computer again")
    engine.add_argument("--json", action="store_true", help="print it as JSON")
    models = commands.add_parser("models", help="list the GGUF models found on this computer")
    models.add_argument("--json", action="store_true", help="print them as a JSON list")
    models.add_argument("--server", metavar="URL", help="list a model server's models instead")
    models.add_argument("--api-key", metavar="KEY", help="the server's API key, if it asks for one")
    models.add_argument("--allow-other-hosts", action="store_true",
                        help="allow a server that is not on this computer or the local network")
    return parser


def add_list_options(parser: argparse.ArgumentParser, replaying: bool = False) -> None:
    """The settings that are not one number, named as llama.cpp's command line names them."""
    default = " Default: what each step of the run used." if replaying else ""
    parser.add_argument("--samplers", metavar="ORDER",
                        help="the order of the samplers, as llama.cpp writes it: names separated by ';' "
                             "(penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature, the "
                             "default) or its letters (edskypmxt)." + default)
    parser.add_argument("--dry-sequence-breaker", action="append", metavar="TEXT",
                        help="a text that ends a copy for DRY (\\n is a new line); may be given several "
                             "times, replacing the default breakers ('\\n', ':', '\"', '*'); 'none' for "
                             "no breakers." + default)
    parser.add_argument("--logit-bias", action="append", metavar="TOKEN_ID(+/-)BIAS",
                        help="raise or lower one word piece's score before the other samplers, e.g. "
                             "15043+1 or 15043-inf (a ban); may be given several times." + default)
    grammar = parser.add_mutually_exclusive_group()
    grammar.add_argument("--grammar", metavar="GBNF",
                         help="a grammar in llama.cpp's GBNF that decides which word pieces may follow "
                              "(e.g. 'root ::= [0-9]+')." + default)
    grammar.add_argument("--grammar-file", metavar="PATH", help="read the grammar from a file")


def list_settings(args: argparse.Namespace) -> dict[str, object]:
    """The list settings given on the command line (only those given)."""
    values: dict[str, object] = {}
    if args.samplers is not None:
        values["samplers"] = args.samplers
    if args.dry_sequence_breaker is not None:
        breakers = [unescape(text) for text in args.dry_sequence_breaker]
        values["dry_sequence_breakers"] = [] if "none" in breakers else breakers
    if args.logit_bias is not None:
        values["logit_bias"] = [parse_bias(text) for text in args.logit_bias]
    if args.grammar_file is not None:
        path = Path(args.grammar_file)
        try:
            if path.stat().st_size > MAX_GRAMMAR_CHARS * 4:
                raise SettingsError(f"{path.name} is too large to be a grammar.")
            values["grammar"] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise SettingsError(f"{path.name} is not a text file, so it cannot be a grammar.") from None
        except OSError as exc:
            raise SettingsError(f"The grammar file {path} could not be read ({exc.strerror or exc}).") from None
    elif args.grammar is not None:
        values["grammar"] = args.grammar
    return values


def add_engine_options(parser: argparse.ArgumentParser, replaying: bool = False) -> None:
    """The engine options; `replaying`: those the run recorded default to the run's."""
    group = parser.add_argument_group("engine (default: the run's memory precision, attention path and "
                                      "GPU layers, this computer's threads)" if replaying else
                                      "engine (default: what was measured best on this computer)")
    group.add_argument("--threads", type=int, help=f"CPU threads for the model, 1 to {MAX_THREADS}")
    group.add_argument("--kv-cache", choices=sorted(KV_TYPES),
                       help="precision of the model's memory of the text"
                            + ("" if replaying else " (default f32: exact)"))
    group.add_argument("--flash-attention", choices=["on", "off"],
                       help="llama.cpp's flash-attention path"
                            + ("" if replaying else " (default off: faster on long texts on a CPU)"))
    group.add_argument("--gpu-layers", type=int,
                       help="layers to run on the GPU when llama.cpp was built with one (-1: all)")


def engine_config_from(args: argparse.Namespace, run: RunRecord | None = None) -> EngineConfig:
    """The engine options given, on top of this computer's choice (or with `run`, of the run's)."""
    flash = None if args.flash_attention is None else args.flash_attention == "on"
    if run is not None:
        return replay_config(run, threads=args.threads, kv_cache=args.kv_cache, flash_attention=flash,
                             gpu_layers=args.gpu_layers, probe_path=Path(run.model.path))
    return preferred_config(threads=args.threads, kv_cache=args.kv_cache, flash_attention=flash,
                            gpu_layers=args.gpu_layers,
                            probe_path=Path(args.model) if getattr(args, "model", None) else None)


def run_trace(args: argparse.Namespace) -> int:
    settings = SamplerSettings(**{spec.key: getattr(args, spec.key) for spec in SPECS}, **list_settings(args))
    if not 1 <= args.max_tokens <= 100_000:
        raise SettingsError(f"--max-tokens must be between 1 and 100000, not {args.max_tokens}.")
    if not 1 <= args.top_n <= 1000:
        raise SettingsError(f"--top-n must be between 1 and 1000, not {args.top_n}.")
    if args.system is not None and not args.chat:
        raise SettingsError("--system needs --chat.")
    stops = check_stop_sequences([unescape(text) for text in args.stop])
    seed = new_seed() if args.seed is None else args.seed
    # Room for the prompt (at most one token per byte; a chat template adds its markup) and every
    # requested token.
    prompt_bytes = len(args.prompt.encode()) + (len((args.system or "").encode()) + 1024 if args.chat else 0)
    n_ctx = max(DEFAULT_CONTEXT, prompt_bytes + args.max_tokens + 8)
    if args.server:
        return write_document(run_server_trace(args, settings, seed, stops, n_ctx), args.json)
    path = args.model or default_model_path()
    config = engine_config_from(args)
    with open_engine(path, n_ctx=n_ctx, config=config, probe=args.model is not None) as engine:
        prompt = chat_prompt(engine, args.prompt, args.system) if args.chat else args.prompt
        generator = Generator(engine, seed=seed, top_n=args.top_n)
        try:
            generator.start(prompt)
            generator.generate(settings, args.max_tokens, ignore_eos=args.ignore_eos, stop_sequences=stops)
            document = record_to_dict(generator.record)
        finally:
            generator.close()
    return write_document(document, args.json)


def write_document(document: dict, path: str | None) -> int:
    if path:
        try:
            write_json(document, path, indent=1)  # a kill or a full disk leaves any old file whole
        except OSError as exc:
            print(f"synthscope: error: {unsaved_words(path, exc)}", file=sys.stderr)
            return EXIT_USAGE
    else:
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    overrides = check_overrides({**{spec.key: getattr(args, spec.key) for spec in SPECS
                                    if getattr(args, spec.key) is not None}, **list_settings(args)})
    if args.max_tokens is not None and not 1 <= args.max_tokens <= 100_000:
        raise SettingsError(f"--max-tokens must be between 1 and 100000, not {args.max_tokens}.")
    original = load_record(args.run)
    path = check_model(original)
    max_tokens = len(original.steps) if args.max_tokens is None else args.max_tokens
    n_ctx = max(DEFAULT_CONTEXT, len(original.prompt_tokens) + max_tokens + 8)
    config = engine_config_from(args, original)
    with open_engine(path, n_ctx=n_ctx, config=config, probe=not _is_shipped(path)) as engine:
        record, diverged = replay(engine, original, overrides, max_tokens, args.ignore_eos)
        document = record_to_dict(record)
    document["diverged_at"] = diverged
    return write_document(document, args.json)


def _is_shipped(path: Path) -> bool:
    """Whether `path` is the model Synthscope ships (trusted: loaded without a check in a child)."""
    try:
        return path.resolve() == default_model_path().resolve()
    except ModelLoadError:
        return False


def run_engine(args: argparse.Namespace) -> int:
    choice = machine_choice(refresh=args.reset)
    facts = machine_facts()
    if args.json:
        print(json.dumps({"cpu": facts.cpu_name, "logical_cores": facts.logical_cores,
                          "physical_cores": facts.physical_cores, "gpu_offload": facts.gpu_offload,
                          "devices": [d.__dict__ for d in facts.devices],
                          "config": choice.config.to_dict(), "reason": choice.reason,
                          "speeds": choice.speeds, "path_speeds": choice.path_speeds,
                          "remembered_in": str(choice_file())}, indent=1))
        return 0
    print(choice.reason)
    print(f"Processor: {facts.cpu_name} ({facts.physical_cores} cores, {facts.logical_cores} threads)")
    if choice.speeds:
        print("Measured: " + ", ".join(f"{n} thread{'s' if n != 1 else ''} {v:.1f} tokens/s"
                                        for n, v in sorted(choice.speeds.items())))
    if choice.path_speeds:
        print(f"Measured on a short and a {PATH_DEPTH}-token text: " + ", ".join(
            f"{PATH_WORDS[key]} {value:.1f} tokens/s" for key, value in choice.path_speeds.items()))
    gpus = facts.gpu_devices
    print("GPU: " + (", ".join(d.description or d.name for d in gpus) if gpus else
                     "none used (this llama.cpp build runs on the CPU only)"
                     if not facts.gpu_offload else "supported, but no device found"))
    print(f"Settings: {choice.config.describe()}")
    print(f"Remembered in {choice_file()} (synthscope engine --reset checks again)")
    return 0


def run_models(args: argparse.Namespace) -> int:
    if args.server:
        return print_server_models(args)
    from synthscope.engine.discovery import discover
    found = discover()
    if args.json:
        print(json.dumps([model.to_dict() for model in found], indent=1))
        return 0
    if not found:
        print("No GGUF models found.")
    for model in found:
        if model.error:
            facts = f"cannot be used: {model.error}"
        else:
            facts = (f"{model.architecture}, {(model.parameters or 0) / 1e6:,.0f}M parameters, "
                     f"{model.quantization}, {model.n_vocab:,} tokens, context {model.context_length:,}")
        print(f"{model.name}  [{model.source}, {model.size_bytes / 1e6:,.0f} MB]  {facts}\n    {model.path}")
    return 0


def run_futures_command(args: argparse.Namespace) -> int:
    given = {spec.key: getattr(args, spec.key) for spec in SPECS if getattr(args, spec.key) is not None}
    return write_document(run_futures(args, {**given, **list_settings(args)},
                                      lambda run: engine_config_from(args, run)), args.json)


COMMANDS = {"engine": run_engine, "models": run_models, "replay": run_replay, "futures": run_futures_command,
            "export": run_export}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS.get(args.command, run_trace)(args)
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return EXIT_USAGE
        return int(exc.code or 0)
    except (SettingsError, ConfigError, ModelLoadError, LoadCancelled, EngineError, ValueError,
            OSError, SessionFileError, ServerError) as exc:
        print(f"synthscope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
