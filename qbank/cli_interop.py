"""`qbank convert` (a spreadsheet, Moodle XML or QTI 3.0 file into draft questions) and
`qbank export` (a release as QTI 3.0, Moodle XML, CSV or XLSX)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
SHOWN = 30  # skipped questions listed one per line before "... and N more"


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands to the `qbank` parser's subparsers."""
    p = sub.add_parser(
        "convert",
        help="read a CSV/XLSX spreadsheet, Moodle XML or QTI 3.0 file into draft questions of a standard",
        description="Read FILE (its format found from its content: CSV, XLSX, Moodle XML, a QTI 3.0 item or "
        "package) and write its questions as draft questions of STANDARD, in the bank's TOML format "
        "(questions/imported-<file>.toml unless --into). Outcomes and methods are checked against the "
        "standard, through the map file for the names the source uses; an id already in the bank is never "
        "overwritten (a clash is reported). What is made, skipped and why is listed. If FILE cannot be read, "
        "nothing is written.",
    )
    p.add_argument("file", metavar="FILE", help="a .csv, .xlsx, Moodle .xml, QTI .xml item or .zip package")
    p.add_argument("--standard", required=True, metavar="CODE", help="the standard the questions belong to")
    p.add_argument("--path", default="banks", metavar="BANKS", help="bank folder (default: banks)")
    p.add_argument("--into", metavar="FILE", help="question file (or questions/ folder) to write the drafts to")
    p.add_argument("--map", metavar="MAP.toml", help="map file: source tags, methods and topics to the standard's")
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")

    p = sub.add_parser(
        "export",
        help="write a release as QTI 3.0, Moodle XML, CSV or XLSX",
        description="Write every question version of a release of STANDARD (default: the newest) to PATH: "
        "a QTI 3.0 content package (.zip), Moodle XML (essay questions), or CSV/XLSX in the layout "
        "`qbank convert` reads. From the store, or from the bank files' release manifests with --path.",
    )
    p.add_argument("standard", metavar="STANDARD", help="the standard's code, e.g. ST0556")
    p.add_argument("--release", metavar="X.Y.Z", help="the release (default: the newest)")
    p.add_argument("--path", metavar="BANKS", help="read the release manifests in the bank files instead of the store")
    p.add_argument(
        "--format", dest="to", required=True, choices=("qti", "moodle", "csv", "xlsx"), help="the file format"
    )
    p.add_argument("-o", "--output", required=True, metavar="PATH", help="the file to write")
    p.add_argument("--report", choices=("text", "json"), default="text", help="how to report (default: text)")


def cmd_convert(args: Any) -> int:
    from .convert import convert

    report = convert(Path(args.file), args.standard, Path(args.path), args.into and Path(args.into), args.map)
    code = EXIT_OK if report.written else EXIT_PROBLEMS
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return code
    from .safe_text import drop_controls

    out = sys.stdout
    if report.problems:
        for p in report.problems:
            print(f"qbank convert: {drop_controls(p)}", file=sys.stderr)
        print(f"qbank convert: {report.source} could not be read ({report.format}): nothing written", file=sys.stderr)
        return EXIT_PROBLEMS
    made = len(report.made)
    if made:
        ids = ", ".join(m.id for m in report.made[:8]) + (", ..." if made > 8 else "")
        print(f"made {made} draft question{'s' if made != 1 else ''} in {report.into}: {ids}", file=out)
    else:
        print(f"made no questions from {report.source} ({report.format}): nothing written", file=out)
    for title, items in (("skipped", report.skipped), ("clashes (ids already in the bank)", report.clashes)):
        if not items:
            continue
        print(f"{title}: {len(items)}", file=out)
        for s in items[:SHOWN]:
            print(f"  {drop_controls(s.where)}: {drop_controls(s.why)}", file=out)
        if len(items) > SHOWN:
            print(f"  ... and {len(items) - SHOWN} more (--format json lists every one)", file=out)
    for n in report.notes:
        print(f"note: {drop_controls(n)}", file=out)
    if made:
        print(
            f"next: review them (status stays draft until a second person reviews them), then "
            f"`qbank validate {report.into}`",
            file=out,
        )
    return code


def cmd_export(args: Any) -> int:
    from .export import export

    source: Any
    if args.path:
        source = Path(args.path)
    else:
        from .store import make_engine

        source = make_engine()
    r = export(source, args.standard, args.release, args.to, Path(args.output))
    if args.report == "json":
        print(json.dumps(r.as_dict(), indent=2))
    else:
        print(f"wrote {r.questions} question versions of {r.standard} {r.release} ({r.source}) as {r.format}: {r.path}")
    return EXIT_OK


COMMANDS: dict[str, Callable[[Any], int]] = {"convert": cmd_convert, "export": cmd_export}
