"""Crash safety: the app, driving a scripted session in a subprocess, is killed with SIGKILL at
random moments (25 times); after each kill the store holds every entry the app had confirmed, and
the restarted app resumes the same assessment, method and question with the saved notes."""

from __future__ import annotations

import ast
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from tests_support import shipped_bank

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.store import make_engine

DRIVER = Path(__file__).resolve().parent / "crash_driver.py"
KILLS = 25
STARTUP = 120.0  # seconds the driver may take to show the resumed method (a busy machine is slow)


def run_and_kill(url: str, mode: str, seed: int, after: float) -> list[str]:
    """Run the driver and SIGKILL it `after` seconds into the live session: counted from when the
    app shows the resumed method, not from the process start, so a slow start (the suite runs on
    two workers, maybe beside other work) does not use up the time the session runs."""
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), url, mode, str(seed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    live = threading.Event()  # set when the driver says RESUMED, or stops before it

    stdout, stderr = proc.stdout, proc.stderr
    assert stdout is not None and stderr is not None  # both piped

    def read() -> None:
        for ln in iter(stdout.readline, ""):
            lines.append(ln)
            if ln.startswith("RESUMED"):
                live.set()
        live.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    live.wait(STARTUP)
    time.sleep(after)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    reader.join(timeout=5)
    err = stderr.read()
    assert "Traceback" not in err, err
    return [ln.rstrip("\n") for ln in lines]


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing_confirmed(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    engine = make_engine(url)
    import_bank(engine, shipped_bank())
    rnd = random.Random(20261123)
    aid = None
    last_ask = None
    expected_ask = None
    confirmed_lines = 0
    i = -1
    # KILLS kills; on a busy machine the driver does less before each kill, so it runs on (up to
    # 3 x KILLS kills) until it has confirmed as many steps as KILLS: enough to test something
    while (i := i + 1) < KILLS or (confirmed_lines < KILLS and i < 3 * KILLS):
        lines = run_and_kill(url, "start" if i == 0 else "resume", i, rnd.uniform(0.25, 2.75))
        if i == 0:
            assert lines and lines[0].startswith("STARTED"), lines
            aid = int(lines[0].split()[1])
        resumed = next((ln for ln in lines if ln.startswith("RESUMED")), None)
        view = S.load(engine, aid)
        (m,) = view.methods
        asks = {q.ask_id: q for q in m.questions if q.ask_id}
        if resumed is not None and i > 0:  # the same method and question as stored when it was killed
            _, am_id, ask, text = resumed.split(" ", 3)
            assert int(am_id) == m.id
            assert ask == str(expected_ask), (i, resumed, expected_ask)
            if expected_ask is not None:  # with the notes the store held (typing since only appends)
                assert asks[expected_ask].notes.startswith(ast.literal_eval(text)), (i, resumed)
        evidence = len([e for e in m.evidence if not e.retracted])
        for ln in lines:
            if not ln.startswith("CONFIRMED"):
                continue
            confirmed_lines += 1
            _, kind, rest = ln.split(" ", 2)
            if kind == "ask":
                last_ask = int(rest)
                assert last_ask in asks, f"kill {i}: confirmed ask {last_ask} missing"
            elif kind == "notes":
                ask_id, text = rest.split(" ", 1)
                stored = asks[int(ask_id)].notes
                # typing only appends, so the store holds the confirmed text, or more of it
                assert stored.startswith(ast.literal_eval(text)), (i, stored, text)
            elif kind == "evidence":
                assert evidence >= int(rest), f"kill {i}: {rest} evidence entries confirmed, {evidence} stored"
        # what the next start must resume: the question the store says was current, never an
        # older one than the last the app confirmed
        expected_ask = S.load(engine, aid).ui.get("ask")
        if last_ask is not None:
            assert expected_ask is not None and expected_ask >= last_ask, (i, expected_ask, last_ask)
    assert confirmed_lines >= KILLS, "the driver confirmed too little to test anything"
