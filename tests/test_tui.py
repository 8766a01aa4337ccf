"""The live app driven by keys with Textual's Pilot: a whole CMI professional discussion, resume
after leaving, and bad moments (keys with nothing to act on)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests_support import settle, shipped_bank, wait_until

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.store import make_engine
from qbank.tui.app import QBankApp, palette_commands
from qbank.tui.method import MethodScreen
from qbank.tui.screens import HomeScreen, OverallScreen, PreviewScreen, StartScreen


@pytest.fixture
def tui_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    engine = make_engine(f"sqlite:///{tmp_path / 'tui.db'}")
    import_bank(engine, shipped_bank())
    return engine


def panel_text(screen) -> str:
    return "\n".join(str(o.prompt) for o in screen.query_one("#outcomes").options)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text])


async def start_cmi_pd(pilot, app, apprentice="PD-APP-1"):
    """From home, by keys: new assessment on ST0556, professional discussion only."""
    await pilot.press("n")
    await settle(pilot)
    assert isinstance(app.screen, StartScreen)
    await pilot.press("shift+tab", "shift+tab")  # apprentice -> methods -> standard
    assert app.focused.id == "standard"
    await pilot.press("enter")
    await settle(pilot)
    # options in code order: ILM-SI3, ST0480, ST0556, UOB-HCSL
    await pilot.press("down", "down", "enter")
    await settle(pilot)
    assert app.screen.query_one("#standard").value == "ST0556"
    await pilot.press("tab")  # methods: presentation questioning highlighted; space unticks it
    assert app.focused.id == "methods"
    await pilot.press("space")
    assert list(app.screen.query_one("#methods").selected) == ["professional-discussion"]
    await pilot.press("tab")
    await type_text(pilot, apprentice)
    await pilot.press("ctrl+d")
    await settle(pilot)
    assert isinstance(app.screen, PreviewScreen), app.screen
    await pilot.press("enter")
    await settle(pilot)
    assert isinstance(app.screen, MethodScreen)
    return app.screen


@pytest.mark.slow
async def test_whole_cmi_professional_discussion_by_keys(tui_engine, tmp_path):
    app = QBankApp(tui_engine, assessor="Pat Assessor", timer=False)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await start_cmi_pd(pilot, app)
        m = screen.m
        assert m.method.id == "professional-discussion" and m.budget_minutes == 120
        assert m.uncovered == list(m.method.assesses)
        screen.query_one("#outcomes")  # the outcomes panel is there
        assert "UNCOVERED" in panel_text(screen)

        # ask the top suggestion, type notes; they are saved within a second
        first = screen.query_one("#suggestions").highlighted_option.id
        await pilot.press("enter")
        await settle(pilot)
        assert screen.current_ask is not None and app.focused.id == "notes"
        await type_text(pilot, "Led Hoshin Kanri at two sites")
        await wait_until(
            pilot,
            lambda: screen.dirty_since is None and screen.saved_notes == screen.query_one("#notes").text,
            what="the notes to be saved (half a second after typing stops)",
        )
        view = S.load(tui_engine, screen.assessment_id)
        asked = next(q for q in view.methods[0].questions if q.code == first)
        assert asked.notes == "Led Hoshin Kanri at two sites"

        # log evidence: the dialog proposes a criterion holding the question's outcomes
        target = next(q for q in screen.m.questions if q.code == first).outcomes[0]
        await pilot.press("f3")
        await settle(pilot)
        await type_text(pilot, "clear deployment story")
        await pilot.press("enter")
        await settle(pilot)
        assert target not in screen.m.uncovered
        assert f"✓ {target}" in panel_text(screen)

        # swap the highlighted question not yet asked, with a reason
        before = screen.query_one("#suggestions").highlighted_option.id
        await pilot.press("f5")
        await settle(pilot)
        await type_text(pilot, "covered in the portfolio review")
        await pilot.press("enter")
        await settle(pilot)
        swaps = S.load(tui_engine, screen.assessment_id).methods[0].swaps
        if swaps:  # a swap can be impossible when an outcome has no other question; then it says why
            assert swaps[0].out_code == before and swaps[0].reason == "covered in the portfolio review"

        # ad-hoc question, tagged by the assessor with the first uncovered outcome (listed first)
        uncovered_before = list(screen.m.uncovered)
        await pilot.press("f4")
        await settle(pilot)
        await type_text(pilot, "What did your regression model change?")
        await pilot.press("enter")  # no outcome ticked yet: refused, the list gets the focus
        await settle(pilot)
        assert type(app.screen).__name__ == "AdhocDialog"
        await pilot.press("1", "enter")
        await settle(pilot)
        adhoc = [q for q in screen.m.questions if q.adhoc]
        assert len(adhoc) == 1 and adhoc[0].outcomes == uncovered_before[:1]
        assert screen.current_ask == adhoc[0].ask_id
        # evidence for outcomes the question did not target: Ctrl+O lists them all; untick the
        # question's target, tick K7-K9; the criterion (PD3) follows from the outcomes
        await pilot.press("f3")
        await settle(pilot)
        dialog = app.screen
        await pilot.press("ctrl+o", "1")
        tl = dialog.query_one("#outcomes")
        for code in ("K7", "K8", "K9"):
            idx = [t.value for t in tl.items].index(code)
            tl.highlighted = idx
            await pilot.press("space")
        assert tl.selected == ["K7", "K8", "K9"]
        assert dialog.plan()[0].criterion == "PD3"
        await type_text(pilot, "interpreted logistic regression")
        await pilot.press("enter")
        await settle(pilot)
        assert not {"K7", "K8", "K9"} & set(screen.m.uncovered)
        assert [e.outcomes for e in screen.m.evidence][-1] == ["K7", "K8", "K9"]

        # end: uncovered outcomes flagged before closing; the grade comes from the rules
        await pilot.press("f8")
        await settle(pilot)
        end = app.screen
        assert "UNCOVERED" in str(end.query_one("#uncovered").render())
        assert app.focused.id == "end-reason"  # few questions asked: the reason comes first
        await type_text(pilot, "time agreed with the apprentice")
        end.query_one("#ok").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, OverallScreen)
        v = S.load(tui_engine, screen.assessment_id)
        pd = v.methods[0]
        assert pd.status == "ended" and pd.grade == "Fail" and pd.confirmed_grade == "Fail"
        assert pd.uncovered
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("shift+tab", "enter")  # confirm: "No" has the focus
        await settle(pilot)
        assert S.load(tui_engine, screen.assessment_id).status == "complete"
        await pilot.press("h")
        await settle(pilot)
        record = tmp_path / "records" / f"assessment-{screen.assessment_id}.html"  # beside the store
        html = record.read_text(encoding="utf-8")
        assert "Outcomes never evidenced" in html and "What did your regression model change?" in html
        assert "Led Hoshin Kanri at two sites" in html


@pytest.mark.slow
async def test_resume_returns_to_the_same_method_question_and_notes(tui_engine):
    app = QBankApp(tui_engine, assessor="Pat Assessor", timer=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await start_cmi_pd(pilot, app, "RESUME-1")
        await pilot.press("enter")
        await settle(pilot)
        await type_text(pilot, "half a thought")
        ask_id, aid = screen.current_ask, screen.assessment_id
        await pilot.press("escape")  # leaving the notes saves them at once
        await settle(pilot)
    again = QBankApp(tui_engine, assessor="Pat Assessor", timer=False)
    async with again.run_test(size=(100, 30)) as pilot:
        assert isinstance(again.screen, HomeScreen)
        await pilot.press("r")
        await settle(pilot)
        s = again.screen
        assert isinstance(s, MethodScreen)
        assert (s.assessment_id, s.current_ask) == (aid, ask_id)
        assert s.query_one("#notes").text == "half a thought"


async def test_keys_at_the_wrong_moment_explain_themselves(tui_engine):
    app = QBankApp(tui_engine, assessor="", timer=False)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("r")  # nothing to resume
        await settle(pilot)
        assert isinstance(app.screen, HomeScreen)
        assert any("No unfinished assessment" in n.message for n in app._notifications)
        await pilot.press("n")
        await settle(pilot)
        assert app.screen.query_one("#standard").value == "ILM-SI3"  # the default: its report is written or oral
        await pilot.press("ctrl+d")  # no report format, no apprentice, no assessor
        await settle(pilot)
        assert isinstance(app.screen, StartScreen)
        assert any("Choose how the learner presented the report" in n.message for n in app._notifications)
        app.screen.query_one("#report-format").value = "written"
        await pilot.press("ctrl+d")  # no apprentice, no assessor
        await settle(pilot)
        assert isinstance(app.screen, StartScreen)
        assert any("Drawing the set" in n.message for n in app._notifications)
        app.screen.query_one("#apprentice").value = "WRONG-1"
        app.screen.query_one("#assessor").value = "Pat"
        app.screen.query_one("#extra").value = "500"
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert isinstance(app.screen, StartScreen)
        assert any("extra time" in n.message for n in app._notifications)
        app.screen.query_one("#extra").value = "0"
        await pilot.press("ctrl+d")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MethodScreen)
        await pilot.press("f6")  # marks before anything: a dialog, harmless
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert type(app.screen).__name__ == "HelpScreen"
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen is screen


async def test_browse_filters_and_fuzzy_search(tui_engine):
    from qbank.tui.screens import BrowseScreen

    app = QBankApp(tui_engine, assessor="Pat", timer=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, BrowseScreen)
        table = app.screen.query_one("#results")
        everything = table.row_count
        assert everything == 200  # the first 200 of 236 shipped questions
        await type_text(pilot, "binary logistic regression")
        # each keystroke starts a search that cancels the one before: wait for the last one's rows
        await wait_until(pilot, lambda: 0 < table.row_count < everything, what="the search's results")
        await settle(pilot)
        first = table.coordinate_to_cell_key((0, 0)).row_key.value
        assert "logistic regression" in app.screen.rows[first].text.lower()
        app.screen.query_one("#f-outcome").value = "K8"
        await settle(pilot)
        assert all("K8" in app.screen.rows[k].outcomes for k in app.screen.rows)


async def test_command_palette_offers_the_screen_actions(tui_engine):
    aid = S.start_assessment(
        tui_engine,
        S.StartRequest(standard="ST0556", apprentice="PAL-1", assessor="Pat", methods=("professional-discussion",)),
    )
    app = QBankApp(tui_engine, assessor="Pat", timer=False, resume=aid)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        titles = [c.title for c in palette_commands(app.screen)]  # what ScreenCommands offers the palette
        for t in ("Log evidence", "Ad-hoc question", "End this method", "Help"):
            assert t in titles
        await pilot.press("ctrl+p")
        await settle(pilot)
        await type_text(pilot, "log evidence")
        await wait_until(
            pilot,
            lambda: any("Log evidence" in str(o.prompt) for o in app.screen.query_one("CommandList").options),
            what="palette matches",
        )
        await pilot.press("enter")
        await settle(pilot)
        assert type(app.screen).__name__ == "EvidenceDialog"


async def test_overall_record_is_viewable(tui_engine):
    from qbank.tui.screens import RecordScreen

    aid = S.start_assessment(tui_engine, S.StartRequest(standard="UOB-HCSL", apprentice="REC-1", assessor="Pat"))
    (m,) = S.load(tui_engine, aid).methods
    for c in ("TR", "IN", "AG", "PR"):
        S.log_evidence(tui_engine, m.id, "on track", criterion=c)
    S.end_method(tui_engine, m.id, reason="scripted")
    S.confirm_grade(tui_engine, m.id)
    app = QBankApp(tui_engine, assessor="Pat", timer=False, resume=aid)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, OverallScreen)
        await pilot.press("v")
        await settle(pilot)
        assert isinstance(app.screen, RecordScreen)
        assert "Tripartite review outcome: On track" in app.screen.markdown


@pytest.mark.slow  # the seeded world of the review tests
async def test_reviews_screen_shows_flags_and_tables(tui_engine):
    import sys as _sys

    _sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import review_world

    from qbank.tui.reviews import ReviewsScreen

    w = review_world.build(tui_engine, sets=140, seed=3)
    app = QBankApp(tui_engine, assessor="Pat", timer=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("v")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReviewsScreen)
        assert any(w.overused in f for f in screen.report.flags)
        assert screen.query_one("#review-table").row_count > 0
        screen.query_one("#kind").value = "avoidance"
        await settle(pilot)
        assert screen.report.kind == "avoidance" and any(w.avoided in f for f in screen.report.flags)
        await pilot.press("ctrl+t")
        await settle(pilot)
        assert screen.table_index == 1
        screen.query_one("#r-standard").value = "NOPE"
        screen.query_one("#r-standard").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert screen.report.kind == "avoidance"  # the failed run left the last report on screen
        await pilot.press("ctrl+e")
        await settle(pilot)


async def test_skip_records_a_question_not_asked(tui_engine):
    aid = S.start_assessment(
        tui_engine,
        S.StartRequest(standard="ST0556", apprentice="SKIP-1", assessor="Pat", methods=("professional-discussion",)),
    )
    app = QBankApp(tui_engine, assessor="Pat", timer=False, resume=aid)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        first = screen.query_one("#suggestions").highlighted_option.id
        await pilot.press("f9")
        await settle(pilot)
        await type_text(pilot, "covered by the portfolio")
        await pilot.press("enter")
        await settle(pilot)
        assert screen.current_ask is None
        assert first not in [o.id for o in screen.query_one("#suggestions")._options]
        q = next(q for q in S.load(tui_engine, aid).methods[0].questions if q.code == first)
        assert q.status == "skipped" and q.skip_reason == "covered by the portfolio"
