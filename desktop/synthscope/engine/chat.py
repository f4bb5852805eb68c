"""Chat turns in the model's own template, rendered in a sandbox that bounds time and size."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import jinja2
from synthscope.engine.errors import EngineError
from synthscope.engine.template_sandbox import TemplateRefused, render_chat_template

if TYPE_CHECKING:
    from synthscope.engine.model import Engine


class NoChatTemplate(EngineError):
    """The model carries no chat template (a base model): it can only continue raw text."""


def chat_prompt(engine: Engine, user: str, system: str | None = None) -> str:
    """The text the model continues for one user turn: the model's template applied to
    [system], user, with the assistant's turn opened (add_generation_prompt)."""
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": user}]
    return format_chat(engine, messages)


def format_chat(engine: Engine, messages: list[dict[str, str]]) -> str:
    """The text the model continues: its own template applied to `messages` (system, user and
    assistant turns), with the assistant's next turn opened (add_generation_prompt)."""
    template = engine.chat_template()
    name = engine.path.name if isinstance(engine.path, Path) else engine.facts.name  # a server's: no file
    if template is None:
        raise NoChatTemplate(f"{name} has no chat template, so it cannot chat; "
                             "give it text to continue instead.")
    bos, eos = engine.special_texts()
    try:
        return render_chat_template(template, messages, bos_token=bos, eos_token=eos)
    except TemplateRefused as exc:
        raise EngineError(f"The chat template of {name} was not used: {exc}.") from exc
    except (jinja2.TemplateError, ValueError) as exc:
        raise EngineError(f"The chat template of {name} could not be applied: {exc}") from exc
