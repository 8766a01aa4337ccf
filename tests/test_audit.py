"""The audit log and `qbank verify` (issue 14, item 2), on SQLite and PostgreSQL: every write of a
whole assessment is logged with its actor, an untouched store verifies, and each kind of tampering
made behind qbank's back (a changed question text, a deleted draw, a deleted evidence entry, a
rewritten assessor, an edited or deleted event, a log cut back) is named by `verify`, which exits
1. A deleted draw cannot silently cause a repeat: the next draw for that apprentice is refused."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlmodel import col
from tests_support import shipped_bank

from qbank import sessions as S
from qbank.audit import TamperedError
from qbank.cli import main
from qbank.draws import DrawRequest, draw_set
from qbank.importer import import_bank
from qbank.models import AuditEventRow, DrawRow, EvidenceRow
from qbank.verify import verify

pytestmark = pytest.mark.tampers


@pytest.fixture
def store(engine):
    import_bank(engine, shipped_bank())
    return engine


def run_assessment(engine, apprentice="TAMPER-1") -> int:
    """A whole assessment as an assessor runs it: asks, notes, a skip, a swap, evidence and a
    retraction, marks, ending, confirming and completing."""
    aid = S.start_assessment(
        engine, S.StartRequest(standard="ST0556", apprentice=apprentice, assessor="A. Assessor", adjustments="breaks")
    )
    pq, pd = S.load(engine, aid).methods
    assert pq.questions[0].code and pq.questions[1].code and pq.scheme and pd.scheme
    a1 = S.ask(engine, pq.id, pq.questions[0].code)
    S.set_notes(engine, a1, "Answer about Hoshin Kanri.")
    S.skip(engine, pq.id, pq.questions[1].code, "covered already")
    wrong = S.log_evidence(engine, pq.id, "pass", criterion=pq.scheme.criteria[0].id, note="logged by mistake")
    S.retract_evidence(engine, wrong, "wrong criterion")
    for m in (pq, pd):
        assert m.scheme is not None
        for c in m.scheme.criteria:
            S.log_evidence(engine, m.id, "pass", criterion=c.id, note="evidenced")
        S.end_method(engine, m.id, reason="test: ended once the evidence was logged")
        S.confirm_grade(engine, m.id)
    S.complete(engine, aid)
    return aid


def findings(engine) -> list[str]:
    return [f"{f.check}: {f.record}: {f.problem}" for f in verify(engine).findings]


def test_a_whole_assessment_is_logged_and_verifies(store, capsys, monkeypatch):
    aid = run_assessment(store)
    assert findings(store) == []
    with Session(store) as s:
        events = s.execute(select(AuditEventRow).order_by(col(AuditEventRow.seq))).scalars().all()
        actor = s.execute(text("SELECT current_user")).scalar() if store.dialect.name == "postgresql" else None
    tables = {e.table_name for e in events}
    assert {
        "release",
        "apprentice",
        "draw",
        "draw_item",
        "assessment",
        "assessment_method",
        "ask",
        "evidence",
    } <= tables
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    if actor:
        assert {e.actor for e in events} == {actor}
    # the retraction and the completion are events of their own: updates after the inserts
    kinds = {(e.table_name, e.kind) for e in events}
    assert ("evidence", "update") in kinds and ("assessment", "update") in kinds
    monkeypatch.setenv("QBANK_DATABASE_URL", store.url.render_as_string(hide_password=False))
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: the store is as qbank wrote it") and "checkpoint: " in out
    assert aid


def _tamper(engine, *sql: str) -> None:
    with engine.begin() as c:
        for q in sql:
            c.execute(text(q))


def test_each_tampering_is_named_and_exits_1(store, capsys, monkeypatch):
    aid = run_assessment(store)
    run_assessment(store, "TAMPER-2")
    with Session(store) as s:
        draw_id = s.execute(select(col(DrawRow.id)).order_by(col(DrawRow.id))).scalars().first()
        ev = s.execute(select(col(EvidenceRow.id)).order_by(col(EvidenceRow.id).desc())).scalars().first()
    _tamper(
        store,
        "UPDATE question_version SET text = text || ' (edited)' WHERE id = 7",
        "DELETE FROM ask WHERE id IN (SELECT id FROM ask WHERE 1=0)",
        f"UPDATE assessment SET assessor = 'Someone Else' WHERE id = {aid}",
        f"DELETE FROM evidence WHERE id = {ev}",
    )
    # a draw deleted with its items (the assessment's method lets go of it first)
    _tamper(
        store,
        f"UPDATE assessment_method SET draw_id = NULL WHERE draw_id = {draw_id}",
        f"DELETE FROM draw_item WHERE draw_id = {draw_id}",
        f"DELETE FROM draw WHERE id = {draw_id}",
    )
    got = "\n".join(findings(store))
    assert "content: question_version 7 " in got
    assert f"changed: assessment {aid} (apprentice TAMPER-1)" in got
    assert f"deleted: evidence {ev}:" in got
    assert f"deleted: draw {draw_id}:" in got
    assert "deleted: draw_item " in got
    assert "changed: assessment_method " in got  # the method's draw_id was rewritten
    monkeypatch.setenv("QBANK_DATABASE_URL", store.url.render_as_string(hide_password=False))
    assert main(["verify", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and len(report["findings"]) >= 6
    records = {f["record"] for f in report["findings"]}
    assert f"draw {draw_id}" in records and f"evidence {ev}" in records


def test_edited_deleted_and_cut_back_events_are_found(store):
    run_assessment(store)
    checkpoint = verify(store).checkpoint
    head = int(checkpoint.split(":")[0])
    _tamper(store, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 5")
    assert any(f.startswith("chain: event #5: its content no longer matches") for f in findings(store))
    _tamper(store, "UPDATE audit_event SET actor = (SELECT actor FROM audit_event WHERE seq = 4) WHERE seq = 5")
    assert findings(store) == []  # put back as it was
    _tamper(store, "DELETE FROM audit_event WHERE seq = 9")
    got = findings(store)
    assert any(f.startswith("chain: event #10: events #9 are missing") for f in got), got
    # cutting the log back leaves no gap, but the checkpoint kept elsewhere finds it
    _tamper(store, f"DELETE FROM audit_event WHERE seq >= {head - 3}")
    report = verify(store, checkpoint)
    assert any(f.check == "checkpoint" for f in report.findings)


def test_a_deleted_draw_cannot_cause_a_repeat(store):
    first = draw_set(store, DrawRequest(standard="ST0556", method="professional-discussion", apprentice="REPEAT-1"))
    _tamper(
        store,
        f"DELETE FROM draw_item WHERE draw_id = {first.draw_id}",
        f"DELETE FROM draw WHERE id = {first.draw_id}",
    )
    with pytest.raises(
        TamperedError, match=r"REPEAT-1's history .*draw_item \d+ was deleted outside qbank.*qbank verify"
    ):
        draw_set(
            store,
            DrawRequest(standard="ST0556", method="professional-discussion", apprentice="REPEAT-1", attempt="resit"),
        )
    # another apprentice is not held up
    draw_set(store, DrawRequest(standard="ST0556", method="professional-discussion", apprentice="REPEAT-2"))


def test_verify_rejects_a_malformed_checkpoint(store, capsys, monkeypatch):
    monkeypatch.setenv("QBANK_DATABASE_URL", store.url.render_as_string(hide_password=False))
    assert main(["verify", "--checkpoint", "abc"]) == 2
    assert "--checkpoint" in capsys.readouterr().err


def test_a_store_from_before_the_log_is_sealed_at_its_upgrade(store, db_url, capsys):
    """A store at revision 0006 (no audit log) with a whole assessment in it: the upgrade seals
    every record row, so it verifies; a change made after the upgrade is found."""
    from alembic import command
    from sqlalchemy import create_engine

    from qbank import migrations
    from qbank.store import make_engine

    aid = run_assessment(store)
    store.dispose()
    plain = create_engine(db_url)
    with plain.begin() as c:
        command.downgrade(migrations.alembic_config(c), "0006")
    plain.dispose()
    capsys.readouterr()
    eng = make_engine(db_url)
    assert f"from revision 0006 to {migrations.HEAD}" in capsys.readouterr().err
    report = verify(eng)
    assert report.ok and report.events > 20
    with Session(eng) as s:
        kinds = set(s.execute(select(col(AuditEventRow.kind))).scalars())
    assert kinds == {"seal"}
    _tamper(eng, f"UPDATE assessment SET assessor = 'Rewritten' WHERE id = {aid}")
    assert [f.record for f in verify(eng).findings] == [f"assessment {aid} (apprentice TAMPER-1)"]
    eng.dispose()


def test_a_changed_draw_pool_is_found(store):
    """A pool is derived from the release's rows, and every draw chooses from it: changed behind
    qbank's back (a question taken out, say), verify names it."""
    assert verify(store).pools > 0 and findings(store) == []
    with store.begin() as c:
        rel, meth, payload = c.execute(text("SELECT release_id, method_id, payload FROM release_pool LIMIT 1")).one()
        doctored = json.loads(payload)
        doctored["candidates"] = doctored["candidates"][1:]
        c.execute(
            text("UPDATE release_pool SET payload = :p WHERE release_id = :r AND method_id = :m"),
            {"p": json.dumps(doctored), "r": rel, "m": meth},
        )
    assert findings(store) == [
        f"derived: release_pool {rel}/{meth}: differs from what the release's rows give: the draw pool was "
        "changed outside qbank (delete the row: the next draw rebuilds it)"
    ]
