"""Conversations and stop sequences without Qt: the turns sent to the template, and where runs end."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthscope.engine import Engine
from synthscope.engine.chat import format_chat
from synthscope.sampling import SamplerSettings
from synthscope.session import Generator, load_record, save_record
from synthscope.session.chat import Conversation, Turn
from synthscope.session.stopping import (MAX_STOP_SEQUENCES, StopSequenceError, StopWatcher,
                                         check_stop_sequences, shown, unescape)


def test_a_conversation_sends_every_finished_turn_then_the_message_being_answered() -> None:
    chat = Conversation(system="Be brief.")
    upcoming = chat.next_messages("Hi", "")
    assert upcoming == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert not chat.started  # nothing changes until the message is really sent
    chat.ask("Hi", "")
    assert chat.messages() == upcoming
    chat.ask("And then?", "Hello there")  # the reply so far closes the first exchange
    assert chat.turns == [Turn("user", "Hi"), Turn("assistant", "Hello there")]
    assert [m["role"] for m in chat.messages()] == ["system", "user", "assistant", "user"]
    chat.system = "   "
    assert chat.messages()[0] == {"role": "user", "content": "Hi"}  # a blank system message is left out
    chat.clear()
    assert not chat.started and chat.messages() == []


def test_a_stop_sequence_must_end_in_the_new_text() -> None:
    watcher = StopWatcher(["\n\n", "THE END"], before="text before\n\n")
    assert watcher.feed("Once") is None  # the earlier "\n\n" does not count again
    assert watcher.feed(" upon\n") is None
    assert watcher.feed("\nmore") == "\n\n"  # split over two tokens
    assert StopWatcher(["THE END"]).feed("so THE E") is None
    short = StopWatcher([" had been"])  # longer than the first pieces of text
    assert [short.feed(piece) for piece in (",", " Jack", ", who", " had", " been")] == [
        None, None, None, None, " had been"]
    watcher = StopWatcher(["END", "THE"])
    assert watcher.feed("THE END") == "THE"  # the earliest match wins
    assert StopWatcher([]).feed("anything") is None


def test_stop_sequences_are_checked_and_shown_in_plain_words() -> None:
    assert check_stop_sequences([".", ".", "\n"]) == (".", "\n")
    with pytest.raises(StopSequenceError, match="cannot be empty"):
        check_stop_sequences([""])
    with pytest.raises(StopSequenceError, match="At most"):
        check_stop_sequences([str(n) for n in range(MAX_STOP_SEQUENCES + 1)])
    assert unescape(r"a\nb\tc\\n") == "a\nb\tc\\n"
    assert shown("\n\t.") == "↵⇥."


def test_generate_stops_at_the_token_that_completes_a_stop_sequence(engine: Engine, tmp_path: Path) -> None:
    greedy = SamplerSettings(temperature=0.0)
    free = Generator(engine, seed=3)
    free.start("My favourite fruits are apples, bananas,")
    text = "".join(step.text for step in free.generate(greedy, 12, ignore_eos=True))
    free.close()
    assert "." in text.rstrip(".")  # the sentence ends, and more follows
    stopped = Generator(engine, seed=3)
    stopped.start("My favourite fruits are apples, bananas,")
    steps = stopped.generate(greedy, 12, ignore_eos=True, stop_sequences=(".",))
    written = "".join(step.text for step in steps)
    assert "." in steps[-1].text and "." not in written[:-len(steps[-1].text)]
    assert text.startswith(written) and len(written) < len(text)
    save_record(stopped.record, tmp_path / "run.json")
    assert load_record(tmp_path / "run.json").stop_sequences == ["."]
    stopped.close()


def test_format_chat_puts_earlier_turns_in_the_context(engine: Engine) -> None:
    chat = Conversation()
    chat.ask("Name a colour.", "")
    chat.ask("Another one?", "Blue.")
    prompt = format_chat(engine, chat.messages())
    assert prompt.index("Name a colour.") < prompt.index("Blue.") < prompt.index("Another one?")
    assert prompt.endswith("<|im_start|>assistant\n")


def test_trace_stop_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "trace.json"
    done = subprocess.run([sys.executable, "-m", "synthscope", "trace", "--prompt", "One, two, three",
                           "--temperature", "0", "--max-tokens", "30", "--ignore-eos", "--stop", ",",
                           "--stop", "\\n", "--json", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert doc["stop_sequences"] == [",", "\n"]
    *before, last = [step["text"] for step in doc["steps"]]
    assert len(doc["steps"]) < 30 and ("," in last or "\n" in last)
    assert not any("," in text or "\n" in text for text in before)
    done = subprocess.run([sys.executable, "-m", "synthscope", "trace", "--prompt", "Hi", "--stop", ""],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == "synthscope: error: A stop sequence cannot be empty."
