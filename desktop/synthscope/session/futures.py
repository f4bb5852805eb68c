"""Many futures from one point: N continuations of M word pieces, each with fresh dice, decoded side by
side (a prefix that several futures share is decoded once), with the tally of the next word piece
and the tree of all of them merged by common prefix."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from synthscope.engine import Engine, EngineError
from synthscope.engine.batched import MAX_SEQUENCES, BatchedDecoder
from synthscope.engine.remote import RemoteEngine, check_server_settings
from synthscope.engine.served_decoder import ServedDecoder
from synthscope.engine.dry_breakers import dry_breakers
from synthscope.sampling import FRESH, ChainResult, Feedback, SamplerSettings, run_chain, stages
from synthscope.sampling.dice import FutureDice
from synthscope.sampling.dry import dry_enabled
from synthscope.sampling.newer_stages import xtc_enabled
from synthscope.session.runner import Generator

MAX_FUTURES, MAX_DEPTH = 500, 64
FUTURES_STOPPED = "The futures were stopped."
BATCH_NOTE = ("The futures are decoded side by side, in batches: llama.cpp's numbers for a batch can "
              "differ in the last digits from one word piece at a time, so their chances are exact to "
              "about a millionth, not to the last digit like the run's own.")


@dataclass
class Future:
    token_ids: list[int] = field(default_factory=list)
    p_final: list[float] = field(default_factory=list)  # each word piece's chance after the samplers


@dataclass
class TreeNode:
    """The futures that share a path so far: how many, and the path's exact chance (the product of
    each word piece's chance after the samplers)."""

    token_id: int
    count: int = 0
    p: float = 1.0  # this word piece's chance after the samplers, where it was drawn
    path_p: float = 1.0
    children: dict[int, TreeNode] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"token_id": self.token_id, "count": self.count, "p": self.p, "path_p": self.path_p,
                "children": [child.to_dict() for child in sorted(self.children.values(), key=lambda c: -c.count)]}


@dataclass
class Futures:
    context_length: int  # word pieces before the futures (prompt and the steps kept)
    settings: SamplerSettings
    seed: int
    continuations: list[Future]
    tree: TreeNode
    first: ChainResult  # the next word piece's chain (the tally's chances), with the first future's dice

    def tally(self) -> list[tuple[int, int, float]]:
        """(token, times drawn, its chance after the samplers) for the next word piece, most drawn first,
        then every other word piece still in play by its chance."""
        drawn = {token: child.count for token, child in self.tree.children.items()}
        chances = dict(zip(self.first.final.ids.tolist(), self.first.final_probs.tolist()))
        rows = [(token, drawn.get(token, 0), chances.get(token, 0.0)) for token in set(drawn) | set(chances)]
        return sorted(rows, key=lambda row: (-row[1], -row[2], row[0]))


Progress = Callable[[int, int], None]  # (depth done, depth in all)


def check_request(n: int, depth: int) -> None:
    if not 1 <= n <= MAX_FUTURES:
        raise EngineError(f"Between 1 and {MAX_FUTURES} futures can be written at once, not {n}.")
    if not 1 <= depth <= MAX_DEPTH:
        raise EngineError(f"Each future can be 1 to {MAX_DEPTH} word pieces long, not {depth}.")


class _Sampler:
    """One step of every future: the chain once per distinct path when the futures only differ in
    their dice, once per future when XTC, mirostat or adaptive-p make each one's step its own."""

    def __init__(self, engine: Engine, settings: SamplerSettings, context: Sequence[int], prompt_length: int,
                 dice: FutureDice) -> None:
        if isinstance(engine, RemoteEngine):
            check_server_settings(settings)
        self.settings, self.context, self.dice = settings, list(context), dice
        self.generated = list(context[prompt_length:])
        self.own_steps = bool(settings.mirostat or settings.adaptive_target >= 0
                              or xtc_enabled(settings.xtc_probability, settings.xtc_threshold))
        self.breakers = (dry_breakers(engine, settings.dry_sequence_breakers)
                         if dry_enabled(settings.dry_multiplier, settings.dry_base, settings.dry_penalty_last_n)
                         else None)
        self.grammar = None
        if settings.grammar:
            from synthscope.engine.grammar import Grammar  # only futures with a grammar need its parser
            self.grammar = Grammar(engine, settings.grammar)

    def close(self) -> None:
        if self.grammar is not None:
            self.grammar.close()

    def chain(self, logits: np.ndarray, path: tuple[int, ...], future: int, depth: int,
              feedback: Feedback) -> ChainResult:
        s = self.settings
        extra = {}
        if xtc_enabled(s.xtc_probability, s.xtc_threshold):
            extra["xtc_u"] = self.dice.xtc_u(future, depth)
        if self.grammar is not None:
            extra["allowed"] = self.grammar.allowed_after(self.generated + list(path))
        history = np.array(self.context + list(path), dtype=np.int32)
        u = None if s.greedy else self.dice.u(future, depth)
        return run_chain(logits, s, history, u, feedback=feedback, breakers=self.breakers, **extra)


def write_futures(engine: Engine, context: Sequence[int], settings: SamplerSettings, n: int, depth: int,
                  seed: int, prompt_length: int | None = None, feedback: Feedback = FRESH,
                  progress: Progress | None = None, should_stop: Callable[[], bool] | None = None,
                  root_logits: np.ndarray | None = None) -> Futures:
    """`n` futures of `depth` word pieces after `context` (the prompt's `prompt_length` word pieces and
    the steps kept), each with its own dice from `seed`; mirostat or adaptive-p start from `feedback`.
    `root_logits`: the next word piece's logits as the run computed them (a step's own), when the
    engine's memory holds more than `context`. More futures than llama.cpp decodes side by side are
    written in groups, each future keeping its own dice."""
    check_request(n, depth)
    sampler = _Sampler(engine, settings, context, len(context) if prompt_length is None else prompt_length,
                       FutureDice(seed))
    futures = [Future() for _ in range(n)]
    groups = [range(start, min(start + MAX_SEQUENCES, n)) for start in range(0, n, MAX_SEQUENCES)]
    first: ChainResult | None = None
    try:
        if root_logits is None and list(engine.tokens) == list(context):
            root_logits = _last_logits(engine, context)  # the run's own, decoded by its one rule
        for number, group in enumerate(groups):
            def report(done: int, total: int, number: int = number) -> None:
                if progress is not None:
                    progress(number * total + done, len(groups) * total)

            result = _write_group(engine, sampler, context, [futures[i] for i in group], group.start, depth,
                                  feedback, root_logits, report, should_stop)
            first = first or result
    finally:
        sampler.close()
    assert first is not None
    return Futures(len(context), settings, seed, futures, build_tree(futures), first)


def _write_group(engine: Engine, sampler: _Sampler, context: Sequence[int], futures: list[Future], offset: int,
                 depth: int, feedback: Feedback, root_logits: np.ndarray | None, progress: Progress,
                 should_stop: Callable[[], bool] | None) -> ChainResult:
    """Futures `offset`… side by side in one llama.cpp context; the first step's chain."""
    states = [feedback] * len(futures)
    # Through a model server the first word pieces are checked against what it listed too: always a decoder.
    served = isinstance(engine, RemoteEngine)
    kind = ServedDecoder if served else BatchedDecoder
    decoder = (kind(engine, len(futures), depth, len(context))  # type: ignore[arg-type]
               if depth > 1 or served else None)
    try:
        root = decoder.start(list(context)) if decoder is not None else None
        if root_logits is not None:
            root = root_logits
        if root is None:
            root = _last_logits(engine, context)
        nodes: dict[tuple[int, ...], tuple[int, np.ndarray]] = {(): (0, root)}  # path -> (sequence, logits)
        first: ChainResult | None = None
        for d in range(depth):
            if should_stop is not None and should_stop():
                raise EngineError(FUTURES_STOPPED)
            picks = _sample_all(sampler, futures, states, nodes, d, offset)
            if d == 0:
                first = picks[0][1]
            for future, (token, _result, p) in zip(futures, picks):
                if isinstance(decoder, ServedDecoder):
                    decoder.check(token, nodes[tuple(future.token_ids)][0])
                future.token_ids.append(token)
                future.p_final.append(p)
            if d + 1 < depth and decoder is not None:
                nodes = _decode_children(decoder, nodes, futures, d)
            progress(d + 1, depth)
    finally:
        if decoder is not None:
            decoder.close()
    assert first is not None
    return first


def _last_logits(engine: Engine, context: Sequence[int]) -> np.ndarray:
    """The next word piece's logits after `context` from the engine's own memory (no second context for
    futures one word piece long): it must hold exactly `context`."""
    if list(engine.tokens) != list(context):
        raise EngineError("The model's memory does not hold the text the futures start from.")
    return engine.logits().copy()


def _sample_all(sampler: _Sampler, futures: list[Future], states: list[Feedback],
                nodes: dict[tuple[int, ...], tuple[int, np.ndarray]], depth: int, offset: int = 0
                ) -> list[tuple[int, ChainResult, float]]:
    """Each future's next word piece, the chain it came from and its chance after the samplers
    (future i of the group rolls the dice of future offset + i)."""
    shared: dict[tuple[int, ...], tuple[ChainResult, np.ndarray]] = {}
    picks = []
    for local, future in enumerate(futures):
        index = offset + local
        path = tuple(future.token_ids)
        logits = nodes[path][1]
        if sampler.own_steps:
            result = sampler.chain(logits, path, index, depth, states[local])
            states[local] = result.feedback_out
            picks.append((result.token_id, result, float(result.final_probs[result.chosen_index])))
            continue
        if path not in shared:
            result = sampler.chain(logits, path, index, depth, FRESH)
            shared[path] = (result, stages.dist_probabilities(result.final)[1])
        result, running = shared[path]
        at = result.chosen_index if sampler.settings.greedy else stages.draw(running, sampler.dice.u(index, depth))
        picks.append((int(result.final.ids[at]), result, float(result.final_probs[at])))
    return picks


def _decode_children(decoder: BatchedDecoder | ServedDecoder, nodes: dict[tuple[int, ...], tuple[int, np.ndarray]],
                     futures: list[Future], depth: int) -> dict[tuple[int, ...], tuple[int, np.ndarray]]:
    """One batch: each distinct new path decoded once, in a sequence of its own (a branching path's
    memory copied to the new sequences first)."""
    free = iter(sorted(set(range(decoder.n_seq)) - {seq for seq, _ in nodes.values()}))
    children: dict[tuple[int, ...], int] = {}
    used: set[tuple[int, ...]] = set()
    for future in futures:
        path = tuple(future.token_ids)
        if path in children:
            continue
        parent = path[:-1]
        seq = nodes[parent][0]
        if parent in used:  # a second child of this path: its memory goes to a sequence of its own
            child_seq = next(free)
            decoder.copy_sequence(seq, child_seq)
            seq = child_seq
        used.add(parent)
        children[path] = seq
    order = list(children)
    seqs = [children[path] for path in order]
    logits = decoder.step([path[-1] for path in order], depth, seqs)
    return {path: (seq, logits[row]) for row, (path, seq) in enumerate(zip(order, seqs))}


def build_tree(futures: list[Future]) -> TreeNode:
    """The futures merged by common prefix: each node counts the futures through it."""
    root = TreeNode(-1, len(futures))
    for future in futures:
        node, path_p = root, 1.0
        for token, p in zip(future.token_ids, future.p_final):
            child = node.children.get(token)
            if child is None:
                path_p_here = path_p * p
                child = node.children[token] = TreeNode(token, 0, p, path_p_here)
            child.count += 1
            path_p = child.path_p
            node = child
    return root


def futures_from_run(generator: Generator, index: int, settings: SamplerSettings, n: int, depth: int, seed: int,
                     progress: Progress | None = None, should_stop: Callable[[], bool] | None = None) -> Futures:
    """Many futures from step `index` of the generator's run (the end of the text at its length), from the
    step's own logits and the feedback carried into it."""
    record = generator.record
    steps = record.steps
    context = list(record.prompt_tokens) + [step.token_id for step in steps[:index]]
    root = generator.raw_logits(index) if index < len(steps) else generator.engine.logits().copy()
    feedback = steps[index].feedback_in if index < len(steps) else (steps[-1].feedback_out if steps else FRESH)
    return write_futures(generator.engine, context, settings, n, depth, seed, len(record.prompt_tokens), feedback,
                         progress=progress, should_stop=should_stop, root_logits=root)
