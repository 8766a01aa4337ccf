"""Assessment fixes asked for by assessors, each reproduced first, on SQLite and PostgreSQL:
skips with reasons and undo, undoing swaps, retractions kept in the record, ending short with a
reason, voiding an unused start (one open assessment per apprentice and standard), reasonable
adjustments carried over, the settings file, ad-hoc questions counting for resit avoidance, the
grade's reason, record ordering, completed assessments and record files."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import col
from tests_support import shipped_bank

import qbank.draws
from qbank import record as R
from qbank import sessions as S
from qbank import settings as cfg
from qbank.draws import _history, load_draw, replay
from qbank.importer import import_bank
from qbank.models import DrawItemRow, DrawRow, DrawSwapRow, table_of
from qbank.problems import BankError
from qbank.record import render
from qbank.reviews import Filters, review


@pytest.fixture
def store(engine):
    import_bank(engine, shipped_bank())
    return engine


@pytest.fixture
def fixed_seeds(monkeypatch):
    """Fixed draw seeds: the set, and so which swaps are possible, is the same on every run."""
    seeds = itertools.count(1)
    monkeypatch.setattr(qbank.draws.secrets, "token_hex", lambda n=16: f"{next(seeds):0{2 * n}x}")


def start(engine, apprentice, standard="ST0556", methods=("professional-discussion",), **kw) -> int:
    return S.start_assessment(
        engine, S.StartRequest(standard=standard, apprentice=apprentice, assessor="A. Assessor", methods=methods, **kw)
    )


def method(engine, aid, i=0) -> S.MethodView:
    return S.load(engine, aid).methods[i]


def swap_any(engine, m: S.MethodView, reason="covered in the portfolio") -> tuple[str, str]:
    """Swap the first question of the set that can be swapped: (out, in)."""
    for q in m.questions:
        assert q.code is not None  # a drawn question
        try:
            return q.code, S.swap_question(engine, m.id, q.code, reason)
        except S.SessionError as e:
            assert "cannot swap" in str(e)
    raise AssertionError("no question of the set could be swapped")


def items(engine, draw_id) -> list[DrawItemRow]:
    with Session(engine) as s:
        return list(
            s.execute(
                select(DrawItemRow).where(col(DrawItemRow.draw_id) == draw_id).order_by(col(DrawItemRow.id))
            ).scalars()
        )


def history(engine, apprentice_draw_id) -> frozenset[str]:
    with Session(engine) as s:
        d = s.get(DrawRow, apprentice_draw_id)
        assert d is not None
        return _history(s, d.apprentice_id)


# --------------------------------------------------------------------------- A. skips, swaps, retractions


def test_skip_needs_a_reason_and_undo_keeps_the_history(store, fixed_seeds):
    aid = start(store, "SKIP-1")
    m = method(store, aid)
    first, second = m.questions[0].code, m.questions[1].code
    with pytest.raises(S.SessionError, match="give the reason"):
        S.skip(store, m.id, first, "  ")
    ask_id = S.skip(store, m.id, first, "apprentice covered this in the presentation")
    q = next(x for x in method(store, aid).questions if x.code == first)
    assert (q.status, q.ask_id, q.skip_reason) == ("skipped", ask_id, "apprentice covered this in the presentation")
    assert [x.code for x in method(store, aid).skipped] == [first]

    S.undo_skip(store, m.id, first)
    m = method(store, aid)
    q = next(x for x in m.questions if x.code == first)
    assert q.status == "planned" and q.ask_id is None and first in [x.code for x in m.planned]
    assert q.skip_undone_at is not None and q.undone_skips[0]["reason"] == "apprentice covered this in the presentation"
    with pytest.raises(S.SessionError, match=f"undoing the skip of {first}: it is not skipped"):
        S.undo_skip(store, m.id, first)
    # skipped again, undone again: both cycles kept
    S.skip(store, m.id, first, "second thoughts")
    S.undo_skip(store, m.id, first)
    q = next(x for x in method(store, aid).questions if x.code == first)
    assert [u["reason"] for u in q.undone_skips] == ["apprentice covered this in the presentation", "second thoughts"]

    S.ask(store, m.id, second)
    S.ask(store, m.id, first)  # asked after the undo: in the order asked
    m = method(store, aid)
    assert [x.code for x in m.asked] == [second, first]
    md = render(S.load(store, aid), "md")
    html = render(S.load(store, aid), "html")
    for text in (md, html):
        assert f"{first} skipped" in text and "(undone at" in text and "then asked" in text
        assert "apprentice covered this in the presentation" in text
    S.skip(store, m.id, first, "asked by mistake")  # asked, nothing noted: may still be skipped; history kept
    q = next(x for x in method(store, aid).questions if x.code == first)
    assert (q.status, q.skip_reason) == ("skipped", "asked by mistake")
    assert [u["reason"] for u in q.undone_skips] == ["apprentice covered this in the presentation", "second thoughts"]
    S.end_method(store, m.id, reason="test")
    with pytest.raises(S.SessionError, match="has ended"):
        S.undo_skip(store, m.id, first)


def test_an_undone_skip_does_not_count_as_a_skip_in_reviews(store, fixed_seeds):
    aid = start(store, "SKIP-2")
    m = method(store, aid)
    target = m.questions[0].code
    S.skip(store, m.id, target, "ran out of time")
    S.undo_skip(store, m.id, target)
    for q in m.questions:
        S.ask(store, m.id, q.code)
    S.end_method(store, m.id, reason="test")
    r = review(store, "avoidance", Filters(standard="ST0556"))
    row = next(row for row in r.tables[0].rows if row[0] == target)
    assert row[3] == 0, row  # skipped column


def test_a_skipped_question_with_an_answer_cannot_be_skipped(store, fixed_seeds):
    aid = start(store, "SKIP-3")
    m = method(store, aid)
    a = S.ask(store, m.id, m.questions[0].code)
    S.set_notes(store, a, "answered well")
    with pytest.raises(S.SessionError, match="cannot be skipped"):
        S.skip(store, m.id, m.questions[0].code, "changed my mind")
    with pytest.raises(S.SessionError, match="skipping: XX-999 is not in this method's set"):
        S.skip(store, m.id, "XX-999", "no such question")


def test_undo_swap_restores_the_question_and_frees_the_one_swapped_in(store, fixed_seeds):
    aid = start(store, "SWAP-1")
    m = method(store, aid)
    out, new = swap_any(store, m)
    assert new in history(store, m.draw_id)
    assert S.undo_swap(store, m.id, new) == out
    m = method(store, aid)
    codes = [q.code for q in m.questions]
    assert out in codes and new not in codes
    (sw,) = m.swaps
    assert (sw.out_code, sw.in_code, sw.undone) == (out, new, True) and sw.undone_at is not None
    # the swapped-in question no longer counts against the apprentice: a later draw may take it
    assert new not in history(store, m.draw_id) and out in history(store, m.draw_id)
    rows = {i.id: i for i in items(store, m.draw_id)}
    with Session(store) as s:
        swap_row = s.execute(select(DrawSwapRow)).scalars().one()
    assert rows[swap_row.in_item_id].void_key == swap_row.in_item_id and not rows[swap_row.in_item_id].active
    assert rows[swap_row.out_item_id].active and rows[swap_row.out_item_id].void_key == 0
    with pytest.raises(S.SessionError, match="no swap to undo"):
        S.undo_swap(store, m.id, new)
    html, md = render(S.load(store, aid), "html"), render(S.load(store, aid), "md")
    for text in (html, md):
        assert "swap undone at" in text and f"{out} back in the set" in text
    # swap again, ask the new question: its swap can no longer be undone
    out2, new2 = swap_any(store, m, "second swap")
    S.ask(store, m.id, new2)
    with pytest.raises(S.SessionError, match="already been asked"):
        S.undo_swap(store, m.id, new2)
    assert replay(store, m.draw_id).identical


def test_retracted_evidence_is_kept_with_its_reason_and_shown_in_place(store, fixed_seeds):
    aid = start(store, "RETRACT-1")
    m = method(store, aid)
    crit = m.scheme.criteria[0]
    e = S.log_evidence(store, m.id, "merit", criterion=crit.id, note="strong example of hoshin")
    why = "logged against the wrong apprentice answer"
    S.retract_evidence(store, e, why)
    S.retract_evidence(store, e, "a second retraction changes nothing")
    ev = method(store, aid).evidence
    assert [(x.id, x.retracted, x.retract_reason) for x in ev] == [(e, True, why)]
    assert crit.outcomes[0] in method(store, aid).uncovered  # not counted
    html, md = render(S.load(store, aid), "html"), render(S.load(store, aid), "md")
    for text in (html, md):
        assert "strong example of hoshin" in text and "not counted" in text
        assert "logged against the wrong apprentice answer" in text


# --------------------------------------------------------------------------- B. ending short


def test_ending_short_needs_a_reason_which_is_kept(store, fixed_seeds):
    aid = start(store, "END-1")
    m = method(store, aid)
    for q in m.questions[:3]:
        S.ask(store, m.id, q.code)
    S.set_elapsed(store, m.id, 18 * 60 + 30)
    m = method(store, aid)
    assert S.end_warnings(m) == [
        f"3 questions asked; the method's minimum is {m.method.min_questions}",
        f"18 of {m.budget_minutes} minutes used",
    ]
    assert S.end_warnings(m, elapsed_seconds=m.budget_minutes * 60) == [
        f"3 questions asked; the method's minimum is {m.method.min_questions}"
    ]
    with pytest.raises(S.SessionError, match="3 questions asked.*18 of .* minutes used.*reason"):
        S.end_method(store, m.id)
    assert method(store, aid).status == "running"
    S.end_method(store, m.id, reason="apprentice unwell; agreed to stop")
    m = method(store, aid)
    assert m.status == "ended" and m.end_reason == "apprentice unwell; agreed to stop"
    assert m.end_warnings[0].startswith("3 questions asked")
    for text in (render(S.load(store, aid), "html"), render(S.load(store, aid), "md")):
        assert "apprentice unwell; agreed to stop" in text and "18 of" in text
    S.reopen_method(store, m.id)
    assert method(store, aid).end_reason == ""


def test_a_full_method_ends_without_a_reason(store, fixed_seeds):
    aid = start(store, "END-2")
    m = method(store, aid)
    for q in m.questions:
        S.ask(store, m.id, q.code)
    assert len(m.questions) >= m.method.min_questions
    S.end_method(store, m.id, elapsed_seconds=m.budget_minutes * 60 * 0.6)
    m = method(store, aid)
    assert (m.status, m.end_reason, m.end_warnings) == ("ended", "", [])


# --------------------------------------------------------------------------- C. voiding, one open assessment


def test_one_open_assessment_per_apprentice_and_standard(store):
    aid = start(store, "OPEN-1")
    assert S.open_assessment_for(store, "ST0556", "OPEN-1") == aid
    assert S.open_assessment_for(store, "ST0480", "OPEN-1") is None
    assert S.open_assessment_for(store, "ST0556", "NOBODY") is None
    with pytest.raises(S.OpenAssessmentExists, match="Resume it, or void it") as e:
        start(store, "OPEN-1", methods=("presentation-questioning",))
    assert e.value.assessment_id == aid and isinstance(e.value, S.SessionError)
    start(store, "OPEN-1", standard="ST0480", methods=("lsbu-project-showcase",))  # another standard: fine


def test_void_is_refused_once_something_was_recorded(store):
    aid = start(store, "VOID-1")
    m = method(store, aid)
    S.ask(store, m.id, m.questions[0].code)
    S.log_evidence(store, m.id, "pass", criterion=m.scheme.criteria[0].id)
    with pytest.raises(S.SessionError, match="1 question asked, 1 evidence entry recorded.*complete"):
        S.void_assessment(store, aid, "A. Assessor", "started by mistake")
    with pytest.raises(S.SessionError, match="reason"):
        S.void_assessment(store, aid, "A. Assessor", "")
    assert S.load(store, aid).status == "open"


def test_void_keeps_the_assessment_and_frees_its_questions(store, fixed_seeds):
    aid = start(store, "VOID-2")
    m = method(store, aid)
    drawn = {q.code for q in m.questions}
    swap_any(store, m)  # a swap before anything was asked does not stop a void
    assert drawn <= history(store, m.draw_id)
    S.void_assessment(store, aid, "A. Assessor", "wrong apprentice reference")
    v = S.load(store, aid)
    assert (v.status, v.void_by, v.void_reason) == ("void", "A. Assessor", "wrong apprentice reference")
    assert v.voided_at is not None
    assert {q.code for q in v.methods[0].questions} == drawn - {v.methods[0].swaps[0].out_code} | {
        v.methods[0].swaps[0].in_code
    }  # the set as it stood, still shown
    assert history(store, m.draw_id) == frozenset()
    assert all(i.void_key == i.id and not i.active for i in items(store, m.draw_id))
    assert load_draw(store, m.draw_id).voided
    assert [r["id"] for r in S.unfinished(store)] == []
    for text in (render(v, "html"), render(v, "md")):
        assert "VOID" in text and "wrong apprentice reference" in text
    with pytest.raises(S.SessionError, match="voided"):
        S.ask(store, m.id, m.questions[0].code)
    with pytest.raises(S.SessionError, match="already void"):
        S.void_assessment(store, aid, "A. Assessor", "again")
    # the next start may draw the same questions again
    aid2 = start(store, "VOID-2")
    assert aid2 != aid and S.open_assessment_for(store, "ST0556", "VOID-2") == aid2
    # while the database still refuses a second live item of one question for one apprentice
    voided = items(store, m.draw_id)[0]
    live = items(store, method(store, aid2).draw_id)[0]
    for row in (voided, live):
        new = {
            "draw_id": live.draw_id,
            "position": 99,
            "question_id": row.question_id,
            "question_version_id": row.question_version_id,
            "apprentice_id": row.apprentice_id,
            "origin": "draw",
        }
        if row is voided and row.question_id in {i.question_id for i in items(store, live.draw_id)}:
            continue  # drawn again already: the insert below would be a second live item
        if row is voided:
            with Session(store) as s, s.begin():  # a question only a voided item holds may be drawn again
                s.execute(insert(table_of(DrawItemRow)), [new])
        else:
            with pytest.raises(IntegrityError), Session(store) as s, s.begin():
                s.execute(insert(table_of(DrawItemRow)), [new])


def test_abandoned_ilm_starts_no_longer_exhaust_an_outcome(store):
    """Reported: four abandoned starts on ILM-SI3 for one apprentice used up an outcome's questions
    (M3.54/1.1 has five), so the next start could not be drawn. Voided starts give them back: six
    starts in a row, each with its questions drawn after an oral report, succeed, so questions were
    drawn again."""
    covering = {
        q.id
        for q in shipped_bank().questions
        if q.standard == "ILM-SI3" and q.status == "approved" and "M3.54/1.1" in q.outcomes
    }
    assert len(covering) == 5
    seen = []
    for i in range(6):
        aid = start(store, "ILM-VOID", standard="ILM-SI3", methods=(), report_format="oral")
        S.draw_questions(store, method(store, aid).id)  # the set is drawn when the assessor asks for it
        seen.append({q.code for q in method(store, aid).questions})
        assert seen[-1] & covering
        S.void_assessment(store, aid, "E. Assessor", f"abandoned start {i + 1}: technical problem")
    assert len(set().union(*seen)) < sum(len(x) for x in seen)  # some question was drawn again
    assert S.unfinished(store) == []


def test_voided_draws_and_undone_swaps_do_not_count_as_exposure(store, fixed_seeds):
    def usage():
        with Session(store) as s:
            method_id = s.execute(
                select(col(DrawRow.method_id)).where(col(DrawRow.id) == method(store, keep).draw_id)
            ).scalar()
            return qbank.draws._usage(s, method_id, "")

    gone = start(store, "EXPO-1")
    keep = start(store, "EXPO-2")  # its draw read EXPO-1's set into the usage window
    assert usage().sets == 2
    S.void_assessment(store, gone, "A. Assessor", "abandoned")
    assert usage().sets == 1  # taken out of the window it was already in
    f = Filters(standard="ST0556", method="professional-discussion")
    assert review(store, "usage", f).summary[0].startswith("1 set(s) drawn")
    assert review(store, "overlap", f).tables[0].rows[0][2] == 1  # sets
    m = method(store, keep)
    out, new = swap_any(store, m)
    u = usage()
    assert (u.counts.get(out, 0), u.counts.get(new, 0)) == (0, 1)
    S.undo_swap(store, m.id, new)
    u = usage()
    assert (u.counts.get(out, 0), u.counts.get(new, 0)) == (1, 0)
    start(store, "EXPO-3")  # a fresh read agrees
    qbank.draws._USAGE.clear()
    u = usage()
    assert u.sets == 2 and u.counts.get(new, 0) <= 1 and u.counts.get(out, 0) >= 1


# --------------------------------------------------------------------------- D. adjustments and settings


def test_reasonable_adjustments_carry_over(store):
    assert S.previous_adjustments(store, "UOB-HCSL", "ADJ-1") is None
    aid = S.start_assessment(
        store,
        S.StartRequest(
            standard="UOB-HCSL",
            apprentice="ADJ-1",
            assessor="F. Tutor",
            extra_time_pct=25,
            adjustments="questions also in writing",
        ),
    )
    assert S.previous_adjustments(store, "UOB-HCSL", "ADJ-1") == (25, "questions also in writing")
    (m,) = S.load(store, aid).methods
    for c in ("TR", "IN", "AG", "PR"):
        S.log_evidence(store, m.id, "on track", criterion=c)
    S.end_method(store, m.id, reason="test")
    S.confirm_grade(store, m.id)
    S.complete(store, aid)
    # the next review carries them over when the start form leaves them unset
    aid2 = S.start_assessment(store, S.StartRequest(standard="UOB-HCSL", apprentice="ADJ-1", assessor="F. Tutor"))
    v = S.load(store, aid2)
    assert (v.extra_time_pct, v.adjustments) == (25, "questions also in writing")
    assert v.methods[0].budget_minutes == S.load(store, aid).methods[0].budget_minutes
    S.void_assessment(store, aid2, "F. Tutor", "test")
    # given explicitly, they replace it (0 and "" included)
    aid3 = S.start_assessment(
        store,
        S.StartRequest(standard="UOB-HCSL", apprentice="ADJ-1", assessor="F. Tutor", extra_time_pct=0, adjustments=""),
    )
    assert (S.load(store, aid3).extra_time_pct, S.load(store, aid3).adjustments) == (0, "")
    S.void_assessment(store, aid3, "F. Tutor", "test")
    # a void start is not a previous assessment
    assert S.previous_adjustments(store, "UOB-HCSL", "ADJ-1") == (25, "questions also in writing")
    with pytest.raises(S.SessionError, match="extra time"):
        S.start_assessment(
            store, S.StartRequest(standard="UOB-HCSL", apprentice="ADJ-2", assessor="F. Tutor", extra_time_pct=500)
        )


def test_settings_file(tmp_path, monkeypatch):
    monkeypatch.setenv("QBANK_CONFIG_DIR", str(tmp_path / "cfg"))
    assert cfg.settings_path() == tmp_path / "cfg" / "settings.json"
    assert cfg.load_settings() == {}
    cfg.save_settings({"assessor": "Sam O'Neil"})
    cfg.save_settings({"theme": "dark"})
    assert cfg.load_settings() == {"assessor": "Sam O'Neil", "theme": "dark"}
    cfg.save_settings({"theme": None})
    assert cfg.load_settings() == {"assessor": "Sam O'Neil"}
    assert sorted(p.name for p in (tmp_path / "cfg").iterdir()) == ["settings.json"]  # no temporary left
    cfg.settings_path().write_text("{not json", encoding="utf-8")
    assert cfg.load_settings() == {}
    cfg.settings_path().write_text("[1, 2]", encoding="utf-8")
    assert cfg.load_settings() == {}
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("QBANK_CONFIG_DIR", str(blocker / "cfg"))
    assert cfg.load_settings() == {}
    with pytest.raises(BankError, match=str(blocker / "cfg" / "settings.json").replace("\\", "\\\\")):
        cfg.save_settings({"assessor": "X"})


def test_settings_folder_per_platform(tmp_path, monkeypatch):
    monkeypatch.delenv("QBANK_CONFIG_DIR", raising=False)
    monkeypatch.setattr(cfg.sys, "platform", "linux")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cfg.settings_path() == tmp_path / "xdg" / "qbank" / "settings.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert cfg.settings_path() == Path.home() / ".config" / "qbank" / "settings.json"
    monkeypatch.setattr(cfg.sys, "platform", "darwin")
    assert cfg.settings_path() == Path.home() / "Library" / "Application Support" / "qbank" / "settings.json"
    monkeypatch.setattr(cfg.sys, "platform", "win32")
    monkeypatch.setenv("APPDATA", str(tmp_path / "roaming"))
    assert cfg.settings_path() == tmp_path / "roaming" / "qbank" / "settings.json"


# --------------------------------------------------------------------------- E. ad-hoc questions and resits


def ilm_referral(store, apprentice, adhoc_text=None) -> int:
    """A first ILM attempt that is referred; the assessor asks `adhoc_text` in their own words."""
    for _ in range(20):  # a set without the bank question the ad-hoc one duplicates (void and redraw)
        aid = start(store, apprentice, standard="ILM-SI3", methods=(), report_format="oral")
        S.draw_questions(store, method(store, aid).id)  # questions after the oral report
        m = method(store, aid)
        if "ILM-OR-024" not in {q.code for q in m.questions}:
            break
        S.void_assessment(store, aid, "E. Assessor", "redraw for the test")
    assert m.questions[0].code is not None  # a drawn question
    S.ask(store, m.id, m.questions[0].code)
    if adhoc_text:
        S.add_adhoc(store, m.id, adhoc_text, ["M3.55/2.2"])
    S.set_mark(store, m.id, "define", mark=8)
    S.set_mark(store, m.id, "apply", mark=36)
    S.set_mark(store, m.id, "report", mark=12)
    S.end_method(store, m.id, reason="test")
    S.record_declarations(store, aid, "E. Assessor", authenticity=True)  # needed before the grade is confirmed
    S.confirm_grade(store, m.id)
    S.complete(store, aid)
    return aid


def ilm_resit(store, apprentice) -> S.MethodView:
    """The resit after `ilm_referral`: an oral report, with its questions drawn."""
    rid = S.start_assessment(
        store,
        S.StartRequest(
            standard="ILM-SI3", apprentice=apprentice, assessor="E. Assessor", attempt="resit", report_format="oral"
        ),
    )
    S.draw_questions(store, method(store, rid).id)
    return method(store, rid)


def test_a_resit_avoids_bank_questions_asked_ad_hoc(store):
    """Reported: the ILM resit drew ILM-OR-024, which the assessor had asked in attempt 1 as an
    ad-hoc question (same text)."""
    text = next(q.text for q in shipped_bank().questions if q.id == "ILM-OR-024")
    ilm_referral(store, "ILM-ADHOC", " ".join(text.split()))
    m = ilm_resit(store, "ILM-ADHOC")
    d = load_draw(store, m.draw_id)
    assert "ILM-OR-024" in d.adhoc_excluded
    assert "ILM-OR-024" not in {q.code for q in m.questions}
    assert replay(store, m.draw_id).identical
    with Session(store) as s:
        assert "ILM-OR-024" in json.loads(s.get(DrawRow, m.draw_id).adhoc_exclude_json)
    # nor can a swap bring it in
    for q in m.questions:
        try:
            assert S.swap_question(store, m.id, q.code, "test") != "ILM-OR-024"
        except S.SessionError:
            pass


def test_a_reworded_ad_hoc_question_counts_too(store):
    text = next(q.text for q in shipped_bank().questions if q.id == "ILM-OR-024")
    reworded = " ".join(text.split()).replace("Looking back, what", "Looking back what").replace("think", "believe")
    ilm_referral(store, "ILM-ADHOC-2", reworded)
    assert "ILM-OR-024" in load_draw(store, ilm_resit(store, "ILM-ADHOC-2").draw_id).adhoc_excluded


# --------------------------------------------------------------------------- F. the grade's reason


def test_ilm_referral_reason_names_the_section(store):
    aid = start(store, "ILM-REASON", standard="ILM-SI3", methods=(), report_format="written")
    m = method(store, aid)
    S.set_mark(store, m.id, "define", mark=8)
    S.set_mark(store, m.id, "apply", mark=36)
    S.set_mark(store, m.id, "report", mark=12)
    m = method(store, aid)
    assert m.reason == "REFERRAL: 'Prepare a brief report on the process and outcomes' 12, below its minimum of 15"
    S.end_method(store, m.id, reason="test")
    m = method(store, aid)
    assert "'Prepare a brief report on the process and outcomes' 12, below its minimum of 15" in m.rule_text
    assert "uncovered" not in m.reason
    S.reopen_method(store, m.id)
    S.set_mark(store, m.id, "report", mark=20)
    m = method(store, aid)
    assert m.reason.startswith("PASS: total of 50 or more")


def test_lsbu_weighted_reason(store):
    aid = start(store, "LSBU-REASON", standard="ST0480", methods=("lsbu-project-showcase",))
    m = method(store, aid)
    S.set_mark(store, m.id, "report", mark=40)
    S.set_mark(store, m.id, "presentation", mark=50)
    assert method(store, aid).reason == "Fail: weighted total 45%, below 50%"
    S.set_mark(store, m.id, "presentation", mark=62)
    assert method(store, aid).reason == "Pass: weighted mark of 50% or more (LSBU modules pass at 50%)"


def test_descriptor_fail_reason_and_disagreement(store):
    aid = start(store, "CMI-REASON")
    m = method(store, aid)
    first = m.scheme.criteria[0]
    for c in m.scheme.criteria[1:]:
        S.log_evidence(store, m.id, "pass", criterion=c.id)
    m = method(store, aid)
    assert m.reason == f"Fail: {first.id} pass not met (nothing logged)"
    S.end_method(store, m.id, reason="test")
    S.confirm_grade(store, m.id, "Pass", "the portfolio showed it")
    m = method(store, aid)
    assert m.reason.startswith("Pass: recorded by the assessor") and "the portfolio showed it" in m.reason


# --------------------------------------------------------------------------- G. record order, completed, files


def test_record_lists_questions_in_the_order_asked(store, fixed_seeds):
    aid = start(store, "ORDER-1")
    m = method(store, aid)
    q = [x.code for x in m.questions]
    S.ask(store, m.id, q[2])
    S.add_adhoc(store, m.id, "What would the Monte Carlo model have told you?", [m.method.assesses[0]])
    S.ask(store, m.id, q[0])
    S.skip(store, m.id, q[1], "portfolio already evidences it")
    assert [x.code for x in method(store, aid).asked] == [q[2], None, q[0]]
    for fmt in ("html", "md"):
        text = render(S.load(store, aid), fmt).split("Questions asked", 1)[1]
        asked_part, _, rest = text.partition("Skipped (not asked)")
        assert asked_part.index(q[2]) < asked_part.index("Monte Carlo") < asked_part.index(q[0])
        assert q[1] not in asked_part
        skipped_part, _, never = rest.partition("Drawn but never asked")
        assert q[1] in skipped_part and "portfolio already evidences it" in skipped_part
        assert all(c in never.split(".")[0] for c in q[3:])


def test_completed_lists_finished_assessments_newest_first(store):
    ids = []
    for ref in ("DONE-1", "DONE-2"):
        aid = S.start_assessment(store, S.StartRequest(standard="UOB-HCSL", apprentice=ref, assessor="F. Tutor"))
        (m,) = S.load(store, aid).methods
        for c in ("TR", "IN", "AG", "PR"):
            S.log_evidence(store, m.id, "on track", criterion=c)
        S.end_method(store, m.id, reason="test")
        S.confirm_grade(store, m.id)
        S.complete(store, aid)
        ids.append(aid)
    start(store, "DONE-3")
    rows = S.completed(store)
    assert [r["id"] for r in rows] == ids[::-1]
    assert set(rows[0]) == set(S.unfinished(store)[0]) | {"completed_at", "overall"}
    assert rows[0]["overall"] == "On track" and rows[0]["completed_at"] is not None
    assert S.completed(store, assessor="nobody") == []


def test_records_dir_and_write_record(store, tmp_path, monkeypatch, db_url):
    aid = start(store, "FILE-1")
    if store.dialect.name == "sqlite":
        assert R.records_dir(store) == Path(store.url.database).absolute().parent / "records"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    if store.dialect.name != "sqlite":
        assert R.records_dir(store) == tmp_path / "data" / "qbank" / "records" / store.url.database
    out = R.write_record(store, aid, "md", tmp_path / "out" / "r.md")
    assert out == tmp_path / "out" / "r.md" and out.read_text(encoding="utf-8").startswith("# Assessor's record")
    assert [p.name for p in out.parent.iterdir()] == ["r.md"]  # no temporary left behind
    default = R.write_record(store, aid, "html")
    assert default == R.records_dir(store) / f"assessment-{aid}.html" and default.read_text().startswith("<!DOCTYPE")
    target = tmp_path / "elsewhere.html"
    target.write_text("keep me")
    link = tmp_path / "link.html"
    link.symlink_to(target)
    with pytest.raises(BankError, match="symbolic link"):
        R.write_record(store, aid, "html", link)
    assert target.read_text() == "keep me"
    with pytest.raises(BankError, match="format"):
        R.write_record(store, aid, "pdf", tmp_path / "r.pdf")
    (tmp_path / "blocked").write_text("a file, not a folder")
    with pytest.raises(BankError, match="cannot write the record"):
        R.write_record(store, aid, "md", tmp_path / "blocked" / "r.md")
