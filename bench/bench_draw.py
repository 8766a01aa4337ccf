"""Benchmark: the draw on a generated 10,000-question bank, and simulations of every shipped method.

Run: .venv/bin/python bench/bench_draw.py [--draws 10000] [--shipped] [--db]
  default      simulate on the generated bank (coverage, repeats, exposure, overlap, latency vs baseline)
  --shipped    also simulate every method of every shipped standard (from banks/)
  --db         also time full stored draws (pool cached, history + usage read, set written) on SQLite
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from synthetic import write_synthetic_bank

from qbank.draws import DrawRequest, draw_set, spec_from_bank
from qbank.importer import import_bank
from qbank.releases import make_release
from qbank.simulate import SimConfig, simulate
from qbank.store import make_engine
from qbank.validation import load_bank

REPO = Path(__file__).resolve().parent.parent


def row(code, method, ours, base):
    return {
        "standard": code,
        "method": method,
        "qbank": ours.as_dict(),
        "baseline": base.as_dict(),
        "latency_ratio_p99": round(ours.latency_p99_ms / base.latency_p99_ms, 1) if base.latency_p99_ms else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--shipped", action="store_true")
    ap.add_argument("--db", action="store_true")
    args = ap.parse_args()
    out = []
    if args.shipped:
        bank = load_bank(REPO / "banks", health=False)
        for code, std in sorted(bank.standards.items()):
            for mid in std.methods:
                ours, base = simulate(spec_from_bank(bank, code, mid), SimConfig(draws=args.draws))
                out.append(row(code, mid, ours, base))
                print(json.dumps(out[-1]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = write_synthetic_bank(Path(tmp) / "banks")
        bank = load_bank(root, health=False)
        for mid in ("professional-discussion",):
            ours, base = simulate(spec_from_bank(bank, "SYN01", mid), SimConfig(draws=args.draws))
            out.append(row("SYN01 (10,000 questions, 100 outcomes)", mid, ours, base))
            print(json.dumps(out[-1]), flush=True)
        if args.db:
            make_release(load_bank(root), "SYN01", "1.0.0")
            eng = make_engine(f"sqlite:///{tmp}/draw.db")
            import_bank(eng, load_bank(root, health=False))
            draw_set(eng, DrawRequest("SYN01", "professional-discussion", "WARM"))  # loads and caches the pool
            times = []
            for i in range(300):
                t = time.perf_counter()
                draw_set(eng, DrawRequest("SYN01", "professional-discussion", f"A{i % 100}", cohort=f"C{i % 10}"))
                times.append(time.perf_counter() - t)
            times.sort()
            print(
                json.dumps(
                    {
                        "stored_draw_ms": {
                            "p50": round(statistics.median(times) * 1000, 2),
                            "p99": round(times[int(0.99 * len(times))] * 1000, 2),
                        }
                    }
                )
            )


if __name__ == "__main__":
    main()
