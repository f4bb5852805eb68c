"""The sampler settings that are not one number: the chain's order, DRY's breakers, banned and boosted
word pieces, and a grammar; shown under "Show all settings"."""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (QComboBox, QFileDialog, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from synthscope.sampling import SamplerSettings, SettingsError
from synthscope.sampling.order import DEFAULT_ORDER
from synthscope.sampling.settings import LIST_SPEC_BY_KEY
from synthscope.sampling.specs import BOOST, DEFAULT_BREAKERS, MAX_GRAMMAR_CHARS
from synthscope.session.stopping import unescape
from synthscope.ui import theme
from synthscope.ui.wording import STAGE_LABELS, elide, visible

LIST_KEYS = ("samplers", "dry_sequence_breakers", "logit_bias", "grammar")
ORDER_HELP = ("The samplers run in this order, each on what the one before it left. Drag the boxes under "
              "“What the samplers did” to change it.")
GRAMMAR_EXAMPLES = {
    "Only digits": 'root ::= [0-9]+',
    "Yes or no": 'root ::= ("yes" | "no")',
    "A JSON object with an answer": ('root ::= "{" ws "\\"answer\\":" ws string ws "}"\n'
                                     'string ::= "\\"" [a-zA-Z0-9 ,.!?]* "\\""\n'
                                     'ws ::= [ ]?'),
}


def breakers_text(breakers: tuple[str, ...]) -> str:
    """DRY's breakers as typed in the box: separated by spaces, \\n for a new line, \\s for a space."""
    return " ".join(b.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace(" ", "\\s")
                    for b in breakers)


def parse_breakers(text: str) -> tuple[str, ...]:
    return tuple(unescape(part).replace("\\s", " ") for part in text.split())


class MoreSamplers(QWidget):
    """Order, breakers, bans and boosts, grammar; `changed` fires when one of them changes."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: dict[str, Any] = {key: SamplerSettings().to_dict()[key] for key in LIST_KEYS}
        self.token_text: Callable[[int], str] = lambda token: f"#{token}"
        self.find_token: Callable[[str], int | None] = lambda _text: None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.order_label = self._hint(ORDER_HELP)
        self.order_label.setMinimumWidth(60)
        self.default_chain = QPushButton("llama.cpp's default chain")
        self.default_chain.setToolTip("Every sampler setting and the order as llama.cpp has them by default "
                                      "(the same as the Balanced preset).")
        layout.addWidget(self._bold("Order"))
        layout.addWidget(self.order_label)
        layout.addWidget(self.default_chain)
        self.breakers = QLineEdit()
        self.breakers.setToolTip(LIST_SPEC_BY_KEY["dry_sequence_breakers"].help + " Separate them with "
                                 "spaces; \\n is a new line, \\s a space.")
        self.breakers.editingFinished.connect(self._breakers_edited)
        layout.addWidget(self._bold("DRY breakers"))
        layout.addWidget(self.breakers)
        self.bias_list = self._hint("")
        self.bias_word = QLineEdit()
        self.bias_word.setPlaceholderText("a word piece, e.g. ␣the")
        for edit in (self.bias_word, self.breakers):
            edit.setMinimumWidth(60)  # the column's width decides, not the text in the box
        self.bias_word.setToolTip("Type a word piece exactly as the model has it (␣ or a space in front for "
                                  "a word after a space); or right-click a word in the chances list.")
        self.ban_button, self.boost_button = QPushButton("Ban"), QPushButton("Boost")
        self.clear_bias = QPushButton("Clear")
        self.ban_button.clicked.connect(lambda: self._add_typed(-math.inf))
        self.boost_button.clicked.connect(lambda: self._add_typed(BOOST))
        self.clear_bias.clicked.connect(lambda: self._set("logit_bias", []))
        layout.addWidget(self._bold("Ban or boost a word"))
        layout.addWidget(self.bias_list)
        layout.addWidget(self.bias_word)
        layout.addLayout(theme.row(self.ban_button, self.boost_button, self.clear_bias, (QWidget(), 1)))
        self.grammar = QPlainTextEdit()
        self.grammar.setPlaceholderText("e.g. root ::= [0-9]+   (only digits)")
        self.grammar.setToolTip(LIST_SPEC_BY_KEY["grammar"].help)
        self.grammar.setFixedHeight(theme.font().pointSize() * 5)
        self.grammar.textChanged.connect(self._grammar_edited)
        self.grammar.setMinimumWidth(60)
        self.grammar_file = QPushButton("Open a file…")
        self.grammar_file.clicked.connect(self._open_grammar)
        self.examples = QComboBox()
        self.examples.addItem("Examples…")
        self.examples.addItems(list(GRAMMAR_EXAMPLES))
        self.examples.setToolTip("Put an example grammar in the box (it replaces what is there).")
        # The column's width decides: a long example's name must not widen it.
        self.examples.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.examples.setMinimumContentsLength(8)
        self.examples.activated.connect(self._example_chosen)
        self.no_grammar = QPushButton("None")
        self.no_grammar.setToolTip("No grammar: every word piece may follow.")
        self.no_grammar.clicked.connect(lambda: self._set("grammar", ""))
        layout.addWidget(self._bold("Grammar"))
        layout.addWidget(self.grammar)
        layout.addWidget(self.examples)
        layout.addLayout(theme.row(self.grammar_file, self.no_grammar, (QWidget(), 1)))
        self.message = self._hint("")
        self.message.hide()
        layout.addWidget(self.message)
        self._show_values()

    def _bold(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setFont(theme.font(theme.BASE_POINT_SIZE, bold=True))
        return label

    def _hint(self, text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("hint")
        label.setWordWrap(True)
        return label

    # -- values ------------------------------------------------------------------------------
    def set_values(self, settings: SamplerSettings) -> None:
        """Show `settings`' list settings (no `changed`)."""
        values = settings.to_dict()
        self.values = {key: values[key] for key in LIST_KEYS}
        self._show_values()

    def _set(self, key: str, value: Any) -> None:
        try:
            checked = SamplerSettings.from_dict({key: value}).to_dict()[key]
        except SettingsError as exc:
            self._say(str(exc))
            return
        self._say("")
        if checked != self.values[key]:
            self.values[key] = checked
            self._show_values()
            self.changed.emit()

    def set_order(self, order: tuple[str, ...]) -> None:
        self._set("samplers", list(order))

    def add_bias(self, token: int, bias: float) -> None:
        """Ban (bias −inf) or boost a word piece; a word piece already listed gets the new bias."""
        pairs = [[t, b] for t, b in self.values["logit_bias"] if t != token]
        self._set("logit_bias", pairs + [[token, False if bias == -math.inf else bias]])

    def _say(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _show_values(self) -> None:
        order = self.values["samplers"]
        self.order_label.setText(" → ".join(STAGE_LABELS[name] for name in order)
                                 + (". " if tuple(order) == DEFAULT_ORDER else " (your own order). ")
                                 + "Drag the boxes under “What the samplers did” to change it.")
        self.order_label.setToolTip(ORDER_HELP)
        text = breakers_text(tuple(self.values["dry_sequence_breakers"]))
        if self.breakers.text() != text:
            self.breakers.setText(text)
        pairs = self.values["logit_bias"]
        self.bias_list.setText("; ".join(
            f"‘{elide(visible(self.token_text(t)), 14)}’ " + ("banned" if b is False else f"{b:+g}")
            for t, b in pairs) if pairs else "none: every word piece keeps the model's own score")
        if self.grammar.toPlainText() != self.values["grammar"]:
            self.grammar.blockSignals(True)
            self.grammar.setPlainText(self.values["grammar"])
            self.grammar.blockSignals(False)

    # -- edits ---------------------------------------------------------------------------------
    def _breakers_edited(self) -> None:
        self._set("dry_sequence_breakers", list(parse_breakers(self.breakers.text())))

    def _add_typed(self, bias: float) -> None:
        typed = self.bias_word.text().replace("␣", " ")
        if not typed:
            return
        token = self.find_token(typed)
        if token is None:
            self._say(f"‘{visible(typed)}’ is not one word piece of this model; try it with or without a "
                      "space in front, or right-click it in the chances list.")
            return
        self.bias_word.clear()
        self.add_bias(token, bias)

    def _grammar_edited(self) -> None:
        text = self.grammar.toPlainText()
        if len(text) <= MAX_GRAMMAR_CHARS and text != self.values["grammar"]:
            self.values["grammar"] = text
            self.changed.emit()

    def _example_chosen(self, index: int) -> None:
        if index > 0:
            self._set("grammar", GRAMMAR_EXAMPLES[self.examples.itemText(index)])
        self.examples.setCurrentIndex(0)

    def _open_grammar(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a grammar", "", "Grammars (*.gbnf);;All files (*)")
        if path:
            self.load_grammar(Path(path))

    def load_grammar(self, path: Path) -> None:
        try:
            if path.stat().st_size > MAX_GRAMMAR_CHARS * 4:
                raise SettingsError(f"{path.name} is too large to be a grammar.")
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            self._say(f"{path.name} is not a text file, so it cannot be a grammar.")
            return
        except (OSError, SettingsError) as exc:
            self._say(str(exc) if isinstance(exc, SettingsError) else
                      f"{path.name} could not be read ({exc.strerror or exc}).")
            return
        self._set("grammar", text)

    # -- persistence -----------------------------------------------------------------------------
    def save(self, store: QSettings) -> None:
        for key in LIST_KEYS:
            store.setValue(f"sampler/{key}", json.dumps(self.values[key]))

    def restore(self, store: QSettings) -> dict[str, Any]:
        """The saved list settings that are still valid (the rest keep their defaults)."""
        restored = {}
        for key in LIST_KEYS:
            saved = store.value(f"sampler/{key}")
            if not isinstance(saved, str):
                continue
            try:
                value = json.loads(saved)
                restored[key] = SamplerSettings.from_dict({key: value}).to_dict()[key]
            except (ValueError, TypeError, SettingsError):
                continue
        return restored


DEFAULT_BREAKER_TEXT = breakers_text(DEFAULT_BREAKERS)
