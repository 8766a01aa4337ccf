"""Hostile text in outputs (issue 14, item 11): CSV cells never run as spreadsheet formulas,
Markdown/HTML/table outputs carry no terminal control characters, and `-o FILE` never writes
through a symbolic link.

CSV rule (decided here, documented in qbank/safe_text.py): a number stays a number, so a negative
mean in a numeric column is still summable; text that is exactly a plain number ("-0.5",
"-12.5%") or a lone "-" stays as it is; any other text starting with = + - @, tab or CR gets a
leading single quote, the OWASP advice.
"""

from __future__ import annotations

import csv
import io
import json
import os

import pytest
from tests_support import shipped_bank

from qbank import sessions as S
from qbank.cli import main
from qbank.importer import import_bank
from qbank.record import render as render_record
from qbank.reports import render as render_report
from qbank.reviews import Chart, Report, Table
from qbank.safe_text import csv_cell, drop_controls

CONTROLS = "\x1b]0;pwned\x07\x1b[31m\x00\x08\x0b\x0c\x0d\x7f\x85\x9b"  # OSC title, BEL, CSI, NUL, ..., DEL, C1


def _controls_in(text: str) -> list[str]:
    """The terminal control characters in `text` (tab and newline are not)."""
    return sorted(hex(ord(c)) for c in set(text) if (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) <= 0x9F)


@pytest.mark.parametrize("cell", ["=1+2", "+1+2", "-2+3+cmd|' /C calc'!A0", "@SUM(A1:A2)", "\t=1", "\r=1", "-x"])
def test_csv_cell_neutralises_each_formula_start(cell):
    out = csv_cell(cell)
    assert out.startswith("'"), out
    assert out[1:].lstrip("\t") == drop_controls(cell).lstrip("\t")  # nothing else changed but the CR


@pytest.mark.parametrize("value", [-0.5, -3, 0, 2.25, "-0.5", "+3", "-12.5%", "1e-4", "-", "plain text", "a=b"])
def test_csv_cell_keeps_numbers_and_harmless_text(value):
    assert csv_cell(value) == value


def _report(cells: list) -> Report:
    return Report(
        kind="test",
        title="Exposure \x1b[2Jreview",
        explanation="What it shows.\x07",
        filters="all",
        flags=["flag \x1b]0;title\x07 raised"],
        tables=[Table(title="Items", columns=["code", "note", "mean"], rows=[cells])],
        charts=[Chart(title="Means", bars=[("Q\x1b[1m1", -0.5, True), ("Q2", 0.25, False)])],
    )


def test_review_csv_neutralises_text_and_keeps_numbers():
    text = render_report(_report(['=HYPERLINK("http://x")', "-x then text", -0.5]), "csv")
    rows = list(csv.reader(io.StringIO(text)))
    data = rows[2]
    assert data == ['\'=HYPERLINK("http://x")', "'-x then text", "-0.5"]  # the number is written as a number
    assert "\x1b" not in text


def test_review_outputs_drop_control_characters():
    r = _report(["Q1", f"note{CONTROLS}\tafter tab\nnext line", -0.5])
    for fmt in ("table", "html"):
        out = render_report(r, fmt)
        assert _controls_in(out) == [], fmt
        assert "Exposure review" in out
    assert "note" in render_report(r, "html") and "after tab" in render_report(r, "html")
    js = render_report(r, "json")
    assert "\x1b" not in js and "\x9b" not in js and "\x7f" not in js
    assert json.loads(js)["tables"][0]["rows"][0][1].startswith("note\x1b]0;pwned\x07")  # the data itself is intact


@pytest.fixture
def hostile_assessment(engine):
    import_bank(engine, shipped_bank())
    aid = S.start_assessment(
        engine,
        S.StartRequest(
            standard="ST0556",
            apprentice="REF-1",
            assessor="Sam",
            # NUL aside: PostgreSQL cannot store it (refusing it at input is another item's work)
            adjustments=f"Extra time{CONTROLS.replace(chr(0), '')}\tand a reader\nsecond line",
        ),
    )
    pq = S.load(engine, aid).methods[0]
    a = S.ask(engine, pq.id, pq.questions[0].code)
    S.set_notes(engine, a, "Said \x1b[8mhidden\x1b[0m things\x07\twith a tab\nand a second line")
    return engine, aid


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_record_drops_control_characters_keeps_tab_and_newline(hostile_assessment, fmt):
    engine, aid = hostile_assessment
    out = render_record(S.load(engine, aid), fmt)
    assert _controls_in(out) == []
    assert "Extra time" in out and "hidden" in out and "second line" in out
    screen = render_record(S.load(engine, aid), "md", screen=True) if fmt == "md" else out
    assert "\n" in screen and "\x1b" not in screen


def test_drop_controls_removes_whole_sequences_keeps_tab_newline():
    assert drop_controls("a\tb\nc\x1b[0m\x07\x9b2Jd\x1b]0;title\x07e\x00f") == "a\tb\ncdef"
    assert drop_controls("[0m stays without its ESC") == "[0m stays without its ESC"


# --------------------------------------------------------------------------- -o FILE


@pytest.fixture
def review_cmd(engine, db_url, monkeypatch):
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    import_bank(engine, shipped_bank())
    return lambda out: main(["review", "usage", "--format", "csv", "-o", str(out)])


def test_output_onto_symlink_replaces_link_not_its_target(review_cmd, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    link = tmp_path / "out" / "report.csv"
    link.parent.mkdir()
    link.symlink_to(victim)
    assert review_cmd(link) == 0
    assert victim.read_text(encoding="utf-8") == "precious\n"  # the link's former target untouched
    assert not link.is_symlink() and link.is_file()
    assert link.read_text(encoding="utf-8").startswith("# ")
    assert sorted(p.name for p in link.parent.iterdir()) == ["report.csv"]  # no temporary file left
    assert "wrote the usage review" in capsys.readouterr().err


def test_output_onto_dangling_symlink_does_not_create_its_target(review_cmd, tmp_path):
    target = tmp_path / "elsewhere.csv"
    link = tmp_path / "r.csv"
    link.symlink_to(target)
    assert review_cmd(link) == 0
    assert not target.exists() and link.is_file() and not link.is_symlink()


def test_output_replaces_a_file_keeping_its_permissions(review_cmd, tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("old", encoding="utf-8")
    os.chmod(out, 0o640)
    assert review_cmd(out) == 0
    assert out.read_text(encoding="utf-8") != "old" and (out.stat().st_mode & 0o777) == 0o640


@pytest.mark.parametrize("where", ["folder", "missing"])
def test_output_to_folder_or_missing_folder_is_a_clear_error(review_cmd, tmp_path, capsys, where):
    out = tmp_path if where == "folder" else tmp_path / "no-such-folder" / "r.csv"
    assert review_cmd(out) == 1
    err = capsys.readouterr().err
    assert f"cannot write {out}" in err and "Traceback" not in err
    assert ("it is a folder" in err) if where == "folder" else ("there is no folder" in err)
    assert not (tmp_path / "no-such-folder").exists()
