"""A whole method run by keys in a real terminal (tmux at 80x24), as an assessor meets it: ask,
type notes, log evidence by the fast path, end (with the reason an early end needs), confirm and
complete; then the store is read to check that every evidence entry credits only outcomes the
assessor selected from the asked question's targets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest
from tests_support import REPO, shipped_bank

from qbank import sessions as S
from qbank.importer import import_bank
from qbank.store import make_engine

TMUX = shutil.which("tmux")
TMUX_CMD = TMUX or "tmux"  # absent, the tests are skipped (below), or fail as they should on CI
pytestmark = pytest.mark.skipif(
    TMUX is None and os.environ.get("CI") != "true", reason="tmux is not installed (CI installs it)"
)


class Term:
    def __init__(self, name: str, cmd: str, env: dict[str, str], size=(80, 24)):
        self.name = name
        envs = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(
            [TMUX_CMD, "new-session", "-d", "-s", name, "-x", str(size[0]), "-y", str(size[1]), f"env {envs} {cmd}"],
            check=True,
        )
        subprocess.run([TMUX_CMD, "set-option", "-t", name, "remain-on-exit", "on"], check=True)

    def screen(self) -> str:
        return subprocess.run([TMUX_CMD, "capture-pane", "-p", "-t", self.name], capture_output=True, text=True).stdout

    def keys(self, *keys: str) -> None:
        for k in keys:
            subprocess.run([TMUX_CMD, "send-keys", "-t", self.name, k], check=True)
            time.sleep(0.05)

    def text(self, s: str) -> None:
        subprocess.run([TMUX_CMD, "send-keys", "-t", self.name, "-l", s], check=True)

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            shown = self.screen()
            if needle in shown:
                return shown
            time.sleep(0.1)
        raise AssertionError(f"'{needle}' never appeared; the terminal shows:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run([TMUX_CMD, "kill-session", "-t", self.name], capture_output=True)


@pytest.mark.slow
def test_a_whole_method_by_keys_at_80x24_credits_only_chosen_targets(tmp_path):
    if TMUX is None:
        pytest.fail("CI must have tmux for the real-terminal test")
    url = f"sqlite:///{tmp_path / 'term.db'}"
    engine = make_engine(url)
    import_bank(engine, shipped_bank())
    aid = S.start_assessment(engine, S.StartRequest(standard="UOB-HCSL", apprentice="TERM-1", assessor="Pat"))
    env = {
        "QBANK_DATABASE_URL": url,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "QBANK_CONFIG_DIR": str(tmp_path / "config"),
        "TERM": "xterm-256color",
        "PYTHONPATH": str(REPO),
    }
    term = Term(f"qbank-{uuid.uuid4().hex[:8]}", f"{sys.executable} -m qbank tui --resume {aid}", env)
    try:
        term.wait_for("Next (Enter asks)")
        for n in range(2):
            before = len(S.load(engine, aid).methods[0].evidence)
            term.keys("F2")
            term.wait_for("targets")
            term.text(f"answer {n} with an example")
            term.wait_for(f"answer {n}")
            term.keys("F3")
            term.wait_for("Evidence ·")
            term.text("good example")  # typed straight into the note from the tick list
            term.wait_for("good example")
            term.keys("Enter")
            deadline = time.monotonic() + 30
            while len(S.load(engine, aid).methods[0].evidence) == before and time.monotonic() < deadline:
                time.sleep(0.1)
            term.wait_for("Next (Enter asks)")
        term.keys("F8")
        shown = term.wait_for("Grade from the rules")
        assert "UNCOVERED" in shown or "Every outcome" in shown
        if "Ending early" in shown:
            term.text("ended by agreement")
            term.keys("Enter")  # Enter in the reason ends the method with the rules' grade
        else:
            term.keys("BTab", "Enter")
        term.wait_for("Method grades")
        term.keys("c")
        term.wait_for("Complete the assessment?")
        term.keys("BTab", "Enter")
        term.wait_for("Assessment complete")
    finally:
        final = term.screen()
        term.close()
    v = S.load(engine, aid)
    assert v.status == "complete", final
    m = v.methods[0]
    targets = {q.ask_id: set(q.outcomes) for q in m.questions if q.ask_id}
    live = [e for e in m.evidence if not e.retracted]
    assert len(live) >= 2
    for e in live:
        assert e.ask_id in targets, e
        assert set(e.outcomes) <= targets[e.ask_id], (e.outcomes, targets[e.ask_id])
    for ask_id, outs in targets.items():  # the fast path credited the whole of each question's targets
        if any(e.ask_id == ask_id for e in live):
            assert set().union(*(set(e.outcomes) for e in live if e.ask_id == ask_id)) == outs
