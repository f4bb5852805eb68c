"""A chat template from a model file rendered in a Jinja sandbox that also bounds time, sizes and output."""
from __future__ import annotations

import operator
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

DEADLINE_S = 1.0          # a chat template renders in well under a millisecond; one second is a runaway
MAX_ITEMS = 10_000        # longest range(), repeat count or padding width a template may ask for
MAX_OUTPUT_CHARS = 4_000_000  # far beyond any model's context, in characters
MAX_EXPONENT = 64


class TemplateRefused(Exception):
    """The template did something a chat template never needs; the message says what."""


class _Budget:
    """The time and size a single render may still use."""

    def __init__(self) -> None:
        self.ends_at = time.monotonic() + DEADLINE_S
        self.done = False  # after the render: a frame that still holds the tracer must not raise

    def check(self) -> None:
        if not self.done and time.monotonic() > self.ends_at:
            raise TemplateRefused(f"it ran longer than {DEADLINE_S:g} second and was stopped")


def _size(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox llama-cpp-python renders with, plus checks a looping or exploding template trips."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self) -> None:
        # The same settings and extensions as llama-cpp-python's Jinja2ChatFormatter, so renders agree.
        super().__init__(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True,
                         extensions=[Jinja2ChatFormatter.IgnoreGenerationTags,
                                     jinja2.ext.loopcontrols])
        self.budget = _Budget()
        self.filters["tojson"] = Jinja2ChatFormatter.tojson
        for name in ("center", "indent", "wordwrap", "truncate"):
            self.filters[name] = self._capped_filter(self.filters[name])
        self.globals["range"] = self._range

    def _range(self, *args: int) -> Iterator[int]:
        span = range(*args)
        if len(span) > MAX_ITEMS:
            raise TemplateRefused(f"it asked for a range of {len(span):,} numbers "
                                  f"(at most {MAX_ITEMS:,} are allowed)")
        return self._paced(span)

    def _paced(self, items: range) -> Iterator[int]:
        for item in items:
            self.budget.check()
            yield item

    def _capped_filter(self, inner: Callable[..., Any]) -> Callable[..., Any]:
        def capped(*args: Any, **kwargs: Any) -> Any:
            if any(_size(a) > MAX_ITEMS for a in (*args[1:], *kwargs.values())):
                raise TemplateRefused(f"it asked for text over {MAX_ITEMS:,} characters wide")
            return inner(*args, **kwargs)
        return capped

    def call_binop(self, context: jinja2.runtime.Context, op: str, left: Any, right: Any) -> Any:
        self.budget.check()
        if op == "**" and abs(_size(right)) > MAX_EXPONENT:
            raise TemplateRefused(f"it asked for a power above {MAX_EXPONENT}")
        if op == "*":
            repeat, seq = (_size(right), left) if isinstance(left, (str, list, tuple)) else (
                _size(left), right)
            if isinstance(seq, (str, list, tuple)) and repeat * max(len(seq), 1) > MAX_OUTPUT_CHARS:
                raise TemplateRefused("it asked to repeat text or a list beyond any sensible size")
        return {"*": operator.mul, "**": operator.pow}[op](left, right)

    def call(self, __context: jinja2.runtime.Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.budget.check()
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (str, list, tuple, dict)) and any(
                _size(a) > MAX_ITEMS for a in (*args, *kwargs.values())):
            raise TemplateRefused(f"it passed a size over {MAX_ITEMS:,} to a text or list method")
        return super().call(__context, __obj, *args, **kwargs)

    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        # Jinja's sandbox hands back a silent blank here; an attempt on internals should be said.
        raise SecurityError(f"{attribute!r} of a {type(obj).__name__} is off limits")

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.budget.check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.budget.check()
        return super().getitem(obj, argument)


def _template_tracer(budget: _Budget) -> Callable[..., Any]:
    def on_line(frame: Any, event: str, arg: Any) -> Any:
        budget.check()
        return on_line

    def on_call(frame: Any, event: str, arg: Any) -> Any:
        return on_line if frame.f_code.co_filename == "<template>" else None
    return on_call


def _raise_exception(message: str) -> None:
    raise jinja2.TemplateError(message)


def render_chat_template(template: str, messages: list[dict[str, str]], *, bos_token: str,
                         eos_token: str, add_generation_prompt: bool = True) -> str:
    """The prompt `template` makes of `messages`, as llama-cpp-python's formatter renders it.

    Raises TemplateRefused (reaching Python internals, running past the deadline, sizes beyond any
    chat) or jinja2.TemplateError (broken syntax, raise_exception in the template)."""
    environment = _BoundedEnvironment()
    # A loop with no calls or output in it trips none of the checks above; a line tracer on the
    # template's own frames does. Left off when a debugger or coverage already traces.
    tracing = sys.gettrace() is None
    if tracing:
        sys.settrace(_template_tracer(environment.budget))
    rendering = None
    try:
        compiled = environment.from_string(template)
        pieces: list[str] = []
        length = 0
        rendering = compiled.generate(
                messages=messages, eos_token=eos_token, bos_token=bos_token,
                raise_exception=_raise_exception, add_generation_prompt=add_generation_prompt,
                functions=None, function_call=None, tools=None, tool_choice=None,
                strftime_now=lambda f: datetime.now().strftime(f))
        for piece in rendering:
            environment.budget.check()
            length += len(piece)
            if length > MAX_OUTPUT_CHARS:
                raise TemplateRefused(f"its output grew past {MAX_OUTPUT_CHARS:,} characters")
            pieces.append(piece)
    except SecurityError as exc:
        raise TemplateRefused(f"it tried to reach something a template may not touch ({exc})") from exc
    except RecursionError as exc:
        raise TemplateRefused("it called itself without end") from exc
    except (OverflowError, MemoryError) as exc:
        raise TemplateRefused("it asked for a number or size beyond any sensible chat") from exc
    finally:
        if tracing:
            sys.settrace(None)
        # A render stopped midway leaves its generator suspended, its frames still traced: close it
        # now, with the budget switched off, rather than when it is collected.
        environment.budget.done = True
        if rendering is not None:
            rendering.close()
    return "".join(pieces)


