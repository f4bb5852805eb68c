"""Run → Many futures from here: a window that writes N futures of M word pieces from the selected step
and shows them three ways — the tally, the tree and the list — and takes one into the text."""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox,
                               QSplitter, QVBoxLayout, QWidget)

from synthscope.engine.served_decoder import SERVED_NOTE
from synthscope.sampling import SamplerSettings, new_seed
from synthscope.sampling.dice import MAX_SEED
from synthscope.session.futures import BATCH_NOTE, MAX_DEPTH, MAX_FUTURES, Futures
from synthscope.session.requests import FuturesRequest
from synthscope.ui import theme
from synthscope.ui.exploring.futures_views import FutureList, TallyView, TreeView, extreme_paths
from synthscope.ui.wording import elide, readable

TREE_SENTENCE = ("Every path the futures took, left to right one word piece at a time; each box is as tall "
                 "as the share of the futures that took it (hover for its exact chance). Click a box to "
                 "find its text in the list.")
LIST_SENTENCE = "The futures' texts, the same ones grouped, the most written first."


class FuturesWindow(QWidget):
    """A window of its own over the main one; its work is done by the main window's engine worker."""

    writeRequested = Signal(object)  # FuturesRequest
    stopRequested = Signal()
    branchRequested = Signal(int, object)  # step index, tuple of token ids

    def __init__(self, index: int, start_words: str, settings: SamplerSettings, seed: int,
                 name: Callable[[int], str], text: Callable[[list[int]], str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("central")
        self.setWindowTitle("Many futures")
        self.index, self.settings, self.name, self.text = index, settings, name, text
        self.futures: Futures | None = None
        self.heading = QLabel(f"<b>Many futures from word piece {index + 1}</b> — {start_words}")
        self.heading.setWordWrap(True)
        self.n = QSpinBox()
        self.n.setRange(1, MAX_FUTURES)
        self.n.setValue(100)
        self.depth = QSpinBox()
        self.depth.setRange(1, MAX_DEPTH)
        self.depth.setValue(8)
        self.seed = QDoubleSpinBox()  # a double holds every 32-bit seed exactly
        self.seed.setDecimals(0)
        self.seed.setRange(0, MAX_SEED)
        self.seed.setValue(seed)
        roll = QPushButton("Roll")
        roll.setToolTip("New dice for the futures: another seed writes other futures.")
        roll.clicked.connect(lambda: self.seed.setValue(new_seed()))
        self.write_button = QPushButton("Write them")
        self.write_button.setObjectName("primary")
        self.write_button.clicked.connect(self.write)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stopRequested)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        controls = QHBoxLayout()
        for widget in (QLabel("Futures"), self.n, QLabel("word pieces each"), self.depth, QLabel("Seed"),
                       self.seed, roll, self.write_button, self.stop_button):
            controls.addWidget(widget)
        controls.addWidget(self.progress, 1)
        self.message = QLabel("Each future is written with its own fresh dice, under the sampler settings "
                              "of the main window. Press Write them.")
        self.message.setWordWrap(True)
        self.tally, self.tree, self.list = TallyView(), TreeView(), FutureList()
        self.tally_sentence, self.tree_sentence, self.list_sentence = (
            self._hint(""), self._hint(TREE_SENTENCE), self._hint(LIST_SENTENCE))
        split = QSplitter(Qt.Orientation.Horizontal)
        for title, sentence, view in (("The next word piece", self.tally_sentence, self.tally),
                                      ("Every path", self.tree_sentence, self.tree),
                                      ("Their texts", self.list_sentence, self.list)):
            split.addWidget(self._column(title, sentence, view))
        split.setSizes([380, 480, 380])
        self.likeliest = QPushButton("Most likely path")
        self.likeliest.setToolTip("Light up the path with the largest exact chance.")
        self.rarest = QPushButton("Rarest path")
        self.rarest.setToolTip("Light up the path with the smallest exact chance that any future took.")
        self.take = QPushButton("Make it a branch")
        self.take.setToolTip("Write the selected future into the text as a branch, one word piece at a "
                             "time as the run writes, so its numbers are the run's own.")
        self.likeliest.clicked.connect(lambda: self._light(0))
        self.rarest.clicked.connect(lambda: self._light(1))
        self.take.clicked.connect(self._take)
        self.list.itemDoubleClicked.connect(lambda _item: self._take())
        self.list.currentRowChanged.connect(lambda _row: self._list_chosen())
        self.tree.pathClicked.connect(self._tree_chosen)
        self.note = note = self._hint(BATCH_NOTE)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(controls)
        layout.addWidget(self.message)
        layout.addWidget(split, 1)
        layout.addLayout(theme.row(self.likeliest, self.rarest, (QWidget(), 1), self.take))
        layout.addWidget(note)  # set_served() changes it
        self._enable_results(False)
        self.resize(1200, 720)

    def set_served(self, served: bool) -> None:
        """Say how the futures' numbers were computed: by the model server, or in batches here."""
        self.note.setText(SERVED_NOTE if served else BATCH_NOTE)

    def _hint(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("hint")
        label.setWordWrap(True)
        return label

    def _column(self, title: str, sentence: QLabel, view: QWidget) -> QWidget:
        column = QWidget()
        layout = QVBoxLayout(column)
        layout.setContentsMargins(4, 4, 4, 4)
        heading = QLabel(title)
        heading.setObjectName("panelTitle")
        layout.addWidget(heading)
        layout.addWidget(sentence)
        layout.addWidget(view, 1)
        return column

    def _enable_results(self, on: bool) -> None:
        for button in (self.likeliest, self.rarest, self.take):
            button.setEnabled(on)

    # -- writing ----------------------------------------------------------------------------
    def write(self) -> None:
        self.write_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.progress.setRange(0, self.depth.value())
        self.progress.setValue(0)
        self.progress.setFormat("writing…")
        self.message.setText(f"Writing {self.n.value()} futures of {self.depth.value()} word pieces…")
        self.writeRequested.emit(FuturesRequest(self.index, self.n.value(), self.depth.value(),
                                                int(self.seed.value()), self.settings))

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} of {total} word pieces deep")

    def failed(self, message: str) -> None:
        self.write_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setFormat("")
        self.message.setText(message)

    def show_futures(self, futures: Futures) -> None:
        self.futures = futures
        self.write_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        self.progress.setFormat("done")
        distinct = len({tuple(f.token_ids) for f in futures.continuations})
        self.message.setText(f"{len(futures.continuations)} futures written, {distinct} of them different.")
        self.tally.show_futures(futures, self.name)
        self.tally_sentence.setText(self.tally.sentence())
        self.tree.show_tree(futures.tree, self.name)
        self.list.show_futures(futures, self.text)
        self._enable_results(True)

    # -- choosing ---------------------------------------------------------------------------
    def _light(self, which: int) -> None:
        if self.futures is not None:
            path = extreme_paths(self.futures.tree)[which]
            self.tree.set_highlight(path)
            self.list.select_path(path)

    def _tree_chosen(self, path: tuple[int, ...]) -> None:
        self.tree.set_highlight(path)
        self.list.select_path(path)

    def _list_chosen(self) -> None:
        path = self.list.selected_path()
        if path is not None:
            self.tree.set_highlight(path)

    def _take(self) -> None:
        path = self.list.selected_path()
        if path is not None:
            self.message.setText(f"‘{elide(readable(self.text(list(path))), 60)}’ goes into the text as a branch.")
            self.branchRequested.emit(self.index, path)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.stopRequested.emit()
        event.accept()
