"""Worked examples, one per seed system, from logged evidence to the overall grade, on the shipped
banks in a real store (SQLite, and PostgreSQL when enabled); plus the assessment rules around them."""

from __future__ import annotations

import pytest
from tests_support import shipped_bank

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.record import render


@pytest.fixture
def store(engine):
    import_bank(engine, shipped_bank())
    return engine


def log_all(engine, view_method, level_of):
    """Log evidence for every criterion of a descriptor method at the level `level_of(criterion)`."""
    for c in view_method.scheme.criteria:
        lv = level_of(c)
        if lv:
            S.log_evidence(engine, view_method.id, lv, criterion=c.id, note=f"answer evidenced {c.id} at {lv}")


def finish(engine, am_id, grade=None, disagreement=""):
    res = S.end_method(engine, am_id, reason="worked example: ended once the evidence was logged")
    S.confirm_grade(engine, am_id, grade, disagreement)
    return res


def top_level(c):
    return max(c.descriptors, key=lambda lv: ["pass", "merit", "distinction"].index(lv))


# --------------------------------------------------------------------------- CMI ST0556


def test_cmi_worked_example_distinction_and_pass_give_merit(store):
    aid = S.start_assessment(
        store,
        S.StartRequest(
            standard="ST0556",
            apprentice="CMI-001",
            assessor="A. Assessor",
            extra_time_pct=10,
            adjustments="screen reader; breaks allowed",
        ),
    )
    v = S.load(store, aid)
    assert [m.method.id for m in v.methods] == ["presentation-questioning", "professional-discussion"]
    pq, pd = v.methods
    assert pq.budget_minutes == 66  # 60 minutes + 10 % extra time
    # presentation questioning: ask two drawn questions, note the answers, evidence every criterion at its top level
    a1 = S.ask(store, pq.id, pq.questions[0].code)
    S.set_notes(store, a1, "Deployed Hoshin Kanri across three sites; X-matrix shown.")
    S.ask(store, pq.id, pq.questions[1].code)
    assert S.load(store, aid).methods[0].uncovered == list(pq.method.assesses)  # nothing logged yet
    log_all(store, pq, top_level)
    pq = S.load(store, aid).methods[0]
    assert pq.uncovered == [] and pq.result.grade == "Distinction"
    assert finish(store, pq.id).grade == "Distinction"
    # professional discussion: every criterion at pass only
    log_all(store, pd, lambda c: "pass")
    assert finish(store, pd.id).grade == "Pass"
    overall = S.complete(store, aid)
    assert [(o.id, o.grade) for o in overall] == [("epa", "Merit")]
    v = S.load(store, aid)
    assert v.status == "complete" and v.overall[0].grade == "Merit"
    html = render(v, "html")
    assert "Overall EPA grade: Merit" in html and "screen reader; breaks allowed" in html and "10%" in html
    with pytest.raises(S.SessionError, match="complete"):
        S.set_notes(store, a1, "changed afterwards")


def test_cmi_resit_carries_the_passed_method_and_is_capped_unless_overridden(store):
    req = S.StartRequest(standard="ST0556", apprentice="CMI-002", assessor="A. Assessor")
    aid = S.start_assessment(store, req)
    pq, pd = S.load(store, aid).methods
    first_questions = {q.code for m in (pq, pd) for q in m.questions}
    log_all(store, pq, top_level)
    finish(store, pq.id)
    # one professional discussion criterion never reaches pass: the method fails
    log_all(store, pd, lambda c: "not met" if c is pd.scheme.criteria[0] else "distinction")
    res = finish(store, pd.id)
    assert res.grade == "Fail" and pd.scheme.criteria[0].id in res.reasons[-1]
    assert S.complete(store, aid)[0].grade == "Fail"

    with pytest.raises(S.SessionError, match="presentation-questioning was passed"):
        S.start_assessment(
            store,
            S.StartRequest(
                standard="ST0556",
                apprentice="CMI-002",
                assessor="B. Assessor",
                attempt="resit",
                methods=("presentation-questioning",),
            ),
        )
    rid = S.start_assessment(
        store, S.StartRequest(standard="ST0556", apprentice="CMI-002", assessor="B. Assessor", attempt="resit")
    )
    r = S.load(store, rid)
    assert r.previous_id == aid
    carried, pd2 = r.methods
    assert (carried.status, carried.grade, carried.carried_from) == ("carried", "Distinction", aid)
    assert not ({q.code for q in pd2.questions} & first_questions), "a resit never repeats a question"
    log_all(store, pd2, top_level)
    finish(store, pd2.id)
    o = S.load(store, rid).overall[0]
    assert (o.table_grade, o.grade, o.capped) == ("Distinction", "Pass", True)
    S.record_override(store, rid, "CMI EPA operations manager", "assessor illness during the first attempt")
    o = S.complete(store, rid)[0]
    assert (o.grade, o.capped) == ("Distinction", False)
    md = render(S.load(store, rid), "md")
    assert "Cap lifted** by CMI EPA operations manager" in md and "carried over from assessment" in md


# --------------------------------------------------------------------------- Senior Leader ST0480 (EPA and LSBU)


def test_st0480_worked_example_pass_and_distinction_give_pass(store):
    aid = S.start_assessment(store, S.StartRequest(standard="ST0480", apprentice="SL-001", assessor="C. Assessor"))
    sbp, pd = S.load(store, aid).methods
    assert (sbp.method.id, pd.method.id) == ("sbp-presentation-questioning", "professional-discussion")
    log_all(store, sbp, top_level)
    log_all(store, pd, lambda c: "pass")
    assert finish(store, sbp.id).grade == "Distinction"
    assert finish(store, pd.id).grade == "Pass"
    assert [(o.id, o.grade) for o in S.complete(store, aid)] == [("epa", "Pass")]


def test_lsbu_showcase_weighted_marks(store):
    aid = S.start_assessment(
        store,
        S.StartRequest(
            standard="ST0480", apprentice="LSBU-01", assessor="D. Tutor", methods=("lsbu-project-showcase",)
        ),
    )
    (m,) = S.load(store, aid).methods
    S.ask(store, m.id, m.questions[0].code)
    S.log_evidence(
        store, m.id, "evidenced", criterion="presentation", outcomes=[m.method.assesses[0]], note="clear account"
    )
    S.set_mark(store, m.id, "report", mark=45, strengths="well structured", improvements="thin evaluation")
    S.set_mark(store, m.id, "presentation", mark=58)
    assert finish(store, m.id).grade == "Pass"  # 51.5 %
    (o,) = S.complete(store, aid)
    assert (o.id, o.grade) == ("lsbu-module-8", "Pass")
    html = render(S.load(store, aid), "html")
    assert "weighted total 51.5%" in html and "thin evaluation" in html


def test_lsbu_showcase_with_a_component_unmarked_cannot_be_confirmed(store):
    """Report 100, presentation never marked: not a Pass, and the assessor cannot confirm it."""
    aid = S.start_assessment(
        store,
        S.StartRequest(
            standard="ST0480", apprentice="LSBU-02", assessor="D. Tutor", methods=("lsbu-project-showcase",)
        ),
    )
    (m,) = S.load(store, aid).methods
    S.ask(store, m.id, m.questions[0].code)
    S.set_mark(store, m.id, "report", mark=100)
    res = S.end_method(store, m.id, reason="the presentation was not marked")
    assert res is not None and res.grade != "Pass" and not res.complete
    with pytest.raises(S.SessionError, match="incomplete: no mark for presentation"):
        S.confirm_grade(store, m.id)
    with pytest.raises(S.SessionError, match="incomplete"):
        S.confirm_grade(store, m.id, "Pass", "I think it passed")
    with pytest.raises(S.SessionError):
        S.complete(store, aid)  # nothing confirmed: the assessment cannot be completed either


def test_lsbu_mark_out_of_range_is_refused(store):
    aid = S.start_assessment(
        store,
        S.StartRequest(
            standard="ST0480", apprentice="LSBU-03", assessor="D. Tutor", methods=("lsbu-project-showcase",)
        ),
    )
    (m,) = S.load(store, aid).methods
    with pytest.raises(S.SessionError, match="from 0 to 100"):
        S.set_mark(store, m.id, "report", mark=120)


# --------------------------------------------------------------------------- ILM mark sheet


def test_ilm_worked_example_referral_names_the_section(store):
    # an oral report, with questions after it: the set is drawn when the assessor asks for one
    aid = S.start_assessment(
        store, S.StartRequest(standard="ILM-SI3", apprentice="ILM-001", assessor="E. Assessor", report_format="oral")
    )
    (m,) = S.load(store, aid).methods
    assert m.questions == []
    S.draw_questions(store, m.id)
    (m,) = S.load(store, aid).methods
    ask_id = S.ask(store, m.id, m.questions[0].code)
    S.log_evidence(
        store, m.id, "evidenced", outcomes=["M3.54/1.1"], note="charter with scope and measures", ask_id=ask_id
    )
    S.set_mark(store, m.id, "define", mark=8, strengths="clear charter", improvements="")
    S.set_mark(store, m.id, "apply", mark=36, strengths="good use of a fishbone", improvements="control plan vague")
    S.set_mark(store, m.id, "report", mark=12, strengths="", improvements="outcomes not quantified")
    S.record_declarations(store, aid, "E. Assessor", authenticity=True)  # needed before the grade is confirmed
    res = finish(store, m.id)
    assert res.grade == "REFERRAL" and res.total == 56
    assert "'Prepare a brief report on the process and outcomes' (12 of min 15)" in res.reasons[0]
    assert S.complete(store, aid)[0].grade == "REFERRAL"
    md = render(S.load(store, aid), "md")
    assert "outcomes not quantified" in md and "12 / 30 (min 15)" in md and "**NOT EVIDENCED**" in md


# --------------------------------------------------------------------------- UoB tripartite review


def test_uob_worked_example_action_plan_names_the_behaviour(store):
    aid = S.start_assessment(store, S.StartRequest(standard="UOB-HCSL", apprentice="UOB-001", assessor="F. Tutor"))
    (m,) = S.load(store, aid).methods
    for code in ("TR", "IN", "AG"):
        S.log_evidence(store, m.id, "on track", criterion=code)
    S.log_evidence(store, m.id, "developing", criterion="PR", note="few examples yet")
    res = finish(store, m.id)
    assert res.grade == "Action plan needed" and "PR" in res.reasons[0]
    assert S.complete(store, aid)[0].grade == "Action plan needed"


# --------------------------------------------------------------------------- the rules around a live method


def test_swap_adhoc_disagreement_and_bad_input(store, monkeypatch):
    import itertools

    import qbank.draws

    seeds = itertools.count(1)  # fixed draw seeds: the set, and so which swaps are possible, never vary
    monkeypatch.setattr(qbank.draws.secrets, "token_hex", lambda n=16: f"{next(seeds):0{2 * n}x}")
    aid = S.start_assessment(
        store,
        S.StartRequest(
            standard="ST0556", apprentice="CMI-003", assessor="A. Assessor", methods=("professional-discussion",)
        ),
    )
    (m,) = S.load(store, aid).methods
    first, second = m.questions[0].code, m.questions[1].code
    S.ask(store, m.id, first)
    with pytest.raises(S.SessionError, match="already been asked"):
        S.swap_question(store, m.id, first, "too close to the portfolio")
    new = None
    for q in m.questions[1:]:  # a swap can be impossible for one question (tight outcomes); any will do
        try:
            new = S.swap_question(store, m.id, q.code, "apprentice covered this in the presentation")
            second = q.code
            break
        except S.SessionError as e:
            assert "cannot swap" in str(e)
    assert new is not None and new != second
    m = S.load(store, aid).methods[0]
    assert [(s.out_code, s.in_code) for s in m.swaps] == [(second, new)]
    adhoc = S.add_adhoc(store, m.id, "How did the regression model change the plan?", ["K8"])
    with pytest.raises(S.SessionError, match="not assessed by"):
        S.add_adhoc(store, m.id, "Tell me about S1", ["S1"])
    with pytest.raises(S.SessionError, match="level 'brilliant'"):
        S.log_evidence(store, m.id, "brilliant", outcomes=["K8"])
    with pytest.raises(S.SessionError, match="no criterion 'PD99'"):
        S.log_evidence(store, m.id, "pass", criterion="PD99")
    # an outcome the ad-hoc question targeted, evidenced at merit; then retracted and logged again at pass
    entry = S.log_evidence(store, m.id, "merit", outcomes=["K8"], ask_id=adhoc)
    assert S.load(store, aid).methods[0].outcome_levels["K8"] == "merit"
    S.retract_evidence(store, entry)
    assert "K8" in S.load(store, aid).methods[0].uncovered
    log_all(store, m, lambda c: "pass")
    assert finish(store, m.id).grade == "Pass"
    m = S.load(store, aid).methods[0]
    with pytest.raises(S.SessionError, match="give the reason you disagree"):
        S.confirm_grade(store, m.id, "Merit")
    S.confirm_grade(store, m.id, "Merit", "evidence of merit in the portfolio not captured by a criterion")
    m = S.load(store, aid).methods[0]
    assert (m.computed_grade, m.grade) == ("Pass", "Merit")
    html = render(S.load(store, aid), "html")
    assert "Assessor&#39;s grade differs from the rules" in html or "Assessor's grade differs" in html
    assert "ad hoc" in html and "apprentice covered this in the presentation" in html
    assert "retracted" in html


def test_first_attempt_needs_an_assessor_and_known_methods(store):
    with pytest.raises(S.SessionError, match="assessor"):
        S.start_assessment(store, S.StartRequest(standard="ST0556", apprentice="X", assessor=" "))
    with pytest.raises(S.SessionError, match="no method 'interview'"):
        S.start_assessment(
            store, S.StartRequest(standard="ST0556", apprentice="X", assessor="A", methods=("interview",))
        )
    with pytest.raises(S.SessionError, match="no completed assessment"):
        S.start_assessment(store, S.StartRequest(standard="ST0556", apprentice="NEW", assessor="A", attempt="resit"))


def test_a_failed_start_burns_no_questions(store, monkeypatch):
    """All methods are drawn in one transaction: if the second cannot be drawn, nothing is stored,
    so the apprentice keeps every question for a later draw."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from qbank.draws import DrawError
    from qbank.models import AssessmentRow, DrawItemRow, DrawRow

    def counts():
        with Session(store) as s:
            return [
                s.execute(select(func.count()).select_from(t)).scalar() for t in (DrawRow, DrawItemRow, AssessmentRow)
            ]

    before = counts()
    real = S.draw_in
    calls = []

    def flaky(s, engine, req, apprentice_id):
        calls.append(req.method)
        if len(calls) == 2:
            raise DrawError(f"cannot draw a set for {req.apprentice}: K7: no question left")
        return real(s, engine, req, apprentice_id)

    monkeypatch.setattr(S, "draw_in", flaky)
    with pytest.raises(DrawError, match="K7"):
        S.start_assessment(store, S.StartRequest(standard="ST0556", apprentice="Y", assessor="A"))
    assert calls == ["presentation-questioning", "professional-discussion"]
    assert counts() == before
