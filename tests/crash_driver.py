"""Run the app headless and drive a scripted live session, printing a CONFIRMED line each time the
app shows that something is stored. `test_crash.py` kills this process with SIGKILL at random
moments and checks that the store holds everything confirmed.

usage: python tests/crash_driver.py DB_URL start|resume SEED
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from qbank import sessions as S
from qbank.store import make_engine
from qbank.tui.app import QBankApp
from qbank.tui.method import MethodScreen


def say(*parts) -> None:
    print(*parts, flush=True)


async def wait_for(pilot, cond, timeout=3.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if cond():
            return True
        await pilot.pause(0.05)
    return cond()


async def drive(url: str, mode: str, seed: int) -> None:
    engine = make_engine(url)
    rnd = random.Random(seed)
    if mode == "start":
        aid = S.start_assessment(
            engine,
            S.StartRequest(
                standard="ST0556", apprentice="CRASH-1", assessor="Driver", methods=("professional-discussion",)
            ),
        )
        say("STARTED", aid)
    app = QBankApp(engine, assessor="Driver", timer=True)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("r")  # resume the unfinished assessment from the home screen
        await wait_for(pilot, lambda: isinstance(app.screen, MethodScreen))
        screen = app.screen
        notes = screen.query_one("#notes")
        say("RESUMED", screen.am_id, screen.current_ask, repr(notes.text))
        for _ in range(200):
            action = rnd.random()
            if screen.current_ask is None or action < 0.15:
                if screen.query_one("#suggestions").option_count == 0:
                    break
                await pilot.press("f2")
                await wait_for(pilot, lambda: screen.current_ask is not None)
                say("CONFIRMED ask", screen.current_ask)
            elif action < 0.75:
                notes.focus()
                chunk = "".join(rnd.choice("abcdefgh ") for _ in range(rnd.randint(3, 12)))
                await pilot.press(*[{" ": "space"}.get(c, c) for c in chunk])
                if await wait_for(pilot, lambda: screen.saved_notes == notes.text and screen.dirty_since is None):
                    say("CONFIRMED notes", screen.current_ask, repr(screen.saved_notes))
            else:
                before = len(screen.m.evidence)
                await pilot.press("f3")
                await pilot.pause()
                await pilot.press("enter")
                if await wait_for(
                    pilot, lambda before=before: len(screen.m.evidence) > before and app.screen is screen
                ):
                    say("CONFIRMED evidence", len(screen.m.evidence))
    say("DONE")


if __name__ == "__main__":
    asyncio.run(drive(sys.argv[1], sys.argv[2], int(sys.argv[3])))
