"""Many futures from one point, on the real model: the tally follows the chances (chi-square), the tree
adds up, each path's chance is the product of the chain's own final chances from a fresh one-at-a-time
decode, the same seed writes the same futures, and the command line says bad input in one line."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthscope.cli.main import main
from synthscope.engine import Engine, EngineError
from synthscope.sampling import SamplerSettings, run_chain
from synthscope.sampling.dice import FutureDice
from synthscope.session.futures import TreeNode, write_futures

PROMPT = "Once upon a time, in a small village by the sea, there lived"
BATCH_TOLERANCE = 1e-4  # a batch's logits can differ from one word piece's in the last digits


@pytest.fixture
def context(engine: Engine) -> list[int]:
    tokens = engine.tokenize(PROMPT)
    engine.decode(tokens)
    return tokens


def chi_square_critical(df: int, alpha_z: float = 3.09) -> float:
    """The chi-square value a fair sample exceeds with chance 0.001 (Wilson–Hilferty)."""
    return df * (1 - 2 / (9 * df) + alpha_z * math.sqrt(2 / (9 * df))) ** 3


def tally_2000(engine: Engine, context: list[int], settings: SamplerSettings) -> tuple[dict, dict]:
    counts: dict[int, int] = {}
    chances: dict[int, float] = {}
    for seed in (11, 12, 13, 14):  # 4 × 500 = 2,000 draws at fixed seeds
        futures = write_futures(engine, context, settings, 500, 1, seed)
        for token, drawn, p in futures.tally():
            counts[token] = counts.get(token, 0) + drawn
            chances[token] = p
    return counts, chances


def chi_square(counts: dict[int, int], chances: dict[int, float], n: int = 2000) -> tuple[float, float]:
    """The statistic and the 0.001 critical value; words expected under 5 times pooled."""
    big = [t for t in chances if chances[t] * n >= 5]
    observed = [counts.get(t, 0) for t in big] + [n - sum(counts.get(t, 0) for t in big)]
    expected = [chances[t] * n for t in big] + [n * (1 - sum(chances[t] for t in big))]
    cells = [(o, e) for o, e in zip(observed, expected) if e > 0]
    assert len(cells) >= 4
    return sum((o - e) ** 2 / e for o, e in cells), chi_square_critical(len(cells) - 1)


def test_the_next_word_tally_follows_the_chances_over_2000_draws(engine: Engine) -> None:
    context = engine.tokenize("My favourite fruit is")  # many words in play after it
    engine.decode(context)
    settings = SamplerSettings(temperature=1.0, top_k=0, top_p=1.0, min_p=0.01)
    counts, chances = tally_2000(engine, context, settings)
    assert sum(counts.values()) == 2000 and abs(sum(chances.values()) - 1) < 1e-6
    statistic, critical = chi_square(counts, chances)
    assert statistic < critical, (statistic, critical)
    # Not vacuous: draws made at another temperature fail the same test against these chances.
    cooler, _ = tally_2000(engine, context, settings.with_changes(temperature=0.8))
    assert chi_square(cooler, chances)[0] > critical


def test_the_tree_adds_up_and_each_path_chance_is_the_chains_own(engine: Engine, context) -> None:
    # No cut-offs: a batch's last-digit difference could move a word across top-p's or min-p's line,
    # and then the two decodes would not even have the same words in play.
    settings = SamplerSettings(temperature=1.0, repeat_penalty=1.1, top_k=0, top_p=1.0, min_p=0.0)
    futures = write_futures(engine, context, settings, 60, 6, 5)
    assert len(futures.continuations) == 60 and all(len(f.token_ids) == 6 for f in futures.continuations)

    def check(node: TreeNode, depth: int) -> None:
        if depth < 6:
            assert sum(child.count for child in node.children.values()) == node.count
        for child in node.children.values():
            assert child.path_p == pytest.approx(node.path_p * child.p, rel=1e-12)
            check(child, depth + 1)

    assert futures.tree.count == 60
    check(futures.tree, 0)
    # A fresh decode, one word piece at a time as the run decodes: the chain's own final chances and
    # the same dice give the same word pieces, and their product is the path's chance.
    dice = FutureDice(5)
    for index in (0, 17, 59):
        future = futures.continuations[index]
        engine.rewind_to(len(context))
        history = list(context)
        product = 1.0
        for depth, (token, p) in enumerate(zip(future.token_ids, future.p_final)):
            result = run_chain(engine.logits(), settings, np.array(history, dtype=np.int32), dice.u(index, depth))
            chance = dict(zip(result.final.ids.tolist(), result.final_probs.tolist()))
            assert chance[token] == pytest.approx(p, abs=BATCH_TOLERANCE)
            product *= chance[token]
            engine.decode([token])
            history.append(token)
        node = futures.tree
        for token in future.token_ids:
            node = node.children[token]
        assert node.path_p == pytest.approx(product, rel=1e-3)


def test_the_same_seed_writes_the_same_futures_and_another_seed_others(engine: Engine, context) -> None:
    settings = SamplerSettings(xtc_probability=0.5, xtc_threshold=0.1)  # each future's own XTC roll too
    one = write_futures(engine, context, settings, 40, 5, 99)
    engine.rewind_to(len(context))
    again = write_futures(engine, context, settings, 40, 5, 99)
    other = write_futures(engine, context, settings, 40, 5, 100)
    assert [f.token_ids for f in one.continuations] == [f.token_ids for f in again.continuations]
    assert [f.token_ids for f in one.continuations] != [f.token_ids for f in other.continuations]
    assert len({tuple(f.token_ids) for f in one.continuations}) > 5  # fresh dice for each future


def test_mirostat_futures_each_carry_their_own_state(engine: Engine, context) -> None:
    settings = SamplerSettings(mirostat=2, mirostat_ent=5.0)
    futures = write_futures(engine, context, settings, 30, 4, 3)
    assert futures.tree.count == 30 and len({tuple(f.token_ids) for f in futures.continuations}) > 1


def test_absurd_requests_are_refused_in_words(engine: Engine, context) -> None:
    for n, depth in ((0, 8), (501, 8), (10, 0), (10, 65)):
        with pytest.raises(EngineError, match="futures|word pieces long"):
            write_futures(engine, context, SamplerSettings(), n, depth, 1)


def test_the_command_line_writes_futures_from_a_prompt_and_from_a_run(tmp_path: Path) -> None:
    out = tmp_path / "futures.json"
    assert main(["futures", "--prompt", PROMPT, "--n", "30", "--tokens", "4", "--seed", "8", "--temperature",
                 "1.2", "--json", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["n"] == 30 and doc["tokens"] == 4 and len(doc["continuations"]) == 30
    assert all(len(c["token_ids"]) == len(c["p_final"]) == 4 for c in doc["continuations"])
    assert doc["tree"]["count"] == 30 and sum(c["count"] for c in doc["tree"]["children"]) == 30
    assert sum(row["drawn"] for row in doc["tally"]) == 30 and doc["settings"]["temperature"] == 1.2
    assert main(["futures", "--prompt", PROMPT, "--n", "30", "--tokens", "4", "--seed", "8", "--temperature",
                 "1.2", "--json", str(tmp_path / "again.json")]) == 0
    assert json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))["continuations"] == doc["continuations"]
    run = tmp_path / "run.json"
    assert main(["trace", "--prompt", PROMPT, "--max-tokens", "6", "--seed", "4", "--json", str(run)]) == 0
    recorded = json.loads(run.read_text(encoding="utf-8"))
    assert main(["futures", "--from-run", str(run), "--at", "3", "--n", "20", "--tokens", "3", "--seed", "1",
                 "--json", str(out)]) == 0
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["context_tokens"] == recorded["prompt_tokens"] + [s["token_id"] for s in recorded["steps"][:2]]
    # the tally's chances at step 3 are the run's own (the same one-at-a-time decode)
    chance = dict(zip(recorded["steps"][2]["final"]["token_ids"], recorded["steps"][2]["final"]["p"]))
    for row in doc["tally"]:
        if row["token_id"] in chance:
            assert row["p_final"] == pytest.approx(chance[row["token_id"]], rel=1e-5)


@pytest.mark.parametrize("args, words", [
    (["--prompt", "Hi", "--n", "0"], "futures"),
    (["--prompt", "Hi", "--tokens", "100"], "word pieces"),
    (["--prompt", "Hi", "--at", "2"], "--from-run"),
    (["--from-run", "/no/such/run.json"], "no file"),
    (["--prompt", "Hi", "--samplers", "top_k;top_k"], "twice"),
])
def test_bad_futures_input_is_one_plain_line_and_exit_2(args: list[str], words: str) -> None:
    done = subprocess.run([sys.executable, "-m", "synthscope", "futures", *args], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0] and "Traceback" not in done.stderr, done.stderr
