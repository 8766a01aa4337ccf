"""The exposure floor and target rates (`floor.plan`), checked against a brute-force LP over every
valid set of small banks, against banks whose floor is known by hand, and against the draw that
steers towards the plan's rates (convergence, replay)."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from qbank import draw, floor, simulate
from qbank.definition import Theme
from qbank.draw import Candidate, DrawSpec, Infeasible, Method, Usage, select
from qbank.exposure import Plan

TOL = 1e-6


def q(code: str, *outcomes: str, minutes: int = 5, opener: bool = False) -> Candidate:
    return Candidate(code=code, version=1, qv_id=0, outcomes=frozenset(outcomes), minutes=minutes, opener=opener)


def spec_of(
    pool: Sequence[Candidate],
    required: Sequence[str],
    minutes: int = 30,
    min_questions: int = 1,
    cap: float = 0.3,
    themes: tuple[Theme, ...] = (),
    dups: Sequence[tuple[str, str]] = (),
) -> DrawSpec:
    method = Method(id="m", required=required, minutes=minutes, min_questions=min_questions)
    if themes:
        method = dataclasses.replace(method, themes=themes)
    return DrawSpec(
        method=method,
        pool=tuple(pool),
        near_duplicates=frozenset(frozenset(p) for p in dups),
        exposure_cap=cap,
    )


# --------------------------------------------------------------------------- the oracle


def meets_all(spec: DrawSpec, chosen: Sequence[Candidate]) -> bool:
    """The hard constraints written out again, independently of `floor.valid` (small sets only)."""
    m = spec.method
    codes = [c.code for c in chosen]
    if len(chosen) < max(m.min_questions, 1) or sum(c.minutes for c in chosen) > spec.budget:
        return False
    if not m.required <= set().union(*(c.outcomes for c in chosen)):
        return False
    if any(frozenset(p) in spec.near_duplicates for p in itertools.combinations(codes, 2)):
        return False
    if m.themes:  # some assignment of questions to themes (each to at most one) meets every minimum
        if len(chosen) < sum(t.min_questions for t in m.themes):
            return False
        options = [[None, *(i for i, t in enumerate(m.themes) if c.outcomes & t.outcomes)] for c in chosen]
        if not any(
            all(sum(1 for a in pick if a == i) >= t.min_questions for i, t in enumerate(m.themes))
            for pick in itertools.product(*options)
        ):
            return False
    return True


def valid_sets(spec: DrawSpec) -> list[tuple[Candidate, ...]]:
    """Every valid set of the pool, by enumeration; checks `floor.valid` against the oracle on each subset."""
    pool = list(spec.pool)
    out = []
    for r in range(len(pool) + 1):
        for combo in itertools.combinations(pool, r):
            ok = floor.valid(spec, combo)
            assert ok == meets_all(spec, combo), [c.code for c in combo]
            if ok:
                out.append(combo)
    return out


def brute_floor(spec: DrawSpec, sets: list[tuple[Candidate, ...]]) -> float:
    """min z s.t. Σ_{S ∋ q} p_S ≤ z for every question, Σ p = 1, p ≥ 0, over ALL valid sets."""
    codes = [c.code for c in spec.pool]
    n = len(sets)
    incidence = np.zeros((len(codes), n))
    for j, s in enumerate(sets):
        for c in s:
            incidence[codes.index(c.code), j] = 1.0
    a_ub = np.hstack([incidence, -np.ones((len(codes), 1))])
    a_eq = np.r_[np.ones(n), 0.0].reshape(1, -1)
    cost = np.r_[np.zeros(n), 1.0]
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(len(codes)), A_eq=a_eq, b_eq=[1.0], bounds=(0, None), method="highs")
    assert res.status == 0, res.message
    return float(res.fun)


def check_plan_consistent(spec: DrawSpec, p: Plan) -> None:
    """What every plan must hold, whatever the bank: rates within the limit and made of valid sets."""
    by_code = {c.code: c for c in spec.pool}
    assert p.limit == pytest.approx(max(p.cap, p.floor))
    assert all(0 <= r <= p.limit + TOL for r in p.rates.values()), p.rates
    assert sum(p.rates.values()) == pytest.approx(p.mean_length, abs=TOL)
    assert p.support, "a plan with rates has the sets they come from"
    assert sum(prob for prob, _ in p.support) == pytest.approx(1.0, abs=TOL)
    from_support: dict[str, float] = {}
    for prob, codes in p.support:
        assert prob > 0
        assert floor.valid(spec, [by_code[c] for c in codes]), codes
        for c in codes:
            from_support[c] = from_support.get(c, 0.0) + prob
    for code in by_code:  # the rates are the support's inclusion rates
        assert p.rates.get(code, 0.0) == pytest.approx(from_support.get(code, 0.0), abs=TOL), code
    assert p.overlap == pytest.approx(sum(r * r for r in p.rates.values()) / p.mean_length, abs=TOL)


# --------------------------------------------------------------------------- 1. brute force

OUTCOMES = ["K1", "K2", "K3", "K4"]


@st.composite
def small_banks(draw_: st.DrawFn) -> DrawSpec:
    n_req = draw_(st.integers(2, 4))
    required = OUTCOMES[:n_req]
    n = draw_(st.integers(5, 9))
    pool = [
        q(
            f"Q{i}",
            *draw_(st.sets(st.sampled_from([*required, "X"]), min_size=1, max_size=2)),
            minutes=draw_(st.integers(3, 8)),
        )
        for i in range(n)
    ]
    dups: list[tuple[str, str]] = []
    if draw_(st.booleans()):
        a, b = draw_(st.lists(st.sampled_from([c.code for c in pool]), min_size=2, max_size=2, unique=True))
        dups.append((a, b))
    themes: tuple[Theme, ...] = ()
    if draw_(st.booleans()):
        outs = draw_(st.sets(st.sampled_from([*required, "X"]), min_size=1, max_size=2))
        themes = (Theme("T", frozenset(outs), draw_(st.integers(1, 2))),)
    return spec_of(
        pool,
        required,
        minutes=draw_(st.integers(12, 30)),
        min_questions=draw_(st.integers(1, 3)),
        cap=draw_(st.sampled_from([0.3, 0.6])),
        themes=themes,
        dups=dups,
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_banks())
def test_the_floor_is_the_lp_over_every_valid_set(spec: DrawSpec) -> None:
    sets = valid_sets(spec)
    event(f"{'no' if not sets else 'some'} valid sets; themes: {bool(spec.method.themes)}")
    event(f"near-duplicates: {bool(spec.near_duplicates)}")
    if not sets:
        with pytest.raises(Infeasible):
            floor.plan(spec)
        return
    p = floor.plan(spec)
    assert p.proved
    assert p.floor == pytest.approx(brute_floor(spec, sets), abs=TOL)
    assert p.bound == pytest.approx(p.floor, abs=TOL)
    check_plan_consistent(spec, p)


def test_no_valid_set_found_only_by_the_exact_search_is_infeasible() -> None:
    # every outcome has a question and there are enough of them, so the quick checks pass; but
    # K1's only question and K2's only question are near-duplicates, so no set meets everything
    spec = spec_of([q("A", "K1"), q("B", "K2"), q("C", "K3"), q("D", "K3")], ["K1", "K2"], dups=[("A", "B")])
    assert draw.check_feasible(spec) == 4
    assert valid_sets(spec) == []
    with pytest.raises(Infeasible):
        floor.plan(spec)


# --------------------------------------------------------------------------- 2. floors known by hand


def test_an_outcome_with_three_questions_holds_the_floor_at_a_third() -> None:
    pool = [q(f"A{i}", "K1", "K2") for i in range(3)] + [q(f"B{i}", "K2", "K3") for i in range(8)]
    spec = spec_of(pool, ["K1", "K2", "K3"], cap=0.3)
    p = floor.plan(spec)
    assert p.proved
    assert p.floor == pytest.approx(1 / 3, abs=TOL)
    assert p.binding == ("K1",)
    assert p.limit == pytest.approx(1 / 3, abs=TOL)  # the floor is above the cap: the limit rises to it
    for i in range(3):  # every set takes one of the three: each is at the floor
        assert p.rates[f"A{i}"] == pytest.approx(1 / 3, abs=TOL)
    check_plan_consistent(spec, p)


def test_the_minimum_count_holds_the_floor_at_l_over_n() -> None:
    spec = spec_of([q(f"Q{i}", "K1", "K2") for i in range(6)], ["K1", "K2"], minutes=60, min_questions=3, cap=0.3)
    p = floor.plan(spec)
    assert p.proved
    assert p.floor == pytest.approx(3 / 6, abs=TOL)
    assert p.binding == ()  # no outcome holds it up: the count does
    assert p.mean_length == pytest.approx(3, abs=TOL)
    assert all(r == pytest.approx(0.5, abs=TOL) for r in p.rates.values()) and len(p.rates) == 6
    check_plan_consistent(spec, p)


def test_a_theme_minimum_holds_the_floor() -> None:
    # every set needs two of the three questions on K1 (theme T): each is in two sets of three at least
    pool = [q(f"A{i}", "K1") for i in range(3)] + [q(f"B{i}", "K2") for i in range(6)]
    spec = spec_of(pool, ["K1", "K2"], minutes=60, themes=(Theme("T", frozenset({"K1"}), 2),))
    p = floor.plan(spec)
    assert p.proved
    assert p.floor == pytest.approx(2 / 3, abs=TOL)
    check_plan_consistent(spec, p)


def test_a_near_duplicate_pair_forces_the_third_question_into_every_set() -> None:
    # two questions a set; A and B may not share one, so every set is {A, C} or {B, C}
    spec = spec_of([q("A", "K1"), q("B", "K1"), q("C", "K1")], ["K1"], min_questions=2, dups=[("A", "B")])
    p = floor.plan(spec)
    assert p.proved
    assert p.floor == pytest.approx(1.0, abs=TOL)
    assert p.rates["C"] == pytest.approx(1.0, abs=TOL)
    check_plan_consistent(spec, p)
    # without the pair, any two of three will do: 2/3
    assert floor.plan(spec_of(spec.pool, ["K1"], min_questions=2)).floor == pytest.approx(2 / 3, abs=TOL)


def test_a_question_over_the_time_is_not_counted() -> None:
    # K1 has four questions, but one takes longer than the method: the floor is 1/3, not 1/4
    pool = [q(f"A{i}", "K1", minutes=40 if i == 0 else 5) for i in range(4)] + [q(f"B{i}", "K2") for i in range(6)]
    p = floor.plan(spec_of(pool, ["K1", "K2"]))
    assert p.floor == pytest.approx(1 / 3, abs=TOL)
    assert p.usable == 9
    assert "A0" not in p.rates


# --------------------------------------------------------------------------- 3. the draw converges to the rates


def disjoint_bank() -> DrawSpec:
    """K1 has four questions, K2 ten, none covering both: the plan wants each A at 1/4, each B at 1/10."""
    pool = [q(f"A{i}", "K1") for i in range(4)] + [q(f"B{i}", "K2") for i in range(10)]
    return spec_of(pool, ["K1", "K2"], minutes=20, min_questions=2, cap=0.3)


def broad_bank() -> DrawSpec:
    """K1 has four questions, K2 and K3 share ten, and one question C0 covers all three (as short as the rest).

    Every valid set of two is {A, B}, {A, C0} or {B, C0}; with a = Σ π_A, b = Σ π_B, c = π_C0 and
    a + b + c = 2, b ≤ 1, the least Σ π² = a²/4 + b²/10 + c² is at b = 1, a = 0.8, c = 0.2: each A
    at 0.2, each B at 0.1, C0 at 0.2, Σ π² = 0.30 (longer sets only add exposure)."""
    pool = [q(f"A{i}", "K1") for i in range(4)] + [q(f"B{i}", "K2", "K3") for i in range(10)]
    pool += [q("C0", "K1", "K2", "K3")]
    return spec_of(pool, ["K1", "K2", "K3"], minutes=20, min_questions=2, cap=0.3)


def test_the_target_rates_are_near_the_least_sum_of_squares() -> None:
    # stage 2 minimises a piecewise-linear Σ π²: never below the true least (0.30, see `broad_bank`),
    # and its tangents keep it close above
    p = floor.plan(broad_bank())
    assert p.proved and p.floor == pytest.approx(0.2, abs=TOL)  # every set takes one of K1's five questions
    squares = sum(r * r for r in p.rates.values())
    assert 0.30 - TOL <= squares <= 0.30 * 1.02
    assert p.mean_length == pytest.approx(2.0, abs=TOL)
    assert sum(p.rates.get(f"B{i}", 0.0) for i in range(10)) == pytest.approx(1.0, abs=0.02)


@pytest.mark.parametrize("bank", [disjoint_bank, broad_bank])
def test_the_planned_draw_keeps_every_question_near_its_rate(monkeypatch: pytest.MonkeyPatch, bank) -> None:
    spec = bank()
    p = floor.plan(spec)
    assert p.proved
    rates = sorted(p.rates.values())
    assert rates[-1] - rates[0] > 0.1  # the plan is uneven: steering towards it is not steering to an even spread

    drawn: list[list[Candidate]] = []
    real_select = draw.select

    def recording(s: DrawSpec, usage: Usage, seed: str) -> list[Candidate]:
        assert usage.targets == p.rates and usage.algorithm == draw.ALGORITHM_PLANNED
        chosen = real_select(s, usage, seed)
        drawn.append(chosen)
        return chosen

    monkeypatch.setattr(simulate, "select", recording)  # simulate's own loop, every set it draws recorded
    cfg = simulate.SimConfig(draws=3000, resit_share=0, retake_share=0, seed="t")
    ours, _ = simulate.simulate(spec, cfg, p, steer=True)

    assert ours.failures == 0 and ours.sets == len(drawn) == 3000
    assert all(floor.valid(spec, s) for s in drawn)
    counts = Counter(c.code for s in drawn for c in s)
    measured = {c.code: counts[c.code] / len(drawn) for c in spec.pool}
    assert ours.exposure_max == pytest.approx(max(measured.values()), abs=1e-4)
    assert ours.exposure_max <= p.limit + 0.01
    assert ours.plan_floor == p.floor and ours.over_limit == 0
    # sampling error at 3000 draws is about 0.008: 0.03 leaves room for the feedback's lag, not for a bias
    off = {code: round(measured[code] - p.rates.get(code, 0.0), 4) for code in measured}
    worst = sorted(off.items(), key=lambda kv: -abs(kv[1]))[:4]
    assert all(abs(d) <= 0.03 for d in off.values()), f"measured - target, worst first: {worst}"


# --------------------------------------------------------------------------- 4. replay


def test_a_planned_draw_replays_from_its_restricted_snapshot() -> None:
    spec = broad_bank()
    p = floor.plan(spec)
    counts = {"A0": 40, "A1": 10, "B0": 30, "B3": 5, "C0": 12}
    usage = Usage(sets=100, mean_length=2.2, counts=counts, cohort_counts={"B1": 1}, targets=p.rates)
    assert usage.algorithm == draw.ALGORITHM_PLANNED
    differs = 0
    for i in range(12):
        seed = f"replay:{i}"
        consulted: set[str] = set()
        chosen = [c.code for c in select(spec, usage, seed, consulted)]
        assert [c.code for c in select(spec, usage, seed)] == chosen  # the same inputs, the same set

        snap = usage.restricted_to(consulted)
        assert snap.targets == {c: p.rates.get(c, 0.0) for c in consulted}
        assert snap.algorithm == draw.ALGORITHM_PLANNED
        stored = json.loads(json.dumps(snap.as_dict()))
        assert "targets" in stored
        back = Usage.from_dict(stored)
        assert back == snap
        assert [c.code for c in select(spec, back, seed)] == chosen  # what replaying a stored draw does

        unplanned = dataclasses.replace(back, targets={})
        assert unplanned.algorithm == draw.ALGORITHM
        differs += [c.code for c in select(spec, unplanned, seed)] != chosen
    # the targets decide sets: a snapshot that dropped them would not replay (so the check above has teeth)
    assert differs > 0


def test_an_unplanned_snapshot_stays_as_it_was() -> None:
    usage = Usage(sets=3, mean_length=2.0, counts={"A": 1})
    assert usage.algorithm == draw.ALGORITHM
    assert "targets" not in usage.as_dict()
    assert usage.restricted_to({"A", "B"}).targets == {}


# --------------------------------------------------------------------------- 5. a method that draws nothing


def test_a_method_that_draws_nothing_has_a_zero_floor_and_says_why() -> None:
    spec = spec_of([q(f"Q{i}", "K1") for i in range(5)], [], min_questions=0)
    p = floor.plan(spec)
    assert p.floor == 0.0 and p.bound == 0.0 and p.proved
    assert p.rates == {} and p.mean_length == 0.0
    assert p.note
