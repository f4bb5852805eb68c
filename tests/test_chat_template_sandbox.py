"""Chat templates from model files render sandboxed: the same prompt as llama-cpp-python for real
templates, while one that reaches Python internals, loops or explodes is refused within a second."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from hostile_gguf import with_chat_template
from synthscope.engine.model_facts import read_facts
from synthscope.engine.template_sandbox import DEADLINE_S, TemplateRefused, render_chat_template

CONVERSATIONS = [
    [{"role": "user", "content": "Hello"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Name a fruit."}],
    [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
     {"role": "user", "content": "Tell me about {{ braces }} and {% tags %}."}],
]
HOSTILE = {
    "reaches Python internals": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "reaches a function's globals": "{{ raise_exception.__globals__ }}",
    "reads the environment": "{{ self._TemplateReference__context.environment }}",
    "asks for a huge range": "{% for i in range(10**9) %}x{% endfor %}",
    "nests loops without output": "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}",
    "loops over a long string twice": "{% set s = 'ab' * 1000000 %}{% for a in s %}{% for b in s %}"
                                      "{% endfor %}{% endfor %}",
    "calls itself without end": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "raises a number to a huge power": "{{ 7 ** 123456789 }}",
    "repeats text beyond any size": "{{ 'x' * 10**10 }}",
    "pads text a billion wide": "{{ 'x'|center(1000000000) }}",
    "pads through a string method": "{{ 'x'.ljust(1000000000) }}",
    "writes without end": "{% for i in range(10000) %}{% for j in range(10000) %}{{ i }}{% endfor %}{% endfor %}",
}
LOOPING = "{% for i in range(9999) %}{% for j in range(9999) %}{% endfor %}{% endfor %}"


def llama_cpp_render(template: str, messages: list[dict[str, str]], bos: str, eos: str) -> str:
    formatter = Jinja2ChatFormatter(template, eos_token=eos, bos_token=bos, add_generation_prompt=True)
    return formatter(messages=messages).prompt  # type: ignore[arg-type]


@pytest.mark.parametrize("messages", CONVERSATIONS)
def test_the_real_template_renders_as_llama_cpp_python_renders_it(smollm_path: Path, messages) -> None:
    template = read_facts(smollm_path).chat_template
    assert template
    ours = render_chat_template(template, messages, bos_token="<|im_start|>", eos_token="<|im_end|>")
    assert ours == llama_cpp_render(template, messages, "<|im_start|>", "<|im_end|>")
    assert ours.endswith("<|im_start|>assistant\n") and messages[-1]["content"] in ours


@pytest.mark.parametrize("template", [
    "{% for m in messages %}{{ m.role|upper }}: {{ m.content|tojson }}{{ loop.index }}{% endfor %}",
    "{{ bos_token }}{% for m in messages %}{% if loop.first %}[{% endif %}{{ m['content']|trim }}"
    "{% if not loop.last %}|{% endif %}{% endfor %}]{{ eos_token }}{% if add_generation_prompt %}>{% endif %}",
    "{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% if loop.index > 1 %}"
    "{% break %}{% endif %}{% endfor %}{{ range(3)|list|join(',') }}{{ (2 ** 10) }}{{ '-' * 5 }}",
])
def test_ordinary_template_features_render_as_llama_cpp_python(template: str) -> None:
    messages = CONVERSATIONS[2]
    assert render_chat_template(template, messages, bos_token="<s>", eos_token="</s>") == \
        llama_cpp_render(template, messages, "<s>", "</s>")


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_template_is_refused_in_words_within_a_second(kind: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateRefused) as refused:
        render_chat_template(HOSTILE[kind], CONVERSATIONS[0], bos_token="", eos_token="")
    took = time.monotonic() - started
    assert took < DEADLINE_S + 0.5, (kind, took)
    message = str(refused.value)
    assert message.startswith("it ") and "\n" not in message and "Traceback" not in message


def test_a_refused_render_leaves_no_tracer_behind() -> None:
    before = sys.gettrace()
    with pytest.raises(TemplateRefused):
        render_chat_template(LOOPING, CONVERSATIONS[0], bos_token="", eos_token="")
    assert sys.gettrace() is before
    assert render_chat_template("{{ messages|length }}", CONVERSATIONS[1], bos_token="", eos_token="") == "2"


def test_a_model_with_a_looping_template_gives_one_line_in_the_cli(tmp_path: Path, smollm_path: Path) -> None:
    model = with_chat_template(smollm_path, tmp_path / "looping-template.gguf", LOOPING)
    done = subprocess.run([sys.executable, "-m", "synthscope", "trace", "--chat", "--prompt", "Hi",
                           "--max-tokens", "1", "--model", str(model)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "chat template" in lines[0] and "stopped" in lines[0], done.stderr


def test_a_model_with_a_hostile_template_in_the_window_says_so_and_keeps_working(
        qtbot, qapp, tmp_path: Path, smollm_path: Path) -> None:
    from window_helpers import WAIT_MS, loaded_window

    win = loaded_window(qtbot, qapp, seed=5, chat=True)
    model = with_chat_template(smollm_path, tmp_path / "prying-template.gguf", HOSTILE["reaches Python internals"])
    win.models.load_model(model, probe=False)
    qtbot.waitUntil(lambda: win.doc.state == "idle", timeout=WAIT_MS)
    assert win.doc.chatting  # the template is a string, so the model offers chat
    win.parts.chat_input.set_message("Hello")
    win.parts.chat_input.send_button.click()
    qtbot.waitUntil(lambda: win.parts.banner.isVisible(), timeout=WAIT_MS)
    message = win.parts.banner.text.text()
    assert "chat template" in message and "may not touch" in message and "\n" not in message.strip()
    qtbot.waitUntil(lambda: win.doc.state == "idle", timeout=WAIT_MS)
    assert not win.doc.mirror  # nothing was written from a prompt that could not be made
    win.chat.set_mode(False)  # the same model still continues raw text
    win.run.step()
    qtbot.waitUntil(lambda: win.doc.state == "idle" and not win.steps.pending, timeout=WAIT_MS)
    assert len(win.doc.mirror) == 1
    win.close()
