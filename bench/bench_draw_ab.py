"""Benchmark: a cold `qbank draw` as a user runs it (a fresh process each time) in two checkouts,
alternating A and B so the machine's noise falls on both; medians and the ratio B/A.

Run: git worktree add /tmp/wt_base REV
     .venv/bin/python bench/bench_draw_ab.py /tmp/wt_base . [--runs 11]

Each checkout gets its own SQLite store with its own shipped banks imported; each run draws
ST0556's professional discussion for a new apprentice.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="checkout A (e.g. a worktree of the base revision)")
    ap.add_argument("b", help="checkout B (e.g. .)")
    ap.add_argument("--runs", type=int, default=11)
    args = ap.parse_args()
    envs = {}
    for name, path in (("A", Path(args.a).resolve()), ("B", Path(args.b).resolve())):
        d = tempfile.mkdtemp()
        env = dict(
            os.environ,
            PYTHONPATH=str(path),
            QBANK_DATABASE_URL=f"sqlite:///{d}/s.db",
            XDG_DATA_HOME=d,
            XDG_CONFIG_HOME=d,
        )
        subprocess.run(
            [sys.executable, "-m", "qbank", "import", str(path / "banks")], env=env, check=True, capture_output=True
        )
        envs[name] = env
    times: dict[str, list[float]] = {"A": [], "B": []}
    for i in range(args.runs):
        for name, env in envs.items():
            cmd = [sys.executable, "-m", "qbank", "draw", "--standard", "ST0556", "--method", "professional-discussion"]
            t = time.perf_counter()
            r = subprocess.run([*cmd, "--apprentice", f"AB-{i}"], env=env, capture_output=True)
            times[name].append(time.perf_counter() - t)
            if r.returncode:
                raise SystemExit(f"{name}: qbank draw failed: {r.stderr.decode()[-300:]}")
    a, b = statistics.median(times["A"]), statistics.median(times["B"])
    print(f"A {args.a}: median {a:.3f} s; B {args.b}: median {b:.3f} s over {args.runs} runs each; B/A {b / a:.3f}")


if __name__ == "__main__":
    main()
