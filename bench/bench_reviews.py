"""Every review over a store of about 100,000 logged asks, on SQLite and PostgreSQL.

Run: .venv/bin/python bench/bench_reviews.py [--sets 13100] [--repeat 3] [--postgres URL]
Builds the seeded review world (bench/review_world.py: ~8 asks per set) into a fresh SQLite file
(and a fresh PostgreSQL schema when --postgres is given), then times each review with the
standard+method filters a reviewer would use and without filters; medians of --repeat runs.
Baseline in the same process: reading every ask row once (id, question, status) into Python, so
the ratio says how many plain passes over the asks each review costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import review_world
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from qbank.importer import import_bank
from qbank.models import AskRow
from qbank.reviews import KINDS, Filters, review
from qbank.store import make_engine
from qbank.validation import load_bank

REPO = Path(__file__).resolve().parent.parent


def median_s(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run(engine, label: str, sets: int, repeat: int, bank) -> None:
    import_bank(engine, bank)
    t = time.perf_counter()
    w = review_world.build(engine, sets=sets, seed=11)
    print(f"[{label}] world: {w.sets:,} sets, {w.asks:,} asks written in {time.perf_counter() - t:.1f} s")

    def read_asks():
        with Session(engine) as s:
            s.execute(select(AskRow.id, AskRow.question_id, AskRow.status)).all()

    base = median_s(read_asks, max(repeat, 5))
    print(f"[{label}] baseline: read every ask row once: {base * 1000:.1f} ms")
    for filters, name in (
        (Filters(standard="ST0556", method="professional-discussion"), "ST0556 PD"),
        (Filters(), "no filter"),
    ):
        for kind in KINDS:
            if kind == "health" and name == "no filter":
                continue
            scope = filters if kind not in ("assessors", "health", "adhoc") else Filters(standard=filters.standard)
            m = median_s(lambda kind=kind, scope=scope: review(engine, kind, scope), repeat)
            ok = "ok" if m < 3.0 else "OVER 3 s"
            print(f"[{label}] {kind:13s} {name:9s} {m:6.2f} s  ({m / base:5.1f}x the baseline)  {ok}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=13_100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()
    bank = load_bank(REPO / "banks", health=False)
    with tempfile.TemporaryDirectory() as tmp:
        run(make_engine(f"sqlite:///{tmp}/reviews.db"), "sqlite", args.sets, args.repeat, bank)
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres, create=False)
        with admin.begin() as c:
            c.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            engine = make_engine(args.postgres, connect_args={"options": f"-csearch_path={schema}"})
            run(engine, "postgresql", args.sets, args.repeat, bank)
            engine.dispose()
        finally:
            with admin.begin() as c:
                c.execute(text(f"DROP SCHEMA {schema} CASCADE"))


if __name__ == "__main__":
    main()
