"""Reading bank files: standard files, question files and release manifests.

Parsing is lenient in one way only: it never stops at the first problem. Every problem found is
recorded with its file, line, question id and fix, and whatever could be read is returned, so
`qbank validate` can report everything at once. Cross-file checks live in `validation`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rapidfuzz import fuzz, process

try:  # tomli ships compiled wheels, ~3x faster than the standard library's pure-Python tomllib
    import tomli as toml_parser
except ImportError:  # pragma: no cover - same API, same errors
    import tomllib as toml_parser

from .problems import Problem, display_path

GROUPS = ("knowledge", "skill", "behaviour", "criterion")
STATUSES = ("draft", "approved", "retired")
BANDS = ("fail", "pass", "merit", "distinction")
METHOD_KINDS = (
    "presentation questioning",
    "professional discussion",
    "oral report questioning",
    "progress review",
    "interview",
    "project showcase questioning",
)
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
METHOD_ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
OUTCOME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

DEFAULT_MIN_PER_OUTCOME = 3
DEFAULT_NEAR_DUPLICATE = 90


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Outcome:
    code: str
    title: str
    group: str


@dataclass(frozen=True)
class Method:
    id: str
    name: str
    kind: str
    minutes: int
    min_questions: int
    assesses: tuple[str, ...]


@dataclass
class Standard:
    code: str
    title: str
    level: int
    version: str
    source: str = ""
    notes: str = ""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    methods: dict[str, Method] = field(default_factory=dict)
    min_per_outcome: int = DEFAULT_MIN_PER_OUTCOME
    near_duplicate_threshold: int = DEFAULT_NEAR_DUPLICATE
    grading: dict = field(default_factory=dict)
    grading_rules: object = None  # grading.GradingRules, read from `grading` by gradingfile.read_grading
    path: str = ""
    folder: Path | None = None
    lines: dict[str, int] = field(default_factory=dict)  # "method:<id>" / "outcome:<code>" -> line

    def definition(self) -> dict:
        """The standard's definition as frozen into a release (everything but prose notes)."""
        return {
            "code": self.code,
            "title": self.title,
            "level": self.level,
            "version": self.version,
            "source": self.source,
            "outcomes": [{"code": o.code, "group": o.group, "title": o.title} for o in self.outcomes.values()],
            "methods": [
                {
                    "id": m.id,
                    "name": m.name,
                    "kind": m.kind,
                    "minutes": m.minutes,
                    "min_questions": m.min_questions,
                    "assesses": list(m.assesses),
                }
                for m in self.methods.values()
            ],
            "checks": {
                "min_questions_per_outcome": self.min_per_outcome,
                "near_duplicate_threshold": self.near_duplicate_threshold,
            },
            "grading": self.grading,
        }


@dataclass
class Question:
    id: str
    version: int
    status: str
    standard: str
    methods: tuple[str, ...]
    outcomes: tuple[str, ...]
    minutes: int
    text: str
    probes: tuple[str, ...] = ()
    guidance: str = ""
    bands: dict[str, str] = field(default_factory=dict)
    opener: bool = False
    topic: str = ""
    author: str = ""
    path: str = ""
    line: int | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def content(self) -> dict:
        """Everything that makes up a question version; changing any of it needs a new version."""
        return {
            "text": self.text,
            "probes": list(self.probes),
            "guidance": self.guidance,
            "bands": dict(sorted(self.bands.items())),
            "methods": sorted(self.methods),
            "outcomes": sorted(self.outcomes),
            "minutes": self.minutes,
            "topic": self.topic,
            "opener": self.opener,
        }

    @cached_property
    def content_hash(self) -> str:  # content never changes after reading, so hash it once
        return content_hash(self.content())

    def field_line(self, name: str) -> int | None:
        return self.lines.get(name, self.line)


def content_hash(content: dict) -> str:
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class ReleaseItem:
    question: Question
    hash: str


@dataclass
class Release:
    standard: str
    semver: str
    created: str
    definition: dict
    items: list[ReleaseItem]
    path: str = ""

    @property
    def key(self) -> tuple[int, int, int]:
        return semver_key(self.semver)

    def manifest_hash(self) -> str:
        return content_hash(
            {
                "definition": self.definition,
                "items": sorted((i.question.id, i.question.version, i.hash) for i in self.items),
            }
        )


def semver_key(s: str) -> tuple[int, int, int]:
    m = SEMVER_RE.match(s)
    if not m:
        raise ValueError(s)
    return (int(m[1]), int(m[2]), int(m[3]))


def normalise_text(s: str) -> str:
    """Trim a multi-line string the way writers mean it: no outer blank lines or trailing spaces."""
    lines = [ln.rstrip() for ln in s.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).strip()


# --------------------------------------------------------------------------- line index


_HEADER_RE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")
_KEY_RE = re.compile(r"""^\s*("[^"]+"|'[^']+'|[A-Za-z0-9_-]+)\s*=""")


class LineIndex:
    """Maps TOML tables and keys to line numbers (tomllib gives none for valid documents)."""

    def __init__(self, text: str):
        self.blocks: list[tuple[str, int, dict[str, int]]] = []  # (header, line, {key: line})
        current: dict[str, int] = {}
        self.blocks.append(("", 1, current))
        in_multiline: str | None = None
        for no, raw in enumerate(text.splitlines(), start=1):
            line = raw
            if in_multiline:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            h = _HEADER_RE.match(line)
            if h and not _KEY_RE.match(line):
                current = {}
                self.blocks.append((line.strip().split("#")[0].strip(), no, current))
                continue
            k = _KEY_RE.match(line)
            if k:
                current.setdefault(k.group(1).strip("\"'"), no)
                rest = line[k.end():]
                for delim in ('"""', "'''"):
                    if rest.count(delim) % 2 == 1:
                        in_multiline = delim
                        break

    def headers(self, name: str) -> list[tuple[int, dict[str, int]]]:
        """The blocks of `[[name]]` or `[name]`, in order."""
        out = []
        for header, line, keys in self.blocks:
            inner = header.strip("[]").strip()
            if inner == name:
                out.append((line, keys))
        return out

    def top(self) -> dict[str, int]:
        return self.blocks[0][2]


# --------------------------------------------------------------------------- field checks


class Fields:
    """Checks one TOML table against a field list, recording problems with line and fix."""

    def __init__(self, table: dict, *, file: str, where: str, lines: dict[str, int], base_line: int | None,
                 problems: list[Problem], question: str | None = None):
        self.t = table
        self.file = file
        self.where = where
        self.lines = lines
        self.base_line = base_line
        self.problems = problems
        self.question = question
        self.known: set[str] = set()

    @property
    def w(self) -> str:
        return f"{self.where}: " if self.where else ""

    def line(self, name: str) -> int | None:
        return self.lines.get(name, self.base_line)

    def add(self, name: str | None, message: str, fix: str, check: str = "format", kind: str = "error") -> None:
        self.problems.append(
            Problem(
                file=self.file,
                line=self.line(name) if name else self.base_line,
                question=self.question,
                field=name,
                message=message,
                fix=fix,
                check=check,
                kind=kind,
            )
        )

    def _get(self, name: str, required: bool, type_name: str, example: str):
        self.known.add(name)
        if name not in self.t:
            if required:
                self.add(None, f"{self.w}missing required field '{name}'", f"add `{name} = {example}`")
            return None
        return self.t[name]

    def string(self, name: str, *, required: bool = True, example: str = '"..."', allow_empty: bool = False,
               pattern: re.Pattern | None = None, pattern_help: str = "", choices: tuple[str, ...] = ()) -> str | None:
        v = self._get(name, required, "string", example)
        if v is None:
            return None
        if not isinstance(v, str):
            self.add(name, f"{self.w}'{name}' must be a string, not {_toml_type(v)}", f"write `{name} = {example}`")
            return None
        v = normalise_text(v)
        if not v and not allow_empty:
            self.add(name, f"{self.w}'{name}' is empty", f"write the {name.replace('_', ' ')}, or remove the field")
            return None
        if pattern and v and not pattern.match(v):
            self.add(name, f"{self.w}'{name}' = {v!r} is not valid: {pattern_help}", f"use {pattern_help}")
            return None
        if choices and v not in choices:
            guess = _suggest(v, choices)
            hint = f"did you mean '{guess}'? " if guess else ""
            self.add(name, f"{self.w}'{name}' = {v!r} is not one of {', '.join(choices)}",
                     f"{hint}use one of: {', '.join(choices)}")
            return None
        return v

    def integer(self, name: str, *, required: bool = True, minimum: int | None = None, example: str = "1") -> int | None:
        v = self._get(name, required, "integer", example)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            shown = v.strip() if isinstance(v, str) and v.strip().lstrip("-").isdigit() else example
            self.add(name, f"{self.w}'{name}' must be a whole number, not {_toml_type(v)} {v!r}",
                     f"write `{name} = {shown}` (no quotes)")
            return None
        if minimum is not None and v < minimum:
            self.add(name, f"{self.w}'{name}' = {v} must be at least {minimum}", f"set `{name}` to {minimum} or more")
            return None
        return v

    def boolean(self, name: str, *, default: bool = False) -> bool:
        v = self._get(name, False, "boolean", "true")
        if v is None:
            return default
        if not isinstance(v, bool):
            self.add(name, f"{self.w}'{name}' must be true or false, not {_toml_type(v)} {v!r}",
                     f"write `{name} = true` or `{name} = false` (no quotes)")
            return default
        return v

    def string_list(self, name: str, *, required: bool = True, allow_empty: bool = False,
                    example: str = '["..."]') -> list[str] | None:
        v = self._get(name, required, "list", example)
        if v is None:
            return None
        if isinstance(v, str):
            self.add(name, f"{self.w}'{name}' must be a list, not a single string", f"write `{name} = [{json.dumps(v)}]`")
            return None
        if not isinstance(v, list):
            self.add(name, f"{self.w}'{name}' must be a list of strings, not {_toml_type(v)}", f"write `{name} = {example}`")
            return None
        bad = [x for x in v if not isinstance(x, str)]
        if bad:
            self.add(name, f"{self.w}'{name}' must hold only strings; found {bad[0]!r}", f"quote every item of `{name}`")
            return None
        items = [normalise_text(x) for x in v]
        if any(not x for x in items):
            self.add(name, f"{self.w}'{name}' has an empty item", f"remove the empty item from `{name}`")
            items = [x for x in items if x]
        if not items and not allow_empty:
            self.add(name, f"{self.w}'{name}' is empty", f"list at least one item in `{name}`")
            return None
        dupes = sorted({x for x in items if items.count(x) > 1})
        if dupes:
            self.add(name, f"{self.w}'{name}' lists {dupes[0]!r} twice", f"remove the repeated {dupes[0]!r}")
            items = list(dict.fromkeys(items))
        return items

    def table(self, name: str) -> dict | None:
        v = self._get(name, False, "table", "{ }")
        if v is None:
            return None
        if not isinstance(v, dict):
            self.add(name, f"{self.w}'{name}' must be a table, not {_toml_type(v)}", f"write it as `[{name}]` with keys below")
            return None
        return v

    def unknown(self, extra_known: tuple[str, ...] = ()) -> None:
        known = self.known | set(extra_known)
        for k in self.t:
            if k not in known:
                guess = _suggest(k, tuple(sorted(known)))
                fix = f"did you mean '{guess}'?" if guess else f"remove it; known fields: {', '.join(sorted(known))}"
                self.add(k, f"{self.w}unknown field '{k}'", fix)


def _toml_type(v) -> str:
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int):
        return "a number"
    if isinstance(v, float):
        return "a decimal number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "a table"
    return type(v).__name__


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    if not choices:
        return None
    hit = process.extractOne(word, list(choices), scorer=fuzz.ratio, score_cutoff=60)
    return hit[0] if hit else None


def suggest(word: str, choices) -> str | None:
    return _suggest(word, tuple(choices))


# --------------------------------------------------------------------------- reading files


def read_toml(path: Path, problems: list[Problem]) -> tuple[dict | None, str]:
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.append(Problem(file=shown, message=f"cannot read file: {e.strerror or e}", fix="check the path and permissions"))
        return None, ""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        problems.append(Problem(file=shown, line=line, message="file is not valid UTF-8 text",
                                fix="save the file as UTF-8"))
        return None, ""
    try:
        return toml_parser.loads(text), text
    except toml_parser.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m[1]) if m else None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", msg)
        if m:
            reason += f" (column {m[2]})"
        problems.append(Problem(file=shown, line=line, message=f"malformed TOML: {reason}",
                                fix=_toml_fix(reason, text, line)))
        return None, text


def _toml_fix(reason: str, text: str, line: int | None) -> str:
    r = reason.lower()
    src = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    if "cannot overwrite a value" in r or "cannot declare" in r:
        return "a key is set twice in the same table: keep one"
    if "unclosed" in r or "unterminated" in r or "illegal character" in r and '"' in src:
        return "close the string with a matching quote (use \"\"\"...\"\"\" for multi-line text)"
    if "invalid value" in r and src and "=" in src and '"' not in src.split("=", 1)[1] and "[" not in src:
        return 'text values need quotes: key = "value"'
    if "expected '=' after a key" in r or "expected" in r:
        return "each line is `key = value`; tables are `[name]` or `[[name]]`"
    return "fix the TOML syntax on that line (https://toml.io)"


def read_standard(path: Path, problems: list[Problem]) -> Standard | None:
    data, text = read_toml(path, problems)
    if data is None:
        return None
    shown = display_path(path)
    idx = LineIndex(text)
    before = len(problems)
    f = Fields(data, file=shown, where="standard", lines=idx.top(), base_line=1, problems=problems)
    code = f.string("code", pattern=ID_RE, pattern_help="letters, digits, '.', '_' or '-'", example='"ST0556"')
    title = f.string("title", example='"Improvement Leader"')
    level = f.integer("level", minimum=1, example="6")
    version = f.string("version", example='"1.0"')
    source = f.string("source", required=False, allow_empty=True) or ""
    notes = f.string("notes", required=False, allow_empty=True) or ""
    outcomes_t = f.table("outcomes")
    checks_t = f.table("checks")
    grading = f.table("grading") or {}
    methods_raw = f._get("method", True, "array", "[[method]] tables")
    f.unknown()

    std = Standard(code=code or "?", title=title or "", level=level or 0, version=version or "",
                   source=source, notes=notes, grading=grading, path=shown, folder=path.parent)

    # outcomes
    outcome_lines = (idx.headers("outcomes") or [(None, {})])[0]
    if outcomes_t is None and "outcomes" not in data:
        problems.append(Problem(file=shown, line=1, field="outcomes", message="standard: no [outcomes] table",
                                fix='add `[outcomes]` with lines like `K1 = { group = "knowledge", title = "..." }`'))
    for ocode, spec in (outcomes_t or {}).items():
        oline = outcome_lines[1].get(ocode, outcome_lines[0])
        std.lines[f"outcome:{ocode}"] = oline or 1
        if not OUTCOME_RE.match(ocode):
            problems.append(Problem(file=shown, line=oline, field="outcomes",
                                    message=f"outcome code {ocode!r} is not valid",
                                    fix="use letters, digits and . / _ - only, e.g. K1 or \"M3.55/1.2\""))
            continue
        if isinstance(spec, str):
            problems.append(Problem(file=shown, line=oline, field="outcomes",
                                    message=f"outcome {ocode}: needs a group and a title, not just a string",
                                    fix=f'write `{ocode} = {{ group = "knowledge", title = {json.dumps(spec)} }}`'))
            continue
        if not isinstance(spec, dict):
            problems.append(Problem(file=shown, line=oline, field="outcomes",
                                    message=f"outcome {ocode}: must be a table with group and title",
                                    fix=f'write `{ocode} = {{ group = "knowledge", title = "..." }}`'))
            continue
        of = Fields(spec, file=shown, where=f"outcome {ocode}", lines={}, base_line=oline, problems=problems)
        otitle = of.string("title")
        ogroup = of.string("group", choices=GROUPS, example='"knowledge"')
        of.unknown()
        if otitle and ogroup:
            std.outcomes[ocode] = Outcome(code=ocode, title=otitle, group=ogroup)

    # methods
    method_blocks = idx.headers("method")
    if methods_raw is not None and not (isinstance(methods_raw, list) and all(isinstance(m, dict) for m in methods_raw)):
        problems.append(Problem(file=shown, line=1, field="method", message="standard: 'method' must be [[method]] tables",
                                fix="write each method as a `[[method]]` block"))
        methods_raw = []
    for i, m in enumerate(methods_raw or []):
        mline, mkeys = method_blocks[i] if i < len(method_blocks) else (None, {})
        mf = Fields(m, file=shown, where=f"method #{i + 1}", lines=mkeys, base_line=mline, problems=problems)
        mid = mf.string("id", pattern=METHOD_ID_RE, pattern_help="lower-case words joined by dashes, e.g. professional-discussion",
                        example='"professional-discussion"')
        if mid:
            mf.where = f"method {mid}"
        name = mf.string("name")
        kind = mf.string("kind", choices=METHOD_KINDS, example='"professional discussion"')
        minutes = mf.integer("minutes", minimum=1, example="60")
        minq = mf.integer("min_questions", minimum=1, example="8")
        assesses = mf.string_list("assesses", example='["K1", "S1"]')
        mf.unknown()
        if mid and mid in std.methods:
            problems.append(Problem(file=shown, line=mline, field="id", message=f"method id '{mid}' is defined twice",
                                    fix="give each method its own id"))
            continue
        if mid:
            std.lines[f"method:{mid}"] = mline or 1
        if None in (mid, name, kind, minutes, minq, assesses):
            continue
        unknown = [c for c in assesses if c not in std.outcomes]
        for c in unknown:
            guess = suggest(c, std.outcomes)
            problems.append(Problem(file=shown, line=mkeys.get("assesses", mline), field="assesses",
                                    message=f"method {mid}: assesses unknown outcome '{c}'",
                                    fix=f"did you mean '{guess}'?" if guess else "add it to [outcomes] or remove it",
                                    check="reference"))
        std.methods[mid] = Method(id=mid, name=name, kind=kind, minutes=minutes, min_questions=minq,
                                  assesses=tuple(c for c in assesses if c in std.outcomes))
    for ocode in std.outcomes:
        if not any(ocode in m.assesses for m in std.methods.values()) and std.methods:
            problems.append(Problem(file=shown, line=std.lines.get(f"outcome:{ocode}"), field="outcomes",
                                    message=f"outcome {ocode} is not assessed by any method", kind="warning",
                                    fix="add it to a method's `assesses`, or remove it if the standard does not assess it",
                                    check="reference"))

    # checks
    if checks_t is not None:
        cl = (idx.headers("checks") or [(1, {})])[0]
        cf = Fields(checks_t, file=shown, where="checks", lines=cl[1], base_line=cl[0], problems=problems)
        mpo = cf.integer("min_questions_per_outcome", required=False, minimum=1)
        ndt = cf.integer("near_duplicate_threshold", required=False, minimum=1)
        cf.unknown()
        if mpo is not None:
            std.min_per_outcome = mpo
        if ndt is not None:
            if ndt > 100:
                cf.add("near_duplicate_threshold", "checks: near_duplicate_threshold must be at most 100", "use a score from 1 to 100")
            else:
                std.near_duplicate_threshold = ndt
    # grading rules (checked against the outcomes and methods read above)
    if grading:
        from .gradingfile import read_grading  # gradingfile builds on this module's field checks

        std.grading_rules = read_grading(grading, outcomes=std.outcomes, methods=std.methods, file=shown,
                                         problems=problems, idx=idx)
    if code is None or len(problems) > before and any(p.is_error and p.field in ("code",) for p in problems[before:]):
        return None
    return std


QUESTION_FILE_FIELDS = ("standard", "topic", "author", "question")


def read_question_file(path: Path, problems: list[Problem], unreadable: set[str] | None = None
                       ) -> tuple[str | None, list[Question]]:
    """Returns (standard code named in the file, questions read); ids of questions that had
    errors are added to `unreadable`."""
    unreadable = set() if unreadable is None else unreadable
    data, text = read_toml(path, problems)
    if data is None:
        return None, []
    shown = display_path(path)
    idx = LineIndex(text)
    f = Fields(data, file=shown, where="question file", lines=idx.top(), base_line=1, problems=problems)
    std = f.string("standard", example='"ST0556"')
    topic = f.string("topic", required=False) or ""
    author = f.string("author", required=False) or ""
    raw = f._get("question", True, "array", "[[question]] blocks")
    f.unknown()
    if raw is None:
        return std, []
    if not isinstance(raw, list) or not all(isinstance(q, dict) for q in raw):
        problems.append(Problem(file=shown, line=1, field="question", message="'question' must be [[question]] blocks",
                                fix="start each question with a `[[question]]` line"))
        return std, []
    blocks = idx.headers("question")
    band_blocks = idx.headers("question.bands")
    out = []
    for i, q in enumerate(raw):
        qline, qkeys = blocks[i] if i < len(blocks) else (None, {})
        qid_raw = q.get("id")
        label = qid_raw if isinstance(qid_raw, str) and qid_raw.strip() else f"question #{i + 1}"
        named = isinstance(qid_raw, str) and bool(qid_raw.strip())
        qf = Fields(q, file=shown, where="" if named else label, lines=qkeys, base_line=qline, problems=problems,
                    question=label if named else None)
        n_before = len(problems)
        qid = qf.string("id", pattern=ID_RE, pattern_help="letters, digits, '.', '_' or '-', e.g. IL-PD-014",
                        example='"IL-PD-014"')
        version = qf.integer("version", minimum=1)
        status = qf.string("status", choices=STATUSES, example='"draft"')
        methods = qf.string_list("methods", example='["professional-discussion"]')
        outcomes = qf.string_list("outcomes", example='["K1", "S2"]')
        minutes = qf.integer("minutes", minimum=1, example="8")
        text_ = qf.string("text", example='"""\\nTalk me through...\\n"""')
        probes = qf.string_list("probes", required=False, allow_empty=True) or []
        guidance = qf.string("guidance", required=(status == "approved"), example='"""\\nA good answer shows...\\n"""') or ""
        bands_t = qf.table("bands") or {}
        opener = qf.boolean("opener")
        qtopic = qf.string("topic", required=False) or topic
        qauthor = qf.string("author", required=False) or author
        qf.unknown()
        bands: dict[str, str] = {}
        if bands_t:
            bline = next((bl for bl in band_blocks if qline and bl[0] > qline and
                          (i + 1 >= len(blocks) or bl[0] < blocks[i + 1][0])), (qkeys.get("bands", qline), {}))
            bf = Fields(bands_t, file=shown, where="bands", lines=bline[1], base_line=bline[0],
                        problems=problems, question=qf.question)
            for b in BANDS:
                val = bf.string(b, required=False)
                if val:
                    bands[b] = val
            bf.unknown()
        if len(problems) > n_before and any(p.is_error for p in problems[n_before:]):
            if named:
                unreadable.add(qid_raw.strip())
            continue
        out.append(Question(id=qid, version=version, status=status, standard=std or "", methods=tuple(methods),
                            outcomes=tuple(outcomes), minutes=minutes, text=text_, probes=tuple(probes),
                            guidance=guidance, bands=bands, opener=opener, topic=qtopic, author=qauthor,
                            path=shown, line=qline, lines=dict(qkeys)))
    return std, out


# --------------------------------------------------------------------------- manifests


def read_release(path: Path, problems: list[Problem]) -> Release | None:
    """A release manifest (JSON, machine-written). Any edit since release is reported."""
    shown = display_path(path)
    restore = "restore the file from git; releases are written by `qbank release` and never edited"
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as e:
        problems.append(Problem(file=shown, message=f"cannot read release manifest: {e.strerror or e}", fix=restore,
                                check="release"))
        return None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        problems.append(Problem(file=shown, line=getattr(e, "lineno", None), check="release",
                                message=f"release manifest is not valid JSON: {getattr(e, 'msg', e)}", fix=restore))
        return None
    id_lines = [no for no, ln in enumerate(text.splitlines(), start=1) if ln.startswith('      "id": ')]
    try:
        std, semver, created = data["standard"], data["release"], data["created"]
        definition, entries = data["definition"], data["items"]
        if not SEMVER_RE.match(semver) or not isinstance(definition, dict) or not isinstance(entries, list):
            raise ValueError("bad release number, definition or items")
    except (KeyError, TypeError, ValueError) as e:
        problems.append(Problem(file=shown, check="release", message=f"release manifest is incomplete ({e})", fix=restore))
        return None
    if f"{semver}.json" != path.name:
        problems.append(Problem(file=shown, message=f"release {semver} is stored under the wrong file name",
                                fix=f"rename the file to {semver}.json", check="release"))
    if data.get("definition_hash") != content_hash(definition):
        problems.append(Problem(file=shown, check="release",
                                message=f"release {semver}: the standard definition was edited after release", fix=restore))
    items = []
    for i, q in enumerate(entries):
        line = id_lines[i] if i < len(id_lines) else None
        try:
            question = Question(id=q["id"], version=int(q["version"]), status="approved", standard=std,
                                methods=tuple(q["methods"]), outcomes=tuple(q["outcomes"]), minutes=int(q["minutes"]),
                                text=q["text"], probes=tuple(q.get("probes", ())), guidance=q.get("guidance", ""),
                                bands=dict(q.get("bands", {})), opener=bool(q.get("opener", False)),
                                topic=q.get("topic", ""), author=q.get("author", ""), path=shown, line=line)
        except (KeyError, TypeError, ValueError) as e:
            problems.append(Problem(file=shown, line=line, check="release",
                                    message=f"release {semver}: question entry #{i + 1} is incomplete ({e})", fix=restore))
            continue
        if q.get("hash") != question.content_hash:
            problems.append(Problem(file=shown, line=line, question=question.id, check="release",
                                    message=f"release {semver}: {question.id} v{question.version} does not match its hash",
                                    fix=restore))
        items.append(ReleaseItem(question=question, hash=question.content_hash))
    return Release(standard=std, semver=semver, created=created, definition=definition, items=items, path=shown)
