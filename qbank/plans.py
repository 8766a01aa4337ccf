"""Exposure plans in the store: solved once per release and method, read by `qbank simulate`,
`qbank gaps` and the health review (the floors a draw is measured against).

`solve_missing` solves (`floor.plan`, linear programming) and stores the plan of every method of
every release that has none: `qbank import` runs it after importing, `qbank plan` on its own (for
releases imported before plans existed, or after a run was interrupted). A plan is derived data,
like a release's pool; draws do not read it (`draws._draw_in` says why). `plan_for` gives the plan
of a pool, read once per process (a release never changes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlmodel import col

from .definition import for_release
from .draw import DrawSpec, Infeasible
from .exposure import ALGORITHM, Plan
from .models import MethodRow, ReleasePlanRow, ReleaseRow, StandardRow
from .pools import DrawError, Pool, pool_for

PLANS: dict[tuple[str, int, int], Plan | None] = {}  # (store URL, release id, method id) -> its plan


def plan_for(s: Session, engine: Engine, pool: Pool) -> Plan | None:
    """The stored plan of a pool's release and method, or None (not solved yet, or by another algorithm)."""
    key = (str(engine.url), pool.release_id, pool.method_id)
    if key in PLANS:
        return PLANS[key]
    row = s.execute(
        select(col(ReleasePlanRow.algorithm), col(ReleasePlanRow.payload)).where(
            col(ReleasePlanRow.release_id) == pool.release_id, col(ReleasePlanRow.method_id) == pool.method_id
        )
    ).first()
    found = Plan.from_dict(json.loads(row[1])) if row is not None and row[0] == ALGORITHM else None
    PLANS[key] = found  # a plan stored later by another process is seen by the next process, as pools are
    return found


@dataclass
class Solved:
    standard: str
    release: str
    method: str
    plan: Plan | None  # None when no set can be drawn at all (`problem` says why)
    problem: str = ""


def solve_missing(
    engine: Engine,
    standard: str | None = None,
    *,
    again: bool = False,
    progress: Callable[[str, str, str], None] | None = None,
) -> list[Solved]:
    """Solve and store the plan of every method of every release (of `standard`) that has none
    (every one, with `again`: after a change of algorithm); one transaction per plan, so an
    interrupted run keeps what it finished. `progress(standard, release, method)` is told before
    each solve, which can take seconds."""
    from .floor import plan  # SciPy: loaded only when something is to be solved

    with Session(engine) as s:
        rows = s.execute(
            select(StandardRow, ReleaseRow, MethodRow)
            .join(ReleaseRow, col(ReleaseRow.standard_id) == StandardRow.id)
            .join(MethodRow, col(MethodRow.standard_id) == StandardRow.id)
            .where(col(StandardRow.code) == standard if standard is not None else col(StandardRow.id).is_not(None))
            .order_by(col(StandardRow.code), col(ReleaseRow.id), col(MethodRow.key))
        ).all()
        known = (
            standard is None
            or rows
            or s.execute(select(col(StandardRow.id)).where(col(StandardRow.code) == standard)).first()
        )
        if not known:
            raise DrawError(f"no standard {standard} in the store (import it first: `qbank import`)")
        have = {
            (r, m): a
            for r, m, a in s.execute(
                select(col(ReleasePlanRow.release_id), col(ReleasePlanRow.method_id), col(ReleasePlanRow.algorithm))
            )
        }
        todo = []
        for std, rel, meth in rows:
            if for_release(rel).method(meth.key) is None:
                continue  # the method is not in this release
            if not again and have.get((rel.id, meth.id)) == ALGORITHM:
                continue
            todo.append((std, rel, meth, pool_for(s, engine, std, meth, rel)))
    done = []
    for std, rel, meth, pool in todo:
        if progress:
            progress(std.code, rel.semver, meth.key)
        spec = DrawSpec(method=pool.method, pool=pool.candidates, near_duplicates=pool.near_duplicates)
        try:
            solved = plan(spec)
        except Infeasible as e:
            done.append(Solved(std.code, rel.semver, meth.key, None, "; ".join(e.reasons)))
            continue
        _store(engine, rel.id, meth.id, solved, replace=again)
        PLANS.pop((str(engine.url), rel.id, meth.id), None)
        done.append(Solved(std.code, rel.semver, meth.key, solved))
    return done


def _store(engine: Engine, release_id: int, method_id: int, solved: Plan, *, replace: bool) -> None:
    payload = json.dumps(solved.as_dict(), sort_keys=True, separators=(",", ":"))
    try:
        with Session(engine) as s, s.begin():
            row = s.get(ReleasePlanRow, (release_id, method_id))
            if row is None:
                s.add(ReleasePlanRow(release_id=release_id, method_id=method_id, algorithm=ALGORITHM, payload=payload))
            elif replace or row.algorithm != ALGORITHM:
                row.algorithm, row.payload = ALGORITHM, payload
    except (IntegrityError, OperationalError):
        pass  # another process stored it first: the same plan, solved from the same release


def stored_plan_of(engine: Engine, standard: str, method: str, release: str | None = None) -> Plan | None:
    """The stored plan of a method in a release (the newest by default), or None."""
    from .pools import resolve_method

    with Session(engine) as s:
        std, meth, rel = resolve_method(s, standard, method, release)
        return plan_for(s, engine, pool_for(s, engine, std, meth, rel))
