"""Benchmark: validate and import a synthetic 10,000-question bank; near-duplicate scan vs naive loop.

Run: .venv/bin/python bench/bench_banks.py [--repeat 5] [--postgres URL]
Prints medians (seconds) and ratios; figures go in BENCHMARKS.md with machine, command and date.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from synthetic import write_synthetic_bank

from qbank.importer import import_bank
from qbank.releases import make_release
from qbank.similarity import naive_near_duplicates, near_duplicates
from qbank.store import make_engine, table_counts
from qbank.validation import load_bank


def timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, result


def pg_engine(base: str):
    schema = f"qbank_bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base, create=False)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    return make_engine(f"{base}{sep}options=-csearch_path%3D{schema}"), admin, schema


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=10_000)
    ap.add_argument("--outcomes", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--postgres", help="also time import into this PostgreSQL URL")
    args = ap.parse_args()

    out: dict = {"machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}"}
    with tempfile.TemporaryDirectory() as tmp:
        root = write_synthetic_bank(Path(tmp) / "banks", args.questions, args.outcomes)
        bank = load_bank(root)
        assert not bank.errors, [p.render() for p in bank.errors[:5]]
        make_release(bank, "SYN01", "1.0.0")

        med, runs, bank = timed(lambda: load_bank(root), args.repeat)
        assert not bank.errors
        out["validate_s"] = {"median": round(med, 3), "runs": [round(r, 3) for r in runs]}

        med, runs, _ = timed(lambda: load_bank(root, health=False), args.repeat)
        out["parse_only_s"] = {"median": round(med, 3)}

        texts = {q.id: q.text for q in bank.questions}
        med, _, pairs = timed(lambda: near_duplicates(texts, 90), args.repeat)
        out["near_dup_scan_10k_s"] = {"median": round(med, 3), "pairs": len(pairs)}

        # the same 1,000-question subset, with 20 planted near-copies, for both scans
        sub = dict(list(texts.items())[:1000])
        for i, v in enumerate(list(sub.values())[:20]):
            sub[f"COPY-{i}"] = v.replace(" ", "  ", 1)[:-3] + "??"
        fast_med, _, fast = timed(lambda: near_duplicates(sub, 90), args.repeat)
        naive_med, _, naive = timed(
            lambda: naive_near_duplicates(sub, 90, prenormalise=False), max(1, args.repeat // 2)
        )
        tuned_med, _, tuned = timed(lambda: naive_near_duplicates(sub, 90), max(1, args.repeat // 2))
        assert fast == naive == tuned, "fast scan disagrees with the pairwise loops"
        out["near_dup_1k"] = {
            "texts": len(sub),
            "fast_median_s": round(fast_med, 4),
            "naive_loop_median_s": round(naive_med, 3),
            "speedup_vs_naive_loop": round(naive_med / fast_med, 1),
            "prenormalised_loop_median_s": round(tuned_med, 3),
            "speedup_vs_prenormalised_loop": round(tuned_med / fast_med, 1),
            "pairs_found": len(fast),
        }

        def sqlite_import():
            db = Path(tmp) / f"{uuid.uuid4().hex}.db"
            eng = make_engine(f"sqlite:///{db}")
            t = time.perf_counter()
            rep = import_bank(eng, bank)
            dt = time.perf_counter() - t
            again = time.perf_counter()
            rep2 = import_bank(eng, bank)
            dt2 = time.perf_counter() - again
            counts = table_counts(eng)
            eng.dispose()
            assert rep.new_versions == args.questions and not rep2.new_releases
            return dt, dt2, counts

        runs = [sqlite_import() for _ in range(args.repeat)]
        out["import_sqlite_s"] = {
            "median": round(statistics.median(r[0] for r in runs), 3),
            "reimport_median": round(statistics.median(r[1] for r in runs), 3),
            "rows": runs[0][2],
        }
        if args.postgres:
            pruns = []
            for _ in range(args.repeat):
                eng, admin, schema = pg_engine(args.postgres)
                t = time.perf_counter()
                import_bank(eng, bank)
                pruns.append(time.perf_counter() - t)
                eng.dispose()
                with admin.begin() as c:
                    c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
                admin.dispose()
            out["import_postgres_s"] = {"median": round(statistics.median(pruns), 3)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
