"""The record of a run: prompt, model identity, and every step with its compact trace."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthscope.sampling import FRESH, Feedback, SamplerSettings, StepTrace

IDENTITY_BYTES = 1 << 20


@dataclass(frozen=True)
class ModelIdentity:
    """Enough to tell whether a saved run came from the same model file."""

    path: str
    name: str
    file_size: int
    head_sha256: str  # SHA-256 of the first MiB: cheap, and differs between any two real models
    vocab_size: int

    @property
    def served(self) -> bool:
        """The run was computed by a model server (`synthscope trace --server`), not from a file here."""
        return self.file_size == 0 and "://" in self.path

    def served_words(self) -> str:
        """Why such a run cannot be continued here, in one sentence."""
        return (f"This run was computed by the model server at {self.path.split('#', 1)[0]} ({self.name}): "
                "connect to it with File → Connect to a model server… (or give --server) to go on with it "
                "(replay needs a model file).")

    @classmethod
    def of_file(cls, path: str | Path, name: str, vocab_size: int) -> ModelIdentity:
        path = Path(path)
        with path.open("rb") as handle:
            head = hashlib.sha256(handle.read(IDENTITY_BYTES)).hexdigest()
        return cls(str(path), name, path.stat().st_size, head, vocab_size)


@dataclass(slots=True)
class Step:
    """One generated token and why it was chosen."""

    token_id: int
    token_bytes: bytes
    text: str  # what this step added to the output text (may be "" for half a character)
    u: float | None
    settings: SamplerSettings  # shared between steps that used the same settings
    trace: StepTrace
    chosen_by: str = "dice"  # or "person": picked from the candidates, the dice overruled
    xtc_u: float | None = None  # XTC's own draw at this step, when XTC rolled one
    # What mirostat / adaptive-p carried into this step and out of it: a replay or a what-if from
    # here starts from feedback_in, and the next step from feedback_out.
    feedback_in: Feedback = FRESH
    feedback_out: Feedback = FRESH
    # Through a model server: what it listed here and which numbers stay exact (session.served.step_head).
    head: dict[str, Any] | None = None


@dataclass
class RunRecord:
    model: ModelIdentity
    prompt: str
    prompt_tokens: list[int]
    seed: int
    top_n: int
    steps: list[Step] = field(default_factory=list)
    pieces: dict[int, bytes] = field(default_factory=dict)  # bytes of every token the record mentions
    # How llama.cpp computed the numbers (EngineConfig.to_dict()): KV precision and attention path
    # change the logits in the last digits, so a run says which ones it shows.
    engine: dict[str, Any] = field(default_factory=dict)
    stop_sequences: list[str] = field(default_factory=list)  # a run ends at the first one it writes

    @property
    def text(self) -> str:
        return "".join(step.text for step in self.steps)

    @property
    def token_ids(self) -> list[int]:
        return [step.token_id for step in self.steps]

    def piece_text(self, token_id: int) -> str:
        return self.pieces.get(token_id, b"").decode("utf-8", errors="backslashreplace")
