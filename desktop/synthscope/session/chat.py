"""A conversation with an instruct model: the system message, the finished turns, and the next one."""
from __future__ import annotations

from dataclasses import dataclass, field

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
