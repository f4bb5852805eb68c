"""The Performance section: threads (applied at once), memory precision, attention path and GPU
layers (applied by reloading the model), and one sentence on how llama.cpp runs on this computer."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from synthscope.engine import EngineConfig
from synthscope.engine.choice import remembered_choice
from synthscope.engine.config import ALL_LAYERS, MAX_THREADS
from synthscope.engine.model import DEFAULT_CONTEXT
from synthscope.engine.remote import ServerConfig
from synthscope.ui import theme
from synthscope.ui.settings.controls import ControlsPanel

MIN_CONTEXT, MAX_CONTEXT = 256, 131072
AUTOMATIC = 0  # the threads box's special value: the count measured fastest on this computer
AUTO = "auto"  # memory and attention: what the check measured best on this computer
MEMORY_CHOICES = {AUTO: "Automatic", "f32": "Exact (32-bit)", "f16": "Compact (16-bit)"}
ATTENTION_CHOICES = {AUTO: "Automatic", "standard": "Standard", "flash": "Flash attention"}
THREADS_HELP = ("How many of the processor's threads (its cores, or halves of cores) work on each "
                "word piece. Automatic uses the count Synthscope measured to be fastest on this computer. "
                "Takes effect at once.")
MEMORY_HELP = ("How precisely the model keeps the text it has read so far (llama.cpp's KV cache). "
               "Exact gives llama.cpp's most precise chances; compact halves that memory and can be "
               "faster, but moves each chance by 3–4% of its value on average, and now and then "
               "changes which word is likeliest. Automatic uses exact unless it was measured more "
               "than 3% slower here. Changing it reloads the model.")
ATTENTION_HELP = ("How llama.cpp works out which earlier words matter. Flash attention is a faster "
                  "method on some computers and slower on others; on a processor it always computes "
                  "with compact (16-bit) precision, even with exact memory. Automatic uses what was "
                  "measured fastest here. Changing it reloads the model.")
CONTEXT_HELP = ("How many word pieces (prompt and generated text together) the model can keep in view. "
                "When the text reaches it, generation stops and says so; Undo or Clear to go on. "
                "Longer needs more memory. It cannot exceed what the model was trained for. Changing "
                "it reloads the model.")
GPU_HELP = ("How many of the model's layers run on the graphics card; All is fastest. Changing it "
            "reloads the model.")


@dataclass(frozen=True)
class EngineSettingSpec:
    """One engine preference: its QSettings key, type, default and range, declared once."""

    key: str
    kind: type
    default: Any
    minimum: int = 0
    maximum: int = 0


ENGINE_SPECS = {
    "threads": EngineSettingSpec("engine/threads", int, AUTOMATIC, AUTOMATIC, MAX_THREADS),
    "kv_cache": EngineSettingSpec("engine/kv_cache", str, AUTO),
    "attention": EngineSettingSpec("engine/attention", str, AUTO),
    "gpu_layers": EngineSettingSpec("engine/gpu_layers", int, ALL_LAYERS, ALL_LAYERS, 999),
    "context": EngineSettingSpec("engine/context", int, DEFAULT_CONTEXT, MIN_CONTEXT, MAX_CONTEXT),
}


class PerformancePanel(QFrame):
    """Emits `threadsChanged` (0: automatic) at once and `reloadRequested` when Apply is pressed."""

    threadsChanged = Signal(int)
    reloadRequested = Signal()

    def __init__(self, logical_cores: int, gpu_offload: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.measured_threads = 0
        self.served = False  # a model server computes: nothing here to apply
        layout, _ = theme.panel(self, "Performance")
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        self.threads = QSpinBox()
        self.threads.setRange(AUTOMATIC, max(logical_cores, 1))
        self.threads.setSpecialValueText("Automatic")
        self.threads.setKeyboardTracking(False)
        self.threads.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.memory = _combo(MEMORY_CHOICES)
        self.attention = _combo(ATTENTION_CHOICES)
        self.context = QSpinBox()
        self.context.setRange(MIN_CONTEXT, MAX_CONTEXT)
        self.context.setSingleStep(1024)
        self.context.setValue(DEFAULT_CONTEXT)
        self.context.setKeyboardTracking(False)
        self.context.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.gpu_layers = QSpinBox()
        self.gpu_layers.setRange(ALL_LAYERS, 999)
        self.gpu_layers.setSpecialValueText("All")
        self.gpu_layers.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.gpu_note = QLabel()
        self.gpu_note.setObjectName("hint")
        self.gpu_note.setWordWrap(True)
        self.apply_button = QPushButton("Apply (reloads the model)")
        self.apply_button.setEnabled(False)
        self.apply_button.setToolTip("Reload the model with the new settings; your text is kept.")
        # Number boxes sit beside their label; the menus, whose choices are words, get a row of
        # their own so nothing is cut off in the narrow column.
        rows = [("Threads", self.threads, THREADS_HELP, True),
                ("Memory of the text", self.memory, MEMORY_HELP, False),
                ("Attention", self.attention, ATTENTION_HELP, False),
                ("Context (word pieces)", self.context, CONTEXT_HELP, True)]
        if gpu_offload:
            rows.append(("GPU layers", self.gpu_layers, GPU_HELP, True))
        row = 0
        for text, widget, help_text, beside in rows:
            label = QLabel(text)
            for item in (label, widget):
                item.setToolTip(help_text)
            grid.addWidget(label, row, 0)
            if beside:
                grid.addWidget(widget, row, 1)
            else:
                row += 1
                grid.addWidget(widget, row, 0, 1, 2)
            row += 1
        grid.setColumnStretch(1, 1)
        layout.addLayout(grid)
        layout.addWidget(self.apply_button)
        self.gpu_layers.setVisible(gpu_offload)
        self.gpu_note.setText("" if gpu_offload else
                              "GPU: not used. This copy of llama.cpp was built for the processor "
                              "only (the README says how to build it for a graphics card).")
        self.gpu_note.setToolTip("llama_supports_gpu_offload() is false in this llama.cpp build.")
        layout.addWidget(self.gpu_note)
        self.engine_line = QLabel()
        self.engine_line.setObjectName("hint")
        self.engine_line.setWordWrap(True)
        self.engine_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.engine_line)
        self._loaded: dict[str, Any] = self.reload_preferences()
        self.threads.valueChanged.connect(self.threadsChanged)
        for changed in (self.memory.currentIndexChanged, self.attention.currentIndexChanged,
                        self.gpu_layers.valueChanged, self.context.valueChanged):
            changed.connect(self._mark_pending)
        self.apply_button.clicked.connect(self._apply)

    # -- values -------------------------------------------------------------------------------
    def threads_preference(self) -> int | None:
        value = self.threads.value()
        return None if value == AUTOMATIC else value

    def reload_preferences(self) -> dict[str, Any]:
        """The preferences that need a reload, as EngineConfig fields (None: automatic)."""
        kv, attention = self.memory.currentData(), self.attention.currentData()
        return {"kv_cache": None if kv == AUTO else kv,
                "flash_attention": None if attention == AUTO else attention == "flash",
                "gpu_layers": self.gpu_layers.value(), "context": self.context.value()}

    def preferences(self) -> dict[str, Any]:
        """Everything for choice.preferred_config (None keeps the machine's choice), and the
        context length."""
        return {"threads": self.threads_preference(), **self.reload_preferences()}

    def show_server(self, config: ServerConfig, n_ctx: int) -> None:
        """After connecting to a model server: it computes, so these settings change nothing until a
        model file is opened again."""
        self.served = True
        self._loaded = self.reload_preferences()
        self.engine_line.setText(f"Computed by {config.describe()}, context of {n_ctx:,} word pieces. The "
                                 "settings above are for model files opened in Synthscope (only the context "
                                 "length is asked of a server, when connecting).")
        self._mark_pending()

    def show_engine(self, config: EngineConfig, note: str, device: str, n_ctx: int) -> None:
        """After a load: what runs now and why, and which preferences it reflects (against what this
        machine's remembered check would choose)."""
        self.served = False
        known = remembered_choice()
        automatic = known.config if known is not None else None
        self._loaded = self.reload_preferences()
        if self.threads_preference() is None:
            self.measured_threads = config.threads or 0
        self.threads.setSpecialValueText(f"Automatic ({self.measured_threads})"
                                         if self.measured_threads else "Automatic")
        if self._loaded["kv_cache"] is None:
            self.memory.setItemText(0, f"Automatic ({MEMORY_CHOICES[config.kv_cache].split()[0].lower()})")
        if self._loaded["flash_attention"] is None:
            self.attention.setItemText(0, "Automatic (flash)" if config.flash_attention
                                       else "Automatic (standard)")
        chosen = by_hand_sentence(self.preferences(), automatic)
        capped = " (the most this model allows)" if n_ctx < self.context.value() else ""
        self.engine_line.setText(f"Running on {device}: {config.describe()}, context of {n_ctx:,} "
                                 f"word pieces{capped}.{chosen}\n\n{note}")
        self._mark_pending()

    def _mark_pending(self, *_: object) -> None:
        self.apply_button.setEnabled(not self.served and self.reload_preferences() != self._loaded)

    def refresh_apply(self) -> None:
        """Offer Apply again whenever the settings differ from what is loaded (after a failure)."""
        self._mark_pending()

    def _apply(self) -> None:
        self.apply_button.setEnabled(False)
        self.reloadRequested.emit()

    # -- persistence ----------------------------------------------------------------------------
    def save(self, store: QSettings) -> None:
        store.setValue(ENGINE_SPECS["threads"].key, self.threads.value())
        store.setValue(ENGINE_SPECS["gpu_layers"].key, self.gpu_layers.value())
        store.setValue(ENGINE_SPECS["context"].key, self.context.value())
        store.setValue(ENGINE_SPECS["kv_cache"].key, self.memory.currentData())
        store.setValue(ENGINE_SPECS["attention"].key, self.attention.currentData())

    def restore(self, store: QSettings) -> None:
        """Apply saved values; anything unreadable or out of range keeps its default."""
        self.threads.setValue(_read_int(store, ENGINE_SPECS["threads"], self.threads.maximum()))
        self.gpu_layers.setValue(_read_int(store, ENGINE_SPECS["gpu_layers"], 999))
        self.context.setValue(_read_int(store, ENGINE_SPECS["context"], MAX_CONTEXT))
        for name, combo in (("kv_cache", self.memory), ("attention", self.attention)):
            spec = ENGINE_SPECS[name]
            index = combo.findData(spec.kind(store.value(spec.key, spec.default)))
            combo.setCurrentIndex(index if index >= 0 else combo.findData(spec.default))


def _in_words(key: str, value: Any) -> str:
    if key == "threads":
        return f"{value} thread{'s' if value != 1 else ''}"
    if key == "kv_cache":
        return "exact memory" if value == "f32" else "compact memory"
    return "flash attention" if value else "standard attention"


def by_hand_sentence(preferences: dict[str, Any], automatic: EngineConfig | None) -> str:
    """The settings chosen by hand, and what Automatic would have used instead, in a sentence or two;
    '' when everything is automatic."""
    keys = {"threads": "threads", "kv_cache": "memory", "flash_attention": "attention"}
    by_hand = [key for key in keys if preferences[key] is not None]
    if not by_hand:
        return ""
    if automatic is None:  # this machine was not checked yet: nothing to compare with
        return f" Set by hand above: {', '.join(keys[k] for k in by_hand)} (instead of the automatic choice)."
    differ = [key for key in by_hand if getattr(automatic, key) != preferences[key]]
    same = [keys[key] for key in by_hand if key not in differ]
    sentence = ""
    if differ:
        would = " and ".join(_in_words(key, getattr(automatic, key)) for key in differ)
        chose = " and ".join(_in_words(key, preferences[key]) for key in differ)
        sentence += f" Automatic would use {would} here; you chose {chose}."
    if same:
        sentence += f" Set by hand above: {', '.join(same)}, the same as Automatic would choose."
    return sentence


def _combo(choices: dict[str, str]) -> QComboBox:
    combo = QComboBox()
    for key, label in choices.items():
        combo.addItem(label, key)
    return combo


def _read_int(store: QSettings, spec: EngineSettingSpec, maximum: int) -> int:
    try:
        value = spec.kind(str(store.value(spec.key, spec.default)))
    except ValueError:
        return int(spec.default)
    return value if spec.minimum <= value <= min(spec.maximum, maximum) else int(spec.default)


def engine_column(controls: ControlsPanel, stops: QWidget, performance: QWidget) -> QWidget:
    """The right-hand column: sampler settings, when to stop, then Performance, which only "Show all
    settings" shows (a first start shows the simple view, without it)."""
    column = QWidget()
    layout = QVBoxLayout(column)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(8)
    layout.addWidget(controls)
    stop_panel = QFrame()
    stop_layout, _ = theme.panel(stop_panel, "When to stop")
    stop_layout.addWidget(stops)
    layout.addWidget(stop_panel)
    layout.addWidget(performance)
    performance.setVisible(controls.show_all.isChecked())
    # Restoring the remembered checkbox after this toggles it, and so shows Performance again.
    controls.show_all.toggled.connect(performance.setVisible)
    return column
