"""The repository's resources/ (icon, prompts, demos) and docs/ folders, in a checkout or a bundle."""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path


def _beside_desktop(name: str) -> Path | None:
    """The repository's folder `name` beside desktop/ in a checkout, or inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    candidates = [Path(bundle) / name] if bundle else []
    candidates.append(Path(__file__).resolve().parents[3] / name)
    return next((path for path in candidates if path.is_dir()), None)


def resources_dir() -> Path | None:
    """resources/ beside desktop/ in a checkout, or inside a PyInstaller bundle; None elsewhere."""
    return _beside_desktop("resources")


def docs_dir() -> Path | None:
    """docs/ beside desktop/ in a checkout, or the bundle's docs (only the workshop and the worksheet);
    None elsewhere."""
    return _beside_desktop("docs")


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


class DemoError(ValueError):
    """A demo file is broken; the message names the file and the problem in one sentence."""


@dataclass(frozen=True)
class Demo:
    """A workshop demo: a prompt, its mode, settings, dice and length, and what the room should notice."""

    title: str
    prompt: str
    mode: str  # "raw" or "chat"
    settings: dict[str, float | int]  # SamplerSettings keys; the rest keep their defaults
    seed: int
    max_tokens: int
    ignore_end: bool
    what_to_look_for: str
    compare: tuple[dict[str, float | int], ...] = ()  # variants for the Compare window; () = none
    name: str = ""  # the file's stem


def load_demo(path: Path) -> Demo:
    """One resources/demos/*.json file, checked field by field (no Qt: the session layer may use it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DemoError(f"{path.name} could not be read: {exc}") from exc
    try:
        demo = Demo(str(data["title"]), str(data["prompt"]), str(data.get("mode", "raw")),
                    {str(k): v for k, v in dict(data.get("settings", {})).items()},
                    int(data.get("seed", 1234)), int(data.get("max_tokens", 40)),
                    bool(data.get("ignore_end", False)), str(data["what_to_look_for"]),
                    tuple(dict(v) for v in data.get("compare", ())), path.stem)
    except (KeyError, TypeError, ValueError) as exc:
        raise DemoError(f"{path.name} is missing or has a wrong field: {exc}") from exc
    if demo.mode not in ("raw", "chat"):
        raise DemoError(f"{path.name}: mode must be \"raw\" or \"chat\", not {demo.mode!r}.")
    return demo


def demos() -> list[Demo]:
    """Every resources/demos/NN-name.json in file-name order (the workshop's order)."""
    folder = resources_dir()
    if folder is None:
        return []
    return [load_demo(path) for path in sorted((folder / "demos").glob("*.json"))]
