"""Helpers shared by test modules (not fixtures)."""

from __future__ import annotations

from pathlib import Path

from qbank.validation import load_bank

REPO = Path(__file__).resolve().parent.parent
BANKS = REPO / "banks"
_BANK: list = []


def shipped_bank():
    """The shipped banks, loaded once per test process."""
    if not _BANK:
        _BANK.append(load_bank(BANKS, health=False))
    return _BANK[0]


async def settle(pilot, timeout: float = 20.0) -> None:
    """Wait until the app has no store call running and its message queues are empty: tests wait
    for the state they assert, never for a fixed time. Bounded (fails loudly) so a hang is seen."""
    import time

    from textual.worker import WorkerState

    app = pilot.app
    deadline = time.monotonic() + timeout
    await pilot.pause()
    quiet = 0
    while quiet < 2:  # two quiet rounds in a row: a finished call may schedule another
        if time.monotonic() > deadline:
            raise AssertionError(f"the app did not settle within {timeout} s (calls running: {app.inflight})")
        busy = app.inflight > 0 or any(w.state in (WorkerState.PENDING, WorkerState.RUNNING) for w in app.workers)
        quiet = 0 if busy else quiet + 1
        await pilot.pause(0.02 if busy else None)


async def wait_until(pilot, cond, timeout: float = 20.0, what: str = "the expected state") -> None:
    """Poll for a condition the test asserts next (bounded)."""
    import time

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.02)
