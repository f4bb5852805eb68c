"""`synthscope export`: a saved run as a CSV table of its word pieces and as a shaded web page, to take
away; it reads the run's file only (no model is loaded)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from synthscope.session import load_record
from synthscope.session.export import csv_text, encoded, write_csv
from synthscope.session.export_page import write_html
from synthscope.session.json_io import failure_reason


def add_export_parser(commands: Any) -> None:
    export = commands.add_parser("export", help="write a saved run's word pieces as a CSV table and/or a "
                                                "web page shaded by chance (no model needed)")
    export.add_argument("run", metavar="RUN.json",
                        help="a run written by trace or a session saved by the window (its current path)")
    export.add_argument("--csv", metavar="OUT.csv",
                        help="the table: one row per word piece with its chances, rank, surprise and "
                             "certainty in bits, dice")
    export.add_argument("--html", metavar="OUT.html",
                        help="the page: the prompt, then every word piece shaded by the chance the model "
                             "gave it, its numbers in a note")
    export.add_argument("--title", help="the page's title (default: the run file's name)")


def run_export(args: argparse.Namespace) -> int:
    """With neither --csv nor --html the table goes to standard output."""
    record = load_record(args.run)
    if args.csv is None and args.html is None:
        text = csv_text(record.steps)
        sys.stdout.flush()
        if hasattr(sys.stdout, "buffer"):  # UTF-8 whatever the console's own encoding
            sys.stdout.buffer.write(encoded(text))
            sys.stdout.buffer.flush()
        else:
            sys.stdout.write(text)
        return 0
    title = args.title or f"{Path(args.run).stem} — Synthscope"
    writes = [("table", args.csv, lambda path: write_csv(record.steps, path)),
              ("page", args.html, lambda path: write_html(record.prompt, record.steps, title,
                                                          record.model.name, path, record.seed))]
    for what, path, write in writes:
        if path is None:
            continue
        try:
            write(path)
        except OSError as exc:  # one plain sentence, like every other bad input
            raise OSError(f"The {what} could not be written to {path} ({failure_reason(exc)}); any file "
                          "already there is kept.") from None
    return 0
