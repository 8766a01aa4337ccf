"""Questions as a table: CSV and XLSX, read and written in one documented layout.

The layout (README, "Bring your bank"):

- a header row naming the columns `id, text, outcomes, methods, minutes, probes, guidance, topic,
  author` (`qbank.exchange.FIELDS`), in any order, matched ignoring case, spaces, `_` and `-`;
  `id` and `text` are required, the others may be left out. Every column must be one of these: a
  column with another name is refused, with the closest known name suggested ("column 'outcome'
  is not one of ...: did you mean 'outcomes'?"), so that nothing in a mistyped column is dropped
  unseen;
- `outcomes` and `methods`: codes separated by `;` or `,` (written with "; ");
- `minutes`: a whole number;
- `probes`: one probe per line of the cell; when a probe itself runs over several lines, the
  probes are separated by an empty line instead (qbank writes it so, and reads a cell holding an
  empty line so);
- a row with every cell empty is passed over; a row without an id or a text is skipped with the
  reason.

CSV files are UTF-8 (a byte order mark is allowed: Excel's "CSV UTF-8" writes one) or UTF-16 with a
byte order mark (Excel's "Unicode text"); anything else is refused with the first byte that is not
UTF-8 and where it is, rather than guessed at (a wrong guess would change every accented letter).
The delimiter is `,`, `;` or tab, whichever the header row uses. qbank writes UTF-8 with a byte order
mark, comma-separated.

Formulas. A text cell qbank writes that a spreadsheet would run as a formula (starting with `=`,
`+`, `-`, `@`, tab or carriage return, and not a plain number) is written with one apostrophe in
front, as elsewhere in qbank (`safe_text.csv_cell`); so is a text that already starts with
apostrophes followed by one of those characters. Reading removes one apostrophe from a cell that
starts with apostrophes followed by one of those characters. Both formats use the rule, so a text
comes back exactly as it was written (`tests/test_convert_tabular.py`); a cell qbank did not write
that starts with "'=" loses that one apostrophe. XLSX cells are always written as text, never as
formulas, and formulas in a spreadsheet read as their last computed value.

Limits: at most MAX_ROWS question rows (a larger file is refused before any is used); an XLSX file
whose parts would unpack to more than MAX_UNPACKED bytes, or a CSV file over MAX_CSV_BYTES, is
refused unread.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .exchange import FIELDS, ExchangeError, ExchangeQuestion, ReadResult, Skipped
from .fields import suggest
from .limits import MAX_QUESTION_MINUTES, text_limit
from .problems import display_path

MAX_ROWS = 100_000  # question rows in one file: ten times the largest bank measured (10k, BENCHMARKS.md)
MAX_CSV_BYTES = 200 * 1024 * 1024
MAX_UNPACKED = 1024 * 1024 * 1024  # an XLSX is a zip: 1 GB unpacked is far beyond any bank, short of a zip bomb
XLSX_CELL_LIMIT = 32_767  # the most characters an Excel cell holds
LIST_FIELDS = ("outcomes", "methods")
REQUIRED = ("id", "text")

_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_LEADING_QUOTES_FORMULA = re.compile(r"'+[=+\-@\t\r]")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?%?")
_SPLIT_LIST = re.compile(r"[;,]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")
_UTF8_BOM = b"\xef\xbb\xbf"


# --------------------------------------------------------------------------- cells


def protect(text: str) -> str:
    """`text` as a cell no spreadsheet runs as a formula, undone exactly by `unprotect`."""
    if _LEADING_QUOTES_FORMULA.match(text):
        return "'" + text
    if _FORMULA.match(text) and text != "-" and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def unprotect(cell: str) -> str:
    """The text a cell written by `protect` holds (one apostrophe before a formula start removed)."""
    return cell[1:] if _LEADING_QUOTES_FORMULA.match(cell) else cell


def probes_cell(probes: Iterable[str], where: str = "") -> str:
    """Probes in one cell: one per line, or separated by an empty line when one spans lines."""
    probes = list(probes)
    if not any("\n" in p for p in probes):
        return "\n".join(probes)
    for p in probes:
        if _BLANK_LINE.search(p):
            raise ExchangeError(
                f"{where}: a probe holds an empty line, which the tabular layout cannot keep apart from the "
                "next probe; join its paragraphs, or export as QTI or Moodle XML"
            )
    return "\n\n".join(probes)


def split_probes(cell: str) -> list[str]:
    text = cell.replace("\r\n", "\n").strip()
    if not text:
        return []
    parts = _BLANK_LINE.split(text) if _BLANK_LINE.search(text) else text.split("\n")
    return [p.strip() for p in parts if p.strip()]


def split_list(cell: str) -> list[str]:
    return list(dict.fromkeys(x.strip() for x in _SPLIT_LIST.split(cell) if x.strip()))


def row_of(q: ExchangeQuestion) -> list[Any]:
    """The cells of one question, in FIELDS order (texts protected; minutes a number)."""
    where = f"question {q.id}"
    return [
        protect(q.id),
        protect(q.text),
        "; ".join(q.outcomes),
        "; ".join(q.methods),
        q.minutes if q.minutes is not None else "",
        protect(probes_cell(q.probes, where)),
        protect(q.guidance),
        protect(q.topic),
        protect(q.author),
    ]


# --------------------------------------------------------------------------- header


def _key(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name).lower()


_BY_KEY = {_key(f): f for f in FIELDS}


def read_header(cells: list[Any], shown: str, problems: list[str]) -> dict[int, str] | None:
    """Column index -> field name; None (with problems) when the header is not the layout's."""
    columns: dict[int, str] = {}
    seen: dict[str, int] = {}
    for i, raw in enumerate(cells):
        name = "" if raw is None else str(raw).strip()
        if not name:
            continue
        field = _BY_KEY.get(_key(name))
        if field is None:
            guess = suggest(_key(name), list(FIELDS))
            hint = f": did you mean '{guess}'?" if guess else ": rename it or remove the column"
            problems.append(
                f"{shown}: column '{name}' (column {_column_letter(i)}) is not one of {', '.join(FIELDS)}{hint}"
            )
            continue
        if field in seen:
            problems.append(
                f"{shown}: column '{field}' appears twice (columns {_column_letter(seen[field])} and "
                f"{_column_letter(i)}): keep one"
            )
            continue
        seen[field] = i
        columns[i] = field
    missing = [f for f in REQUIRED if f not in seen]
    if missing and not problems:
        problems.append(
            f"{shown}: no {' or '.join(repr(m) for m in missing)} column in the header row (the first row): "
            f"the columns are {', '.join(FIELDS)}, and id and text are required"
        )
    return None if problems else columns


def _column_letter(i: int) -> str:
    s = ""
    n = i + 1
    while n:
        n, r = divmod(n - 1, 26)
        s = chr(65 + r) + s
    return s


# --------------------------------------------------------------------------- rows


def _text(value: Any) -> str:
    """A cell as text: numbers without a trailing .0 (an id 101 typed into Excel is 101.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def question_of(row: list[Any], columns: dict[int, str], where: str) -> ExchangeQuestion | Skipped | None:
    """One row as a question; Skipped with the reason; None for an empty row."""
    cells = {f: _text(row[i]) if i < len(row) else "" for i, f in columns.items()}
    if not any(v.strip() for v in cells.values()):
        return None
    cells = {f: unprotect(v) for f, v in cells.items()}
    qid = cells.get("id", "").strip()
    text = cells.get("text", "").replace("\r\n", "\n").strip()
    if not qid:
        return Skipped(where, "no id: give each question an id in the id column")
    label = f"{where} ({qid})"
    if not text:
        return Skipped(label, "no text: the text column is empty")
    for name, value in cells.items():
        limit = text_limit(name if name not in ("outcomes", "methods") else "title")
        if name != "probes" and len(value) > limit:
            return Skipped(label, f"{name} is {len(value):,} characters long, over the {limit:,} a question may hold")
    minutes: int | None = None
    raw_minutes = cells.get("minutes", "").strip()
    if raw_minutes:
        try:
            number = float(raw_minutes)
        except ValueError:
            return Skipped(label, f"minutes {raw_minutes!r} is not a whole number")
        if not number.is_integer() or not 1 <= number <= MAX_QUESTION_MINUTES:
            return Skipped(label, f"minutes {raw_minutes!r} is not a whole number from 1 to {MAX_QUESTION_MINUTES}")
        minutes = int(number)
    probes = split_probes(cells.get("probes", ""))
    long_probe = next((p for p in probes if len(p) > text_limit("probes")), None)
    if long_probe is not None:
        return Skipped(label, f"a probe is {len(long_probe):,} characters long, over {text_limit('probes'):,}")
    return ExchangeQuestion(
        id=qid,
        text=text,
        outcomes=split_list(cells.get("outcomes", "")),
        methods=split_list(cells.get("methods", "")),
        minutes=minutes,
        probes=probes,
        guidance=cells.get("guidance", "").replace("\r\n", "\n").strip(),
        topic=cells.get("topic", "").strip(),
        author=cells.get("author", "").strip(),
        where=where,
    )


def _collect(rows: Iterator[list[Any]], shown: str, result: ReadResult, first_row: int = 1) -> ReadResult:
    """Header then rows into `result` (numbered as a spreadsheet shows them)."""
    header = next(rows, None)
    if header is None:
        result.problems.append(f"{shown}: the file is empty: expected a header row ({', '.join(FIELDS)})")
        return result
    columns = read_header(list(header), shown, result.problems)
    if columns is None:
        return result
    n = 0
    for number, row in enumerate(rows, start=first_row + 1):
        got = question_of(list(row), columns, f"row {number}")
        if got is None:
            continue
        n += 1
        if n > MAX_ROWS:
            result.questions.clear()
            result.skipped.clear()
            result.problems.append(
                f"{shown}: more than {MAX_ROWS:,} question rows: split the file (a bank of that size is "
                "converted in parts, each a file of its own)"
            )
            return result
        if isinstance(got, Skipped):
            result.skipped.append(got)
        else:
            result.questions.append(got)
    return result


# --------------------------------------------------------------------------- CSV


def decode_csv(raw: bytes, shown: str) -> str:
    """The text of a CSV file: UTF-8 (BOM or none) or UTF-16 with its BOM; ExchangeError otherwise."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            raise ExchangeError(
                f"{shown}: starts as UTF-16 text but is not valid UTF-16: save it as CSV UTF-8"
            ) from None
    if raw.startswith(_UTF8_BOM):
        raw = raw[len(_UTF8_BOM) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        byte = raw[e.start]
        guess = ""
        try:
            ch = bytes([byte]).decode("cp1252")
            guess = f", which is '{ch}' in Windows-1252"
        except UnicodeDecodeError:
            pass
        raise ExchangeError(
            f"{shown}: not UTF-8 text (byte 0x{byte:02X} at offset {e.start}, line {line}{guess}): save it as "
            '"CSV UTF-8 (comma delimited)" (Excel: File > Save As) and convert again'
        ) from None


def _delimiter(first_line: str) -> str:
    """The delimiter the header row uses: the one that splits it into the most known columns."""
    best, score = ",", -1
    for d in (",", ";", "\t"):
        names = next(csv.reader([first_line], delimiter=d), [])
        known = sum(1 for n in names if _key(n) in _BY_KEY)
        if known > score:
            best, score = d, known
    return best


def read_csv(path: Path) -> ReadResult:
    shown = display_path(path)
    result = ReadResult(format="csv")
    try:
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            result.problems.append(
                f"{shown}: {size / 1024 / 1024:,.0f} MB is over the {MAX_CSV_BYTES // 1024 // 1024} MB a CSV bank "
                "may be: split it"
            )
            return result
        raw = path.read_bytes()
    except OSError as e:
        result.problems.append(f"{shown}: cannot read: {e.strerror or e}")
        return result
    try:
        text = decode_csv(raw, shown)
    except ExchangeError as e:
        result.problems.append(str(e))
        return result
    if "\x00" in text:
        result.problems.append(f"{shown}: holds NUL bytes: not a CSV text file (an XLSX or other binary file?)")
        return result
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    try:
        return _collect(iter(reader), shown, result)
    except csv.Error as e:
        result.questions.clear()
        result.skipped.clear()
        result.problems.append(f"{shown}: line {reader.line_num}: not valid CSV ({e}): check its quotes")
        return result


def csv_text(questions: Iterable[ExchangeQuestion]) -> str:
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(FIELDS)
    for q in questions:
        w.writerow(row_of(q))
    return "\ufeff" + out.getvalue()


def write_csv(questions: Iterable[ExchangeQuestion], path: Path) -> None:
    """The questions as CSV (UTF-8 with a BOM, so Excel reads accents) at `path` (opened as given:
    `export` passes a fresh temporary file)."""
    text = csv_text(questions)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


# --------------------------------------------------------------------------- XLSX


def _check_zip(path: Path, shown: str) -> str | None:
    """Why an XLSX file must not be opened (a zip bomb, not a zip), or None."""
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(i.file_size for i in z.infolist())
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        return f"{shown}: not a readable XLSX file ({e})"
    if total > MAX_UNPACKED:
        return (
            f"{shown}: would unpack to {total / 1024**3:,.1f} GB, over the {MAX_UNPACKED // 1024**3} GB limit: "
            "not a question bank (or split it)"
        )
    if "xl/workbook.xml" not in names:
        return f"{shown}: a zip file, but not an XLSX workbook (no xl/workbook.xml); save it from Excel as .xlsx"
    return None


# what openpyxl raises on a damaged workbook: a missing part (KeyError), bad XML (SyntaxError: the
# parsers' ParseError), a bad value or an XML entity defusedxml refuses (ValueError), a truncated
# zip member (zlib.error, EOFError, BadZipFile), its own InvalidFileException
_DAMAGED: tuple[type[BaseException], ...] = (
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
    SyntaxError,
    EOFError,
    OSError,
    zlib.error,
    zipfile.BadZipFile,
)


def _why(e: BaseException) -> str:
    """One line saying what is wrong with a workbook openpyxl could not read."""
    seen: BaseException | None = e
    while seen is not None:
        if type(seen).__module__.startswith("defusedxml"):
            return "its XML declares entities or a DTD (an XML bomb or an external entity), which are refused"
        seen = seen.__cause__ or seen.__context__
    return " ".join(f"{type(e).__name__}: {e}".split())


def read_xlsx(path: Path) -> ReadResult:
    """The first worksheet (or the one named "questions"), streamed: openpyxl in read-only mode."""
    shown = display_path(path)
    result = ReadResult(format="xlsx")
    wrong = _check_zip(path, shown)
    if wrong:
        result.problems.append(wrong)
        return result
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    damaged = (*_DAMAGED, InvalidFileException)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except damaged as e:  # openpyxl raises many kinds on a damaged file: each is this file's problem
        result.problems.append(f"{shown}: cannot be read as XLSX ({_why(e)})")
        return result
    try:
        names = wb.sheetnames
        if not names:
            result.problems.append(f"{shown}: the workbook has no worksheet")
            return result
        sheet = wb[next((n for n in names if n.strip().lower() == "questions"), names[0])]
        rows = (list(r) for r in sheet.iter_rows(values_only=True))
        return _collect(rows, f"{shown} (sheet {sheet.title!r})", result)
    except damaged as e:  # a damaged part found while streaming (or an XML entity, refused by defusedxml)
        result.questions.clear()
        result.skipped.clear()
        result.problems.append(f"{shown}: cannot be read as XLSX ({_why(e)})")
        return result
    finally:
        wb.close()


def write_xlsx(questions: Iterable[ExchangeQuestion], path: Path) -> None:
    """The questions as XLSX (one sheet "questions"), streamed with openpyxl's write-only mode;
    every text cell typed as text (never a formula). ExchangeError when a cell would exceed what
    Excel holds."""
    import openpyxl
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("questions")
    widths = {"id": 14, "text": 60, "outcomes": 14, "methods": 24, "minutes": 8, "probes": 60, "guidance": 60}
    for i, f in enumerate(FIELDS):
        ws.column_dimensions[_column_letter(i)].width = widths.get(f, 20)
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    wrapped = {FIELDS.index(f) for f in ("text", "probes", "guidance")}

    def cell(value: Any, style: Font | Alignment | None = None) -> Any:
        """A text cell typed as text (openpyxl would make "=..." a formula; `protect` already keeps
        every text from starting so, and this makes sure); the long texts wrapped. Other values go
        in as they are (a styled cell object is openpyxl's slowest path)."""
        if style is None and not (isinstance(value, str) and value.startswith("=")):
            return value
        c = WriteOnlyCell(ws, value=value)
        if isinstance(value, str):
            c.data_type = "s"
        if isinstance(style, Font):
            c.font = style
        elif isinstance(style, Alignment):
            c.alignment = style
        return c

    ws.append([cell(f, bold) for f in FIELDS])
    for q in questions:
        row = row_of(q)
        for f, v in zip(FIELDS, row, strict=True):
            if isinstance(v, str) and len(v) > XLSX_CELL_LIMIT:
                raise ExchangeError(
                    f"question {q.id}: its {f} is {len(v):,} characters, over the {XLSX_CELL_LIMIT:,} an XLSX cell "
                    "holds: export as CSV"
                )
        ws.append([cell(v, wrap if i in wrapped and v else None) for i, v in enumerate(row)])
    wb.save(path)
