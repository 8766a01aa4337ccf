"""Reading bank files: standard files, question files and release manifests.

Parsing is lenient in one way only: it never stops at the first problem. Every problem found is
recorded with its file, line, question id and fix, and whatever could be read is returned, so
`qbank validate` can report everything at once. Cross-file checks live in `validation`.

The types read live in `bank_types`, the field checks in `fields`; both are re-exported here, so
`from qbank.bankfiles import Question` keeps working.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

try:  # tomli ships compiled wheels, ~3x faster than the standard library's pure-Python tomllib
    import tomli as toml_parser
except ImportError:  # pragma: no cover - same API, same errors
    import tomllib as toml_parser  # type: ignore[no-redef]  # mypy cannot see the two modules are interchangeable

from .bank_types import (  # noqa: F401 - the types are re-exported for `from qbank.bankfiles import ...`
    BANDS,
    CLEARANCES,
    DEFAULT_MIN_PER_OUTCOME,
    DEFAULT_NEAR_DUPLICATE,
    GROUPS,
    ID_RE,
    METHOD_ID_RE,
    METHOD_KINDS,
    OUTCOME_RE,
    REPORT_FORMATS,
    SEMVER_RE,
    STATUSES,
    Method,
    Outcome,
    PartialQuestion,
    Question,
    Release,
    ReleaseItem,
    Standard,
    Theme,
    content_hash,
    semver_key,
)
from .fields import (  # noqa: F401 - re-exported too
    MAX_INTEGER,
    Fields,
    LineIndex,
    normalise_text,
    only_newline_breaks,
    parse_date,
    suggest,
    toml_type,
)
from .gradingfile import read_grading
from .limits import (
    MAX_ID,
    MAX_LEVEL,
    MAX_METHOD_MINUTES,
    MAX_PER_OUTCOME,
    MAX_PERCENT,
    MAX_QUESTION_MINUTES,
    MAX_QUESTIONS_PER_SET,
    MAX_REVIEW_MONTHS,
    MAX_TEXT,
    MAY_HOLD_CONTROL_RE,
    TEXT_LIMITS,
    control_character,
    semver_problem,
    text_limit,
)
from .problems import Problem, display_path

# --------------------------------------------------------------------------- reading files


_UTF8_BOM = b"\xef\xbb\xbf"
_NO_BOM_FIX = (
    'save the file as UTF-8 without a byte order mark (in most editors: encoding "UTF-8", not "UTF-8 with BOM")'
)


def decode_bank_text(raw: bytes, shown: str, problems: list[Problem], *, check: str = "format") -> str | None:
    """The text of a bank file, which must be UTF-8 without a byte order mark. A BOM or UTF-16 is
    named as such (and the text still read, so that no false errors follow from it); other bytes
    that are not UTF-8 are reported with their line, and give None."""
    if raw.startswith(_UTF8_BOM):
        problems.append(
            Problem(
                file=shown,
                line=1,
                check=check,
                message="file starts with a UTF-8 byte order mark (BOM)",
                fix=_NO_BOM_FIX,
            )
        )
        raw = raw[len(_UTF8_BOM) :]
    utf16 = _utf16_encoding(raw)
    if utf16:
        problems.append(
            Problem(
                file=shown,
                line=1,
                check=check,
                message=f"file is {_UTF16_NAMES[utf16]} text, not UTF-8",
                fix='save the file as UTF-8 (in most editors: "Save with encoding" > "UTF-8")',
            )
        )
        try:
            return raw.decode(utf16)
        except UnicodeDecodeError:
            return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        bad_line = raw[: e.start].count(b"\n") + 1
        problems.append(
            Problem(
                file=shown,
                line=bad_line,
                check=check,
                message="file is not valid UTF-8 text",
                fix="save the file as UTF-8",
            )
        )
        return None


_UTF16_NAMES = {"utf-16": "UTF-16", "utf-16-le": "UTF-16 (little-endian)", "utf-16-be": "UTF-16 (big-endian)"}


def _utf16_encoding(raw: bytes) -> str | None:
    """ "utf-16" when `raw` starts with a UTF-16 byte order mark, "utf-16-le"/"utf-16-be" when it
    has none but every other byte of its start is NUL (ASCII text saved as UTF-16), else None."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    head = raw[:200]
    if len(head) >= 4 and len(head) % 2 == 0:
        if not any(head[1::2]) and all(head[0::2]):
            return "utf-16-le"
        if not any(head[0::2]) and all(head[1::2]):
            return "utf-16-be"
    return None


def read_toml(path: Path, problems: list[Problem]) -> tuple[dict | None, str]:
    shown = display_path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.append(
            Problem(file=shown, message=f"cannot read file: {e.strerror or e}", fix="check the path and permissions")
        )
        return None, ""
    text = decode_bank_text(raw, shown, problems)
    if text is None:
        return None, ""
    try:
        data = toml_parser.loads(text)
    except RecursionError:
        problems.append(
            Problem(
                file=shown,
                line=_most_nested_line(text, "[{."),
                message="malformed TOML: values, tables or keys are nested too deeply to read",
                fix="a bank file needs at most a few levels of [ ], { } and dotted keys: remove the deep nesting",
            )
        )
        return None, text
    except toml_parser.TOMLDecodeError as e:
        msg = str(e)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        line = int(m[1]) if m else None
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", msg)
        if m:
            reason += f" (column {m[2]})"
        fix = _toml_fix(reason, text, line)
        if "at end of document" in msg:  # the file stops in the middle of something: half-saved?
            line = _unclosed_string_line(text) or text.count("\n") + 1
            reason += ": the file ends before it is complete (truncated?)"
            fix += "; if the file was cut short, restore it from git"
        problems.append(Problem(file=shown, line=line, message=f"malformed TOML: {reason}", fix=fix))
        return None, text
    if MAY_HOLD_CONTROL_RE.search(text):  # rare: only then is every string looked at
        _check_toml_controls(data, text, shown, problems)
    return data, text


_CONTROL_FIX = (
    "remove it: texts may hold line breaks and tabs, but no other control characters (NUL, ESC, BEL, ...), "
    "which the store cannot hold or which act on the screen that shows them (look for an escape such as "
    "\\u0000 or \\u001b)"
)


def control_strings(value: object, path: tuple = ()) -> Iterator[tuple[tuple, int, str]]:
    """(path, position, name) of each string or key in a parsed document that holds a control
    character a bank may not hold (qbank.limits.CONTROL_RE); a key's path ends with the key."""
    if isinstance(value, str):
        found = control_character(value)
        if found:
            yield path, *found
    elif isinstance(value, dict):
        for k, v in value.items():
            found = control_character(k) if isinstance(k, str) else None
            if found:
                yield (*path, k), *found
            else:
                yield from control_strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from control_strings(v, (*path, i))


def shown_path(path: tuple) -> str:
    """A path into a document as a writer reads it: "method[2].name", "bands.pass"."""
    out = ""
    for p in path:
        out += f"[{p + 1}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return "".join(c if c.isprintable() else "?" for c in out)


def _check_toml_controls(data: dict, text: str, shown: str, problems: list[Problem]) -> None:
    """An error for each text (or key) of a TOML bank file holding a control character, with the
    question it belongs to and the best line known."""
    idx = LineIndex(text)
    for path, pos, name in control_strings(data):
        top = str(path[0])
        line, question, where = idx.top().get(top) or next((h[0] for h in idx.headers(top)), 1), None, ""
        field = next((p for p in reversed(path) if isinstance(p, str)), None)
        block = list(path[:2])
        if len(block) == 2 and isinstance(block[1], int):
            headers = idx.headers(str(block[0]))
            if block[1] < len(headers):
                bline, keys = headers[block[1]]
                line = keys.get(str(path[2]), bline) if len(path) > 2 else bline
            raw = data.get(block[0])
            entry = raw[block[1]] if isinstance(raw, list) and block[1] < len(raw) else None
            qid = entry.get("id") if isinstance(entry, dict) and block[0] == "question" else None
            if isinstance(qid, str) and qid.strip() and not control_character(qid):
                question, where = qid.strip(), ""
                path = path[2:] or path
            elif block[0] == "question":
                where = f"question #{block[1] + 1}: "
                path = path[2:] or path
        problems.append(
            Problem(
                file=shown,
                line=line,
                question=question,
                field=field if field is None or field.isprintable() else None,
                message=f"{where}'{shown_path(path)}' holds a control character ({name}, character {pos + 1})",
                fix=_CONTROL_FIX,
            )
        )


def _most_nested_line(text: str, chars: str) -> int | None:
    """The line with the most of `chars` (where deep nesting is), for an error on the whole file."""
    lines = text.splitlines()
    if not lines:
        return None
    counts = [sum(ln.count(c) for c in chars) for ln in lines]
    return counts.index(max(counts)) + 1


def _unclosed_string_line(text: str) -> int | None:
    """The line where a multi-line string that never closes opens (odd number of its quotes)."""
    for quote in ('"""', "'''"):
        if text.count(quote) % 2:
            return text[: text.rindex(quote)].count("\n") + 1
    return None


def _toml_fix(reason: str, text: str, line: int | None) -> str:
    r = reason.lower()
    src = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    if "cannot overwrite a value" in r or "cannot declare" in r:
        return "a key is set twice in the same table: keep one"
    if "unclosed" in r or "unterminated" in r or "illegal character" in r and '"' in src:
        return 'close the string with a matching quote (use """...""" for multi-line text)'
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
    level = f.integer("level", minimum=1, maximum=MAX_LEVEL, why="the RQF levels run from 1 to 8", example="6")
    version = f.string("version", example='"1.0"')
    source = f.string("source", required=False, allow_empty=True) or ""
    notes = f.string("notes", required=False, allow_empty=True) or ""
    clearance = f.string("clearance", required=False, choices=CLEARANCES, example='"required"') or ""
    clearance_reason = f.string("clearance_reason", required=False) or ""
    if clearance == "required" and not clearance_reason:
        f.add(
            "clearance",
            'standard: clearance = "required" needs a clearance_reason',
            'add `clearance_reason = "..."` saying what rests on assumptions (shown until a release is cleared)',
        )
    review_due = f.date("review_due") or ""
    review_interval = f.integer(
        "review_interval_months", required=False, minimum=1, maximum=MAX_REVIEW_MONTHS, example="12"
    )
    two_person_rule = f.boolean("two_person_rule", default=True) if "two_person_rule" in data else None
    two_person_reason = f.string("two_person_rule_reason", required=False) or ""
    if two_person_rule is False and not two_person_reason and "two_person_rule_reason" not in data:
        f.add(
            "two_person_rule",
            "standard: two_person_rule = false needs a two_person_rule_reason",
            'add `two_person_rule_reason = "..."` saying why questions may be released without a second '
            "person's review (it is frozen into each release and shown by `qbank release`), or remove the line",
        )
    elif two_person_reason and two_person_rule is not False:
        f.add(
            "two_person_rule_reason",
            "standard: two_person_rule_reason is given, but the two-person rule is on",
            "remove the reason, or set `two_person_rule = false` if the rule is really to be off",
            kind="warning",
        )
    outcomes_t = f.table("outcomes")
    checks_t = f.table("checks")
    grading = f.table("grading") or {}
    methods_raw = f._get("method", True, "array", "[[method]] tables")
    f.unknown()

    std = Standard(
        code=code or "?",
        title=title or "",
        level=level or 0,
        version=version or "",
        source=source,
        notes=notes,
        clearance=clearance,
        clearance_reason=clearance_reason,
        review_due=review_due,
        review_interval_months=review_interval,
        # a value that could not be read (an error above) counts as not given
        two_person_rule=two_person_rule if isinstance(data.get("two_person_rule"), bool) else None,
        two_person_rule_reason=two_person_reason,
        grading=grading,
        path=shown,
        folder=path.parent,
    )
    for key in ("review_due", "two_person_rule"):
        if key in idx.top():
            std.lines[key] = idx.top()[key]

    # outcomes
    outcome_headers = idx.headers("outcomes")
    outcome_lines: tuple[int | None, dict[str, int]] = outcome_headers[0] if outcome_headers else (None, {})
    if outcomes_t is None and "outcomes" not in data:
        problems.append(
            Problem(
                file=shown,
                line=1,
                field="outcomes",
                message="standard: no [outcomes] table",
                fix='add `[outcomes]` with lines like `K1 = { group = "knowledge", title = "..." }`',
            )
        )
    for ocode, spec in (outcomes_t or {}).items():
        oline = outcome_lines[1].get(ocode, outcome_lines[0])
        std.lines[f"outcome:{ocode}"] = oline or 1
        std.unreadable_outcomes.add(ocode)  # until it is read below
        if not OUTCOME_RE.match(ocode) or len(ocode) > MAX_ID:
            problems.append(
                Problem(
                    file=shown,
                    line=oline,
                    field="outcomes",
                    message=f"outcome code {ocode!r} is not valid"
                    + (f": it is {len(ocode):,} characters long (at most {MAX_ID})" if len(ocode) > MAX_ID else ""),
                    fix=f'use at most {MAX_ID} letters, digits and . / _ - only, e.g. K1 or "M3.55/1.2"',
                )
            )
            continue
        if isinstance(spec, str):
            problems.append(
                Problem(
                    file=shown,
                    line=oline,
                    field="outcomes",
                    message=f"outcome {ocode}: needs a group and a title, not just a string",
                    fix=f'write `{ocode} = {{ group = "knowledge", title = {json.dumps(spec)} }}`',
                )
            )
            continue
        if not isinstance(spec, dict):
            problems.append(
                Problem(
                    file=shown,
                    line=oline,
                    field="outcomes",
                    message=f"outcome {ocode}: must be a table with group and title",
                    fix=f'write `{ocode} = {{ group = "knowledge", title = "..." }}`',
                )
            )
            continue
        of = Fields(spec, file=shown, where=f"outcome {ocode}", lines={}, base_line=oline, problems=problems)
        otitle = of.string("title")
        ogroup = of.string("group", choices=GROUPS, example='"knowledge"')
        ostatement = of.string("statement", required=False) or ""
        of.unknown()
        if otitle and ogroup:
            std.outcomes[ocode] = Outcome(code=ocode, title=otitle, group=ogroup, statement=ostatement)
            std.unreadable_outcomes.discard(ocode)

    # methods
    method_blocks = idx.headers("method")
    theme_blocks = idx.headers("method.theme")
    if methods_raw is not None and not (
        isinstance(methods_raw, list) and all(isinstance(m, dict) for m in methods_raw)
    ):
        problems.append(
            Problem(
                file=shown,
                line=1,
                field="method",
                message="standard: 'method' must be [[method]] tables",
                fix="write each method as a `[[method]]` block",
            )
        )
        methods_raw = []
    # what the methods assess, read or not (None: some method's `assesses` could not be read)
    assessed: set[str] | None = set()
    for i, m in enumerate(methods_raw or []):
        mline, mkeys = method_blocks[i] if i < len(method_blocks) else (None, {})
        mf = Fields(m, file=shown, where=f"method #{i + 1}", lines=mkeys, base_line=mline, problems=problems)
        mid = mf.string(
            "id",
            pattern=METHOD_ID_RE,
            pattern_help="lower-case words joined by dashes, e.g. professional-discussion",
            example='"professional-discussion"',
        )
        if mid:
            mf.where = f"method {mid}"
        name = mf.string("name")
        kind = mf.string("kind", choices=METHOD_KINDS, example='"professional discussion"')
        minutes = mf.integer(
            "minutes", minimum=1, maximum=MAX_METHOD_MINUTES, why="a method lasts a day at most", example="60"
        )
        minq = mf.integer(
            "min_questions", minimum=0, maximum=MAX_QUESTIONS_PER_SET, why="questions in one set", example="8"
        )
        assesses = mf.string_list("assesses", example='["K1", "S1"]')
        formats = mf.string_list("report_formats", required=False, example='["written", "oral"]') or []
        for fmt in formats:
            if fmt not in REPORT_FORMATS:
                mf.add(
                    "report_formats",
                    f"{mf.w}unknown report format '{fmt}'",
                    f"use one of: {', '.join(REPORT_FORMATS)}",
                )
        themes = _read_themes(mf, m.get("theme"), theme_blocks, mline, shown, problems, assesses or [])
        covers = mf.string_list("draw_covers", required=False, allow_empty=True)
        for o in [o for o in covers or [] if o not in (assesses or [])]:
            mf.add(
                "draw_covers",
                f"{mf.w}draw_covers: '{o}' is not an outcome the method assesses",
                "list only the method's outcomes",
            )
        mf.unknown()
        if mid and mid in std.methods:
            problems.append(
                Problem(
                    file=shown,
                    line=mline,
                    field="id",
                    message=f"method id '{mid}' is defined twice",
                    fix="give each method its own id",
                )
            )
            continue
        if mid:
            std.lines[f"method:{mid}"] = mline or 1
        if assesses is None:
            assessed = None
        else:
            if assessed is not None:
                assessed.update(assesses)
            _check_assesses(std, assesses, mf.where, mkeys.get("assesses", mline), problems)
        if mid is None or name is None or kind is None or minutes is None or minq is None or assesses is None:
            std.unreadable_methods.update(_method_names(mid, m.get("id")))
            continue
        std.methods[mid] = Method(
            id=mid,
            name=name,
            kind=kind,
            minutes=minutes,
            min_questions=minq,
            assesses=tuple(c for c in assesses if c in std.outcomes),
            themes=themes,
            report_formats=tuple(f for f in formats if f in REPORT_FORMATS),
            draw_covers=None if covers is None else tuple(o for o in covers if o in (assesses or [])),
        )
    for ocode in std.outcomes:
        # (when some method's `assesses` could not be read, which outcomes it assesses is unknown)
        if assessed is not None and ocode not in assessed and methods_raw:
            problems.append(
                Problem(
                    file=shown,
                    line=std.lines.get(f"outcome:{ocode}"),
                    field="outcomes",
                    message=f"outcome {ocode} is not assessed by any method",
                    kind="warning",
                    fix="add it to a method's `assesses`, or remove it if the standard does not assess it",
                    check="reference",
                )
            )

    # checks
    if checks_t is not None:
        cl = (idx.headers("checks") or [(1, {})])[0]
        cf = Fields(checks_t, file=shown, where="checks", lines=cl[1], base_line=cl[0], problems=problems)
        mpo = cf.integer("min_questions_per_outcome", required=False, minimum=1, maximum=MAX_PER_OUTCOME)
        score = "a similarity score runs from 1 to 100"
        ndt = cf.integer("near_duplicate_threshold", required=False, minimum=1, maximum=MAX_PERCENT, why=score)
        mopq = cf.integer("max_outcomes_per_question", required=False, minimum=1, maximum=MAX_PER_OUTCOME)
        simw = cf.integer("similar_warning", required=False, minimum=1, maximum=MAX_PERCENT, why=score)
        cf.unknown()
        if mpo is not None:
            std.min_per_outcome = mpo
        if mopq is not None:
            std.max_outcomes_per_question = mopq
        if simw is not None:
            std.similar_warning = simw
        if ndt is not None:
            std.near_duplicate_threshold = ndt
    # grading rules (checked against the outcomes and methods read above)
    if grading:
        std.grading_rules = read_grading(
            grading,
            outcomes=std.outcomes,
            methods=std.methods,
            file=shown,
            problems=problems,
            idx=idx,
            unreadable_outcomes=std.unreadable_outcomes,
            unreadable_methods=std.unreadable_methods,
        )
    if code is None or len(problems) > before and any(p.is_error and p.field in ("code",) for p in problems[before:]):
        return None
    return std


def _method_names(mid: str | None, raw_id: object) -> set[str]:
    """The names that refer to a method whose block has errors: its id, or for an id that is not
    valid, the id as written and as the valid id it was probably meant to be ("Professional
    discussion" for professional-discussion), so that what names it is not reported again."""
    if mid:
        return {mid}
    if not isinstance(raw_id, str) or not raw_id.strip():
        return set()
    written = raw_id.strip()
    return {written, "-".join(re.split(r"[\s_-]+", written.lower()))}


def _check_assesses(std: Standard, assesses: list[str], where: str, line: int | None, problems: list[Problem]) -> None:
    """A method's `assesses` names outcomes of [outcomes] (those with errors of their own are
    not reported again)."""
    for c in assesses:
        if c in std.outcomes or c in std.unreadable_outcomes:
            continue
        guess = suggest(c, std.outcomes)
        problems.append(
            Problem(
                file=std.path,
                line=line,
                field="assesses",
                message=f"{where}: assesses unknown outcome '{c}'",
                fix=f"did you mean '{guess}'?" if guess else "add it to [outcomes] or remove it",
                check="reference",
            )
        )


def _read_themes(
    mf: Fields,
    raw: object,
    blocks: list[tuple[int, dict[str, int]]],
    mline: int | None,
    shown: str,
    problems: list[Problem],
    assesses: list[str],
) -> tuple[Theme, ...]:
    """A method's `[[method.theme]]` blocks: a name, the method's outcomes it groups, and the
    fewest questions a drawn set must take from it."""
    mf.known.add("theme")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        mf.add(
            "theme", f"{mf.w}'theme' must be [[method.theme]] tables", "write each theme as a `[[method.theme]]` block"
        )
        return ()
    # the theme blocks that follow this method's header, in order
    mine = [b for b in blocks if mline is None or b[0] > mline][: len(raw)]
    out: list[Theme] = []
    for i, t in enumerate(raw):
        tline, tkeys = mine[i] if i < len(mine) else (mline, {})
        tf = Fields(t, file=shown, where=f"{mf.where} theme #{i + 1}", lines=tkeys, base_line=tline, problems=problems)
        name = tf.string("name", example='"Strategy"')
        if name:
            tf.where = f"{mf.where} theme {name!r}"
        outcomes = tf.string_list("outcomes", example='["K1", "S1"]')
        least = tf.integer(
            "min_questions", minimum=1, maximum=MAX_QUESTIONS_PER_SET, why="questions in one set", example="2"
        )
        tf.unknown()
        if name is None or outcomes is None or least is None:
            continue
        if any(x.name == name for x in out):
            tf.add("name", f"{tf.w}is defined twice", "give each theme of a method its own name")
            continue
        stray = [o for o in outcomes if o not in assesses]
        for o in stray:
            tf.add("outcomes", f"{tf.w}outcome '{o}' is not one the method assesses", "list only the method's outcomes")
        if stray:
            continue
        out.append(Theme(name=name, outcomes=frozenset(outcomes), min_questions=least))
    return tuple(out)


def read_question_file(
    path: Path,
    problems: list[Problem],
    unreadable: set[str] | None = None,
    partial: list[PartialQuestion] | None = None,
) -> tuple[str | None, list[Question]]:
    """Returns (standard code named in the file, questions read); ids of questions that had
    errors are added to `unreadable`, and what could be read of them to `partial`."""
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
    for key in [k for k in REVIEW_FIELDS if k in data]:
        f.known.add(key)
        f.add(
            key,
            f"question file: '{key}' belongs on each question a second person reviewed, not in the file's header",
            f"move `{key}` into the [[question]] blocks it applies to (a header default would give questions "
            "added later a review they never had)",
        )
    f.unknown()
    today = _today()
    if raw is None:
        return std, []
    if not isinstance(raw, list) or not all(isinstance(q, dict) for q in raw):
        problems.append(
            Problem(
                file=shown,
                line=1,
                field="question",
                message="'question' must be [[question]] blocks",
                fix="start each question with a `[[question]]` line",
            )
        )
        return std, []
    blocks = idx.headers("question")
    band_blocks = idx.headers("question.bands")
    out = []
    for i, q in enumerate(raw):
        qline, qkeys = blocks[i] if i < len(blocks) else (None, {})
        plain = _plain_question(q, std or "", topic, author, shown, qline, qkeys, today)
        if plain is not None:
            out.append(plain)
            continue
        # field by field, with a problem for everything wrong
        qid_raw = q.get("id")
        label = qid_raw if isinstance(qid_raw, str) and qid_raw.strip() else f"question #{i + 1}"
        named = isinstance(qid_raw, str) and bool(qid_raw.strip())
        qf = Fields(
            q,
            file=shown,
            where="" if named else label,
            lines=qkeys,
            base_line=qline,
            problems=problems,
            question=label if named else None,
        )
        n_before = len(problems)
        qid = qf.string(
            "id", pattern=ID_RE, pattern_help="letters, digits, '.', '_' or '-', e.g. IL-PD-014", example='"IL-PD-014"'
        )
        version = qf.integer("version", minimum=1)  # (at most MAX_INTEGER: what the store holds)
        status = qf.string("status", choices=STATUSES, example='"draft"')
        methods = qf.string_list("methods", example='["professional-discussion"]')
        outcomes = qf.string_list("outcomes", example='["K1", "S2"]')
        minutes = qf.integer(
            "minutes",
            minimum=1,
            maximum=MAX_QUESTION_MINUTES,
            why="one question's estimated minutes; a longer one is a method of its own",
            example="8",
        )
        text_ = qf.string("text", example='"""\\nTalk me through...\\n"""')
        probes = qf.string_list("probes", required=False, allow_empty=True) or []
        guidance = (
            qf.string("guidance", required=(status in GUIDED), example='"""\\nA good answer shows...\\n"""') or ""
        )
        bands_t = qf.table("bands") or {}
        opener = qf.boolean("opener")
        qtopic = qf.string("topic", required=False) or topic
        qauthor = qf.string("author", required=False) or author
        reviewer = qf.string("reviewer", required=False) or ""
        reviewed = qf.date("reviewed", not_after=today) or ""
        _check_review(qf, q, status)
        excludes = qf.string_list("excludes", required=False, allow_empty=True) or []
        tags_justification = qf.string("tags_justification", required=False) or ""
        qf.unknown()
        bands: dict[str, str] = {}
        if bands_t:
            bline: tuple[int | None, dict[str, int]] = next(
                (
                    bl
                    for bl in band_blocks
                    if qline and bl[0] > qline and (i + 1 >= len(blocks) or bl[0] < blocks[i + 1][0])
                ),
                (qkeys.get("bands", qline), {}),
            )
            bf = Fields(
                bands_t,
                file=shown,
                where="bands",
                lines=bline[1],
                base_line=bline[0],
                problems=problems,
                question=qf.question,
            )
            for b in BANDS:
                val = bf.string(b, required=False)
                if val:
                    bands[b] = val
            bf.unknown()
        if len(problems) > n_before and any(p.is_error for p in problems[n_before:]):
            if named:
                unreadable.add(qid_raw.strip())
            if partial is not None:
                partial.append(
                    PartialQuestion(
                        id=qid,
                        standard=std or "",
                        version=version,
                        methods=tuple(methods or ()),
                        outcomes=tuple(outcomes or ()),
                        excludes=tuple(excludes),
                        path=shown,
                        line=qline,
                        lines=dict(qkeys),
                    )
                )
            continue
        # a required field is None only when it added an error, and those questions stopped above
        assert qid is not None and version is not None and status is not None and text_ is not None
        assert methods is not None and outcomes is not None and minutes is not None
        out.append(
            Question(
                id=qid,
                version=version,
                status=status,
                standard=std or "",
                methods=tuple(methods),
                outcomes=tuple(outcomes),
                minutes=minutes,
                text=text_,
                probes=tuple(probes),
                guidance=guidance,
                bands=bands,
                opener=opener,
                topic=qtopic,
                author=qauthor,
                reviewer=reviewer,
                reviewed=reviewed,
                excludes=tuple(excludes),
                tags_justification=tags_justification,
                path=shown,
                line=qline,
                lines=dict(qkeys),
            )
        )
    return std, out


def _today() -> str:
    """Today's date, "YYYY-MM-DD" (a review cannot be dated later)."""
    return date.today().isoformat()


REVIEW_FIELDS = ("reviewer", "reviewed")
GUIDED = ("reviewed", "approved")  # statuses that need `guidance`: a reviewer reviews it too


def _check_review(qf: Fields, q: dict, status: str | None) -> None:
    """A review names its reviewer and its date, both or neither, and a question with status
    "reviewed" has one. (A field given but unreadable has its own error: not reported again.)"""
    given = [k for k in REVIEW_FIELDS if k in q]
    if status == "reviewed" and not given:
        qf.add(
            "status",
            f"{qf.w}status \"reviewed\" needs the review: 'reviewer' and 'reviewed' are missing",
            'add `reviewer = "Full Name"` (the second person, never the author) and `reviewed = YYYY-MM-DD`',
        )
    elif len(given) == 1:
        missing = "reviewed" if given == ["reviewer"] else "reviewer"
        fix = (
            "add `reviewed = YYYY-MM-DD`, the date of the review"
            if missing == "reviewed"
            else ('add `reviewer = "Full Name"`, the second person who reviewed it')
        )
        qf.add(None, f"{qf.w}missing field '{missing}': a review records who reviewed the question and when", fix)


# every field a [[question]] may have: what the field-by-field checks above read
QUESTION_FIELDS = frozenset(
    ("id", "version", "status", "methods", "outcomes", "minutes", "text", "probes", "guidance", "bands", "opener")
    + ("topic", "author", "reviewer", "reviewed", "excludes", "tags_justification")
)


def _plain_question(
    q: dict, std: str, topic: str, author: str, shown: str, qline: int | None, qkeys: dict[str, int], today: str
) -> Question | None:
    """The question of a [[question]] table that every field check would pass, or None.

    Nearly every question in a bank is fine, and checking one field by field (a call, a type
    test and a normalisation per field, then a search for unknown fields) cost about a third of
    validating a large bank. This accepts only tables where each field plainly has its usual type
    and a valid value, and builds the same Question the checks would; anything else returns None
    and goes through the checks, which report it. A rule added to the checks must be added here
    too: tests/test_validation_speed_equivalence.py compares the two on generated tables.
    """
    if not q.keys() <= QUESTION_FIELDS:
        return None
    qid, status, text = _plain_text(q, "id", ""), _plain_text(q, "status", ""), _plain_text(q, "text", "")
    version, minutes, opener = q.get("version"), q.get("minutes"), q.get("opener", False)
    if not qid or not ID_RE.match(qid) or status not in STATUSES or not text:
        return None
    if type(version) is not int or type(minutes) is not int or type(opener) is not bool:
        return None
    if not 1 <= version <= MAX_INTEGER or not 1 <= minutes <= MAX_QUESTION_MINUTES:
        return None
    if not _plain_lengths(q):
        return None
    methods, outcomes = _plain_strings(q.get("methods")), _plain_strings(q.get("outcomes"))
    probes = _plain_strings(q.get("probes", []))  # the one list that may be empty
    if not methods or not outcomes or probes is None:
        return None
    if status in GUIDED and "guidance" not in q:
        return None
    guidance, bands = _plain_text(q, "guidance", ""), _plain_bands(q.get("bands", {}))
    qtopic, qauthor = _plain_text(q, "topic", topic), _plain_text(q, "author", author)
    if guidance is None or qtopic is None or qauthor is None or bands is None:
        return None
    excludes = _plain_strings(q.get("excludes", []))
    justification = _plain_text(q, "tags_justification", "")
    if excludes is None or justification is None:
        return None
    reviewer, when = _plain_text(q, "reviewer", ""), q.get("reviewed")
    reviewed = "" if when is None else parse_date(when)
    if reviewer is None or reviewed is None or reviewed > today:
        return None
    if bool(reviewer) != bool(reviewed) or (status == "reviewed" and not reviewer):
        return None  # half a review, or status "reviewed" without one
    return Question(
        id=qid,
        version=version,
        status=status,
        standard=std,
        methods=tuple(methods),
        outcomes=tuple(outcomes),
        minutes=minutes,
        text=text,
        probes=tuple(probes),
        guidance=guidance,
        bands=bands,
        opener=opener,
        topic=qtopic,
        author=qauthor,
        reviewer=reviewer,
        reviewed=reviewed or "",
        excludes=tuple(excludes),
        tags_justification=justification,
        path=shown,
        line=qline,
        lines=dict(qkeys),
    )


def _plain_lengths(q: dict) -> bool:
    """Whether every text of a [[question]] table is within its limit (qbank.limits): a longer one
    goes through the field checks, which report it. (Measured before trimming: only a text within a
    few spaces of its limit is checked again, trimmed, by the field checks.)"""
    limit_of = TEXT_LIMITS.get
    for name, v in q.items():
        kind = type(v)
        if kind is str:
            if len(v) > limit_of(name, MAX_TEXT):
                return False
        elif kind is list or kind is dict:  # probes, methods, ...; bands
            limit = limit_of(name, MAX_TEXT)
            for x in v if kind is list else v.values():
                if type(x) is str and len(x) > limit:
                    return False
    return True


def _plain_text(q: dict, name: str, default: str) -> str | None:
    """A text field: `default` when absent, its trimmed text when a non-empty string, else None."""
    v = q.get(name)
    if v is None:
        return default
    v = normalise_text(v) if type(v) is str else ""
    return v or None


def _plain_strings(v: object) -> list[str] | None:
    """A list of distinct, non-empty strings, trimmed; None for anything else."""
    if type(v) is not list:
        return None
    items = [normalise_text(x) if type(x) is str else "" for x in v]  # not a string: rejected as empty
    return None if "" in items or len(set(items)) < len(items) else items


def _plain_bands(v: object) -> dict[str, str] | None:
    """A bands table of known bands with non-empty texts, in band order; None for anything else."""
    if type(v) is not dict or not v.keys() <= set(BANDS):
        return None
    bands: dict[str, str] = {}
    for band in BANDS:
        if band in v:
            text = _plain_text(v, band, "")
            if not text:
                return None
            bands[band] = text
    return bands


# --------------------------------------------------------------------------- manifests


def read_release(path: Path, problems: list[Problem]) -> Release | None:
    """A release manifest (JSON, machine-written). Any edit since release is reported."""
    shown = display_path(path)
    restore = "restore the file from git; releases are written by `qbank release` and never edited"
    try:
        raw = path.read_bytes()
    except OSError as e:
        problems.append(
            Problem(
                file=shown, message=f"cannot read release manifest: {e.strerror or e}", fix=restore, check="release"
            )
        )
        return None
    text = decode_bank_text(raw, shown, problems, check="release")
    if text is None:
        return None
    try:
        data = json.loads(text)
    except RecursionError:
        problems.append(
            Problem(
                file=shown,
                line=_most_nested_line(text, "[{"),
                check="release",
                message="release manifest is nested too deeply to read (not as `qbank release` writes it)",
                fix=restore,
            )
        )
        return None
    except json.JSONDecodeError as e:
        cut = not text.rstrip().endswith("}")  # a manifest ends with the brace closing it
        problems.append(
            Problem(
                file=shown,
                line=e.lineno,
                check="release",
                message=f"release manifest is not valid JSON: {e.msg}"
                + (": the file ends before it is complete (truncated?)" if cut else ""),
                fix=restore,
            )
        )
        return None
    id_lines = _item_id_lines(text)
    try:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        std, semver, created = data["standard"], data["release"], data["created"]
        definition, entries = data["definition"], data["items"]
        if not isinstance(std, str) or not isinstance(created, str) or not isinstance(semver, str):
            raise ValueError("standard, release and created must be text")
        if not SEMVER_RE.match(semver) or not isinstance(definition, dict) or not isinstance(entries, list):
            raise ValueError("bad release number, definition or items")
    except (KeyError, TypeError, ValueError) as e:
        problems.append(
            Problem(file=shown, check="release", message=f"release manifest is incomplete ({e})", fix=restore)
        )
        return None
    too_big = semver_problem(semver)
    if too_big:
        problems.append(
            Problem(
                file=shown,
                check="release",
                field="release",
                message=too_big,
                fix="release under a realistic number (e.g. 1.2.0) with `qbank release`; remove this file",
            )
        )
        return None
    if MAY_HOLD_CONTROL_RE.search(text):  # rare: only then is every string looked at
        for where, pos, name in control_strings(data):
            at = where[1] if len(where) > 1 and where[0] == "items" and isinstance(where[1], int) else None
            problems.append(
                Problem(
                    file=shown,
                    line=id_lines[at] if at is not None and at < len(id_lines) else None,
                    check="release",
                    message=f"release {semver}: '{shown_path(where)}' holds a control character ({name}, "
                    f"character {pos + 1}), which no release written by `qbank release` holds",
                    fix=restore,
                )
            )
    if f"{semver}.json" != path.name:
        problems.append(
            Problem(
                file=shown,
                message=f"release {semver} is stored under the wrong file name",
                fix=f"rename the file to {semver}.json",
                check="release",
            )
        )
    if data.get("definition_hash") != content_hash(definition):
        problems.append(
            Problem(
                file=shown,
                check="release",
                message=f"release {semver}: the standard definition was edited after release",
                fix=restore,
            )
        )
    else:
        damaged = definition_problem(definition, std)
        if damaged:
            problems.append(
                Problem(
                    file=shown,
                    check="release",
                    field="definition",
                    message=f"release {semver}: the standard definition is damaged ({damaged})",
                    fix=restore,
                )
            )
            return None
    if "manifest_hash" in data and data["manifest_hash"] != manifest_digest(data):
        problems.append(
            Problem(
                file=shown,
                check="release",
                message=f"release {semver}: the manifest was edited after release (its created date, release "
                "number, authors, reviewers or near-duplicate list no longer match its manifest_hash)",
                fix=restore,
            )
        )
    items = []
    for i, q in enumerate(entries):
        line = id_lines[i] if i < len(id_lines) else None
        wrong = _item_problem(q)
        if wrong:
            problems.append(
                Problem(
                    file=shown,
                    line=line,
                    check="release",
                    message=f"release {semver}: question entry #{i + 1} is damaged ({wrong})",
                    fix=restore,
                )
            )
            continue
        question = Question(
            id=q["id"],
            version=q["version"],
            status="approved",
            standard=std,
            methods=tuple(q["methods"]),
            outcomes=tuple(q["outcomes"]),
            minutes=q["minutes"],
            text=q["text"],
            probes=tuple(q.get("probes", ())),
            guidance=q.get("guidance", ""),
            bands=dict(q.get("bands", {})),
            opener=q.get("opener", False),
            topic=q.get("topic", ""),
            author=q.get("author", ""),
            reviewer=q.get("reviewer", ""),  # (absent from manifests written before reviews were recorded)
            reviewed=q.get("reviewed", ""),
            excludes=tuple(q.get("excludes", ())),
            tags_justification=q.get("tags_justification", ""),
            path=shown,
            line=line,
        )
        if q.get("hash") != question.content_hash:
            problems.append(
                Problem(
                    file=shown,
                    line=line,
                    question=question.id,
                    check="release",
                    message=f"release {semver}: {question.id} v{question.version} does not match its hash",
                    fix=restore,
                )
            )
        items.append(ReleaseItem(question=question, hash=question.content_hash))
    rel = Release(standard=std, semver=semver, created=created, definition=definition, items=items, path=shown)
    if "near_duplicates" in data:  # written by `qbank release` since issue 12; older manifests lack it
        _read_near_duplicates(rel, data["near_duplicates"], shown, problems, restore)
    return rel


# what `manifest_hash` covers besides each item's content (its `hash`) and the definition (its
# `definition_hash`): everything else a manifest says
_DIGEST_KEYS = ("format", "standard", "release", "created", "questions", "definition_hash", "near_duplicates")
_DIGEST_ITEM_KEYS = ("id", "version", "hash", "author", "reviewer", "reviewed")


def manifest_digest(doc: dict) -> str:
    """The `manifest_hash` of a manifest document: the hash of everything it says that the item
    hashes and the definition hash do not cover (created, release number, authors, reviews, ...),
    so that an edit of any of it is detected. Cheap: the texts are hashed once, by the items."""
    items = doc.get("items")
    return content_hash(
        {
            **{k: doc.get(k) for k in _DIGEST_KEYS},
            "items": [[q.get(k) for k in _DIGEST_ITEM_KEYS] if isinstance(q, dict) else q for q in items]
            if isinstance(items, list)
            else items,
        }
    )


def _is_int(v: object) -> bool:
    return type(v) is int and 0 <= v <= MAX_INTEGER


def _is_strs(v: object, limit: int | None = None) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) and (limit is None or len(x) <= limit) for x in v)


def _is_text(v: object, limit: int) -> bool:
    return isinstance(v, str) and len(v) <= limit


# each item field with the check of its value and what it must be
_ITEM_FIELDS: dict[str, tuple[Any, str]] = {
    "id": (
        lambda v: _is_text(v, MAX_ID) and bool(ID_RE.match(v)),
        f"a question id in quotes, at most {MAX_ID} characters",
    ),
    "version": (lambda v: _is_int(v) and v >= 1, f"a whole number from 1 to {MAX_INTEGER:,}"),
    "minutes": (
        lambda v: _is_int(v) and 1 <= v <= MAX_QUESTION_MINUTES,
        f"a whole number from 1 to {MAX_QUESTION_MINUTES}",
    ),
    "methods": (lambda v: _is_strs(v, MAX_ID), f"a list of method ids (each at most {MAX_ID} characters)"),
    "outcomes": (lambda v: _is_strs(v, MAX_ID), f"a list of outcome codes (each at most {MAX_ID} characters)"),
    "text": (lambda v: _is_text(v, text_limit("text")), f"text of at most {text_limit('text'):,} characters"),
    "probes": (
        lambda v: _is_strs(v, text_limit("probes")),
        f"a list of texts of at most {text_limit('probes'):,} characters",
    ),
    "excludes": (lambda v: _is_strs(v, MAX_ID), f"a list of question ids (each at most {MAX_ID} characters)"),
    "bands": (
        lambda v: isinstance(v, dict) and all(_is_text(x, text_limit("bands")) for x in v.values()),
        f"a table of band texts (each at most {text_limit('bands'):,} characters)",
    ),
    "opener": (lambda v: isinstance(v, bool), "true or false"),
}
_ITEM_REQUIRED = ("id", "version", "methods", "outcomes", "minutes", "text")
_ITEM_TEXTS = ("guidance", "topic", "author", "reviewer", "reviewed", "tags_justification", "hash")


def _item_problem(q: object) -> str | None:
    """What is wrong with one manifest item's fields (their names and types), or None."""
    if not isinstance(q, dict):
        return f"an entry must be a JSON object, not {type(q).__name__}"
    for name in _ITEM_REQUIRED:
        if name not in q:
            return f"no {name!r}"
    for name, (ok, what) in _ITEM_FIELDS.items():
        if name in q and not ok(q[name]):
            return f"{name!r} must be {what}, not {json.dumps(q[name])[:40]}"
    for name in _ITEM_TEXTS:
        if name in q and not isinstance(q[name], str):
            return f"{name!r} must be text, not {json.dumps(q[name])[:40]}"
        if name in q and len(q[name]) > text_limit(name):
            return f"{name!r} is {len(q[name]):,} characters long (at most {text_limit(name):,})"
    return None


def definition_problem(d: dict, code: str) -> str | None:
    """What is wrong with the shape of a frozen standard definition (as `Standard.definition()`
    writes it), or None: import stores it field by field."""
    for key, kind in (("code", str), ("title", str), ("level", int), ("version", str), ("outcomes", list)):
        if not isinstance(d.get(key), kind) or isinstance(d.get(key), bool):
            return f"no {key!r}" if key not in d else f"{key!r} has the wrong type"
    if d["code"] != code:
        return f"it is the definition of {d['code']}, not {code}"
    if not 1 <= d["level"] <= MAX_LEVEL:
        return f"level {d['level']} is not from 1 to {MAX_LEVEL}"
    for key in ("title", "version", "source"):
        if len(d.get(key) or "") > text_limit(key):
            return f"its {key} is over {text_limit(key):,} characters long"
    for o in d["outcomes"]:
        if not isinstance(o, dict) or not all(isinstance(o.get(k), str) for k in ("code", "title", "group")):
            return "an outcome lacks its code, title or group"
        if len(o["code"]) > MAX_ID or o["group"] not in GROUPS or len(o["title"]) > text_limit("title"):
            return (
                f"outcome {o['code'][:MAX_ID]!r}: a code over {MAX_ID} characters, an unknown group or a title too long"
            )
    methods = d.get("methods")
    if not isinstance(methods, list):
        return "no 'methods'"
    for m in methods:
        if (
            not isinstance(m, dict)
            or not all(isinstance(m.get(k), str) for k in ("id", "name", "kind"))
            or not all(type(m.get(k)) is int for k in ("minutes", "min_questions"))
            or not _is_strs(m.get("assesses"))
        ):
            return "a method lacks its id, name, kind, minutes, min_questions or assesses"
        if len(m["id"]) > MAX_ID or not _is_strs(m["assesses"], MAX_ID) or len(m["name"]) > text_limit("name"):
            return f"method {m['id'][:MAX_ID]!r}: an id or outcome code over {MAX_ID} characters, or a name too long"
        if not 1 <= m["minutes"] <= MAX_METHOD_MINUTES or not 0 <= m["min_questions"] <= MAX_QUESTIONS_PER_SET:
            return (
                f"method {m['id']!r}: minutes must be from 1 to {MAX_METHOD_MINUTES} and min_questions at most "
                f"{MAX_QUESTIONS_PER_SET}"
            )
    checks = d.get("checks", {})
    if not isinstance(checks, dict) or not isinstance(d.get("grading", {}), dict):
        return "'checks' and 'grading' must be tables"
    for key, top in (("min_questions_per_outcome", MAX_PER_OUTCOME), ("near_duplicate_threshold", MAX_PERCENT)):
        if key in checks and not (_is_int(checks[key]) and 1 <= checks[key] <= top):
            return f"checks.{key} must be a whole number from 1 to {top}"
    return None


def _read_near_duplicates(rel: Release, near: Any, shown: str, problems: list[Problem], restore: str) -> None:
    """The pairs the release found when it was made (so that import need not scan the texts)."""
    ids = {i.question.id for i in rel.items}
    try:
        threshold = float(near["threshold"])
        pairs = tuple((str(a), str(b), float(score)) for a, b, score in near["pairs"])
        unknown = sorted({x for a, b, _ in pairs for x in (a, b)} - ids)
        if unknown:
            raise ValueError(f"{', '.join(unknown[:3])} not in the release")
    except (KeyError, TypeError, ValueError) as e:
        problems.append(
            Problem(
                file=shown,
                check="release",
                message=f"release {rel.semver}: the near-duplicate list is damaged ({e})",
                fix=restore,
            )
        )
        return
    rel.near_duplicates, rel.near_duplicate_threshold = pairs, threshold


_ITEM_ID = '      "id": '  # how an item's id line starts in a manifest written by `qbank release`


def _item_id_lines(text: str) -> list[int]:
    """The numbers of the lines starting with `_ITEM_ID`, as `str.splitlines` numbers lines.

    A 50,000-question manifest has over a million lines: finding the few wanted ones and counting
    the newlines before them is ten times faster than splitting the text into lines.
    """
    if not only_newline_breaks(text):  # only a damaged manifest: number its lines the slow way
        return [no for no, ln in enumerate(text.splitlines(), start=1) if ln.startswith(_ITEM_ID)]
    found = [1] if text.startswith(_ITEM_ID) else []
    line, counted = 1, 0
    pos = text.find("\n" + _ITEM_ID)
    while pos >= 0:
        line += text.count("\n", counted, pos + 1)
        counted = pos + 1
        found.append(line)
        pos = text.find("\n" + _ITEM_ID, pos + 1)
    return found
