"""`qbank convert` and `qbank export` with the tabular formats (CSV, XLSX), and what convert does
whatever the format: drafts only, no id ever overwritten, the map file, nothing written when the
source cannot be read, and a named error (never a traceback) for every file it cannot read.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests_support import BANKS

from qbank import tabular
from qbank.bankfiles import read_question_file
from qbank.cli import main
from qbank.convert import detect_format, toml_string
from qbank.exchange import ExchangeQuestion
from qbank.validation import load_bank

HOSTILE_TEXTS = [
    'He said "yes, and no"; then left.',
    "Line one,\nline two; with \"quotes\" and 'apostrophes'",
    "=SUM(A1:A9)",
    "+44 7700 900000 is the number",
    "-x starts with a minus",
    "@mention",
    "'=already quoted",
    "''+two apostrophes",
    "-0.5",
    "-",
    "Tab\tinside and ünïcödé — “curly” quotes, emoji 🎓",
    '<b>HTML</b> &amp; <script>alert("x")</script>',
    'Ends with a quote "',
    'Three quotes """ inside \\ and a backslash',
]


def _q(i: int, text: str, **kw) -> ExchangeQuestion:
    q = ExchangeQuestion(
        id=f"T-{i:03d}",
        text=text,
        outcomes=["K1", "S1"],
        methods=["professional-discussion"],
        minutes=7,
        probes=["First probe, with a comma", "=second; with a semicolon"],
        guidance="A good answer...\n\nSecond paragraph.",
        topic="Strategy",
        author="A. Writer",
    )
    return dataclasses.replace(q, **kw)


def _copy_standard(tmp: Path, code: str = "ST0556", questions: bool = True) -> Path:
    """A bank folder with a copy of a shipped standard (with its questions and releases, or without)."""
    dst = tmp / "banks" / code
    if questions:
        shutil.copytree(BANKS / code, dst)
    else:
        dst.mkdir(parents=True)
        shutil.copy(BANKS / code / "standard.toml", dst / "standard.toml")
    return tmp / "banks"


def _csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    buf = io.StringIO(newline="")
    csv.writer(buf, delimiter=delimiter).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- the layout


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_write_then_read_gives_every_field_back_exactly(fmt, tmp_path):
    qs = [_q(i, t) for i, t in enumerate(HOSTILE_TEXTS)]
    qs.append(_q(99, "Multi-line probes", probes=["one\nspanning two lines", "two"], minutes=None, outcomes=[]))
    qs.append(_q(98, "=cmd|' /C calc'!A0", guidance="@SUM(1)", topic="-topic", author="+author", probes=[]))
    path = tmp_path / f"q.{fmt}"
    (tabular.write_csv if fmt == "csv" else tabular.write_xlsx)(qs, path)
    result = (tabular.read_csv if fmt == "csv" else tabular.read_xlsx)(path)
    assert not result.problems and not result.skipped
    for want, got in zip(qs, result.questions, strict=True):
        got.where = ""
        assert got == want


def test_csv_cells_are_neutralised_against_formulas(tmp_path):
    path = tmp_path / "q.csv"
    tabular.write_csv([_q(1, '=HYPERLINK("http://x")', guidance="-2+3", topic="@x")], path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel reads the accents right
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["id", "text", "outcomes", "methods", "minutes", "probes", "guidance", "topic", "author"]
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["text"].startswith("'=") and cells["guidance"] == "'-2+3" and cells["topic"] == "'@x"
    assert cells["minutes"] == "7" and cells["outcomes"] == "K1; S1"
    assert cells["probes"] == "First probe, with a comma\n=second; with a semicolon"  # only a cell's start counts
    assert not any(c.startswith(("=", "+", "@")) for c in rows[1])


def test_xlsx_cells_are_text_never_formulas(tmp_path):
    import openpyxl

    path = tmp_path / "q.xlsx"
    tabular.write_xlsx([_q(1, "=1+2")], path)
    ws = openpyxl.load_workbook(path)["questions"]
    assert [c.value for c in ws[1]][:3] == ["id", "text", "outcomes"]
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert ws["B2"].value == "'=1+2" and ws["E2"].value == 7


def test_header_is_matched_ignoring_case_spaces_and_order_and_semicolon_csv_is_read(tmp_path):
    path = _csv(
        tmp_path / "q.csv",
        [[" Text ", "ID", "Out comes", "MINUTES"], ["Why?", "X-1", "K1;S1", "9"]],
        delimiter=";",
    )
    result = tabular.read_csv(path)
    assert not result.problems
    [q] = result.questions
    assert (q.id, q.text, q.outcomes, q.minutes, q.methods) == ("X-1", "Why?", ["K1", "S1"], 9, [])


def test_a_wrong_column_name_is_refused_with_the_right_one_suggested(tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    path = _csv(
        tmp_path / "bank.csv", [["id", "text", "outcome", "Method"], ["X-1", "Why?", "K1", "professional-discussion"]]
    )
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 1
    err = capsys.readouterr().err
    assert "column 'outcome' (column C) is not one of id, text, outcomes" in err
    assert "did you mean 'outcomes'?" in err
    assert "nothing written" in err and "Traceback" not in err
    assert not (bank / "ST0556" / "questions").exists()


def test_a_status_column_cannot_make_an_approved_question(tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    path = _csv(
        tmp_path / "bank.csv",
        [["id", "text", "outcomes", "methods", "status"], ["X-1", "Why?", "K1", "professional-discussion", "approved"]],
    )
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 1
    assert "column 'status' (column E) is not one of" in capsys.readouterr().err
    assert not (bank / "ST0556" / "questions").exists()


def test_missing_required_column(tmp_path):
    result = tabular.read_csv(_csv(tmp_path / "q.csv", [["id", "outcomes"], ["X", "K1"]]))
    [problem] = result.problems
    assert "q.csv: no 'text' column in the header row (the first row)" in problem
    assert "id and text are required" in problem and not result.questions


def test_rows_that_cannot_be_questions_are_skipped_with_their_row_and_reason(tmp_path):
    path = _csv(
        tmp_path / "q.csv",
        [
            ["id", "text", "minutes"],
            ["A-1", "Fine", "8"],
            ["", "", ""],  # empty: passed over
            ["", "No id", "8"],
            ["A-3", "", "8"],
            ["A-4", "Bad minutes", "eight"],
            ["A-5", "Too long", "500"],
            ["A-6", "x" * 10_001, "8"],
        ],
    )
    result = tabular.read_csv(path)
    assert [q.id for q in result.questions] == ["A-1"]
    assert [(s.where, s.why.split(":")[0]) for s in result.skipped] == [
        ("row 4", "no id"),
        ("row 5 (A-3)", "no text"),
        ("row 6 (A-4)", "minutes 'eight' is not a whole number"),
        ("row 7 (A-5)", "minutes '500' is not a whole number from 1 to 120"),
        ("row 8 (A-6)", "text is 10,001 characters long, over the 10,000 a question may hold"),
    ]


# --------------------------------------------------------------------------- encodings


def test_non_utf8_csv_is_refused_naming_the_byte_and_the_fix(tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    path = _csv(tmp_path / "latin.csv", [["id", "text"], ["A-1", "Café society"]], encoding="cp1252")
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 1
    err = capsys.readouterr().err
    offset = path.read_bytes().index(b"\xe9")
    assert f"not UTF-8 text (byte 0xE9 at offset {offset}, line 2, which is 'é' in Windows-1252)" in err
    assert 'save it as "CSV UTF-8' in err and "Traceback" not in err
    assert not (bank / "ST0556" / "questions").exists()


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_utf8_with_bom_and_utf16_csv_are_read(encoding, tmp_path):
    path = _csv(tmp_path / "q.csv", [["id", "text"], ["A-1", "Café — naïve"]], encoding=encoding)
    assert [q.text for q in tabular.read_csv(path).questions] == ["Café — naïve"]


# --------------------------------------------------------------------------- convert into a bank


def test_convert_writes_drafts_and_never_overwrites_an_existing_id(tmp_path, capsys):
    bank = _copy_standard(tmp_path)
    before = _files(bank)
    path = _csv(
        tmp_path / "mine.csv",
        [
            ["id", "text", "outcomes", "methods", "minutes", "probes", "guidance"],
            ["IL-PQ-001", "Clashes with a shipped question", "K1", "professional-discussion", "8", "", ""],
            ["NEW-001", "A new question?", "K1, S1", "professional-discussion", "6", "p1\np2", "Good answer."],
            ["NEW-001", "The same id again", "K1", "professional-discussion", "6", "", ""],
        ],
    )
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 0
    out = capsys.readouterr().out
    assert "made 1 draft question in" in out
    assert "row 2 (IL-PQ-001): id IL-PQ-001 is already used (" in out and "not overwritten" in out
    assert "row 4 (NEW-001): id NEW-001 is also row 3 of this file: only the first is kept" in out
    after = _files(bank)
    new = "ST0556/questions/imported-mine.toml"
    assert {k: v for k, v in after.items() if k != new} == before  # nothing else touched
    problems: list = []
    _, [q] = read_question_file(bank / new, problems)
    assert not problems
    assert (q.id, q.status, q.version, q.outcomes, q.probes, q.guidance) == (
        "NEW-001",
        "draft",
        1,
        ("K1", "S1"),
        ("p1", "p2"),
        "Good answer.",
    )
    loaded = load_bank(bank)  # the whole bank still validates: drafts need nothing more
    assert not loaded.errors, [p.render() for p in loaded.errors]

    # converting again: every id now clashes, nothing is written, exit 1
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 1
    assert "made no questions" in capsys.readouterr().out
    assert _files(bank) == after


def test_convert_appends_to_an_existing_into_file(tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    a = _csv(tmp_path / "a.csv", [["id", "text", "outcomes"], ["A-1", "First?", "K1"]])
    b = _csv(tmp_path / "b.csv", [["id", "text", "outcomes"], ["B-1", "Second?", "K1"]])
    into = bank / "ST0556" / "questions" / "drafts.toml"
    for src in (a, b):
        code = main(
            [
                "convert",
                str(src),
                "--standard",
                "ST0556",
                "--path",
                str(bank),
                "--into",
                str(into),
                "--map",
                str(_map(tmp_path, '[defaults]\nmethods = ["professional-discussion"]\n')),
            ]
        )
        assert code == 0, capsys.readouterr()
    problems: list = []
    _, qs = read_question_file(into, problems)
    assert [q.id for q in qs] == ["A-1", "B-1"] and not problems
    assert all(q.status == "draft" for q in qs)


def _map(tmp: Path, text: str) -> Path:
    p = tmp / "MAP.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_outcomes_through_the_map_and_unknown_ones_skipped(tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    path = _csv(
        tmp_path / "tagged.csv",
        [
            ["id", "text", "outcomes", "methods", "topic"],
            ["M-1", "Mapped?", "leadership", "PD", "old/Strategy"],
            ["M-2", "Unknown?", "K1; lederschip", "PD", ""],
            ["M-3", "Lower-case code?", "k1", "Professional discussion underpinned by a portfolio of evidence", ""],
            ["M-4", "Mapped to nothing real?", "broken", "PD", ""],
        ],
    )
    mp = _map(
        tmp_path,
        '[tags]\n"Leadership" = ["K1", "S1"]\nbroken = "K99"\n[methods]\nPD = "professional-discussion"\n'
        '[topics]\n"old/Strategy" = "Strategy development"\n[defaults]\nminutes = 5\nauthor = "A. Writer"\n',
    )
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank), "--map", str(mp)]) == 0
    out = capsys.readouterr().out
    assert "made 2 draft questions" in out
    assert "row 3 (M-2): outcome 'lederschip' is not an outcome of ST0556, and no map file [tags] entry maps it" in out
    assert "row 5 (M-4): the map file maps to K99, not outcomes of ST0556" in out
    _, qs = read_question_file(bank / "ST0556/questions/imported-tagged.toml", [])
    got = {q.id: (q.outcomes, q.methods, q.minutes, q.topic, q.author) for q in qs}
    assert got == {
        "M-1": (("K1", "S1"), ("professional-discussion",), 5, "Strategy development", "A. Writer"),
        "M-3": (("K1",), ("professional-discussion",), 5, "", "A. Writer"),
    }


def test_without_methods_and_several_in_the_standard_the_question_is_skipped_saying_how(tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    path = _csv(tmp_path / "q.csv", [["id", "text", "outcomes"], ["A-1", "Why?", "K1"]])
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 1
    out = capsys.readouterr().out
    assert "no methods: give them (a methods column), or a default in a map file: [defaults] methods" in out


@pytest.mark.parametrize(
    "text, message",
    [
        ("[tag]\nx = 'K1'\n", "unknown table [tag]: did you mean [tags]?"),
        ("[defaults]\nminute = 5\n", "unknown key 'minute' in [defaults]: did you mean 'minutes'?"),
        ("[tags]\nx = 3\n", '[tags] "x" must be a code or a list of codes'),
        ("[tags\n", "the map file is not valid TOML"),
    ],
)
def test_a_bad_map_file_is_a_named_error_and_nothing_is_written(text, message, tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    path = _csv(
        tmp_path / "q.csv", [["id", "text", "outcomes", "methods"], ["A-1", "Why?", "K1", "professional-discussion"]]
    )
    code = main(["convert", str(path), "--standard", "ST0556", "--path", str(bank), "--map", str(_map(tmp_path, text))])
    err = capsys.readouterr().err
    assert code == 1 and message in err and "MAP.toml" in err and "Traceback" not in err
    assert not (bank / "ST0556" / "questions").exists()


def test_html_in_csv_text_is_kept_as_written(tmp_path):
    bank = _copy_standard(tmp_path, questions=False)
    html = '<p>Describe <b>one</b> change &amp; its effect.</p><script>alert("x")</script>'
    path = _csv(
        tmp_path / "q.csv", [["id", "text", "outcomes", "methods"], ["H-1", html, "K1", "professional-discussion"]]
    )
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 0
    _, [q] = read_question_file(bank / "ST0556/questions/imported-q.toml", [])
    assert q.text == html  # a spreadsheet cell is plain text: what the writer typed, as typed


def test_json_report(tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    path = _csv(
        tmp_path / "q.csv",
        [["id", "text", "outcomes", "methods"], ["A-1", "Why?", "K1", "professional-discussion"], ["", "x", "", ""]],
    )
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["format"] == "csv" and doc["written"] is True
    assert [m["id"] for m in doc["made"]] == ["A-1"] and doc["skipped"][0]["where"] == "row 3"


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("folder", None, "is a folder"),
        ("missing.csv", "MISSING", "no such file"),
        ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "an old Excel (.xls) file"),
        ("notxlsx.xlsx", "ZIP", "a zip file that is neither a QTI package"),
        ("broken.xlsx", b"PK\x03\x04garbage", "cannot be opened as one"),
        ("empty.csv", b"", "the file is empty"),
        ("binary.csv", b"\x00\x01\x02id,text\n", "holds NUL bytes"),
        ("quotes.csv", b'id,text\nA-1,"unclosed\n', "not valid CSV"),
        ("other.xml", b"<?xml version='1.0'?>\n<html><body/></html>", "XML whose root is <html>"),
        ("qti2.xml", b"<assessmentItem xmlns='http://www.imsglobal.org/xsd/imsqti_v2p1'/>", "QTI 2.x or 1.2"),
    ],
)
def test_files_convert_cannot_read_get_a_named_error_never_a_traceback(name, content, message, tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    path = tmp_path / name
    if content is None:
        path.mkdir()
    elif content == "ZIP":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "hi")
    elif content != "MISSING":
        path.write_bytes(content)
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 1
    err = capsys.readouterr().err
    assert message in err and name in err and "Traceback" not in err
    assert not (bank / "ST0556" / "questions").exists()


def test_usage_errors_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["convert", "x.csv"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["export", "ST0556", "--format", "pdf", "-o", str(tmp_path / "x")])
    assert e.value.code == 2
    capsys.readouterr()


def test_unknown_standard_is_named(tmp_path, capsys):
    bank = _copy_standard(tmp_path, questions=False)
    path = _csv(tmp_path / "q.csv", [["id", "text"], ["A-1", "Why?"]])
    assert main(["convert", str(path), "--standard", "ST9999", "--path", str(bank)]) == 1
    assert "no standard ST9999 under" in capsys.readouterr().err


def test_format_is_found_from_content_not_name(tmp_path):
    a = tmp_path / "looks.csv"
    tabular.write_xlsx([_q(1, "x")], a)
    assert detect_format(a) == "xlsx"
    b = tmp_path / "looks.xlsx"
    tabular.write_csv([_q(1, "x")], b)
    assert detect_format(b) == "csv"
    c = tmp_path / "moodle.txt"
    c.write_bytes(b"\xef\xbb\xbf<?xml version='1.0' encoding='UTF-8'?>\n<!-- exported -->\n<quiz></quiz>")
    assert detect_format(c) == "moodle"


@pytest.mark.parametrize("text", HOSTILE_TEXTS + ['two\nlines ending in a quote"', 'a\n"""\nb', "back\\slash\nx"])
def test_toml_strings_read_back_exactly(text):
    """Exactly, once read as the bank reads a text (a multi-line string's closing line break is
    trimmed, as in every question file)."""
    import tomli

    from qbank.fields import normalise_text

    assert normalise_text(tomli.loads(f"v = {toml_string(text)}")["v"]) == text


# --------------------------------------------------------------------------- limits


def test_more_rows_than_the_limit_are_refused_before_any_is_used(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tabular, "MAX_ROWS", 50)
    bank = _copy_standard(tmp_path, questions=False)
    rows = [["id", "text", "outcomes", "methods"]] + [
        [f"R-{i}", "Why?", "K1", "professional-discussion"] for i in range(51)
    ]
    path = _csv(tmp_path / "big.csv", rows)
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 1
    assert "more than 50 question rows: split the file" in capsys.readouterr().err
    assert not (bank / "ST0556" / "questions").exists()


def test_xlsx_that_would_unpack_too_large_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "q.xlsx"
    tabular.write_xlsx([_q(1, "x")], path)
    monkeypatch.setattr(tabular, "MAX_UNPACKED", 1000)
    result = tabular.read_xlsx(path)
    assert not result.questions and "would unpack to" in result.problems[0]


_OOXML = "http://schemas.openxmlformats.org"
_RELS = f"{_OOXML}/officeDocument/2006/relationships"
_PARTS = {
    "[Content_Types].xml": (
        f'<Types xmlns="{_OOXML}/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_OOXML}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{_OOXML}/spreadsheetml/2006/main" xmlns:r="{_RELS}"><sheets>'
        '<sheet name="questions" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_OOXML}/package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_RELS}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
    ),
}
_SHEET_START = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_OOXML}/spreadsheetml/2006/main">'


def _row(r: int, cells: list[str]) -> bytes:
    inner = "".join(f'<c r="{chr(65 + i)}{r}" t="inlineStr"><is><t>{v}</t></is></c>' for i, v in enumerate(cells))
    return f'<row r="{r}">{inner}</row>'.encode()


def _xlsx(path: Path, write_sheet) -> None:
    """An XLSX written part by part (as a hostile or huge file would be), its sheet by `write_sheet(f)`."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, xml in _PARTS.items():
            z.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + xml)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            write_sheet(f)


def _big_xlsx(path: Path, target_bytes: int) -> int:
    """An XLSX of about `target_bytes` (incompressible texts, inline strings): its rows are questions
    of 4,000-character texts and guidance. Returns the number of rows."""
    n = 0

    def sheet(f) -> None:
        nonlocal n
        f.write(_SHEET_START.encode() + b"<sheetData>")
        f.write(_row(1, ["id", "text", "guidance", "outcomes", "methods", "minutes"]))
        while True:
            n += 1
            text, guidance = os.urandom(2000).hex(), os.urandom(2000).hex()
            f.write(_row(n + 1, [f"BIG-{n:05d}", text, guidance, "K1", "professional-discussion", "8"]))
            if n % 500 == 0 and path.stat().st_size >= target_bytes:
                break
        f.write(b"</sheetData></worksheet>")

    _xlsx(path, sheet)
    return n


def test_an_xlsx_with_an_entity_bomb_is_refused(tmp_path, capsys):
    """A billion-laughs DTD in the sheet: openpyxl parses with defusedxml, which refuses entities."""
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + f']><worksheet xmlns="{_OOXML}/spreadsheetml/2006/main"><sheetData>'
    )

    def sheet(f) -> None:
        f.write(bomb.encode() + _row(1, ["id", "text"]) + _row(2, ["A-1", "&i;"]) + b"</sheetData></worksheet>")

    path = tmp_path / "bomb.xlsx"
    _xlsx(path, sheet)
    bank = _copy_standard(tmp_path, questions=False)
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 1
    err = capsys.readouterr().err
    assert "bomb.xlsx: cannot be read as XLSX (its XML declares entities or a DTD" in err and "Traceback" not in err
    assert not (bank / "ST0556" / "questions").exists()


@pytest.mark.slow
def test_a_50_mb_spreadsheet_is_read_streaming_in_bounded_time_and_memory(tmp_path):
    path = tmp_path / "big.xlsx"
    rows = _big_xlsx(path, 50 * 1024 * 1024)
    assert path.stat().st_size >= 50 * 1024 * 1024
    probe = (
        "import resource, sys, time\n"
        "from pathlib import Path\n"
        "from qbank.tabular import read_xlsx\n"
        "t = time.perf_counter()\n"
        "r = read_xlsx(Path(sys.argv[1]))\n"
        "print(len(r.questions), len(r.skipped), len(r.problems), time.perf_counter() - t,\n"
        "      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True).stdout
    questions, skipped, problems, seconds, peak_mb = out.split()
    assert (int(questions), int(skipped), int(problems)) == (rows, 0, 0)
    # measured: 11,500 rows (92 MB of text) in 3.0 s, 152 MB peak: read-only openpyxl streams the rows
    assert float(seconds) < 60 and int(peak_mb) < 1024, out


# --------------------------------------------------------------------------- export


def test_export_writes_the_release_asked_for(tmp_path, capsys):
    out = tmp_path / "old.csv"
    assert (
        main(["export", "ST0556", "--path", str(BANKS), "--release", "1.0.0", "--format", "csv", "-o", str(out)]) == 0
    )
    assert "wrote 87 question versions of ST0556 1.0.0" in capsys.readouterr().out
    result = tabular.read_csv(out)
    assert len(result.questions) == 87 and not result.problems


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ST0556", "--release", "9.9.9"], "ST0556 has no release 9.9.9 under"),
        (["ST9999"], "no standard ST9999 under"),
    ],
)
def test_export_of_what_is_not_there_is_named(argv, message, tmp_path, capsys):
    out = tmp_path / "x.csv"
    assert main(["export", *argv, "--path", str(BANKS), "--format", "csv", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not out.exists()


def test_export_onto_a_symlink_replaces_the_link_never_its_target(tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    link = out / "bank.xlsx"
    link.symlink_to(victim)
    assert main(["export", "ILM-SI3", "--path", str(BANKS), "--format", "xlsx", "-o", str(link)]) == 0
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert link.is_file() and not link.is_symlink() and zipfile.is_zipfile(link)
    assert [p.name for p in out.iterdir()] == ["bank.xlsx"]  # no temporary file left


def test_export_to_a_missing_folder_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "no-such-folder" / "bank.csv"
    assert main(["export", "ILM-SI3", "--path", str(BANKS), "--format", "csv", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {out}: there is no folder" in err and not out.parent.exists()


def test_a_writer_that_fails_leaves_the_old_file_and_no_temporary_file(tmp_path, capsys, monkeypatch):
    from qbank.exchange import ExchangeError

    def broken(questions, path):
        Path(path).write_text("half a fi", encoding="utf-8")
        raise ExchangeError("question X: cannot be written")

    monkeypatch.setattr(tabular, "write_csv", broken)
    out = tmp_path / "bank.csv"
    out.write_text("the old export\n", encoding="utf-8")
    assert main(["export", "ILM-SI3", "--path", str(BANKS), "--format", "csv", "-o", str(out)]) == 1
    assert "question X: cannot be written" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "the old export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bank.csv"]


@pytest.mark.parametrize("fmt", ["moodle", "qti"])
def test_a_format_whose_module_is_missing_says_so(fmt, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, f"qbank.{fmt}", None)  # as if qbank/<fmt>.py were not there
    out = tmp_path / "x.out"
    assert main(["export", "ILM-SI3", "--path", str(BANKS), "--format", fmt, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"the {fmt} format is not available in this qbank (qbank/{fmt}.py is missing)" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_what_the_bank_would_refuse_is_skipped_whatever_the_reader(tmp_path):
    """`fit` checks what no reader can be trusted to have checked: ids, limits, control characters."""
    from qbank.convert import MapFile, fit
    from qbank.validation import load_bank

    std = load_bank(_copy_standard(tmp_path, questions=False)).standards["ST0556"]
    ok = ExchangeQuestion(id="A-1", text="Why?", outcomes=["K1"], methods=["professional-discussion"], minutes=8)
    assert isinstance(fit(ok, std, MapFile(), {}), ExchangeQuestion)
    cases = {
        "id 'has space'": dataclasses.replace(ok, id="has space"),
        "minutes 500 is not a whole number from 1 to 120": dataclasses.replace(ok, minutes=500),
        "its text holds a control character (ESC, character 4)": dataclasses.replace(ok, text="Why\x1b[31m?"),
        "its guidance is 10,001 characters": dataclasses.replace(ok, guidance="g" * 10_001),
        "two of its probes are the same": dataclasses.replace(ok, probes=["p", "p"]),
        "method 'nope' is not a method of ST0556": dataclasses.replace(ok, methods=["nope"]),
    }
    for why, q in cases.items():
        got = fit(q, std, MapFile(), {})
        assert isinstance(got, str) and why in got, (why, got)


_BOMB_DTD = (
    '<?xml version="1.0"?>\n<!DOCTYPE {root} [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]>\n"
)
_EXTERNAL = '<?xml version="1.0"?>\n<!DOCTYPE {root} [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'


@pytest.mark.parametrize("dtd", [_BOMB_DTD, _EXTERNAL], ids=["entity-bomb", "external-entity"])
@pytest.mark.parametrize("fmt", ["moodle", "qti"])
def test_xml_with_entities_is_refused_through_convert_and_nothing_is_written(fmt, dtd, tmp_path, capsys):
    """Whatever the XML reader, `qbank convert` of a file declaring entities ends in a named error,
    exit 1 and no file written (the readers parse with defusedxml)."""
    pytest.importorskip(f"qbank.{fmt}", reason=f"qbank/{fmt}.py is not there yet")
    if fmt == "moodle":
        root = "quiz"
        body = '<quiz><question type="essay"><name><text>Q1</text></name><questiontext format="html">'
        body += "<text>&i;&x;</text></questiontext></question></quiz>"
    else:
        root = "qti-assessment-item"
        body = (
            '<qti-assessment-item xmlns="http://www.imsglobal.org/xsd/imsqtiasi_v3p0" identifier="Q1" title="Q1" '
            'adaptive="false" time-dependent="false"><qti-item-body><qti-extended-text-interaction '
            'response-identifier="R"><qti-prompt>&i;&x;</qti-prompt></qti-extended-text-interaction>'
            "</qti-item-body></qti-assessment-item>"
        )
    path = tmp_path / f"hostile-{fmt}.xml"
    path.write_text(dtd.replace("{root}", root) + body, encoding="utf-8")
    bank = _copy_standard(tmp_path, questions=False)
    assert main(["convert", str(path), "--standard", "ST0556", "--path", str(bank)]) == 1
    err = capsys.readouterr().err
    assert path.name in err and "Traceback" not in err and "root:" not in err
    assert not (bank / "ST0556" / "questions").exists()
