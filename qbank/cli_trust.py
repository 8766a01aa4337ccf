"""The trust commands: `qbank verify` (is the store what qbank wrote?), `qbank erase` (an
apprentice's personal data, keeping the record's statistics) and `qbank admin` (PostgreSQL roles
and row-level security)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK, EXIT_PROBLEMS = 0, 1


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands to the `qbank` parser's subparsers."""
    p = sub.add_parser(
        "verify",
        help="check the store against its audit log: tampering, deleted or rewritten records",
        description="Recompute the audit log's hash chain, compare every record row with its newest event "
        "and every question version with its content hash. Exit 1 naming each record that fails; 0 when "
        "the store is as qbank wrote it. Prints a checkpoint (SEQ:HASH): keep it where the database's users "
        "cannot write, and pass it back with --checkpoint to prove the log was not cut back or rebuilt since.",
    )
    p.add_argument("--checkpoint", metavar="SEQ:HASH", help="a checkpoint an earlier run printed")
    p.add_argument(
        "--limit", type=int, default=50, metavar="N", help="findings listed in text (default 50; JSON has all)"
    )
    _add_format(p)

    p = sub.add_parser(
        "erase",
        help="erase an apprentice's personal data, keeping the record's statistics",
        description="Replace the apprentice's reference with a random pseudonym and blank every free text "
        "written about them (notes, ad-hoc questions, reasons, feedback, adjustments), keeping draws, "
        "questions asked, evidence levels, marks and grades (the EPAO must still evidence its decisions). "
        "Without --yes, shows what would be erased and changes nothing. --list shows past erasures.",
    )
    p.add_argument("apprentice", nargs="?", help="the apprentice's reference, exactly as recorded")
    p.add_argument("--reason", default="", metavar="TEXT", help="why (e.g. the request's reference); kept in the log")
    p.add_argument("--yes", action="store_true", help="erase (without it: a dry run)")
    p.add_argument("--list", action="store_true", help="list the erasures the audit log records")
    _add_format(p)

    from . import cli_admin  # `qbank admin`

    cli_admin.register(sub, parser_class)


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def _engine():
    from .store import make_engine

    return make_engine()


def cmd_verify(args: Any) -> int:
    from .cli import UsageError
    from .verify import parse_checkpoint, verify

    if args.checkpoint:
        try:
            parse_checkpoint(args.checkpoint)
        except ValueError as e:
            raise UsageError(f"--checkpoint: {e}") from None
    engine = _engine()
    report = verify(engine, args.checkpoint)
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2))
        return EXIT_OK if report.ok else EXIT_PROBLEMS
    shown = report.findings[: max(args.limit, 0)]
    for f in shown:
        print(f"{f.check}: {f.record}: {f.problem}")
    if len(report.findings) > len(shown):
        print(f"... and {len(report.findings) - len(shown)} more (--format json lists every one)")
    summary = (
        f"{report.events} events, {report.rows} record rows, {report.versions} question versions, "
        f"{report.pools} draw pools checked"
    )
    if report.ok:
        print(f"ok: the store is as qbank wrote it ({summary})")
    else:
        n = len(report.findings)
        print(f"NOT OK: {n} record{'s' if n != 1 else ''} failed ({summary})", file=sys.stderr)
    print(f"checkpoint: {report.checkpoint}")
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def cmd_erase(args: Any) -> int:
    from .cli import UsageError
    from .erase import erase, erasures

    if args.list:
        if args.apprentice or args.yes:
            raise UsageError("--list takes no apprentice and no --yes")
        done = erasures(_engine())
        if args.format == "json":
            print(json.dumps(done, indent=2, default=str))
        elif not done:
            print("no erasures recorded")
        for e in done if args.format == "text" else []:
            print(
                f"event #{e['event']}  {e['at']:%Y-%m-%d %H:%M} UTC  by {e['by']}  "
                f"apprentice {e['apprentice_id']}  reason: {e.get('reason', '')}"
            )
        return EXIT_OK
    if not args.apprentice:
        raise UsageError("give the apprentice's reference (or --list)")
    if not args.reason.strip():
        raise UsageError("--reason is required (e.g. the request's reference); do not put the person's name in it")
    engine = _engine()
    out = erase(engine, args.apprentice, args.reason, dry_run=not args.yes)
    if args.format == "json":
        print(json.dumps({**out.__dict__, "records_rewritten": [str(p) for p in out.records_rewritten]}, indent=2))
        return EXIT_OK
    n = len(out.assessments)
    what = (
        f"{n} assessment{'s' if n != 1 else ''}, {out.texts_blanked} free text{'s' if out.texts_blanked != 1 else ''}"
    )
    if out.dry_run:
        print(
            f"would erase {out.ref}: reference replaced by a pseudonym; {what} blanked; draws, evidence levels, "
            "marks and grades kept. Nothing was changed: add --yes to erase."
        )
        return EXIT_OK
    print(f"erased {out.ref}: now {out.pseudonym}; {what} blanked; draws, evidence levels, marks and grades kept")
    for p in out.records_rewritten:
        print(f"record rewritten: {p}")
    return EXIT_OK


COMMANDS: dict[str, Callable[[Any], int]] = {"verify": cmd_verify, "erase": cmd_erase}
from . import cli_admin  # noqa: E402  (`qbank admin`: its commands join these)

COMMANDS.update(cli_admin.COMMANDS)
