"""Erasing an apprentice's personal data (`qbank erase`), keeping the record's statistics.

An EPAO must evidence its decisions (which questions were put to whom, what was judged, what grade
was confirmed, by whom) for as long as its regulator and appeals require, while a person may ask
for their personal data to be erased. qbank holds no names, only the EPAO's reference; what can
identify a person is that reference and the free text typed about them. Erasure therefore:

- replaces the apprentice's reference with a random pseudonym (not derived from it, so it cannot be
  reversed), and
- blanks every free text written in their assessments: notes on answers, ad-hoc questions, skip,
  swap, void, end and override reasons, evidence notes and retraction reasons, strengths and areas
  for improvement, disagreement notes, second markers' notes, reasonable adjustments, and the
  app's saved screen state.

It keeps everything the statistics and the standardisation reviews read: draws and their
questions (exposure, overlap, the no-repeat history), which questions were asked or skipped,
evidence (criterion, level, outcomes, times), marks, grades, overrides' existence, completion and
the assessor. Every change is an ordinary write, so the audit log records it and `qbank verify`
still passes; one "erase" event records that the erasure happened and why (the reason is kept:
it must not name the person). Record files qbank wrote in its records folder are written again
from the erased store; copies saved elsewhere (`qbank record -o`) are the EPAO's to delete.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col

from . import audit, roles
from .models import (
    ApprenticeRow,
    AskRow,
    AssessmentMethodRow,
    AssessmentRow,
    AuditEventRow,
    CriterionMarkRow,
    DrawRow,
    DrawSwapRow,
    EvidenceRow,
    SecondMarkRow,
    table_of,
)
from .problems import BankError

PREFIX = "ERASED-"
ERASED = "[erased]"


class EraseError(BankError):
    pass


@dataclass
class Erasure:
    ref: str
    pseudonym: str
    assessments: list[int] = field(default_factory=list)
    texts_blanked: int = 0
    records_rewritten: list[Path] = field(default_factory=list)
    dry_run: bool = False


def erase(engine: Engine, ref: str, reason: str, *, dry_run: bool = False) -> Erasure:
    """Erase apprentice `ref`'s personal data (see the module docstring); with `dry_run`, count
    what would change and change nothing."""
    ref, reason = ref.strip(), " ".join(reason.split())
    if not reason:
        raise EraseError("an erasure needs --reason (e.g. the request's reference); do not put the person's name in it")
    try:
        return _erase(engine, ref, reason, dry_run)
    except _DryRun as d:
        return d.erasure


class _DryRun(Exception):
    def __init__(self, erasure: Erasure):
        self.erasure = erasure


def _erase(engine: Engine, ref: str, reason: str, dry_run: bool) -> Erasure:
    with Session(engine) as s, s.begin():
        roles.require_admin(s, "erasing an apprentice's personal data")
        appr = s.execute(select(ApprenticeRow).where(col(ApprenticeRow.ref) == ref)).scalars().first()
        if appr is None:
            if ref.startswith(PREFIX):
                raise EraseError(f"{ref} is already an erased apprentice's pseudonym: nothing left to erase")
            raise EraseError(f"no apprentice {ref!r} in the store (give the reference exactly as recorded)")
        if appr.ref.startswith(PREFIX):
            raise EraseError(f"{ref} is already an erased apprentice's pseudonym: nothing left to erase")
        assessments = list(
            s.execute(select(AssessmentRow).where(col(AssessmentRow.apprentice_id) == appr.id)).scalars()
        )
        open_ = [a.id for a in assessments if a.status == "open"]
        if open_:
            raise EraseError(
                f"{ref} has an open assessment ({', '.join(map(str, open_))}): complete or void it first; "
                "nothing was erased"
            )
        out = Erasure(ref=ref, pseudonym=_pseudonym(s), assessments=[a.id for a in assessments], dry_run=dry_run)
        out.texts_blanked = _blank(s, appr.id, assessments)
        if dry_run:
            raise _DryRun(out)
        appr.ref = out.pseudonym
        s.flush()
        t = table_of(ApprenticeRow)
        row = dict(s.connection().execute(select(t).where(t.c.id == appr.id)).mappings().one())
        detail = json.dumps({"reason": reason, "assessments": out.assessments, "texts_blanked": out.texts_blanked})
        audit.append(
            s.connection(),
            [audit.Pending("erase", "apprentice", str(appr.id), audit.row_hash("apprentice", row), appr.id, detail)],
        )
    out.records_rewritten = _rewrite_records(engine, out.assessments)
    return out


def _pseudonym(s: Session) -> str:
    while True:
        p = PREFIX + secrets.token_hex(6).upper()
        if s.execute(select(col(ApprenticeRow.id)).where(col(ApprenticeRow.ref) == p)).first() is None:
            return p


def _blank(s: Session, apprentice_id: int, assessments: list[AssessmentRow]) -> int:
    """Blank the free text of the apprentice's assessments and draws; returns how many texts."""
    n = 0

    def clear(obj, attr: str, empty: str | None = "") -> None:
        nonlocal n
        value = getattr(obj, attr)
        if value not in (None, "", empty):
            setattr(obj, attr, empty)
            n += 1

    a_ids = [a.id for a in assessments]
    for a in assessments:
        clear(a, "adjustments")
        clear(a, "override_reason", ERASED if a.override_reason else None)
        clear(a, "void_reason", ERASED if a.void_reason else None)
        clear(a, "ui_json", "{}")
    methods = (
        list(s.execute(select(AssessmentMethodRow).where(col(AssessmentMethodRow.assessment_id).in_(a_ids))).scalars())
        if a_ids
        else []
    )
    am_ids = [m.id for m in methods]
    for m in methods:
        for attr in ("disagreement", "strengths", "improvements", "end_reason"):
            clear(m, attr)
    if am_ids:
        for ask in s.execute(select(AskRow).where(col(AskRow.assessment_method_id).in_(am_ids))).scalars():
            clear(ask, "notes")
            clear(ask, "adhoc_text", ERASED if ask.adhoc_text else None)
            clear(ask, "skip_reason", ERASED if ask.skip_reason else None)
            history = json.loads(ask.skip_history_json or "[]")
            if any(h.get("reason") not in (None, "", ERASED) for h in history):
                for h in history:
                    h["reason"] = ERASED
                ask.skip_history_json = json.dumps(history)
                n += 1
        for ev in s.execute(select(EvidenceRow).where(col(EvidenceRow.assessment_method_id).in_(am_ids))).scalars():
            clear(ev, "note")
            clear(ev, "retract_reason", ERASED if ev.retract_reason else None)
        for cm in s.execute(
            select(CriterionMarkRow).where(col(CriterionMarkRow.assessment_method_id).in_(am_ids))
        ).scalars():
            clear(cm, "strengths")
            clear(cm, "improvements")
        for sm in s.execute(select(SecondMarkRow).where(col(SecondMarkRow.assessment_method_id).in_(am_ids))).scalars():
            clear(sm, "note")
    draw_ids = list(s.execute(select(col(DrawRow.id)).where(col(DrawRow.apprentice_id) == apprentice_id)).scalars())
    if draw_ids:
        for sw in s.execute(select(DrawSwapRow).where(col(DrawSwapRow.draw_id).in_(draw_ids))).scalars():
            clear(sw, "reason", ERASED)
    return n


def _rewrite_records(engine: Engine, assessment_ids: list[int]) -> list[Path]:
    """Write again the record files qbank keeps in its records folder for these assessments."""
    from .record import FORMATS, records_dir, write_record

    folder = records_dir(engine)
    done = []
    for aid in assessment_ids:
        for fmt in FORMATS:
            path = folder / f"assessment-{aid}.{fmt}"
            if path.is_file() and not path.is_symlink():
                write_record(engine, aid, fmt, path)
                done.append(path)
    return done


def erasures(engine: Engine) -> list[dict]:
    """The erasures the audit log records: when, by whom, why (for `qbank erase --list`)."""
    t = table_of(AuditEventRow)
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.seq, t.c.at, t.c.actor, t.c.row_key, t.c.detail).where(t.c.kind == "erase").order_by(t.c.seq)
        ).all()
    return [
        {"event": r[0], "at": r[1], "by": r[2], "apprentice_id": int(r[3]), **json.loads(r[4] or "{}")} for r in rows
    ]
