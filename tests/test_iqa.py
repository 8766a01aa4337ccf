"""Internal quality assurance (issue 13, item 8): a second marker's own marks or levels per method,
graded by the method's rules and set beside the assessor's; agreement per method and overall; the
record showing both; agreement rates per assessor in the assessors review; and the sample of
assessments to second-mark. On SQLite and PostgreSQL.

Most tests run on a small fixture standard written here (IQA01: a mark sheet like ILM's, and two
descriptor methods with an ST0480-style combination table), so they do not depend on how the
shipped banks model their methods; one runs on the shipped ST0480, its method ids read from the
standard."""

from __future__ import annotations

import json
import textwrap
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests_support import shipped_bank

from qbank import iqa
from qbank import sessions as S
from qbank.cli import main
from qbank.importer import import_bank
from qbank.record import render, write_record
from qbank.releases import make_release
from qbank.reviews import Filters, review
from qbank.validation import load_bank

STANDARD = """\
code = "IQA01"
title = "Quality assurance test standard"
level = 3
version = "1.0"

[outcomes]
C1 = { group = "criterion", title = "Define the project" }
C2 = { group = "criterion", title = "Apply the tools" }
C3 = { group = "criterion", title = "Report on the outcomes" }
K1 = { group = "knowledge", title = "Knows strategy" }
S1 = { group = "skill", title = "Leads change" }
B1 = { group = "behaviour", title = "Acts with integrity" }

[[method]]
id = "mark-sheet"
name = "Project report marked on the mark sheet"
kind = "oral report questioning"
minutes = 20
min_questions = 1
assesses = ["C1", "C2", "C3"]

[[method]]
id = "presentation"
name = "Presentation with questioning"
kind = "presentation questioning"
minutes = 30
min_questions = 1
assesses = ["K1", "S1"]

[[method]]
id = "discussion"
name = "Professional discussion"
kind = "professional discussion"
minutes = 30
min_questions = 1
assesses = ["K1", "B1"]

[checks]
min_questions_per_outcome = 1

[grading]

[[grading.method]]
method = "mark-sheet"
scheme = "marks"
grades = ["REFERRAL", "PASS"]
rules = [ { grade = "PASS", total = 50, minimums = true }, { grade = "REFERRAL" } ]

[[grading.method.criterion]]
id = "define"
title = "Define a service improvement project"
outcomes = ["C1"]
max = 10
min = 5

[[grading.method.criterion]]
id = "apply"
title = "Apply the tools"
outcomes = ["C2"]
max = 60
min = 30

[[grading.method.criterion]]
id = "report"
title = "Prepare a brief report"
outcomes = ["C3"]
max = 30
min = 15

[[grading.method]]
method = "presentation"
scheme = "descriptors"
levels = ["not met", "pass", "distinction"]
grades = ["Fail", "Pass", "Distinction"]
rules = [
  { grade = "Distinction", met = ["pass", "distinction"] },
  { grade = "Pass", met = ["pass"] },
  { grade = "Fail" },
]

[[grading.method.criterion]]
id = "P1"
outcomes = ["K1"]
descriptors = { pass = "explains", distinction = "evaluates" }

[[grading.method.criterion]]
id = "P2"
outcomes = ["S1"]
descriptors = { pass = "describes", distinction = "critically reflects" }

[[grading.method]]
method = "discussion"
scheme = "descriptors"
levels = ["not met", "pass", "distinction"]
grades = ["Fail", "Pass", "Distinction"]
rules = [
  { grade = "Distinction", met = ["pass", "distinction"] },
  { grade = "Pass", met = ["pass"] },
  { grade = "Fail" },
]

[[grading.method.criterion]]
id = "D1"
outcomes = ["K1", "B1"]
descriptors = { pass = "shows", distinction = "leads" }

[[grading.overall]]
id = "award"
name = "Award outcome"
methods = ["mark-sheet"]
grades = ["REFERRAL", "PASS"]
table = [ { when = ["REFERRAL"], grade = "REFERRAL" }, { when = ["PASS"], grade = "PASS" } ]

[[grading.overall]]
id = "epa"
name = "Overall EPA grade"
methods = ["presentation", "discussion"]
grades = ["Fail", "Pass", "Distinction"]
table = [
  { when = ["Fail", "*"], grade = "Fail" },
  { when = ["*", "Fail"], grade = "Fail" },
  { when = ["Distinction", "Distinction"], grade = "Distinction" },
  { when = ["Pass", "Pass"], grade = "Pass" },
  { when = ["Pass", "Distinction"], grade = "Pass" },
  { when = ["Distinction", "Pass"], grade = "Pass" },
]
resit_cap = { grade = "Pass", attempts = ["resit", "retake"], override = "exceptional circumstances" }
"""

SHEET_TEXTS = [
    "Walk me through how you chose the improvement project and why it was within your control.",
    "Which measures told you how big the service problem was before you started?",
    "How did you find the root cause rather than a symptom of the delay?",
    "What control did you put in place to keep the improvement from slipping back?",
    "Explain how you reported the outcome to the people who own the service.",
    "If you ran the project again, which lean tool would you use differently, and why?",
]
EPA_TEXTS = [
    "Describe a change you led that met resistance, and what you did about it.",
    "Tell me about a decision you held to on principle when it was costly.",
    "How did you set the strategy for your team this year, and who shaped it?",
    "Give an example of feedback you received that changed how you lead.",
    "What did you learn about leading people through uncertainty from your last project?",
    "When did you last challenge a senior colleague on an ethical question, and how?",
    "Which stakeholders did you involve first in the redesign, and what made you choose them?",
    "How do you know the culture of your team has changed since you arrived?",
    "Talk me through a risk you took on behalf of the organisation and how it turned out.",
    "How have you built trust with a team that did not choose you as its leader?",
    "What evidence persuaded your board to fund the programme you proposed?",
    "Describe how you coached someone through a failure they were responsible for.",
]


def _question(i: int, methods: str, outcomes: str, text: str) -> str:
    return textwrap.dedent(f'''
    [[question]]
    id = "IQ-{i:03d}"
    version = 1
    status = "approved"
    methods = [{methods}]
    outcomes = [{outcomes}]
    minutes = 5
    text = "{text}"
    guidance = "A real example, evaluated."
    reviewer = "Test Reviewer"
    reviewed = 2026-11-20
    ''')


QUESTIONS = (
    'standard = "IQA01"\ntopic = "General"\nauthor = "Test Writer"\n'
    + "".join(_question(i, '"mark-sheet"', '"C1", "C2", "C3"', text) for i, text in enumerate(SHEET_TEXTS, start=1))
    + "".join(
        _question(i, '"presentation", "discussion"', '"K1", "S1", "B1"', text)
        for i, text in enumerate(EPA_TEXTS, start=101)
    )
)

SHEET = {"define": 8, "apply": 36, "report": 16}  # 60 of 100, every minimum reached: PASS


def import_fixture(engine, root: Path):
    (root / "IQA01" / "questions").mkdir(parents=True)
    (root / "IQA01" / "standard.toml").write_text(STANDARD, encoding="utf-8")
    (root / "IQA01" / "questions" / "q.toml").write_text(QUESTIONS, encoding="utf-8")
    make_release(load_bank(root), "IQA01", "1.0.0")
    bank = load_bank(root)
    assert not bank.errors, [p.render() for p in bank.errors]
    import_bank(engine, bank)
    return engine


@pytest.fixture
def store(engine, tmp_path):
    return import_fixture(engine, tmp_path / "banks")


def sheet(store, apprentice: str, assessor: str, marks=SHEET, *, complete: bool = True) -> int:
    """A mark-sheet assessment, marked, ended, confirmed and (by default) completed."""
    aid = S.start_assessment(
        store, S.StartRequest(standard="IQA01", apprentice=apprentice, assessor=assessor, methods=("mark-sheet",))
    )
    (m,) = S.load(store, aid).methods
    for section, mark in marks.items():
        S.set_mark(store, m.id, section, mark=mark)
    S.end_method(store, m.id, reason="marked from the written report")
    S.confirm_grade(store, m.id)
    if complete:
        S.complete(store, aid)
    return aid


def epa(store, apprentice: str, assessor: str, presentation: str, discussion: str, attempt: str = "first") -> int:
    """A completed EPA on the descriptor methods, every criterion of each logged at one level (the
    methods a resit re-assesses only)."""
    methods = ("presentation", "discussion") if attempt == "first" else ()  # a resit: the failed ones
    aid = S.start_assessment(
        store,
        S.StartRequest(standard="IQA01", apprentice=apprentice, assessor=assessor, attempt=attempt, methods=methods),
    )
    for m in S.load(store, aid).methods:
        if m.status == "carried":
            continue
        level = presentation if m.method.id == "presentation" else discussion
        assert m.scheme is not None  # both methods have grading rules
        for c in m.scheme.criteria:
            S.log_evidence(store, m.id, level, criterion=c.id)
        S.end_method(store, m.id, reason="all criteria judged")
        S.confirm_grade(store, m.id)
    S.complete(store, aid)
    return aid


# --------------------------------------------------------------------------- grading a second mark by the rules


def test_qa_marks_giving_referral_disagree_with_the_assessors_pass(store):
    """ILM's mark sheet: the assessor's marks give PASS (60, every minimum); the QA marks put the
    report section under its minimum of 15, so the rules give REFERRAL: DISAGREE, per section and
    in total, and the second marker's overall outcome is REFERRAL too."""
    aid = sheet(store, "ILM-1", "Ann Assessor")
    got = iqa.record_second_mark(
        store, aid, "mark-sheet", "Quinn QA", marks={"define": 8, "apply": 38, "report": 12}, note="thin evaluation"
    )
    assert (got.assessor_grade, got.second.grade, got.agree, got.verdict) == ("PASS", "REFERRAL", False, "DISAGREE")
    assert [(c.id, c.assessor_mark, c.second_mark, c.difference) for c in got.criteria] == [
        ("define", 8, 8, 0),
        ("apply", 36, 38, 2),
        ("report", 16, 12, -4),
    ]
    assert (got.assessor_total, got.second_total, got.total_difference, got.total_max) == (60, 58, -2, 100)
    shown = iqa.load(store, aid)
    assert [m.method for m in shown.methods] == ["mark-sheet"] and shown.unmarked == ()
    (award,) = shown.overall
    assert (award.assessor_grade, award.second_grade, award.verdict) == ("PASS", "REFERRAL", "DISAGREE")

    # a correction is a new row: the newest counts, the first stays in the store
    again = iqa.record_second_mark(store, aid, "mark-sheet", "Quinn QA", marks={"define": 7, "apply": 40, "report": 20})
    assert again.corrections == 1
    shown = iqa.load(store, aid).methods[0]
    assert (shown.second.grade, shown.verdict, shown.total_difference, shown.corrections) == ("PASS", "AGREE", 7, 1)
    assert iqa.load(store, aid).overall[0].verdict == "AGREE"


def test_descriptor_levels_are_graded_by_the_rules_and_combined_overall(store):
    """Levels per criterion give the method grade by the descriptor rules; the second marker's
    overall comes from the combination table once every method has a second mark."""
    aid = epa(store, "EPA-1", "Ann Assessor", presentation="distinction", discussion="pass")
    v = S.load(store, aid)
    assert [(m.method.id, m.grade) for m in v.methods] == [("presentation", "Distinction"), ("discussion", "Pass")]
    assert v.overall[0].grade == "Pass"  # Distinction + Pass
    p = iqa.record_second_mark(store, aid, "presentation", "Quinn QA", levels={"P1": "distinction", "P2": "pass"})
    assert (p.second.grade, p.verdict) == ("Pass", "DISAGREE")  # P2 short of distinction: Pass, not Distinction
    assert [(c.id, c.assessor_level, c.second_level, c.same) for c in p.criteria] == [
        ("P1", "distinction", "distinction", True),
        ("P2", "distinction", "pass", False),
    ]
    (o,) = iqa.load(store, aid).overall
    assert (o.second_grade, o.missing, o.verdict) == (None, ("discussion",), "PENDING")
    d = iqa.record_second_mark(store, aid, "discussion", "Quinn QA", levels={"D1": "pass"})
    assert (d.second.grade, d.verdict) == ("Pass", "AGREE")
    (o,) = iqa.load(store, aid).overall
    assert (o.assessor_grade, o.second_grade, o.verdict) == ("Pass", "Pass", "AGREE")  # Pass + Pass


def test_st0480_descriptors_second_marked_on_the_shipped_standard(engine):
    """The shipped ST0480 EPA, its methods read from the standard: the assessor logs every
    criterion at the top level in the first method and at pass in the second (Distinction + Pass
    -> Pass); a second marker at pass throughout disagrees on the first method and agrees overall."""
    import_bank(engine, shipped_bank())
    aid = S.start_assessment(engine, S.StartRequest(standard="ST0480", apprentice="SL-IQA", assessor="C. Assessor"))
    first, second = S.load(engine, aid).methods
    top = first.scheme.levels[-1]
    for m, level in ((first, top), (second, "pass")):
        for c in m.scheme.criteria:
            S.log_evidence(engine, m.id, level, criterion=c.id)
        S.end_method(engine, m.id, reason="worked example")
        S.confirm_grade(engine, m.id)
    S.complete(engine, aid)
    v = S.load(engine, aid)
    assessor_first = v.methods[0].grade
    assert assessor_first == first.scheme.grades[-1]
    got = iqa.record_second_mark(
        engine, aid, first.method.id, "D. Moderator", levels={c.id: "pass" for c in first.scheme.criteria}
    )
    assert (got.assessor_grade, got.second.grade, got.verdict) == (assessor_first, "Pass", "DISAGREE")
    iqa.record_second_mark(
        engine, aid, second.method.id, "D. Moderator", levels={c.id: "pass" for c in second.scheme.criteria}
    )
    shown = iqa.load(engine, aid)
    assert [m.verdict for m in shown.methods] == ["DISAGREE", "AGREE"]
    overall = [(o.assessor_grade, o.second_grade, o.verdict) for o in shown.overall]
    assert overall == [(v.overall[0].grade, "Pass", "AGREE")]
    with pytest.raises(iqa.IQAError, match="level 'merit' is not one of not met, pass, distinction"):
        iqa.record_second_mark(
            engine, aid, second.method.id, "D. Moderator", levels={c.id: "merit" for c in second.scheme.criteria}
        )


# --------------------------------------------------------------------------- refusals


def test_refusals_name_the_field(store):
    aid = sheet(store, "ILM-2", "Ann Assessor")

    def refused(match, **kw):
        args = {"assessment_id": aid, "method": "mark-sheet", "marker": "Quinn QA", "marks": dict(SHEET)} | kw
        with pytest.raises(S.SessionError, match=match):  # IQAError, or the store's "no assessment"
            iqa.record_second_mark(store, args.pop("assessment_id"), args.pop("method"), args.pop("marker"), **args)

    refused("the second marker must be someone else", marker="  ann   ASSESSOR ")
    refused("the second marker's name is empty", marker="  ")
    refused(r"has no section 'reprot' \(sections: define, apply, report\)", marks={**SHEET, "reprot": 3})
    refused(r"section define: mark 12 is outside 0-10", marks={**SHEET, "define": 12})
    refused(r"section report: mark -1 is outside 0-30", marks={**SHEET, "report": -1})
    refused("no mark for apply, report: a second mark gives every section", marks={"define": 8})
    refused("marked per section, not by levels", marks=None, levels={"define": "pass"})
    refused("the grade is not given, it is what the rules give", grade="PASS")
    refused(r"assessment \d+ has no method 'presentation' \(it has: mark-sheet\)", method="presentation")
    refused("no assessment 99999 in the store", assessment_id=99999)

    # not ended yet: second marking follows the assessor's
    open_id = S.start_assessment(
        store, S.StartRequest(standard="IQA01", apprentice="ILM-3", assessor="Ann Assessor", methods=("mark-sheet",))
    )
    refused("has not ended", assessment_id=open_id)
    # an ended method of an open assessment can be second-marked (the assessor's grade: the rules', unconfirmed)
    (m,) = S.load(store, open_id).methods
    for section, mark in SHEET.items():
        S.set_mark(store, m.id, section, mark=mark)
    S.end_method(store, m.id, reason="marked")
    assert iqa.record_second_mark(store, open_id, "mark-sheet", "Quinn QA", marks=SHEET).verdict == "AGREE"
    # reopened afterwards: the stored second mark waits for the assessor's grade again
    S.reopen_method(store, m.id)
    assert iqa.load(store, open_id).methods[0].verdict == "PENDING"

    # void
    void_id = S.start_assessment(
        store, S.StartRequest(standard="IQA01", apprentice="ILM-4", assessor="Ann Assessor", methods=("mark-sheet",))
    )
    S.void_assessment(store, void_id, "Ann Assessor", "started for the wrong apprentice")
    refused("was voided", assessment_id=void_id)
    # levels for a descriptor method: every criterion, known levels, no marks
    e = epa(store, "EPA-2", "Ann Assessor", presentation="pass", discussion="pass")
    refused("graded by descriptors, not marks", assessment_id=e, method="presentation", marks={"P1": 5})
    refused("no level for P2", assessment_id=e, method="presentation", marks=None, levels={"P1": "pass"})
    refused("criterion P1: level 'merit'", assessment_id=e, method="presentation", marks=None,
            levels={"P1": "merit", "P2": "pass"})  # fmt: skip
    # nothing refused was stored
    assert [m.method for m in iqa.load(store, aid).methods] == []


def test_a_carried_over_method_is_not_second_marked(store):
    first = epa(store, "EPA-3", "Ann Assessor", presentation="pass", discussion="not met")
    resit = epa(store, "EPA-3", "Bob Assessor", presentation="unused", discussion="pass", attempt="resit")
    carried = S.load(store, resit).method("presentation")
    assert carried.status == "carried"
    with pytest.raises(iqa.IQAError, match="carried over from an earlier attempt"):
        iqa.record_second_mark(store, resit, "presentation", "Quinn QA", levels={"P1": "pass", "P2": "pass"})
    # the resit's own method is, and the overall uses the carried grade with the resit cap
    iqa.record_second_mark(store, resit, "discussion", "Quinn QA", levels={"D1": "distinction"})
    (o,) = iqa.load(store, resit).overall
    assert (o.assessor_grade, o.second_grade, o.verdict) == ("Pass", "Pass", "AGREE")  # Pass + Distinction -> Pass
    # and the first attempt's presentation can be second-marked where it was graded
    assert iqa.record_second_mark(store, first, "presentation", "Quinn QA", levels={"P1": "pass", "P2": "pass"}).agree


# --------------------------------------------------------------------------- the record


def test_record_shows_the_second_marks_beside_the_assessors(store, tmp_path):
    aid = sheet(store, "ILM-5", "Ann Assessor")
    v = S.load(store, aid)
    plain = render(v, "md", iqa=iqa.for_view(store, v))
    assert "Second marking" not in plain and "Internal quality assurance" not in plain  # nothing to show yet
    iqa.record_second_mark(
        store, aid, "mark-sheet", "Quinn <b>QA</b>", marks={"define": 8, "apply": 38, "report": 12}, note="see | notes"
    )
    v = S.load(store, aid)
    md = render(v, "md", iqa=iqa.for_view(store, v))
    assert "| Section | Assessor's mark | QA mark | Difference |" in md
    assert "| Prepare a brief report (report) | 16 / 30 | 12 / 30 | -4 |" in md
    assert "| Define a service improvement project (define) | 8 / 10 | 8 / 10 | 0 |" in md
    assert "| Total | 60 / 100 | 58 / 100 | -2 |" in md
    assert "| Outcome | PASS | REFERRAL | **DISAGREE** |" in md
    assert "Second marker: Quinn \\<b\\>QA\\</b\\>" in md and "see \\| notes" in md
    assert "- Award outcome: assessor PASS, second marker REFERRAL (**DISAGREE**)" in md
    html = render(v, "html", iqa=iqa.for_view(store, v))
    assert 'id="iqa-mark-sheet"' in html and 'id="iqa"' in html and "Quinn &lt;b&gt;QA&lt;/b&gt;" in html
    assert "<td>16 / 30</td><td>12 / 30</td>" in html and "DISAGREE" in html
    # the written record and `qbank record` load the second marks themselves
    path = write_record(store, aid, "md", tmp_path / "r.md")
    assert "| Outcome | PASS | REFERRAL | **DISAGREE** |" in path.read_text(encoding="utf-8")


def test_record_shows_descriptor_levels_side_by_side(store):
    aid = epa(store, "EPA-4", "Ann Assessor", presentation="distinction", discussion="pass")
    iqa.record_second_mark(store, aid, "presentation", "Quinn QA", levels={"P1": "distinction", "P2": "pass"})
    v = S.load(store, aid)
    md = render(v, "md", iqa=iqa.for_view(store, v))
    assert "| P2 | distinction | pass | **differs** |" in md
    assert "| Grade | Distinction | Pass | **DISAGREE** |" in md
    assert "waiting for a second mark in discussion" in md
    assert "not second-marked: discussion" in md


async def test_the_apps_record_view_shows_the_second_marks(tmp_path, monkeypatch):
    """The app's record view (Completed assessments, Enter) renders the record with its second marks."""
    from tests_support import settle

    from qbank.store import make_engine
    from qbank.tui.app import QBankApp
    from qbank.tui.screens import CompletedScreen, RecordScreen

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    engine = import_fixture(make_engine(f"sqlite:///{tmp_path / 'tui.db'}"), tmp_path / "banks")
    aid = sheet(engine, "TUI-1", "Pat")
    iqa.record_second_mark(engine, aid, "mark-sheet", "Quinn QA", marks={"define": 8, "apply": 38, "report": 12})
    async with QBankApp(engine, assessor="Pat", timer=False).run_test(size=(110, 36)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(pilot.app.screen, CompletedScreen)
        await pilot.press("enter")
        await settle(pilot)
        rec = pilot.app.screen
        assert isinstance(rec, RecordScreen)
        assert "| Outcome | PASS | REFERRAL | **DISAGREE** |" in rec.markdown
        headings = [str(getattr(b, "_content", "")) for b in rec.query("MarkdownBlock")]
        assert any("Second marking (internal quality assurance)" in h for h in headings)
    engine.dispose()


# --------------------------------------------------------------------------- the assessors review


def iqa_table(report):
    return next(t for t in report.tables if t.title == "Second marking (IQA)")


def test_assessors_review_reports_agreement_per_assessor(store, monkeypatch):
    a1 = sheet(store, "R-1", "Ann Assessor")
    a2 = sheet(store, "R-2", "Ann Assessor")
    sheet(store, "R-3", "Ann Assessor")  # never second-marked: not counted
    b1 = sheet(store, "R-4", "Bob Assessor", {"define": 5, "apply": 30, "report": 15})
    e1 = epa(store, "R-5", "Bob Assessor", presentation="pass", discussion="pass")
    # Ann: one agreement (total 60 vs 64), one disagreement (60 vs 50, report under its minimum)
    iqa.record_second_mark(store, a1, "mark-sheet", "Quinn QA", marks={"define": 8, "apply": 40, "report": 16})
    iqa.record_second_mark(store, a2, "mark-sheet", "Quinn QA", marks={"define": 8, "apply": 30, "report": 12})
    # Bob: a disagreement corrected to an agreement (the newest counts), and a descriptor method agreed
    iqa.record_second_mark(store, b1, "mark-sheet", "Quinn QA", marks={"define": 4, "apply": 30, "report": 15})
    iqa.record_second_mark(store, b1, "mark-sheet", "Quinn QA", marks={"define": 5, "apply": 31, "report": 15})
    iqa.record_second_mark(store, e1, "presentation", "Quinn QA", levels={"P1": "pass", "P2": "pass"})
    r = review(store, "assessors", Filters(standard="IQA01"))
    rows = {row[1]: row for row in iqa_table(r).rows}
    assert rows["Ann Assessor"] == ["IQA01", "Ann Assessor", 2, 1, "50.0%", "7.0", "too few to judge"]
    assert rows["Bob Assessor"] == ["IQA01", "Bob Assessor", 2, 2, "100.0%", "1.0", "too few to judge"]
    assert not any("second markers" in f for f in r.flags)

    monkeypatch.setattr("qbank.reviews.IQA_MIN", 2)
    r = review(store, "assessors", Filters(standard="IQA01"))
    rows = {row[1]: row[-1] for row in iqa_table(r).rows}
    assert rows == {"Ann Assessor": "LOW AGREEMENT", "Bob Assessor": ""}
    assert [f for f in r.flags if "second markers" in f] == [
        "Ann Assessor (IQA01): second markers gave the assessor's grade in 1 of 2 second-marked methods (50.0%), "
        "under 80%"
    ]
    only_bob = review(store, "assessors", Filters(standard="IQA01", assessor="Bob Assessor"))
    assert [row[1] for row in iqa_table(only_bob).rows] == ["Bob Assessor"]
    assert iqa_table(review(store, "assessors", Filters(method="presentation"))).rows[0][2:4] == [1, 1]


# --------------------------------------------------------------------------- the sample


def cand(i: int, assessor: str, fail=False, distinction=False) -> iqa.Candidate:
    return iqa.Candidate(
        id=i, assessor=assessor, standard="X", apprentice=f"A{i}", completed_at=None, overall="",
        fail=fail, distinction=distinction,
    )  # fmt: skip


candidate_lists = st.lists(
    st.tuples(st.sampled_from(["Ann", "Bob", "Cy"]), st.booleans(), st.booleans()), max_size=60
).map(lambda xs: [cand(i, a, f, d) for i, (a, f, d) in enumerate(xs, start=1)])


@settings(max_examples=200, deadline=None)
@given(pool=candidate_lists, share=st.sampled_from([0.01, 0.1, 0.25, 0.5, 1.0]), seed=st.text(max_size=8))
def test_sample_takes_every_fail_and_distinction_and_the_share_of_the_rest(pool, share, seed):
    items, summary = iqa.choose_sample(pool, share, seed)
    chosen = {i.candidate.id: set(i.reasons) for i in items}
    for c in pool:
        if c.fail:
            assert "fail" in chosen[c.id]
        if c.distinction:
            assert "distinction" in chosen[c.id]
    for a in {c.assessor for c in pool}:
        rest = [c for c in pool if c.assessor == a and not (c.fail or c.distinction)]
        drawn = [c for c in rest if "random share" in chosen.get(c.id, ())]
        expected = min(len(rest), max(1, -(-len(rest) * round(share * 100) // 100))) if rest else 0
        assert len(drawn) == expected, (a, len(rest), share)
    assert all(c.id in chosen for c in pool if c.fail or c.distinction)
    assert not any("random share" in chosen[c.id] for c in pool if (c.fail or c.distinction))
    assert sum(s.sampled for s in summary) == len(items)
    assert iqa.choose_sample(pool, share, seed) == (items, summary)  # reproducible


def test_sample_share_is_rounded_up_at_least_one_and_seeded():
    assert [iqa.random_count(0.1, n) for n in (0, 1, 9, 10, 11, 30)] == [0, 1, 1, 1, 2, 3]
    pool = [cand(i, "Ann") for i in range(1, 101)]
    picks = {s: {i.candidate.id for i in iqa.choose_sample(pool, 0.1, s)[0]} for s in ("a", "b")}
    assert len(picks["a"]) == len(picks["b"]) == 10 and picks["a"] != picks["b"]
    # a later assessment joining the pool does not reshuffle the others: each is ranked on its own
    grown = {i.candidate.id for i in iqa.choose_sample([*pool, cand(101, "Ann")], 0.1, "a")[0]}
    assert len(grown - picks["a"]) <= 1
    with pytest.raises(iqa.IQAError, match="share must be more than 0 and at most 1"):
        iqa.choose_sample(pool, 1.5, "a")


def test_sample_reads_fails_and_distinctions_from_the_store(store):
    referral = sheet(store, "S-1", "Ann Assessor", {"define": 4, "apply": 50, "report": 25})  # REFERRAL
    passes = [sheet(store, f"S-{i}", "Ann Assessor") for i in range(2, 6)]  # PASS on a 2-grade scale: not top
    top = epa(store, "S-6", "Ann Assessor", presentation="distinction", discussion="distinction")
    method_top = epa(store, "S-7", "Ann Assessor", presentation="distinction", discussion="pass")  # overall Pass
    bob = [sheet(store, f"S-{i}", "Bob Assessor") for i in (8, 9)]
    smp = iqa.sample(store, share=0.1, seed="fixed")
    why = {i.candidate.id: i.reasons for i in smp.items}
    assert why[referral] == ("fail",) and why[top] == ("distinction",) and why[method_top] == ("distinction",)
    assert sum(1 for a in passes if a in why) == 1 and all(why[a] == ("random share",) for a in passes if a in why)
    assert sum(1 for a in bob if a in why) == 1
    assert {a.assessor: (a.completed, a.sampled, a.fails, a.distinctions, a.random) for a in smp.assessors} == {
        "Ann Assessor": (7, 4, 1, 2, 1),
        "Bob Assessor": (2, 1, 0, 0, 1),
    }
    assert smp.until == datetime.now(timezone.utc).date()
    assert smp.reproduce == f"qbank iqa sample --share 0.1 --until {smp.until.isoformat()} --seed fixed"
    assert iqa.sample(store, share=0.1, seed="fixed").items == smp.items  # the same draw again
    assert not any(i.candidate.second_marked for i in smp.items)
    iqa.record_second_mark(store, referral, "mark-sheet", "Quinn QA", marks={"define": 4, "apply": 50, "report": 25})
    iqa.record_second_mark(store, top, "presentation", "Quinn QA", levels={"P1": "distinction", "P2": "distinction"})
    again = {i.candidate.id: i.candidate.second_marked for i in iqa.sample(store, seed="fixed").items}
    assert again[referral] is True and again[top] is False  # the discussion of `top` is not second-marked yet
    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=1)
    assert iqa.sample(store, since=tomorrow, until=tomorrow + timedelta(days=1)).items == []
    assert {i.candidate.standard for i in iqa.sample(store, standard="IQA01").items} == {"IQA01"}
    with pytest.raises(iqa.IQAError, match="no standard NOPE in the store"):
        iqa.sample(store, standard="NOPE")
    with pytest.raises(iqa.IQAError, match="is after"):
        iqa.sample(store, since=date(2026, 2, 1), until=date(2026, 1, 1))


# --------------------------------------------------------------------------- the command line


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_mark_show_and_sample(store, db_url, monkeypatch, capsys):
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    aid = sheet(store, "C-1", "Ann Assessor")
    code, out, err = run_cli(
        capsys, "iqa", "mark", str(aid), "--method", "mark-sheet", "--marker", "Quinn QA",
        "--mark", "define=8", "--mark", "apply=38", "--mark", "report=12", "--note", "report thin",
    )  # fmt: skip
    assert code == 0, err
    assert "second-marked by Quinn QA" in out and "DISAGREE" in out and "report thin" in out
    assert "  report" in out and "-4" in out and "grade: assessor PASS, second marker REFERRAL" in out
    code, out, _ = run_cli(capsys, "iqa", "show", str(aid), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["methods"][0]["verdict"] == "DISAGREE"
    assert data["overall"][0]["second_grade"] == "REFERRAL"
    code, out, _ = run_cli(capsys, "iqa", "show", str(aid))
    assert code == 0 and "overall award: assessor PASS, second marker REFERRAL: DISAGREE" in out
    code, out, _ = run_cli(capsys, "record", str(aid), "--format", "md")
    assert code == 0 and "| Outcome | PASS | REFERRAL | **DISAGREE** |" in out
    code, out, _ = run_cli(capsys, "iqa", "sample", "--seed", "s1", "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["seed"] == "s1" and [a["reasons"] for a in data["assessments"]] == [["random share"]]
    assert data["assessments"][0]["second_marked"] is True and "--seed s1" in data["reproduce"]
    code, out, _ = run_cli(capsys, "iqa", "sample", "--seed", "s1", "--share", "0.5")
    assert code == 0 and "random share" in out and "repeat this draw: qbank iqa sample --share 0.5" in out


@pytest.mark.parametrize(
    "args,code,needle",
    [
        (["--mark", "define:8"], 2, "--mark 'define:8' is not SECTION=N (e.g. --mark define=8)"),
        (["--mark", "define=eight"], 2, "--mark define: 'eight' is not a number"),
        (["--mark", "define=8", "--mark", "define=7"], 2, "--mark gives define twice"),
        ([], 2, "give the second marker's --mark SECTION=N for every section"),
        (["--mark", "define=8", "--mark", "apply=30", "--mark", "reprot=20"], 1, "no section 'reprot'"),
        (["--mark", "define=11", "--mark", "apply=30", "--mark", "report=20"], 1, "mark 11 is outside 0-10"),
        (["--level", "define=pass"], 1, "marked per section, not by levels"),
        (["--marker", "Ann Assessor", "--mark", "define=8"], 1, "the second marker must be someone else"),
    ],
)
def test_cli_bad_input_is_one_clear_line(store, db_url, monkeypatch, capsys, args, code, needle):
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    aid = sheet(store, "C-2", "Ann Assessor")
    if "--marker" not in args:
        args = ["--marker", "Quinn QA", *args]
    got, out, err = run_cli(capsys, "iqa", "mark", str(aid), "--method", "mark-sheet", *args)
    assert got == code and needle in err and "Traceback" not in err + out
    assert len(err.strip().splitlines()) == 1, err
    assert iqa.load(store, aid).methods == ()  # nothing stored


def test_cli_unknown_assessment_and_missing_action(store, db_url, monkeypatch, capsys):
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    code, _, err = run_cli(capsys, "iqa", "show", "4242")
    assert code == 1 and "qbank iqa: no assessment 4242 in the store" in err
    code, _, err = run_cli(capsys, "iqa", "mark", "4242", "--method", "x", "--marker", "Q", "--mark", "a=1")
    assert code == 1 and "no assessment 4242 in the store" in err
    code, _, err = run_cli(capsys, "iqa", "sample", "--share", "0")
    assert code == 1 and "share must be more than 0" in err
    with pytest.raises(SystemExit) as e:
        main(["iqa"])
    assert e.value.code == 2 and "ACTION" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["iqa", "sample", "--help"])
    assert e.value.code == 0 and "every assessment with a fail" in capsys.readouterr().out


def test_differences_and_names_as_compared():
    """`signed` (how the record and the CLI show a difference) and `same_person` (the refusal)."""
    assert [iqa.signed(x) for x in (None, 0, 2, -1.5, 0.5)] == ["-", "0", "+2", "-1.5", "+0.5"]
    assert iqa.same_person(" Ann  Assessor", "ann assessor") and not iqa.same_person("Ann", "Anne")
    # a method without grading rules: the second marker's grade is taken as given, nothing else
    assert iqa.second_grade("interview", None, grade=" Competent ") == ("Competent", None)
    with pytest.raises(iqa.IQAError, match="no grading rules: give the second marker's grade"):
        iqa.second_grade("interview", None)
    with pytest.raises(iqa.IQAError, match="no grading rules, so no marks or levels"):
        iqa.second_grade("interview", None, marks={"x": 1})
