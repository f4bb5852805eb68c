"""`synthscope export` on a real run: the CSV parses back to the run's own numbers (in bits where named),
the web page parses and holds every word piece with its chance, and bad input is one line, exit 2."""
from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from synthscope.cli.main import main
from synthscope.session.bands import band_hex
from synthscope.session.export import CSV_COLUMNS

STATED = ["index", "token_id", "text", "p_raw", "p_final", "rank", "surprise_bits", "entropy_raw_bits",
          "entropy_final_bits", "u"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A hot run (many long shots, so ranks and surprises vary) with a new line and a quote in its prompt."""
    path = tmp_path_factory.mktemp("export") / "run.json"
    assert main(["trace", "--json", str(path), "--prompt", 'A list, "quoted" & <odd>:\n1.', "--max-tokens",
                 "30", "--seed", "11", "--temperature", "1.6", "--top-k", "0", "--top-p", "1", "--min-p", "0",
                 "--top-n", "60", "--ignore-eos"]) == 0
    return path, json.loads(path.read_text(encoding="utf-8"))


def floats(cell: str) -> float | None:
    return None if cell == "" else float(cell)


def test_the_table_has_the_stated_columns_and_the_runs_own_values(run, tmp_path: Path) -> None:
    path, doc = run
    out = tmp_path / "steps.csv"
    assert main(["export", str(path), "--csv", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:len(STATED)] == STATED and list(rows[0]) == list(CSV_COLUMNS)
    assert len(rows) == len(doc["steps"]) == 30
    ranks = []
    for number, (row, step) in enumerate(zip(rows, doc["steps"]), start=1):
        assert int(row["index"]) == number
        assert int(row["token_id"]) == step["token_id"] and row["text"] == step["text"]
        assert floats(row["p_raw"]) == step["p_raw"] and floats(row["u"]) == step["u"]
        assert floats(row["p_final"]) == step["p_final"]
        assert math.isclose(float(row["surprise_bits"]), -math.log2(step["p_raw"]), rel_tol=1e-12)
        assert math.isclose(float(row["entropy_raw_bits"]), step["entropy_raw"] / math.log(2), rel_tol=1e-12)
        assert math.isclose(float(row["entropy_final_bits"]), step["entropy_final"] / math.log(2),
                            rel_tol=1e-12, abs_tol=1e-15)
        rank = int(row["rank"])
        assert rank == step["rank"]
        # checked against the run's own list of the likeliest, where the chosen one is in it
        logits = [c["logit"] for c in step["candidates"]]
        if step["chosen_logit"] >= min(logits):
            assert rank == 1 + sum(logit > step["chosen_logit"] for logit in logits)
        else:
            assert rank > len(logits)
        ranks.append(rank)
    assert len(set(ranks)) > 3 and max(ranks) > 1  # a hot run: the column is not a constant


class Pieces(HTMLParser):
    """The page's shaded word pieces (text, background, note), the text box's whole text, and any
    reference to something outside the page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[list[str]] = []
        self.depth = 0  # inside the text box
        self.in_piece = False
        self.box = ""
        self.outside: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.outside += [value for name, value in attrs if name in {"src", "href"} and value]
        if tag in {"script", "link", "img", "iframe"}:
            self.outside.append(tag)
        if tag == "div" and found.get("class") == "text":
            self.depth = 1
        elif self.depth and tag == "span" and found.get("class") == "piece":
            self.in_piece = True
            self.pieces.append(["", found["style"] or "", found["title"] or ""])

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self.in_piece = False
        elif tag == "div":
            self.depth = 0

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.box += data
        if self.in_piece:
            self.pieces[-1][0] += data


def test_the_page_parses_and_holds_the_prompt_and_every_word_piece_with_its_chance(run, tmp_path) -> None:
    path, doc = run
    out = tmp_path / "text.html"
    assert main(["export", str(path), "--html", str(out), "--title", "Class 3b's run"]) == 0
    page = out.read_text(encoding="utf-8")
    parser = Pieces()
    parser.feed(page)
    parser.close()
    assert parser.outside == []  # self-contained: nothing fetched, offline
    assert "<title>Class 3b&#x27;s run</title>" in page
    assert parser.box == doc["prompt"] + "".join(step["text"] for step in doc["steps"])
    assert [text for text, _, _ in parser.pieces] == [step["text"] for step in doc["steps"]]
    for number, ((_, style, note), step) in enumerate(zip(parser.pieces, doc["steps"]), start=1):
        assert f"background:{band_hex(step['p_raw'])}" in style
        assert note.startswith(f"Word piece {number}:") and f"{-math.log2(step['p_raw']):.1f} bits" in note
        if step["rank"] == 1:
            assert "the model's favourite" in note
    assert len({style for _, style, _ in parser.pieces}) > 1  # a hot run is shaded in more than one band


def test_without_a_file_the_table_goes_to_standard_output_and_no_model_is_loaded(run) -> None:
    path, doc = run
    done = subprocess.run([sys.executable, "-m", "synthscope", "export", str(path)], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert b"llama" not in done.stderr.lower()  # the file-only command never starts llama.cpp
    rows = list(csv.DictReader(io.StringIO(done.stdout.decode("utf-8"), newline="")))
    assert [row["text"] for row in rows] == [step["text"] for step in doc["steps"]]


@pytest.mark.parametrize("case", ["missing", "broken", "not_a_run", "unwritable"])
def test_bad_input_is_one_plain_line_and_exit_2(run, tmp_path: Path, case: str) -> None:
    path, _ = run
    given = {"missing": tmp_path / "nowhere.json", "broken": tmp_path / "broken.json",
             "not_a_run": tmp_path / "list.json", "unwritable": path}[case]
    (tmp_path / "broken.json").write_text('{"prompt": "x", "steps": [', encoding="utf-8")
    (tmp_path / "list.json").write_text("[1, 2, 3]", encoding="utf-8")
    out = tmp_path / "no-such-folder" / "out.csv"
    done = subprocess.run([sys.executable, "-m", "synthscope.cli", "export", str(given), "--csv", str(out)],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("synthscope: error:"), done.stderr
    assert "Traceback" not in done.stderr and not out.exists()
    if case == "unwritable":
        assert "could not be written" in lines[0]
