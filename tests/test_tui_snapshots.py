"""SVG snapshots of the main screens at 80x24 and 120x40 (pytest-textual-snapshot).

Draws are made deterministic by fixing the draw seed; the timer is frozen. Update after a
deliberate change with `pytest tests/test_tui_snapshots.py --snapshot-update`, then look at the
new SVGs in tests/__snapshots__/ before committing them."""

from __future__ import annotations

import pytest

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.store import make_engine
from tests_support import shipped_bank
from tui.app import QBankApp

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def snap_engine(tmp_path, monkeypatch):
    import qbank.draws

    monkeypatch.setattr(qbank.draws.secrets, "token_hex", lambda n=16: "5eed" * (n // 2))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    engine = make_engine(f"sqlite:///{tmp_path / 'snap.db'}")
    import_bank(engine, shipped_bank())
    return engine


def started(engine) -> int:
    return S.start_assessment(engine, S.StartRequest(standard="ST0556", apprentice="SNAP-001", assessor="Pat Assessor",
                                                     methods=("professional-discussion",), extra_time_pct=10,
                                                     adjustments="questions also shown in writing"))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_home(snap_compare, snap_engine, size):
    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_start(snap_compare, snap_engine, size):
    async def go(pilot):
        await pilot.press("n")
        await pilot.pause()

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False), terminal_size=size, run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_method_with_evidence(snap_compare, snap_engine, size):
    aid = started(snap_engine)

    async def go(pilot):
        await pilot.press("enter")  # ask the top suggestion
        await pilot.pause()
        await pilot.press(*"Led a Hoshin Kanri deployment")
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("enter")  # log at the default level for the proposed criterion
        await pilot.pause()
        await pilot.press("escape")  # focus back on the list (notes saved)
        await pilot.pause()

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, resume=aid), terminal_size=size,
                        run_before=go)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_end_of_method(snap_compare, snap_engine, size):
    aid = started(snap_engine)

    async def go(pilot):
        await pilot.press("f8")
        await pilot.pause()

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, resume=aid), terminal_size=size,
                        run_before=go)


def test_method_in_the_light_theme(snap_compare, snap_engine):
    aid = started(snap_engine)

    async def go(pilot):
        pilot.app.theme = "textual-light"
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()

    assert snap_compare(QBankApp(snap_engine, assessor="Pat Assessor", timer=False, resume=aid),
                        terminal_size=(100, 30), run_before=go)
