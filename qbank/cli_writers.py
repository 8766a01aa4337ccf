"""The writers' command-line tools, wired into `qbank.cli` by `register` and `COMMANDS`:
`qbank new` (templates, `cli_new`) and `qbank grade` (the grading rules, `cli_grade`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands to the `qbank` parser's subparsers."""
    p = sub.add_parser(
        "new",
        help="write a commented template: a new standard's folder, or a draft question",
        description="Write a commented template that passes `qbank validate` as written: a new standard's "
        "folder (standard.toml and questions/), or a draft question with the standard's next free id.",
    )
    nsub = p.add_subparsers(dest="new_kind", metavar="WHAT", parser_class=parser_class, required=True)

    q = nsub.add_parser(
        "standard",
        help="a new standard's folder: standard.toml (outcomes, a method, grading) and questions/",
        description="Write BANK/CODE/standard.toml, every field commented, with example outcomes, one method "
        "and a grading skeleton to replace with the standard's own, and an empty questions/ folder. "
        "An existing standard is never overwritten.",
    )
    q.add_argument("code", help="the standard's code, e.g. ST0999 (letters, digits, '.', '_', '-')")
    q.add_argument("--path", default="banks", help="bank folder to write into (default: banks)")
    q.add_argument("--title", help="the standard's title (default: a TODO to replace)")
    q.add_argument("--level", type=int, metavar="N", help="RQF/FHEQ level (default: 3, to replace)")
    _add_format(q)

    q = nsub.add_parser(
        "question",
        help="a draft question with the standard's next free id, every field commented",
        description="Add a draft [[question]] block to a question file of STANDARD (questions/drafts.toml "
        "unless --file or --topic names another), creating the file with its header when it is new. "
        "The id is the next free one of the standard's numbering (per method with --method). An existing "
        "id is never reused.",
    )
    q.add_argument("standard", help="the standard's code, e.g. ST0556")
    q.add_argument("--path", default="banks", help="bank folder (default: banks)")
    q.add_argument("--id", dest="qid", metavar="ID", help="the question's id (default: the next free one)")
    q.add_argument(
        "--method",
        dest="methods",
        action="extend",
        nargs="+",
        default=[],
        metavar="M",
        help="method id(s) the question may be used in (default: every method of the standard)",
    )
    q.add_argument(
        "--outcome",
        dest="outcomes",
        action="extend",
        nargs="+",
        default=[],
        metavar="O",
        help="outcome code(s) a good answer evidences (default: the first the method assesses, a TODO)",
    )
    q.add_argument("--file", metavar="NAME", help="question file inside questions/ (default: drafts.toml)")
    q.add_argument("--topic", help="the question's topic (names the file when --file is not given)")
    q.add_argument("--author", metavar='"FULL NAME"', help="who writes the question")
    _add_format(q)

    p = sub.add_parser(
        "grade",
        help="apply a standard's grading rules: a method grade from levels or marks, or the overall grade",
        description="Apply STANDARD's grading rules (the newest release in the store, or the bank files with "
        "--path): a method's grade from a level per criterion (--level) or a mark per criterion (--mark), "
        "or the overall grade(s) from method grades (--overall), with the rule that gave each grade and "
        "what the next grade up lacked.",
    )
    p.add_argument("standard", help="the standard's code, e.g. ST0556")
    p.add_argument("--method", metavar="M", help="the method to grade, e.g. professional-discussion")
    p.add_argument(
        "--level",
        action="extend",
        nargs="+",
        default=[],
        metavar="CRITERION=LEVEL",
        help="a criterion's evidence level (descriptor schemes), e.g. PD1=pass",
    )
    p.add_argument(
        "--mark",
        action="extend",
        nargs="+",
        default=[],
        metavar="CRITERION=N",
        help="a criterion's mark (marks and weighted schemes), e.g. define=8",
    )
    p.add_argument(
        "--overall",
        action="extend",
        nargs="+",
        default=[],
        metavar="M=GRADE",
        help="a method grade, for the overall grade, e.g. professional-discussion=Pass",
    )
    p.add_argument("--attempt", choices=("first", "resit", "retake"), default="first", help="default: first")
    p.add_argument("--path", help="read the rules from the bank files here (e.g. banks) instead of the store")
    p.add_argument("--release", metavar="X.Y.Z", help="a release in the store (default: the newest)")
    _add_format(p)


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def _new(args: Any) -> int:
    from .cli_new import cmd_new

    return cmd_new(args)


def _grade(args: Any) -> int:
    from .cli_grade import cmd_grade

    return cmd_grade(args)


COMMANDS: dict[str, Callable[[Any], int]] = {"new": _new, "grade": _grade}
