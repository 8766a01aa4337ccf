"""The live app's speed: start-up to the first screen, and a logging keypress to the updated
coverage panel. Medians; each against a baseline measured in the same run.

Run: .venv/bin/python bench/bench_tui.py [--runs 15] [--presses 40] [--big 10000]
  start-up: wall time from spawning a process to the app's first screen being mounted (headless),
            interleaved with a minimal Textual app (one Static) as the baseline;
  logging:  in one process, the Enter that logs evidence in the dialog until the outcomes panel
            shows it (store write + reload + render), against a key that only moves the list cursor;
  stall:    the longest time the event loop could not run (a 5 ms ticker's worst lateness) while an
            assessment is started by Ctrl+D on a generated bank of --big questions, against the same
            ticker while the app sits idle;
  keys:     the keystrokes to log one evidence entry for a chosen subset of the asked question's
            targets at a chosen level (counted by driving the dialog, the note aside).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest.mock import patch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHILD_QBANK = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from qbank.store import make_engine
from qbank.tui.app import QBankApp
from qbank.tui.screens import HomeScreen
async def main():
    app = QBankApp(make_engine({url!r}), assessor="Bench", timer=False)
    async with app.run_test(size=(120, 40)) as pilot:
        while not isinstance(app.screen, HomeScreen) or not app.screen.query_one("#unfinished").row_count:
            await pilot.pause(0.005)
        print("READY", flush=True)
asyncio.run(main())
"""

CHILD_BASE = """
import asyncio
from textual.app import App
from textual.widgets import Static
class Hello(App):
    def compose(self):
        yield Static("hello")
async def main():
    app = Hello()
    async with app.run_test(size=(120, 40)) as pilot:
        print("READY", flush=True)
asyncio.run(main())
"""


def time_to_ready(code: str) -> float:
    t = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    for line in p.stdout:
        if line.startswith("READY"):
            break
    elapsed = time.perf_counter() - t
    p.wait()
    return elapsed


async def logging_latency(url: str, presses: int) -> tuple[float, float]:
    """Inside the app: from the Enter key reaching the evidence dialog to the method screen having
    repainted with the new coverage (store write, reload, panels updated, next refresh done);
    baseline: from a cursor-down key reaching the Next list to its repaint. Pilot's own waits are
    excluded from both."""
    from textual.widgets import OptionList

    from qbank import sessions as S
    from qbank.store import make_engine
    from qbank.tui.app import QBankApp
    from qbank.tui.dialogs import EvidenceDialog
    from qbank.tui.method import MethodScreen

    engine = make_engine(url)
    aid = S.start_assessment(
        engine,
        S.StartRequest(
            standard="ST0556", apprentice="BENCH-LOG", assessor="Bench", methods=("professional-discussion",)
        ),
    )
    app = QBankApp(engine, assessor="Bench", timer=False, resume=aid)
    stamps: dict[str, float] = {}
    log_ms, base_ms = [], []
    real_log, real_down = MethodScreen._log, OptionList.action_cursor_down

    def hook(message):  # the first sight of the Enter key while the evidence dialog is open
        if getattr(message, "key", None) == "enter" and isinstance(app.screen, EvidenceDialog) and "t0" not in stamps:
            stamps["t0"] = time.perf_counter()

    real_resume = MethodScreen._on_screen_resume

    async def log(self, entry):  # stores the entries and updates the panels, then the dialog closes
        await real_log(self, entry)
        stamps["logged"] = stamps.pop("t0")

    def resume(self, event):  # the method screen back on top: measured at the refresh that shows it
        real_resume(self, event)
        if "logged" in stamps:
            t0 = stamps.pop("logged")
            self.call_after_refresh(lambda: log_ms.append((time.perf_counter() - t0) * 1000))

    def down(self):
        t0 = time.perf_counter()
        real_down(self)
        self.call_after_refresh(lambda: base_ms.append((time.perf_counter() - t0) * 1000))

    with (
        patch.object(MethodScreen, "_log", log),
        patch.object(MethodScreen, "_on_screen_resume", resume),
        patch.object(OptionList, "action_cursor_down", down),
    ):
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            await pilot.pause()
            screen = app.screen
            await pilot.press("enter")  # ask a question
            await settle(pilot)
            for _ in range(presses):
                await pilot.press("f3")
                await settle(pilot)
                await pilot.press("enter")
                await settle(pilot)
                screen.query_one("#suggestions").focus()
                await pilot.press("down", "up")
                await pilot.pause(0.05)
    assert len(log_ms) == presses, (len(log_ms), presses)
    return statistics.median(log_ms), statistics.median(base_ms)


async def settle(pilot) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from tests_support import settle as _settle

    await _settle(pilot)


async def start_stall(url: str, standard: str, method: str, apprentice: str) -> tuple[float, float, float]:
    """Worst event-loop lateness (ms) while Ctrl+D starts an assessment, the idle worst over the
    same length of time, and how long the start took (s)."""
    from qbank import sessions as S  # noqa: F401
    from qbank.store import make_engine
    from qbank.tui.app import QBankApp
    from qbank.tui.screens import PreviewScreen

    app = QBankApp(make_engine(url), assessor="Bench", timer=False)
    lateness: list[float] = []
    running = {"on": False}

    async def ticker():
        while running["on"]:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            lateness.append((time.perf_counter() - t - 0.005) * 1000)

    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        s = app.screen
        s.query_one("#standard").value = standard
        await settle(pilot)
        for opt in list(s.query_one("#methods").items):
            s.query_one("#methods").set_ticked(opt.value, opt.value == method)
        s.query_one("#apprentice").value = apprentice
        await settle(pilot)
        running["on"] = True
        task = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        await pilot.press("ctrl+d")
        while not isinstance(app.screen, PreviewScreen):
            await asyncio.sleep(0.005)
            if time.perf_counter() - t0 > 120:
                raise SystemExit(
                    "the start never reached the drawn set: " + "; ".join(n.message for n in app._notifications)
                )
        await settle(pilot)
        took = time.perf_counter() - t0
        running["on"] = False
        await task
        busy_worst = max(lateness)
        lateness.clear()
        running["on"] = True
        task = asyncio.create_task(ticker())
        await asyncio.sleep(took)
        running["on"] = False
        await task
        idle_worst = max(lateness)
    return busy_worst, idle_worst, took


async def evidence_keys(url: str) -> int:
    """Drive the fastest path for a subset at a chosen level and count the keys (note aside)."""
    from qbank import sessions as S
    from qbank.store import make_engine
    from qbank.tui.app import QBankApp

    engine = make_engine(url)
    aid = S.start_assessment(
        engine,
        S.StartRequest(
            standard="ST0480", apprentice="BENCH-KEYS", assessor="Bench", methods=("professional-discussion",)
        ),
    )
    app = QBankApp(engine, assessor="Bench", timer=False, resume=aid)
    keys = ["f3", "2", "right", "enter"]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f2")
        await settle(pilot)
        before = len(S.load(engine, aid).methods[0].evidence)
        await pilot.press(*keys[:3])
        await pilot.press(*"note")
        await pilot.press(keys[3])
        await settle(pilot)
        logged = S.load(engine, aid).methods[0].evidence[before:]
    assert logged and all(e.level == "distinction" for e in logged)
    return len(keys)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--presses", type=int, default=40)
    ap.add_argument("--big", type=int, default=10_000)
    args = ap.parse_args()
    from qbank import sessions as S
    from qbank.importer import import_bank
    from qbank.store import make_engine
    from qbank.validation import load_bank

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        import_bank(engine, load_bank(REPO / "banks", health=False))
        S.start_assessment(engine, S.StartRequest(standard="ST0556", apprentice="BENCH-1", assessor="Bench"))
        ours, base = [], []
        for _ in range(args.runs):  # interleaved, so load on the machine hits both alike
            ours.append(time_to_ready(CHILD_QBANK.format(repo=str(REPO), url=url)))
            base.append(time_to_ready(CHILD_BASE))
        mo, mb = statistics.median(ours), statistics.median(base)
        print(
            f"start-up to first screen: qbank {mo:.3f} s, minimal Textual app {mb:.3f} s "
            f"(median of {args.runs}; ratio {mo / mb:.2f}x; target < 1.0 s)"
        )
        lg, bs = asyncio.run(logging_latency(url, args.presses))
        print(
            f"logging keypress to repainted coverage panel: {lg:.1f} ms; cursor-move keypress {bs:.1f} ms "
            f"(median of {args.presses}; ratio {lg / bs:.1f}x; target < 50 ms)"
        )
        print(
            f"keystrokes to log one entry (subset of the targets, chosen level): {asyncio.run(evidence_keys(url))}"
            " plus the note (target <= 4)"
        )
        sys.path.insert(0, str(REPO / "bench"))
        from synthetic import write_synthetic_bank

        from qbank.releases import make_release

        big = Path(tmp) / "big"
        write_synthetic_bank(big, n_questions=args.big, n_outcomes=100)
        make_release(load_bank(big, health=False), "SYN01", "1.0.0")
        import_bank(engine, load_bank(big, health=False))
        runs = [asyncio.run(start_stall(url, "SYN01", "presentation-questioning", f"STALL-{i}")) for i in range(3)]
        worst = statistics.median(r[0] for r in runs)
        idle = statistics.median(r[1] for r in runs)
        took = statistics.median(r[2] for r in runs)
        print(
            f"start on a {args.big:,}-question bank: took {took:.2f} s; longest event-loop stall {worst:.0f} ms "
            f"vs {idle:.0f} ms idle (median of 3; ratio {worst / max(idle, 0.1):.1f}x; target < 100 ms)"
        )


if __name__ == "__main__":
    main()
