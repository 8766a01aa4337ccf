"""`qbank export`: one release of a standard as QTI 3.0, Moodle XML, CSV or XLSX.

The release's question versions are read from the store (`release_questions_in_store`) or from the
bank files' release manifests (`release_questions_in_files`, `qbank export --path banks`), as
`ExchangeQuestion`s, and handed to the format's writer. The file is written as `safe_write` writes
any output: into a new temporary file in the target's folder (created exclusively, never through a
link), then renamed onto the target, so a link planted at the target is replaced, never followed,
and nobody sees half a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .exchange import ExchangeError, ExchangeMethod, ExchangeQuestion, ExchangeStandard, from_question
from .problems import BankError, display_path
from .safe_write import write_via

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

FORMATS = ("qti", "moodle", "csv", "xlsx")
SUFFIXES = {"qti": ".zip", "moodle": ".xml", "csv": ".csv", "xlsx": ".xlsx"}


@dataclass
class ReleaseExport:
    """What one release holds for an exporter: the standard, its methods, its question versions."""

    standard: ExchangeStandard
    release: str
    methods: list[ExchangeMethod]
    questions: list[ExchangeQuestion]
    source: str  # "release 1.2.0 in the store" / "banks/ST0556/releases/1.2.0.json"


@dataclass
class ExportReport:
    standard: str
    release: str
    format: str
    path: str
    questions: int
    source: str

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _methods_of(definition: dict[str, Any]) -> list[ExchangeMethod]:
    return [
        ExchangeMethod(key=m["id"], name=m.get("name", m["id"]), min_questions=m["min_questions"], minutes=m["minutes"])
        for m in definition.get("methods", [])
    ]


def release_questions_in_files(root: Path | str, code: str, release: str | None = None) -> ReleaseExport:
    """A release of `code` from the bank files' manifests under `root` (default: the newest)."""
    from .validation import load_releases

    root = Path(root)
    if not root.exists():
        raise BankError(f"{display_path(root)}: no such bank folder (give it with --path)")
    bank = load_releases(root)
    if code not in bank.standards and code not in bank.releases:
        known = ", ".join(sorted(bank.standards)) or "none"
        raise BankError(f"no standard {code} under {display_path(root)} (standards: {known})")
    rels = bank.releases.get(code) or []
    if release:
        rel = next((r for r in rels if r.semver == release), None)
        if rel is None:
            have = ", ".join(r.semver for r in rels) or "none"
            raise BankError(f"{code} has no release {release} under {display_path(root)} (releases: {have})")
    else:
        if not rels:
            raise BankError(f"{code} has no release under {display_path(root)}: release it first (qbank release)")
        rel = rels[-1]
    mine = [p for p in bank.errors if p.file == rel.path]
    if mine:
        raise BankError(f"{rel.path} has {len(mine)} problem(s): not exported", mine)
    d = rel.definition
    questions = []
    for item in rel.items:
        q = item.question
        questions.append(from_question(q, where=f"{rel.path} {q.id}"))
    return ReleaseExport(
        standard=ExchangeStandard(code=code, title=str(d.get("title", ""))),
        release=rel.semver,
        methods=_methods_of(d),
        questions=questions,
        source=rel.path,
    )


def release_questions_in_store(engine: Engine, code: str, release: str | None = None) -> ReleaseExport:
    """A release of `code` in the store (default: the newest): every version it holds, by id."""
    from collections import defaultdict

    from sqlalchemy.orm import Session
    from sqlmodel import col, select

    from .models import (
        MethodRow,
        OutcomeRow,
        QuestionRow,
        QuestionVersionMethodRow,
        QuestionVersionOutcomeRow,
        QuestionVersionRow,
        ReleaseItemRow,
    )
    from .pools import resolve_release

    with Session(engine) as s:
        std, rel = resolve_release(s, code, release)
        definition = json.loads(rel.definition_json)
        rows = s.execute(
            select(QuestionVersionRow, col(QuestionRow.code))
            .join(ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionRow.id)
            .join(QuestionRow, col(QuestionRow.id) == QuestionVersionRow.question_id)
            .where(col(ReleaseItemRow.release_id) == rel.id)
            .order_by(col(QuestionRow.code))
        ).all()
        outs: dict[int, list[str]] = defaultdict(list)
        meths: dict[int, list[str]] = defaultdict(list)
        for qv, oc in s.execute(
            select(col(QuestionVersionOutcomeRow.question_version_id), col(OutcomeRow.code))
            .join(OutcomeRow, col(OutcomeRow.id) == QuestionVersionOutcomeRow.outcome_id)
            .join(
                ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionOutcomeRow.question_version_id
            )
            .where(col(ReleaseItemRow.release_id) == rel.id)
            .order_by(col(OutcomeRow.position))
        ):
            outs[qv].append(oc)
        for qv, mk in s.execute(
            select(col(QuestionVersionMethodRow.question_version_id), col(MethodRow.key))
            .join(MethodRow, col(MethodRow.id) == QuestionVersionMethodRow.method_id)
            .join(
                ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionMethodRow.question_version_id
            )
            .where(col(ReleaseItemRow.release_id) == rel.id)
            .order_by(col(MethodRow.position))
        ):
            meths[qv].append(mk)
        semver, title = rel.semver, std.title
    # outcome and method order: the standard's (the store keeps links, not the file's order, which is
    # not content either: a question's hash sorts them)
    order = {o["code"]: i for i, o in enumerate(definition.get("outcomes", []))}
    morder = {m["id"]: i for i, m in enumerate(definition.get("methods", []))}
    questions = [
        ExchangeQuestion(
            id=qcode,
            text=v.text,
            outcomes=sorted(outs[v.id], key=lambda c: order.get(c, len(order))),
            methods=sorted(meths[v.id], key=lambda k: morder.get(k, len(morder))),
            minutes=v.minutes,
            probes=list(json.loads(v.probes_json)),
            guidance=v.guidance,
            topic=v.topic,
            author=v.author,
            version=v.version,
            where=f"{qcode} v{v.version}",
        )
        for v, qcode in rows
    ]
    return ReleaseExport(
        standard=ExchangeStandard(code=code, title=str(definition.get("title", title))),
        release=semver,
        methods=_methods_of(definition),
        questions=questions,
        source=f"release {semver} in the store",
    )


def write_format(fmt: str, data: ReleaseExport, path: Path) -> None:
    """Write `data` in format `fmt` to `path` (a plain file, opened as given)."""
    if fmt == "csv":
        from .tabular import write_csv

        write_csv(data.questions, path)
    elif fmt == "xlsx":
        from .tabular import write_xlsx

        write_xlsx(data.questions, path)
    elif fmt == "moodle":
        writer = _optional("moodle", "write_moodle")
        writer(standard_code=data.standard.code, questions=data.questions, path=path)
    elif fmt == "qti":
        writer = _optional("qti", "write_qti")
        writer(
            standard_code=data.standard.code,
            standard_title=data.standard.title,
            release=data.release,
            questions=data.questions,
            methods=data.methods,
            path=path,
        )
    else:
        raise ExchangeError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")


def _optional(module: str, name: str) -> Any:
    """A reader or writer of the Moodle or QTI module, or a clear error when it is not installed."""
    import importlib

    try:
        mod = importlib.import_module(f"qbank.{module}")
    except ModuleNotFoundError as e:
        if e.name != f"qbank.{module}":
            raise
        raise ExchangeError(
            f"the {module} format is not available in this qbank (qbank/{module}.py is missing)"
        ) from None
    fn = getattr(mod, name, None)
    if fn is None:
        raise ExchangeError(f"the {module} format is not available in this qbank (qbank.{module}.{name} is missing)")
    return fn


def write_safely(fmt: str, data: ReleaseExport, target: Path) -> Path:
    """Write to a fresh temporary file beside `target`, then rename it onto `target` (never through a
    link; the folder must exist). Nothing is left behind when the writer fails."""
    return write_via(target, lambda tmp: write_format(fmt, data, tmp))


def export(source: Engine | Path | str, standard: str, release: str | None, fmt: str, path: Path | str) -> ExportReport:
    """Export `standard`'s release (default: the newest) from the store (an Engine) or the bank
    files (a folder) to `path` in `fmt` (qti, moodle, csv or xlsx)."""
    if fmt not in FORMATS:
        raise ExchangeError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    if isinstance(source, Path | str):
        data = release_questions_in_files(source, standard, release)
    else:
        data = release_questions_in_store(source, standard, release)
    if fmt in ("moodle", "qti"):
        _optional(fmt, "write_moodle" if fmt == "moodle" else "write_qti")  # before anything is written
    target = write_safely(fmt, data, Path(path))
    return ExportReport(
        standard=standard,
        release=data.release,
        format=fmt,
        path=display_path(target),
        questions=len(data.questions),
        source=data.source,
    )
