"""Benchmark: whole commands as a user runs them, a new `qbank` process each time, on generated banks.

Run: .venv/bin/python bench/bench_commands.py [--sizes 1000,10000,50000] [--outcomes 200] [--repeat 3]
         [--draw-base 2000] [--stored-draws 100000] [--only validate,import,...] [--postgres URL] [--json FILE]

For each size N a synthetic bank (bench/synthetic.py: N questions, --outcomes outcomes, the same
number for every size; the discussion gets 240 minutes per 100 outcomes so a set can cover them all)
is written to a temporary folder and released in-process; then each command below runs --repeat
times in a fresh process, against a store of its own (SQLite file, or a fresh PostgreSQL schema
with --postgres), with the user's config and data folders isolated:

  validate     qbank validate BANK (released: the pairs its manifest recorded are reused)
  validate-new qbank validate on a copy of BANK without its releases (the first validate of a
               bank never released: every text scanned)
  import       qbank import BANK into an empty store (a new store each repeat)
  reimport     qbank import BANK again, nothing changed
  draw         qbank draw --standard SYN01 --method professional-discussion --apprentice <new one>
  list         qbank list --limit 20
  list-filter  qbank list --standard SYN01 --outcome K7 --limit 20
  show         qbank show SYN-00042
  draw-stored  the same draw after --stored-draws draws of that method (~10 items each, 2 per
               apprentice, none repeating a question) were written straight into the store

Floors are timed too: `python -c "import qbank.cli"` and `qbank --help` (what every command pays),
and opening an up-to-date store in a new process (`make_engine()`: SQLAlchemy, the models and the
schema check; what every command that reads the store pays). The first table gives medians and
growth exponents log(t2/t1)/log(n2/n1) between consecutive sizes; the second the medians minus the
`qbank --help` floor and minus the open-store floor; then the ratios issue 12's targets name (a cold
draw at the largest size vs --draw-base questions, timed on a bank of that size with the draw
commands only; a draw with stored draws vs none). A command that fails stops the run with its stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine
from synthetic import write_synthetic_bank

import qbank
from qbank.importer import import_bank
from qbank.limits import MAX_METHOD_MINUTES
from qbank.models import (
    ApprenticeRow,
    DrawItemRow,
    DrawRow,
    MethodRow,
    QuestionRow,
    QuestionVersionMethodRow,
    QuestionVersionRow,
    ReleaseItemRow,
    ReleaseRow,
    StandardRow,
    table_of,
)
from qbank.releases import make_release
from qbank.store import make_engine
from qbank.validation import load_bank

CODE = Path(qbank.__file__).resolve().parent.parent  # the children run this qbank too (PYTHONPATH)
QBANK = str(Path(sys.executable).parent / "qbank")
STANDARD, METHOD = "SYN01", "professional-discussion"
COMMANDS = ("validate", "validate-new", "import", "reimport", "draw", "list", "list-filter", "show", "draw-stored")
DRAW_COMMANDS = ("draw", "draw-stored")
OPEN_STORE = "from qbank.store import make_engine; make_engine()"


class Stores:
    """New empty stores: SQLite files in `tmp`, or fresh schemas in a PostgreSQL database."""

    def __init__(self, tmp: Path, postgres: str | None):
        self.tmp, self.postgres = tmp, postgres
        self.schemas: list[str] = []
        self.admin = make_engine(postgres, create=False) if postgres else None

    def new(self) -> str:
        if not self.postgres:
            return f"sqlite:///{self.tmp / f'{uuid.uuid4().hex[:10]}.db'}"
        schema = f"qbank_cmd_{uuid.uuid4().hex[:10]}"
        assert self.admin is not None
        with self.admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
        self.schemas.append(schema)
        sep = "&" if "?" in self.postgres else "?"
        return f"{self.postgres}{sep}options=-csearch_path%3D{schema}"

    def close(self) -> None:
        if self.admin is not None:
            with self.admin.begin() as c:
                for schema in self.schemas:
                    c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            self.admin.dispose()


def run(argv: list[str], env: dict[str, str]) -> float:
    """Seconds the command took as a whole process; stops the benchmark if it fails."""
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit(
            f"\nFAILED (exit {p.returncode}): {' '.join(argv)}\n"
            f"QBANK_DATABASE_URL={env.get('QBANK_DATABASE_URL')}\n--- stderr\n{p.stderr[-4000:]}\n"
            f"--- stdout\n{p.stdout[-2000:]}"
        )
    return dt


def store_draws(engine: Engine, n_draws: int, seed: int = 11, per_set: int = 10) -> None:
    """Write `n_draws` stored draws of SYN01's discussion in bulk, as `draw` would have made them:
    two per apprentice, `per_set` items each, no apprentice given any question twice."""
    rnd = random.Random(seed)
    std, meth, rel, q, qv, ri, qvm = (
        table_of(t)
        for t in (
            StandardRow,
            MethodRow,
            ReleaseRow,
            QuestionRow,
            QuestionVersionRow,
            ReleaseItemRow,
            QuestionVersionMethodRow,
        )
    )
    with engine.connect() as c:
        std_id = c.execute(select(std.c.id).where(std.c.code == STANDARD)).scalar_one()
        meth_id = c.execute(select(meth.c.id).where(meth.c.standard_id == std_id, meth.c.key == METHOD)).scalar_one()
        rel_id = c.execute(
            select(rel.c.id)
            .where(rel.c.standard_id == std_id)
            .order_by(rel.c.major.desc(), rel.c.minor.desc(), rel.c.patch.desc())
            .limit(1)
        ).scalar_one()
        pool = c.execute(
            select(q.c.code, q.c.id, qv.c.id)
            .join(qv, qv.c.question_id == q.c.id)
            .join(ri, ri.c.question_version_id == qv.c.id)
            .join(qvm, qvm.c.question_version_id == qv.c.id)
            .where(ri.c.release_id == rel_id, qvm.c.method_id == meth_id)
        ).all()
        first = {
            t: (c.execute(select(func.max(table_of(t).c.id))).scalar() or 0) + 1
            for t in (ApprenticeRow, DrawRow, DrawItemRow)
        }
    start = datetime.now(timezone.utc) - timedelta(days=180)
    step = timedelta(days=180) / max(n_draws, 1)
    apprentices, draws, items = [], [], []
    app_id, draw_id, item_id = first[ApprenticeRow], first[DrawRow], first[DrawItemRow]
    for n in range(0, n_draws, 2):
        apprentices.append({"id": app_id, "ref": f"STORED-{app_id}", "created_at": start + step * n})
        chosen = rnd.sample(pool, 2 * per_set)
        history: list[str] = []
        for k in range(min(2, n_draws - n)):
            when = start + step * (n + k)
            draws.append(
                {
                    "id": draw_id,
                    "standard_id": std_id,
                    "method_id": meth_id,
                    "release_id": rel_id,
                    "apprentice_id": app_id,
                    "attempt": "first" if k == 0 else "resit",
                    "cohort": f"Employer {rnd.randrange(20):02d}",
                    "extra_time_pct": 0,
                    "exposure_cap": 0.3,
                    "seed": f"{rnd.getrandbits(128):032x}",
                    "algorithm": "qbank-draw/1",
                    "exclude_json": json.dumps(sorted(history)),
                    "adhoc_exclude_json": "[]",
                    "usage_json": "{}",
                    "created_at": when,
                }
            )
            part = chosen[k * per_set : (k + 1) * per_set]
            for pos, (_code, qid, qv) in enumerate(part, start=1):
                items.append(
                    {
                        "id": item_id,
                        "draw_id": draw_id,
                        "position": pos,
                        "question_id": qid,
                        "question_version_id": qv,
                        "apprentice_id": app_id,
                        "origin": "draw",
                        "active": True,
                        "void_key": 0,
                    }
                )
                item_id += 1
            history += [p[0] for p in part]
            draw_id += 1
        app_id += 1
    with engine.begin() as c:
        for model, rows in ((ApprenticeRow, apprentices), (DrawRow, draws), (DrawItemRow, items)):
            for i in range(0, len(rows), 20_000):
                c.execute(insert(table_of(model)), rows[i : i + 20_000])
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for model in (ApprenticeRow, DrawRow, DrawItemRow):
                t = table_of(model).name
                c.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def machine() -> dict:
    commit = subprocess.run(["git", "-C", str(CODE), "log", "-1", "--format=%h"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(CODE), "status", "--porcelain"], capture_output=True, text=True)
    return {
        "code": str(CODE),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "commit": commit.stdout.strip() or "not a git checkout",
        "uncommitted_files": len(dirty.stdout.splitlines()) if commit.returncode == 0 else None,
        "date": datetime.now().isoformat(timespec="seconds"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000,50000", help="bank sizes (questions), comma-separated")
    ap.add_argument("--outcomes", type=int, default=200, help="outcomes in every bank (default 200)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repeat-at", default="", metavar="N:R,...", help="fewer repeats at some sizes, e.g. 50000:1")
    ap.add_argument("--draw-base", type=int, default=2000, help="bank timed with the draw commands only (0: none)")
    ap.add_argument("--stored-draws", type=int, default=100_000)
    ap.add_argument("--only", help=f"a subset of: {','.join(COMMANDS)}")
    ap.add_argument("--postgres", metavar="URL", help="stores in fresh schemas of this database instead of SQLite")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    only = [c.strip() for c in args.only.split(",")] if args.only else list(COMMANDS)
    unknown = set(only) - set(COMMANDS)
    if unknown:
        ap.error(f"unknown command(s) for --only: {', '.join(sorted(unknown))}; choose from {', '.join(COMMANDS)}")
    repeat_at = {int(k): int(v) for k, v in (p.split(":") for p in args.repeat_at.split(",") if p.strip())}
    all_sizes = sorted(set(sizes) | ({args.draw_base} if args.draw_base and set(only) & set(DRAW_COMMANDS) else set()))

    info = machine() | {
        "load_start": [round(x, 2) for x in os.getloadavg()],
        "store": "postgresql" if args.postgres else "sqlite",
    }
    print(f"machine: {info['platform']}, {info['processor']}, {info['cpus']} CPUs, python {info['python']}")
    dirty = "" if info["uncommitted_files"] is None else f" with {info['uncommitted_files']} uncommitted file(s)"
    print(f"code: {info['code']}, commit {info['commit']}{dirty}; store {info['store']}")
    print(f"load average at start: {info['load_start']}", flush=True)
    results: dict[str, dict[int, list[float]]] = {c: {} for c in COMMANDS}
    floor: dict[str, list[float]] = {}

    with tempfile.TemporaryDirectory(prefix="qbank-cmd-") as tmpname:
        tmp = Path(tmpname)
        stores = Stores(tmp, args.postgres)
        base_env = dict(os.environ)
        base_env.pop("QBANK_DEBUG", None)
        base_env |= {
            "QBANK_CONFIG_DIR": str(tmp / "config"),
            "XDG_CONFIG_HOME": str(tmp / "xdg-config"),
            "XDG_DATA_HOME": str(tmp / "xdg-data"),
            "PYTHONPATH": os.pathsep.join([str(CODE), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "QBANK_DATABASE_URL": stores.new(),
        }
        try:
            run([sys.executable, "-c", OPEN_STORE], base_env)  # creates the schema: not timed
            time_floors(floor, base_env, max(args.repeat, 5))
            for n in all_sizes:
                todo = [c for c in only if n in sizes or c in DRAW_COMMANDS]
                size_run(n, repeat_at.get(n, args.repeat), todo, tmp, stores, base_env, args, results)
            time_floors(floor, base_env, max(args.repeat, 5))  # again at the end: the load changes
        finally:
            stores.close()

    info["load_end"] = [round(x, 2) for x in os.getloadavg()]
    report(results, floor, sizes, args, info)
    if args.json:
        out = {
            "machine": info,
            "args": vars(args),
            "floor_s": floor,
            "results_s": {c: {str(n): xs for n, xs in by.items()} for c, by in results.items() if by},
        }
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.json}")


def time_floors(floor: dict[str, list[float]], env: dict[str, str], runs: int) -> None:
    for name, argv in (
        ("import qbank.cli", [sys.executable, "-c", "import qbank.cli"]),
        ("qbank --help", [QBANK, "--help"]),
        ("open store", [sys.executable, "-c", OPEN_STORE]),
    ):
        xs = [run(argv, env) for _ in range(runs)]
        floor.setdefault(name, []).extend(xs)
        print(f"floor: {name:<18} {' '.join(f'{x:.2f}' for x in xs)} s", flush=True)


def size_run(n, reps, todo, tmp, stores, base_env, args, results) -> None:
    """Time the commands in `todo` on a new bank of `n` questions, `reps` times each."""
    t0 = time.perf_counter()
    bank_dir = tmp / f"bank{n}"
    minutes = 240 * max(1, math.ceil(args.outcomes / 100))
    if minutes > MAX_METHOD_MINUTES:  # a bank may not give a method more than a day (qbank/limits.py)
        raise SystemExit(
            f"--outcomes {args.outcomes} needs {minutes} minutes of discussion to cover every outcome, more "
            f"than the {MAX_METHOD_MINUTES} a method may have: use at most 600 outcomes"
        )
    write_synthetic_bank(bank_dir, n, args.outcomes, discussion_minutes=minutes)
    make_release(load_bank(bank_dir, health=False), STANDARD, "1.0.0")
    print(
        f"\n{n:,} questions: bank written and released in {time.perf_counter() - t0:.1f} s; "
        f"load average {[round(x, 2) for x in os.getloadavg()]}",
        flush=True,
    )

    def timeit(cmd: str, runs: list[tuple[list[str], dict]]) -> None:
        results[cmd][n] = [run(argv, env) for argv, env in runs]
        print(f"  {cmd:<12} {' '.join(f'{x:.2f}' for x in results[cmd][n])} s", flush=True)

    main_url = None
    if "validate" in todo:
        timeit("validate", [([QBANK, "validate", str(bank_dir)], base_env)] * reps)
    if "validate-new" in todo:
        fresh = bank_dir.parent / "unreleased"
        shutil.copytree(bank_dir, fresh, ignore=shutil.ignore_patterns("releases"))
        timeit("validate-new", [([QBANK, "validate", str(fresh)], base_env)] * reps)
        shutil.rmtree(fresh)
    if "import" in todo or "reimport" in todo:
        envs = [base_env | {"QBANK_DATABASE_URL": stores.new()} for _ in range(reps)]
        timeit("import", [([QBANK, "import", str(bank_dir)], e) for e in envs])
        if "reimport" in todo:
            timeit("reimport", [([QBANK, "import", str(bank_dir)], e) for e in envs])
        if "import" not in todo:
            del results["import"][n]
        main_url = envs[-1]["QBANK_DATABASE_URL"]
    if main_url is None and set(todo) - {"validate", "validate-new"}:
        main_url = stores.new()
        eng = make_engine(main_url)
        import_bank(eng, load_bank(bank_dir, health=False))
        eng.dispose()
    env = base_env | {"QBANK_DATABASE_URL": main_url or ""}
    draw = [QBANK, "draw", "--standard", STANDARD, "--method", METHOD, "--apprentice"]
    if "draw" in todo:
        timeit("draw", [([*draw, f"COLD-{n}-{i}"], env) for i in range(reps)])
    if "list" in todo:
        timeit("list", [([QBANK, "list", "--limit", "20"], env)] * reps)
    if "list-filter" in todo:
        timeit(
            "list-filter", [([QBANK, "list", "--standard", STANDARD, "--outcome", "K7", "--limit", "20"], env)] * reps
        )
    if "show" in todo:
        timeit("show", [([QBANK, "show", "SYN-00042"], env)] * reps)
    if "draw-stored" in todo:
        t0 = time.perf_counter()
        eng = make_engine(main_url, create=False)
        store_draws(eng, args.stored_draws)
        eng.dispose()
        print(f"  ({args.stored_draws:,} draws stored in {time.perf_counter() - t0:.1f} s)", flush=True)
        timeit("draw-stored", [([*draw, f"STORED-COLD-{n}-{i}"], env) for i in range(reps)])
    shutil.rmtree(bank_dir)


def table(head: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for r in [head, *rows]:
        print("  ".join(x.rjust(w) if i else x.ljust(w) for i, (x, w) in enumerate(zip(r, widths))))


def report(results, floor, sizes, args, info) -> None:
    help_s, store_s = median(floor["qbank --help"]), median(floor["open store"])
    cols = sorted({n for by in results.values() for n in by})
    pairs = list(zip(sizes, sizes[1:]))
    meds = {cmd: {n: median(xs) for n, xs in by.items()} for cmd, by in results.items() if by}
    reps = f"--repeat {args.repeat}" + (f", --repeat-at {args.repeat_at}" if args.repeat_at else "")
    print(f"\nload average at end: {info['load_end']}")
    print(f"\nwhole commands, new process each: medians in seconds ({reps}), growth exponents")
    head = ["command"] + [f"{n:,}" for n in cols] + [f"exp {a / 1000:g}k->{b / 1000:g}k" for a, b in pairs]
    rows = [[name, fmt(median(xs))] + [""] * (len(head) - 2) for name, xs in floor.items()]
    for cmd, med in meds.items():
        row = [cmd] + [fmt(med.get(n)) for n in cols]
        row += [
            f"{math.log(med[b] / med[a]) / math.log(b / a):.2f}" if a in med and b in med else "-" for a, b in pairs
        ]
        rows.append(row)
    table(head, rows)
    print(f"\nabove the floors: median - `qbank --help` ({help_s:.2f} s) / median - open store ({store_s:.2f} s)")
    head = ["command"] + [f"{n:,}" for n in cols]
    rows = [
        [cmd] + [f"{med[n] - help_s:.2f} / {med[n] - store_s:.2f}" if n in med else "-" for n in cols]
        for cmd, med in meds.items()
    ]
    table(head, rows)

    print("\nissue 12's targets (ratios: target <= 1.5x)")
    draw, stored = results["draw"], results["draw-stored"]
    big = max(sizes)
    if args.draw_base and big in draw and args.draw_base in draw:
        r = median(draw[big]) / median(draw[args.draw_base])
        print(f"  cold draw, {big:,} vs {args.draw_base:,} questions: {r:.2f}x")
    for n in cols:
        if n in draw and n in stored:
            r = median(stored[n]) / median(draw[n])
            print(f"  cold draw at {n:,} questions, {args.stored_draws:,} stored draws vs none: {r:.2f}x")
    targets = [("validate", 5.0), ("validate-new", 5.0), ("import", 5.0), ("reimport", 0.5)]
    for cmd, limit in targets:
        if big in results[cmd]:
            print(f"  {cmd} at {big:,}: {median(results[cmd][big]):.2f} s (target < {limit} s)")


if __name__ == "__main__":
    main()
