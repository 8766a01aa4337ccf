"""Benchmark: several processes drawing at once into one store, for different apprentices.

Run: .venv/bin/python bench/bench_concurrent_draws.py --postgres URL [--processes 8] [--draws 50]
         [--questions 2000] [--shipped] [--per-apprentice 2] [--shared]
     .venv/bin/python bench/bench_concurrent_draws.py --sqlite [FILE] ...

The store is a fresh schema of the PostgreSQL database at URL (dropped afterwards), or one SQLite
file (a temporary one unless FILE is given). It holds a generated bank of --questions questions
(bench/synthetic.py, 100 outcomes, released and imported), or with --shipped the banks in banks/;
the draws go round every (standard, method) pair of the store. Each of --processes processes
(started fresh, `spawn`) makes one warm-up draw per pair (its cold first draws: the pools are read
then; timed apart), waits for the others, then makes --draws draws through `qbank.draws.draw_set`, each
apprentice getting --per-apprentice of them (different methods when there are several). With
--shared every process draws for the same apprentices at the same moment instead (the unique
apprentice+question constraint and the retries then do the work).

Reports throughput (successful draws per second, first start to last finish), p50/p99 latency per
draw, errors (any exception) and repeats: afterwards, the draw_item rows are checked for any
apprentice holding the same question more than once, across all their draws (voided or not).
Issue 12's target on PostgreSQL: 0 errors, 0 repeats, throughput and p99 reported.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text
from synthetic import write_synthetic_bank

from qbank.draws import DrawRequest, draw_set
from qbank.importer import import_bank
from qbank.models import DrawItemRow, DrawRow, MethodRow, StandardRow, table_of
from qbank.releases import make_release
from qbank.store import make_engine
from qbank.validation import load_bank

REPO = Path(__file__).resolve().parent.parent


def worker(p: int, url: str, pairs, args, barrier, results) -> None:
    """One process: a warm-up draw per pair, then args.draws timed draws; (p, colds, draws, start, end),
    each draw a (latency, error or None)."""
    engine = make_engine(url, create=False)

    def one(apprentice: str, k: int) -> tuple[float, str | None]:
        std, meth = pairs[k % len(pairs)]
        t = time.perf_counter()
        try:
            draw_set(engine, DrawRequest(std, meth, apprentice, cohort=f"Employer {k % 10:02d}"))
            err = None
        except Exception as e:  # noqa: BLE001  (every failure counts, whatever it is)
            err = f"{type(e).__name__}: {e}"[:300]
        return time.perf_counter() - t, err

    colds = [one(f"WARM-{p}", k) for k in range(len(pairs))]  # each pool read once, before the clock starts
    barrier.wait()
    start = time.monotonic()
    out = []
    for j in range(args.draws):
        if args.shared:
            apprentice, k = f"SHARED-{j // args.per_apprentice}", p + j
        else:
            apprentice, k = f"P{p}-A{j // args.per_apprentice}", j + p
        out.append(one(apprentice, k))
    results.put((p, colds, out, start, time.monotonic()))
    engine.dispose()


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--postgres", metavar="URL", help="a PostgreSQL database; a fresh schema is made and dropped")
    where.add_argument("--sqlite", nargs="?", const="", metavar="FILE", help="one SQLite file (default: temporary)")
    ap.add_argument("--processes", type=int, default=8)
    ap.add_argument("--draws", type=int, default=50, help="timed draws per process")
    ap.add_argument("--questions", type=int, default=2000, help="generated bank size")
    ap.add_argument("--shipped", action="store_true", help="draw from the shipped banks instead")
    ap.add_argument("--per-apprentice", type=int, default=2, help="draws per apprentice")
    ap.add_argument("--shared", action="store_true", help="all processes draw for the same apprentices")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="qbank-conc-") as tmpname:
        tmp = Path(tmpname)
        admin, schema = None, None
        if args.postgres:
            schema = f"qbank_conc_{uuid.uuid4().hex[:10]}"
            admin = make_engine(args.postgres, create=False)
            with admin.begin() as c:
                c.execute(text(f'CREATE SCHEMA "{schema}"'))
            sep = "&" if "?" in args.postgres else "?"
            url = f"{args.postgres}{sep}options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{Path(args.sqlite).resolve() if args.sqlite else tmp / 'conc.db'}"
        try:
            run(url, tmp, args)
        finally:
            if admin is not None:
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()


def run(url: str, tmp: Path, args) -> None:
    engine = make_engine(url)
    if args.shipped:
        bank = load_bank(REPO / "banks", health=False)
        what = "the shipped banks"
    else:
        root = write_synthetic_bank(tmp / "banks", args.questions, 100)
        make_release(load_bank(root, health=False), "SYN01", "1.0.0")
        bank = load_bank(root, health=False)
        what = f"a generated bank of {args.questions:,} questions, 100 outcomes"
    import_bank(engine, bank)
    std, meth, DI = table_of(StandardRow), table_of(MethodRow), table_of(DrawItemRow).c
    with engine.connect() as c:
        pairs = [
            tuple(r)
            for r in c.execute(
                select(std.c.code, meth.c.key)
                .join(meth, meth.c.standard_id == std.c.id)
                .order_by(std.c.code, meth.c.position)
            )
        ]
    print(f"store: {engine.dialect.name}; {what}; {len(pairs)} (standard, method) pairs")
    print(
        f"{args.processes} processes x {args.draws} draws, {args.per_apprentice} per apprentice"
        f"{', apprentices shared by all processes' if args.shared else ''}; "
        f"{os.cpu_count()} CPUs, load average {[round(x, 2) for x in os.getloadavg()]}",
        flush=True,
    )
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(args.processes), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(p, url, pairs, args, barrier, results)) for p in range(args.processes)]
    for pr in procs:
        pr.start()
    got = [results.get() for _ in procs]
    for pr in procs:
        pr.join()
    bad = [pr.exitcode for pr in procs if pr.exitcode]
    if bad:
        sys.exit(f"a worker process died (exit codes {bad})")

    colds = [lat for g in got for lat, _ in g[1]]
    cold_errors = [err for g in got for _, err in g[1] if err]
    draws = [d for g in got for d in g[2]]
    ok = [lat for lat, err in draws if err is None]
    errors = [err for _, err in draws if err] + cold_errors
    span = max(g[4] for g in got) - min(g[3] for g in got)
    with engine.connect() as c:
        stored = c.execute(select(func.count()).select_from(DrawRow)).scalar_one()
        repeats = c.execute(
            select(DI.apprentice_id, DI.question_id, func.count())
            .group_by(DI.apprentice_id, DI.question_id)
            .having(func.count() > 1)
        ).all()
        items = c.execute(select(func.count()).select_from(DrawItemRow)).scalar_one()
    engine.dispose()
    print(
        f"warm-up (each process's first draw of each pair, pools read): median {statistics.median(colds):.2f} s, "
        f"max {max(colds):.2f} s"
    )
    if ok:
        print(
            f"throughput: {len(ok) / span:.1f} draws/s ({len(ok)} draws in {span:.2f} s); "
            f"latency per draw p50 {pct(ok, 0.5) * 1000:.0f} ms, p99 {pct(ok, 0.99) * 1000:.0f} ms, "
            f"max {max(ok) * 1000:.0f} ms"
        )
    print(f"errors: {len(errors)}")
    for e in sorted(set(errors))[:5]:
        print(f"  {errors.count(e)} x {e}")
    print(
        f"repeats: {len(repeats)} (apprentice, question) pairs held more than once, in {items} draw items "
        f"of {stored} stored draws (expected {len(ok) + len(colds) - len(cold_errors)})"
    )
    print(f"load average at end {[round(x, 2) for x in os.getloadavg()]}")
    if errors or repeats:
        sys.exit(1)


if __name__ == "__main__":
    main()
