"""The live app's speed: start-up to the first screen, and a logging keypress to the updated
coverage panel. Medians; each against a baseline measured in the same run.

Run: .venv/bin/python bench/bench_tui.py [--runs 15] [--presses 40]
  start-up: wall time from spawning a process to the app's first screen being mounted (headless),
            interleaved with a minimal Textual app (one Static) as the baseline;
  logging:  in one process, the Enter that logs evidence in the dialog until the outcomes panel
            shows it (store write + reload + render), against a key that only moves the list cursor.
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

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CHILD_QBANK = """
import asyncio, sys
sys.path.insert(0, {repo!r})
from qbank.store import make_engine
from tui.app import QBankApp
from tui.screens import HomeScreen
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
    from tui.app import QBankApp
    from tui.dialogs import EvidenceDialog
    from tui.method import MethodScreen

    engine = make_engine(url)
    aid = S.start_assessment(engine, S.StartRequest(standard="ST0556", apprentice="BENCH-LOG", assessor="Bench",
                                                    methods=("professional-discussion",)))
    app = QBankApp(engine, assessor="Bench", timer=False, resume=aid)
    stamps: dict[str, float] = {}
    log_ms, base_ms = [], []
    real_log, real_down = MethodScreen._log, OptionList.action_cursor_down

    def hook(message):  # the first sight of the Enter key while the evidence dialog is open
        if getattr(message, "key", None) == "enter" and isinstance(app.screen, EvidenceDialog) \
                and "t0" not in stamps:
            stamps["t0"] = time.perf_counter()

    def log(self, entry):
        real_log(self, entry)
        t0 = stamps.pop("t0")
        self.call_after_refresh(lambda: log_ms.append((time.perf_counter() - t0) * 1000))

    def down(self):
        t0 = time.perf_counter()
        real_down(self)
        self.call_after_refresh(lambda: base_ms.append((time.perf_counter() - t0) * 1000))

    MethodScreen._log, OptionList.action_cursor_down = log, down
    try:
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            await pilot.pause()
            screen = app.screen
            await pilot.press("enter")  # ask a question
            await pilot.pause()
            for _ in range(presses):
                await pilot.press("f3")
                await pilot.pause()
                await pilot.press("enter")
                await pilot.pause(0.05)
                screen.query_one("#suggestions").focus()
                await pilot.press("down", "up")
                await pilot.pause(0.05)
    finally:
        MethodScreen._log, OptionList.action_cursor_down = real_log, real_down
    assert len(log_ms) == presses, (len(log_ms), presses)
    return statistics.median(log_ms), statistics.median(base_ms)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--presses", type=int, default=40)
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
        print(f"start-up to first screen: qbank {mo:.3f} s, minimal Textual app {mb:.3f} s "
              f"(median of {args.runs}; ratio {mo / mb:.2f}x; target < 1.0 s)")
        lg, bs = asyncio.run(logging_latency(url, args.presses))
        print(f"logging keypress to repainted coverage panel: {lg:.1f} ms; cursor-move keypress {bs:.1f} ms "
              f"(median of {args.presses}; ratio {lg / bs:.1f}x; target < 50 ms)")


if __name__ == "__main__":
    main()
