"""The live session as an assessor meets it (issue: a record that is right first time). Each test
reproduces one defect found by running the app in a real terminal, then checks the store."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests_support import settle, shipped_bank, wait_until

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.store import make_engine
from qbank.tui.app import QBankApp
from qbank.tui.dialogs import (
    AdhocDialog,
    ConfirmDialog,
    EndMethodDialog,
    EvidenceDialog,
    FeedbackDialog,
    ReasonDialog,
    UndoDialog,
)
from qbank.tui.method import MethodScreen
from qbank.tui.screens import CompletedScreen, OverallScreen, PreviewScreen, RecordScreen, StartScreen
from qbank.tui.widgets import TickList


@pytest.fixture
def live_engine(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("QBANK_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("QBANK_ASSESSOR", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'live.db'}")
    import_bank(engine, shipped_bank())
    return engine


def start(engine, standard="ST0480", methods=("professional-discussion",), apprentice="LIVE-1", **kw) -> int:
    return S.start_assessment(
        engine, S.StartRequest(standard=standard, apprentice=apprentice, assessor="Pat", methods=methods, **kw)
    )


def app_for(engine, aid=None, **kw) -> QBankApp:
    return QBankApp(engine, assessor="Pat", timer=False, resume=aid, **kw)


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space", ".": "full_stop", ",": "comma"}.get(c, c) for c in text])


def live_evidence(engine, aid):
    return [e for e in S.load(engine, aid).methods[0].evidence if not e.retracted]


# --------------------------------------------------------------------------- 1, 2, 7: evidence


async def test_fast_path_credits_exactly_the_asked_questions_targets(live_engine):
    aid = start(live_engine)
    async with app_for(live_engine, aid).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        await pilot.press("f2")
        await settle(pilot)
        q = next(q for q in screen.m.questions if q.ask_id == screen.current_ask)
        await pilot.press("f3")
        await settle(pilot)
        await type_text(pilot, "clear example")
        await pilot.press("enter")
        await settle(pilot)
    entries = live_evidence(live_engine, aid)
    credited = [o for e in entries for o in e.outcomes]
    assert sorted(credited) == sorted(q.outcomes), (credited, q.outcomes)  # nothing the question does not target
    assert all(e.note == "clear example" for e in entries), [e.note for e in entries]


async def test_a_chosen_subset_at_a_chosen_level_takes_four_keys_plus_the_note(live_engine):
    aid = start(live_engine, apprentice="KEYS-1")
    async with app_for(live_engine, aid).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        await pilot.press("f2")
        await settle(pilot)
        q = next(q for q in screen.m.questions if q.ask_id == screen.current_ask)
        levels = list(screen.m.levels)
        keys = ["f3", "2", "right"]  # open, untick the 2nd target, one level up
        await pilot.press(keys[0])
        await settle(pilot)
        assert isinstance(pilot.app.screen, EvidenceDialog)
        await pilot.press(*keys[1:])
        await type_text(pilot, "strong")  # typing goes to the note from the tick list
        await pilot.press("enter")
        keys.append("enter")
        await settle(pilot)
        assert pilot.app.screen is screen
    assert len(keys) == 4
    entries = live_evidence(live_engine, aid)
    chosen = [o for i, o in enumerate(q.outcomes) if i != 1]
    assert sorted(o for e in entries for o in e.outcomes) == sorted(chosen)
    assert {e.level for e in entries} == {levels[2]} and {e.note for e in entries} == {"strong"}


async def test_evidence_dialog_shows_the_descriptor_of_the_level_and_ticks_as_text(live_engine):
    aid = start(live_engine, apprentice="DESC-1")
    async with app_for(live_engine, aid).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        dialog = pilot.app.screen
        tl = dialog.query_one("#outcomes", TickList)
        assert tl.highlighted == 0 and pilot.app.focused is tl
        rows = [str(o.prompt) for o in tl.options]
        assert all("[x]" in r for r in rows)  # ticked without relying on colour
        plan = dialog.plan()
        c = screen.m.scheme.criterion(plan[0].criterion)
        want = c.descriptors[dialog.level]
        shown = str(dialog.query_one("#descriptors").render())
        assert " ".join(want.split())[:40] in " ".join(shown.split())
        await pilot.press("1")
        assert "[ ]" in str(tl.options[0].prompt)
        await pilot.press("right")
        shown2 = " ".join(str(dialog.query_one("#descriptors").render()).split())
        assert dialog.level in shown2


async def test_no_question_asked_means_nothing_is_ticked(live_engine):
    aid = start(live_engine, apprentice="NONE-1")
    async with app_for(live_engine, aid).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        tl = pilot.app.screen.query_one("#outcomes", TickList)
        assert tl.selected == [] and tl.option_count == 24
        await pilot.press("enter")  # nothing ticked: refused, nothing stored
        await settle(pilot)
        assert isinstance(pilot.app.screen, EvidenceDialog)
    assert live_evidence(live_engine, aid) == []


# --------------------------------------------------------------------------- 3: undo, skip, complete


async def test_undo_retracts_evidence_and_the_record_keeps_it(live_engine):
    from qbank.record import render

    aid = start(live_engine, apprentice="UNDO-1")
    async with app_for(live_engine, aid).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await type_text(pilot, "wrong one")
        await pilot.press("enter")
        await settle(pilot)
        n = len(live_evidence(live_engine, aid))
        assert n >= 1 and screen.m.uncovered != list(screen.m.method.assesses)
        await pilot.press("ctrl+z")
        await settle(pilot)
        assert isinstance(pilot.app.screen, UndoDialog)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ReasonDialog)
        await type_text(pilot, "logged against the wrong answer")
        await pilot.press("enter")
        await settle(pilot)
    v = S.load(live_engine, aid)
    assert len(live_evidence(live_engine, aid)) == n - 1
    assert any(e.retracted for e in v.methods[0].evidence)
    md = render(v, "md")
    assert "retracted" in md.lower()


async def test_skip_asks_for_a_reason_and_can_be_undone(live_engine):
    aid = start(live_engine, apprentice="SKIP-2")
    async with app_for(live_engine, aid).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        first = screen.query_one("#suggestions").highlighted_option.id
        await pilot.press("f9")
        await settle(pilot)
        dialog = pilot.app.screen
        assert isinstance(dialog, ReasonDialog)
        text = next(q.text for q in screen.m.questions if q.code == first)
        assert " ".join(text.split())[:30] in " ".join(str(dialog.query_one("#detail").render()).split())
        await pilot.press("enter")  # no reason: refused, nothing stored
        await settle(pilot)
        assert pilot.app.screen is dialog
        assert next(q for q in S.load(live_engine, aid).methods[0].questions if q.code == first).status == "planned"
        await type_text(pilot, "covered in the presentation")
        await pilot.press("enter")
        await settle(pilot)
        q = next(q for q in S.load(live_engine, aid).methods[0].questions if q.code == first)
        assert q.status == "skipped"
        await pilot.press("ctrl+z")
        await settle(pilot)
        dialog = pilot.app.screen
        labels = [c.label for c in dialog.choices]
        await pilot.press(*["down"] * next(i for i, lb in enumerate(labels) if "skip" in lb.lower()))
        await pilot.press("enter")
        await settle(pilot)
    q = next(q for q in S.load(live_engine, aid).methods[0].questions if q.code == first)
    assert q.status == "planned"


async def test_complete_asks_for_confirmation(live_engine):
    aid = S.start_assessment(live_engine, S.StartRequest(standard="UOB-HCSL", apprentice="CONF-1", assessor="Pat"))
    (m,) = S.load(live_engine, aid).methods
    for c in ("TR", "IN", "AG", "PR"):
        S.log_evidence(live_engine, m.id, "on track", criterion=c)
    S.end_method(live_engine, m.id, reason="scripted")
    S.confirm_grade(live_engine, m.id)
    async with app_for(live_engine, aid).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert isinstance(pilot.app.screen, OverallScreen)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmDialog)
        assert pilot.app.focused.id == "cancel"
        await pilot.press("enter")  # "No" has the focus
        await settle(pilot)
        assert S.load(live_engine, aid).status == "open"
        await pilot.press("c")
        await settle(pilot)
        await pilot.press("shift+tab", "enter")
        await settle(pilot)
    assert S.load(live_engine, aid).status == "complete"


# --------------------------------------------------------------------------- 4, 5: the outcomes panel


async def test_not_met_is_not_uncovered_and_every_outcome_is_reachable_at_80x24(live_engine):
    aid = start(live_engine, apprentice="PANEL-1")
    m = S.load(live_engine, aid).methods[0]
    S.log_evidence(live_engine, m.id, "not met", outcomes=["K10"], note="could not say")
    async with app_for(live_engine, aid).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        panel = screen.query_one("#outcomes")
        prompts = {o.id: str(o.prompt) for o in panel.options}
        assert len(prompts) == len(m.method.assesses) == 24
        assert "not met" in prompts["K10"] and "UNCOVERED" not in prompts["K10"]
        assert "UNCOVERED" in prompts["K11"]
        panel.focus()
        await settle(pilot)
        assert pilot.app.focused is panel
        await pilot.press("end")
        await settle(pilot)
        assert panel.highlighted == 23 and panel.scroll_offset.y > 0  # scrolled to the last outcome


# --------------------------------------------------------------------------- 6: everything in view at 80x24


def _fully_visible(screen, selector: str) -> None:
    """Every widget matched is on screen and not clipped: its corners are where it is drawn."""
    size = screen.app.size
    for w in screen.query(selector):
        r = w.region
        assert r.width > 0 and r.height > 0, f"{w!r} is not shown"
        assert r.x >= 0 and r.y >= 0 and r.right <= size.width and r.bottom <= size.height, (
            f"{w!r} at {r} is off an {size.width}x{size.height} screen"
        )
        for x, y in ((r.x, r.y), (r.right - 1, r.bottom - 1)):
            at, _ = screen.get_widget_at(x, y)
            assert at is w or w in at.ancestors, f"{w!r} is hidden at ({x}, {y}) by {at!r}"


async def _each_dialog(pilot, live_engine, aid):
    screen = pilot.app.screen
    await pilot.press("f2")
    await settle(pilot)
    for key, kind in (
        ("f3", EvidenceDialog),
        ("f4", AdhocDialog),
        ("f5", ReasonDialog),
        ("f9", ReasonDialog),
        ("f8", EndMethodDialog),
    ):
        if key in ("f5", "f9"):
            screen.query_one("#suggestions").focus()
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(pilot.app.screen, kind), (key, pilot.app.screen)
        yield key, pilot.app.screen
        await pilot.press("escape")
        await settle(pilot)
        assert pilot.app.screen is screen


async def test_every_dialog_fits_at_80x24_with_fields_and_buttons_in_view(live_engine):
    aid = start(live_engine, apprentice="FIT-1")
    async with app_for(live_engine, aid).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        async for key, dialog in _each_dialog(pilot, live_engine, aid):
            _fully_visible(dialog, "Button")
            _fully_visible(dialog, "Input")
            if key == "f3":
                _fully_visible(dialog, "#outcomes")
                _fully_visible(dialog, "#level-line")
    ilm = S.start_assessment(
        live_engine, S.StartRequest(standard="ILM-SI3", apprentice="FIT-2", assessor="Pat", report_format="written")
    )
    async with app_for(live_engine, ilm).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        assert isinstance(pilot.app.screen, FeedbackDialog)
        _fully_visible(pilot.app.screen, "Button")
        _fully_visible(pilot.app.screen, "Input")


async def test_footer_keeps_end_and_help_visible_at_80x24(live_engine):
    aid = start(live_engine, apprentice="FOOT-1")
    async with app_for(live_engine, aid).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        footer = pilot.app.screen.query_one("Footer")
        visible = {k.key: k for k in footer.query("FooterKey") if k.region.right <= 80 and k.region.width > 0}
        assert "f8" in visible and "f1" in visible, sorted(visible)


# --------------------------------------------------------------------------- 8, 9: the conversation flows


async def test_f2_asks_the_top_suggestion_unless_the_assessor_moved_the_highlight(live_engine):
    aid = start(live_engine, apprentice="F2-1")
    async with app_for(live_engine, aid).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        ol = screen.query_one("#suggestions")
        top = ol.get_option_at_index(0).id
        drawn = {q.code: q for q in screen.m.questions}
        if any(q.opener for q in screen.m.questions):
            assert drawn[top].opener  # the draw's opener leads before anything is asked
        ol.focus()
        await pilot.press("down")
        moved = ol.highlighted_option.id
        assert moved != top
        await pilot.press("f2")
        await settle(pilot)
        assert drawn[moved].code == next(q.code for q in screen.m.questions if q.ask_id == screen.current_ask)
        # after an ask, F2 follows the top of the new ranking again, wherever the highlight was left
        new_top = ol.get_option_at_index(0).id
        await pilot.press("f2")
        await settle(pilot)
        assert next(q.code for q in screen.m.questions if q.ask_id == screen.current_ask) == new_top


async def test_swap_dialog_names_the_question_by_its_text(live_engine):
    aid = start(live_engine, apprentice="SWAP-2")
    async with app_for(live_engine, aid).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = pilot.app.screen
        code = screen.query_one("#suggestions").highlighted_option.id
        text = next(q.text for q in screen.m.questions if q.code == code)
        await pilot.press("f5")
        await settle(pilot)
        detail = " ".join(str(pilot.app.screen.query_one("#detail").render()).split())
        assert " ".join(text.split())[:30] in detail


# --------------------------------------------------------------------------- 10: marks


async def test_marks_dialog_keeps_an_out_of_range_mark_and_shows_totals_and_minimums(live_engine):
    aid = S.start_assessment(
        live_engine, S.StartRequest(standard="ILM-SI3", apprentice="MARK-1", assessor="Pat", report_format="written")
    )
    m = S.load(live_engine, aid).methods[0]
    first = m.scheme.criteria[0]
    S.set_mark(live_engine, m.id, m.scheme.criteria[1].id, mark=20)
    async with app_for(live_engine, aid).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        dialog = pilot.app.screen
        dialog.query_one("#mark").focus()
        await type_text(pilot, str(int(first.max) + 5))
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.screen is dialog  # refused, kept
        assert dialog.query_one("#mark").value == str(int(first.max) + 5)
        assert "from 0 to" in str(dialog.query_one("#mark-error").render())
        totals = str(dialog.query_one("#totals").render())
        assert "Total 20" in totals and "BELOW MIN" in totals and f"min {first.min:g}" in totals
        await pilot.press("backspace", "backspace")
        await type_text(pilot, "7")
        assert "Total 27" in str(dialog.query_one("#totals").render())
        await pilot.press("enter")
        await settle(pilot)
    assert S.load(live_engine, aid).methods[0].marks[first.id].mark == 7


# --------------------------------------------------------------------------- 11, 12: ending


async def test_ending_early_warns_and_the_reason_goes_in_the_record(live_engine):
    from qbank.record import render

    aid = start(live_engine, apprentice="SHORT-1")
    async with app_for(live_engine, aid).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f8")
        await settle(pilot)
        dialog = pilot.app.screen
        assert "minimum" in str(dialog.query_one("#short").render())
        dialog.query_one("#ok").press()
        await settle(pilot)
        assert pilot.app.screen is dialog  # no reason: not ended
        dialog.query_one("#end-reason").value = "apprentice unwell, stopped by agreement"
        dialog.query_one("#ok").press()
        await settle(pilot)
        assert isinstance(pilot.app.screen, OverallScreen)
    v = S.load(live_engine, aid)
    assert v.methods[0].status == "ended"
    assert "apprentice unwell, stopped by agreement" in render(v, "md")


async def test_overall_screen_gives_the_rules_own_reason(live_engine):
    aid = S.start_assessment(
        live_engine, S.StartRequest(standard="ILM-SI3", apprentice="WHY-1", assessor="Pat", report_format="written")
    )
    m = S.load(live_engine, aid).methods[0]
    by_id = {c.id: c for c in m.scheme.criteria}
    for c in m.scheme.criteria:
        S.set_mark(live_engine, m.id, c.id, mark=c.max)
    low = m.scheme.criteria[-1]
    S.set_mark(live_engine, m.id, low.id, mark=low.min - 3)
    S.end_method(live_engine, m.id, reason="scripted")
    S.record_declarations(live_engine, aid, "Pat", authenticity=True)  # needed before the grade is confirmed
    S.confirm_grade(live_engine, m.id)
    async with app_for(live_engine, aid).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert isinstance(pilot.app.screen, OverallScreen)
        md = pilot.app.screen.text
    assert "REFERRAL" in md
    assert f"{low.min - 3:g}" in md and f"{by_id[low.id].min:g}" in md  # the section and its minimum are named


# --------------------------------------------------------------------------- 13, 14, 16: draws, resits, records


async def test_a_second_start_for_the_same_apprentice_offers_to_resume(live_engine):
    aid = start(live_engine, apprentice="OPEN-1")
    async with app_for(live_engine).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        s = pilot.app.screen
        assert isinstance(s, StartScreen)
        s.query_one("#standard").value = "ST0480"
        s.query_one("#apprentice").value = "OPEN-1"
        await settle(pilot)
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert isinstance(pilot.app.screen, ConfirmDialog)
        await pilot.press("shift+tab", "enter")
        await settle(pilot)
        assert isinstance(pilot.app.screen, MethodScreen) and pilot.app.screen.assessment_id == aid


async def test_void_from_home_frees_the_drawn_questions(live_engine):
    aid = start(live_engine, apprentice="VOID-1")
    async with app_for(live_engine).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        await type_text(pilot, "started by mistake")
        await pilot.press("enter")
        await settle(pilot)
        assert pilot.app.screen.query_one("#unfinished").row_count == 0
    assert S.unfinished(live_engine) == []
    again = start(live_engine, apprentice="VOID-1")
    assert again != aid and S.load(live_engine, again).methods[0].questions  # a fresh draw succeeds


async def test_assessor_is_remembered_and_adjustments_carry_over(live_engine):
    first = S.start_assessment(
        live_engine,
        S.StartRequest(
            standard="UOB-HCSL", apprentice="ADJ-1", assessor="Pat", extra_time_pct=25, adjustments="reader provided"
        ),
    )
    (m,) = S.load(live_engine, first).methods
    S.end_method(live_engine, m.id, reason="scripted")
    S.confirm_grade(live_engine, m.id)
    S.complete(live_engine, first)
    app = QBankApp(live_engine, timer=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        s = pilot.app.screen
        s.query_one("#standard").value = "UOB-HCSL"
        s.query_one("#apprentice").focus()
        await type_text(pilot, "ADJ-1")
        await settle(pilot)
        await wait_until(pilot, lambda: s.query_one("#extra").value == "25", what="extra time carried over")
        assert s.query_one("#adjustments").value == "reader provided"
        s.query_one("#assessor").value = "Sam Assessor"
        s.query_one("#attempt").value = "resit"
        await pilot.press("ctrl+d")
        await settle(pilot)
        assert isinstance(pilot.app.screen, PreviewScreen)
    new = max(r["id"] for r in S.unfinished(live_engine))
    v = S.load(live_engine, new)
    assert (v.extra_time_pct, v.adjustments, v.assessor) == (25, "reader provided", "Sam Assessor")
    assert QBankApp(live_engine).assessor == "Sam Assessor"  # from the settings file, in a new launch


async def test_completed_assessments_are_listed_and_records_open_with_line_breaks(live_engine, tmp_path):
    aid = S.start_assessment(live_engine, S.StartRequest(standard="UOB-HCSL", apprentice="DONE-1", assessor="Pat"))
    (m,) = S.load(live_engine, aid).methods
    code = m.questions[0].code
    ask = S.ask(live_engine, m.id, code)
    S.set_notes(live_engine, ask, "first line\nsecond line")
    S.end_method(live_engine, m.id, reason="scripted")
    S.confirm_grade(live_engine, m.id)
    S.complete(live_engine, aid)
    async with app_for(live_engine).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(pilot.app.screen, CompletedScreen)
        assert pilot.app.screen.query_one("#completed").row_count == 1
        await pilot.press("enter")
        await settle(pilot)
        rec = pilot.app.screen
        assert isinstance(rec, RecordScreen)
        rendered = "\n".join(str(getattr(b, "_content", "")) for b in rec.query("MarkdownBlock"))
        assert "first line\nsecond line" in rendered  # the line break is kept, not joined into one line
        await pilot.press("h")
        await settle(pilot)
    written = tmp_path / "records" / f"assessment-{aid}.html"
    assert written.exists(), "records are written beside the store"


# --------------------------------------------------------------------------- 17: off the UI thread


async def test_a_slow_store_call_never_blocks_the_event_loop(live_engine, monkeypatch):
    real = S.start_assessment

    def slow(*a, **kw):
        time.sleep(1.5)
        return real(*a, **kw)

    monkeypatch.setattr(S, "start_assessment", slow)
    gaps: list[float] = []

    async def ticker(stop: asyncio.Event):
        last = time.monotonic()
        while not stop.is_set():
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    async with app_for(live_engine).run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        s = pilot.app.screen
        s.query_one("#standard").value = "UOB-HCSL"
        s.query_one("#apprentice").value = "SLOW-1"
        await settle(pilot)
        shown_busy = []
        real_busy = pilot.app._show_busy
        monkeypatch.setattr(pilot.app, "_show_busy", lambda step: (shown_busy.append(step), real_busy(step)))
        stop = asyncio.Event()
        task = asyncio.create_task(ticker(stop))
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, PreviewScreen), what="the drawn set")
        await settle(pilot)
        stop.set()
        await task
        assert isinstance(pilot.app.screen, PreviewScreen)
        assert shown_busy == ["Drawing the set"] and not pilot.app.screen.loading
    assert max(gaps) < 0.75, f"the event loop stalled {max(gaps):.2f} s while the store worked for 1.5 s"
