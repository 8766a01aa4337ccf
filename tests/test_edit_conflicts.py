"""Two people editing one assessment (issue 14, item 5): what is overwritten in place is written
compare-and-set, so the second writer is told (EditConflict, with both texts) and nothing is lost.
On SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session
from tests_support import shipped_bank

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.method_record import CriterionState, EditConflict, FeedbackState
from qbank.models import AssessmentMethodRow
from qbank.store import make_engine


@pytest.fixture
def store(engine):
    import_bank(engine, shipped_bank())
    return engine


def _asked(store, apprentice="EDIT-1"):
    aid = S.start_assessment(store, S.StartRequest(standard="ST0556", apprentice=apprentice, assessor="A. Assessor"))
    m = S.load(store, aid).methods[0]
    return aid, m, S.ask(store, m.id, m.questions[0].code)


def _notes(store, aid, ask_id) -> str:
    return next(q.notes for m in S.load(store, aid).methods for q in m.questions if q.ask_id == ask_id)


def test_the_second_writer_of_notes_is_told_and_nothing_is_lost(store):
    aid, _m, ask = _asked(store)
    S.set_notes(store, ask, "first assessor's notes", previous="")
    with pytest.raises(EditConflict) as e:
        S.set_notes(store, ask, "second assessor's notes", previous="")  # read before the first wrote
    c = e.value
    assert [(x.field, x.stored, x.yours) for x in c.conflicts] == [
        ("notes", "first assessor's notes", "second assessor's notes")
    ]
    assert c.changed_at is not None and c.by  # when, and who (the audit log's actor: the database or OS user)
    assert f"{c.by} changed it at {c.changed_at:%H:%M:%S} UTC" in str(c) and "nothing of yours" in str(c)
    assert isinstance(c, S.SessionError)  # every caller that handles SessionError handles it
    assert _notes(store, aid, ask) == "first assessor's notes"  # not overwritten
    # having read the first assessor's text, the second writes over it
    S.set_notes(store, ask, "first assessor's notes\nsecond assessor's addition", previous="first assessor's notes")
    assert _notes(store, aid, ask) == "first assessor's notes\nsecond assessor's addition"


def test_no_conflict_when_nothing_would_be_lost(store):
    aid, _m, ask = _asked(store)
    S.set_notes(store, ask, "same words", previous="")
    S.set_notes(store, ask, "same words", previous="")  # the same change made twice: no conflict
    S.set_notes(store, ask, "old", previous="same words")
    S.set_notes(store, ask, "same words", previous="same words")  # unchanged by this writer: old stays
    assert _notes(store, aid, ask) == "old"
    S.set_notes(store, ask, "overwritten without a check")  # no previous: overwrites, as before
    assert _notes(store, aid, ask) == "overwritten without a check"


def test_simultaneous_writers_one_wins_the_other_is_told(store, db_url):
    """Two writers with their own connections, both having read the same notes, write at once:
    exactly one is stored, the other gets EditConflict holding its text."""
    aid, _m, ask = _asked(store)
    engines = [make_engine(db_url) for _ in range(2)]
    try:
        for rnd in range(4):
            before = _notes(store, aid, ask)
            barrier = threading.Barrier(2)
            outcome: dict[int, object] = {}

            def write(i, before=before, barrier=barrier, outcome=outcome, rnd=rnd):
                barrier.wait()
                try:
                    S.set_notes(engines[i], ask, f"round {rnd} by writer {i}", previous=before)
                    outcome[i] = "stored"
                except EditConflict as e:
                    outcome[i] = e

            threads = [threading.Thread(target=write, args=(i,)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            stored = [i for i, o in outcome.items() if o == "stored"]
            told = [o for o in outcome.values() if isinstance(o, EditConflict)]
            assert len(stored) == 1 and len(told) == 1, outcome
            assert _notes(store, aid, ask) == f"round {rnd} by writer {stored[0]}"
            assert told[0].conflicts[0].yours == f"round {rnd} by writer {1 - stored[0]}"
    finally:
        for e in engines:
            e.dispose()


def test_marks_and_criterion_feedback_are_merged_field_by_field(store):
    aid = S.start_assessment(
        store,
        S.StartRequest(standard="ST0480", apprentice="EDIT-M", assessor="D. Tutor", methods=("lsbu-project-showcase",)),
    )
    (m,) = S.load(store, aid).methods
    loaded = CriterionState()  # both people opened the report's marks while nothing was recorded
    S.set_mark(store, m.id, "report", mark=45, strengths="well structured", improvements="", previous=loaded)
    # the second changed only the areas for improvement: stored, the first's mark and strengths kept
    S.set_mark(store, m.id, "report", mark=None, strengths="", improvements="thin evaluation", previous=loaded)
    mv = S.load(store, aid).methods[0].marks["report"]
    assert (mv.mark, mv.strengths, mv.improvements) == (45, "well structured", "thin evaluation")
    # the second also typed a mark and strengths of their own: told, nothing written
    with pytest.raises(EditConflict) as e:
        S.set_mark(store, m.id, "report", mark=50, strengths="clear aims", improvements="", previous=loaded)
    assert {(c.field, c.stored, c.yours) for c in e.value.conflicts} == {
        ("mark", 45.0, 50.0),
        ("strengths", "well structured", "clear aims"),
    }
    assert "report's marks and feedback" in str(e.value)
    mv = S.load(store, aid).methods[0].marks["report"]
    assert (mv.mark, mv.strengths, mv.improvements) == (45, "well structured", "thin evaluation")
    # having read what is stored now, the change goes in
    now = CriterionState(mark=45, strengths="well structured", improvements="thin evaluation")
    S.set_mark(
        store, m.id, "report", mark=50, strengths="well structured", improvements="thin evaluation", previous=now
    )
    assert S.load(store, aid).methods[0].marks["report"].mark == 50
    # clearing a mark someone else changed meanwhile is a conflict too
    with pytest.raises(EditConflict):
        S.set_mark(store, m.id, "report", clear_mark=True, previous=now)
    assert S.load(store, aid).methods[0].marks["report"].mark == 50


def test_method_feedback_is_compare_and_set(store):
    _aid, m, _ask = _asked(store, "EDIT-F")
    S.set_method_feedback(store, m.id, strengths="clear", improvements="", previous=FeedbackState())
    with pytest.raises(EditConflict) as e:
        S.set_method_feedback(store, m.id, strengths="concise", previous=FeedbackState())
    assert [(c.field, c.stored, c.yours) for c in e.value.conflicts] == [("strengths", "clear", "concise")]
    S.set_method_feedback(store, m.id, improvements="pace", previous=FeedbackState())  # another field: fine
    with Session(store) as s:
        row = s.get_one(AssessmentMethodRow, m.id)
        assert (row.strengths, row.improvements) == ("clear", "pace")
