"""Idempotent draws (issue 14, item 4): identical requests for one apprentice and method made at
the same moment give one set, on SQLite and PostgreSQL.

8 simultaneous identical `qbank draw` commands used to store 4 sets, using up the apprentice's
unseen questions. Now the draws of one apprentice and method are serialised (an advisory lock on
PostgreSQL, the write lock on SQLite) and an identical request within `draws.REUSE_WINDOW`
seconds gets the set already drawn, unless it was voided or an assessment uses it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from conftest import REPO
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col
from test_draws_store import PD, big_bank

from qbank import draws as draws_mod
from qbank import sessions as S
from qbank.draws import REUSE_WINDOW, DrawError, DrawRequest, draw_set, void_draws
from qbank.importer import import_bank
from qbank.models import AssessmentMethodRow, DrawRow, utcnow
from qbank.store import make_engine

N = 8


def _env(url: str) -> dict[str, str]:
    env = {**os.environ, "QBANK_DATABASE_URL": url}
    env.pop("QBANK_DEBUG", None)
    return env


def _qbank(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "qbank", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )


def _draw_rows(engine) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(DrawRow)).scalar_one()


@pytest.fixture
def stocked(engine, tmp_path):
    import_bank(engine, big_bank(tmp_path / "banks"))
    draws_mod._POOLS.clear()
    return engine


# --------------------------------------------------------------------------- the command, as people run it


def test_simultaneous_identical_draw_commands_store_one_set(db_url, bank_dir):
    env = _env(db_url)
    assert _qbank("release", "TST01", "1.0.0", "--path", str(bank_dir), env=env).returncode == 0
    r = _qbank("import", str(bank_dir), env=env)
    assert r.returncode == 0, r.stderr
    cmd = [sys.executable, "-m", "qbank", "draw", "--standard", "TST01", "--method", PD, "--apprentice", "SAME-1"]
    procs = [
        subprocess.Popen(
            cmd + ["--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO
        )
        for _ in range(N)
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for code, _out, err in results:
        assert code == 0 and err == "", err
    sets = [json.loads(out) for _code, out, _err in results]
    assert len({d["draw_id"] for d in sets}) == 1
    assert len({tuple(q["id"] for q in d["questions"]) for d in sets}) == 1
    assert sorted(d["existing"] for d in sets) == [False] + [True] * (N - 1)  # one drew, the others got its set
    engine = make_engine(db_url, create=False)
    try:
        assert _draw_rows(engine) == 1
    finally:
        engine.dispose()

    # said on stderr in the plain format, exit 0, the same set on stdout
    again = _qbank(*cmd[3:], env=env)
    assert again.returncode == 0, again.stderr
    assert again.stderr.startswith(f"qbank draw: an identical request drew this set in the last {REUSE_WINDOW} s")
    assert len(again.stderr.splitlines()) == 1 and f"(draw {sets[0]['draw_id']})" in again.stderr
    assert again.stdout.startswith(f"draw {sets[0]['draw_id']}: TST01 {PD}")

    # another apprentice is another request: a set of their own
    other = _qbank(*cmd[3:-1], "OTHER-1", "--format", "json", env=env)
    assert other.returncode == 0 and json.loads(other.stdout)["draw_id"] != sets[0]["draw_id"]


# --------------------------------------------------------------------------- the library


def test_threads_with_their_own_engines_get_one_set(stocked, db_url):
    barrier = threading.Barrier(N)
    engines = [make_engine(db_url) for _ in range(N)]
    results, errors = [], []

    def worker(i):
        barrier.wait()
        try:
            results.append(draw_set(engines[i], DrawRequest("TST01", PD, "T-1", cohort="ACME"), reuse_within=60))
        except DrawError as e:  # pragma: no cover - would fail the test below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for e in engines:
        e.dispose()
    assert not errors and len(results) == N
    assert len({r.draw_id for r in results}) == 1
    assert len({tuple(q.id for q in r.questions) for r in results}) == 1
    assert sum(not r.existing for r in results) == 1
    assert _draw_rows(stocked) == 1


def test_what_makes_a_request_different(stocked):
    first = draw_set(stocked, DrawRequest("TST01", PD, "D-1"), reuse_within=REUSE_WINDOW)
    assert not first.existing
    same = draw_set(stocked, DrawRequest("TST01", PD, " D-1 "), reuse_within=REUSE_WINDOW)
    assert same.existing and same.draw_id == first.draw_id
    assert [q.id for q in same.questions] == [q.id for q in first.questions]
    assert same.apprentice == "D-1" and same.budget_minutes == first.budget_minutes
    ids = {first.draw_id}
    for req in (
        DrawRequest("TST01", PD, "D-2"),  # another apprentice
        DrawRequest("TST01", PD, "D-1", attempt="resit"),
        DrawRequest("TST01", PD, "D-1", cohort="ACME"),
        DrawRequest("TST01", PD, "D-1", extra_time_pct=25),
        DrawRequest("TST01", PD, "D-1", exposure_cap=0.5),
    ):
        r = draw_set(stocked, req, reuse_within=REUSE_WINDOW)
        assert not r.existing and r.draw_id not in ids, req
        ids.add(r.draw_id)
    # without reuse_within (the library's default) every call draws
    assert draw_set(stocked, DrawRequest("TST01", PD, "D-2")).draw_id not in ids


def test_after_the_window_or_a_void_a_new_set_is_drawn(stocked, monkeypatch):
    req = DrawRequest("TST01", PD, "W-1")
    first = draw_set(stocked, req, reuse_within=REUSE_WINDOW)
    assert draw_set(stocked, req, reuse_within=REUSE_WINDOW).draw_id == first.draw_id
    later = utcnow() + timedelta(seconds=REUSE_WINDOW + 1)
    monkeypatch.setattr(draws_mod, "utcnow", lambda: later)  # the same request, just over the window later
    second = draw_set(stocked, req, reuse_within=REUSE_WINDOW)
    assert not second.existing and second.draw_id != first.draw_id
    assert not {q.id for q in second.questions} & {q.id for q in first.questions}  # still never repeated
    monkeypatch.undo()
    assert draw_set(stocked, req, reuse_within=REUSE_WINDOW).draw_id == second.draw_id  # the newest identical
    # a voided set is never handed out: the next request draws anew
    other = DrawRequest("TST01", PD, "V-1")
    voided = draw_set(stocked, other, reuse_within=REUSE_WINDOW)
    with Session(stocked) as s, s.begin():
        void_draws(s, [voided.draw_id])
    fresh = draw_set(stocked, other, reuse_within=REUSE_WINDOW)
    assert not fresh.existing and fresh.draw_id != voided.draw_id


def test_a_set_an_assessment_uses_is_never_returned_nor_taken(stocked):
    """An assessment's draw is never handed to a `qbank draw` request, and a start never takes the
    set a `qbank draw` request made: each assessment method has a set of its own."""
    start = S.StartRequest(standard="TST01", apprentice="AS-1", assessor="A. Assessor", methods=(PD,))
    loose = draw_set(stocked, DrawRequest("TST01", PD, "AS-1"), reuse_within=REUSE_WINDOW)
    aid = S.start_assessment(stocked, start)
    with Session(stocked) as s:
        used = s.execute(
            select(col(AssessmentMethodRow.draw_id)).where(col(AssessmentMethodRow.assessment_id) == aid)
        ).scalar_one()
    assert used is not None and used != loose.draw_id
    again = draw_set(stocked, DrawRequest("TST01", PD, "AS-1"), reuse_within=REUSE_WINDOW)
    assert again.draw_id == loose.draw_id  # the loose set is still the identical request's
    with Session(stocked) as s, s.begin():  # once an assessment uses the loose set, it is not handed out again
        am = s.execute(select(AssessmentMethodRow).where(col(AssessmentMethodRow.assessment_id) == aid)).scalar_one()
        am.draw_id = loose.draw_id
        void_draws(s, [used])  # (and the set it had is voided, so only a new draw will do)
    fresh = draw_set(stocked, DrawRequest("TST01", PD, "AS-1"), reuse_within=REUSE_WINDOW)
    assert not fresh.existing and fresh.draw_id not in (loose.draw_id, used)
