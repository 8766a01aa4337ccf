"""`qbank admin`: people and roles on PostgreSQL (qbank.roles), wired into `qbank.cli` through
`qbank.cli_trust` by `register` and `COMMANDS`."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

EXIT_OK = 0


def register(sub: Any, parser_class: type[argparse.ArgumentParser]) -> None:
    """Add `admin` and its actions to the `qbank` parser's subparsers."""
    from .roles import ROLE_HELP, ROLES

    roles_text = "; ".join(f"{k}: {v}" for k, v in ROLE_HELP.items())
    p = sub.add_parser(
        "admin",
        help="people and roles on PostgreSQL: set up the roles, add logins, list them",
        description="People and permissions, using PostgreSQL's own logins, roles and row-level security: "
        "the acting person is the database user, recorded on every write. On SQLite the store is "
        f"single-user. Roles: {roles_text}.",
    )
    asub = p.add_subparsers(dest="admin_command", metavar="ACTION", parser_class=parser_class, required=True)

    q = asub.add_parser(
        "init",
        help="create the group roles, grants and row-level security policies (idempotent)",
        description="Create qbank's group roles (" + ", ".join(ROLES.values()) + ") if they do not exist, "
        "then grant each its rights and set row-level security on every table of the store's schema. "
        "Run it as a superuser (or, once the roles exist, as the owner of qbank's tables), and again "
        "after upgrading qbank. Running it twice changes nothing.",
    )
    _add_format(q)

    q = asub.add_parser(
        "add-user",
        help="add a PostgreSQL login with a qbank role (or give an existing login another role)",
        description="Create the login NAME in the role's group, or give an existing login that role too. "
        "Run it as a superuser or a role with CREATEROLE. The person then connects as NAME "
        "(QBANK_DATABASE_URL=postgresql+psycopg://NAME@host/db).",
    )
    q.add_argument("name", metavar="NAME", help="the login name: lower-case letters, digits and _, e.g. jsmith")
    q.add_argument("--role", required=True, choices=tuple(ROLES), help="what the person may do")
    q.add_argument(
        "--password-stdin", action="store_true", help="read the login's password from the first line of stdin"
    )
    _add_format(q)

    q = asub.add_parser("remove-role", help="take a qbank role from a login (their records stay theirs)")
    q.add_argument("name", metavar="NAME")
    q.add_argument("--role", required=True, choices=tuple(ROLES))
    _add_format(q)

    q = asub.add_parser("users", help="the logins holding qbank roles, and their roles")
    _add_format(q)


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")


def _engine():
    from .store import make_engine

    return make_engine()


def _init(args: Any) -> int:
    from .roles import init

    report = init(_engine())
    if args.format == "json":
        print(json.dumps(report.as_dict(), indent=2))
        return EXIT_OK
    created = f"created {', '.join(report.created_roles)}; " if report.created_roles else "roles existed; "
    print(
        f"ok: {created}granted {report.tables} tables and set {report.policies} row-level security policies "
        f"in schema {report.schema}"
    )
    return EXIT_OK


def _add_user(args: Any) -> int:
    from .cli import UsageError
    from .roles import add_user

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UsageError("--password-stdin: the first line of stdin is empty; give the password there")
    done = add_user(_engine(), args.name, args.role, password)
    if args.format == "json":
        print(json.dumps({"name": args.name, "role": args.role, "done": done}, indent=2))
    else:
        print(f"ok: {done}")
    return EXIT_OK


def _remove_role(args: Any) -> int:
    from .roles import remove_role

    done = remove_role(_engine(), args.name, args.role)
    print(
        json.dumps({"name": args.name, "role": args.role, "done": done}, indent=2)
        if args.format == "json"
        else f"ok: {done}"
    )
    return EXIT_OK


def _users(args: Any) -> int:
    from .roles import users

    rows = users(_engine())
    if args.format == "json":
        print(json.dumps([u.as_dict() for u in rows], indent=2))
        return EXIT_OK
    if not rows:
        print("no login holds a qbank role yet: add one with `qbank admin add-user NAME --role ROLE`")
        return EXIT_OK
    width = max(len(u.name) for u in rows)
    for u in rows:
        notes = ([] if u.can_login else ["cannot log in"]) + (["superuser"] if u.superuser else [])
        print(f"{u.name:<{width}}  {', '.join(u.roles)}" + (f"  ({', '.join(notes)})" if notes else ""))
    return EXIT_OK


def cmd_admin(args: Any) -> int:
    return {"init": _init, "add-user": _add_user, "remove-role": _remove_role, "users": _users}[args.admin_command](
        args
    )


COMMANDS: dict[str, Callable[[Any], int]] = {"admin": cmd_admin}
