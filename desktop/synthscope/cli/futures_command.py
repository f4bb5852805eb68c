"""`synthscope futures`: many continuations from one point (a prompt, or a step of a saved run), written
with fresh dice each, as JSON: the continuations, the tally of the next word piece, the merged tree."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from synthscope.cli.server_trace import add_server_options, served_engine
from synthscope.engine import EngineError, default_model_path, open_engine
from synthscope.engine.model import DEFAULT_CONTEXT
from synthscope.engine.remote import check_server_settings
from synthscope.engine.served_decoder import SERVED_NOTE
from synthscope.sampling import FRESH, SPECS, SamplerSettings, SettingsError, new_seed
from synthscope.session import load_record
from synthscope.session.futures import (BATCH_NOTE, MAX_DEPTH, MAX_FUTURES, Futures, TreeNode, check_request,
                                        write_futures)
from synthscope.session.record import ModelIdentity
from synthscope.session.replay import check_model

SCHEMA = "synthscope-futures/1"


def add_futures_parser(commands: Any, add_list_options: Any, add_engine_options: Any) -> None:
    futures = commands.add_parser("futures", help="write many continuations from one point, each with "
                                                  "fresh dice, and tally them")
    start = futures.add_mutually_exclusive_group(required=True)
    start.add_argument("--prompt", help="text the model continues")
    start.add_argument("--from-run", metavar="RUN.json", help="a run written by trace or saved by the window")
    futures.add_argument("--at", type=int, metavar="STEP",
                         help="with --from-run: the word piece the futures begin at (1 = the first one "
                              "written; default: after the last)")
    futures.add_argument("--model", help="with --prompt: a GGUF file (default: SmolLM2-135M-Instruct)")
    add_server_options(futures)
    futures.add_argument("--n", type=int, default=100, help=f"how many futures, 1 to {MAX_FUTURES}")
    futures.add_argument("--tokens", type=int, default=8, help=f"word pieces each, 1 to {MAX_DEPTH}")
    futures.add_argument("--seed", type=int, help="the futures' dice (default: a new random one)")
    for spec in SPECS:
        futures.add_argument("--" + spec.key.replace("_", "-"), type=spec.kind,
                             help=f"{spec.help} Default: the run's, or {spec.default}.")
    add_list_options(futures)
    futures.add_argument("--json", metavar="PATH", help="write here instead of standard output")
    add_engine_options(futures)


def run_futures(args: argparse.Namespace, given: dict[str, Any], config_for: Any) -> dict[str, Any]:
    """The futures document; `given` holds the sampler settings given on the command line,
    `config_for(run)` the engine configuration (the run's own where there is one)."""
    check_request(args.n, args.tokens)
    seed = new_seed() if args.seed is None else args.seed
    if args.from_run is None:
        if args.at is not None:
            raise SettingsError("--at needs --from-run.")
        settings = SamplerSettings(**given)
        path = Path(args.model) if args.model else default_model_path()
        if args.server and args.model:
            raise SettingsError("--server computes with the server's model: --model cannot go with it.")
        context_text, steps_kept, feedback, prompt_tokens = args.prompt, [], FRESH, None
        engine_config = config_for(None)
    else:
        run = load_record(args.from_run)
        engine_config = config_for(run)
        if args.server and not run.model.served:
            raise SettingsError("This run was made with a model file here: leave out --server to go on with it.")
        path = Path(run.model.path) if args.server else check_model(run)
        at = len(run.steps) + 1 if args.at is None else args.at
        if not 1 <= at <= len(run.steps) + 1:
            raise SettingsError(f"--at must be between 1 and {len(run.steps) + 1} for this run, not {at}.")
        base = run.steps[at - 1].settings if at <= len(run.steps) else (
            run.steps[-1].settings if run.steps else SamplerSettings())
        settings = base.with_changes(**given)
        steps_kept = [step.token_id for step in run.steps[:at - 1]]
        feedback = run.steps[at - 1].feedback_in if at <= len(run.steps) else (
            run.steps[-1].feedback_out if run.steps else FRESH)
        context_text, prompt_tokens = run.prompt, run.prompt_tokens
    n_ctx = max(DEFAULT_CONTEXT, len(context_text.encode()) + len(steps_kept) + args.tokens + 16)
    if args.server:
        check_server_settings(settings)
    probe = args.from_run is None and args.model is not None
    with (served_engine(args, n_ctx) if args.server else
          open_engine(path, n_ctx=n_ctx, config=engine_config, probe=probe)) as engine:
        prompt = list(prompt_tokens) if prompt_tokens is not None else engine.tokenize(context_text)
        if not prompt:
            raise EngineError("The prompt is empty. Type a few words for the model to continue.")
        engine.decode(prompt)  # the run's one rule: the prompt in one batch, each step on its own
        for token in steps_kept:
            engine.decode([token])
        context = prompt + steps_kept
        served = getattr(engine, "served_identity", None)
        identity = (ModelIdentity(*served) if served is not None else
                    ModelIdentity.of_file(engine.path, engine.facts.name, engine.n_vocab))
        if args.from_run is not None and served is not None and identity != run.model:
            raise SettingsError(f"This run was computed by {run.model.name}, not by {identity.name}.")
        futures = write_futures(engine, context, settings, args.n, args.tokens, seed, len(prompt), feedback)
        return futures_document(futures, identity, context, seed, engine.token_text,
                                lambda ids: b"".join(engine.token_bytes(t) for t in ids).decode("utf-8", "replace"),
                                SERVED_NOTE if served is not None else BATCH_NOTE)


def futures_document(futures: Futures, identity: ModelIdentity, context: list[int], seed: int,
                     name: Any, text: Any, note: str = BATCH_NOTE) -> dict[str, Any]:
    """The JSON of `futures`: `name` quotes one word piece, `text` makes the text of several."""
    def node(tree: TreeNode) -> dict[str, Any]:
        return {"token_id": tree.token_id, "text": name(tree.token_id), "count": tree.count, "p": tree.p,
                "path_p": tree.path_p,
                "children": [node(child) for child in sorted(tree.children.values(), key=lambda c: -c.count)]}

    return {
        "schema": SCHEMA,
        "model": vars(identity),
        "context_tokens": context,
        "seed": seed,
        "n": len(futures.continuations),
        "tokens": len(futures.continuations[0].token_ids) if futures.continuations else 0,
        "settings": futures.settings.to_record(),
        "note": note,
        "continuations": [{"token_ids": f.token_ids, "text": text(f.token_ids), "p_final": f.p_final}
                          for f in futures.continuations],
        "tally": [{"token_id": token, "text": name(token), "drawn": drawn, "p_final": p}
                  for token, drawn, p in futures.tally()],
        "tree": {"count": futures.tree.count,
                 "children": [node(child) for child in sorted(futures.tree.children.values(), key=lambda c: -c.count)]},
    }
