"""Every review over a store of about 100,000 logged asks, on SQLite and PostgreSQL.

Run: .venv/bin/python bench/bench_reviews.py [--sets 13100] [--repeat 3] [--postgres URL] [--pairs]
Builds the seeded review world (bench/review_world.py: ~8 asks per set) into a fresh SQLite file
(and a fresh PostgreSQL schema when --postgres is given), then times each review with the
standard+method filters a reviewer would use, without filters, and for one assessor; medians of
--repeat runs. Baseline in the same process: reading every ask row once (id, question, status) into
Python, so the ratio says how many plain passes over the asks each review costs. `--sets 25000`
gives ~200,000 asks (the target: every review under 3 s there).

--pairs (no store): the overlap review's most-shared-pairs search on one cohort of 2,000 to 32,000
synthetic sets, against comparing every pair (as bit masks, as the review once did), with the
growth exponent of each (time ~ sets^k; 2 is quadratic).
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
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
from qbank.reviews import KINDS, Filters, _most_shared_pairs, review
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
        (Filters(standard="ST0556", assessor=review_world.ASSESSORS[0]), "assessor"),
    ):
        for kind in KINDS:
            if kind == "health" and name != "ST0556 PD":
                continue
            scope = filters
            if kind in ("assessors", "health", "adhoc"):
                scope = Filters(standard=filters.standard, assessor=filters.assessor)
            m = median_s(lambda kind=kind, scope=scope: review(engine, kind, scope), repeat)
            ok = "ok" if m < 3.0 else "OVER 3 s"
            print(f"[{label}] {kind:13s} {name:9s} {m:6.2f} s  ({m / base:5.1f}x the baseline)  {ok}")


def every_pair(members: list, k: int) -> list:
    """The search the overlap review used to make: every pair of the cohort, as bit masks."""
    index = {q: i for i, q in enumerate(sorted({q for m in members for q in m[3]}))}
    masks = [sum(1 << index[q] for q in m[3]) for m in members]
    order = sorted(range(len(members)), key=lambda i: members[i][2])
    best = heapq.nlargest(
        k,
        (
            ((masks[i] & masks[j]).bit_count(), -p, -q)
            for p, i in enumerate(order)
            for q, j in enumerate(order[p + 1 :], start=p + 1)
        ),
    )
    return [(shared, members[order[-p]], members[order[-q]]) for shared, p, q in best]


def pairs_bench(repeat: int) -> None:
    """One cohort of n sets of 8: from 46 questions (as ST0556 professional discussion: most pairs
    share some), and from 2,000 (a large bank: few do)."""
    for pool in (46, 2000):
        rnd = random.Random(5)
        questions = [f"Q{i:04d}" for i in range(pool)]
        searched: dict[int, float] = {}
        compared: dict[int, float] = {}  # every pair
        for n in (2000, 8000, 32000):
            members = [(i, "Cohort", f"A{i:06d}", frozenset(rnd.sample(questions, 8))) for i in range(n)]
            new = median_s(lambda members=members: _most_shared_pairs(members, 3), repeat)
            searched[n] = new
            shared = _most_shared_pairs(members, 3)[0][0]
            line = f"[pairs] pool {pool:5d}, {n:6,d} sets (top pair shares {shared}): search {new * 1000:8.1f} ms"
            if n <= 8000:  # every pair: 32 million pairs at 8,000 sets, 512 million at 32,000
                t = time.perf_counter()
                assert every_pair(members, 3) == _most_shared_pairs(members, 3)
                compared[n] = time.perf_counter() - t
                line += f", every pair {compared[n]:6.2f} s ({compared[n] / new:5.0f}x)"
            print(line)
        for label, times in (("search", searched), ("every pair", compared)):
            a, b = min(times), max(times)
            k = math.log(times[b] / times[a]) / math.log(b / a)
            print(f"[pairs] pool {pool:5d}: {label} grows as sets^{k:.2f} from {a:,} to {b:,} sets")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", type=int, default=13_100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--pairs", action="store_true", help="only the pair search, on synthetic cohorts (no store)")
    args = ap.parse_args()
    if args.pairs:
        pairs_bench(args.repeat)
        return
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
