"""A conversation with an instruct model: the system message, the finished turns, and the next one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Turn:
    role: str  # one of ROLES
    content: str


@dataclass
class Conversation:
    """What the model is shown as a chat. The reply being written lives in the run, not here: it
    becomes a turn when the next user message is sent (`close_exchange`)."""

    system: str = ""
    turns: list[Turn] = field(default_factory=list)  # finished user/assistant pairs, in order
    asking: str | None = None  # the user message whose reply the current run writes

    def messages(self, user: str | None = None) -> list[dict[str, str]]:
        """Messages for the chat template: the system message, every finished turn, the message
        being answered, and `user` (a new message) if given."""
        out = [{"role": "system", "content": self.system}] if self.system.strip() else []
        out += [{"role": turn.role, "content": turn.content} for turn in self.turns]
        if self.asking is not None:
            out.append({"role": "user", "content": self.asking})
        if user is not None:
            out.append({"role": "user", "content": user})
        return out

    def close_exchange(self, reply: str) -> None:
        """The message being answered and its reply (however far it got) become finished turns."""
        if self.asking is not None:
            self.turns += [Turn("user", self.asking), Turn("assistant", reply)]
            self.asking = None

    def next_messages(self, user: str, reply_so_far: str) -> list[dict[str, str]]:
        """The messages the model answers once `user` is sent (nothing changes until `ask`)."""
        upcoming = Conversation(self.system, list(self.turns), self.asking)
        upcoming.ask(user, reply_so_far)
        return upcoming.messages()

    def ask(self, user: str, reply_so_far: str) -> None:
        """`user` was sent: the current exchange is closed with `reply_so_far` (however far the
        reply got) and `user` is the message being answered."""
        self.close_exchange(reply_so_far)
        self.asking = user

    def clear(self) -> None:
        self.turns.clear()
        self.asking = None

    @property
    def started(self) -> bool:
        return bool(self.turns) or self.asking is not None


@dataclass
class ChatState:
    """Chat mode's side of the window: the conversation, the raw text kept while the chat is shown,
    the message on its way, and the mode each model was last used in."""

    conversation: Conversation = field(default_factory=Conversation)
    raw_text: str = ""  # the raw-mode text while the chat is shown
    sent: tuple[str, str] | None = None  # (message, reply it closes) until the run starts
    chat_modes: dict[str, bool] = field(default_factory=dict)  # model path -> chat mode last used

    def mode_for(self, model_path: str, has_template: bool) -> bool:
        """Chat for a model with a chat template (an instruct model), raw text otherwise; a model
        opened again in this session keeps the mode it had."""
        return self.chat_modes.get(model_path, has_template) and has_template

    def run_started(self) -> bool:
        """The message sent is being answered now; True if there was one."""
        if self.sent is None:
            return False
        self.conversation.ask(*self.sent)
        self.sent = None
        return True


def reply_text(steps: list[Any], end_tokens: frozenset[int]) -> str:
    """What the model has written of the current reply, its end-of-turn token left out (the
    template adds its own)."""
    return "".join(step.text for step in steps if step.token_id not in end_tokens)
