"""Threads, attention path and KV precision: chosen settings reach llama.cpp from the window, the CLI
and the generator; the statistics are the same whether or not they overlap the decode."""
from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import llama_cpp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from synthscope.cli.main import main  # noqa: E402
from synthscope.engine import (ConfigError, Engine, machine_choice, machine_facts, open_engine,
                               preferred_config)
from synthscope.sampling import SamplerSettings, build_trace, run_chain  # noqa: E402
from synthscope.sampling.trace import log_sum_exp, softmax_statistics  # noqa: E402
from synthscope.engine.model import DEFAULT_CONTEXT  # noqa: E402
from synthscope.session import Generator  # noqa: E402
from synthscope.ui.window.main_window import MainWindow  # noqa: E402
from synthscope.ui.settings.performance import AUTOMATIC, by_hand_sentence  # noqa: E402
from window_helpers import WAIT_MS, loaded_window, worker_generator  # noqa: E402



def n_threads(engine: Engine) -> int:
    return int(llama_cpp.llama_n_threads(engine._ctx))


# -- engine and generator ---------------------------------------------------------------------

def test_threads_change_without_a_reload(engine: Engine) -> None:
    measured = engine.config.threads
    assert measured == machine_choice().config.threads == n_threads(engine)
    engine.set_threads(1)
    assert n_threads(engine) == 1 and engine.config.threads == 1
    engine.decode(engine.tokenize("One thread is enough"))
    engine.set_threads(3)
    assert n_threads(engine) == 3 and engine.config.threads == 3
    engine.set_threads(measured)


def test_preferences_keep_the_safety_decision_and_reject_nonsense() -> None:
    base = machine_choice().config
    chosen = preferred_config(threads=1, kv_cache="f16", flash_attention=True)
    assert (chosen.threads, chosen.kv_cache, chosen.flash_attention) == (1, "f16", True)
    assert chosen.extra_buffers == base.extra_buffers
    assert preferred_config() == base
    for bad in ({"threads": 0}, {"kv_cache": "q3"}, {"threads": 10_000}, {"gpu_layers": -5}):
        with pytest.raises(ConfigError):
            preferred_config(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("kv, flash", [("f16", False), ("f32", True)])
def test_the_context_is_built_as_configured(smollm_path: Path, kv: str, flash: bool,
                                            caplog: pytest.LogCaptureFixture) -> None:
    config = machine_choice().config.with_changes(kv_cache=kv, flash_attention=flash, threads=2)
    caplog.set_level(logging.INFO, logger="synthscope.llama")
    with open_engine(smollm_path, n_ctx=64, config=config, probe=False) as engine:
        # Read back from llama.cpp itself, not from the configuration handed to it.
        assert llama_cpp.llama_n_threads(engine._ctx) == llama_cpp.llama_n_threads_batch(engine._ctx) == 2
        assert llama_cpp.llama_n_ctx(engine._ctx) >= engine.n_ctx == 64  # it rounds up to its padding
        assert llama_cpp.llama_n_batch(engine._ctx) == engine.n_batch == 64
        # llama.cpp has no getter for the attention path and the KV type: its log says them.
        said = [record.getMessage() for record in caplog.records if record.name == "synthscope.llama"]
        attention = [line for line in said if re.search(r"llama_context: flash_attn\s*=", line)]
        assert attention and attention[-1].split("=")[1].strip() == ("enabled" if flash else "disabled")
        cache = [line for line in said if "llama_kv_cache: size" in line]
        assert cache and f"K ({kv})" in cache[-1] and f"V ({kv})" in cache[-1]
        engine.decode(engine.tokenize("The capital of France is"))
        assert engine.token_text(int(engine.logits().argmax())) == " Paris"
        generator = Generator(engine, seed=1)
        generator.start("Hello")
        assert generator.record.engine == config.to_dict()
        generator.close()


def test_overlapped_and_serial_statistics_are_identical(engine: Engine) -> None:
    settings = SamplerSettings(repeat_penalty=1.3, top_k=0, top_p=0.9)
    runs = []
    for overlap in (True, False):
        generator = Generator(engine, seed=5, top_n=12, overlap=overlap)
        assert generator.overlaps is overlap
        generator.start("The weather today is")
        generator.generate(settings, 6, ignore_eos=True)
        generator.generate(SamplerSettings(), 6, ignore_eos=True)
        runs.append(generator.record)
        generator.close()
    serial, overlapped = runs[1], runs[0]
    assert serial.token_ids == overlapped.token_ids
    for a, b in zip(serial.steps, overlapped.steps):
        assert a.trace.stages == b.trace.stages and a.trace.entropy_raw == b.trace.entropy_raw
        assert np.array_equal(a.trace.candidates, b.trace.candidates)


def test_statistics_agree_with_float64_and_the_head_with_a_full_sort(engine: Engine) -> None:
    engine.decode(engine.tokenize("Once upon a time"))
    raw = engine.logits().copy()
    exact = raw.astype(np.float64)
    p = np.exp(exact - exact.max())
    total = p.sum()
    p /= total
    lse, entropy = softmax_statistics(raw)
    assert lse == pytest.approx(exact.max() + np.log(total), abs=1e-5)
    assert lse == pytest.approx(log_sum_exp(raw), abs=1e-5)
    assert entropy == pytest.approx(float(-(p[p > 0] * np.log(p[p > 0])).sum()), rel=1e-5)
    # Default settings: top-k's sorted head gives the candidates; with penalties, a separate pass.
    for settings in (SamplerSettings(), SamplerSettings(repeat_penalty=1.5), SamplerSettings(top_k=5)):
        trace = build_trace(run_chain(raw, settings, np.array(engine.tokens), 0.3), top_n=10)
        assert trace.candidates["token_id"].tolist() == np.argsort(-raw, kind="stable")[:10].tolist()


# -- command line -------------------------------------------------------------------------------

def test_trace_takes_engine_options(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    assert main(["trace", "--prompt", "Hi", "--max-tokens", "3", "--seed", "1", "--threads", "1",
                 "--kv-cache", "f16", "--flash-attention", "on", "--json", str(out)]) == 0
    engine = json.loads(out.read_text(encoding="utf-8"))["engine"]
    assert (engine["threads"], engine["kv_cache"], engine["flash_attention"]) == (1, "f16", True)


@pytest.mark.parametrize("args", [["--threads", "0"], ["--threads", "many"], ["--kv-cache", "q2"],
                                  ["--gpu-layers", "-7"]])
def test_bad_engine_options_give_one_line_and_exit_2(args: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "synthscope", "trace", "--prompt", "x", *args],
                          capture_output=True, text=True)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthscope: error:"), done.stderr


def test_engine_command_says_what_was_chosen_and_why() -> None:
    done = subprocess.run([sys.executable, "-m", "synthscope", "engine", "--json"],
                          capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    choice = machine_choice()
    assert report["config"] == choice.config.to_dict() and report["reason"] == choice.reason
    assert report["physical_cores"] == machine_facts().physical_cores


# -- the window ---------------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, qapp, store: QSettings) -> Iterator[MainWindow]:
    win = loaded_window(qtbot, qapp, store)
    yield win
    win.close()


def worker_engine(win: MainWindow) -> Engine:
    return worker_generator(win).engine


def test_window_threads_apply_at_the_next_token(qtbot, window: MainWindow) -> None:
    perf = window.parts.performance
    measured = machine_choice().config.threads
    assert perf.threads.value() == AUTOMATIC and str(measured) in perf.threads.specialValueText()
    assert window.doc.model is not None and window.doc.model.note in perf.engine_line.text()
    perf.threads.setValue(1)
    window.run.step()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.mirror) == 1, timeout=WAIT_MS)
    assert n_threads(worker_engine(window)) == 1
    perf.threads.setValue(AUTOMATIC)
    window.run.step()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and len(window.doc.mirror) == 2, timeout=WAIT_MS)
    assert n_threads(worker_engine(window)) == measured


def test_window_reloads_with_another_kv_precision_and_keeps_the_text(
        qtbot, window: MainWindow, store: QSettings) -> None:
    perf = window.parts.performance
    measured = machine_choice().config
    assert window.doc.model is not None and window.doc.model.config == measured
    assert not perf.apply_button.isEnabled()
    other = "f16" if measured.kv_cache == "f32" else "f32"
    window.parts.controls.max_tokens.setValue(4)
    window.run.generate()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)
    text = window.parts.editor.toPlainText()
    perf.memory.setCurrentIndex(perf.memory.findData(other))
    perf.attention.setCurrentIndex(perf.attention.findData("flash"))
    assert perf.apply_button.isEnabled()
    perf.apply_button.click()
    qtbot.waitUntil(lambda: window.doc.state == "idle", timeout=WAIT_MS)
    assert window.doc.model.config.kv_cache == other and window.doc.model.config.flash_attention
    # The note under it says what Automatic would have done, instead of contradicting the menus.
    memory_words = {"f32": "exact memory", "f16": "compact memory"}
    assert (f"Automatic would use {memory_words[measured.kv_cache]}" in perf.engine_line.text()
            and f"you chose {memory_words[other]}" in perf.engine_line.text())
    assert worker_engine(window).config.kv_cache == other
    assert window.parts.editor.toPlainText() == text and not perf.apply_button.isEnabled()
    window.close()
    again = MainWindow(store)
    qtbot.addWidget(again)
    assert again.parts.performance.preferences()["kv_cache"] == other
    assert again.parts.performance.preferences()["flash_attention"] is True
    again.close()


def test_gpu_setting_is_offered_only_when_llama_cpp_can_offload(window: MainWindow) -> None:
    perf = window.parts.performance
    window.parts.controls.show_all.setChecked(True)  # the simple view folds Performance away
    if machine_facts().gpu_offload:
        assert perf.gpu_layers.isVisible() and not perf.gpu_note.text()
    else:
        assert not perf.gpu_layers.isVisible() and "processor only" in perf.gpu_note.text()
    assert machine_facts().cpu_name in window.doc.model.device or machine_facts().gpu_devices


def test_the_note_says_where_a_choice_by_hand_differs_from_automatic() -> None:
    automatic = machine_choice().config.with_changes(kv_cache="f16", flash_attention=True, threads=2)
    auto = {"threads": None, "kv_cache": None, "flash_attention": None}
    assert by_hand_sentence(auto, automatic) == ""
    exact = by_hand_sentence({**auto, "kv_cache": "f32", "flash_attention": False}, automatic)
    assert "Automatic would use compact memory and flash attention here" in exact
    assert "you chose exact memory and standard attention" in exact
    same = by_hand_sentence({**auto, "kv_cache": "f16", "threads": 4}, automatic)
    assert "Automatic would use 2 threads here; you chose 4 threads." in same
    assert "memory, the same as Automatic" in same and "compact" not in same
    unknown = by_hand_sentence({**auto, "kv_cache": "f32"}, None)  # the machine not checked yet
    assert "Set by hand above: memory" in unknown and "would use" not in unknown


def test_damaged_engine_settings_fall_back_to_defaults(qtbot, qapp, store: QSettings) -> None:
    store.setValue("engine/threads", "lots")
    store.setValue("engine/kv_cache", "q9")
    store.setValue("engine/attention", 7)
    store.setValue("engine/gpu_layers", -99)
    store.setValue("engine/context", 10)
    win = MainWindow(store)
    qtbot.addWidget(win)
    assert win.parts.performance.preferences() == {"threads": None, "kv_cache": None,
                                             "flash_attention": None, "gpu_layers": -1,
                                             "context": DEFAULT_CONTEXT}
    win.close()


def test_a_failing_trace_takes_its_steps_back(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Traces are filled in batches; if one cannot be made, no step is left without one."""
    import synthscope.session.runner as runner

    calls = {"n": 0}
    real = runner.build_trace

    def flaky(result, top_n):  # noqa: ANN001, ANN202
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("statistics failed")
        return real(result, top_n)

    monkeypatch.setattr(runner, "build_trace", flaky)
    generator = Generator(engine, seed=3, overlap=False)
    generator.start("Count with me: one, two,")
    reported = []
    with pytest.raises(RuntimeError):
        generator.generate(SamplerSettings(), 10, ignore_eos=True, on_step=reported.append)
    record = generator.record
    assert len(record.steps) == 4 and all(step.trace is not None for step in record.steps)
    assert reported == record.steps
    assert engine.n_past == len(record.prompt_tokens) + 4
    assert record.text == "".join(step.text for step in record.steps)
    generator.step(SamplerSettings())  # and it carries on from there
    assert len(generator.record.steps) == 5
    generator.close()


def test_context_length_setting_reloads_and_a_full_context_stops_in_words(
        qtbot, window: MainWindow, store: QSettings) -> None:
    perf = window.parts.performance
    assert window.doc.model is not None and window.doc.model.n_ctx == DEFAULT_CONTEXT
    perf.context.setValue(256)
    assert perf.apply_button.isEnabled()
    perf.apply_button.click()
    qtbot.waitUntil(lambda: window.doc.state == "idle", timeout=WAIT_MS)
    assert window.doc.model.n_ctx == 256 == worker_engine(window).n_ctx
    assert "context of 256 word pieces" in perf.engine_line.text()
    window.parts.controls.max_tokens.setValue(400)
    window.parts.controls.ignore_end.setChecked(True)
    window.run.generate()
    qtbot.waitUntil(lambda: window.doc.state == "idle" and not window.steps.pending, timeout=WAIT_MS)
    engine = worker_engine(window)
    prompt_tokens = len(worker_generator(window).record.prompt_tokens)
    assert engine.n_past == 256 and len(window.doc.mirror) == 256 - prompt_tokens
    assert window.parts.banner.isVisible() and "limit of 256 tokens" in window.parts.banner.text.text()
    perf.save(store)
    assert int(store.value("engine/context")) == 256
