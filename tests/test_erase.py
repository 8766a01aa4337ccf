"""Erasure (issue 14, item 3), on SQLite and PostgreSQL: `qbank erase REF --reason` replaces the
reference with a pseudonym and blanks every free text written about the apprentice, keeps every
statistic (draws, questions asked, evidence levels, marks, grades), leaves `verify` passing with an
"erase" event that holds no personal data, refuses an open assessment and changes nothing without
--yes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col
from test_audit import run_assessment
from tests_support import shipped_bank

from qbank import sessions as S
from qbank.cli import main
from qbank.erase import ERASED, PREFIX, EraseError, erase
from qbank.importer import import_bank
from qbank.models import (
    ApprenticeRow,
    AskRow,
    AssessmentMethodRow,
    AssessmentRow,
    AuditEventRow,
    DrawItemRow,
    EvidenceRow,
)
from qbank.record import write_record
from qbank.verify import verify

SECRET = "Jane Example of Acme Ltd"


@pytest.fixture
def store(engine):
    import_bank(engine, shipped_bank())
    return engine


def snapshot(engine, apprentice_id: int) -> dict:
    """What the statistics read: draws, asks, evidence levels, grades."""
    with Session(engine) as s:
        a = s.execute(select(AssessmentRow).where(col(AssessmentRow.apprentice_id) == apprentice_id)).scalars().one()
        ams = s.execute(select(AssessmentMethodRow).where(col(AssessmentMethodRow.assessment_id) == a.id)).scalars()
        am_ids = [m.id for m in ams]
        return {
            "items": sorted(
                (i.question_id, i.question_version_id, i.active)
                for i in s.execute(select(DrawItemRow).where(col(DrawItemRow.apprentice_id) == apprentice_id)).scalars()
            ),
            "asks": sorted(
                (x.question_id, x.status)
                for x in s.execute(select(AskRow).where(col(AskRow.assessment_method_id).in_(am_ids))).scalars()
            ),
            "evidence": sorted(
                (e.criterion, e.level, e.retracted_at is not None)
                for e in s.execute(
                    select(EvidenceRow).where(col(EvidenceRow.assessment_method_id).in_(am_ids))
                ).scalars()
            ),
            "grades": sorted(
                (m.method_id, m.grade, m.confirmed_grade)
                for m in s.execute(
                    select(AssessmentMethodRow).where(col(AssessmentMethodRow.assessment_id) == a.id)
                ).scalars()
            ),
            "overall": a.overall_json,
            "assessor": a.assessor,
        }


def every_text(engine) -> str:
    """Every text column of every row of the store, as one string."""
    out = []
    with engine.connect() as c:
        for table in ("apprentice", "assessment", "assessment_method", "ask", "evidence", "draw_swap", "audit_event"):
            for row in c.exec_driver_sql(f"SELECT * FROM {table}"):
                out.append(" ".join(str(v) for v in row))
    return "\n".join(out)


def test_erase_blanks_personal_text_keeps_statistics_and_verifies(store, tmp_path, monkeypatch, capsys):
    aid = run_assessment(store, "ERASE-ME")
    pq = S.load(store, aid).methods[0]
    # personal text in the places an assessor types it (the assessment is complete: via the store's services)
    with Session(store) as s, s.begin():
        a = s.get(AssessmentRow, aid)
        a.adjustments = f"{SECRET}: screen reader"
        ask = s.execute(select(AskRow).where(col(AskRow.assessment_method_id) == pq.id)).scalars().first()
        ask.notes = f"{SECRET} described the rollout"
        ev = s.execute(select(EvidenceRow).where(col(EvidenceRow.assessment_method_id) == pq.id)).scalars().first()
        ev.note = f"{SECRET} evidenced it"
    with Session(store) as s:
        appr_id = s.execute(select(col(ApprenticeRow.id)).where(col(ApprenticeRow.ref) == "ERASE-ME")).scalar_one()
    before = snapshot(store, appr_id)
    assert SECRET in every_text(store) and "ERASE-ME" in every_text(store)
    record = write_record(store, aid, "md")
    assert SECRET in record.read_text()

    monkeypatch.setenv("QBANK_DATABASE_URL", store.url.render_as_string(hide_password=False))
    assert main(["erase", "ERASE-ME", "--reason", "request SAR-2026-17"]) == 0  # no --yes: a dry run
    assert "Nothing was changed" in capsys.readouterr().out
    assert SECRET in every_text(store)

    out = erase(store, "ERASE-ME", "request SAR-2026-17")
    assert out.pseudonym.startswith(PREFIX) and out.texts_blanked >= 3 and out.assessments == [aid]
    text = every_text(store)
    assert SECRET not in text and "ERASE-ME" not in text
    assert snapshot(store, appr_id) == before  # every statistic kept
    assert verify(store).ok
    # the record file qbank wrote is written again without the personal data
    assert record in out.records_rewritten and SECRET not in record.read_text()
    assert out.pseudonym in record.read_text()
    # the log says an erasure happened, and why, not what was erased
    with Session(store) as s:
        ev = s.execute(select(AuditEventRow).where(col(AuditEventRow.kind) == "erase")).scalars().one()
    assert json.loads(ev.detail)["reason"] == "request SAR-2026-17" and ev.apprentice_id == appr_id
    assert main(["erase", "--list"]) == 0
    assert "request SAR-2026-17" in capsys.readouterr().out
    # the erased reference is gone: erasing it again says so; the pseudonym has nothing left
    with pytest.raises(EraseError, match="no apprentice 'ERASE-ME'"):
        erase(store, "ERASE-ME", "again")
    with pytest.raises(EraseError, match="already an erased"):
        erase(store, out.pseudonym, "again")


def test_erase_refuses_an_open_assessment_and_needs_a_reason(store, monkeypatch, capsys):
    aid = S.start_assessment(store, S.StartRequest(standard="ST0556", apprentice="OPEN-1", assessor="A. Assessor"))
    with pytest.raises(EraseError, match=f"open assessment \\({aid}\\)"):
        erase(store, "OPEN-1", "request 1")
    monkeypatch.setenv("QBANK_DATABASE_URL", store.url.render_as_string(hide_password=False))
    assert main(["erase", "OPEN-1", "--yes"]) == 2
    assert "--reason is required" in capsys.readouterr().err
    assert main(["erase", "NOBODY", "--reason", "r", "--yes"]) == 1
    assert "no apprentice 'NOBODY'" in capsys.readouterr().err
    with Session(store) as s:
        assert s.execute(select(col(ApprenticeRow.ref)).where(col(ApprenticeRow.ref) == "OPEN-1")).scalar() == "OPEN-1"
    assert ERASED not in every_text(store)
