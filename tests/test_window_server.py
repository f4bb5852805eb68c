"""The window computing with a model server: File → Connect to a model server… with llama-server (and
llama-cpp-python's server) on loopback writes what the in-process model writes, says on screen how many
word pieces the server listed and which numbers are exact, keeps its sessions, and stays responsive
and whole when the server fails."""
from __future__ import annotations

import http.server
import os
import shutil
import threading
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from synthscope.engine import Engine, EngineConfig, default_model_path, machine_choice  # noqa: E402
from synthscope.engine.chat import format_chat  # noqa: E402
from synthscope.engine.server_client import ServerClient  # noqa: E402
from synthscope.sampling import SamplerSettings  # noqa: E402
from synthscope.session import Generator  # noqa: E402
from synthscope.session.futures import write_futures  # noqa: E402
from synthscope.session.requests import ServerChoice  # noqa: E402
from synthscope.ui import theme  # noqa: E402
from synthscope.ui.sessions.autosave import autosave_path  # noqa: E402
from synthscope.ui.window.main_window import MainWindow  # noqa: E402
from llama_server_build import llama_server  # noqa: E402
from server_helpers import (N_CTX, free_port, llama_server_command, running,  # noqa: E402
                            running_server)
from window_helpers import STORY, WAIT_MS, generate_with, idle, worker_generator  # noqa: E402

SETTINGS = SamplerSettings(temperature=1.3, top_k=0, top_p=1.0, min_p=0.0)  # the whole distribution


@pytest.fixture(scope="module")
def server(llama_server_client: ServerClient) -> ServerClient:
    return llama_server_client


def connected_window(qtbot, qapp, choice: ServerChoice, seed: int = 5, chat: bool = False) -> MainWindow:
    """Shown at 1400×900, connected through the Connect part as the dialog does it, continuing raw text
    unless `chat`."""
    machine_choice()
    theme.apply(qapp)
    win = MainWindow(None)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    win.parts.controls.seed_box.setValue(seed)
    win.server.connect_to(choice)
    qtbot.waitUntil(lambda: win.doc.state in ("idle", "no-model") and win.doc.model is not None
                    or win.parts.banner.isVisible(), timeout=WAIT_MS)
    if win.doc.model is not None:
        win.chat.set_mode(chat)
    return win


def start_long_run(qtbot, win: MainWindow, length: int, shown: int) -> None:
    """Generate `length` word pieces of STORY, the end of text ignored; back once `shown` are in the window."""
    win.parts.controls.max_tokens.setValue(length)
    win.parts.controls.ignore_end.setChecked(True)
    win.run.use_prompt(STORY)
    win.commands.generate.trigger()
    qtbot.waitUntil(lambda: len(win.doc.mirror) >= shown, timeout=WAIT_MS)


def in_process_run(smollm_path: Path, config: EngineConfig, settings: SamplerSettings, seed: int,
                   length: int) -> list[int]:
    with Engine.load(smollm_path, config, n_ctx=N_CTX) as engine:
        generator = Generator(engine, seed=seed)
        generator.start(STORY)
        generator.generate(settings, length, ignore_eos=True)
        tokens = generator.record.token_ids
        generator.close()
    return list(tokens)


def test_the_window_through_llama_server_writes_the_in_process_run_and_says_every_number_is_exact(
        qtbot, qapp, server: ServerClient, smollm_path: Path, engine_config: EngineConfig) -> None:
    win = connected_window(qtbot, qapp, ServerChoice(server.url))
    try:
        model = win.doc.model
        assert win.doc.state == "idle" and model is not None and model.server is not None
        assert model.path is None and model.server.head == model.server.vocab == 49152
        with Engine.load(smollm_path, engine_config, n_ctx=N_CTX) as engine:  # every text, from one request
            assert list(model.vocab) == [engine.token_text(t) for t in range(engine.n_vocab)]
        assert "on a model server" in win.parts.model_label.text()
        assert server.url in win.parts.engine_label.text()
        assert not win.commands.futures.isEnabled() and not win.commands.compare.isEnabled()
        assert win.compare.open_compare() is None  # as from a demo: one sentence, no window
        assert "needs a model file" in win.parts.banner.text.text()
        win.notices.hide_problem()
        generate_with(qtbot, win, STORY, SETTINGS, 12, ignore_end=True)
        written = [step.token_id for step in win.doc.mirror.steps]
        assert written == in_process_run(smollm_path, engine_config, SETTINGS, 5, 12)
        served = win.parts.inspector.header.served
        assert served.isVisible() and "all 49,152 word pieces: every number here is exact" in served.text()
        assert "listed" not in win.parts.distribution.legend.text()  # all of them: nothing to say there
        assert all(step.head is not None and step.head["seen"] == 49152 for step in win.doc.mirror.steps)
    finally:
        win.close()


def test_chat_through_llama_server_uses_the_servers_template_and_writes_the_in_process_reply(
        qtbot, qapp, server: ServerClient, smollm_path: Path, engine_config: EngineConfig) -> None:
    win = connected_window(qtbot, qapp, ServerChoice(server.url, head=1000), seed=3, chat=True)
    try:
        assert win.doc.model is not None and win.doc.model.facts.has_chat_template  # stated by the server
        win.parts.controls.set_settings(SamplerSettings(temperature=0.3, top_k=20))
        win.parts.controls.max_tokens.setValue(120)
        win.parts.chat_input.set_system_text("Answer in one short sentence.")
        win.parts.chat_input.set_message("What is the capital of France?")
        win.parts.chat_input.send_button.click()
        idle(qtbot, win)
        served = worker_generator(win).record
        with Engine.load(smollm_path, engine_config, n_ctx=N_CTX) as engine:
            assert served.prompt == format_chat(engine, [{"role": "system", "content": "Answer in one short sentence."},
                                                         {"role": "user", "content": "What is the capital of France?"}])
            generator = Generator(engine, seed=3)
            generator.start(served.prompt)
            generator.generate(SamplerSettings(temperature=0.3, top_k=20), 120)
            assert served.token_ids == generator.record.token_ids
            generator.close()
        assert worker_generator(win).is_end(served.steps[-1]), (served.prompt, served.text)  # known by number
        assert "<|im_end|>" not in win.parts.editor.toPlainText()
    finally:
        win.close()


def test_a_top_1000_head_says_how_many_were_seen_and_which_numbers_are_estimates(
        qtbot, qapp, server: ServerClient) -> None:
    win = connected_window(qtbot, qapp, ServerChoice(server.url, head=1000))
    try:
        generate_with(qtbot, win, STORY, SamplerSettings(temperature=0.8, top_k=40, top_p=0.95), 6)
        assert len(win.doc.mirror) == 6
        for index in range(6):
            win.steps.select_step(index)
            head = win.doc.mirror.steps[index].head
            assert head["seen"] == 1000 and head["vocab"] == 49152
            sentence = win.parts.inspector.header.served.text()
            assert "1,000 of 49,152 word pieces seen" in sentence
            # top-k 40 cuts inside the 1,000: exact; the step's unsureness needs the unseen ones: an estimate
            assert head["exact"]["top_k"] == "exact" and "Exact: the listed chances before the samplers, Top-k" \
                in sentence
            assert "Estimates: how sure the model was (at most this unsure)" in sentence
            assert "the&nbsp;server&nbsp;listed&nbsp;1,000&nbsp;of&nbsp;49,152" in win.parts.distribution.legend.text()
            boxes = win.parts.pipeline.boxes  # the boxes say which stage is an estimate, here none of them
            assert not any("estimate" in box.title.text() for box in boxes.values())
        # Temperature 1.5 with every word piece in play: top-p 0.999's cut needs the unlisted ones
        generate_with(qtbot, win, STORY, SamplerSettings(temperature=1.5, top_k=0, top_p=0.999, min_p=0.0), 2)
        win.steps.select_step(1)
        head = win.doc.mirror.steps[1].head
        assert head["exact"]["top_p"] == "approximate"
        assert win.parts.pipeline.boxes["top_p"].title.text().endswith("≈ an estimate")
        assert "Top-p" in win.parts.inspector.header.served.text().split("Estimates:")[1]
    finally:
        win.close()


def test_many_futures_through_the_server_are_the_in_process_futures(
        qtbot, qapp, server: ServerClient, smollm_path: Path, engine_config: EngineConfig) -> None:
    win = connected_window(qtbot, qapp, ServerChoice(server.url))
    try:
        settings = SamplerSettings(temperature=1.1, top_k=40)
        generate_with(qtbot, win, STORY, settings, 6)
        win.steps.select_step(3)
        assert win.commands.futures.isEnabled()
        win.commands.futures.trigger()
        window = win.futures.futures_window
        assert window is not None and "one at a time" in window.note.text()  # how they were computed
        window.n.setValue(12)
        window.depth.setValue(3)
        window.seed.setValue(41)
        window.write_button.click()
        qtbot.waitUntil(lambda: window.futures is not None, timeout=WAIT_MS)
        served = [f.token_ids for f in window.futures.continuations]
        context = [*worker_generator(win).record.prompt_tokens, *[s.token_id for s in win.doc.mirror.steps[:3]]]
        with Engine.load(smollm_path, engine_config, n_ctx=N_CTX) as engine:
            engine.decode(context)
            local = write_futures(engine, context, win.doc.mirror.steps[3].settings, 12, 3, 41,
                                  len(worker_generator(win).record.prompt_tokens))
        assert served == [f.token_ids for f in local.continuations]
        window.close()
    finally:
        win.close()


def test_a_session_through_the_server_is_saved_and_opened_again_on_the_same_server(
        qtbot, qapp, server: ServerClient, tmp_path: Path) -> None:
    win = connected_window(qtbot, qapp, ServerChoice(server.url, head=1000))
    try:
        generate_with(qtbot, win, STORY, SamplerSettings(temperature=0.8), 5)
        written = [step.token_id for step in win.doc.mirror.steps]
        path = tmp_path / "served.json"
        win.handle.save(str(path), win.sessions.snapshot())
        qtbot.waitUntil(path.is_file, timeout=WAIT_MS)
        text = path.read_text(encoding="utf-8")
        assert server.url in text and '"head": 1000' in text  # the record names the server and N
        win.run.clear()
        idle(qtbot, win)
        assert win.sessions.open_session(str(path))
        qtbot.waitUntil(lambda: win.doc.state == "idle" and len(win.doc.mirror) == 5, timeout=WAIT_MS)
        assert [step.token_id for step in win.doc.mirror.steps] == written
        win.steps.select_step(2)  # what the server listed at each step is in the file too
        assert "1,000 of 49,152 word pieces seen" in win.parts.inspector.header.served.text()
        win.commands.step.trigger()  # and it goes on through the server
        qtbot.waitUntil(lambda: win.doc.state == "idle" and len(win.doc.mirror) == 6, timeout=WAIT_MS)
    finally:
        win.close()
    # Autosaved, then the next start opens the default model: the server's session is kept, not replaced.
    autosave = autosave_path()
    autosave.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, autosave)
    local = MainWindow(None)
    qtbot.addWidget(local)
    local.sessions.restore_on_load = True
    local.models.load_model(default_model_path(), probe=False)
    kept: list[Path] = []
    try:
        qtbot.waitUntil(lambda: local.doc.state == "idle", timeout=WAIT_MS)
        kept = list(autosave.parent.glob("server-session-*.json"))
        assert not autosave.exists() and len(kept) == 1 and kept[0].read_text(encoding="utf-8") == text
        assert str(kept[0]) in local.statusBar().currentMessage() and len(local.doc.mirror) == 0
    finally:
        local.close()
        for leftover in kept:
            leftover.unlink()


def test_a_session_opened_with_fewer_word_pieces_listed_says_so(qtbot, qapp, server: ServerClient,
                                                                   tmp_path: Path) -> None:
    win = connected_window(qtbot, qapp, ServerChoice(server.url, head=1000), seed=11)
    try:
        generate_with(qtbot, win, STORY, SamplerSettings(temperature=1.2), 8, True)
        assert any(step.trace.chosen_rank > 1 for step in win.doc.mirror.steps)  # not the favourite somewhere
        path = tmp_path / "wide.json"
        win.handle.save(str(path), win.sessions.snapshot())
        qtbot.waitUntil(path.is_file, timeout=WAIT_MS)
    finally:
        win.close()
    narrow = connected_window(qtbot, qapp, ServerChoice(server.url, head=1))
    try:
        narrow.sessions.open_session(str(path))
        qtbot.waitUntil(lambda: narrow.doc.state == "idle" and narrow.parts.banner.isVisible(), timeout=WAIT_MS)
        assert "not among those the model server lists there now" in narrow.parts.banner.text.text()
    finally:
        narrow.close()


def test_nothing_answering_is_one_plain_line_and_the_window_stays_usable(qtbot, qapp) -> None:
    address = f"http://127.0.0.1:{free_port()}"
    win = connected_window(qtbot, qapp, ServerChoice(address))
    try:
        qtbot.waitUntil(lambda: win.doc.state == "no-model", timeout=WAIT_MS)
        message = win.parts.banner.text.text()
        assert f"Nothing is answering at {address}" in message and "Connect to a model server" in message
        assert win.commands.connect_server.isEnabled() and win.commands.open_model.isEnabled()
    finally:
        win.close()


def test_a_server_that_dies_mid_run_stops_the_run_cleanly_and_keeps_what_was_written(
        qtbot, qapp, smollm_path: Path, engine_config: EngineConfig, tmp_path: Path) -> None:
    port = free_port()
    command = llama_server_command(llama_server(), smollm_path, engine_config, port)
    with running(command, port, tmp_path / "server.log") as client:
        win = connected_window(qtbot, qapp, ServerChoice(client.url, head=100))
        try:
            start_long_run(qtbot, win, 400, 3)
            pids = _children_listening(port)
            assert pids, "the server's process was not found"
            for pid in pids:
                os.kill(pid, 9)
            idle(qtbot, win)
            kept = len(win.doc.mirror)
            assert 3 <= kept < 400
            message = win.parts.banner.text.text()
            assert client.url in message and ("closed the connection" in message or "Nothing is answering" in message)
            assert len(win.parts.editor.generated_text()) > 0  # what was written stays on screen
            win.commands.step.trigger()  # the window goes on answering: a step now says the server is gone
            qtbot.waitUntil(lambda: win.doc.state == "idle", timeout=WAIT_MS)
            assert len(win.doc.mirror) == kept and "Nothing is answering" in win.parts.banner.text.text()
        finally:
            win.close()


def _children_listening(port: int) -> list[int]:
    """The pids of this process's children whose command line names `port` (the server just started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                line = (entry / "cmdline").read_bytes().split(b"\0")
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == os.getpid() and str(port).encode() in line:
                pids.append(int(entry.name))
    return pids


class HangingProxy:
    """Passes requests on to a real server until `hang` is set; then each step's request waits for ever."""

    def __init__(self, target: str) -> None:
        self.hang, self.hanging, self.release = threading.Event(), threading.Event(), threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _pass(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/completion" and proxy.hang.is_set():
                    proxy.hanging.set()
                    proxy.release.wait(60)
                    return
                request = urllib.request.Request(target + self.path, data=body or None, method=self.command,
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(request, timeout=60) as answer:
                    payload = answer.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _pass

            def log_message(self, *_args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_stop_and_close_break_off_a_request_the_server_never_answers(qtbot, qapp, server: ServerClient) -> None:
    """The window never waits on the network: Stop ends a run whose step the server holds (the client
    would wait 60 s), without holding up what is asked next; Stop in the futures window ends theirs; and
    closing the window ends one too."""
    proxy = HangingProxy(server.url)
    try:
        win = connected_window(qtbot, qapp, ServerChoice(proxy.url, head=100))
        try:
            win.parts.controls.max_tokens.setValue(400)
            win.run.use_prompt(STORY)
            win.commands.generate.trigger()
            qtbot.waitUntil(lambda: len(win.doc.mirror) >= 2, timeout=WAIT_MS)
            proxy.hang.set()
            assert proxy.hanging.wait(WAIT_MS / 1000)
            win.commands.stop.trigger()
            qtbot.waitUntil(lambda: win.doc.state == "idle", timeout=5000)
            assert not win.parts.banner.isVisible()  # stopping is not a problem
            kept = len(win.doc.mirror)
            assert kept >= 2
            proxy.hang.clear()  # what is asked after a Stop goes ahead
            win.commands.step.trigger()
            qtbot.waitUntil(lambda: win.doc.state == "idle" and len(win.doc.mirror) == kept + 1, timeout=WAIT_MS)
            win.commands.futures.trigger()  # and Stop in the futures window breaks off its request too
            futures = win.futures.futures_window
            proxy.hanging.clear()
            proxy.hang.set()
            futures.write_button.click()
            assert proxy.hanging.wait(WAIT_MS / 1000)
            futures.stop_button.click()
            qtbot.waitUntil(futures.write_button.isEnabled, timeout=5000)
            assert "stopped" in futures.message.text()
            futures.close()
            proxy.hanging.clear()
            win.commands.generate.trigger()
            assert proxy.hanging.wait(WAIT_MS / 1000)
            started = time.perf_counter()
        finally:
            win.close()
        assert time.perf_counter() - started < 5
    finally:
        proxy.close()


def test_the_window_through_llama_cpp_pythons_server_learns_word_pieces_as_they_come(
        qtbot, qapp, smollm_path: Path, engine_config: EngineConfig, tmp_path: Path) -> None:
    with running_server(smollm_path, engine_config, tmp_path) as client:
        win = connected_window(qtbot, qapp, ServerChoice(client.url, head=100))
        try:
            model = win.doc.model
            assert model is not None and model.server is not None and model.server.kind == "openai-compatible"
            generate_with(qtbot, win, STORY, SamplerSettings(temperature=0.8, top_k=10), 3)
            assert len(win.doc.mirror) == 3
            for step in win.doc.mirror.steps:  # the text of every word piece shown is known by now
                assert model.vocab[step.token_id] == step.text
            assert "100 of 49,152 word pieces seen" in win.parts.inspector.header.served.text()
            win.commands.futures.trigger()  # and of every word piece the futures wrote
            futures = win.futures.futures_window
            futures.n.setValue(6)
            futures.depth.setValue(2)
            futures.write_button.click()
            qtbot.waitUntil(lambda: futures.futures is not None, timeout=WAIT_MS)
            written = {t for future in futures.futures.continuations for t in future.token_ids}
            assert written and not any(model.vocab[t].startswith("#") for t in written)
            futures.close()
        finally:
            win.close()


def test_a_request_blocked_on_the_network_is_broken_off_by_interrupt() -> None:
    """A server that accepts and never answers: interrupt() from another thread ends the wait at once."""
    import socket
    from synthscope.engine.server_http import ServerCancelled

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = ServerClient(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=30, retries=3)
        threading.Timer(0.3, client.interrupt).start()
        started = time.perf_counter()
        with pytest.raises(ServerCancelled):
            client.models()
        assert time.perf_counter() - started < 2


def test_closing_the_futures_window_leaves_the_run_going(qtbot, qapp, server: ServerClient) -> None:
    """Stop in the futures window, which closing it presses, breaks off the futures' request only: a run
    streaming meanwhile goes on to its end."""
    win = connected_window(qtbot, qapp, ServerChoice(server.url, head=100))
    try:
        generate_with(qtbot, win, STORY, SamplerSettings(), 2, True)
        win.commands.futures.trigger()
        futures = win.futures.futures_window
        win.parts.controls.max_tokens.setValue(30)
        win.commands.generate.trigger()
        qtbot.waitUntil(lambda: len(win.doc.mirror) >= 4, timeout=WAIT_MS)
        futures.close()
        idle(qtbot, win)
        assert len(win.doc.mirror) == 32 and "Stopped" not in win.statusBar().currentMessage()
    finally:
        win.close()


def test_dry_turned_on_during_a_run_through_a_server_is_one_plain_sentence(qtbot, qapp,
                                                                           server: ServerClient) -> None:
    win = connected_window(qtbot, qapp, ServerChoice(server.url, head=100))
    try:
        start_long_run(qtbot, win, 300, 2)
        win.handle.set_live_settings(SamplerSettings(dry_multiplier=0.8))
        idle(qtbot, win)
        assert "DRY works only with a model opened in Synthscope" in win.parts.banner.text.text()
        assert len(win.doc.mirror) == worker_generator(win).n_steps < 300
    finally:
        win.close()


def test_stop_through_llama_cpp_pythons_server_keeps_the_window_and_the_worker_in_step(
        qtbot, qapp, smollm_path: Path, engine_config: EngineConfig, tmp_path: Path) -> None:
    """Its word pieces' texts are asked as steps name them: a Stop in the middle of that still leaves the
    window, the run and the server's context holding the same steps, and the next Step goes on."""
    with running_server(smollm_path, engine_config, tmp_path) as client:
        win = connected_window(qtbot, qapp, ServerChoice(client.url, head=20))
        try:
            start_long_run(qtbot, win, 200, 2)
            win.commands.stop.trigger()
            idle(qtbot, win)
            generator = worker_generator(win)
            assert len(win.doc.mirror) == generator.n_steps
            assert list(generator.engine.tokens) == [*generator.record.prompt_tokens, *generator.record.token_ids]
            win.commands.step.trigger()
            qtbot.waitUntil(lambda: win.doc.state == "idle" and len(win.doc.mirror) == generator.n_steps
                            and not win.steps.pending, timeout=WAIT_MS)
            assert not win.parts.banner.isVisible()
        finally:
            win.close()


def test_the_step_sentence_says_every_number_is_exact_only_when_the_verdicts_do() -> None:
    from synthscope.ui.steps.served_words import served_sentence

    exact = {"seen": 10, "vocab": 10, "exact": {"raw_chances": "exact", "top_k": "exact", "final": "exact"}}
    assert served_sentence(exact).endswith("every number here is exact.")
    after = {"seen": 10, "vocab": 10, "exact": {"raw_chances": "approximate", "top_k": "exact", "final": "approximate"}}
    sentence = served_sentence(after)  # a server that sent its chances after its own samplers
    assert "every number here is exact" not in sentence
    assert "Estimates: the listed chances before the samplers and the chances after the samplers." in sentence
    assert "not kept" in served_sentence({"seen": 0, "vocab": 10})
