"""`qbank new`: a writer's templates. `qbank new standard CODE` writes a standard's folder from
`templates/new_standard.toml`; `qbank new question STANDARD` appends a draft `[[question]]` block
(`templates/new_question.toml`) to a question file, creating it with a header
(`templates/new_question_file.toml`) when it is new. What they write passes `qbank validate` as
written: only the sufficiency check (approved questions per outcome) waits for the writer.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

from .bank_types import ID_RE, Question, Standard
from .cli import EXIT_OK, UsageError
from .grading_source import standard_files
from .problems import BankError, display_path

TEMPLATES = Path(__file__).parent / "templates"
_DROP = "\x00drop\x00"  # a template line whose placeholder has nothing to say is left out
_NUMBERED = re.compile(r"^(.*?)(\d+)$")
_COMMENTED = re.compile(r"^(\S.*?\S) {2,}(# .*?)\n?$")  # key = value, then a comment after two spaces or more


# --------------------------------------------------------------------------- qbank new


def cmd_new(args: Any) -> int:
    return _new_standard(args) if args.new_kind == "standard" else _new_question(args)


def _toml(value: Any) -> str:
    """A TOML value: strings as basic strings (JSON's escapes are TOML's), lists of them inline."""
    return json.dumps(value, ensure_ascii=False)


def _fill(template: str, **values: str | None) -> str:
    """The template with its $placeholders filled; a line's trailing comment stays in its column
    (or two spaces after a longer value). A line whose placeholder is None is commented out, with
    "..." for the value; one whose placeholder is _DROP is left out."""
    out = []
    for line in (TEMPLATES / template).read_text(encoding="utf-8").splitlines(keepends=True):
        unset = any(v is None and re.search(rf"\$\{{?{k}\b", line) for k, v in values.items())
        filled = {k: '"..."' if v is None else v for k, v in values.items()}
        m = _COMMENTED.match(line)
        if m and "$" in m[1] and "$" not in m[2]:
            head = ("# " if unset else "") + Template(m[1]).substitute(filled)
            line = head + " " * max(2, m.start(2) - len(head)) + m[2] + "\n"
        else:
            line = ("# " if unset else "") + Template(line).substitute(filled)
        if _DROP not in line:
            out.append(line)
    return "".join(out)


def _check_code(code: str, what: str) -> str:
    code = code.strip()
    if not ID_RE.match(code):
        raise UsageError(
            f"{what} {code!r} is not a valid code: use letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (e.g. ST0999)"
        )
    return code


def _code_in(path: Path) -> str | None:
    """The `code` a standard.toml declares (None when it cannot be read)."""
    import tomli

    try:
        code = tomli.loads(path.read_text(encoding="utf-8")).get("code")
    except (OSError, UnicodeDecodeError, tomli.TOMLDecodeError):
        return None
    return code if isinstance(code, str) else None


def _new_standard(args: Any) -> int:
    code = _check_code(args.code, "standard code")
    if args.level is not None and args.level < 1:
        raise UsageError(f"--level must be 1 or more (got {args.level})")
    if args.title is not None and not args.title.strip():
        raise UsageError("--title must not be empty")
    root = Path(args.path)
    if root.exists() and not root.is_dir():
        raise BankError(f"{display_path(root)} is not a folder: give the bank folder with --path")
    folder = root / code
    target = folder / "standard.toml"
    if target.exists():
        raise BankError(f"{display_path(target)} already exists: not overwritten (choose another code, or edit it)")
    if folder.exists() and not folder.is_dir():
        raise BankError(f"{display_path(folder)} is a file, not a folder: not overwritten")
    for other in standard_files(root):
        if _code_in(other) == code:
            raise BankError(f"{display_path(other)} already defines standard {code}: not overwritten")
    text = _fill(
        "new_standard.toml",
        code=code,
        code_toml=_toml(code),
        title=_toml(args.title.strip() if args.title else f"TODO: the title of {code}"),
        level=str(args.level or 3),
        path=display_path(root),
        folder=display_path(folder),
    )
    (folder / "questions").mkdir(parents=True, exist_ok=True)  # (a folder made for it beforehand is fine)
    with open(target, "x", encoding="utf-8") as f:  # "x": never over a file written meanwhile
        f.write(text)
    _check_written_standard(target)
    shown = display_path(target)
    if args.format == "json":
        print(json.dumps({"standard": code, "path": shown, "questions": display_path(folder / "questions")}, indent=2))
        return EXIT_OK
    print(f"wrote {shown} and {display_path(folder / 'questions')}/")
    print("next: replace the TODO values (title, outcomes, method, grading rules) with the standard's own, then")
    print(f"  qbank new question {code} --path {display_path(root)}")
    print(f"  qbank validate {display_path(folder)}")
    return EXIT_OK


def _check_written_standard(path: Path) -> None:
    """The written file reads without an error (it always should: the template is tested)."""
    from .bankfiles import read_standard

    problems: list = []
    read_standard(path, problems)
    errors = [p for p in problems if p.is_error]
    if errors:
        raise BankError(f"{display_path(path)} was written but does not validate (a bug in the template)", errors)


@dataclass
class _BankIds:
    standard: Standard
    own: list[Question]  # this standard's questions, in the files and in its releases
    taken: dict[str, str]  # every id in the bank -> where it is ("file:line" or the release)


def _read_for_question(root: Path, code: str) -> _BankIds:
    from .validation import load_bank

    if not root.is_dir():
        raise BankError(f"{display_path(root)} is not a bank folder: give it with --path")
    bank = load_bank(root, health=False)
    std = bank.standards.get(code)
    if std is None:
        known = ", ".join(sorted(bank.standards)) or "none"
        raise BankError(
            f"no standard {code} under {display_path(root)} (standards: {known}); "
            f"write one with `qbank new standard {code}`"
        )
    taken: dict[str, str] = {}
    own: list[Question] = []
    for q in bank.questions:
        taken.setdefault(q.id, f"{q.path}:{q.line}" if q.line else q.path)
        if q.standard == code:
            own.append(q)
    for qid in bank.unreadable:
        taken.setdefault(qid, "a question block with errors (run `qbank validate`)")
    for rels in bank.releases.values():
        for rel in rels:
            for item in rel.items:
                taken.setdefault(item.question.id, f"release {rel.standard} {rel.semver}")
                if rel.standard == code:
                    own.append(item.question)
    return _BankIds(standard=std, own=own, taken=taken)


def next_id(own: Iterable[Question], taken: Iterable[str], code: str, methods: Iterable[str] = ()) -> str:
    """The next free id in the standard's own numbering: the prefix most of its questions use
    (those usable in `methods`, when any are), numbered one past the highest, zero-padded alike;
    a standard without questions starts at CODE-001. Never an id used anywhere in the bank."""
    taken = set(taken)
    own = list(own)
    wanted = set(methods)
    pool = [q for q in own if wanted & set(q.methods)] or own
    shapes: Counter[tuple[str, int]] = Counter()
    for q in pool:
        m = _NUMBERED.match(q.id)
        if m:
            shapes[(m[1], len(m[2]))] += 1
    prefix, width = max(shapes.items(), key=lambda kv: (kv[1], kv[0]))[0] if shapes else (f"{code}-", 3)
    numbers = [int(m[2]) for t in taken if (m := _NUMBERED.match(t)) and m[1] == prefix]
    n = max(numbers, default=0) + 1
    while f"{prefix}{n:0{width}d}" in taken:
        n += 1
    return f"{prefix}{n:0{width}d}"


def _choices_comment(label: str, items: list[str]) -> str:
    """A comment listing the valid choices, wrapped under the field it belongs to."""
    import textwrap

    if not items:
        return _DROP
    return "\n".join(
        textwrap.wrap(
            f"{label}: " + ", ".join(items),
            width=100,
            initial_indent="#   ",
            subsequent_indent="#     ",
            break_on_hyphens=False,
        )
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "drafts"


def _question_file(folder: Path, name: str | None, topic: str | None) -> Path:
    qdir = folder / "questions"
    if not name:
        return qdir / f"{_slug(topic) if topic else 'drafts'}.toml"
    rel = Path(name)
    if rel.parts and rel.parts[0] == "questions":
        rel = Path(*rel.parts[1:])
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise UsageError(f"--file {name}: give a file name inside the standard's questions/ folder, e.g. strategy")
    if rel.suffix != ".toml":
        rel = rel.with_name(rel.name + ".toml")
    return qdir / rel


def _new_question(args: Any) -> int:
    code = _check_code(args.standard, "standard")
    if args.qid is not None:
        _check_code(args.qid, "--id")
    for flag, value in (("--topic", args.topic), ("--author", args.author)):
        if value is not None and not value.strip():
            raise UsageError(f"{flag} must not be empty")
    root = Path(args.path)
    ids = _read_for_question(root, code)
    std = ids.standard
    if not std.methods:
        raise BankError(f"{std.path} defines no [[method]] yet: add one before writing questions")
    methods = list(dict.fromkeys(args.methods)) or list(std.methods)
    unknown = [m for m in methods if m not in std.methods]
    if unknown:
        raise BankError(f"{code} has no method {', '.join(unknown)} (methods: {', '.join(std.methods)})")
    assessed = list(dict.fromkeys(o for m in methods for o in std.methods[m].assesses))
    outcomes = list(dict.fromkeys(args.outcomes)) or assessed[:1]
    bad = [o for o in outcomes if o not in assessed]
    if bad or not outcomes:
        where = "the method" if len(methods) == 1 else "the methods"
        raise BankError(
            f"{code}: outcome {', '.join(bad) or '(none)'} is not assessed by {where} {', '.join(methods)} "
            f"(outcomes: {', '.join(assessed) or 'none'})"
        )
    if args.qid is not None:
        qid = args.qid.strip()
        if qid in ids.taken:
            raise BankError(
                f"question id {qid} is already used ({ids.taken[qid]}): not overwritten; ids are never reused"
            )
    else:
        qid = next_id(ids.own, ids.taken, code, methods)

    assert std.folder is not None  # read from a file
    target = _question_file(std.folder, args.file, args.topic)
    header: dict[str, Any] = {}
    if target.exists():
        header = _header_of(target, code)
    own_lines = []
    if args.topic and header and header.get("topic") != args.topic.strip():
        own_lines.append(f"topic = {_toml(args.topic.strip())}")
    if args.author and header and header.get("author") != args.author.strip():
        own_lines.append(f"author = {_toml(args.author.strip())}")
    block = _fill(
        "new_question.toml",
        id=_toml(qid),
        own_lines="\n".join(own_lines) or _DROP,
        methods=_toml(methods),
        method_choices=_choices_comment(f"{code}'s methods", list(std.methods)) if len(std.methods) > 1 else _DROP,
        outcomes=_toml(outcomes),
        outcome_choices=_choices_comment(
            f"assessed by {', '.join(methods)}",
            [f"{o} ({std.outcomes[o].title})" for o in assessed] if len(assessed) <= 8 else assessed,
        ),
    )
    created = not target.exists()
    if created:
        head = _fill(
            "new_question_file.toml",
            code=code,
            code_toml=_toml(code),
            topic=_toml(args.topic.strip()) if args.topic else None,
            author=_toml(args.author.strip()) if args.author else None,
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "x", encoding="utf-8") as f:
            f.write(head + block)
        before = None
    else:
        before = target.read_text(encoding="utf-8")
        target.write_text(before + ("" if before.endswith("\n") else "\n") + block, encoding="utf-8")
    line = _check_written_question(target, qid, before)
    shown = display_path(target)
    if args.format == "json":
        print(json.dumps({"id": qid, "standard": code, "path": shown, "line": line, "created": created}, indent=2))
        return EXIT_OK
    print(f"{'wrote' if created else 'added'} draft question {qid} {'in' if created else 'to'} {shown}:{line}")
    print(f"next: write its text, outcomes, minutes and guidance (the TODO lines), then `qbank validate {shown}`")
    return EXIT_OK


def _header_of(path: Path, code: str) -> dict[str, Any]:
    """An existing question file's header, refusing a file that is not one of this standard's."""
    import tomli

    try:
        data = tomli.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomli.TOMLDecodeError) as e:
        raise BankError(f"{display_path(path)} cannot be read ({e}): fix it first (qbank validate)") from None
    if data.get("standard") != code:
        raise BankError(
            f"{display_path(path)} holds questions of {data.get('standard')!r}, not {code}: give another --file"
        )
    return data


def _check_written_question(path: Path, qid: str, before: str | None) -> int | None:
    """The file as written reads with the new question and no error; otherwise it is put back as it
    was (or removed) and the problems are reported. Returns the question's line."""
    from .bankfiles import read_question_file

    problems: list = []
    _, questions = read_question_file(path, problems)
    mine = next((q for q in questions if q.id == qid), None)
    errors = [p for p in problems if p.is_error]
    if mine is not None and not errors:
        return mine.line
    if before is None:
        path.unlink()
    else:
        path.write_text(before, encoding="utf-8")
    raise BankError(
        f"{display_path(path)}: the question could not be added without errors, so the file was left as it was",
        errors,
    )
