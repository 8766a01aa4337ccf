"""Exposure plans in the store (issue 17): solved once per release and method, used by every draw,
replayed exactly; a release without a plan draws as before."""

from __future__ import annotations

import json
import subprocess
import sys

from sqlalchemy.orm import Session
from test_draws_store import PD, big_bank

from qbank import draws as draws_mod
from qbank import plans
from qbank.draw import ALGORITHM
from qbank.draws import DrawRequest, draw_set, replay
from qbank.importer import import_bank
from qbank.models import DrawRow


def _fresh_process_caches() -> None:
    draws_mod._POOLS.clear()
    plans.PLANS.clear()


def test_a_release_is_planned_once_and_its_draws_replay(engine, tmp_path):
    """The plan is solved once per release and method and stored; draws, before and after it, are
    qbank-draw/3 (they do not steer towards its rates: `draws._draw_in` says why) and replay."""
    import_bank(engine, big_bank(tmp_path / "banks"))
    _fresh_process_caches()
    before = draw_set(engine, DrawRequest("TST01", PD, "APP-0"))  # no plan yet
    solved = plans.solve_missing(engine)
    assert [(x.standard, x.release, x.method) for x in solved] == [
        ("TST01", "1.0.0", m) for m in sorted(x.method for x in solved)
    ]
    pd = next(x for x in solved if x.method == PD)
    assert pd.plan is not None and pd.plan.proved and 0 < pd.plan.floor <= 1
    assert plans.solve_missing(engine) == []  # solved once: nothing left to solve
    stored = plans.stored_plan_of(engine, "TST01", PD)
    assert (
        stored is not None and abs(stored.floor - pd.plan.floor) < 1e-6 and stored.rates.keys() == pd.plan.rates.keys()
    )
    _fresh_process_caches()
    ids = [draw_set(engine, DrawRequest("TST01", PD, f"APP-{i}")).draw_id for i in range(1, 6)]
    with Session(engine) as s:
        for i in [before.draw_id, *ids]:
            row = s.get(DrawRow, i)
            assert row.algorithm == ALGORITHM and "targets" not in json.loads(row.usage_json)
    _fresh_process_caches()
    for i in [before.draw_id, *ids]:
        rp = replay(engine, i)
        assert rp.identical and rp.stored


def test_qbank_plan_names_an_unknown_standard_and_solves_the_rest(db_url, tmp_path):
    env_url = db_url
    root = tmp_path / "banks"
    big_bank(root)

    def run(*args: str) -> subprocess.CompletedProcess:
        import os

        env = {**os.environ, "QBANK_DATABASE_URL": env_url}
        return subprocess.run([sys.executable, "-m", "qbank", *args], capture_output=True, text=True, env=env)

    imp = run("import", str(root))
    assert imp.returncode == 0, imp.stderr
    assert f"plan TST01 1.0.0 {PD}: exposure floor" in imp.stdout and "(proved)" in imp.stdout
    again = run("plan")
    assert again.returncode == 0 and "every method of every release has its plan" in again.stdout
    bad = run("plan", "NOPE")
    assert bad.returncode == 1 and "no standard NOPE in the store" in bad.stderr and "Traceback" not in bad.stderr
    sim = run("simulate", "--standard", "TST01", "--method", PD, "--draws", "300", "--seed", "x")
    assert sim.returncode == 0, sim.stderr
    assert "linear programming over every valid set" in sim.stdout and "failed sets by attempt" in sim.stdout
