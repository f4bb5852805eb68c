"""Entry point: headless sub-commands go to the CLI (no Qt imported), anything else opens the window."""
from __future__ import annotations

import sys

HEADLESS_COMMANDS = {"trace", "engine", "models", "replay"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--probe-model"] and 2 <= len(args) <= 5:
        from synthscope.engine.probe import child_main
        return child_main(*args[1:])
    if args[:1] and args[0] in HEADLESS_COMMANDS | {"-h", "--help", "--version"}:
        from synthscope.cli.main import main as cli_main
        return cli_main(args)
    from synthscope.ui.app import run_app
    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())
