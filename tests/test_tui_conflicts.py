"""Two people editing one assessment, in the app (issue 14, item 5): the second writer is told,
and nothing is lost. Another person's save is made through the services while the app is open."""

from __future__ import annotations

import pytest
from test_tui_live import _fully_visible
from tests_support import settle, shipped_bank, wait_until

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.method_record import CriterionState
from qbank.store import make_engine
from qbank.tui.app import QBankApp
from qbank.tui.dialogs import FeedbackDialog
from qbank.tui.method import MethodScreen


@pytest.fixture
def engine_(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("QBANK_ASSESSOR", raising=False)
    engine = make_engine(f"sqlite:///{tmp_path / 'conflicts.db'}")
    import_bank(engine, shipped_bank())
    yield engine
    engine.dispose()


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space", ".": "full_stop", ",": "comma", "'": "apostrophe"}.get(c, c) for c in text])


def stored_notes(engine, aid, ask) -> str:
    return next(q.notes for q in S.load(engine, aid).methods[0].questions if q.ask_id == ask)


async def test_notes_changed_elsewhere_are_shown_with_the_assessors_own_below(engine_):
    aid = S.start_assessment(
        engine_,
        S.StartRequest(standard="ST0556", apprentice="TWO-1", assessor="Pat", methods=("professional-discussion",)),
    )
    m = S.load(engine_, aid).methods[0]
    ask = S.ask(engine_, m.id, m.questions[0].code)
    S.set_ui_state(engine_, aid, {"screen": "method", "method": m.id, "ask": ask})
    app = QBankApp(engine_, assessor="Pat", timer=False, resume=aid)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, MethodScreen) and screen.current_ask == ask
        # a second assessor, with the same assessment open elsewhere, saves notes first
        S.set_notes(engine_, ask, "Second assessor: cited the X-matrix", previous="")
        await type_text(pilot, "mine about Hoshin Kanri")
        await pilot.press("ctrl+s")
        await settle(pilot)
        notes = screen.query_one("#notes").text
        theirs_at = notes.index("Second assessor: cited the X-matrix")
        marker_at = notes.index("──── above: as ")
        assert " saved them at " in notes[marker_at:]
        assert theirs_at < marker_at < notes.index("mine about Hoshin Kanri")
        told = [n for n in app._notifications if n.title == "Someone else changed these notes"]
        assert told and "Nothing was overwritten" in told[0].message and "both are kept" in told[0].message
        # the other person's text was not overwritten; the merged text is saved next, keeping both
        await pilot.press("ctrl+s")
        await settle(pilot)
        await wait_until(pilot, lambda: "mine about Hoshin Kanri" in stored_notes(engine_, aid, ask), what="the save")
        assert "Second assessor: cited the X-matrix" in stored_notes(engine_, aid, ask)


async def test_marks_saved_elsewhere_reopen_the_dialog_with_both(engine_):
    aid = S.start_assessment(
        engine_, S.StartRequest(standard="ILM-SI3", apprentice="TWO-2", assessor="Pat", report_format="written")
    )
    m = S.load(engine_, aid).methods[0]
    first = m.scheme.criteria[0]
    app = QBankApp(engine_, assessor="Pat", timer=False, resume=aid)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, FeedbackDialog)
        S.set_mark(engine_, m.id, first.id, mark=5, strengths="theirs", previous=CriterionState())  # meanwhile
        dialog.query_one("#mark").focus()
        await type_text(pilot, "7")
        await pilot.press("enter")
        await settle(pilot)
        again = app.screen
        assert isinstance(again, FeedbackDialog) and again is not dialog
        shown = str(again.query_one("#conflict").render())
        assert f"saved {first.id}" in shown and "Stored now: mark 5" in shown and "Yours are below" in shown
        assert again.query_one("#mark").value == "7"  # the assessor's own mark, kept
        assert again.query_one("#strengths").value == "theirs"  # what the assessor did not change: as stored now
        _fully_visible(again, "Button")  # at 80x24, with the conflict said
        _fully_visible(again, "Input")
        assert S.load(engine_, aid).methods[0].marks[first.id].mark == 5  # not overwritten
        again.query_one("#mark").focus()
        await pilot.press("enter")  # having seen both, the assessor saves theirs
        await settle(pilot)
        assert isinstance(app.screen, MethodScreen)
    mv = S.load(engine_, aid).methods[0].marks[first.id]
    assert (mv.mark, mv.strengths) == (7, "theirs")  # their strengths, which the assessor did not change, stay
