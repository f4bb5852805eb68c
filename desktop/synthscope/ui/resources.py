"""The repository's resources/ folder (icon, sample prompts), found in a checkout or a bundle."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path


def resources_dir() -> Path | None:
    """resources/ beside desktop/ in a checkout, or inside a PyInstaller bundle; None elsewhere."""
    bundle = getattr(sys, "_MEIPASS", None)
    candidates = [Path(bundle) / "resources"] if bundle else []
    candidates.append(Path(__file__).resolve().parents[3] / "resources")
    return next((path for path in candidates if path.is_dir()), None)


@dataclass(frozen=True)
class SamplePrompt:
    title: str
    text: str


def sample_prompts(mode: str = "raw") -> list[SamplePrompt]:
    """resources/prompts/MODE/NN-some-title.txt, in file-name order, titled from the name: text to
    continue for mode "raw", a user's message for mode "chat"."""
    folder = resources_dir()
    if folder is None:
        return []
    prompts = []
    for path in sorted((folder / "prompts" / mode).glob("*.txt")):
        words = path.stem.split("-")
        title = " ".join(words[1:] if words[0].isdigit() else words).capitalize()
        # Kept byte for byte: a chat turn must end in its newline, a story must not.
        text = path.read_text(encoding="utf-8")
        if mode == "chat":  # a message is its own title
            first = text.strip().splitlines()[0] if text.strip() else title
            title = first if len(first) <= 60 else first[:57].rstrip() + "…"
        prompts.append(SamplePrompt(title, text))
    return prompts


def icon_path() -> Path | None:
    folder = resources_dir()
    path = folder / "icons" / "synthscope.svg" if folder else None
    return path if path and path.is_file() else None
