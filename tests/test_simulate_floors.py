"""`qbank simulate`'s floors: the least overlap M sets can have and the least max exposure a bank allows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from conftest import REPO, TEXTS, question_block, write_bank
from hypothesis import given, settings
from hypothesis import strategies as st

from qbank.draw import Candidate, DrawSpec, Method
from qbank.simulate import ExposureFloor, SimConfig, _measure, overlap_floor, simulate


def q(code: str, *outcomes: str, minutes: int = 5) -> Candidate:
    return Candidate(code=code, version=1, qv_id=0, outcomes=frozenset(outcomes), minutes=minutes)


def spec_of(pool: list[Candidate], required=("K1", "K2"), minutes=30, min_questions=1, cap=0.3) -> DrawSpec:
    return DrawSpec(
        method=Method(id="pd", required=required, minutes=minutes, min_questions=min_questions),
        pool=tuple(pool),
        exposure_cap=cap,
    )


def measure(spec: DrawSpec, sets: list[list[Candidate]], covering: bool = True):
    return _measure(
        "hand",
        [(f"A{i}", "C0", s) for i, s in enumerate(sets)],
        spec,
        Counter(),
        [],
        len(spec.pool),
        ExposureFloor.of(spec) if covering else None,
    )


def test_exposure_floor_is_one_over_the_fewest_questions_covering_an_outcome():
    # K1: exactly 4 questions can cover it; K2: 6; K9 is not required and does not count
    pool = [q(f"A{i}", "K1") for i in range(3)] + [q("B0", "K1", "K2")]
    pool += [q(f"C{i}", "K2", "K9") for i in range(5)] + [q(f"D{i}", "K9") for i in range(3)]
    f = ExposureFloor.of(spec_of(pool))
    assert (f.floor, f.k, f.outcomes) == (0.25, 4, ("K1",))
    assert f.by_outcome == {"K1": 4, "K2": 6}

    # a question too long for the method's time can never be drawn, so it covers nothing
    long_k2 = [q(f"C{i}", "K2", minutes=40 if i < 3 else 5) for i in range(5)]
    f = ExposureFloor.of(spec_of(pool[:4] + long_k2))
    assert (f.floor, f.k, f.outcomes) == (pytest.approx(1 / 3), 3, ("K2",))
    # ties name every binding outcome; an outcome nothing covers is left out of the floor
    f = ExposureFloor.of(spec_of([q("A", "K1"), q("B", "K1"), q("C", "K2"), q("D", "K2")], required=("K1", "K2", "S1")))
    assert (f.floor, f.k, f.outcomes, f.by_outcome["S1"]) == (0.5, 2, ("K1", "K2"), 0)


@pytest.mark.parametrize(
    "m,length,n,expected",
    [
        (5, 4, 10, 0.25),  # M·L/N = 2 sets per question: (2 - 1) / (5 - 1)
        (6, 3, 6, 0.4),  # 3 sets per question: (3 - 1) / (6 - 1)
        (101, 10, 100, (101 * 10 / 100 - 1) / 100),  # 10.1 is not whole: the integer floor is at least the formula
        (2, 3, 10, 0.0),  # two short sets need share nothing (the formula is negative)
        (3, 4, 10, 2 / 3 / 4),  # 12 slots over 10 questions: two questions in two sets, one shared pair each
        (1, 5, 10, 0.0),  # no pairs
    ],
)
def test_overlap_floor_by_hand(m, length, n, expected):
    got = overlap_floor(m, m * length, n)
    formula = (m * length / n - 1) / (m - 1) if m > 1 else 0.0
    assert got >= max(0.0, formula) - 1e-12
    if m == 101:
        assert got > formula  # 10 slots left over: ten questions in 11 sets, not 10.1 each
    else:
        assert got == pytest.approx(expected)


def test_uniform_use_hits_the_overlap_floor_and_uneven_use_does_not():
    pool = [q(f"Q{i}", "K1", "K2") for i in range(6)]
    spec = spec_of(pool)
    # the six cyclic windows of three: every question in exactly three of the six sets
    uniform = [[pool[(i + j) % 6] for j in range(3)] for i in range(6)]
    s = measure(spec, uniform)
    assert s.overlap == s.overlap_floor == pytest.approx((6 * 3 / 6 - 1) / (6 - 1))
    assert s.overlap_floor_ratio == pytest.approx(1.0)
    assert s.overlap_floor < s.overlap_bound == 0.5  # L/N is what random sets average, not the least possible
    # the same lengths with uneven use: above the floor
    uneven = [pool[:3]] * 4 + [pool[3:]] * 2
    u = measure(spec, uneven)
    assert u.overlap_floor == s.overlap_floor and u.overlap > u.overlap_floor


def test_max_exposure_is_compared_with_the_cap_and_with_the_floor():
    # K1 has only two questions: one of them is in at least half the sets, whatever the cap says
    pool = [q("A", "K1"), q("B", "K1")] + [q(f"C{i}", "K2") for i in range(8)]
    spec = spec_of(pool, cap=0.3)
    sets = [[pool[i % 2], pool[2 + i % 8]] for i in range(8)]  # A and B in 4 of 8 sets each
    s = measure(spec, sets)
    assert (s.exposure_floor, s.exposure_floor_k, s.exposure_floor_outcomes) == (0.5, 2, ["K1"])
    assert s.exposure_max == 0.5 and s.exposure_floor_ratio == 1.0
    assert s.over_cap == 2 and s.exposure_limit == 0.5 and s.over_limit == 0
    # the baseline need not cover outcomes: its floor is the mean share L/N only
    b = measure(spec, sets, covering=False)
    assert (b.exposure_floor, b.exposure_floor_k, b.exposure_floor_outcomes) == (0.2, 0, [])
    # long sets: the mean share binds, above every 1/k
    wide = [q(f"Q{i}", "K1", "K2") for i in range(5)]
    w = measure(spec_of(wide), [wide[:4], wide[1:]])
    assert (w.exposure_floor, w.exposure_floor_k) == (0.8, 0) and w.exposure_max == 1.0


@st.composite
def coverable_specs(draw):
    """Pools where each required outcome has 1-5 questions of its own (often also covering others)."""
    outcomes = [f"K{i}" for i in range(draw(st.integers(1, 4)))]
    pool = []
    for o in outcomes:
        for _ in range(draw(st.integers(1, 5))):
            extra = draw(st.sets(st.sampled_from(outcomes), max_size=2))
            pool.append(q(f"Q{len(pool):02d}", o, *extra, minutes=draw(st.integers(1, 12))))
    pool += [q(f"Q{len(pool) + i:02d}", "X", minutes=3) for i in range(draw(st.integers(0, 4)))]
    return spec_of(
        pool,
        required=tuple(outcomes),
        minutes=draw(st.integers(15, 60)),
        min_questions=draw(st.integers(1, 4)),
        cap=draw(st.sampled_from([0.1, 0.3, 0.6])),
    )


@settings(max_examples=40, deadline=None)
@given(spec=coverable_specs(), draws=st.integers(2, 40), seed=st.text(min_size=1, max_size=6))
def test_no_simulated_run_beats_its_floors(spec, draws, seed):
    ours, base = simulate(spec, SimConfig(draws=draws, cohort_size=4, seed=seed))
    for s in (ours, base):
        if s.sets == 0:
            continue
        assert s.exposure_max >= s.exposure_floor
        assert s.overlap >= s.overlap_floor
        assert s.over_limit <= s.over_cap
    if ours.sets:
        bank = ExposureFloor.of(spec)
        assert ours.exposure_max >= bank.floor - 1e-4  # every qbank set covers every outcome
        assert ours.exposure_floor >= round(bank.floor, 4)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "QBANK_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "qbank", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=120
    )


MORE_TEXTS = [
    "How do you keep a team's morale up while a restructure is still being decided?",
    "Which data told you the new rota was failing, and how quickly did you act on it?",
    "Walk me through a contract you negotiated and the concession you refused to make.",
    "What would you change about the way your organisation measures customer satisfaction?",
    "Describe the hardest piece of feedback you have given and how the person responded.",
    "How did you prioritise when two directors asked for conflicting work in the same week?",
    "Tell me how you planned the handover when a key member of staff left suddenly.",
    "What risks did you record for the system migration, and which of them actually happened?",
]


def test_cli_prints_the_floors(tmp_path):
    # presentation-questioning assesses K1 and S1: K1 has 4 of the 16 questions, S1 has 14; sets of
    # about 3 questions use each question in 3/16 of sets on average, under the 1/4 that K1 forces
    outcomes = [["K1", "K2"]] * 2 + [["K1", "S1"]] * 2 + [["S1", "B1"]] * 6 + [["S1", "K2"]] * 6
    texts = [*TEXTS, *MORE_TEXTS]
    blocks = "".join(question_block(i, outcomes=o, text_=texts[i]) for i, o in enumerate(outcomes))
    root = write_bank(tmp_path / "banks", blocks)
    base = ["simulate", "--path", str(root), "--standard", "TST01", "--method", "presentation-questioning"]
    r = run(*base, "--draws", "200", "--seed", "t")
    assert r.returncode == 0, r.stderr
    bound = "the coverage bound: 1/4 = 0.250, as every set needs one of the 4 questions that can cover K1"
    assert bound in r.stdout
    assert "exposure floor; max / floor" in r.stdout and "overlap floor for M sets; ratio" in r.stdout
    assert "questions over max(cap, floor)" in r.stdout

    r = run(*base, "--draws", "200", "--seed", "t", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["outcome_floors"] == {"K1": {"k": 4, "floor": 0.25}, "S1": {"k": 14, "floor": 0.0714}}
    ours = d["qbank"]
    assert ours["exposure_floor_outcomes"] == ["K1"] and ours["exposure_floor"] == 0.25
    assert ours["exposure_max"] >= 0.25 and ours["exposure_limit"] == 0.3
    m, length, n = ours["sets"], ours["length_mean"], ours["floor_pool"]
    assert ours["overlap_floor"] == pytest.approx((m * length / n - 1) / (m - 1), abs=2e-4)
    assert ours["overlap"] >= ours["overlap_floor"]
    assert ours["overlap_floor_ratio"] == pytest.approx(ours["overlap"] / ours["overlap_floor"], abs=2e-3)
    assert {"overlap_bound", "overlap_ratio", "over_cap"} <= ours.keys()  # earlier fields stay
