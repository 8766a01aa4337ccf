"""SVG snapshots of the main screens at 80x24 and 120x40, and of every dialog at 80x24
(pytest-textual-snapshot).

Draws are made deterministic by fixing the draw seed; the timer is frozen; notifications stay up
(a toast that timed out on a slow machine made one snapshot flaky), and every step waits for the
app to settle (no store call running, queues empty) instead of for a fixed time. Update after a
deliberate change with `pytest tests/test_tui_snapshots.py --snapshot-update`, then look at the
new SVGs in tests/__snapshots__/ before committing them."""

from __future__ import annotations

import pytest
from sqlmodel import col
from tests_support import settle, shipped_bank, wait_until

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.store import make_engine
from qbank.tui.app import QBankApp

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def snap_engine(tmp_path, monkeypatch):
    import qbank.draws

    monkeypatch.setattr(qbank.draws.secrets, "token_hex", lambda n=16: "5eed" * (n // 2))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("QBANK_CONFIG_DIR", str(tmp_path / "config"))
    engine = make_engine(f"sqlite:///{tmp_path / 'snap.db'}")
    import_bank(engine, shipped_bank())
    return engine


def on(name: str):
    return lambda pilot: type(pilot.app.screen).__name__ == name


def steady_cursors(pilot) -> None:
    """Text cursors blink on a timer: a snapshot taken as one blinks (the notes area behind a
    dialog, say) differs by one cell. Every text field on every screen shows its cursor steadily."""
    from textual.widgets import Input, TextArea

    for screen in pilot.app.screen_stack:
        for w in screen.query(Input):
            w.cursor_blink = False
        for w in screen.query(TextArea):
            w.cursor_blink = False


async def keys_then(pilot, keys, cond, what: str) -> None:
    """Press keys, then wait for the state the snapshot shows (bounded), then for quiet."""
    await settle(pilot)
    for k in keys:
        await pilot.press(k)
        await settle(pilot)
    await wait_until(pilot, lambda: cond(pilot), what=what)
    steady_cursors(pilot)
    await settle(pilot)


def started(engine) -> int:
    return S.start_assessment(
        engine,
        S.StartRequest(
            standard="ST0556",
            apprentice="SNAP-001",
            assessor="Pat Assessor",
            methods=("professional-discussion",),
            extra_time_pct=10,
            adjustments="questions also shown in writing",
        ),
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, snap_engine, size):
    assert snap_compare(
        QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True), terminal_size=size
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_start(snap_compare, snap_engine, size):
    async def go(pilot):
        await keys_then(
            pilot,
            ["n"],
            lambda p: on("StartScreen")(p) and p.app.screen.query_one("#methods").option_count,
            "the start form filled",
        )

    assert snap_compare(
        QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True),
        terminal_size=size,
        run_before=go,
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_method_with_evidence(snap_compare, snap_engine, size):
    aid = started(snap_engine)

    async def go(pilot):
        await keys_then(pilot, [], on("MethodScreen"), "the method screen")
        await keys_then(pilot, ["enter"], lambda p: p.app.screen.current_ask is not None, "the question asked")
        await pilot.press(*"Led a Hoshin Kanri deployment")
        await keys_then(pilot, ["f3"], on("EvidenceDialog"), "the evidence dialog")
        await keys_then(pilot, ["enter"], lambda p: on("MethodScreen")(p) and p.app.screen.m.evidence, "evidence")
        await keys_then(pilot, ["escape"], lambda p: p.app.screen.dirty_since is None, "the notes saved")

    assert snap_compare(
        QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True, resume=aid),
        terminal_size=size,
        run_before=go,
    )


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_end_of_method(snap_compare, snap_engine, size):
    aid = started(snap_engine)

    async def go(pilot):
        await keys_then(pilot, [], on("MethodScreen"), "the method screen")
        await keys_then(pilot, ["f8"], on("EndMethodDialog"), "the end dialog")

    assert snap_compare(
        QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True, resume=aid),
        terminal_size=size,
        run_before=go,
    )


def test_method_in_the_light_theme(snap_compare, snap_engine):
    aid = started(snap_engine)

    async def go(pilot):
        await keys_then(pilot, [], on("MethodScreen"), "the method screen")
        await keys_then(pilot, ["enter"], lambda p: p.app.screen.current_ask is not None, "the question asked")
        await keys_then(pilot, ["f3"], on("EvidenceDialog"), "the evidence dialog")
        await keys_then(pilot, ["enter"], lambda p: on("MethodScreen")(p) and p.app.screen.m.evidence, "evidence")

    app = QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True, resume=aid)
    app.theme = "textual-light"  # before it starts: switching a running app repaints some rows a frame late
    assert snap_compare(app, terminal_size=(100, 30), run_before=go)


def ilm_started(engine) -> int:
    return S.start_assessment(
        engine,
        S.StartRequest(standard="ILM-SI3", apprentice="SNAP-ILM", assessor="Pat Assessor", report_format="written"),
    )


DIALOG_KEYS = {  # keys, then the dialog the snapshot shows (waited for: never a fixed pause)
    "evidence": (("enter", "f3"), "EvidenceDialog"),
    "adhoc": (("enter", "f4"), "AdhocDialog"),
    "swap": (("f5",), "ReasonDialog"),
    "skip": (("f9",), "ReasonDialog"),
    "end": (("enter", "f8"), "EndMethodDialog"),
    "undo": (("enter", "f3", "enter", "ctrl+z"), "UndoDialog"),
}


@pytest.mark.parametrize("dialog", list(DIALOG_KEYS))
def test_dialog_at_80x24(snap_compare, snap_engine, dialog):
    aid = started(snap_engine)
    keys, shown = DIALOG_KEYS[dialog]

    async def go(pilot):
        await keys_then(pilot, [], on("MethodScreen"), "the method screen")
        await keys_then(pilot, keys, on(shown), shown)

    assert snap_compare(
        QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True, resume=aid),
        terminal_size=(80, 24),
        run_before=go,
    )


def test_marks_dialog_at_80x24(snap_compare, snap_engine):
    aid = ilm_started(snap_engine)

    async def go(pilot):
        await keys_then(pilot, [], on("MethodScreen"), "the method screen")
        await keys_then(pilot, ["f6"], on("FeedbackDialog"), "the marks dialog")
        await keys_then(
            pilot,
            ["tab", "1", "2"],
            lambda p: "not 12" in str(p.app.screen.query_one("#mark-error").render()),
            "the inline range message",
        )

    assert snap_compare(
        QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True, resume=aid),
        terminal_size=(80, 24),
        run_before=go,
    )


def test_void_dialog_at_80x24(snap_compare, snap_engine):
    aid = started(snap_engine)

    async def go(pilot):
        await keys_then(
            pilot,
            [],
            lambda p: on("HomeScreen")(p) and p.app.screen.query_one("#unfinished").row_count,
            "the unfinished list",
        )
        await keys_then(pilot, ["x"], on("ReasonDialog"), "the void dialog")  # asks why

    from datetime import datetime, timezone

    from sqlalchemy import update

    from qbank.models import AssessmentRow

    with snap_engine.begin() as c:  # the home list shows when it started: fixed, so the snapshot is too
        c.execute(
            update(AssessmentRow)
            .where(col(AssessmentRow.id) == aid)
            .values(created_at=datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc))
        )
    assert snap_compare(
        QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True),
        terminal_size=(80, 24),
        run_before=go,
    )


@pytest.mark.parametrize("key", ["c", "o", "f1"], ids=["complete", "override", "help"])
def test_overall_dialogs_at_80x24(snap_compare, snap_engine, key):
    aid = S.start_assessment(
        snap_engine, S.StartRequest(standard="UOB-HCSL", apprentice="SNAP-UOB", assessor="Pat Assessor")
    )
    (m,) = S.load(snap_engine, aid).methods
    for c in ("TR", "IN", "AG", "PR"):
        S.log_evidence(snap_engine, m.id, "on track", criterion=c)
    S.end_method(snap_engine, m.id, reason="scripted for the snapshot")
    S.confirm_grade(snap_engine, m.id)

    async def go(pilot):
        await keys_then(pilot, [], on("OverallScreen"), "the overall screen")
        await keys_then(
            pilot, [key], on({"c": "ConfirmDialog", "o": "OverrideDialog", "f1": "HelpScreen"}[key]), "the dialog"
        )

    assert snap_compare(
        QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True, resume=aid),
        terminal_size=(80, 24),
        run_before=go,
    )
