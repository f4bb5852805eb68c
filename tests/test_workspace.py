"""The window's document without a window: the step on show, what-ifs, branch plans, chat replies,
guess mode, snapshots (plain Python, no Qt)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthscope.sampling import Dice, SamplerSettings, build_trace, run_chain
from synthscope.session import Step
from synthscope.session.chat import ChatState, Conversation, reply_text
from synthscope.session.guessing import GuessState
from synthscope.session.workspace import Workspace

N_VOCAB = 2048
SETTINGS = SamplerSettings(top_k=40)
END = 7  # the end-of-text token of the fake model


@dataclass(frozen=True)
class FakeModel:
    end_tokens: frozenset[int] = frozenset({END})


def run_of(n: int, seed: int = 3, end_at: int | None = None) -> tuple[Workspace, list[np.ndarray]]:
    """A document holding a run of `n` real sampled steps (random logits), as the worker sends them."""
    doc = Workspace()
    doc.model = FakeModel()  # type: ignore[assignment]
    doc.mirror.reset("Once", np.arange(5, dtype=np.int32), seed)
    rng = np.random.default_rng(seed)
    logits_seen = []
    for index in range(n):
        logits = rng.normal(0, 3, N_VOCAB).astype(np.float32)
        result = run_chain(logits, SETTINGS, doc.mirror.history(index), Dice(seed).u(index))
        token = END if index == end_at else result.token_id
        step = Step(token, b"w", f" w{token}", result.u, SETTINGS, build_trace(result, 10), "dice")
        doc.mirror.append(step, logits)
        logits_seen.append(logits)
    doc.state = "idle"
    return doc, logits_seen


def test_the_newest_step_is_shown_until_an_older_one_is_selected() -> None:
    doc, _ = run_of(5)
    assert doc.shown_index() == 4
    doc.select(2)
    assert doc.shown_index() == 2
    doc.select(4)  # the newest: follow the run again
    assert doc.selected is None and doc.shown_index() == 4
    assert Workspace().shown_index() is None and Workspace().shown_step(SETTINGS) is None


def test_other_settings_show_a_what_if_on_the_same_dice_only_while_the_window_is_still() -> None:
    doc, _ = run_of(4)
    doc.select(1)
    same = doc.shown_step(SETTINGS)
    assert same is not None and not same.view.is_what_if and not same.fetching
    greedy = doc.shown_step(SETTINGS.with_changes(temperature=0.0))
    assert greedy is not None and greedy.view.is_what_if and greedy.view.u is None
    assert greedy.recorded.token_id == doc.mirror.steps[1].token_id
    doc.state = "running"  # a run shows what it wrote, whatever the sliders say
    assert not doc.shown_step(SETTINGS.with_changes(temperature=0.0)).view.is_what_if


def test_a_what_if_without_its_logits_asks_for_them_once_and_shows_them_when_they_come() -> None:
    doc, logits = run_of(4)
    doc.mirror.logits.clear()
    doc.select(2)
    hotter = SETTINGS.with_changes(temperature=1.7)
    first = doc.shown_step(hotter)
    assert first.fetching and first.fetch and doc.requested_logits == {2}
    again = doc.shown_step(hotter)
    assert again.fetching and not again.fetch  # asked already
    assert doc.logits_arrived(2, logits[2].copy())
    shown = doc.shown_step(hotter)
    assert shown.view.is_what_if and not shown.fetching and doc.requested_logits == set()
    assert not doc.logits_arrived(9, logits[0].copy())  # a step that is gone meanwhile


def test_a_branch_forks_the_tree_and_writes_the_rest_again_with_the_same_dice() -> None:
    doc, _ = run_of(6)
    step = doc.mirror.steps[2]
    assert not doc.branch_changes(2, step.token_id) and not doc.branch_changes(6, None)
    other = next(int(t) for t in step.trace.candidates["token_id"] if int(t) != step.token_id)
    assert doc.branch_changes(2, other)
    request = doc.plan_branch(2, other, ignore_end=False, stops=())
    assert request.fork == (2, other) and request.max_tokens == 4 and request.seed == doc.mirror.seed
    assert doc.tree.current != 0 and doc.tree.branches[doc.tree.current].fork_at == 2
    assert doc.replay_of is None
    replay = doc.plan_branch(4, None, ignore_end=False, stops=())
    assert replay.fork == (4, None) and doc.replay_of == (1, 4)  # a replay is explained at its end
    doc.manual = True
    assert doc.plan_branch(1, other, ignore_end=False, stops=()).max_tokens == 1  # a person's pick only


def test_the_reply_leaves_the_end_of_turn_out_and_the_run_knows_it_ended() -> None:
    doc, _ = run_of(4, end_at=3)
    assert doc.ended()
    assert reply_text(doc.mirror.steps, doc.end_tokens) == "".join(s.text for s in doc.mirror.steps[:3])
    doc.mirror.pop()
    assert not doc.ended()


def test_forgetting_the_run_makes_the_text_the_next_prompt() -> None:
    doc, _ = run_of(3)
    doc.select(1)
    doc.requested_logits.add(0)
    doc.text_edited = False
    doc.forget_run("Once w1 w2")
    assert len(doc.mirror) == 0 and doc.mirror.prompt == "Once w1 w2" and doc.text_edited
    assert doc.selected is None and not doc.requested_logits


def test_the_finish_words_count_what_this_run_wrote() -> None:
    doc, _ = run_of(5)
    doc.run_clock = (0.0, 2)
    assert doc.finish_words("limit") == "Wrote 3 word pieces."
    doc.chatting = True
    assert doc.finish_words("end") == "The model finished its reply."
    doc.stop_met = "."
    assert "“.”" in doc.finish_words("stop-sequence") and doc.finish_words("error") == ""


def test_a_snapshot_holds_every_branch_and_the_chat_only_in_chat_mode() -> None:
    assert Workspace().snapshot(SETTINGS, Conversation()) is None  # nothing to keep
    doc, _ = run_of(4)
    doc.plan_branch(1, int(doc.mirror.steps[1].trace.candidates["token_id"][-1]), False, ())
    snapshot = doc.snapshot(SETTINGS, Conversation("Be brief."))
    assert snapshot is not None and len(snapshot.branches) == 2 and snapshot.current == doc.tree.current
    assert "chat" not in snapshot.extras
    doc.chatting = True
    chat = doc.snapshot(SETTINGS, Conversation("Be brief.", asking="Hi?")).extras["chat"]
    assert chat == {"system": "Be brief.", "asking": "Hi?", "turns": []}


def test_each_model_keeps_the_mode_it_was_last_used_in() -> None:
    state = ChatState()
    assert state.mode_for("instruct.gguf", has_template=True)
    assert not state.mode_for("base.gguf", has_template=False)
    state.chat_modes["instruct.gguf"] = False
    assert not state.mode_for("instruct.gguf", has_template=True)
    state.chat_modes["base.gguf"] = True  # a base model can never chat, whatever was remembered
    assert not state.mode_for("base.gguf", has_template=False)
    assert not state.run_started()
    state.sent = ("Hello?", "")
    assert state.run_started() and state.conversation.asking == "Hello?" and state.sent is None


def test_guess_mode_shows_a_proposal_then_reveals_it_and_a_moved_setting_asks_again() -> None:
    doc, _ = run_of(3)
    guess = GuessState(on=True)
    step = doc.mirror.steps[0]
    assert not guess.proposed(3, step, 3, idle=True)  # nobody asked
    guess.ask()
    assert guess.proposed(3, step, 3, idle=True) and guess.holds_panels
    assert guess.can_reveal(3, text_edited=False) and not guess.can_reveal(4, text_edited=False)
    assert guess.settings_moved(idle=True) and guess.asked and guess.guess is None
    assert guess.proposed(3, step, 3, idle=True)
    guess.revealing = True
    assert not guess.cancel() and guess.after_run("limit", idle=True) == "reveal-done"
    guess.finish_reveal()
    assert not guess.holds_panels
    guess.ask()
    assert guess.after_run("limit", idle=True) == "peek"  # the text was started for a guess
    assert guess.after_run("error", idle=True) == "" and not guess.asked
