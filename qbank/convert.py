"""`qbank convert`: questions held elsewhere (a spreadsheet, a Moodle course's question bank, a QTI
item bank) into draft questions of a standard, in the bank's TOML format.

The format is found from the file's content, not its name (`detect_format`): a zip holding
`imsmanifest.xml` is a QTI package, one holding `xl/workbook.xml` an XLSX workbook; XML whose root
is `<quiz>` is Moodle XML, `<qti-assessment-item>` a QTI 3.0 item (and a folder holding
`imsmanifest.xml` an unpacked QTI package); anything else is read as CSV.
The reader gives `ExchangeQuestion`s; each is then fitted to the standard, with the writer's map
file (`MAP.toml`, below) for names the source uses that the standard does not:

- outcomes: every code in the question's outcomes must be an outcome of the standard, directly
  or through the map's [tags]; its tags (Moodle tags, QTI categories) count when they are outcome
  codes or mapped, and the others are listed as not mapped;
- methods: method ids of the standard, method names, or the map's [methods]; none given takes the
  map's default, or the standard's only method;
- topic through the map's [topics]; minutes, topic and author default from the map's [defaults]
  (minutes otherwise 8, as `qbank new question`).

A question that cannot be fitted is skipped with the reason; one whose id is already used in the
bank (any standard, any release, any question file) is a clash and skipped: nothing is ever
overwritten. What is made is written as `status = "draft"` (never approved: it goes through review
and release like any question) to `questions/imported-<file name>.toml` of the standard, or
`--into`, appended when that file exists, then read back with the bank's own reader and checked
against what was meant; if it does not read back the same, the file is restored as it was. If the
source cannot be read at all, nothing is written.

The map file (every table optional):

    [tags]        # a tag or outcome name in the source -> outcome code(s) of the standard
    "leadership" = ["K1", "S2"]
    "Strategy" = "K1"
    [methods]     # a method name in the source -> method id(s)
    "PD" = "professional-discussion"
    [topics]      # a topic or category path in the source -> the topic to write
    "Improvement/Strategy" = "Strategy development"
    [defaults]    # for questions that give none
    methods = ["professional-discussion"]
    minutes = 8
    topic = "Imported"
    author = "Full Name"

Names are matched as written, then ignoring case and surrounding spaces.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from .bank_types import ID_RE, Standard
from .exchange import ExchangeError, ExchangeQuestion, ReadResult, Skipped
from .fields import normalise_text, suggest
from .limits import MAX_ID, MAX_QUESTION_MINUTES, control_character, text_limit
from .problems import BankError, Problem, display_path

DEFAULT_MINUTES = 8  # as `qbank new question`
MAP_TABLES = ("tags", "methods", "topics", "defaults")
MAP_DEFAULTS = ("methods", "minutes", "topic", "author")
_SNIFF = 64 * 1024


# --------------------------------------------------------------------------- format


def detect_format(path: Path) -> str:
    """qti, xlsx, moodle or csv, from the file's content; ExchangeError for what none can read."""
    shown = display_path(path)
    if path.is_dir():
        if (path / "imsmanifest.xml").is_file():
            return "qti"  # an unpacked QTI package
        raise ExchangeError(
            f"{shown} is a folder (and not an unpacked QTI package: no imsmanifest.xml): give a .csv, .xlsx, "
            "Moodle .xml or QTI .xml/.zip file"
        )
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF)
    except OSError as e:
        raise ExchangeError(f"{shown}: cannot read: {e.strerror or e}") from None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            raise ExchangeError(f"{shown}: starts like a zip file but cannot be opened as one ({e})") from None
        if any(n == "imsmanifest.xml" or n.endswith("/imsmanifest.xml") for n in names):
            return "qti"
        if "xl/workbook.xml" in names:
            return "xlsx"
        raise ExchangeError(
            f"{shown}: a zip file that is neither a QTI package (no imsmanifest.xml) nor an XLSX workbook"
        )
    if head.startswith((b"\xd0\xcf\x11\xe0",)):
        raise ExchangeError(f"{shown}: an old Excel (.xls) file: save it as .xlsx or CSV UTF-8 and convert that")
    root = _xml_root(head)
    if root is not None:
        local = root.rsplit(":", 1)[-1]
        if local == "quiz":
            return "moodle"
        if local in ("qti-assessment-item", "manifest"):
            return "qti"
        if local in ("assessmentItem", "questestinterop"):
            raise ExchangeError(
                f"{shown}: QTI 2.x or 1.2 (<{local}>): only QTI 3.0 items (<qti-assessment-item>) are read; "
                "export QTI 3.0 from the item bank"
            )
        raise ExchangeError(
            f"{shown}: XML whose root is <{root}>: neither Moodle XML (<quiz>) nor a QTI 3.0 item "
            "(<qti-assessment-item>)"
        )
    return "csv"


_XML_SKIP = re.compile(rb"\s*(<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)", re.S)
_XML_TAG = re.compile(rb"\s*<([A-Za-z_][\w.:-]*)")


def _xml_root(head: bytes) -> str | None:
    """The root element's name when `head` starts as XML (after a BOM, declarations, comments)."""
    text = head
    for bom in (b"\xef\xbb\xbf",):
        if text.startswith(bom):
            text = text[len(bom) :]
    if text.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = head.decode("utf-16", errors="ignore").encode("utf-8")
        except UnicodeError:
            return None
    if not text.lstrip().startswith(b"<"):
        return None
    pos = 0
    while True:
        m = _XML_SKIP.match(text, pos)
        if not m:
            break
        pos = m.end()
    m = _XML_TAG.match(text, pos)
    return m.group(1).decode("ascii", "replace") if m else "?"


def read_source(path: Path, fmt: str | None = None) -> ReadResult:
    """The questions of `path`, read by the reader of its format (found from its content)."""
    fmt = fmt or detect_format(path)
    if fmt == "csv":
        from .tabular import read_csv

        return read_csv(path)
    if fmt == "xlsx":
        from .tabular import read_xlsx

        return read_xlsx(path)
    from .export import _optional

    reader = _optional(fmt, "read_moodle" if fmt == "moodle" else "read_qti")
    result: ReadResult = reader(path)
    return result


# --------------------------------------------------------------------------- the map file


@dataclass
class MapFile:
    tags: dict[str, list[str]] = field(default_factory=dict)
    methods: dict[str, list[str]] = field(default_factory=dict)
    topics: dict[str, str] = field(default_factory=dict)
    default_methods: list[str] = field(default_factory=list)
    default_minutes: int | None = None
    default_topic: str = ""
    default_author: str = ""
    path: str = ""

    @staticmethod
    def _lookup(table: dict[str, Any], name: str) -> Any:
        if name in table:
            return table[name]
        folded = name.strip().casefold()
        for k, v in table.items():
            if k.strip().casefold() == folded:
                return v
        return None


def read_map(path: Path) -> MapFile:
    """The map file, every value checked; ExchangeError naming the key and the fix otherwise."""
    import tomli

    shown = display_path(path)
    try:
        data = tomli.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ExchangeError(f"{shown}: cannot read the map file: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ExchangeError(f"{shown}: the map file is not UTF-8 text: save it as UTF-8") from None
    except tomli.TOMLDecodeError as e:
        raise ExchangeError(f"{shown}: the map file is not valid TOML ({e})") from None
    m = MapFile(path=shown)
    for key, value in data.items():
        if key not in MAP_TABLES:
            guess = suggest(key, MAP_TABLES)
            hint = f"did you mean [{guess}]?" if guess else f"the tables are {', '.join(f'[{t}]' for t in MAP_TABLES)}"
            raise ExchangeError(f"{shown}: unknown table [{key}]: {hint}")
        if not isinstance(value, dict):
            raise ExchangeError(f"{shown}: '{key}' must be a table ([{key}] followed by \"name\" = value lines)")

    def codes(table: str, k: str, v: Any) -> list[str]:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not v or not all(isinstance(x, str) and x.strip() for x in v):
            raise ExchangeError(f'{shown}: [{table}] "{k}" must be a code or a list of codes, e.g. ["K1", "S2"]')
        return [x.strip() for x in v]

    m.tags = {k: codes("tags", k, v) for k, v in data.get("tags", {}).items()}
    m.methods = {k: codes("methods", k, v) for k, v in data.get("methods", {}).items()}
    for k, v in data.get("topics", {}).items():
        if not isinstance(v, str) or not v.strip():
            raise ExchangeError(f'{shown}: [topics] "{k}" must be a topic, e.g. "Strategy development"')
        m.topics[k] = v.strip()
    defaults = data.get("defaults", {})
    for k in defaults:
        if k not in MAP_DEFAULTS:
            guess = suggest(k, MAP_DEFAULTS)
            hint = f"did you mean '{guess}'?" if guess else f"the defaults are {', '.join(MAP_DEFAULTS)}"
            raise ExchangeError(f"{shown}: unknown key '{k}' in [defaults]: {hint}")
    if "methods" in defaults:
        m.default_methods = codes("defaults", "methods", defaults["methods"])
    if "minutes" in defaults:
        v = defaults["minutes"]
        if type(v) is not int or not 1 <= v <= 120:
            raise ExchangeError(f"{shown}: [defaults] minutes must be a whole number from 1 to 120")
        m.default_minutes = v
    for k in ("topic", "author"):
        if k in defaults:
            v = defaults[k]
            if not isinstance(v, str):
                raise ExchangeError(f'{shown}: [defaults] {k} must be text, e.g. {k} = "..."')
            setattr(m, f"default_{k}", v.strip())
    return m


# --------------------------------------------------------------------------- the report


@dataclass
class Made:
    id: str
    where: str
    outcomes: list[str]
    methods: list[str]


@dataclass
class ConvertReport:
    source: str
    format: str
    standard: str
    into: str = ""
    made: list[Made] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    clashes: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. tags that mapped to nothing
    problems: list[str] = field(default_factory=list)  # the file could not be read: nothing written
    written: bool = False

    @property
    def ok(self) -> bool:
        return self.written and not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "standard": self.standard,
            "into": self.into,
            "written": self.written,
            "made": [m.__dict__ for m in self.made],
            "skipped": [s.__dict__ for s in self.skipped],
            "clashes": [c.__dict__ for c in self.clashes],
            "notes": self.notes,
            "problems": self.problems,
        }


# --------------------------------------------------------------------------- fitting to the standard


def _match(name: str, choices: dict[str, Any]) -> str | None:
    if name in choices:
        return name
    folded = name.strip().casefold()
    return next((c for c in choices if c.casefold() == folded), None)


def fit(q: ExchangeQuestion, std: Standard, mp: MapFile, unmapped: dict[str, int]) -> ExchangeQuestion | str:
    """`q` with outcomes, methods, topic, minutes and author as the standard names them, or why not."""
    outcomes: list[str] = []
    for o in q.outcomes:
        hit = _match(o, std.outcomes)
        mapped = MapFile._lookup(mp.tags, o)
        if hit:
            outcomes.append(hit)
        elif mapped:
            outcomes.extend(mapped)
        else:
            guess = suggest(o, std.outcomes)
            hint = f" (did you mean {guess}?)" if guess else ""
            return f"outcome '{o}' is not an outcome of {std.code}{hint}, and no map file [tags] entry maps it"
    for t in q.tags:
        hit = _match(t, std.outcomes)
        mapped = MapFile._lookup(mp.tags, t)
        if hit:
            outcomes.append(hit)
        elif mapped:
            outcomes.extend(mapped)
        else:
            unmapped[t] = unmapped.get(t, 0) + 1
    bad = [o for o in outcomes if o not in std.outcomes]
    if bad:
        return f"the map file maps to {', '.join(bad)}, not outcomes of {std.code} (fix {mp.path or 'the map'})"
    outcomes = list(dict.fromkeys(outcomes))
    if not outcomes:
        what = f"tags {', '.join(q.tags)} map" if q.tags else "it names"
        return f"no outcomes: {what} no outcome of {std.code}; give outcome codes, or map its tags in a map file [tags]"
    by_name = {m.name: k for k, m in std.methods.items()}
    methods: list[str] = []
    for m in q.methods:
        hit = _match(m, std.methods)
        named = _match(m, by_name)
        mapped = MapFile._lookup(mp.methods, m)
        if hit:
            methods.append(hit)
        elif named:
            methods.append(by_name[named])
        elif mapped:
            methods.extend(mapped)
        else:
            guess = suggest(m, std.methods)
            hint = f"did you mean {guess}?" if guess else f"methods: {', '.join(std.methods)}"
            return f"method '{m}' is not a method of {std.code} ({hint}); or map it in a map file [methods]"
    if not methods:
        methods = list(mp.default_methods)
        if not methods and len(std.methods) == 1:
            methods = list(std.methods)
    if not methods:
        return (
            f"no methods: give them (a methods column), or a default in a map file: [defaults] methods = "
            f'["{next(iter(std.methods), "method-id")}"]'
        )
    bad = [m for m in methods if m not in std.methods]
    if bad:
        return f"the map file names {', '.join(bad)}, not methods of {std.code} (methods: {', '.join(std.methods)})"
    methods = list(dict.fromkeys(methods))
    topic = MapFile._lookup(mp.topics, q.topic) if q.topic else None
    fitted = ExchangeQuestion(
        id=q.id.strip(),
        text=normalise_text(q.text),
        outcomes=outcomes,
        methods=methods,
        minutes=q.minutes if q.minutes is not None else (mp.default_minutes or DEFAULT_MINUTES),
        probes=[normalise_text(p) for p in q.probes if p.strip()],
        guidance=normalise_text(q.guidance),
        topic=normalise_text(topic or q.topic or mp.default_topic),
        author=normalise_text(q.author or mp.default_author),
        version=None,
        tags=list(q.tags),
        where=q.where,
    )
    return _check_values(fitted) or fitted


def _check_values(q: ExchangeQuestion) -> str | None:
    """What the bank would refuse in a fitted question (limits, control characters), or None."""
    if not ID_RE.match(q.id) or len(q.id) > MAX_ID:
        return (
            f"id {q.id[:80]!r} is not a valid question id (letters, digits, '.', '_' or '-', starting with a letter "
            f"or digit, at most {MAX_ID} characters): give it one in the source"
        )
    if not q.text.strip():
        return "no text"
    if q.minutes is None or not 1 <= q.minutes <= MAX_QUESTION_MINUTES:
        return f"minutes {q.minutes} is not a whole number from 1 to {MAX_QUESTION_MINUTES}"
    texts = [("text", q.text), ("guidance", q.guidance), ("topic", q.topic), ("author", q.author)]
    texts += [("probes", p) for p in q.probes]
    for name, value in texts:
        if len(value) > text_limit(name):
            return f"its {name} is {len(value):,} characters, over the {text_limit(name):,} a bank allows"
        bad = control_character(value)
        if bad:
            return f"its {name} holds a control character ({bad[1]}, character {bad[0] + 1}), which a bank may not hold"
    if len(set(q.probes)) < len(q.probes):
        return "two of its probes are the same: remove one"
    return None


# --------------------------------------------------------------------------- writing


_CONTROL_ESC = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def toml_string(s: str) -> str:
    """A TOML string for `s`: a multi-line basic string when it has line breaks, else JSON's form."""
    import json

    if "\n" not in s:
        return json.dumps(s, ensure_ascii=False)
    body = s.replace("\\", "\\\\")
    body = _CONTROL_ESC.sub(lambda m: f"\\u{ord(m.group()):04x}", body)
    body = body.replace('"""', '""\\"')
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    return '"""\n' + body + '\n"""'


def question_block(q: ExchangeQuestion) -> str:
    import json

    def lst(v: list[str]) -> str:
        return json.dumps(v, ensure_ascii=False)

    lines = [
        "[[question]]",
        f"id = {json.dumps(q.id, ensure_ascii=False)}",
        "version = 1",
        'status = "draft"                      # imported: review, then approve',
        f"methods = {lst(q.methods)}",
        f"outcomes = {lst(q.outcomes)}",
        f"minutes = {q.minutes}",
    ]
    if q.topic:
        lines.append(f"topic = {toml_string(q.topic)}")
    if q.author:
        lines.append(f"author = {toml_string(q.author)}")
    lines.append(f"text = {toml_string(q.text)}")
    if q.probes:
        lines.append("probes = [")
        lines += [f"  {toml_string(p)}," for p in q.probes]
        lines.append("]")
    if q.guidance:
        lines.append(f"guidance = {toml_string(q.guidance)}")
    return "\n".join(lines) + "\n"


def file_header(code: str, source: str, fmt: str) -> str:
    import json

    return (
        f"# Draft questions imported by `qbank convert` from {source} ({fmt}) on {date.today().isoformat()}.\n"
        "# Each goes through review (a second person) and approval before `qbank release`; the format is in\n"
        "# banks/README.md.\n"
        f"standard = {json.dumps(code)}\n"
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "questions"


def _target(std: Standard, source: Path, into: Path | None) -> Path:
    if into is None:
        assert std.folder is not None
        return std.folder / "questions" / f"imported-{_slug(source.stem)}.toml"
    if into.is_dir():
        return into / f"imported-{_slug(source.stem)}.toml"
    if into.suffix != ".toml":
        raise ExchangeError(f"--into {display_path(into)}: give a .toml file or a folder (e.g. banks/CODE/questions)")
    return into


def _taken_ids(bank: Any) -> dict[str, str]:
    taken: dict[str, str] = {}
    for q in bank.questions:
        taken.setdefault(q.id, f"{q.path}:{q.line}" if q.line else q.path)
    for qid in bank.unreadable:
        taken.setdefault(qid, "a question block with errors (run `qbank validate`)")
    for rels in bank.releases.values():
        for rel in rels:
            for item in rel.items:
                taken.setdefault(item.question.id, f"release {rel.standard} {rel.semver}")
    return taken


def _same(a: ExchangeQuestion, q: Any) -> bool:
    return (
        q.text == a.text
        and list(q.probes) == a.probes
        and q.guidance == a.guidance
        and list(q.outcomes) == a.outcomes
        and list(q.methods) == a.methods
        and q.minutes == a.minutes
        and q.topic == a.topic
        and q.status == "draft"
    )


def write_drafts(target: Path, code: str, questions: list[ExchangeQuestion], source: str, fmt: str) -> None:
    """Append (or write) the draft blocks, read the file back with the bank's reader and compare;
    on any difference or error the file is put back as it was (or removed) and BankError raised."""
    from .bankfiles import read_question_file
    from .safe_write import write_output

    blocks = "\n".join(question_block(q) for q in questions)
    before: str | None = None
    if target.exists():
        import tomli

        before = target.read_text(encoding="utf-8")
        try:
            head = tomli.loads(before).get("standard")
        except tomli.TOMLDecodeError as e:
            raise BankError(
                f"{display_path(target)} cannot be read ({e}): fix it, or convert --into another file"
            ) from None
        if head != code:
            raise BankError(
                f"{display_path(target)} holds questions of {head!r}, not {code}: convert --into another file"
            )
        text = before + ("" if before.endswith("\n") else "\n") + "\n" + blocks
    else:
        if not target.parent.is_dir():
            target.parent.mkdir(parents=True, exist_ok=True)
        text = file_header(code, source, fmt) + "\n" + blocks
    write_output(target, text)
    problems: list[Problem] = []
    _, read = read_question_file(target, problems)
    errors = [p for p in problems if p.is_error]
    by_id = {q.id: q for q in read}
    wrong = [q.id for q in questions if q.id not in by_id or not _same(q, by_id[q.id])]
    if errors or wrong:
        if before is None:
            target.unlink()
        else:
            write_output(target, before)
        detail = f" (read back differently: {', '.join(wrong[:5])})" if wrong else ""
        raise BankError(
            f"{display_path(target)}: the drafts did not read back as written{detail}, so the file was left as it was "
            "(a bug: please report it with the source file)",
            errors,
        )


# --------------------------------------------------------------------------- convert


def convert(
    path: Path | str,
    standard: str,
    bank_root: Path | str,
    into: Path | str | None = None,
    map_path: Path | str | None = None,
) -> ConvertReport:
    """Read `path`, fit its questions to `standard` (found under `bank_root`) and write the drafts.
    Raises ExchangeError/BankError for what stops the command (a standard or map that cannot be
    read); a source that cannot be read gives a report with `problems` and writes nothing."""
    from .validation import load_bank

    path, root = Path(path), Path(bank_root)
    shown = display_path(path)
    if not path.exists():
        raise ExchangeError(f"{shown}: no such file")
    if not root.is_dir():
        raise BankError(f"{display_path(root)} is not a bank folder: give it with --path")
    mp = read_map(Path(map_path)) if map_path else MapFile()
    bank = load_bank(root, health=False)
    std = bank.standards.get(standard)
    if std is None:
        known = ", ".join(sorted(bank.standards)) or "none"
        raise BankError(f"no standard {standard} under {display_path(root)} (standards: {known})")
    std_errors = [p for p in bank.errors if p.file == std.path]
    if std_errors:
        raise BankError(f"{std.path} has {len(std_errors)} problem(s): fix them before converting", std_errors)
    fmt = detect_format(path)
    report = ConvertReport(source=shown, format=fmt, standard=standard)
    result = read_source(path, fmt)
    report.skipped.extend(result.skipped)
    if result.problems:
        report.problems.extend(result.problems)
        return report
    target = _target(std, path, Path(into) if into else None)
    report.into = display_path(target)
    taken = _taken_ids(bank)
    seen: dict[str, str] = {}
    unmapped: dict[str, int] = {}
    made: list[ExchangeQuestion] = []
    for q in result.questions:
        where = q.where or f"question {q.id}"
        label = where if q.id and q.id in where else f"{where} ({q.id})"
        got = fit(q, std, mp, unmapped)
        if isinstance(got, str):
            report.skipped.append(Skipped(label, got))
            continue
        if got.id in taken:
            report.clashes.append(Skipped(label, f"id {got.id} is already used ({taken[got.id]}): not overwritten"))
            continue
        if got.id in seen:
            report.skipped.append(
                Skipped(label, f"id {got.id} is also {seen[got.id]} of this file: only the first is kept")
            )
            continue
        seen[got.id] = where
        made.append(got)
        report.made.append(Made(id=got.id, where=where, outcomes=got.outcomes, methods=got.methods))
    for tag, n in sorted(unmapped.items()):
        report.notes.append(
            f"tag '{tag}' ({n} question{'s' if n != 1 else ''}) is not an outcome of {standard} "
            "and not in the map: ignored"
        )
    if made:
        write_drafts(target, standard, made, shown, fmt)
        report.written = True
    return report
