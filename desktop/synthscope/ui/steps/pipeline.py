"""The sampler pipeline strip: one box per stage, in order, saying what it did in words and numbers."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from synthscope.sampling import STAGE_NAMES
from synthscope.sampling.settings import SPEC_BY_KEY
from synthscope.ui import theme
from synthscope.ui.steps.foldable import FoldButton
from synthscope.session.mirror import StepView
from synthscope.ui.wording import STAGE_LABELS, StageWords, describe_stage

_HELP = {
    "penalties": SPEC_BY_KEY["repeat_penalty"].help,
    "temperature": SPEC_BY_KEY["temperature"].help,
}
STRIP_HELP = ("The samplers run one after another, left to right. Each one may cross words out or change "
              "their chances; then the dice pick from what is left.")


def _box_style(idle: bool, off: bool = False) -> str:
    if off:  # switched off: greyed and dashed
        return (f"QFrame#stage {{ background: {theme.BACKGROUND}; border: 1px dashed {theme.BORDER};"
                f" border-radius: 8px; }} QLabel {{ color: {theme.FAINT}; }}")
    if idle:  # it ran but removed nothing: a thin solid frame, readable text
        return (f"QFrame#stage {{ background: {theme.PANEL}; border: 1px solid {theme.BORDER};"
                f" border-radius: 8px; }} QLabel {{ color: {theme.INK}; }}"
                f" QLabel#detail {{ color: {theme.MUTED}; }}")
    return (f"QFrame#stage {{ background: {theme.PANEL}; border: 2px solid {theme.ACCENT};"
            f" border-radius: 8px; }} QLabel {{ color: {theme.INK}; }}"
            f" QLabel#detail {{ color: {theme.MUTED}; }}")


class StageBox(QFrame):
    """One stage: its setting, a headline with numbers and a line of detail; dashed when idle."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.help = _HELP.get(name) or SPEC_BY_KEY[name].help
        self.idle: bool | None = None
        self.off: bool | None = None
        self.setObjectName("stage")
        self.title = QLabel()
        self.title.setFont(theme.font(theme.BASE_POINT_SIZE - 1, bold=True))
        self.title.setWordWrap(True)
        self.headline = QLabel()
        self.headline.setFont(theme.font(theme.BASE_POINT_SIZE + 1, bold=True))
        self.headline.setWordWrap(True)
        self.detail = QLabel()
        self.detail.setObjectName("detail")
        self.detail.setFont(theme.font(theme.BASE_POINT_SIZE - 1))
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 6, 8)
        layout.setSpacing(2)
        for label in (self.title, self.headline, self.detail):
            layout.addWidget(label)
        layout.addStretch(1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(90)
        # Room for a title, a two-line headline and a three-line detail even when the window is short.
        line = self.detail.fontMetrics().lineSpacing()
        self.setMinimumHeight(self.title.fontMetrics().lineSpacing() + 2 * self.headline.fontMetrics()
                              .lineSpacing() + 3 * line + 22)
        self.set_words(StageWords(name, "—", "", True))

    def set_words(self, words: StageWords, was: str | None = None) -> None:
        self.title.setText(words.title)
        self.headline.setText(words.headline)
        self.detail.setText(words.detail if was is None else f"{words.detail} · before your change: {was}")
        self.setToolTip(f"<b>{words.sentence}</b><br>{self.help}")
        if (words.idle, words.off) != (self.idle, self.off):
            self.idle, self.off = words.idle, words.off
            self.setStyleSheet(_box_style(words.idle, words.off))


def _short(was: str, now: str) -> str:
    """'kept 40 of 49,152' against 'kept 2 of 49,152' is just 'kept 40': the rest did not change."""
    tail = now[now.rfind(" of "):] if " of " in now else None
    return was[: -len(tail)] if tail and was.endswith(tail) else was


def strip_summary(stages: list[StageWords]) -> str:
    """The folded strip's one line: what each working stage did, in order."""
    busy = [f"{words.title}: {words.headline}" for words in stages if not words.idle]
    return "  →  ".join(busy) if busy else "no sampler changed anything: the dice used the model's chances"


class PipelineStrip(QFrame):
    """The six stages of llama.cpp's chain, left to right, in the order they run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("waiting for a word piece")
        strip = QWidget()
        self.fold = FoldButton([strip], self.summary)
        layout, self.title = theme.panel(self, "What the samplers did", self.fold)
        self.title.setToolTip(STRIP_HELP)
        self.boxes = {name: StageBox(name) for name in STAGE_NAMES}
        row = QHBoxLayout(strip)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        for i, name in enumerate(STAGE_NAMES):
            if i:
                arrow = QLabel("→")
                arrow.setObjectName("hint")
                arrow.setFont(theme.font(theme.BASE_POINT_SIZE))
                arrow.setAlignment(Qt.AlignmentFlag.AlignCenter)
                row.addWidget(arrow)
            row.addWidget(self.boxes[name], 1)
        layout.addWidget(strip)
        layout.addWidget(self.summary)

    def clear(self) -> None:
        for box in self.boxes.values():
            box.set_words(StageWords(STAGE_LABELS[box.name], "—", "waiting for a word piece", True))
        self.summary.setText("waiting for a word piece")

    def show_step(self, view: StepView, recorded: StepView | None = None) -> None:
        described = []
        for stage in view.trace.stages:
            words = describe_stage(stage, view.settings)
            described.append(words)
            was = None
            if recorded is not None:
                before = describe_stage(recorded.trace.stage(stage.name), recorded.settings)
                if before.headline != words.headline:
                    was = _short(before.headline, words.headline)
            self.boxes[stage.name].set_words(words, was)
        self.summary.setText(strip_summary(described))

    def sentences(self) -> dict[str, str]:
        """What each box says, as one sentence (for tests and the accessible description)."""
        return {name: f"{box.title.text()}: {box.headline.text()} — {box.detail.text()}"
                for name, box in self.boxes.items()}
