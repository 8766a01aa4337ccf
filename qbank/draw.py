"""The draw: choosing a question set for one apprentice and one method. Pure: no database here.

Hard constraints (a set meets all of them, or `Infeasible` says which cannot be met and why):
  1. only the pool's questions (approved versions of one release, usable in the method);
  2. coverage: every outcome the method must assess is targeted by some question in the set;
  3. no question id already drawn for this apprentice (the caller passes them as `exclude`);
  4. no two questions in the set are near-duplicates;
  5. the estimated minutes fit the method's time (plus extra time), and the set has at least
     the method's minimum number of questions;
  6. themes: where the method groups its outcomes into themes with minimums (ST0480 method 1: at
     least 2 questions from each of 3 grading themes), the set's questions can be shared out so
     that every theme gets its minimum, each question counting for one theme only.

Soft goals: low exposure (each question's share of recent sets stays under `exposure_cap`,
less-used questions preferred), low overlap within a cohort, and a natural order (an opener
first, topics grouped). Selection is randomised from a seed; the same inputs and seed always give
the same set, which is what makes `--replay` possible.

The method: randomised greedy set cover, most constrained outcome first. Each step takes the
uncovered outcome with the fewest usable questions left and draws one of the questions covering
it, with probability proportional to weight = (new outcomes covered)^2 x exposure factor x cohort
factor. Exposure factor exp(-4 * count / max(target * sets, 3)), where target is the share every
question would have if use were spread evenly (mean set length / pool size), pushes use towards
uniform, which is what minimises mean overlap (Chen, Ankenmann & Spray 2003); the floor of 3 sets
(v5, `COUNT_FLOOR`) keeps one earlier use from ruling a question out in a large pool. A set over time is retried with
fresh randomness from the same seed; a covering set first drops questions the rest of it makes
redundant, then takes questions for any theme still short of its minimum, then is padded to the
method's minimum with the least-used questions that fit. Soft
goals never cost a hard one: after a third of the tries exposure is weighted less, and in the last
third not at all.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from . import definition
from .defaults import EXPOSURE_CAP

# Stored with every draw; a new one whenever select() would choose differently. Every algorithm a
# stored draw names stays replayable: the snapshot (`Usage`) says which rules it was drawn by.
ALGORITHM = "qbank-draw/5"  # v3, with use weighed against at least COUNT_FLOOR sets (`Usage.count_floor`)
ALGORITHM_PLANNED = "qbank-draw/4"  # v3 steering towards a plan's target rates (`Usage.targets`)
ALGORITHMS = {  # (planned, openers honoured, count floor) -> the algorithm's name
    (False, False, False): "qbank-draw/1",  # openers only below 1.5 times an even share
    (True, False, False): "qbank-draw/2",  # issue 17: steering towards the plan, openers below their rate
    (False, True, False): "qbank-draw/3",  # a set opens with a usable opener whenever there is one
    (True, True, False): ALGORITHM_PLANNED,
    (False, True, True): ALGORITHM,
}
COUNT_FLOOR = 3
"""v5: a question's recent use is weighed against max(its even share of the recent sets, 3 sets):
exp(-4 * count / max(target * sets, COUNT_FLOOR)). In a large pool an even share is a fraction of
one set, so v3 weighed a single earlier use down by e^-4 or more and walked through the least
used, narrow questions, overrunning the time and retrying: on the 10,000-question bank's
presentation questioning v5 cut the overlap from 4.4 to 2.7 times its floor, max exposure from
0.038 to 0.014 and p50/p99 from 186/452 to 97/212 ms (1,000 draws, bench/bench_count_floor.py).
Where an even share is 3 sets or more (every shipped bank once its window holds a few dozen sets)
the weight is v3's."""
MAX_TRIES = 60
SAMPLE = 48  # candidates weighed per step in large pools


class Candidate(NamedTuple):
    """One question version a draw may choose (a named tuple: a 50,000-question pool is built in
    a few tens of milliseconds, where a frozen dataclass took ten times longer)."""

    code: str  # question id, e.g. IL-PD-014
    version: int
    qv_id: int  # question_version row id (0 when not from a store)
    outcomes: frozenset[str]
    minutes: int
    topic: str = ""
    opener: bool = False


@dataclass(frozen=True)
class Usage:
    """What the draw knows of recent use: the snapshot stored with each draw for replay."""

    sets: int = 0  # recent sets of this method
    mean_length: float = 0.0  # their mean length
    counts: dict[str, int] = field(default_factory=dict)  # question id -> recent sets containing it
    cohort_counts: dict[str, int] = field(default_factory=dict)  # same, within the apprentice's cohort
    # question id -> the rate the method's plan (`floor.plan`) wants it drawn at; empty: no plan (v1)
    targets: dict[str, float] = field(default_factory=dict)
    # the set opens with an opener whenever one is usable (under the cap, not met before); False
    # only when replaying a draw made before openers were honoured (qbank-draw/1 and /2)
    openers: bool = True
    # v5: use is weighed against at least this many sets (COUNT_FLOOR); 0 when replaying a draw
    # made by an earlier algorithm. A planned draw (v4) weighs by its plan and ignores it
    count_floor: int = COUNT_FLOOR

    @property
    def algorithm(self) -> str:
        floor = bool(self.count_floor) and not self.targets
        return ALGORITHMS[(bool(self.targets), self.openers, floor)]

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "sets": self.sets,
            "mean_length": self.mean_length,
            "counts": dict(sorted(self.counts.items())),
            "cohort_counts": dict(sorted(self.cohort_counts.items())),
        }
        if self.targets:  # a v1 snapshot stays as it was
            d["targets"] = dict(sorted(self.targets.items()))
        if self.openers:  # absent in the snapshots of draws made before openers were honoured
            d["openers"] = True
        if self.count_floor:  # absent before v5 (a planned draw, v4, ignores it)
            d["count_floor"] = self.count_floor
        return d

    def restricted_to(self, codes: set[str]) -> Usage:
        """The part of this snapshot a draw consulted: enough to replay it, far smaller to store."""
        return Usage(
            sets=self.sets,
            mean_length=self.mean_length,
            counts={c: self.counts[c] for c in codes if self.counts.get(c)},
            cohort_counts={c: self.cohort_counts[c] for c in codes if self.cohort_counts.get(c)},
            # every consulted target, zero included: a planned draw stays planned when replayed
            targets={c: self.targets.get(c, 0.0) for c in codes} if self.targets else {},
            openers=self.openers,
            count_floor=self.count_floor,
        )

    def planned(self, targets: dict[str, float]) -> Usage:
        """This snapshot with a plan's target rates: the draw steers towards them (ALGORITHM_PLANNED)."""
        return Usage(
            self.sets, self.mean_length, self.counts, self.cohort_counts, dict(targets), self.openers, self.count_floor
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Usage:
        return cls(
            sets=d.get("sets", 0),
            mean_length=d.get("mean_length", 0.0),
            counts=dict(d.get("counts", {})),
            cohort_counts=dict(d.get("cohort_counts", {})),
            targets=dict(d.get("targets", {})),
            openers=bool(d.get("openers", False)),
            count_floor=int(d.get("count_floor", 0)),
        )


def Method(id: str, required: Iterable[str], minutes: int, min_questions: int) -> definition.Method:  # noqa: N802
    """The engine takes qbank's one method type, `definition.Method` (what it must cover is its
    `required`); this builds one from only what the engine reads, for pools made outside a release."""
    return definition.Method.for_draw(id, required, minutes, min_questions)


@dataclass(frozen=True)
class DrawSpec:
    method: definition.Method
    pool: tuple[Candidate, ...]
    near_duplicates: frozenset[frozenset[str]] = frozenset()  # pairs of question ids
    exclude: frozenset[str] = frozenset()  # question ids already drawn for this apprentice
    extra_time_pct: int = 0
    exposure_cap: float = EXPOSURE_CAP

    @property
    def budget(self) -> int:
        return math.floor(self.method.minutes * (100 + self.extra_time_pct) / 100)


@dataclass(frozen=True)
class PoolIndex:
    """Per pool and required outcomes: which questions target each outcome. Pools are immutable
    (one release, one method), so this is built once and reused by every draw."""

    by_outcome: dict[str, tuple[Candidate, ...]]
    openers: tuple[Candidate, ...]  # v1, v2: openers reaching a required outcome
    any_openers: tuple[Candidate, ...]  # v3, v4: every opener (a method may require no outcome of the draw)
    minutes: dict[str, int]  # question id -> minutes
    sorted_minutes: tuple[int, ...]
    constrained_first: tuple[str, ...]  # outcomes by how few questions target them, then code


_INDEX: dict[int, tuple[tuple[Candidate, ...], frozenset[str], PoolIndex]] = {}


def pool_index(pool: tuple[Candidate, ...], required: frozenset[str]) -> PoolIndex:
    hit = _INDEX.get(id(pool))
    if hit is not None and hit[0] is pool and hit[1] == required:
        return hit[2]
    by: dict[str, list[Candidate]] = {o: [] for o in required}
    for c in pool:
        for o in c.outcomes & required:
            by[o].append(c)
    idx = PoolIndex(
        by_outcome={o: tuple(v) for o, v in by.items()},
        openers=tuple(c for c in pool if c.opener and c.outcomes & required),
        any_openers=tuple(c for c in pool if c.opener),
        minutes={c.code: c.minutes for c in pool},
        sorted_minutes=tuple(sorted(c.minutes for c in pool)),
        constrained_first=tuple(sorted(required, key=lambda o: (len(by[o]), o))),
    )
    if len(_INDEX) > 64:
        _INDEX.clear()
    _INDEX[id(pool)] = (pool, required, idx)
    return idx


class Infeasible(Exception):
    """No set can meet the hard constraints; `reasons` name each outcome or constraint."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def usable_pool(spec: DrawSpec) -> list[Candidate]:
    exclude, budget = spec.exclude, spec.budget
    return [c for c in spec.pool if c.minutes <= budget and c.code not in exclude]


def check_feasible(spec: DrawSpec) -> int:
    """How many questions are usable; Infeasible naming every outcome and constraint that cannot be met."""
    m = spec.method
    reasons = []
    index = pool_index(spec.pool, m.required)
    by_outcome_all = index.by_outcome
    exclude, budget = spec.exclude, spec.budget
    fitting = bisect.bisect_right(index.sorted_minutes, budget)
    n_usable = fitting - sum(1 for x in exclude if index.minutes.get(x, budget + 1) <= budget)
    for o in sorted(m.required):
        allq = by_outcome_all[o]
        if not allq:
            reasons.append(f"{o}: no approved question in the release is usable in {m.id}")
        elif any(c.code not in exclude and c.minutes <= budget for c in allq):
            continue
        elif all(c.code in exclude for c in allq):
            reasons.append(
                f"{o}: all {len(allq)} approved question{'s' if len(allq) != 1 else ''} "
                f"were already asked of this apprentice"
            )
        else:
            reasons.append(f"{o}: every remaining question takes longer than the {budget} minutes available")
    least = m.least_questions
    if n_usable < least:
        reasons.append(f"{m.id} needs at least {least} questions but only {n_usable} are left for this apprentice")
    if m.themes:
        usable = (c for c in spec.pool if c.code not in exclude and c.minutes <= budget)
        for t, n in zip(m.themes, theme_counts(usable, m.themes)):
            if n < t.min_questions:
                reasons.append(
                    f"theme {t.name!r} of {m.id} needs {t.min_questions} questions of its own "
                    f"({', '.join(sorted(t.outcomes))}) but only {n} can be given to it from the questions "
                    f"left for this apprentice"
                )
    if reasons:
        raise Infeasible(reasons)
    return n_usable


def theme_counts(questions: Iterable[Candidate], themes: Sequence[definition.Theme]) -> list[int]:
    """How many of `questions` each theme can have, up to its minimum, when each question counts
    for one theme only (a maximum bipartite matching of questions to the themes' places; the
    themes' minimums are a handful of places, so this is a few steps per question)."""
    slots = [i for i, t in enumerate(themes) for _ in range(t.min_questions)]
    owner: list[Candidate | None] = [None] * len(slots)

    def place(c: Candidate, seen: set[int]) -> bool:
        for si, ti in enumerate(slots):
            if si in seen or not (c.outcomes & themes[ti].outcomes):
                continue
            seen.add(si)
            held = owner[si]
            if held is None or place(held, seen):
                owner[si] = c
                return True
        return False

    free = len(slots)
    for c in questions:
        if not free:
            break
        if place(c, set()):
            free -= 1
    counts = [0] * len(themes)
    for si, ti in enumerate(slots):
        if owner[si] is not None:
            counts[ti] += 1
    return counts


def themes_met(questions: Sequence[Candidate], themes: Sequence[definition.Theme]) -> bool:
    """Whether the questions give every theme its minimum (always, for a method without themes)."""
    return not themes or all(n >= t.min_questions for n, t in zip(theme_counts(questions, themes), themes))


class _Weights:
    """Each question's draw weight, computed when first needed (a draw looks at a few hundred of
    a 10,000-question pool) and remembered for the rest of the draw."""

    def __init__(self, usage: Usage, target: float, cap: float, power: float = 1.0, seen: set[str] | None = None):
        self.usage, self.target, self.cap, self.power = usage, target, cap, power
        self.memo: dict[str, float] = {}
        self.seen = seen if seen is not None else set()  # every question whose usage was consulted

    def __getitem__(self, c: Candidate) -> float:
        w = self.memo.get(c.code)
        if w is None:
            self.seen.add(c.code)
            w = _weight(c, self.usage, self.target, self.cap) ** self.power
            self.memo[c.code] = w
        return w

    def share(self, c: Candidate) -> float:
        self.seen.add(c.code)
        return self.usage.counts.get(c.code, 0) / self.usage.sets if self.usage.sets else 0.0

    @property
    def breadth(self) -> float:
        """The power of the new outcomes a question covers in its weight: v1 squares it, to keep
        sets short; v2 leaves set length to the plan, whose rates already say how broad sets are."""
        return BREADTH_PLANNED if self.usage.targets else 2.0

    def opener_share(self, c: Candidate) -> float:
        """The share below which an opener may open the set: the exposure cap (v3, v4: an opener is
        usable until it reaches the cap); before that, its plan's rate (v2), else 1.5 times an even
        share (v1, which let a bank's only opener reach 1.5 times what the others had)."""
        if self.usage.openers:
            return self.cap
        return self.usage.targets.get(c.code, 0.0) if self.usage.targets else 1.5 * self.target

    def softened(self, power: float) -> _Weights:
        return _Weights(self.usage, self.target, self.cap, power, self.seen)


STEER = 4.0  # how hard use above a question's target pushes it down: exp(-STEER * share / target)
BREADTH_PLANNED = 0.0
UNPLANNED = 1e-3  # the weight of a question a plan never uses: only when nothing else will do


def _weight(c: Candidate, usage: Usage, target: float, cap: float) -> float:
    if usage.targets:
        return _planned_weight(c, usage, cap)
    w = 1.0
    if usage.sets:
        count = usage.counts.get(c.code, 0)
        share = count / usage.sets
        if target > 0 and usage.count_floor:  # v5: against at least count_floor sets
            w *= math.exp(-4.0 * count / max(target * usage.sets, usage.count_floor))
        elif target > 0:  # v1-v3: exp(-4 * share / target)
            w *= math.exp(-4.0 * share / target)
        if share >= cap:
            w *= 0.001  # over the cap: used only when nothing else can cover an outcome
    cohort = usage.cohort_counts.get(c.code, 0)
    if cohort:
        w *= math.exp(-1.5 * cohort)
    return w


def _planned_weight(c: Candidate, usage: Usage, cap: float) -> float:
    """v2: the plan's rate for the question, times exp(-STEER * share / rate). Before any use the
    draw takes questions in proportion to their rates; then a question drawn more than its rate
    loses weight and one drawn less gains it, so recent use tracks the plan's rates."""
    t = usage.targets.get(c.code, 0.0)
    if t <= 0:
        w = UNPLANNED
    else:
        w = t
        if usage.sets:
            share = usage.counts.get(c.code, 0) / usage.sets
            w *= math.exp(-STEER * share / t)
            if share >= cap and share >= t:
                w *= 0.001
    cohort = usage.cohort_counts.get(c.code, 0)
    if cohort:
        w *= math.exp(-1.5 * cohort)
    return w


def select(spec: DrawSpec, usage: Usage, seed: str, consulted: set[str] | None = None) -> list[Candidate]:
    """A set meeting every hard constraint, in conversation order; Infeasible when none exists.

    `consulted`, when given, collects every question whose usage the selection looked at: the
    same seed and those counts (`Usage.restricted_to`) reproduce the same set."""
    n_usable = check_feasible(spec)
    m = spec.method
    rng = random.Random(seed)
    target = (usage.mean_length or m.least_questions) / max(n_usable, 1)
    usable = _Lazy(lambda: usable_pool(spec))
    base = _Weights(usage, target, spec.exposure_cap, seen=consulted)
    dup = spec.near_duplicates
    index = pool_index(spec.pool, m.required)
    best_over = None
    for attempt in range(MAX_TRIES):
        # soft goals yield to hard ones: later tries weigh exposure less, the last third not at all
        strength = 1.0 if attempt < MAX_TRIES // 3 else 0.5 if attempt < 2 * MAX_TRIES // 3 else 0.0
        weights = base if strength == 1.0 else base.softened(strength)
        # v3, v4: the last third may open without an opener, when opening with one fits no set
        open_with = not usage.openers or attempt < 2 * MAX_TRIES // 3
        chosen = _greedy(usable, index, m, spec, weights, dup, rng, open_with)
        if chosen is None:
            continue
        minutes = sum(c.minutes for c in chosen)
        if minutes <= spec.budget:
            return order(chosen, rng)
        best_over = minutes if best_over is None else min(best_over, minutes)
    exact, complete = _exhaustive(usable(), m, spec) if len(usable()) <= EXHAUSTIVE_POOL else (None, False)
    if exact is not None:
        return order(exact, rng)
    if complete:
        raise Infeasible([_no_set_reason(usable(), m, spec)])
    if best_over is None:
        raise Infeasible([f"no set of questions covers every outcome of {m.id} without near-duplicates"])
    raise Infeasible(
        [
            f"cannot cover all {len(m.required)} outcomes of {m.id} within {spec.budget} minutes: "
            f"the smallest covering sets found need {best_over} minutes (add extra time, or "
            f"questions that each evidence more outcomes)"
        ]
    )


def _conflicts(c: Candidate, chosen: list[Candidate], dup: frozenset[frozenset[str]]) -> bool:
    return bool(dup) and any(frozenset((c.code, x.code)) in dup for x in chosen)


def _pick(rng: random.Random, options: Sequence[T], weights: list[float]) -> T:
    total = sum(weights)
    if total <= 0:
        return options[rng.randrange(len(options))]
    r = rng.random() * total
    acc = 0.0
    for c, w in zip(options, weights):
        acc += w
        if r < acc:
            return c
    return options[-1]


T = TypeVar("T")


class _Lazy(Generic[T]):
    def __init__(self, make: Callable[[], T]) -> None:
        self.make: Callable[[], T] = make
        self.value: T | None = None

    def __call__(self) -> T:
        if self.value is None:
            self.value = self.make()
        return self.value


def _greedy(
    usable: _Lazy[list[Candidate]],
    index: PoolIndex,
    m: definition.Method,
    spec: DrawSpec,
    base: _Weights,
    dup: frozenset[frozenset[str]],
    rng: random.Random,
    open_with: bool = True,
) -> list[Candidate] | None:
    by_outcome = index.by_outcome
    chosen: list[Candidate] = []
    taken: set[str] = set()
    uncovered = set(m.required)
    used = 0
    # a natural opening question first: v3 and v4 whenever one is usable (under the exposure cap,
    # not met before); v1 and v2 only while it was used less than its share
    openers = [
        c
        for c in (index.any_openers if base.usage.openers else index.openers)
        if c.code not in spec.exclude and c.minutes <= spec.budget and base.share(c) < base.opener_share(c)
    ]
    first = None
    if openers and open_with:
        first = _pick(rng, openers, [base[c] * len(c.outcomes & uncovered) ** base.breadth for c in openers])
        chosen.append(first)
        taken.add(first.code)
        uncovered -= first.outcomes
        used += first.minutes
    exclude, budget = spec.exclude, spec.budget
    while uncovered:
        # the most constrained outcome: fewest questions target it (ties broken by code, for replay)
        o = next(k for k in index.constrained_first if k in uncovered)
        covering: Sequence[Candidate] = by_outcome[o]
        if len(covering) > SAMPLE:  # large pools: weigh a random sample of the candidates, not all
            covering = rng.sample(covering, SAMPLE)
        opts = [
            c
            for c in covering
            if c.code not in taken and c.code not in exclude and c.minutes <= budget and not _conflicts(c, chosen, dup)
        ]
        if not opts and covering is not by_outcome[o]:
            opts = [
                c
                for c in by_outcome[o]
                if c.code not in taken
                and c.code not in exclude
                and c.minutes <= budget
                and not _conflicts(c, chosen, dup)
            ]
        if not opts:
            return None
        room = budget - used
        fitting = [c for c in opts if c.minutes <= room] or opts
        weights = [base[c] * len(c.outcomes & uncovered) ** base.breadth / c.minutes for c in fitting]
        c = _pick(rng, fitting, weights)
        chosen.append(c)
        taken.add(c.code)
        uncovered -= c.outcomes
        used += c.minutes
    chosen = _prune(chosen, m, keep=first if base.usage.openers else None)
    taken = {c.code for c in chosen}
    used = sum(c.minutes for c in chosen)
    while m.themes:  # a question for each theme still short of its minimum
        counts = theme_counts(chosen, m.themes)
        short = frozenset().union(*(t.outcomes for t, n in zip(m.themes, counts) if n < t.min_questions))
        if not short:
            break
        room = spec.budget - used
        opts = [
            c
            for c in usable()
            if c.code not in taken and c.minutes <= room and c.outcomes & short and not _conflicts(c, chosen, dup)
        ]
        if not opts:
            return None
        # breadth: of the questions a theme can take, those reaching more of the method's outcomes
        reached = set().union(*(x.outcomes for x in chosen)) if chosen else set()
        c = _pick(rng, opts, [base[x] * (1 + len(x.outcomes - reached)) ** base.breadth / x.minutes for x in opts])
        chosen.append(c)
        taken.add(c.code)
        used += c.minutes
    while len(chosen) < m.least_questions:  # pad to the minimum with the least used that fit
        room = spec.budget - used
        opts = [c for c in usable() if c.code not in taken and c.minutes <= room and not _conflicts(c, chosen, dup)]
        if not opts:
            return None
        c = _pick(rng, opts, [base[x] for x in opts])
        chosen.append(c)
        taken.add(c.code)
        used += c.minutes
    return chosen


SEARCH_NODES = 200_000
EXHAUSTIVE_POOL = 80  # larger pools are left to the randomised tries: a search there could take seconds


def _exhaustive(usable: list[Candidate], m: definition.Method, spec: DrawSpec) -> tuple[list[Candidate] | None, bool]:
    """Depth-first search for any set meeting every hard constraint, cheapest questions first.

    The last resort when the randomised tries fail: complete for small pools (a failure then
    means no set exists), bounded to SEARCH_NODES nodes for large ones. Returns (set or None,
    whether the search was complete)."""
    pool = sorted(usable, key=lambda c: (c.minutes, c.code))
    dup = spec.near_duplicates
    budget = spec.budget
    nodes = 0
    complete = True

    def pad(chosen: list[Candidate], used: int, start: int) -> list[Candidate] | None:
        nonlocal nodes, complete
        if len(chosen) >= m.least_questions and themes_met(chosen, m.themes):
            return chosen
        taken = {c.code for c in chosen}
        for i in range(start, len(pool)):
            nodes += 1
            if nodes > SEARCH_NODES:
                complete = False
                return None
            c = pool[i]
            if c.code in taken or used + c.minutes > budget or _conflicts(c, chosen, dup):
                continue
            found = pad(chosen + [c], used + c.minutes, i + 1)
            if found:
                return found
        return None

    def cover(chosen: list[Candidate], uncovered: frozenset[str], used: int) -> list[Candidate] | None:
        nonlocal nodes, complete
        if not uncovered:
            return pad(chosen, used, 0)
        o = min(sorted(uncovered), key=lambda k: sum(1 for c in pool if k in c.outcomes))
        taken = {c.code for c in chosen}
        for c in pool:
            if o not in c.outcomes or c.code in taken or used + c.minutes > budget or _conflicts(c, chosen, dup):
                continue
            nodes += 1
            if nodes > SEARCH_NODES:
                complete = False
                return None
            found = cover(chosen + [c], uncovered - c.outcomes, used + c.minutes)
            if found:
                return found
        return None

    found = cover([], frozenset(m.required), 0)
    return found, complete


def _no_set_reason(usable: list[Candidate], m: definition.Method, spec: DrawSpec) -> str:
    least = m.least_questions
    cheapest = sorted(c.minutes for c in usable)[:least]
    if sum(cheapest) > spec.budget:
        return (
            f"{m.id} needs at least {least} questions but the shortest {least} left "
            f"take {sum(cheapest)} minutes, more than the {spec.budget} available"
        )
    themes = " and gives every theme its minimum" if m.themes else ""
    return (
        f"no set of the questions left covers all {len(m.required)} outcomes of {m.id}{themes} within "
        f"{spec.budget} minutes without near-duplicates (every combination was tried)"
    )


def _prune(chosen: list[Candidate], m: definition.Method, keep: Candidate | None = None) -> list[Candidate]:
    """Drop questions whose required outcomes the rest of the set already covers, longest first
    (never `keep`: the opener the set opens with)."""
    kept = list(chosen)
    for c in sorted(chosen, key=lambda x: (-x.minutes, x.code)):
        if len(kept) <= m.least_questions:
            break
        if c is keep:
            continue
        rest = [x for x in kept if x is not c]
        covered = set().union(*(x.outcomes for x in rest)) if rest else set()
        if m.required <= covered:
            kept = rest
    return kept


def order(chosen: list[Candidate], rng: random.Random | None = None) -> list[Candidate]:
    """Conversation order: an opener first (else the broadest question), then topics kept together."""
    if not chosen:
        return []
    first = next((c for c in chosen if c.opener), None) or max(chosen, key=lambda c: (len(c.outcomes), -c.minutes))
    topics: list[str] = [first.topic]
    for c in chosen:
        if c.topic not in topics:
            topics.append(c.topic)
    rest = [c for c in chosen if c is not first]
    return [first] + sorted(rest, key=lambda c: topics.index(c.topic))


def swap_options(spec: DrawSpec, current: list[Candidate], out: Candidate) -> list[Candidate]:
    """Questions that can replace `out`: keep coverage, time and every other constraint."""
    others = [c for c in current if c.code != out.code]
    covered = set().union(*(c.outcomes for c in others)) if others else set()
    must = (out.outcomes & spec.method.required) - covered
    used = sum(c.minutes for c in others)
    in_set = {c.code for c in current}
    options = [
        c
        for c in spec.pool
        if c.code not in in_set
        and c.code not in spec.exclude
        and must <= c.outcomes
        and used + c.minutes <= spec.budget
        and not _conflicts(c, others, spec.near_duplicates)
    ]
    themes = spec.method.themes
    if themes and themes_met(current, themes):  # a swap keeps every theme at its minimum
        options = [c for c in options if themes_met([*others, c], themes)]
    return options


def choose_swap(spec: DrawSpec, current: list[Candidate], out: Candidate, usage: Usage, seed: str) -> Candidate:
    options = swap_options(spec, current, out)
    if not options:
        others = [c for c in current if c.code != out.code]
        covered = set().union(*(c.outcomes for c in others)) if others else set()
        must = sorted((out.outcomes & spec.method.required) - covered)
        need = f"covers {', '.join(must)}, " if must else ""
        theme = "keeps every theme at its minimum, " if spec.method.themes else ""
        raise Infeasible(
            [
                f"no question left that {need}{theme}fits the remaining time, was never drawn for this "
                f"apprentice and is not a near-duplicate of the set"
            ]
        )
    rng = random.Random(seed)
    target = max(len(current), 1) / max(len(spec.pool), 1)
    weights = [_weight(c, usage, target, spec.exposure_cap) * (1 + len(c.outcomes & out.outcomes)) for c in options]
    return _pick(rng, options, weights)
