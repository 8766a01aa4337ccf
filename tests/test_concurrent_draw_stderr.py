"""Simultaneous `qbank draw` commands for the same apprentices on PostgreSQL (issue 14, item 12).

When two draws take the same question for an apprentice at once, the unique no-repeat constraint
refuses one and that draw is retried. psycopg used to print "error ignored terminating
<psycopg.Pipeline [INERROR]>: pipeline aborted" on the terminal of a draw that then succeeded
(10 of 40 commands): the items were inserted with a pipelined executemany, and leaving the
aborted pipeline logged a warning. Every command must either succeed quietly or fail with a
clear message; no stderr line may mention the pipeline.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

N = 24  # simultaneous commands
APPRENTICES = ("APP-1", "APP-2", "APP-3")  # so each apprentice gets several draws at once


def _env(url: str) -> dict[str, str]:
    env = {**os.environ, "QBANK_DATABASE_URL": url}
    env.pop("QBANK_DEBUG", None)
    return env


def _qbank(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qbank", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=60
    )


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_simultaneous_draws_print_nothing_from_psycopg(db_url, bank_dir):
    env = _env(db_url)
    assert _qbank("release", "TST01", "1.0.0", "--path", str(bank_dir), env=env).returncode == 0
    r = _qbank("import", str(bank_dir), env=env)
    assert r.returncode == 0, r.stderr

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "qbank", "draw", "--standard", "TST01", "--method", method]
            + ["--apprentice", APPRENTICES[i % len(APPRENTICES)], "--format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for i, method in enumerate(["professional-discussion", "presentation-questioning"] * (N // 2))
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=90)
        results.append((p.returncode, out, err))

    succeeded = [r for r in results if r[0] == 0]
    assert succeeded, "no draw succeeded: " + "\n".join(r[2] for r in results)
    for code, _out, err in results:
        assert code in (0, 1), err
        if code == 1:  # e.g. every unseen question already drawn for this apprentice: said plainly
            assert err.startswith("qbank draw: ") and "Traceback" not in err, err
        else:
            assert err == "", f"a successful draw wrote to stderr:\n{err}"
        for line in err.splitlines():
            assert "pipeline" not in line.lower() and "error ignored" not in line.lower(), err

    # the no-repeat rule held under the race: no question stored twice for one apprentice
    from sqlalchemy import text

    from qbank.store import make_engine

    engine = make_engine(db_url, create=False)
    try:
        with engine.connect() as c:
            repeats = c.execute(
                text(
                    "SELECT apprentice_id, question_id, count(*) FROM draw_item WHERE void_key = 0 "
                    "GROUP BY apprentice_id, question_id HAVING count(*) > 1"
                )
            ).all()
    finally:
        engine.dispose()
    assert repeats == []
