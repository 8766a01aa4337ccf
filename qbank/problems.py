"""Problems found in bank files: what, where, and the one-line fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a bank, named precisely enough to fix it."""

    file: str
    message: str
    fix: str = ""
    line: int | None = None
    question: str | None = None
    field: str | None = None
    kind: str = "error"  # error | warning
    check: str = "format"  # format, reference, version, release, sufficiency, near-duplicate

    @property
    def is_error(self) -> bool:
        return self.kind == "error"

    def location(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        return where

    def render(self) -> str:
        parts = [self.location() + ":"]
        if self.kind != "error":
            parts.append(f"{self.kind}:")
        if self.question:
            parts.append(f"[{self.question}]")
        parts.append(self.message)
        text = " ".join(parts)
        if self.fix:
            text += f"\n    fix: {self.fix}"
        return text

    def as_dict(self) -> dict:
        return asdict(self)


def in_report_order(problems: list[Problem]) -> list[Problem]:
    """Errors first, then warnings (which often refer to the errors: "checks skipped until the
    errors above are fixed"), each by file and line; problems at one place keep the order found."""
    return sorted(problems, key=lambda p: (not p.is_error, p.file, p.line or 0))


def display_path(path: Path | str) -> str:
    """A path as a person would type it: relative to the working directory when inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, RuntimeError, OSError):  # outside the working directory, or a symlink loop
        return str(p)


class BankError(Exception):
    """A failure that carries the problems explaining it (never shown as a traceback)."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = problems or []
