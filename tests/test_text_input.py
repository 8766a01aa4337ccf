"""Text typed into the record (issue 14, item 7, session side): control characters never reach the
store (a NUL used to give PostgreSQL's DataError, "database error"; ESC and BEL reached the
record), and each field has a documented maximum length. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col
from tests_support import shipped_bank

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.models import AskRow, CriterionMarkRow, EvidenceRow
from qbank.text_input import LIMITS, clean, strip_controls

NASTY = "a\x00b\x1b[31mc\x07d\x7fe\x85f\x9bg\r\nh\ri\tj\nk\ud800l"


def test_strip_controls_keeps_text_newlines_and_tabs():
    assert strip_controls(NASTY) == "ab[31mcdefg\nh\ni\tj\nkl"
    assert strip_controls("Zoë — naïve café 中文 🙂\u200d") == "Zoë — naïve café 中文 🙂\u200d"
    with pytest.raises(S.SessionError, match=r"^notes: 20,001 characters, and at most 20,000 can be stored"):
        clean("x" * 20_001, "notes")
    assert clean("x" * 20_000 + "\x00", "notes") == "x" * 20_000  # counted after cleaning
    with pytest.raises(S.SessionError, match="^skip reason: 2,001 characters"):
        clean("y" * 2_001, "reason", what="skip reason")


@pytest.fixture
def store(engine):
    import_bank(engine, shipped_bank())
    return engine


def test_control_characters_never_reach_the_store(store):
    aid = S.start_assessment(store, S.StartRequest(standard="ST0556", apprentice="TXT-1", assessor="A. Assessor"))
    m = S.load(store, aid).methods[0]
    ask = S.ask(store, m.id, m.questions[0].code)
    S.set_notes(store, ask, "Said \x00hidden\x1b[8m things\x07\twith a tab\nsecond line")
    adhoc = S.add_adhoc(store, m.id, "How did you\x00 measure \x1b]0;x\x07it?", [m.method.assesses[0]])
    ev = S.log_evidence(store, m.id, "pass", criterion=m.scheme.criteria[0].id, note="note\x00\x1b", ask_id=ask)
    S.skip(store, m.id, m.questions[1].code, "time\x00 short\x1b")
    S.set_method_feedback(store, m.id, strengths="clear\x00", improvements="\x1bpace")
    S.retract_evidence(store, ev, "logged\x00 twice")
    with Session(store) as s:
        notes = s.get_one(AskRow, ask).notes
        assert notes == "Said hidden[8m things\twith a tab\nsecond line"
        assert s.get_one(AskRow, adhoc).adhoc_text == "How did you measure ]0;xit?"
        e = s.get_one(EvidenceRow, ev)
        assert (e.note, e.retract_reason) == ("note", "logged twice")
        skipped = s.execute(select(AskRow).where(col(AskRow.skip_reason).is_not(None))).scalars().one()
        assert skipped.skip_reason == "time short"
    v = S.load(store, aid)
    assert all(ch not in v.methods[0].questions[0].notes for ch in "\x00\x1b\x07")


def test_over_long_text_is_refused_naming_the_field_and_nothing_is_stored(store):
    aid = S.start_assessment(
        store,
        S.StartRequest(standard="ST0480", apprentice="TXT-2", assessor="D. Tutor", methods=("lsbu-project-showcase",)),
    )
    (m,) = S.load(store, aid).methods
    ask = S.ask(store, m.id, m.questions[0].code)
    S.set_notes(store, ask, "kept")
    with pytest.raises(S.SessionError, match=r"^notes: 20,001 characters, and at most 20,000 can be stored; shorten"):
        S.set_notes(store, ask, "n" * 20_001)
    with pytest.raises(S.SessionError, match="^strengths: 10,001 characters"):
        S.set_mark(store, m.id, "report", mark=40, strengths="s" * 10_001)
    with pytest.raises(S.SessionError, match="^ad-hoc question: 2,001 characters"):
        S.add_adhoc(store, m.id, "q" * 2_001, [m.method.assesses[0]])
    with pytest.raises(S.SessionError, match="^swap reason: 2,001 characters"):
        S.swap_question(store, m.id, m.questions[1].code, "r" * 2_001)
    with Session(store) as s:
        assert s.get_one(AskRow, ask).notes == "kept"
        assert s.execute(select(CriterionMarkRow)).first() is None
        assert len(s.execute(select(AskRow)).all()) == 1
    assert LIMITS["notes"] == 20_000


def test_identifiers_with_control_characters_or_over_the_column_length_are_refused(store):
    from qbank.draws import DrawError, DrawRequest, draw_set

    method = "professional-discussion"
    with pytest.raises(DrawError, match="apprentice reference 'A\\\\x00B' contains control characters"):
        draw_set(store, DrawRequest("ST0556", method, "A\x00B"))
    with pytest.raises(DrawError, match="apprentice reference is 65 characters long; at most 64"):
        draw_set(store, DrawRequest("ST0556", method, "R" * 65))
    with pytest.raises(DrawError, match="cohort name is 129 characters long; at most 128"):
        draw_set(store, DrawRequest("ST0556", method, "OK-1", cohort="c" * 129))
    with pytest.raises(DrawError, match="cohort 'x\\\\x1b' contains control characters"):
        draw_set(store, DrawRequest("ST0556", method, "OK-1", cohort="x\x1b"))
    assert draw_set(store, DrawRequest("ST0556", method, "R" * 64, cohort="c" * 128)).questions
