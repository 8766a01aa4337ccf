"""SVG snapshots of the main screens at 80x24 and 120x40, and of every dialog at 80x24
(pytest-textual-snapshot).

Draws are made deterministic by fixing the draw seed; the timer is frozen; notifications stay up
(a toast that timed out on a slow machine made one snapshot flaky), and every step waits for the
app to settle (no store call running, queues empty) instead of for a fixed time. Update after a
deliberate change with `pytest tests/test_tui_snapshots.py --snapshot-update`, then look at the
new SVGs in tests/__snapshots__/ before committing them."""

from __future__ import annotations

import pytest

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.store import make_engine
from tests_support import settle, shipped_bank
from tui.app import QBankApp

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


def started(engine) -> int:
    return S.start_assessment(engine, S.StartRequest(standard="ST0556", apprentice="SNAP-001", assessor="Pat Assessor",
                                                     methods=("professional-discussion",), extra_time_pct=10,
                                                     adjustments="questions also shown in writing"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, snap_engine, size):
    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_start(snap_compare, snap_engine, size):
    async def go(pilot):
        await pilot.press("n")
        await settle(pilot)

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True),
                        terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_method_with_evidence(snap_compare, snap_engine, size):
    aid = started(snap_engine)

    async def go(pilot):
        await pilot.press("enter")  # ask the top suggestion
        await settle(pilot)
        await pilot.press(*"Led a Hoshin Kanri deployment")
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("enter")  # log at the default level for the proposed criterion
        await settle(pilot)
        await pilot.press("escape")  # focus back on the list (notes saved)
        await settle(pilot)

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True, resume=aid), terminal_size=size,
                        run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_end_of_method(snap_compare, snap_engine, size):
    aid = started(snap_engine)

    async def go(pilot):
        await pilot.press("f8")
        await settle(pilot)

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True, resume=aid), terminal_size=size,
                        run_before=go)


def test_method_in_the_light_theme(snap_compare, snap_engine):
    aid = started(snap_engine)

    async def go(pilot):
        pilot.app.theme = "textual-light"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("f3")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True, resume=aid),
                        terminal_size=(100, 30), run_before=go)


def ilm_started(engine) -> int:
    return S.start_assessment(engine, S.StartRequest(standard="ILM-SI3", apprentice="SNAP-ILM", assessor="Pat Assessor"))


DIALOG_KEYS = {
    "evidence": ("enter", "f3"),
    "adhoc": ("enter", "f4"),
    "swap": ("f5",),
    "skip": ("f9",),
    "end": ("enter", "f8"),
    "undo": ("enter", "f3", "enter", "ctrl+z"),
}


@pytest.mark.parametrize("dialog", list(DIALOG_KEYS))
def test_dialog_at_80x24(snap_compare, snap_engine, dialog):
    aid = started(snap_engine)

    async def go(pilot):
        await settle(pilot)
        for key in DIALOG_KEYS[dialog]:
            await pilot.press(key)
            await settle(pilot)

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True,
                                 resume=aid), terminal_size=(80, 24), run_before=go)


def test_marks_dialog_at_80x24(snap_compare, snap_engine):
    aid = ilm_started(snap_engine)

    async def go(pilot):
        await settle(pilot)
        await pilot.press("f6")
        await settle(pilot)
        await pilot.press("tab", *"12")
        await settle(pilot)

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True,
                                 resume=aid), terminal_size=(80, 24), run_before=go)


def test_void_dialog_at_80x24(snap_compare, snap_engine):
    aid = started(snap_engine)

    async def go(pilot):
        await settle(pilot)
        await pilot.press("x")  # void the highlighted (unused) assessment: asks why
        await settle(pilot)

    from datetime import datetime, timezone

    from sqlalchemy import update

    from qbank.models import AssessmentRow

    with snap_engine.begin() as c:  # the home list shows when it started: fixed, so the snapshot is too
        c.execute(update(AssessmentRow).where(AssessmentRow.id == aid)
                  .values(created_at=datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)))
    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True),
                        terminal_size=(80, 24), run_before=go)


def test_complete_confirmation_at_80x24(snap_compare, snap_engine):
    aid = S.start_assessment(snap_engine, S.StartRequest(standard="UOB-HCSL", apprentice="SNAP-UOB",
                                                         assessor="Pat Assessor"))
    (m,) = S.load(snap_engine, aid).methods
    for c in ("TR", "IN", "AG", "PR"):
        S.log_evidence(snap_engine, m.id, "on track", criterion=c)
    S.end_method(snap_engine, m.id, reason="scripted for the snapshot")
    S.confirm_grade(snap_engine, m.id)

    async def go(pilot):
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, sticky_notifications=True,
                                 resume=aid), terminal_size=(80, 24), run_before=go)
