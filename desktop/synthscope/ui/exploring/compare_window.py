"""Compare runs side by side: one prompt, two to four columns of settings, aligned token by token."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from synthscope.engine.discovery import FoundModel
from synthscope.sampling import SamplerSettings
from synthscope.session.compare import (MAX_COLUMNS, MIN_COLUMNS, CompareSpec, alignment_keys,
                                        differs_at, divergence_from_first, first_divergence, labelled,
                                        surprise_bits)
from synthscope.ui import theme
from synthscope.ui.settings.setting_words import LENGTH_LABEL
from synthscope.ui.exploring.compare_column import DIVERGE, CompareColumn, Model, quoted
from synthscope.ui.exploring.compare_worker import Batch, ColumnJob, CompareHandle, CompareRequest, trusted
from synthscope.ui.steps.text_legend import legend
from synthscope.ui.wording import html, listed

DEFAULT_TOKENS = 60
KEY = ("<span style='color:{diverge}; font-weight:bold'>▎</span> where the runs first part ways &nbsp; "
       "<span style='color:{diverge}; text-decoration:underline'>underlined</span>: this column differs from "
       "column 1 from there on &nbsp; <span style='color:{clicked}; font-weight:bold'>▢</span> framed: the "
       "word piece you clicked &nbsp; Surprise in bits: each extra bit means the model thought the word "
       "piece half as likely")


class CompareWindow(QWidget):
    """Its own window with its own worker thread and engines; closing it frees them."""

    runFinished = Signal(str)  # "done", "stopped" or "error", for the current run only
    positionSelected = Signal(int)  # token index (0 = the first one written)

    def __init__(self, prompt: str, base_settings: SamplerSettings, seed: int, model_path: Path,
                 parent: QWidget | None = None, messages: Sequence[dict[str, str]] | None = None,
                 probe: bool | None = None, engine: Mapping[str, object] | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.engine = dict(engine or {})  # preferred_config's preferences, as the main window has them
        self.setObjectName("central")
        self.setWindowTitle("Compare runs side by side")
        self.prompt = prompt
        self.messages = tuple(dict(m) for m in messages) if messages is not None else None
        self.generation = 0
        self.running = False
        self.selected: int | None = None
        self.columns: list[CompareColumn] = []
        self.models: list[Model] = [(Path(model_path).stem, Path(model_path),
                                     (not trusted(model_path)) if probe is None else probe)]
        self.handle = CompareHandle(self)
        worker = self.handle.worker
        worker.modelsFound.connect(self._models_found)
        worker.loading.connect(self._loading)
        worker.started.connect(self._started)
        worker.stepped.connect(self._stepped)
        worker.failed.connect(self._failed)
        worker.finished.connect(self._finished)

        self.summary = QLabel()
        self.summary.setFont(theme.font(theme.BASE_POINT_SIZE + 3))
        self.summary.setWordWrap(True)
        self.max_tokens = QSpinBox(minimum=1, maximum=500, value=DEFAULT_TOKENS)
        # The same words as the main window's controls: Length (word pieces) and Generate.
        self.max_tokens.setToolTip("How many word pieces each column writes before it stops by "
                                   "itself.")
        self.run_button = QPushButton("▶  Generate")
        self.run_button.setStyleSheet(f"background: {theme.ACCENT}; color: white; font-weight: bold;"
                                      f" border-color: {theme.ACCENT};")
        self.run_button.clicked.connect(self.run_all)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.add_button = QPushButton("Add column")
        self.add_button.clicked.connect(lambda: self.add_column())
        self.status = QLabel()
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel(LENGTH_LABEL))
        bar.addWidget(self.max_tokens)
        for button in (self.run_button, self.stop_button, self.add_button):
            bar.addWidget(button)
        bar.addWidget(self.status, 1)
        self.row = QHBoxLayout()
        self.row.setSpacing(10)
        # The frame is dark on the (always light) bands; in the key it stands on the window, so in ink.
        key = QLabel(KEY.format(diverge=DIVERGE, clicked=theme.INK))
        key.setObjectName("hint")
        key.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addWidget(self.summary)
        layout.addLayout(bar)
        layout.addLayout(self.row, 1)
        layout.addWidget(legend())
        layout.addWidget(key)

        base = CompareSpec(Path(model_path), seed, base_settings)
        self.add_column(base)
        self.add_column(CompareSpec(Path(model_path), seed + 1, base_settings))
        QShortcut(QKeySequence("Ctrl+Return"), self, self.run_all)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.stop)
        self.run_button.setToolTip("Write with every column at once, until the length is reached or the end "
                                   "of the text (Ctrl+Enter)")
        self.stop_button.setToolTip("Stop every column after its current word piece (Esc)")
        self.run_button.setFocus()
        self._refresh()
        self.handle.find_models()

    # -- columns --------------------------------------------------------------------------
    def add_column(self, spec: CompareSpec | None = None, probe: bool | None = None) -> CompareColumn | None:
        """A new column (default: column 1's settings with a seed of its own); None when there are
        already MAX_COLUMNS. Adding a column stops a run."""
        if len(self.columns) >= MAX_COLUMNS:
            return None
        self.stop()
        if spec is None:
            first = self.columns[0].spec()
            spec = CompareSpec(first.model_path, max(c.seed.value() for c in self.columns) + 1,
                               first.settings, model_name=first.model_name)
        if probe is not None and not any(Path(m[1]) == Path(spec.model_path) for m in self.models):
            self.models.append((spec.name, Path(spec.model_path), probe))
            for other in self.columns:
                other.set_models(self.models)
        column = CompareColumn(spec, self.models)
        column.start(self.prompt)
        column.changed.connect(self._settings_changed)
        column.removeRequested.connect(lambda: self.remove_column(self.columns.index(column)))
        column.positionClicked.connect(self.select)
        self.columns.append(column)
        self.row.addWidget(column, 1)
        self._refresh()
        return column

    def remove_column(self, index: int) -> None:
        """Remove column `index` (0-based) while more than MIN_COLUMNS remain; stops a run."""
        if len(self.columns) <= MIN_COLUMNS or not 0 <= index < len(self.columns):
            return
        self.stop()
        self._drop(self.columns.pop(index))
        self._refresh()

    def _drop(self, column: CompareColumn) -> None:
        self.row.removeWidget(column)
        column.hide()  # at once: deleteLater() waits for the event loop
        column.deleteLater()

    def set_columns(self, specs: Sequence[CompareSpec], probes: Sequence[bool | None] = ()) -> None:
        """Replace every column (MIN_COLUMNS to MAX_COLUMNS specs); stops a run."""
        if not MIN_COLUMNS <= len(specs) <= MAX_COLUMNS:
            raise ValueError(f"Compare {MIN_COLUMNS} to {MAX_COLUMNS} runs, not {len(specs)}.")
        self.stop()
        for column in self.columns:
            self._drop(column)
        self.columns = []
        for number, spec in enumerate(specs):
            self.add_column(spec, probes[number] if number < len(probes) else None)

    def specs(self) -> list[CompareSpec]:
        """Every column's settings, each labelled with what it changes against column 1."""
        return labelled([column.spec() for column in self.columns])

    # -- running --------------------------------------------------------------------------
    def run_all(self) -> None:
        """Start every column together; whatever an earlier run still sends is ignored."""
        self.generation += 1
        self.running = True
        self.selected = None
        jobs = []
        for number, column in enumerate(self.columns):
            spec = column.spec()
            jobs.append(ColumnJob(number, Path(spec.model_path), column.probe(), spec.seed, spec.settings))
            column.start(self.prompt)
        self.status.setText("Starting…")
        self.handle.run(CompareRequest(self.generation, self.prompt, self.max_tokens.value(), tuple(jobs),
                                       self.messages, self.engine))
        self._refresh()

    def stop(self) -> None:
        self.handle.stop()

    def select(self, index: int) -> None:
        """Select token `index` (0-based) in every column and scroll each to it."""
        self.selected = index
        for column in self.columns:
            column.select(index)
        self.positionSelected.emit(index)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.generation += 1  # whatever is still queued from the thread is ignored
        self.running = False
        self.handle.shutdown()  # stops after the current token and frees every engine
        super().closeEvent(event)

    # -- from the worker ------------------------------------------------------------------
    def _models_found(self, found: list[FoundModel]) -> None:
        known = {Path(m[1]).resolve() for m in self.models}
        for model in found:
            path = Path(model.path)
            if path.resolve() not in known:
                self.models.append((model.name, path, model.source != "package"))
                known.add(path.resolve())
        for column in self.columns:
            column.set_models(self.models)

    def _loading(self, generation: int, text: str) -> None:
        if generation == self.generation:
            self.status.setText(text)

    def _started(self, generation: int) -> None:
        if generation == self.generation:
            self.status.setText("Writing…")

    def _stepped(self, generation: int, batch: Batch) -> None:
        if generation != self.generation:
            return  # a run that was replaced or stopped
        by_column: dict[int, list] = {}
        for token in batch.tokens:
            by_column.setdefault(token.column, []).append(token)
        for number, tokens in by_column.items():
            if number < len(self.columns):
                self.columns[number].add(tokens)
        for number, reason in batch.ended:
            if number < len(self.columns):
                self.columns[number].end(reason)
        self._refresh()

    def _failed(self, generation: int, message: str) -> None:
        if generation == self.generation:
            self.status.setText(f"<span style='color:{theme.WARNING_INK}'>{html(message)}</span>")

    def _finished(self, generation: int, reason: str) -> None:
        if generation != self.generation:
            return
        self.running = False
        for column in self.columns:
            if column.ended is None and column.tokens:
                column.end("stopped")
        if reason != "error" and not any(column.ended == "error" for column in self.columns):
            self.status.setText("Stopped." if reason == "stopped" else "Done.")
        self._refresh()
        self.runFinished.emit(reason)

    # -- what the window says -------------------------------------------------------------
    def _settings_changed(self) -> None:
        self._refresh()
        if any(column.tokens for column in self.columns):
            self.status.setText("Settings changed: press Generate to write with them.")

    def _keys(self) -> list[list]:
        return alignment_keys([column.spec().model_path for column in self.columns],
                              [[t.token_id for t in column.tokens] for column in self.columns],
                              [[t.label for t in column.tokens] for column in self.columns])

    def divergence(self) -> int | None:
        """The first position where the runs part ways (0-based), None while they agree."""
        finished = [column.ended is not None or not self.running for column in self.columns]
        return first_divergence(self._keys(), finished)

    def _refresh(self) -> None:
        specs = self.specs()
        for number, (column, spec) in enumerate(zip(self.columns, specs), start=1):
            column.set_title(number, spec.label, len(self.columns) > MIN_COLUMNS)
        self.add_button.setEnabled(len(self.columns) < MAX_COLUMNS)
        self.stop_button.setEnabled(self.running)
        finished = [column.ended is not None or not self.running for column in self.columns]
        keys = self._keys()
        first = first_divergence(keys, finished)
        own = divergence_from_first(keys, finished)
        length = max(len(column.tokens) for column in self.columns)
        top = max((surprise_bits(t.p_raw) for column in self.columns for t in column.tokens), default=0.0)
        for column, mine in zip(self.columns, own):
            column.set_marks(first, mine)
            column.plot.set_scale(length, top)
        self.summary.setText(self._summary(keys, first, own))

    def _summary(self, keys: list[list], first: int | None, own: list[int | None]) -> str:
        """Where the runs part ways, naming every column: what each one writes there, or when it
        parts from column 1 later, or that it writes the same as column 1."""
        if not any(keys):
            return "Press <b>Generate</b> to write the same prompt with each column's settings, side by side."
        if first is None:
            longest = max(len(run) for run in keys)
            if self.running:
                return f"So far the runs agree on all {longest} word pieces."
            return f"All {len(keys)} runs wrote the same {longest} word pieces."
        agree = {0: "The runs differ from the very first word piece:",
                 1: "The runs agree on the first word piece, then"}.get(
                     first, f"The runs agree for the first {first} word pieces, then")
        there = [n for n in range(1, len(keys)) if own[n] == first] or [differs_at(keys, first) or 1]
        sentences = [f"{agree} {self._parting(there, first)}."]
        for n in range(1, len(keys)):
            mine = own[n]
            if n in there:
                continue
            if mine is None:
                same = "so far writes" if self.running else "writes"
                sentences.append(f"Column {n + 1} {same} the same as column 1.")
            else:
                sentences.append(f"Column {n + 1} follows column 1 up to word piece {mine}, then "
                                 f"{self._parting([n], mine, named=False)}.")
        return " ".join(sentences)

    def _parting(self, columns: list[int], index: int, named: bool = True) -> str:
        """"column 2 picks ‘␣wise’ and column 3 picks ‘␣king’ where column 1 picks ‘␣man’"."""
        picks = []
        for n in columns:
            word = self._token_words(n, index)
            picks.append((f"column {n + 1} " if named else "") + (f"picks {word}" if word else "stops"))
        theirs = self._token_words(0, index)
        return f"{listed(picks)} where column 1 " + (f"picks {theirs}" if theirs else "stops")

    def _token_words(self, column: int, index: int) -> str | None:
        tokens = self.columns[column].tokens
        if index >= len(tokens):
            return None
        token = tokens[index]
        return "its end-of-text word piece" if token.is_end else f"<b>{html(quoted(token.label))}</b>"


def demo_compare(prompt: str, settings: SamplerSettings, seed: int, model_path: Path,
                 variants: Sequence[dict[str, object]] = ({"seed": 1}, {"temperature": 0.0}),
                 max_tokens: int = 40, engine: Mapping[str, object] | None = None) -> CompareWindow:
    """A window with column 1 as given and one column per variant ({"seed": n} changes the seed,
    {"model_path": p} the model, anything else a sampler setting); the caller shows and runs it."""
    window = CompareWindow(prompt, settings, seed, model_path, engine=engine)
    window.max_tokens.setValue(max_tokens)
    specs, probes = [CompareSpec(Path(model_path), seed, settings)], [not trusted(model_path)]
    for variant in variants:
        changes = dict(variant)
        path = Path(changes.pop("model_path", model_path))  # type: ignore[arg-type]
        seed_here = int(changes.pop("seed", seed))  # type: ignore[call-overload]
        specs.append(CompareSpec(path, seed_here, settings.with_changes(**changes)))
        probes.append(not trusted(path))
    window.set_columns(specs, probes)
    return window
