"""The sample prompts and icon are found, and every sample prompt runs on the default model."""
from __future__ import annotations

from synthscope.engine import Engine
from synthscope.engine.chat import format_chat
from synthscope.sampling import SamplerSettings
from synthscope.session import Generator
from synthscope.ui.resources import icon_path, sample_prompts


def test_sample_prompts_load_exactly_and_the_model_continues_each(engine: Engine) -> None:
    prompts = sample_prompts("raw")
    assert len(prompts) >= 3 and len({p.title for p in prompts}) == len(prompts)
    chat = next(p for p in prompts if "<|im_start|>assistant" in p.text)
    assert chat.text.endswith("assistant\n")  # a chat turn keeps its newline
    for prompt in prompts:
        gen = Generator(engine, seed=1)
        gen.start(prompt.text)
        assert gen.record.prompt_tokens == engine.tokenize(prompt.text)
        assert len(gen.generate(SamplerSettings(temperature=0), 3)) >= 1
        gen.close()


def test_chat_sample_prompts_are_messages_the_model_answers_in_its_template(engine: Engine) -> None:
    prompts = sample_prompts("chat")
    assert len(prompts) >= 3 and all(p.title == p.text.strip() for p in prompts)
    for prompt in prompts:
        assert "<|im_start|>" not in prompt.text  # a message: the template adds the markup
        gen = Generator(engine, seed=1)
        gen.start(format_chat(engine, [{"role": "user", "content": prompt.text.strip()}]))
        assert len(gen.generate(SamplerSettings(temperature=0), 3)) >= 1
        gen.close()


def test_the_icon_is_there() -> None:
    path = icon_path()
    assert path is not None and path.read_text().startswith("<svg")
