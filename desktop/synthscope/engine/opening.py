"""Open a model: decide how llama.cpp runs it on this machine, check a person's file in a child
process first (some corrupt files abort the process that loads them), then load it."""
from __future__ import annotations

from pathlib import Path

from synthscope.engine.choice import probe_user_file, resolve_config
from synthscope.engine.config import EngineConfig
from synthscope.engine.model import DEFAULT_CONTEXT, Engine, ProgressCallback
from synthscope.engine.model_facts import read_facts


def open_engine(path: str | Path, progress: ProgressCallback | None = None, n_ctx: int = DEFAULT_CONTEXT,
                config: EngineConfig | None = None, probe: bool = True) -> Engine:
    """Load `path` with `config` (default: this machine's checked choice, see machine_choice).

    Untrusted files are first opened in a child process (`probe`), because some corrupt files
    make llama.cpp abort the whole process. `progress` returning False cancels the load, also
    during that check (it is told 0.0 while the child works)."""
    path = Path(path)
    facts = read_facts(path)  # a file that is no model at all is named as such before any check
    config, note = resolve_config(config)
    if probe:
        cancelled = (lambda: progress(0.0) is False) if progress is not None else None
        config, changed = probe_user_file(path, config, cancelled)
        note = changed or note
    return Engine.load(path, config, note, progress, n_ctx, facts)
