"""ILM as ILM assesses (issue 13, item 1): the learner's report on the improvement project, written
or oral, marked on the mark sheet; questions after an oral report are the assessor's option; the
learner's authenticity confirmation and refusal of anonymous use are recorded.

The store-level tests run on a release of the ILM bank as it is in the files now (made in a
temporary copy when the newest shipped release predates them), on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import write_bank
from tests_support import BANKS, settle, wait_until

from qbank import sessions as S
from qbank.bankfiles import read_standard
from qbank.draws import draw_count, load_draw
from qbank.grading import grade_method, grade_overall
from qbank.importer import import_bank
from qbank.iqa import for_view, record_second_mark
from qbank.problems import Problem
from qbank.record import render
from qbank.releases import bump_minor, make_release
from qbank.validation import load_bank

ILM = "ILM-SI3"
METHOD = "project-report"
SEED = next((Path(__file__).resolve().parent / "sources").glob("001_*.txt"), None)  # copy of ../shared/seeds
GOOD = {"define": 8, "apply": 40, "report": 20}  # 68: PASS


# --------------------------------------------------------------------------- the bank as in the files


def release_current(root: Path) -> object:
    """A bank tree under `root` holding the ILM bank as in the files, released (a new release when
    the newest one differs from the files), and a small standard with no report formats."""
    shutil.copytree(BANKS / ILM, root / ILM)
    write_bank(root)  # TST01
    bank = load_bank(root, health=False)
    assert not bank.errors, [p.render() for p in bank.errors]
    rel = bank.latest_release(ILM)
    std = bank.standards[ILM]
    approved = {(q.id, q.content_hash) for q in bank.questions_of(ILM) if q.status == "approved"}
    if rel is None or rel.definition != std.definition() or {(i.question.id, i.hash) for i in rel.items} != approved:
        make_release(bank, ILM, bump_minor(rel.semver) if rel else "1.0.0")
    make_release(bank, "TST01", "1.0.0")
    return load_bank(root, health=False)


@pytest.fixture(scope="session")
def ilm_bank(tmp_path_factory):
    return release_current(tmp_path_factory.mktemp("banks"))


@pytest.fixture
def store(engine, ilm_bank):
    import_bank(engine, ilm_bank)
    return engine


def start(engine, apprentice: str, report_format: str | None, **kw) -> int:
    return S.start_assessment(
        engine,
        S.StartRequest(standard=ILM, apprentice=apprentice, assessor="Ann Assessor", report_format=report_format, **kw),
    )


def method(engine, aid: int) -> S.MethodView:
    (m,) = S.load(engine, aid).methods
    return m


def mark(engine, am_id: int, marks: dict[str, float]) -> None:
    for section, value in marks.items():
        S.set_mark(
            engine, am_id, section, mark=value, strengths=f"{section}: clear", improvements=f"{section}: more data"
        )


# --------------------------------------------------------------------------- the written route


def test_written_report_end_to_end_pass(store):
    aid = start(store, "ILM-W1", "written")
    m = method(store, aid)
    assert m.method.id == METHOD and m.report_format == "written"
    assert m.draw_id is None and m.questions == [] and draw_count(store) == 0  # nothing drawn or burned
    with pytest.raises(S.SessionError, match="written report is marked as it stands"):
        S.draw_questions(store, m.id)
    with pytest.raises(S.SessionError, match="not in this method's set"):
        S.ask(store, m.id, "ILM-OR-001")
    mark(store, m.id, GOOD)
    m = method(store, aid)
    assert m.status == "running" and m.started_at is not None  # marking a written report starts the method
    assert m.uncovered == []  # each section marked at or above its minimum evidences the criteria it lists
    assert S.end_warnings(m, elapsed_seconds=0) == []  # no questions and no time used: not "ending short"
    assert S.end_method(store, m.id).grade == "PASS"  # no reason asked for
    with pytest.raises(S.SessionError, match="their own work is not recorded"):
        S.confirm_grade(store, m.id)
    S.record_declarations(store, aid, "Ann Assessor", authenticity=True)
    assert S.confirm_grade(store, m.id) == "PASS"
    assert [(o.id, o.grade) for o in S.complete(store, aid)] == [("award", "PASS")]
    assert draw_count(store) == 0
    v = S.load(store, aid)
    md = render(v, "md")
    for text in (
        "- Report: written",
        "Written report: marked as it stands, without questioning.",
        "- Time: no questioning",
        "### Mark sheet",
        "| 8 / 10 (min 5) |",
        "define: more data",
        "Assessor's decision: total 68 / 100 · **PASS**",
        "Authenticity of submission: confirmed by the learner (recorded by Ann Assessor",
        "not refused (the box was not ticked)",
    ):
        assert text in md, text
    assert "No questions were recorded as asked" not in md and "NOT EVIDENCED" not in md
    html = render(v, "html")
    assert 'id="mark-sheet-project-report"' in html and 'id="report-format-project-report">written<' in html
    # the mark sheet lists each section's criteria in the unit's words
    assert "M3.55/1.3 Identify appropriate controls to monitor the effectiveness of the solution" in html


def test_written_report_with_a_section_below_its_minimum_is_referred(store):
    aid = start(store, "ILM-W2", "written")
    m = method(store, aid)
    mark(store, m.id, {"define": 8, "apply": 36, "report": 12})  # 56, report under 15
    assert S.end_method(store, m.id).grade == "REFERRAL"
    S.record_declarations(store, aid, "Ann Assessor", authenticity=True)
    assert S.confirm_grade(store, m.id) == "REFERRAL"
    assert S.complete(store, aid)[0].grade == "REFERRAL"
    m = method(store, aid)
    assert m.uncovered == ["M3.55/2.1", "M3.55/2.2"]  # the section below its minimum: its criteria not met
    md = render(S.load(store, aid), "md")
    assert "12 / 30 (min 15) **below the minimum of 15**" in md
    assert "total 56 / 100 · **REFERRAL** · section referral: Prepare a brief report on the process and outcomes" in md
    # a resubmission after the referral: the format is recorded again; nothing carries, no cap
    rid = start(store, "ILM-W2", "oral", attempt="resit")
    r = method(store, rid)
    assert r.report_format == "oral" and r.draw_id is None and r.status == "pending"


def test_a_mark_missing_leaves_the_sheet_incomplete_and_unconfirmable(store):
    aid = start(store, "ILM-W3", "written")
    m = method(store, aid)
    mark(store, m.id, {"define": 10, "apply": 60})  # report unmarked: 70 would pass on the other two
    S.record_declarations(store, aid, "Ann Assessor", authenticity=True)
    S.end_method(store, m.id)
    with pytest.raises(S.SessionError, match="no mark for report"):
        S.confirm_grade(store, m.id)
    assert "total not available (a section is not marked)" in render(S.load(store, aid), "md")


# --------------------------------------------------------------------------- the oral route


def test_oral_report_without_questions(store):
    aid = start(store, "ILM-O1", "oral")
    m = method(store, aid)
    assert m.report_format == "oral" and m.draw_id is None and draw_count(store) == 0
    mark(store, m.id, GOOD)
    S.record_declarations(store, aid, "Ann Assessor", authenticity=True, anonymous_use_refused=False)
    m = method(store, aid)
    assert S.end_warnings(m, elapsed_seconds=0) == []
    S.end_method(store, m.id)
    assert S.confirm_grade(store, m.id) == "PASS"
    S.complete(store, aid)
    assert draw_count(store) == 0
    md = render(S.load(store, aid), "md")
    assert "- Report: oral" in md and "Oral report: no questions were asked" in md


def test_oral_report_with_questions_drawn_when_the_assessor_asks(store):
    aid = start(store, "ILM-O2", "oral")
    m = method(store, aid)
    draw_id = S.draw_questions(store, m.id)
    m = method(store, aid)
    assert m.draw_id == draw_id and draw_count(store) == 1
    codes = [q.code for q in m.questions]
    assert len(codes) >= m.method.least_questions
    covered = {o for q in m.questions for o in q.outcomes}
    assert covered == set(m.method.assesses)  # the normal draw: every criterion covered
    assert not {"ILM-OR-016", "ILM-OR-019"} <= set(codes)  # declared near-duplicates never meet
    with pytest.raises(S.SessionError, match="drawn set already"):
        S.draw_questions(store, m.id)
    a1 = S.ask(store, m.id, codes[0])
    S.set_notes(store, a1, "explained the pilot week and the run chart")
    S.log_evidence(store, m.id, "evidenced", outcomes=m.questions[0].outcomes[:1], ask_id=a1)
    mark(store, m.id, GOOD)
    m = method(store, aid)
    assert S.end_warnings(m, elapsed_seconds=30) == []  # one question of several, half a minute: optional
    S.end_method(store, m.id)
    S.record_declarations(store, aid, "Ann Assessor", authenticity=True)
    assert S.confirm_grade(store, m.id) == "PASS"
    v = S.load(store, aid)
    assert load_draw(store, draw_id).questions[0].id == codes[0]
    md = render(v, "md")
    assert "explained the pilot week" in md and "Drawn but never asked" in md
    assert "### Evidence logged per section" in md  # evidence logged: shown beside the mark sheet


def test_a_start_with_questions_drawn_after_the_report_can_still_be_voided(store):
    aid = start(store, "ILM-O3", "oral")
    m = method(store, aid)
    draw_id = S.draw_questions(store, m.id)
    S.void_assessment(store, aid, "Ann Assessor", "wrong learner")
    assert load_draw(store, draw_id, active_only=False).voided  # its questions are back in the pool
    aid = start(store, "ILM-O3", "oral")
    assert S.draw_questions(store, method(store, aid).id) != draw_id


# --------------------------------------------------------------------------- the start records the format


def test_the_start_needs_the_report_format(store):
    with pytest.raises(S.SessionError, match="say how the learner presented the report: written or oral"):
        start(store, "ILM-F1", None)
    with pytest.raises(S.SessionError, match="one of written, oral, not 'video'"):
        start(store, "ILM-F1", "video")
    aid = start(store, "ILM-F1", " Oral ")
    assert method(store, aid).report_format == "oral"
    with pytest.raises(S.SessionError, match="has no method whose report may be written or oral"):
        S.start_assessment(
            store, S.StartRequest(standard="TST01", apprentice="T-1", assessor="Ann", report_format="written")
        )
    aid = S.start_assessment(
        store, S.StartRequest(standard="TST01", apprentice="T-1", assessor="Ann", methods=("professional-discussion",))
    )
    v = S.load(store, aid)
    assert all(m.report_format is None and m.draw_id is not None for m in v.methods)  # drawn as ever
    assert "Learner's declarations" not in render(v, "md")  # not a report method: no declarations section


# --------------------------------------------------------------------------- declarations


def test_declarations_are_recorded_with_who_and_when_and_kept(store):
    aid = start(store, "ILM-D1", "written")
    m = method(store, aid)
    assert S.load(store, aid).declarations == S.Declarations()  # nothing recorded: not refused by default
    with pytest.raises(S.SessionError, match="who records them"):
        S.record_declarations(store, aid, "  ", authenticity=True)
    with pytest.raises(S.SessionError, match="nothing to record"):
        S.record_declarations(store, aid, "Ann Assessor")
    md = render(S.load(store, aid), "md")
    assert "Authenticity of submission: **NOT RECORDED**" in md
    d = S.record_declarations(store, aid, "Ann Assessor", authenticity=False, anonymous_use_refused=True)
    assert not d.authenticity_confirmed and d.use_refused and d.anonymous_use_refused.by == "Ann Assessor"
    mark(store, m.id, GOOD)
    S.end_method(store, m.id)
    with pytest.raises(S.SessionError, match="own work is not recorded"):  # recorded as not confirmed
        S.confirm_grade(store, m.id)
    first_at = S.load(store, aid).declarations.anonymous_use_refused.at
    S.record_declarations(store, aid, "Bo Assessor", authenticity=True, anonymous_use_refused=True)
    d = S.load(store, aid).declarations
    assert d.authenticity_confirmed and d.authenticity.by == "Bo Assessor"
    assert d.anonymous_use_refused.by == "Ann Assessor" and d.anonymous_use_refused.at == first_at  # unchanged
    assert [(k, e.value, e.by) for k, e in d.history] == [("authenticity", False, "Ann Assessor")]
    S.confirm_grade(store, m.id)
    S.complete(store, aid)
    v = S.load(store, aid)
    md, html = render(v, "md"), render(v, "html")
    assert "Anonymous use of the script for assessment standardisation: REFUSED by the learner" in md
    assert "Earlier entry: authenticity confirmed: no (recorded by Ann Assessor" in md
    assert 'id="declarations"' in html and "REFUSED by the learner" in html
    with pytest.raises(S.SessionError, match="complete"):
        S.record_declarations(store, aid, "Ann Assessor", anonymous_use_refused=False)


# --------------------------------------------------------------------------- IQA on the report


def test_the_qa_marks_sit_beside_the_assessors_on_the_record(store):
    aid = start(store, "ILM-Q1", "written")
    m = method(store, aid)
    mark(store, m.id, GOOD)
    S.end_method(store, m.id)
    S.record_declarations(store, aid, "Ann Assessor", authenticity=True)
    S.confirm_grade(store, m.id)
    S.complete(store, aid)
    agreement = record_second_mark(
        store, aid, METHOD, "Ivy Quality", marks={"define": 6, "apply": 28, "report": 20}
    )  # apply below its minimum: the QA's own outcome is REFERRAL
    assert agreement.second.grade == "REFERRAL" and agreement.verdict == "DISAGREE"
    assert agreement.assessor_total == 68 and agreement.second_total == 54
    v = S.load(store, aid)
    md = render(v, "md", iqa=for_view(store, v))
    assert "### Mark sheet" in md and "| Section | Assessor's mark | QA mark | Difference |" in md


# --------------------------------------------------------------------------- the bank


def test_the_ilm_bank_files_validate_and_model_the_report():
    bank = load_bank(BANKS)
    ilm_problems = [p.render() for p in bank.problems if "ILM-SI3" in str(p.file) and p.is_error]
    assert ilm_problems == []
    std = bank.standards[ILM]
    (m,) = std.methods.values()
    assert (m.id, m.kind, m.report_formats, m.min_questions) == (METHOD, "project report", ("written", "oral"), 0)
    assert m.questions_optional and m.least_questions == 1
    qs = {q.id: q for q in bank.questions_of(ILM)}
    assert all(q.methods == (METHOD,) or list(q.methods) == [METHOD] for q in qs.values())
    assert all(len(q.outcomes) <= 3 or q.tags_justification for q in qs.values())
    assert "ILM-OR-019" in qs["ILM-OR-016"].excludes
    assert "Did you try" not in qs["ILM-OR-015"].text  # the leading opening is gone
    for f in (BANKS / ILM / "questions").glob("*.toml"):
        assert "qbank assessment team" not in f.read_text(encoding="utf-8"), f
    text = (BANKS / ILM / "standard.toml").read_text(encoding="utf-8")
    assert "EPAO" not in text and "not recorded in qbank" not in text


def _plain(text: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", text).replace("\u2013", "-").split())


@pytest.mark.skipif(SEED is None, reason="the seed documents are not beside the project")
def test_the_section_to_criteria_mapping_and_the_quotes_are_the_mark_sheets():
    """Each section of the grading rules lists the criteria its row of the mark sheet lists (each
    criterion found by the closing words of its statement, in its own row and no other), with the
    sheet's maximum and minimum; and every quotation in the notes is the specification's words."""
    seed = SEED.read_text(encoding="utf-8")
    sheet = seed[seed.index("MARK SHEET: UNITS M3.54 AND M3.55") :]
    problems: list[Problem] = []
    std = read_standard(BANKS / ILM / "standard.toml", problems)
    assert std is not None and not [p for p in problems if p.is_error]
    scheme = std.grading_rules.methods[METHOD]
    rows = {}
    for c in scheme.criteria:
        row = next(line for line in sheet.splitlines() if line.startswith(c.title))
        rows[c.id] = _plain(row)
        assert f"/ {c.max:g} marks (min {c.min:g})" in rows[c.id]
    for c in scheme.criteria:
        for o in c.outcomes:
            tail = " ".join(std.outcomes[o].statement.rstrip(".").split()[-4:])
            where = [cid for cid, row in rows.items() if tail in row]
            assert where == [c.id], (o, tail, where)
    assert sorted(o for c in scheme.criteria for o in c.outcomes) == sorted(std.methods[METHOD].assesses)
    plain_seed = _plain(seed)
    notes = std.notes + "\n" + (std.grading.get("notes") or "")
    quotes = [q for q in re.findall(r'"([^"]{12,})"', notes.replace("\n", " ")) if " " in q]  # not ids
    assert len(quotes) >= 4
    for quote in quotes:
        for piece in _plain(quote).split(" ... "):
            assert piece.rstrip(".") in plain_seed, piece


# --------------------------------------------------------------------------- grading: the written route


def test_grading_the_written_route_on_the_sheet():
    problems: list[Problem] = []
    std = read_standard(BANKS / ILM / "standard.toml", problems)
    assert std is not None
    rules = std.grading_rules
    scheme = rules.methods[METHOD]
    assert [c.id for c in scheme.criteria] == ["define", "apply", "report"]
    (overall,) = rules.overalls
    assert overall.methods == (METHOD,) or list(overall.methods) == [METHOD]
    cases = [
        (GOOD, "PASS"),
        ({"define": 5, "apply": 30, "report": 15}, "PASS"),  # every minimum exactly: 50
        ({"define": 4, "apply": 60, "report": 30}, "REFERRAL"),  # 94, define below 5: no compensation
        ({"define": 10, "apply": 29, "report": 30}, "REFERRAL"),
        ({"define": 8, "apply": 36, "report": 12}, "REFERRAL"),
    ]
    for marks, grade in cases:
        r = grade_method(scheme, marks=marks)
        assert r.grade == grade and r.complete, marks
        assert grade_overall(overall, {METHOD: r.grade}).grade == grade
    r = grade_method(scheme, marks={"define": 10, "apply": 60})
    assert not r.complete  # the report section unmarked: incomplete, never confirmed


# --------------------------------------------------------------------------- the app


@pytest.fixture
def app_engine(tmp_path, monkeypatch, ilm_bank):
    from qbank.store import make_engine

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    engine = make_engine(f"sqlite:///{tmp_path / 'tui.db'}")
    import_bank(engine, ilm_bank)
    return engine


async def test_the_written_route_by_keys(app_engine):
    from qbank.tui.app import QBankApp
    from qbank.tui.dialogs import DeclarationsDialog, EndMethodDialog, FeedbackDialog
    from qbank.tui.method import MethodScreen
    from qbank.tui.screens import OverallScreen, PreviewScreen, StartScreen

    app = QBankApp(app_engine, assessor="Pat Assessor", timer=False)

    def said(text: str) -> bool:
        return any(text in n.message for n in app._notifications)

    async with app.run_test(size=(100, 32), notifications=True) as pilot:
        await pilot.press("n")
        await settle(pilot)
        s = app.screen
        assert isinstance(s, StartScreen)
        s.query_one("#standard").value = "TST01"
        await settle(pilot)
        assert not s.query_one("#report-format").display  # no report formats: no choice shown
        s.query_one("#standard").value = ILM
        await settle(pilot)
        assert s.query_one("#report-format").display
        s.query_one("#apprentice").value = "ILM-KEYS-1"
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert isinstance(app.screen, StartScreen) and said("Choose how the learner presented the report")
        s.query_one("#report-format").value = "written"
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert isinstance(app.screen, PreviewScreen)
        assert "written report: marked on the mark sheet, no questioning" in str(
            app.screen.query_one("#preview").render()
        )
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MethodScreen)
        assert "Written report" in str(screen.query_one("#question-text").render())
        assert "no questioning" in str(screen.query_one("#timer").render())
        # keys with nothing to act on: a message, never a crash
        for key, text in (("f2", "written report is marked as it stands"), ("ctrl+d", "written report")):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen and said(text), key
        # F8 before any mark: said, not ended
        await pilot.press("f8")
        await settle(pilot)
        assert app.screen is screen and said("Record every mark first (F6)")
        # the mark sheet, section by section
        for section, value in GOOD.items():
            await pilot.press("f6")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, FeedbackDialog)
            dialog.query_one("#criterion").value = section
            await settle(pilot)
            dialog.query_one("#mark").value = str(value)
            dialog.query_one("#strengths").value = f"{section} strong"
            dialog.query_one("#ok").press()
            await settle(pilot)
            assert app.screen is screen
        await wait_until(pilot, lambda: len(S.load(app_engine, screen.assessment_id).methods[0].marks) == 3)
        # F8 before the authenticity confirmation: said, not ended
        await pilot.press("f8")
        await settle(pilot)
        assert app.screen is screen and said("authenticity confirmation first (F10)")
        await pilot.press("f10")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, DeclarationsDialog)
        await pilot.press("space")  # the focused box: authenticity
        assert dialog.query_one("#authenticity").value and not dialog.query_one("#refused").value
        dialog.query_one("#ok").press()
        await settle(pilot)
        assert app.screen is screen and said("authenticity confirmed; anonymous use not refused")
        await pilot.press("f8")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, EndMethodDialog)
        assert not dialog.query("#short")  # nothing to justify: questioning was not part of it
        dialog.query_one("#ok").press()
        await settle(pilot)
        assert isinstance(app.screen, OverallScreen)
        assert "PASS" in app.screen.text
    v = S.load(app_engine, screen.assessment_id)
    (m,) = v.methods
    assert m.report_format == "written" and m.draw_id is None and m.confirmed_grade == "PASS"
    assert v.declarations.authenticity_confirmed and v.declarations.authenticity.by == "Pat Assessor"
    assert not v.declarations.use_refused
    assert {k: mv.mark for k, mv in m.marks.items()} == GOOD and m.marks["apply"].strengths == "apply strong"
    assert draw_count(app_engine) == 0


async def test_questions_after_an_oral_report_are_drawn_on_request_by_keys(app_engine):
    from qbank.tui.app import QBankApp
    from qbank.tui.dialogs import ConfirmDialog
    from qbank.tui.method import MethodScreen

    aid = start(app_engine, "ILM-KEYS-2", "oral")
    app = QBankApp(app_engine, assessor="Pat Assessor", timer=False, resume=aid)
    async with app.run_test(size=(100, 32), notifications=True) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MethodScreen) and screen.query_one("#suggestions").option_count == 0
        assert "questions after it are your option" in str(screen.query_one("#question-text").render())
        await pilot.press("f2")  # nothing drawn yet: said, no crash
        await settle(pilot)
        assert any("No questions drawn: Ctrl+D" in n.message for n in app._notifications)
        screen.query_one("#suggestions").focus()
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await pilot.press("escape")  # not wanted after all: nothing drawn
        await settle(pilot)
        assert app.screen is screen and draw_count(app_engine) == 0
        await pilot.press("ctrl+d")
        await settle(pilot)
        app.screen.query_one("#ok").press()
        await settle(pilot)
        assert app.screen is screen and draw_count(app_engine) == 1
        assert screen.query_one("#suggestions").option_count == len(method(app_engine, aid).questions) > 0
        await pilot.press("ctrl+d")  # drawn already: said
        await settle(pilot)
        assert any("drawn already" in n.message for n in app._notifications) and draw_count(app_engine) == 1
        await pilot.press("f2")  # asks the top suggestion
        await settle(pilot)
        assert screen.current_ask is not None
    assert [q.status for q in method(app_engine, aid).questions].count("asked") == 1
