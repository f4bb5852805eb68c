"""Every widget of the main window, built once and laid out, with the handles the parts move them by."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QSplitter

from synthscope.engine import machine_facts
from synthscope.ui.classroom.big_view import ChancesCover, DiceCover
from synthscope.ui.exploring.branches import BranchesPanel
from synthscope.ui.frame.actions import Actions
from synthscope.ui.frame.notices import ErrorBanner
from synthscope.ui.models.found_note import ModelsFoundNote
from synthscope.ui.models.sources import ModelDropTarget, RecentModels
from synthscope.ui.settings.controls import ControlsPanel
from synthscope.ui.settings.performance import PerformancePanel, engine_column
from synthscope.ui.settings.stop_sequences import StopSequencesBox
from synthscope.ui.steps.dice import DicePanel
from synthscope.ui.steps.distribution import DistributionPanel
from synthscope.ui.steps.hover_card import HoverCard
from synthscope.ui.steps.inspector import Inspector, StepHeader
from synthscope.ui.steps.pipeline import PipelineStrip
from synthscope.ui.steps.text_view import TokenTextView
from synthscope.ui.steps.text_legend import TextLegend
from synthscope.ui.steps.timeline_view import TimelinePanel
from synthscope.ui.window.layout import Layout, arrange, text_panel, with_branches
from synthscope.ui.window.menus import build_toolbar
from synthscope.ui.wording import JARGON
from synthscope.ui.writing.chat_input import ChatInput


@dataclass
class Parts:
    """The window's widgets. The parts of the window are handed the ones they drive."""

    recent: RecentModels
    model_label: QLabel
    model_label_holder: QAction  # shows and hides the model's name in the tool bar
    progress: QProgressBar
    progress_holder: QAction
    banner: ErrorBanner
    models_note: ModelsFoundNote
    editor: TokenTextView
    chat_input: ChatInput
    header: StepHeader
    pipeline: PipelineStrip
    dice: DicePanel
    distribution: DistributionPanel
    inspector: Inspector
    controls: ControlsPanel
    stops: StopSequencesBox
    performance: PerformancePanel
    card: HoverCard
    text_title: QLabel
    branches_panel: BranchesPanel
    text_split: QSplitter  # the text above, the branches below
    layout: Layout
    speed_label: QLabel
    engine_label: QLabel
    drops: ModelDropTarget
    chances_cover: ChancesCover  # the large-type chances (presentation and guess modes)
    dice_cover: DiceCover
    timeline: TimelinePanel  # the whole run at a glance, under the text
    text_legend: TextLegend  # the key to the text's shading, and what it shades by


def build_parts(window: QMainWindow, commands: Actions, store: QSettings | None, prompt: str) -> Parts:
    """Make every widget in the window's order, lay them out in `window` and return them."""
    recent = RecentModels(store, window)
    model_label = QLabel("No model")
    model_label.setObjectName("hint")
    progress = QProgressBar()
    progress.setRange(0, 1000)
    progress.setFixedWidth(260)
    progress.setFormat("Loading model… %p%")
    progress_holder, model_label_holder = build_toolbar(window, commands, [progress, model_label])
    progress_holder.setVisible(False)

    banner = ErrorBanner()
    models_note = ModelsFoundNote()
    editor = TokenTextView()
    editor.set_prompt(prompt)
    chat_input = ChatInput()

    header = StepHeader()
    pipeline = PipelineStrip()
    dice = DicePanel()
    distribution = DistributionPanel()
    inspector = Inspector(header, pipeline, dice, distribution)
    controls = ControlsPanel()
    stops = StopSequencesBox()
    facts = machine_facts()
    performance = PerformancePanel(facts.logical_cores, facts.gpu_offload)
    card = HoverCard(window)

    text_legend = TextLegend()
    text, text_title = text_panel(editor, text_legend, text_legend.mode, chat_input)
    branches_panel = BranchesPanel()
    text_split = with_branches(text, branches_panel)
    timeline = TimelinePanel()
    layout = arrange([banner, models_note], text_split, distribution, [timeline, header, pipeline, dice],
                     engine_column(controls, stops, performance))
    window.setCentralWidget(layout.central)
    speed_label = QLabel()
    speed_label.setToolTip(JARGON["tokens_per_second"])
    # A fixed size: a label that may change size makes Qt lay out the whole window again at every
    # new text, however little it changed.
    speed_label.setFixedSize(speed_label.fontMetrics().horizontalAdvance("99999 word pieces · 999 per second  "),
                             speed_label.sizeHint().height())
    engine_label = QLabel()  # how llama.cpp runs; the tooltip says why
    engine_label.setObjectName("hint")
    window.statusBar().addPermanentWidget(engine_label)
    window.statusBar().addPermanentWidget(speed_label)
    drops = ModelDropTarget(window)
    drops.watch(window, editor.viewport())
    chat_input.setVisible(False)
    chances_cover = ChancesCover(distribution, distribution.legend)
    dice_cover = DiceCover(dice, dice.title)
    return Parts(recent, model_label, model_label_holder, progress, progress_holder, banner, models_note,
                 editor, chat_input, header, pipeline, dice, distribution, inspector, controls, stops,
                 performance, card, text_title, branches_panel, text_split, layout, speed_label,
                 engine_label, drops, chances_cover, dice_cover, timeline, text_legend)
