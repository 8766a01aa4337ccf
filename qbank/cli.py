"""The `qbank` command line. Thin: parses arguments, calls qbank services, renders the result.

Exit codes: 0 success, 1 problems found or the request could not be done, 2 usage error.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import sys
import textwrap
from pathlib import Path

from .defaults import EXPOSURE_CAP
from .problems import BankError, Problem

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's default also exits 2; keep its usage line, add a hint
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}\n(see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _add_format(p: argparse.ArgumentParser, choices=("text", "json")) -> None:
    p.add_argument("--format", choices=choices, default="text", help="output format (default: text)")


def _add_path(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--path",
        metavar="BANKS",
        help="read the bank files (release manifests, and the approved questions of the working files) "
        "instead of the store, e.g. --path banks: no import needed",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="qbank", description="Versioned question banks for apprenticeship end-point assessment.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("validate", help="check bank files and report every problem")
    p.add_argument("path", nargs="?", default="banks", help="bank folder or file (default: banks)")
    p.add_argument(
        "--min-per-outcome",
        type=int,
        metavar="N",
        help="sufficiency: approved questions needed per outcome and method (default: the standard's, 3)",
    )
    p.add_argument(
        "--similarity", type=int, metavar="SCORE", help="near-duplicate threshold 1-100 (default: the standard's, 90)"
    )
    _add_format(p)

    p = sub.add_parser("release", help="freeze a standard's approved questions into a release manifest")
    p.add_argument("standard", help="standard code, e.g. ST0556")
    p.add_argument("semver", help="release number, e.g. 1.0.0")
    p.add_argument("--path", default="banks", help="bank folder (default: banks)")
    _add_format(p)

    p = sub.add_parser(
        "diff",
        help="questions added, changed (field by field) and retired between two releases",
        description="Compare two releases of a standard: the questions added, retired and changed, and what "
        "changed in each (text as a word diff, probes, outcomes, methods, minutes...). By default the releases "
        "imported into the store; with --path the release manifests in the bank files, where A or B may be "
        "`draft`: the approved questions of the working files, what the next release would contain.",
    )
    p.add_argument("standard")
    p.add_argument("old", metavar="A", help="release number (with --path: or `draft`)")
    p.add_argument("new", metavar="B", help="release number (with --path: or `draft`, the working files)")
    _add_path(p)
    _add_format(p)

    p = sub.add_parser("import", help="load released banks (their manifests, checked) into the store, all or nothing")
    p.add_argument("path", nargs="?", default="banks", help="bank folder (default: banks)")
    _add_format(p)

    p = sub.add_parser(
        "plan", help="solve each method's exposure floor and target rates (linear programming) where none is stored"
    )
    p.add_argument("standard", nargs="?", help="only this standard's releases")
    p.add_argument("--again", action="store_true", help="solve every plan again, not only the missing ones")
    _add_format(p)

    p = sub.add_parser("list", help="list questions in the store, with filters and fuzzy search")
    p.add_argument("search", nargs="?", help="fuzzy text search")
    p.add_argument("--standard")
    p.add_argument("--method")
    p.add_argument("--outcome")
    p.add_argument("--status", choices=("approved", "retired"))
    p.add_argument("--limit", type=int, default=None)
    _add_format(p)

    p = sub.add_parser("show", help="show one question with all its versions")
    p.add_argument("id")
    _add_format(p)

    p = sub.add_parser("draw", help="draw a question set for an apprentice, store it and print it")
    p.add_argument("--standard", help="standard code, e.g. ST0556")
    p.add_argument("--method", help="method id, e.g. professional-discussion")
    p.add_argument("--apprentice", help="the apprentice's pseudonymous reference")
    p.add_argument("--attempt", choices=("first", "resit", "retake"), default="first")
    p.add_argument("--cohort", default="", help="cohort or employer, for overlap control")
    p.add_argument("--extra-time", type=int, default=0, metavar="PERCENT", help="reasonable-adjustment extra time")
    p.add_argument("--release", help="pin a release (default: the current one)")
    p.add_argument("--exposure-cap", type=float, default=EXPOSURE_CAP, metavar="SHARE")
    p.add_argument("--replay", type=int, metavar="DRAW_ID", help="reproduce a stored draw for an auditor")
    p.add_argument("--show", type=int, metavar="DRAW_ID", help="print a stored draw")
    _add_format(p)

    p = sub.add_parser("swap", help="replace one question of a stored set, recording why")
    p.add_argument("draw_id", type=int)
    p.add_argument("question", help="the question id to replace")
    p.add_argument("--reason", required=True)
    _add_format(p)

    p = sub.add_parser("simulate", help="many simulated draws against a uniform-random baseline")
    p.add_argument("--standard", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--draws", type=int, default=10_000)
    p.add_argument("--resit-share", type=float, default=0.20)
    p.add_argument("--retake-share", type=float, default=0.10)
    p.add_argument("--cohort-size", type=int, default=12)
    p.add_argument("--extra-time", type=int, default=0, metavar="PERCENT")
    p.add_argument("--exposure-cap", type=float, default=EXPOSURE_CAP, metavar="SHARE")
    _add_path(p)
    p.add_argument("--seed", help="fix the simulated population and draws (simulation only)")
    p.add_argument(
        "--steer",
        action="store_true",
        help="steer the draw towards the plan's rates (qbank-draw/4), for comparison: production draws do not",
    )
    p.add_argument(
        "--no-plan",
        action="store_true",
        help="skip the exposure plan: no linear-programming floors (faster where a plan must be solved)",
    )
    _add_format(p)

    p = sub.add_parser("record", help="the assessor's record of an assessment, as HTML (A4) or Markdown")
    p.add_argument("assessment_id", type=int)
    p.add_argument("--format", choices=("html", "md"), default="html", help="output format (default: html)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    p = sub.add_parser(
        "review", help="standardisation reviews: usage, overlap, avoidance, effectiveness, assessors, health, adhoc"
    )
    p.add_argument("kind", choices=("usage", "overlap", "avoidance", "effectiveness", "assessors", "health", "adhoc"))
    p.add_argument("--standard")
    p.add_argument("--method")
    p.add_argument("--release", metavar="X.Y.Z")
    p.add_argument("--since", type=_date, metavar="YYYY-MM-DD")
    p.add_argument("--until", type=_date, metavar="YYYY-MM-DD")
    p.add_argument("--assessor")
    p.add_argument("--cohort")
    p.add_argument("--path", help="bank folder, for drafts waiting (health review)")
    p.add_argument("--format", choices=("table", "json", "csv", "html"), default="table")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    _add_iqa(sub)

    p = sub.add_parser("tui", help="the live assessment app (Textual)")
    p.add_argument(
        "--resume", type=int, metavar="ASSESSMENT_ID", help="open an unfinished assessment where it was left"
    )
    p.add_argument(
        "--import",
        dest="import_banks",
        metavar="PATH",
        help="first import the released banks at PATH (as `qbank import`)",
    )

    p = sub.add_parser("serve", help="the live app in a web browser (textual-serve; no authentication)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, metavar="N", help="port to listen on (default: 8000)")

    p = sub.add_parser("stats", help="approved questions per outcome and method")
    p.add_argument("--standard")
    _add_path(p)
    _add_format(p)

    p = sub.add_parser(
        "gaps",
        help="where a standard's bank is thin: questions, attempts and exposure floors per method and outcome",
        description="Per method and per outcome a set must cover: the approved questions able to cover it (k), "
        "the attempts one apprentice can take before it runs out, the exposure floor 1/k against the cap and "
        "the new questions it needs; per method the proved exposure floor (linear programming) and the "
        "questions a seeded simulation finds over the cap. Always exits 0 when the report could be made.",
    )
    p.add_argument("standard", help="standard code, e.g. ST0556")
    _add_path(p)
    p.add_argument("--exposure-cap", type=float, default=EXPOSURE_CAP, metavar="SHARE")
    p.add_argument(
        "--draws", type=int, default=2_000, metavar="N", help="simulated draws per method (default 2000; 0: none)"
    )
    p.add_argument("--seed", default="gaps", help="the simulation's seed (default: gaps, so reports repeat)")
    _add_format(p)

    p = sub.add_parser(
        "clear",
        help="clear a release for live assessment, by a named person (or withdraw that clearance)",
        description="Record that a named person clears a release whose standard says clearance = "
        '"required" (its definition rests on assumptions); --withdraw takes the clearance back. '
        "Each is kept: the newest decides.",
    )
    p.add_argument("standard", help="standard code, e.g. ST0480")
    p.add_argument("release", help="release number, e.g. 1.1.0")
    p.add_argument("--by", required=True, metavar='"FULL NAME"', help="the person clearing or withdrawing (required)")
    p.add_argument("--note", default="", metavar="TEXT", help="what was checked, or why it is withdrawn")
    p.add_argument("--withdraw", action="store_true", help="withdraw the clearance (needs --note)")
    _add_format(p)

    p = sub.add_parser("clearance", help="each release's clearance for live assessment")
    p.add_argument("standard", nargs="?", help="only this standard")
    _add_format(p)

    from . import cli_writers  # `qbank new`, `qbank grade`

    cli_writers.register(sub, _Parser)
    from . import cli_trust  # `qbank verify`, `qbank erase`, `qbank admin`

    cli_trust.register(sub, _Parser)
    from . import cli_interop  # `qbank convert`, `qbank export`

    cli_interop.register(sub, _Parser)
    return parser


# --------------------------------------------------------------------------- commands


def _engine():
    from .store import make_engine

    return make_engine()


def _login() -> str | None:
    """The database login of $QBANK_DATABASE_URL, to name in a refusal (None if none is given)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from .store import database_url

    try:
        return make_url(database_url()).username
    except ArgumentError:
        return None


def _check_threshold(value: int | None, name: str, lo: int, hi: int | None) -> None:
    if value is not None and (value < lo or (hi is not None and value > hi)):
        raise UsageError(f"{name} must be {'between ' + str(lo) + ' and ' + str(hi) if hi else 'at least ' + str(lo)}")


def cmd_validate(args) -> int:
    from .problems import in_report_order
    from .validation import load_bank

    _check_threshold(args.min_per_outcome, "--min-per-outcome", 1, None)
    _check_threshold(args.similarity, "--similarity", 1, 100)
    bank = load_bank(Path(args.path), min_per_outcome=args.min_per_outcome, near_duplicate_threshold=args.similarity)
    errors = bank.errors
    warnings = bank.warnings
    problems = in_report_order(bank.problems)  # errors, then the warnings (some refer to the errors)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "ok": not errors,
                    "errors": len(errors),
                    "warnings": len(warnings),
                    "standards": sorted(bank.standards),
                    "questions": len(bank.questions),
                    "files": bank.files_read,
                    "problems": [p.as_dict() for p in problems],
                },
                indent=2,
            )
        )
    else:
        for p in problems:
            print(p.render())
        approved = sum(1 for q in bank.questions if q.status == "approved")
        head = "ok" if not errors else "FAILED"
        print(
            f"{head}: {len(bank.standards)} standard(s), {len(bank.questions)} question(s) "
            f"({approved} approved) in {bank.files_read} file(s); "
            f"{len(errors)} error(s), {len(warnings)} warning(s)"
        )
    return EXIT_PROBLEMS if errors else EXIT_OK


def cmd_release(args) -> int:
    from .releases import make_release
    from .validation import load_bank

    bank = load_bank(Path(args.path))
    result = make_release(bank, args.standard, args.semver)
    rel = result.release
    if args.format == "json":
        print(
            json.dumps(
                {
                    "standard": rel.standard,
                    "release": rel.semver,
                    "created": result.created,
                    "path": str(result.path),
                    "questions": len(rel.items),
                    "notices": list(result.notices),
                },
                indent=2,
            )
        )
    elif result.created:
        print(f"released {rel.standard} {rel.semver}: {len(rel.items)} approved question(s) frozen in {result.path}")
        for notice in result.notices:
            print(f"note: {notice}")
        print("commit the manifest, then run `qbank import` to load it into the store")
    else:
        print(f"{rel.standard} {rel.semver} is already released with exactly this content; nothing to do")
    return EXIT_OK


def _files_bank(path: str, standard: str | None = None, *, questions: bool = True):
    """The bank files at `path` for a command that reads them instead of the store (--path): the
    release manifests and, with `questions`, the question files. Problems in the standard's own files
    (in any file, without a standard) stop the command, naming them; other standards' do not."""
    from .validation import load_bank, load_releases

    if not Path(path).exists():
        raise BankError(f"no bank folder {path}: give the folder holding the standards, e.g. --path banks")
    bank = load_bank(Path(path), health=False) if questions else load_releases(Path(path))
    std = bank.standards.get(standard) if standard else None
    errors = bank.errors
    if std is not None and std.folder is not None:
        root = std.folder.resolve()
        errors = [e for e in errors if Path(e.file).resolve().is_relative_to(root)]
    if errors:
        where = f" in {standard}'s files" if std is not None else ""
        raise BankError(f"{path} has {len(errors)} problem(s){where}: fix them first (`qbank validate {path}`)", errors)
    if standard and std is None:
        known = ", ".join(sorted(bank.standards)) or "none"
        raise BankError(f"no standard {standard} in {path} (standards there: {known})")
    return bank


def _files_release(bank, path: str, standard: str, semver: str):
    """A release of the files: its manifest, or with `draft` the working files' approved questions."""
    from .releases import build_release

    if semver == "draft":
        return build_release(bank, standard, "draft")
    found = {r.semver: r for r in bank.releases.get(standard, [])}
    if semver not in found:
        raise BankError(
            f"{standard} has no release {semver} in {path} (releases: {', '.join(found) or 'none'}); "
            f"`qbank release {standard} {semver} --path {path}` makes it, or compare with the working files: `draft`"
        )
    return found[semver]


def _store_changes(engine, d) -> None:
    """Fill `d.changes` of a store diff: each changed question's two versions, field by field."""
    from .catalogue import show_question
    from .releases import field_changes

    for qid, a, b in d.changed:
        versions = {v["version"]: v for v in show_question(engine, qid).versions}
        if a in versions and b in versions:
            d.changes[qid] = field_changes(versions[a], versions[b])


def cmd_diff(args) -> int:
    if args.path:
        from .releases import diff_releases

        bank = _files_bank(args.path, args.standard, questions="draft" in (args.old, args.new))
        a = _files_release(bank, args.path, args.standard, args.old)
        b = _files_release(bank, args.path, args.standard, args.new)
        d = diff_releases(a, b)
    else:
        from .catalogue import release_diff

        if "draft" in (args.old, args.new):
            raise UsageError("`draft` is the working files: add --path, e.g. --path banks")
        engine = _engine()
        try:
            d = release_diff(engine, args.standard, args.old, args.new)
        except BankError as e:
            raise BankError(
                f"{e}; to compare releases that are not imported, run `qbank import banks` first, or read them "
                f"from the files: `qbank diff {args.standard} {args.old} {args.new} --path banks`",
                e.problems,
            ) from None
        _store_changes(engine, d)
    if args.format == "json":
        print(json.dumps(d.as_dict(), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"{d.standard}: {d.old} -> {d.new}")
    if d.definition:
        print(f"  standard definition changed: {', '.join(d.definition)}")
    print(f"  added ({len(d.added)}): " + (", ".join(f"{i} v{v}" for i, v in d.added) or "none"))
    print(f"  changed ({len(d.changed)}):" + ("" if d.changed else " none"))
    for i, a, b in d.changed:
        print(f"    {i} v{a} -> v{b}")
        for change in d.changes.get(i, []):
            for line in change.lines():  # a probe's line is indented under its field's name
                lead = " " * (len(line) - len(line.lstrip()))
                print(_wrap(line.lstrip(), indent="      " + lead, hang="  "))
    print(f"  retired ({len(d.retired)}): " + (", ".join(f"{i} v{v}" for i, v in d.retired) or "none"))
    print(f"  unchanged: {d.unchanged}")
    return EXIT_OK


def cmd_import(args) -> int:
    from .importer import already_imported, import_bank
    from .store import describe, table_counts
    from .validation import load_releases

    # Import loads releases: it checks everything about them (format, references, versions, each
    # question against its hash). The question files are `validate`'s and `release`'s: a draft
    # being written does not stop released questions from being imported.
    engine = _engine()
    # unchanged manifests (every one already in the store, by its file's hash): nothing to read
    report = already_imported(engine, Path(args.path))
    if report is None:
        report = import_bank(engine, load_releases(Path(args.path)))
    json_out = args.format == "json"
    solved = _solve_plans(engine, None, again=False, quiet=json_out)
    if json_out:
        print(
            json.dumps(
                {
                    **report.as_dict(),
                    "plans": [_solved_dict(x) for x in solved],
                    "store": describe(engine),
                    "rows": table_counts(engine),
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(f"store: {describe(engine)}")
    if report.new_releases:
        print(
            f"imported {len(report.new_releases)} new release(s): {', '.join(report.new_releases)} "
            f"({report.new_versions} new question version(s))"
        )
    else:
        print("nothing new: every release is already in the store")
    if report.known_releases:
        print(f"already in the store: {', '.join(report.known_releases)}")
    if report.unreleased:
        print(f"not imported (no release yet; run `qbank release CODE 1.0.0`): {', '.join(report.unreleased)}")
    for x in solved:
        print(_solved_line(x))
    return EXIT_OK


def _solve_plans(engine, standard: str | None, *, again: bool, quiet: bool):
    from .plans import solve_missing

    def progress(std: str, rel: str, method: str) -> None:
        if not quiet:
            print(f"solving the exposure plan of {std} {rel} {method} ...", file=sys.stderr, flush=True)

    return solve_missing(engine, standard, again=again, progress=progress)


def _solved_dict(x) -> dict:
    d = {"standard": x.standard, "release": x.release, "method": x.method}
    if x.plan is None:
        return {**d, "problem": x.problem}
    p = x.plan.as_dict()
    p.pop("rates")
    return {**d, **p}


def _solved_line(x) -> str:
    head = f"plan {x.standard} {x.release} {x.method}: "
    if x.plan is None:
        return head + f"no set can be drawn: {x.problem}"
    p = x.plan
    if not p.usable or (not p.rates and p.floor == 0):
        return head + (p.note or "nothing to draw")
    proof = "proved" if p.proved else f"not proved: {p.note}"
    binding = f"; held up by {', '.join(p.binding[:6])}{' …' if len(p.binding) > 6 else ''}" if p.binding else ""
    return (
        head + f"exposure floor {p.floor:.3f} ({proof}), cap {p.cap:.2f}; least overlap {p.overlap:.4f} "
        f"(even use {p.even_share:.4f}){binding}; {p.seconds:.1f} s"
    )


def cmd_plan(args) -> int:
    engine = _engine()
    solved = _solve_plans(engine, args.standard, again=args.again, quiet=args.format == "json")
    if args.format == "json":
        print(json.dumps([_solved_dict(x) for x in solved], indent=2))
        return EXIT_OK
    if not solved:
        print("every method of every release has its plan" + (f" ({args.standard})" if args.standard else ""))
    for x in solved:
        print(_solved_line(x))
    return EXIT_OK


def _wrap(text: str, width: int | None = None, indent: str = "    ", hang: str = "") -> str:
    """Text re-flowed to the terminal's width (88 columns when not a terminal, at most 100):
    paragraphs are separated by blank lines; the single line breaks a writer left inside a
    paragraph (a TOML multi-line string) are not kept, so no word is left alone on its line.
    `hang` indents the lines after the first (a probe's text under its "- ")."""
    if width is None:
        import shutil

        width = min(100, shutil.get_terminal_size((88, 24)).columns)
    width = max(width, len(indent + hang) + 20)
    paragraphs = []
    for par in re.split(r"\n\s*\n", text):
        out: list[str] = []
        # a line opening a list item ("- ", "* ", "1. ") starts a block of its own, hung under its marker
        for block in re.split(r"\n(?=\s*(?:[-*•]|\d+[.)])\s)", par):
            words = " ".join(block.split())
            if not words:
                continue
            marker = re.match(r"(?:[-*•]|\d+[.)])\s", words)
            under = hang + (" " * len(marker.group(0)) if marker and not hang else "")
            fill = textwrap.TextWrapper(width, initial_indent=indent, subsequent_indent=indent + under)
            fill.break_on_hyphens = False
            out.append(fill.fill(words))
        if out:
            paragraphs.append("\n".join(out))
    return "\n\n".join(paragraphs)  # a blank line between paragraphs, as the writer left it


def _fit(line: str, width: int | None = None) -> str:
    """A report line folded at word boundaries to the terminal's width (88 when not a terminal),
    its continuation indented under its start: an 80-column terminal otherwise cuts words."""
    if width is None:
        import shutil

        width = shutil.get_terminal_size((88, 24)).columns
    if len(line) <= width:
        return line
    lead = line[: len(line) - len(line.lstrip())]
    return textwrap.fill(
        line.strip(), max(width, len(lead) + 24), initial_indent=lead, subsequent_indent=lead + "    ",
        break_on_hyphens=False, break_long_words=False,
    )  # fmt: skip


def cmd_list(args) -> int:
    from .catalogue import list_questions

    _check_threshold(args.limit, "--limit", 0, None)
    rows = list_questions(
        _engine(),
        standard=args.standard,
        method=args.method,
        outcome=args.outcome,
        status=args.status,
        search=args.search,
        limit=args.limit,
    )
    if args.format == "json":
        print(json.dumps([r.as_dict() for r in rows], indent=2))
        return EXIT_OK
    for r in rows:
        first = " ".join(r.text.split())
        first = first if len(first) <= 70 else first[:67] + "..."
        score = f" ({r.score:g})" if r.score is not None else ""
        print(f"{r.id:<14} v{r.version:<3} {r.status:<8} {','.join(r.outcomes):<22} {first}{score}")
    print(f"{len(rows)} question(s)")
    return EXIT_OK


def cmd_show(args) -> int:
    from .catalogue import show_question

    d = show_question(_engine(), args.id)
    if args.format == "json":
        print(json.dumps(d.as_dict(), indent=2))
        return EXIT_OK
    print(f"{d.id} ({d.standard}) — {d.status}")
    for v in d.versions:
        rels = ", ".join(v["releases"]) or "none"
        print(f"\nversion {v['version']}  [releases: {rels}]  {v['minutes']} min  topic: {v['topic']}")
        print(f"  methods: {', '.join(v['methods'])}")
        print(f"  outcomes: {', '.join(v['outcomes'])}")
        print(_wrap(v["text"], indent="  "))
        for probe in v["probes"]:
            print(_wrap("- " + probe, indent="    ", hang="  "))
        if v["guidance"]:
            print("  guidance:")
            print(_wrap(v["guidance"], indent="    "))
        for band, text in v["bands"].items():
            print(f"  {band}:")
            print(_wrap(text, indent="    "))
    return EXIT_OK


def _files_stats(bank, code: str):
    """`qbank stats` of bank files: the approved questions of the working files per outcome and method."""
    from collections import Counter

    from .catalogue import StandardStats

    std = bank.standards[code]
    approved = [q for q in bank.questions_of(code) if q.status == "approved"]
    counts = Counter((o, m) for q in approved for o in q.outcomes for m in q.methods)
    return StandardStats(
        code=code,
        title=std.title,
        release="draft",
        methods=list(std.methods),
        outcomes=[(o.code, o.group) for o in std.outcomes.values()],
        required={m.id: set(m.assesses) for m in std.methods.values()},
        counts=dict(counts),
        questions=len(approved),
        threshold=std.min_per_outcome,
    )


def cmd_stats(args) -> int:
    if args.path:
        bank = _files_bank(args.path, args.standard)
        result = [_files_stats(bank, code) for code in sorted(bank.standards) if code == (args.standard or code)]
    else:
        from .catalogue import stats

        result = stats(_engine(), args.standard)
    if args.format == "json":
        print(json.dumps([s.as_dict() for s in result], indent=2))
        return EXIT_OK
    if not result:
        print("the store is empty: run `qbank import banks`, or read the files: `qbank stats --path banks`")
        return EXIT_OK
    for st in result:
        source = f"the files in {args.path}" if args.path else f"release {st.release or 'none'}"
        print(f"\n{st.code} {st.title} — {source}, {st.questions} approved question(s)")
        labels = {m: f"M{i + 1}" for i, m in enumerate(st.methods)}
        for m in st.methods:
            print(f"  {labels[m]} = {m} (assesses {len(st.required[m])} outcomes)")
        header = f"  {'outcome':<12}" + "".join(f"{labels[m]:>6}" for m in st.methods)
        print(header)
        for code, _group in st.outcomes:
            cells = []
            for m in st.methods:
                n = st.counts.get((code, m), 0)
                if code in st.required[m]:
                    cells.append(f"{n}{'!' if n < st.threshold else ' '}".rjust(6))
                else:
                    cells.append(("·" if n == 0 else f"({n})").rjust(6))
            print(f"  {code:<12}" + "".join(cells))
        short = st.shortfalls()
        print(
            f"  shortfalls (required outcome with fewer than {st.threshold} approved questions): "
            + (", ".join(f"{m}/{o}={n}" for m, o, n in short) if short else "none")
        )
    print("\n(n = approved questions for a required outcome; (n) = usable but not required; · = none)")
    return EXIT_OK


def _print_draw(r) -> None:
    print(
        f"draw {r.draw_id}: {r.standard} {r.method} (release {r.release}) for {r.apprentice}, {r.attempt} attempt"
        + (f", cohort {r.cohort}" if r.cohort else "")
    )
    extra = f" incl. {r.extra_time_pct}% extra time" if r.extra_time_pct else ""
    print(
        f"{len(r.questions)} questions, {r.minutes} of {r.budget_minutes} minutes{extra}; "
        f"covers all {len(r.required)} required outcomes"
    )
    for q in r.questions:
        first = " ".join(q.text.split())
        first = first if len(first) <= 72 else first[:69] + "..."
        tag = " (opener)" if q.opener else ""
        print(f"  {q.position:>2}. {q.id} v{q.version} [{', '.join(q.outcomes)}] {q.minutes} min{tag}")
        print(f"      {first}")


def cmd_draw(args) -> int:
    from .draws import REUSE_WINDOW, DrawRequest, draw_set, load_draw, replay

    engine = _engine()
    if args.replay is not None:
        rp = replay(engine, args.replay)
        if args.format == "json":
            print(
                json.dumps(
                    {
                        "draw_id": rp.draw_id,
                        "identical": rp.identical,
                        "stored": [f"{c} v{v}" for c, v in rp.stored],
                        "replayed": [f"{c} v{v}" for c, v in rp.replayed],
                    },
                    indent=2,
                )
            )
        else:
            verdict = "reproduced exactly" if rp.identical else "DIFFERS from the stored set"
            print(f"draw {rp.draw_id} {verdict}")
            print("  stored:   " + ", ".join(f"{c} v{v}" for c, v in rp.stored))
            print("  replayed: " + ", ".join(f"{c} v{v}" for c, v in rp.replayed))
        return EXIT_OK if rp.identical else EXIT_PROBLEMS
    if args.show is not None:
        r = load_draw(engine, args.show)
    else:
        missing = [f"--{n}" for n in ("standard", "method", "apprentice") if not getattr(args, n)]
        if missing:
            raise UsageError(f"a draw needs {', '.join(missing)} (or --replay / --show DRAW_ID)")
        r = draw_set(
            engine,
            DrawRequest(
                standard=args.standard,
                method=args.method,
                apprentice=args.apprentice,
                attempt=args.attempt,
                cohort=args.cohort,
                extra_time_pct=args.extra_time,
                release=args.release,
                exposure_cap=args.exposure_cap,
            ),
            reuse_within=REUSE_WINDOW,
        )
    if args.format == "json":
        print(json.dumps(r.as_dict(), indent=2))  # "existing": true says a set was returned, not drawn
    else:
        if r.existing:
            print(
                f"qbank draw: an identical request drew this set in the last {REUSE_WINDOW} s (draw {r.draw_id}): "
                "it is returned and nothing new was drawn",
                file=sys.stderr,
            )
        _print_draw(r)
    _warn_not_cleared(engine, r.standard, r.release)
    return EXIT_OK


def _warn_not_cleared(engine, standard: str, release: str) -> None:
    """A warning on stderr when the release needs clearing for live assessment and is not cleared."""
    from .clearance import status

    c = status(engine, standard, release)
    if c.not_cleared:
        print(f"qbank: warning: {c.banner}", file=sys.stderr)


def cmd_clear(args) -> int:
    from .clearance import clear, withdraw

    engine = _engine()
    if args.withdraw:
        c = withdraw(engine, args.standard, args.release, args.by, args.note)
    else:
        c = clear(engine, args.standard, args.release, args.by, args.note)
    if args.format == "json":
        print(json.dumps(c.as_dict(), indent=2))
    else:
        print(f"{c.standard} {c.release}: {c.text}")
    return EXIT_OK


def cmd_clearance(args) -> int:
    from .clearance import listing

    rows = listing(_engine(), args.standard)
    if args.format == "json":
        print(json.dumps([c.as_dict() for c in rows], indent=2))
        return EXIT_OK
    if not rows:
        print("the store holds no release: run `qbank import banks`")
        return EXIT_OK
    width = max(len(f"{c.standard} {c.release}") for c in rows)
    for c in rows:
        print(f"{c.standard + ' ' + c.release:<{width}}  {c.text}")
    return EXIT_OK


def cmd_swap(args) -> int:
    from .draws import swap

    res = swap(_engine(), args.draw_id, args.question, args.reason)
    if args.format == "json":
        print(
            json.dumps({"out": res.out_id, "in": res.in_id, "reason": res.reason, "draw": res.draw.as_dict()}, indent=2)
        )
    else:
        print(f"swapped {res.out_id} for {res.in_id} (reason recorded: {res.reason})")
        _print_draw(res.draw)
    return EXIT_OK


def _date(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-11-23") from None


def _write_or_print(text: str, output: str | None, what: str) -> None:
    if not output:
        sys.stdout.write(text)
        return
    from .safe_write import write_output

    out = write_output(output, text)  # never through a link; a folder or missing folder: BankError (exit 1)
    print(f"wrote {what} to {out}", file=sys.stderr)


def cmd_review(args) -> int:
    from .reports import render
    from .reviews import Filters, review

    f = Filters(
        standard=args.standard,
        method=args.method,
        release=args.release,
        since=args.since,
        until=args.until,
        assessor=args.assessor,
        cohort=args.cohort,
    )
    options = {"path": args.path} if args.kind == "health" and args.path else {}
    if args.path and args.kind != "health":
        raise UsageError("--path is only used by the health review")
    report = review(_engine(), args.kind, f, **options)
    _write_or_print(render(report, args.format), args.output, f"the {args.kind} review")
    return EXIT_OK


def cmd_record(args) -> int:
    from .iqa import for_view
    from .record import render
    from .sessions import load

    engine = _engine()
    view = load(engine, args.assessment_id)
    text = render(view, args.format, iqa=for_view(engine, view))
    _write_or_print(text, args.output, f"the record of assessment {args.assessment_id}")
    return EXIT_OK


# --------------------------------------------------------------------------- iqa: second marking

_IQA_SAMPLE_RULE = """\
How the sample is chosen, per assessor, over the assessments completed in the period:
  - every assessment with a fail (the lowest grade of a method or overall grade: Fail, REFERRAL);
  - every assessment with a distinction (the top grade of a scale of three or more grades; on
    PASS/REFERRAL the pass is not sampled for itself);
  - a random share (--share, default 0.1 = 10 %, rounded up, at least one) of the assessor's other
    completed assessments, drawn with --seed: each is ranked by SHA-256 of the seed and its id and
    the first taken, so the same seed, period and store give the same sample. Without --seed one
    is made up and printed with the command that repeats the draw."""


def _add_iqa(sub) -> None:
    p = sub.add_parser(
        "iqa",
        help="internal quality assurance: the second-marking sample, second marks, agreement",
        description="Internal quality assurance: choose the assessments to second-mark, record a second "
        "marker's own marks or levels per method (graded by the method's rules), and show them beside "
        "the assessor's with whether they agree.",
    )
    isub = p.add_subparsers(dest="iqa_command", metavar="ACTION", parser_class=_Parser, required=True)

    q = isub.add_parser(
        "sample",
        help="which completed assessments to second-mark, and why",
        description="List the completed assessments to second-mark, and why (fail, distinction, random share).\n\n"
        + _IQA_SAMPLE_RULE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    q.add_argument("--share", type=float, default=0.1, metavar="SHARE", help="random share per assessor (default 0.1)")
    q.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="completed on or after (default: any time)")
    q.add_argument("--until", type=_date, metavar="YYYY-MM-DD", help="completed on or before (default: today)")
    q.add_argument("--standard", help="only this standard")
    q.add_argument("--seed", help="the random draw's seed (default: a new one, printed)")
    _add_format(q)

    q = isub.add_parser(
        "mark",
        help="record a second marker's marks or levels for one method of an assessment",
        description="Record the second marker's own judgement of one ended method: a mark for every section "
        "(--mark SECTION=N, marks and weighted schemes) or a level for every criterion (--level "
        "CRITERION=LEVEL, descriptors); the grade is what the method's rules give them. For a method "
        "without grading rules give --grade. The second marker must not be the assessor. Marking again "
        "records a correction; the newest counts.",
    )
    q.add_argument("assessment_id", type=int)
    q.add_argument("--method", required=True, metavar="METHOD_ID", help="the method's id, e.g. professional-discussion")
    q.add_argument("--marker", required=True, metavar='"FULL NAME"', help="the second marker (not the assessor)")
    q.add_argument("--mark", action="append", default=[], metavar="SECTION=N", help="a section's mark (repeat)")
    q.add_argument("--level", action="append", default=[], metavar="CRITERION=LEVEL", help="a criterion's level")
    q.add_argument("--grade", help="the grade, for a method without grading rules only")
    q.add_argument("--note", default="", metavar="TEXT", help="the second marker's comment")
    _add_format(q)

    q = isub.add_parser("show", help="an assessment's second marks beside the assessor's, agree or not")
    q.add_argument("assessment_id", type=int)
    _add_format(q)


def _pairs(items: list[str], flag: str, what: str, number: bool) -> dict:
    """--mark define=8 / --level P1=pass into a dict, each malformed or repeated one named."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            example = "define=8" if number else "P1=pass"
            raise UsageError(f"{flag} '{item}' is not {what}={'N' if number else 'LEVEL'} (e.g. {flag} {example})")
        if key in out:
            raise UsageError(f"{flag} gives {key} twice")
        if number:
            try:
                out[key] = float(value)
            except ValueError:
                raise UsageError(f"{flag} {key}: '{value}' is not a number") from None
        else:
            out[key] = value
    return out


def cmd_iqa(args) -> int:
    return {"sample": _iqa_sample, "mark": _iqa_mark, "show": _iqa_show}[args.iqa_command](args)


def _iqa_sample(args) -> int:
    from .iqa import sample

    smp = sample(
        _engine(), share=args.share, since=args.since, until=args.until, standard=args.standard, seed=args.seed
    )
    if args.format == "json":
        print(json.dumps(smp.as_dict(), indent=2))
        return EXIT_OK
    period = f"{smp.since.isoformat() if smp.since else 'any time'} to {smp.until.isoformat() if smp.until else 'now'}"
    print(f"IQA sample: {smp.rule}")
    print(f"period {period}; standard {smp.standard or 'all'}; seed {smp.seed}")
    if not smp.assessors:
        print("no completed assessment in the period: nothing to sample")
        return EXIT_OK
    print(f"\n  {'assessor':<24}{'completed':>10}{'sampled':>9}{'fail':>6}{'distinction':>13}{'random':>8}")
    for a in smp.assessors:
        print(f"  {a.assessor[:23]:<24}{a.completed:>10}{a.sampled:>9}{a.fails:>6}{a.distinctions:>13}{a.random:>8}")
    print(f"\n  {'id':>6}  {'assessor':<20} {'standard':<10} {'apprentice':<14} {'completed':<10}  {'overall':<14} why")
    for i in smp.items:
        c = i.candidate
        done = "  (second-marked)" if c.second_marked else ""
        when = c.completed_at.strftime("%Y-%m-%d") if c.completed_at else "-"
        print(
            f"  {c.id:>6}  {c.assessor[:20]:<20} {c.standard[:10]:<10} {c.apprentice[:14]:<14} {when:<10}  "
            f"{c.overall[:14]:<14} {', '.join(i.reasons)}{done}"
        )
    print(f"\n{len(smp.items)} assessment(s) to second-mark; repeat this draw: {smp.reproduce}")
    return EXIT_OK


def _print_agreement(m) -> None:
    from .grading import fmt_number

    when = m.second.created_at.strftime("%Y-%m-%d %H:%M")
    print(f"{m.method}: second-marked by {m.second.marker} on {when} UTC: {m.verdict}")
    if m.corrections:
        print(f"  (corrects {m.corrections} earlier second mark(s); the newest counts)")
    if m.criteria:
        unit = "%" if m.scheme == "weighted" else ""
        print(f"  {'criterion':<14}{'assessor':>12}{'second marker':>16}{'difference':>12}")
        for c in m.criteria:
            if m.scheme == "descriptors":
                mine, theirs, diff = c.assessor_level or "-", c.second_level or "-", "" if c.same else "differs"
            else:
                mine = fmt_number(c.assessor_mark) + unit if c.assessor_mark is not None else "-"
                theirs = fmt_number(c.second_mark) + unit
                diff = c.difference_text
            print(f"  {c.id[:13]:<14}{mine:>12}{theirs:>16}{diff:>12}")
        if m.second_total is not None:
            mine = fmt_number(m.assessor_total) + unit if m.assessor_total is not None else "-"
            diff = m.total_difference_text
            print(f"  {'total':<14}{mine:>12}{fmt_number(m.second_total) + unit:>16}{diff:>12}")
    print(f"  grade: assessor {m.assessor_grade or 'not graded yet'}, second marker {m.second.grade}")
    if m.second.note:
        print(f"  note: {m.second.note}")


def _iqa_mark(args) -> int:
    from .iqa import record_second_mark

    marks = _pairs(args.mark, "--mark", "SECTION", number=True)
    levels = _pairs(args.level, "--level", "CRITERION", number=False)
    if not marks and not levels and not args.grade:
        raise UsageError("give the second marker's --mark SECTION=N for every section, or --level CRITERION=LEVEL")
    m = record_second_mark(
        _engine(),
        args.assessment_id,
        args.method,
        args.marker,
        marks=marks or None,
        levels=levels or None,
        grade=args.grade,
        note=args.note,
    )
    if args.format == "json":
        print(json.dumps(m.as_dict(), indent=2))
    else:
        print(f"assessment {args.assessment_id}: second mark recorded")
        _print_agreement(m)
    return EXIT_OK


def _iqa_show(args) -> int:
    from .iqa import load

    r = load(_engine(), args.assessment_id)
    if args.format == "json":
        print(json.dumps(r.as_dict(), indent=2))
        return EXIT_OK
    print(f"assessment {r.assessment_id} ({r.status}), assessor {r.assessor}")
    for m in r.methods:
        _print_agreement(m)
    if r.unmarked:
        print("not second-marked: " + ", ".join(r.unmarked))
    for o in r.overall:
        second = o.second_grade or f"waiting for a second mark in {', '.join(o.missing)}"
        print(
            f"overall {o.id}: assessor {o.assessor_grade or 'not yet available'}, second marker {second}: {o.verdict}"
        )
    return EXIT_OK


# Set by textual-serve (`qbank serve`) for each browser session: the app then talks to the browser
# over stdin/stdout pipes, not a terminal.
_WEB_DRIVER = "textual.drivers.web_driver:WebDriver"


def cmd_tui(args) -> int:
    if not sys.stdout.isatty() and os.environ.get("TEXTUAL_DRIVER", "").strip() != _WEB_DRIVER:
        raise UsageError("the live app needs a terminal; run `qbank tui` in one (nothing was changed)")
    engine = _engine()
    if args.import_banks:
        from .importer import import_bank
        from .validation import load_bank

        bank = load_bank(Path(args.import_banks), health=False)
        report = import_bank(engine, bank)
        print(f"store ready: {len(report.new_releases)} new release(s) imported", file=sys.stderr)
    from .tui.app import run  # the app (folder tui/, installed as qbank.tui); the core library knows nothing of it

    run(engine, resume=args.resume)
    return EXIT_OK


def cmd_serve(args) -> int:
    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be between 1 and 65535 (got {args.port})")
    if not args.host.strip():
        raise UsageError("--host must name an address, e.g. 127.0.0.1")
    try:
        from .tui.serve import serve
    except ImportError as e:
        if (e.name or "").split(".")[0] not in ("textual_serve", "aiohttp", "aiohttp_jinja2"):
            raise
        print(
            f"qbank serve: needs the textual-serve package ({e}); install it: pip install textual-serve",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    _engine()  # the store must answer before browsers connect (each session opens it again)
    try:
        serve(args.host, args.port)
    except OSError as e:
        import errno

        why = e.strerror or str(e)
        if e.errno == errno.EADDRINUSE:
            why = "the port is already in use (choose another with --port)"
        print(f"qbank serve: cannot listen on {args.host}:{args.port}: {why}", file=sys.stderr)
        return EXIT_PROBLEMS
    print("qbank serve: stopped", file=sys.stderr)
    return EXIT_OK


def cmd_simulate(args) -> int:
    from .draws import method_spec, spec_from_bank
    from .plans import stored_plan_of
    from .simulate import ExposureFloor, SimConfig, simulate

    if args.draws < 2:
        raise UsageError("--draws must be at least 2")
    if not (0 <= args.resit_share <= 1 and 0 <= args.retake_share <= 1):
        raise UsageError("--resit-share and --retake-share are shares from 0 to 1")
    if args.steer and args.no_plan:
        raise UsageError("--steer steers towards the plan's rates: it cannot be used with --no-plan")
    if args.path:
        bank = _files_bank(args.path, args.standard)
        spec = spec_from_bank(bank, args.standard, args.method, exposure_cap=args.exposure_cap)
        stored_plan = None
    else:
        engine = _engine()
        spec = method_spec(
            engine, args.standard, args.method, extra_time_pct=args.extra_time, exposure_cap=args.exposure_cap
        )
        stored_plan = stored_plan_of(engine, args.standard, args.method)
    plan = None
    if not args.no_plan:
        plan = stored_plan if stored_plan is not None and stored_plan.cap == spec.exposure_cap else None
        if plan is None:  # bank files, a release not planned yet, or another cap: solve it now
            from .draw import Infeasible
            from .floor import plan as solve

            try:
                plan = solve(spec)
            except Infeasible:
                plan = None  # the draws fail too, and say why
    if args.extra_time:
        from dataclasses import replace

        spec = replace(spec, extra_time_pct=args.extra_time)
    ours, base = simulate(
        spec,
        SimConfig(
            draws=args.draws,
            resit_share=args.resit_share,
            retake_share=args.retake_share,
            cohort_size=args.cohort_size,
            seed=args.seed,
        ),
        plan,
        steer=args.steer,
    )
    bank_floor = ExposureFloor.of(spec)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "standard": args.standard,
                    "method": args.method,
                    "qbank": ours.as_dict(),
                    "baseline": base.as_dict(),
                    # per outcome: how many questions can cover it (k) and the exposure floor 1/k that sets
                    "outcome_floors": {
                        o: {"k": k, "floor": round(1 / k, 4) if k else None} for o, k in bank_floor.by_outcome.items()
                    },
                },
                indent=2,
            )
        )
        return EXIT_OK

    def ratio(r: float | None) -> str:
        return "n/a" if r is None else f"{r:.2f}"

    print(
        f"{args.standard} {args.method}: {ours.sets + ours.failures} draws, pool {ours.pool} questions, "
        f"{len(spec.method.required)} required outcomes"
        + (
            f" (of {len(spec.method.assesses)} assessed)"
            if spec.method.required != frozenset(spec.method.assesses)
            else ""
        )
        + f", {spec.budget} minutes"
    )
    rows = [
        ("sets drawn (failed)", lambda s: f"{s.sets} ({s.failures})"),
        ("coverage: sets covering every outcome", lambda s: f"{s.coverage:.1%}"),
        ("repeats: questions met twice by an apprentice", lambda s: f"{s.repeats}"),
        ("sets holding near-duplicates or exclusions", lambda s: f"{s.conflicting}"),
        ("exposure: max / mean share of sets", lambda s: f"{s.exposure_max:.3f} / {s.exposure_mean:.3f}"),
        (f"questions over the exposure cap ({ours.cap:.2f})", lambda s: f"{s.over_cap}"),
        ("exposure floor; max / floor", lambda s: f"{s.exposure_floor:.3f}; {ratio(s.exposure_floor_ratio)}"),
        ("questions over max(cap, floor)", lambda s: f"{s.over_limit} (> {s.exposure_limit:.3f})"),
        ("overlap: mean pairwise rate", lambda s: f"{s.overlap:.4f}"),
        ("overlap bound L/N; ratio", lambda s: f"{s.overlap_bound:.4f}; {s.overlap_ratio:.2f}"),
        ("overlap floor for M sets; ratio", lambda s: f"{s.overlap_floor:.4f}; {ratio(s.overlap_floor_ratio)}"),
        (
            "overlap the bank allows (LP); ratio",
            lambda s: f"{s.plan_overlap:.4f}; {ratio(s.plan_overlap_ratio)}" if s.plan_overlap else "-",
        ),
        ("overlap within cohorts", lambda s: f"{s.cohort_overlap:.4f}"),
        ("set length mean (min-max)", lambda s: f"{s.length_mean:.1f} ({s.length_min}-{s.length_max})"),
        ("draw latency p50 / p99 (ms)", lambda s: f"{s.latency_p50_ms:.2f} / {s.latency_p99_ms:.2f}"),
    ]
    if spec.method.themes:
        rows.insert(3, ("sets short of a theme's minimum", lambda s: f"{s.short_of_theme}"))
    if spec.method.required != frozenset(spec.method.assesses):
        rows.insert(2, ("breadth: share of assessed outcomes targeted", lambda s: f"{s.breadth:.1%}"))
    print(f"  {'':<46}{'qbank':>18}{base.label:>24}")
    for name, f in rows:
        print(f"  {name:<46}{f(ours):>18}{f(base):>24}")
    if ours.sets_by_attempt or ours.failures:
        print(
            "  failed sets by attempt: "
            + ", ".join(
                f"{a} {failed} of {ours.sets_by_attempt.get(a, 0) + failed}"
                for a in ("first", "resit", "retake")
                for failed in [ours.failures_by_attempt.get(a, 0)]
            )
        )
    if ours.over_cap_questions:
        over = list(ours.over_cap_questions.items())
        print(
            f"  questions over the cap ({ours.cap:.2f}), share of sets: "
            + ", ".join(f"{q} {x:.3f}" for q, x in over[:10])
            + (f" and {len(over) - 10} more" if len(over) > 10 else "")
        )
    if ours.failure_reasons:
        print(
            "  failed sets by the outcome that ran out: "
            + ", ".join(f"{k} x{v}" for k, v in ours.failure_reasons.items())
        )
    if plan is not None:
        proof = "proved optimal" if plan.proved else f"a lower bound: {plan.note}"
        print(
            f"  the bank's exposure floor (linear programming over every valid set): {plan.floor:.3f}, {proof}; "
            f"max exposure {ours.exposure_max:.3f} against max(cap {plan.cap:.2f}, floor) = {plan.limit:.3f}"
            + (" (over by more than 0.01)" if ours.exposure_max > plan.limit + 0.01 else "")
        )
        if plan.binding:
            print(
                "  outcomes that hold the floor up (every set takes one of their few questions): "
                + ", ".join(plan.binding)
            )
    elif not args.no_plan:
        print("  no plan: no set meets every constraint")
    if bank_floor.k:
        named = ", ".join(bank_floor.outcomes[:5]) + (
            f" and {len(bank_floor.outcomes) - 5} more" if len(bank_floor.outcomes) > 5 else ""
        )
        print(
            f"  the coverage bound: 1/{bank_floor.k} = {bank_floor.floor:.3f}, as every set needs one of the "
            f"{bank_floor.k} questions that can cover {named}"
        )
    if ours.exposure_floor_k == 0 and ours.sets:
        print(f"  qbank's exposure floor is the mean share L/N = {ours.exposure_floor:.3f} (above 1/k)")
    if ours.sets:
        print(
            f"  qbank's overlap floor (M·L/N - 1)/(M - 1): M = {ours.sets} sets, L = {ours.length_mean:.2f}, "
            f"N = {ours.floor_pool} questions that fit {spec.budget} minutes"
        )
    uncoverable = [o for o, k in bank_floor.by_outcome.items() if not k]
    if uncoverable:
        print(f"  no question can cover: {', '.join(uncoverable)}")
    return EXIT_OK


def cmd_gaps(args) -> int:
    from .draw import DrawSpec
    from .exposure import Plan
    from .gaps import StandardGaps, method_gaps

    if not 0 < args.exposure_cap <= 1:
        raise UsageError("--exposure-cap is a share between 0 and 1, e.g. 0.30")
    if args.draws < 0:
        raise UsageError("--draws must be 0 (no simulation) or more")
    if args.path:
        from .pools import spec_from_bank

        bank = _files_bank(args.path, args.standard)
        source = f"the approved questions in {args.path}"
        found: list[tuple[DrawSpec, Plan | None]] = [
            (spec_from_bank(bank, args.standard, m, exposure_cap=args.exposure_cap), None)
            for m in bank.standards[args.standard].methods
        ]
    else:
        from .catalogue import stats
        from .plans import stored_plan_of
        from .pools import method_spec

        engine = _engine()
        (st,) = stats(engine, args.standard)  # a BankError names an unknown standard
        if st.release is None:
            raise BankError(
                f"{args.standard} has no release in the store: run `qbank release` and `qbank import banks`, "
                f"or read the files: `qbank gaps {args.standard} --path banks`"
            )
        source = f"release {st.release} in the store"
        found = [
            (
                method_spec(engine, args.standard, m, exposure_cap=args.exposure_cap),
                stored_plan_of(engine, args.standard, m),
            )
            for m in st.methods
        ]
    report = StandardGaps(
        args.standard, source, [method_gaps(spec, plan, draws=args.draws, seed=args.seed) for spec, plan in found]
    )
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(_fit(line) for line in report.lines()))
    return EXIT_OK


COMMANDS = {
    "validate": cmd_validate,
    "release": cmd_release,
    "diff": cmd_diff,
    "import": cmd_import,
    "plan": cmd_plan,
    "list": cmd_list,
    "show": cmd_show,
    "stats": cmd_stats,
    "draw": cmd_draw,
    "swap": cmd_swap,
    "simulate": cmd_simulate,
    "gaps": cmd_gaps,
    "record": cmd_record,
    "tui": cmd_tui,
    "serve": cmd_serve,
    "review": cmd_review,
    "iqa": cmd_iqa,
    "clear": cmd_clear,
    "clearance": cmd_clearance,
}


def _print_problems(problems: list[Problem], limit: int = 50) -> None:
    problems = sorted(problems, key=lambda p: not p.is_error)  # errors first, each kind in its order
    for p in problems[:limit]:
        print(p.render(), file=sys.stderr)
    if len(problems) > limit:
        print(f"... and {len(problems) - limit} more (run `qbank validate`)", file=sys.stderr)


def run() -> None:
    """The `qbank` command: `main`, then exit without a last collection of the command's objects.
    Python walks every live object at exit; after a draw on a 50,000-question pool that took
    0.65 s of a 1.55 s command. Freezing them first skips the walk: none is garbage by then."""
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        from . import cli_interop, cli_trust, cli_writers

        command = (
            COMMANDS.get(args.command)
            or cli_writers.COMMANDS.get(args.command)
            or cli_trust.COMMANDS.get(args.command)
            or cli_interop.COMMANDS[args.command]
        )
        return command(args)
    except UsageError as e:
        print(f"qbank {args.command}: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BankError as e:
        _print_problems(e.problems)
        reasons = getattr(e, "reasons", None)
        if reasons and len(reasons) > 1:
            print(f"qbank {args.command}: {str(e).split(': ', 1)[0]}:", file=sys.stderr)
            for r in reasons:
                print(f"  - {r}", file=sys.stderr)
        else:
            print(f"qbank {args.command}: {e}", file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        print(f"qbank {args.command}: interrupted; nothing partial was stored", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception as e:  # the last line of defence: a message, never a traceback
        if os.environ.get("QBANK_DEBUG"):
            raise
        from sqlalchemy.exc import OperationalError, SQLAlchemyError

        from .roles import denial_message

        denied = denial_message(e, _login())
        if denied:
            msg = denied
        elif isinstance(e, OperationalError):
            msg = f"cannot reach the store: {getattr(e, 'orig', e)}".strip()
        elif isinstance(e, SQLAlchemyError):
            msg = f"database error: {getattr(e, 'orig', e)}".strip()
        else:
            msg = f"unexpected error: {type(e).__name__}: {e} (set QBANK_DEBUG=1 for details)"
        print(f"qbank {args.command}: {msg}", file=sys.stderr)
        return EXIT_PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
