"""File → Model information: what the loaded model is, in plain words, and its chat template."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from synthscope.ui import theme
from synthscope.session.requests import LoadedModel

NO_TEMPLATE = ("This model has no chat template: it is a base model, which continues whatever text "
               "it is given rather than answering as an assistant.")


def info_rows(model: LoadedModel) -> list[tuple[str, str, str]]:
    """(label, value, one-sentence help) for each fact."""
    facts, server = model.facts, model.server
    if server is not None:
        return [
            ("Model", server.model or "the server's only model", "The name the model server gives it."),
            ("Server", server.server, "The model server that works out each step's chances."),
            ("Vocabulary", f"{facts.vocab_size:,} word pieces",
             "How many different word pieces (tokens) it can choose from at every step."),
            ("Listed each step", "all of them" if server.head >= server.vocab else f"the top {server.head:,}",
             "How many word pieces' chances the server sends at each step; the rest are estimated."),
            ("Context length", f"{model.n_ctx:,} word pieces in use",
             "How much text it can keep in view at once (at most what the server allows)."),
        ]
    return [
        ("Name", facts.name, "The name stored in the model file."),
        ("File", f"{Path(model.location).name} ({facts.file_size / 1e6:,.0f} MB)", model.location),
        ("Architecture", facts.architecture, "The family of network design the model belongs to."),
        ("Parameters", f"{facts.parameters / 1e6:,.0f} million",
         "How many numbers the model learned; more usually means more knowledge and slower writing."),
        ("Quantisation", facts.quantisation,
         "How its numbers are stored: Q4 means about 4 bits each, small and fast, slightly less exact."),
        ("Vocabulary", f"{facts.vocab_size:,} word pieces",
         "How many different word pieces (tokens) it can choose from at every step."),
        ("Context length", f"{facts.context_length:,} word pieces trained, {model.n_ctx:,} in use",
         "How much text it can keep in view at once; the Performance section sets the part in use."),
        ("Licence", facts.license or "not stated in the file", "The terms the model is published under."),
    ]


class ModelInfoDialog(QDialog):
    def __init__(self, model: LoadedModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model information — {model.name}")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.values: dict[str, QLabel] = {}
        for label, value, help_text in info_rows(model):
            name, shown = QLabel(label), QLabel(value)
            shown.setWordWrap(True)
            for widget in (name, shown):
                widget.setToolTip(help_text)
            form.addRow(name, shown)
            self.values[label] = shown
        layout.addLayout(form)
        template = model.facts.chat_template
        title = QLabel("Chat template: how a conversation becomes the text the model continues"
                       if template else "Chat template: none")
        title.setObjectName("panelTitle")
        layout.addWidget(title)
        self.template = QPlainTextEdit(template or NO_TEMPLATE)
        self.template.setReadOnly(True)
        if template:
            self.template.setFont(theme.font(theme.BASE_POINT_SIZE - 1, mono=True))
            self.template.setToolTip("How a conversation is turned into the text the model continues "
                                     "(a Jinja template stored in the model file).")
        layout.addWidget(self.template, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(760, 620)
