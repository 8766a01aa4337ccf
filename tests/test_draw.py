"""The draw's hard constraints, checked on random banks against a brute-force oracle."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from qbank.draw import Candidate, DrawSpec, Infeasible, Method, Usage, order, select, swap_options

OUTCOMES = [f"K{i}" for i in range(1, 9)]


@st.composite
def specs(draw, max_pool=11):
    n_out = draw(st.integers(1, 6))
    required = frozenset(OUTCOMES[:n_out])
    n = draw(st.integers(1, max_pool))
    pool = []
    for i in range(n):
        outs = draw(st.sets(st.sampled_from(OUTCOMES[: n_out + 1]), min_size=1, max_size=3))
        pool.append(
            Candidate(
                code=f"Q{i:02d}",
                version=1,
                qv_id=i + 1,
                outcomes=frozenset(outs),
                minutes=draw(st.integers(1, 12)),
                topic=draw(st.sampled_from("abc")),
                opener=draw(st.booleans()),
            )
        )
    codes = [c.code for c in pool]
    pairs = list(itertools.combinations(codes, 2))
    dups = frozenset(frozenset(p) for p in draw(st.lists(st.sampled_from(pairs), max_size=3))) if pairs else frozenset()
    exclude = frozenset(draw(st.lists(st.sampled_from(codes), max_size=3)))
    method = Method(id="pd", required=required, minutes=draw(st.integers(5, 40)), min_questions=draw(st.integers(1, 4)))
    return DrawSpec(
        method=method,
        pool=tuple(pool),
        near_duplicates=dups,
        exclude=exclude,
        extra_time_pct=draw(st.sampled_from([0, 0, 25])),
        exposure_cap=0.3,
    )


def valid(spec: DrawSpec, chosen: list[Candidate]) -> list[str]:
    """Every hard constraint a set breaks (empty when it meets them all)."""
    broken = []
    codes = [c.code for c in chosen]
    if len(set(codes)) != len(codes):
        broken.append("a question twice")
    if not set(codes) <= {c.code for c in spec.pool}:
        broken.append("not from the pool")
    if set(codes) & spec.exclude:
        broken.append("repeat for the apprentice")
    if not spec.method.required <= set().union(*(c.outcomes for c in chosen)) if chosen else spec.method.required:
        broken.append("coverage")
    if any(frozenset(p) in spec.near_duplicates for p in itertools.combinations(codes, 2)):
        broken.append("near-duplicates")
    if sum(c.minutes for c in chosen) > spec.budget:
        broken.append("time")
    if len(chosen) < spec.method.min_questions:
        broken.append("too few questions")
    return broken


def feasible_exists(spec: DrawSpec) -> bool:
    pool = [c for c in spec.pool if c.code not in spec.exclude]
    for r in range(1, len(pool) + 1):
        for combo in itertools.combinations(pool, r):
            if not valid(spec, list(combo)):
                return True
    return False


def random_usage(spec: DrawSpec, seed: int) -> Usage:
    rnd = random.Random(seed)
    sets = rnd.randint(0, 30)
    counts = {c.code: rnd.randint(0, sets) for c in spec.pool} if sets else {}
    return Usage(
        sets=sets,
        mean_length=3.0 if sets else 0.0,
        counts=counts,
        cohort_counts={c.code: rnd.randint(0, 2) for c in spec.pool[:2]},
    )


@settings(max_examples=400, deadline=None)
@given(spec=specs(), useed=st.integers(0, 1000), seed=st.text(min_size=1, max_size=8))
def test_any_set_meets_every_hard_constraint_and_failures_are_real(spec, useed, seed):
    try:
        chosen = select(spec, random_usage(spec, useed), seed)
    except Infeasible as e:
        assert e.reasons
        assert not feasible_exists(spec), f"a valid set exists but the draw said: {e.reasons}"
        for r in e.reasons:  # outcome-level reasons name an outcome that really has no question left
            code = r.split(":")[0]
            if code in spec.method.required:
                assert not [
                    c
                    for c in spec.pool
                    if code in c.outcomes and c.code not in spec.exclude and c.minutes <= spec.budget
                ]
        return
    assert valid(spec, chosen) == []


@settings(max_examples=100, deadline=None)
@given(spec=specs(), seed=st.text(min_size=1, max_size=8))
def test_same_seed_same_set(spec, seed):
    usage = Usage()
    try:
        a = select(spec, usage, seed)
    except Infeasible:
        return
    assert select(spec, usage, seed) == a


def test_different_seeds_give_different_sets():
    pool = tuple(
        Candidate(code=f"Q{i:02d}", version=1, qv_id=i, outcomes=frozenset({f"K{i % 4}"}), minutes=5) for i in range(40)
    )
    spec = DrawSpec(method=Method("pd", frozenset({"K0", "K1", "K2", "K3"}), 60, 4), pool=pool)
    sets = {tuple(c.code for c in select(spec, Usage(), str(s))) for s in range(50)}
    assert len(sets) > 40


def test_named_reason_when_apprentice_has_met_every_question_for_an_outcome():
    pool = (
        Candidate("A", 1, 1, frozenset({"K1"}), 5),
        Candidate("B", 1, 2, frozenset({"K1"}), 5),
        Candidate("C", 1, 3, frozenset({"K1"}), 5),
        Candidate("D", 1, 4, frozenset({"K2"}), 5),
    )
    spec = DrawSpec(method=Method("pd", frozenset({"K1", "K2"}), 30, 2), pool=pool, exclude=frozenset("ABC"))
    try:
        select(spec, Usage(), "x")
    except Infeasible as e:
        assert e.reasons[0] == "K1: all 3 approved questions were already asked of this apprentice"
    else:
        raise AssertionError("expected Infeasible")


def test_time_budget_reason_and_extra_time():
    pool = tuple(Candidate(f"Q{i}", 1, i, frozenset({f"K{i}"}), 10) for i in range(4))
    method = Method("pd", frozenset(f"K{i}" for i in range(4)), 30, 4)
    try:
        select(DrawSpec(method=method, pool=pool), Usage(), "s")
        raise AssertionError("expected Infeasible")
    except Infeasible as e:
        assert "30 available" in e.reasons[0] or "within 30 minutes" in e.reasons[0]
    chosen = select(DrawSpec(method=method, pool=pool, extra_time_pct=34), Usage(), "s")  # 40 minutes
    assert len(chosen) == 4


def test_exposure_control_prefers_less_used_questions():
    pool = tuple(Candidate(f"Q{i:02d}", 1, i, frozenset({"K1"}), 5) for i in range(10))
    spec = DrawSpec(method=Method("pd", frozenset({"K1"}), 30, 1), pool=pool)
    usage = Usage(sets=100, mean_length=1, counts={f"Q{i:02d}": 40 for i in range(9)})  # Q09 unused
    picks = [select(spec, usage, str(s))[0].code for s in range(200)]
    assert picks.count("Q09") > 150


def test_order_opens_with_an_opener_and_groups_topics():
    cs = [
        Candidate("A", 1, 1, frozenset(), 1, topic="x"),
        Candidate("B", 1, 2, frozenset(), 1, topic="y"),
        Candidate("C", 1, 3, frozenset(), 1, topic="x"),
        Candidate("D", 1, 4, frozenset(), 1, topic="y", opener=True),
    ]
    assert [c.code for c in order(cs)] == ["D", "B", "A", "C"]


def test_swap_options_keep_coverage():
    a = Candidate("A", 1, 1, frozenset({"K1", "K2"}), 5)
    b = Candidate("B", 1, 2, frozenset({"K3"}), 5)
    c = Candidate("C", 1, 3, frozenset({"K1"}), 5)
    d = Candidate("D", 1, 4, frozenset({"K1", "K2", "K9"}), 5)
    spec = DrawSpec(method=Method("pd", frozenset({"K1", "K2", "K3"}), 20, 2), pool=(a, b, c, d))
    assert [x.code for x in swap_options(spec, [a, b], a)] == ["D"]


@settings(max_examples=150, deadline=None)
@given(spec=specs(), useed=st.integers(0, 1000), seed=st.text(min_size=1, max_size=8))
def test_the_consulted_part_of_the_usage_snapshot_replays_the_set(spec, useed, seed):
    usage = random_usage(spec, useed)
    consulted: set[str] = set()
    try:
        chosen = select(spec, usage, seed, consulted)
    except Infeasible:
        return
    assert select(spec, usage.restricted_to(consulted), seed) == chosen
