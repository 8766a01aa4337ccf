"""Where a standard's grading rules are read from: a release in the store (by default its newest),
or the bank files (the working standard.toml, as a writer checks rules before releasing them).

Both give a `grading.GradingRules` and say where it came from; what cannot be found or read is a
`BankError` naming it. The engine that applies the rules is `qbank.grading`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .grading import GradingRules
from .problems import BankError, display_path

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def standard_files(root: Path) -> list[Path]:
    """Every standard.toml at or below `root`."""
    return sorted(p for p in root.rglob("standard.toml") if ".venv" not in p.parts) if root.is_dir() else []


def rules_in_files(path: Path | str, code: str) -> tuple[GradingRules, str]:
    """The rules in the standard.toml of `code` at or below `path`, and that file's name. A file
    with errors is refused with its problems (the rules it holds may be half read)."""
    from .bankfiles import read_standard

    root = Path(path)
    if not root.exists():
        raise BankError(f"{display_path(root)}: no such file or folder (give the bank folder with --path)")
    known = []
    for file in standard_files(root) or ([root] if root.name == "standard.toml" else []):
        problems: list = []
        std = read_standard(file, problems)
        if std is None or std.code != code:
            known.append(std.code if std else display_path(file))
            continue
        errors = [p for p in problems if p.is_error]
        if errors:
            raise BankError(f"{std.path} has {len(errors)} problem(s): fix them before grading", errors)
        rules = std.grading_rules if isinstance(std.grading_rules, GradingRules) else GradingRules(methods={})
        return rules, std.path
    raise BankError(f"no standard {code} under {display_path(root)} (standards: {', '.join(sorted(known)) or 'none'})")


def rules_in_store(engine: Engine, code: str, release: str | None = None) -> tuple[GradingRules, str]:
    """The rules frozen in a release of `code` in the store (default: the newest), and which release."""
    from sqlalchemy.orm import Session

    from .definition import for_release
    from .pools import resolve_release

    with Session(engine) as s:
        _, rel = resolve_release(s, code, release)
        definition = for_release(rel)
        semver = rel.semver
    return definition.rules, f"release {semver} in the store"
