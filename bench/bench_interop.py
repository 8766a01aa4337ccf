"""Benchmark: `qbank export` and `qbank convert` of a 10,000-question release, per format, each a
new `qbank` process as a user runs it (issue 16: under 10 s each).

Run: .venv/bin/python bench/bench_interop.py [--size 10000] [--repeat 3] [--formats csv,xlsx,moodle,qti]
         [--json FILE]

A synthetic bank (bench/synthetic.py: --size questions over 100 outcomes, two methods) is written to
a temporary folder, released (1.0.0) in-process and imported into a SQLite store. Then, for each
format, --repeat times each:

  export        qbank export SYN01 --format F -o FILE           (from the store)
  export-files  qbank export SYN01 --path BANK --format F -o FILE (from the release manifest)
  convert       qbank convert FILE --standard SYN01 --path EMPTY  (into a copy of the standard with no
                questions, a fresh one each repeat, so every question is made: read, fitted, written
                as drafts and read back)

Each run checks the command's exit status (a failure stops the benchmark with its stderr) and that
convert made every question. The table gives the median seconds, the slowest run and the file size.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthetic import write_synthetic_bank

from qbank.importer import import_bank
from qbank.releases import make_release
from qbank.store import make_engine
from qbank.validation import load_bank

QBANK = str(Path(sys.executable).parent / "qbank")
STANDARD = "SYN01"
SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "moodle": ".xml", "qti": ".zip"}
TARGET = 10.0


class Failed(Exception):
    pass


def run(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Seconds the command took as a whole process, and its output; Failed (with the command's
    message) when it exits other than 0."""
    t = time.perf_counter()
    p = subprocess.run(argv, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t
    if p.returncode != 0:
        print(f"\nFAILED (exit {p.returncode}): {' '.join(argv)}\n{p.stderr[-4000:]}{p.stdout[-2000:]}", flush=True)
        raise Failed((p.stderr.strip().splitlines() or ["(no message)"])[0][:200])
    return dt, p.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--formats", default="csv,xlsx,moodle,qti")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    formats = [f for f in args.formats.split(",") if f]

    with tempfile.TemporaryDirectory(prefix="qbank-interop-") as tmp_name:
        tmp = Path(tmp_name)
        bank = tmp / "bank"
        write_synthetic_bank(bank, args.size)
        make_release(load_bank(bank, health=False), STANDARD, "1.0.0")
        db = tmp / "store.db"
        engine = make_engine(f"sqlite:///{db}")
        import_bank(engine, load_bank(bank, health=False))
        engine.dispose()
        env = dict(os.environ)
        env.update(
            QBANK_DATABASE_URL=f"sqlite:///{db}",
            QBANK_CONFIG_DIR=str(tmp / "config"),
            XDG_DATA_HOME=str(tmp / "data"),
        )
        results: list[dict] = []
        print(f"{args.size:,} questions, {args.repeat} runs each, a new process per run", flush=True)
        for fmt in formats:
            out = tmp / f"export{SUFFIX[fmt]}"
            export_store = [QBANK, "export", STANDARD, "--format", fmt, "-o", str(out)]
            export_files = [QBANK, "export", STANDARD, "--path", str(bank), "--format", fmt, "-o", str(out)]
            for step in ("export", "export-files", "convert"):
                times: list[float] = []
                try:
                    for i in range(args.repeat):
                        if step == "convert":
                            empty = tmp / f"empty-{fmt}-{i}"
                            (empty / STANDARD).mkdir(parents=True)
                            shutil.copy(bank / STANDARD / "standard.toml", empty / STANDARD / "standard.toml")
                            argv = [QBANK, "convert", str(out), "--standard", STANDARD, "--path", str(empty)]
                            dt, text = run(argv, env)
                            shutil.rmtree(empty)
                            if f"made {args.size} " not in text:
                                raise Failed(f"convert did not make every question: {text[:200]}")
                        else:
                            dt, _ = run(export_store if step == "export" else export_files, env)
                        times.append(dt)
                    failed = ""
                except Failed as e:
                    failed = str(e)
                r = {
                    "format": fmt,
                    "step": step,
                    "median_s": round(statistics.median(times), 2) if times else None,
                    "max_s": round(max(times), 2) if times else None,
                    "file_mb": round(out.stat().st_size / 1024 / 1024, 1) if out.exists() else None,
                    "runs": [round(t, 2) for t in times],
                    "failed": failed,
                }
                results.append(r)
                shown = f"median {r['median_s']:6.2f} s  max {r['max_s']:6.2f} s" if not failed else f"FAILED: {failed}"
                print(f"  {fmt:7} {step:13} {shown}", flush=True)

    print()
    print(f"| format | step | median (s) | slowest (s) | file (MB) | under {TARGET:.0f} s |")
    print("|---|---|---:|---:|---:|---|")
    for r in results:
        if r["failed"]:
            print(f"| {r['format']} | {r['step']} | failed | | {r['file_mb']} | **no**: {r['failed']} |")
            continue
        ok = "yes" if r["max_s"] < TARGET else "**no**"
        print(f"| {r['format']} | {r['step']} | {r['median_s']:.2f} | {r['max_s']:.2f} | {r['file_mb']} | {ok} |")
    where = f"{platform.python_implementation()} {platform.python_version()}, {platform.machine()}"
    print(f"\n{where}, {os.cpu_count()} cores")
    if args.json:
        Path(args.json).write_text(json.dumps({"size": args.size, "results": results}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
