"""Issue 17: each method's exposure floor (linear programming) and the draw measured against it.

For every method of the shipped banks' newest releases (and, with --synthetic N, a generated bank
of N questions): the time to solve the plan, then `simulate` (10,000 draws, 20 % resits, 10 %
retakes by default) without the plan (qbank-draw/3) and with it (qbank-draw/4), in the same
process. Printed per method: max exposure against max(cap, LP floor), overlap against the formula
floor (M·L/N − 1)/(M − 1) and against the least overlap the plan found, failed sets by attempt,
selection p99.

    .venv/bin/python bench/bench_floor.py [--draws 10000] [--synthetic 10000] [--only TEXT]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from qbank.draw import Infeasible
from qbank.draws import spec_from_bank
from qbank.floor import plan
from qbank.simulate import SimConfig, simulate
from qbank.validation import load_bank


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--synthetic", type=int, default=0, help="also a generated bank of this many questions")
    ap.add_argument("--only", default="", help="only methods whose 'STANDARD method' contains this")
    ap.add_argument("--seed", default="bench17")
    a = ap.parse_args()
    banks = [Path("banks")]
    if a.synthetic:
        from synthetic import write_synthetic_bank

        tmp = Path(tempfile.mkdtemp())
        write_synthetic_bank(tmp, a.synthetic)
        banks.append(tmp)
    print(f"draws per method: {a.draws}, 20 % resits, 10 % retakes, seed {a.seed}")
    for root in banks:
        bank = load_bank(root, health=False)
        for code, std in sorted(bank.standards.items()):
            for mid in std.methods:
                if a.only and a.only not in f"{code} {mid}":
                    continue
                spec = spec_from_bank(bank, code, mid)
                t = time.perf_counter()
                try:
                    p = plan(spec)
                except Infeasible as e:
                    print(f"{code} {mid}: no valid set ({e})")
                    continue
                solve = time.perf_counter() - t
                if not p.usable or (not p.rates and p.floor == 0):
                    continue
                print(
                    f"\n{code} {mid}: N={p.usable}, LP floor {p.floor:.3f} ({'proved' if p.proved else 'bound'}), "
                    f"limit max(cap, floor) {p.limit:.3f}, least overlap {p.overlap:.4f}, solved in {solve:.2f} s"
                    + (f"; binding {', '.join(p.binding)}" if p.binding else "")
                    + (f"; {p.note}" if p.note else "")
                )
                for label, steer in (("v3 production", False), ("v4 steered", True)):
                    o, _ = simulate(spec, SimConfig(draws=a.draws, seed=a.seed), p, steer=steer)
                    fl = o.overlap_floor_ratio or 0.0
                    lp = o.overlap / p.overlap if p.overlap else 0.0
                    verdict = "ok" if o.exposure_max <= p.limit + 0.01 else "OVER"
                    print(
                        f"  {label:<13} max exp {o.exposure_max:.3f} (limit+0.01 {verdict}) "
                        f"overlap {o.overlap:.4f} = {fl:.3f}x formula floor, {lp:.3f}x LP least; "
                        f"coverage {o.coverage:.1%}, repeats {o.repeats}, failed "
                        f"{'/'.join(str(o.failures_by_attempt.get(x, 0)) for x in ('first', 'resit', 'retake'))} "
                        f"(first/resit/retake) {o.failure_reasons or ''}; L {o.length_mean}; "
                        f"p50/p99 {o.latency_p50_ms:.2f}/{o.latency_p99_ms:.2f} ms",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
