"""Issue 17: qbank-draw/5 (use weighed against at least `draw.COUNT_FLOOR` sets) against v3, in
one process, same seeds: every shipped method and the 10,000-question generated bank's
presentation questioning (where an even share of the recent sets is a fraction of one set).

    .venv/bin/python bench/bench_count_floor.py [--draws 10000] [--synthetic-draws 1000]

Printed per method and variant: max exposure against max(cap, LP floor), overlap against the LP's
least (shipped) or the formula floor's overlap (generated), mean set length, failed sets, and
selection p50/p99.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import qbank.simulate as sim
from qbank.draw import Usage
from qbank.draws import spec_from_bank
from qbank.floor import plan
from qbank.validation import load_bank


def run(spec, p, draws: int, count_floor: int) -> sim.SimStats:
    names = vars(sim)  # the simulation builds its snapshots with the name Usage: give it v3's or v5's
    original = names["Usage"]
    names["Usage"] = functools.partial(Usage, count_floor=count_floor)
    try:
        o, _ = sim.simulate(spec, sim.SimConfig(draws=draws, seed="bench-v5"), p, steer=False)
    finally:
        names["Usage"] = original
    return o


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--synthetic-draws", type=int, default=1_000)
    a = ap.parse_args()
    from synthetic import write_synthetic_bank

    tmp = Path(tempfile.mkdtemp())
    write_synthetic_bank(tmp, 10_000)
    cases = []
    shipped = load_bank(Path("banks"), health=False)
    for code, std in sorted(shipped.standards.items()):
        cases += [(shipped, code, mid, a.draws) for mid in std.methods]
    generated = load_bank(tmp, health=False)
    cases += [(generated, code, "presentation-questioning", a.synthetic_draws) for code in generated.standards]
    for bank, code, mid, draws in cases:
        spec = spec_from_bank(bank, code, mid)
        p = plan(spec)
        if not p.usable:
            continue
        print(f"\n{code} {mid}: N={p.usable}, limit {p.limit:.3f}, {draws} draws", flush=True)
        for label, floor in (("v3", 0), ("v5", 3)):
            o = run(spec, p, draws, floor)
            ratio = (
                f"{o.overlap / p.overlap:.3f}x LP least" if p.overlap else f"{(o.overlap_floor_ratio or 0):.3f}x floor"
            )
            failed = sum(o.failures_by_attempt.values())
            print(
                f"  {label}: max exp {o.exposure_max:.3f} overlap {o.overlap:.4f} = {ratio}; L {o.length_mean}; "
                f"failed {failed}; p50/p99 {o.latency_p50_ms:.1f}/{o.latency_p99_ms:.1f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
