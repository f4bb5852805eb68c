"""The exploration tree with the real models: branching keeps both texts, a branch point's logits are
a fresh decode's, switching paths reproduces them, and a session file round-trips the whole tree."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from synthscope.engine import Engine, open_engine
from synthscope.sampling import Dice, SamplerSettings
from synthscope.session import Generator, SessionFileError, load_record, save_record
from synthscope.session.divergence import explain_divergence, first_difference
from synthscope.session.exploration_io import (Exploration, load_exploration,
                                               save_exploration, tree_of)
from synthscope.session.tree import TRUNK, ExplorationTree, TreeError

PROMPT = "Once upon a time, in a small village by the sea, there lived"
SETTINGS = SamplerSettings(temperature=1.0)


def fresh_logits(engine: Engine, prompt_tokens: list[int], tokens: list[int]) -> np.ndarray:
    """The rule every number follows: the prompt in one batch, each generated token on its own."""
    engine.reset()
    engine.decode(prompt_tokens)
    for token in tokens:
        engine.decode([token])
    return engine.logits().copy()


def another_token(generator: Generator, index: int) -> int:
    step = generator.record.steps[index]
    return next(int(t) for t in step.trace.candidates["token_id"] if int(t) != step.token_id)


@pytest.mark.parametrize("model", ["smollm", "gemma"])
def test_a_branch_keeps_both_texts_and_its_numbers_are_a_fresh_decodes(
        model: str, smollm_path: Path, gemma_path: Path) -> None:
    path = smollm_path if model == "smollm" else gemma_path
    with open_engine(path, n_ctx=256, probe=False) as engine:
        gen = Generator(engine, seed=9, logits_budget=1)  # only the newest logits cached
        gen.start(PROMPT)
        gen.generate(SETTINGS, 20, ignore_eos=True)
        tree = ExplorationTree()
        tree.set_path(gen.record.steps)
        trunk = [s.token_id for s in gen.record.steps]
        at = 7
        alternative = another_token(gen, at)
        tree.fork(at)
        gen.truncate(at)
        cut = engine.logits().copy()
        assert np.array_equal(cut, fresh_logits(engine, gen.record.prompt_tokens, trunk[:at]))
        gen.truncate(at)  # the fresh decode above moved the cache: put the run back
        gen.step(SETTINGS, force=alternative)
        gen.generate(SETTINGS, 12, ignore_eos=True)
        tree.set_path(gen.record.steps)
        branch = [s.token_id for s in gen.record.steps]
        assert branch[:at] == trunk[:at] and branch[at] == alternative
        assert [s.token_id for s in tree.branches[TRUNK].steps] == trunk  # nothing lost
        assert gen.record.steps[at].chosen_by == "person"
        assert all(s.u == Dice(9).u(i) for i, s in enumerate(gen.record.steps))  # the same dice
        # An evicted step's logits, re-decoded, are exactly the ones it was sampled from.
        again = gen.raw_logits(at + 3)
        expected = fresh_logits(engine, gen.record.prompt_tokens, branch[:at + 3])
        gen.follow(tree.branches[tree.current].steps)  # back in place after the check
        assert np.array_equal(again, expected)
        # Following the trunk again re-decodes it: its next step samples what it sampled before.
        assert gen.follow(tree.select(TRUNK)) == at
        assert [s.token_id for s in gen.record.steps] == trunk
        next_step = gen.step(SETTINGS)
        assert np.array_equal(gen.raw_logits(len(trunk)),
                              fresh_logits(engine, gen.record.prompt_tokens, trunk))
        gen.follow(tree.path + [next_step])
        gen.close()


def test_tree_names_deletes_and_undoes(engine: Engine) -> None:
    gen = Generator(engine, seed=1)
    gen.start(PROMPT)
    gen.generate(SETTINGS, 10, ignore_eos=True)
    tree = ExplorationTree()
    tree.set_path(gen.record.steps)
    first = tree.fork(3)
    tree.set_path(gen.record.steps[:3])
    second = tree.fork(2)  # from the first branch: the tree has three levels
    assert [b.id for b in tree.children(TRUNK)] == [first.id]
    assert tree.ancestors(second.id) == [first.id, TRUNK]
    tree.rename(first.id, "  A   better   start ")
    assert tree.branches[first.id].name == "A better start"
    with pytest.raises(TreeError, match="needs a name"):
        tree.rename(first.id, "   ")
    with pytest.raises(TreeError, match="cannot be deleted"):
        tree.delete(TRUNK)
    assert tree.delete(first.id) == [first.id, second.id]
    assert tree.current == TRUNK and set(tree.branches) == {TRUNK}
    assert tree.undo_delete() == [first.id, second.id]
    assert tree.current == first.id and set(tree.branches) == {TRUNK, first.id, second.id}
    with pytest.raises(TreeError):
        tree.undo_delete()
    gen.close()


def test_a_session_file_round_trips_the_whole_tree(engine: Engine, tmp_path: Path) -> None:
    gen = Generator(engine, seed=4)
    gen.start(PROMPT)
    gen.generate(SETTINGS, 15, ignore_eos=True)
    tree = ExplorationTree()
    tree.set_path(gen.record.steps)
    tree.fork(5, "Other word")
    gen.truncate(5)
    gen.step(SETTINGS, force=int(gen.record.steps[4].trace.candidates["token_id"][3]))
    gen.generate(SETTINGS.with_changes(temperature=1.5), 8, ignore_eos=True)
    tree.set_path(gen.record.steps)
    tree.select(TRUNK)
    tree.set_path(tree.path[:12])  # the trunk undone after the fork: the branch keeps its start
    exploration = Exploration(gen.record, list(tree.branches.values()), tree.current, SETTINGS,
                              {"chat": {"system": "", "asking": None, "turns": []}})
    save_exploration(exploration, tmp_path / "session.json")
    opened = load_exploration(tmp_path / "session.json")
    again = tree_of(opened)
    for branch_id, branch in tree.branches.items():
        other = again.branches[branch_id]
        assert (other.name, other.parent, other.fork_at) == (branch.name, branch.parent, branch.fork_at)
        assert [s.token_id for s in other.steps] == [s.token_id for s in branch.steps]
        assert [s.chosen_by for s in other.steps] == [s.chosen_by for s in branch.steps]
        assert [s.settings for s in other.steps] == [s.settings for s in branch.steps]
        assert [s.trace.chosen_p_raw for s in other.steps] == pytest.approx(
            [s.trace.chosen_p_raw for s in branch.steps], abs=1e-7)
    assert opened.current == TRUNK and opened.settings == SETTINGS and "chat" in opened.extras
    assert opened.record.seed == 4 and opened.record.model == gen.record.model
    # A session file is also a run file: its steps are the current path's.
    assert [s.token_id for s in load_record(tmp_path / "session.json").steps] == \
        [s.token_id for s in tree.path]
    gen.close()


def test_an_old_run_file_opens_as_a_tree_of_one_branch(engine: Engine, tmp_path: Path) -> None:
    gen = Generator(engine, seed=2)
    gen.start(PROMPT)
    gen.generate(SETTINGS, 6, ignore_eos=True)
    save_record(gen.record, tmp_path / "run.json")
    data = json.loads((tmp_path / "run.json").read_text())
    data["schema_version"] = 1  # as written before branches existed
    del data["stop_sequences"]
    (tmp_path / "v1.json").write_text(json.dumps(data))
    opened = tree_of(load_exploration(tmp_path / "v1.json"))
    assert list(opened.branches) == [TRUNK]
    assert [s.token_id for s in opened.path] == [s.token_id for s in gen.record.steps]
    data["schema_version"] = 99
    (tmp_path / "v99.json").write_text(json.dumps(data))
    with pytest.raises(SessionFileError, match="version 99"):
        load_exploration(tmp_path / "v99.json")
    data["schema_version"] = 2
    data["branches"] = [{"id": 0, "name": "Main text", "parent": None, "fork_at": 0, "shared": 0,
                         "steps": []}, {"id": 1, "name": "x", "parent": 7, "fork_at": 0, "shared": 0,
                                        "steps": []}]
    (tmp_path / "broken.json").write_text(json.dumps(data))
    with pytest.raises(SessionFileError, match="damaged"):
        load_exploration(tmp_path / "broken.json")
    gen.close()


def test_the_divergence_is_explained_from_the_replays_own_numbers(engine: Engine) -> None:
    gen = Generator(engine, seed=3)
    gen.start(PROMPT)
    gen.generate(SETTINGS, 12, ignore_eos=True)
    original = list(gen.record.steps)
    gen.truncate(0)
    replay = gen.generate(SETTINGS.with_changes(top_k=1), 12, ignore_eos=True)
    index = first_difference(original, replay)
    assert index is not None and original[index].token_id != replay[index].token_id
    assert all(a.token_id == b.token_id for a, b in zip(original[:index], replay[:index]))
    text = explain_divergence(original, replay, index, engine.token_text)
    assert f"word piece {index + 1}" in text and "top-k 40 → 1" in text
    assert "removed" in text  # top-k 1 keeps only the favourite: the original pick was removed
    assert first_difference(original, original) is None
    gen.close()
