"""The proof of the draw: many simulated draws, measured against a uniform-random baseline.

A population of simulated apprentices in cohorts takes the method; a share resits and a share
retakes (each a new draw that must avoid every question that apprentice met). qbank's draw runs
exactly as in production (`draw.select`, a fresh seed per draw, usage over the last
`window` sets); the baseline draws N questions uniformly from the method's pool (N = qbank's
mean set length) with no constraints, as a learning platform's "random question" does.

Mean pairwise overlap is computed exactly without comparing pairs: the number of questions two
sets share, summed over all pairs, is sum over questions of C(n_q, 2), n_q being the number of
sets containing q. Its reference for a pool of N questions and mean set length L is L/N
(Chen, Ankenmann & Spray 2003: mean overlap = (N/L) Var(exposure) + L/N), the expected overlap of
two independent uniform sets. For M sets it is not quite the floor: `overlap_floor` gives the least
mean overlap M sets can have, (M·L/N − 1)/(M − 1) when every question is used equally, and
`exposure_floor` the least maximum exposure a bank allows, from its most thinly covered outcome.
The ratios reported are against these floors, i.e. against what is possible.
"""

from __future__ import annotations

import random
import secrets
import statistics
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .defaults import USAGE_WINDOW
from .draw import Candidate, DrawSpec, Infeasible, Usage, select, themes_met
from .exposure import Plan


@dataclass
class SimConfig:
    draws: int = 10_000
    resit_share: float = 0.20  # of apprentices, one more draw
    retake_share: float = 0.10  # of apprentices, a third draw
    cohort_size: int = 12
    window: int = USAGE_WINDOW
    seed: str | None = None  # only for the population; each draw still gets its own seed


def overlap_floor(sets: int, slots: int, questions: int) -> float:
    """The least mean pairwise overlap `sets` sets can have, holding `slots` questions in all (the
    sum of their lengths) drawn from `questions` questions, in the units `_measure` reports.

    Overlap is Σ_q C(n_q, 2) / C(M, 2) / L̄ with M sets, L̄ = slots / M and Σ_q n_q = slots = M·L̄.
    Σ_q C(n_q, 2) is convex in the counts, so for a fixed sum it is least when the counts are as
    equal as integers allow: n_q = ⌊M·L̄/N⌋ or ⌈M·L̄/N⌉. When M·L̄/N = c is whole every question is
    in exactly c sets and the floor is N·c(c − 1)/2 / (M(M − 1)/2) / L̄ = (c − 1)/(M − 1), i.e.
    (M·L̄/N − 1)/(M − 1); otherwise the integer floor lies a little above that formula (never below
    it), and it is never negative (it is 0 while M·L̄ ≤ N: then no two sets need share anything).
    It is below L̄/N whenever L̄ < N: L̄/N is what independent uniform sets average, not the least.
    """
    if sets < 2 or slots <= 0 or questions <= 0:
        return 0.0
    c, r = divmod(slots, questions)
    shared = (questions - r) * c * (c - 1) // 2 + r * (c + 1) * c // 2
    return shared / (sets * (sets - 1) / 2) / (slots / sets)


@dataclass(frozen=True)
class ExposureFloor:
    """The least maximum exposure a bank allows a method, from coverage alone.

    Every set must contain one of the k questions that can cover an outcome (those targeting it
    that fit the method's time and are not excluded), so over M sets those k questions are drawn
    at least M times and the most used of them is in at least M/k sets, 1/k of them. The bank's
    floor is the largest 1/k over the outcomes; the binding outcomes are those with the fewest
    questions. Outcomes no question can cover (k = 0) make every draw fail and are left out."""

    floor: float
    k: int  # the fewest questions that can cover an outcome (0 when no outcome can be covered)
    outcomes: tuple[str, ...]  # the outcomes with k questions: where the floor comes from
    by_outcome: dict[str, int]  # every required outcome -> how many questions can cover it

    @classmethod
    def of(cls, spec: DrawSpec) -> ExposureFloor:
        budget, exclude = spec.budget, spec.exclude
        ks = dict.fromkeys(spec.method.required, 0)
        for c in spec.pool:
            if c.minutes <= budget and c.code not in exclude:
                for o in c.outcomes & spec.method.required:
                    ks[o] += 1
        coverable = [k for k in ks.values() if k]
        k = min(coverable, default=0)
        return cls(
            floor=1 / k if k else 0.0,
            k=k,
            outcomes=tuple(sorted(o for o, n in ks.items() if k and n == k)),
            by_outcome=dict(sorted(ks.items(), key=lambda kv: (kv[1], kv[0]))),
        )


def usable_questions(spec: DrawSpec) -> int:
    """Questions of the pool a set could contain at all: those that fit the method's time."""
    return sum(1 for c in spec.pool if c.minutes <= spec.budget and c.code not in spec.exclude)


@dataclass
class SimStats:
    label: str
    sets: int
    failures: int
    coverage: float
    repeats: int
    exposure_max: float
    exposure_mean: float
    over_cap: int
    cap: float
    overlap: float
    overlap_bound: float
    cohort_overlap: float
    length_mean: float
    length_min: int
    length_max: int
    pool: int
    latency_p50_ms: float
    latency_p99_ms: float
    failure_reasons: dict[str, int]
    # what is possible (see `overlap_floor`, `ExposureFloor`): floors and comparisons against them
    floor_pool: int  # N of the floors: questions a set could contain (qbank: those that fit the time)
    overlap_floor: float  # least mean overlap of this many sets of this mean length
    exposure_floor: float  # least max exposure: max(1/k of the binding outcomes, mean share L̄/N)
    exposure_floor_k: int  # k of the binding outcomes; 0 when the mean share binds or sets need not cover
    exposure_floor_outcomes: list[str]  # outcomes with only k questions that can cover them
    exposure_limit: float  # max(cap, exposure floor): the most a draw can be asked to keep to
    over_limit: int  # questions over exposure_limit
    short_of_theme: int = 0  # sets that do not give every theme of the method its minimum
    conflicting: int = 0  # sets holding two questions that are near-duplicates or declared exclusions
    breadth: float = 0.0  # mean share of the outcomes the method assesses that a set's questions target
    # the plan (`floor.plan`, linear programming) when one was given: the floors the bank truly allows
    plan_floor: float | None = None  # least max exposure of any distribution over valid sets
    plan_proved: bool = False
    plan_overlap: float | None = None  # least expected overlap Σπ²/L̄ the plan found within max(cap, floor)
    plan_binding: list[str] = field(default_factory=list)  # outcomes that hold the floor up
    failures_by_attempt: dict[str, int] = field(default_factory=dict)
    sets_by_attempt: dict[str, int] = field(default_factory=dict)
    # each question over the cap (by more than 0.005) -> its share of sets, most exposed first (what `qbank gaps` names)
    over_cap_questions: dict[str, float] = field(default_factory=dict)

    @property
    def plan_overlap_ratio(self) -> float | None:
        return self.overlap / self.plan_overlap if self.plan_overlap else None

    @property
    def overlap_ratio(self) -> float:
        return self.overlap / self.overlap_bound if self.overlap_bound else 0.0

    @property
    def overlap_floor_ratio(self) -> float | None:
        """Observed overlap over the least possible; None when the floor is 0 (few short sets)."""
        return self.overlap / self.overlap_floor if self.overlap_floor else None

    @property
    def exposure_floor_ratio(self) -> float | None:
        return self.exposure_max / self.exposure_floor if self.exposure_floor else None

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["overlap_ratio"] = round(self.overlap_ratio, 3)
        for name in ("overlap_floor_ratio", "exposure_floor_ratio", "plan_overlap_ratio"):
            r = getattr(self, name)
            d[name] = None if r is None else round(r, 3)
        return d


def _population(cfg: SimConfig, rng: random.Random) -> list[tuple[str, str, str]]:
    """(apprentice, attempt, cohort) for each draw, in time order."""
    per_apprentice = 1 + cfg.resit_share + cfg.retake_share
    n = max(1, round(cfg.draws / per_apprentice))
    schedule = []
    pending: list[tuple[str, str, str]] = []
    for i in range(n):
        ref, cohort = f"SIM-{i:06d}", f"C{i // cfg.cohort_size:04d}"
        schedule.append((ref, "first", cohort))
        if rng.random() < cfg.resit_share + cfg.retake_share:
            pending.append((ref, "resit", cohort))
            if rng.random() < cfg.retake_share / max(cfg.resit_share + cfg.retake_share, 1e-9):
                pending.append((ref, "retake", cohort))
        if pending and rng.random() < 0.5:  # resits come a few months later, interleaved with new starts
            schedule.append(pending.pop(0))
    schedule.extend(pending)
    return schedule[: cfg.draws]


def _measure(
    label: str,
    sets: list[tuple[str, str, list[Candidate]]],
    spec: DrawSpec,
    failures: Counter[str],
    latencies: list[float],
    floor_pool: int,
    coverage_floor: ExposureFloor | None,
) -> SimStats:
    """`floor_pool` is the N of the floors; `coverage_floor` the bank's exposure floor, given only
    when every set had to cover the method's outcomes (not for the uniform baseline)."""
    required = spec.method.required
    n_sets = len(sets)
    appearances: Counter[str] = Counter()
    by_cohort: dict[str, Counter[str]] = {}
    cohort_sizes: Counter[str] = Counter()
    seen: dict[str, set[str]] = {}
    repeats = covered = short = conflicting = 0
    assessed = frozenset(spec.method.assesses) or required
    reach = 0.0
    themes, dup = spec.method.themes, spec.near_duplicates
    lengths = []
    for ref, cohort, chosen in sets:
        codes = [c.code for c in chosen]
        lengths.append(len(codes))
        appearances.update(codes)
        by_cohort.setdefault(cohort, Counter()).update(codes)
        cohort_sizes[cohort] += 1
        met = seen.setdefault(ref, set())
        repeats += sum(1 for c in codes if c in met)
        met.update(codes)
        if required <= set().union(*(c.outcomes for c in chosen)):
            covered += 1
        if assessed:
            reach += len(assessed & set().union(*(c.outcomes for c in chosen))) / len(assessed)
        if themes and not themes_met(chosen, themes):
            short += 1
        if dup and any(frozenset((a, b)) in dup for i, a in enumerate(codes) for b in codes[i + 1 :]):
            conflicting += 1
    pool = len(spec.pool)
    mean_len = statistics.fmean(lengths) if lengths else 0.0
    pairs = n_sets * (n_sets - 1) / 2
    shared = sum(n * (n - 1) / 2 for n in appearances.values())
    overlap = shared / pairs / mean_len if pairs and mean_len else 0.0
    c_pairs = sum(k * (k - 1) / 2 for k in cohort_sizes.values())
    c_shared = sum(n * (n - 1) / 2 for cnt in by_cohort.values() for n in cnt.values())
    cohort_overlap = c_shared / c_pairs / mean_len if c_pairs and mean_len else 0.0
    shares = [appearances.get(c.code, 0) / n_sets for c in spec.pool] if n_sets else [0.0]
    lat = sorted(latencies)
    slots = sum(lengths)
    mean_floor = slots / n_sets / floor_pool if n_sets and floor_pool else 0.0  # max share >= mean share
    cov = coverage_floor if coverage_floor is not None and coverage_floor.k and n_sets else None
    if cov is not None and cov.floor >= mean_floor:
        e_floor, e_k, e_outcomes = cov.floor, cov.k, list(cov.outcomes)
    else:
        e_floor, e_k, e_outcomes = mean_floor, 0, []
    limit = max(spec.exposure_cap, e_floor)

    def pct(p: float) -> float:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 3) if lat else 0.0

    return SimStats(
        label=label,
        sets=n_sets,
        failures=sum(failures.values()),
        coverage=round(covered / n_sets, 4) if n_sets else 0.0,
        repeats=repeats,
        exposure_max=round(max(shares), 4),
        exposure_mean=round(statistics.fmean(shares), 4),
        over_cap=sum(1 for x in shares if x > spec.exposure_cap),
        cap=spec.exposure_cap,
        overlap=round(overlap, 5),
        overlap_bound=round(mean_len / pool, 5) if pool else 0.0,
        cohort_overlap=round(cohort_overlap, 5),
        length_mean=round(mean_len, 2),
        length_min=min(lengths, default=0),
        length_max=max(lengths, default=0),
        pool=pool,
        latency_p50_ms=pct(0.50),
        latency_p99_ms=pct(0.99),
        failure_reasons=dict(failures.most_common(5)),
        floor_pool=floor_pool,
        overlap_floor=round(overlap_floor(n_sets, slots, floor_pool), 5),
        exposure_floor=round(e_floor, 4),
        exposure_floor_k=e_k,
        exposure_floor_outcomes=e_outcomes,
        exposure_limit=round(limit, 4),
        over_limit=sum(1 for x in shares if x > limit + 1e-9),
        short_of_theme=short,
        conflicting=conflicting,
        breadth=round(reach / n_sets, 4) if n_sets else 0.0,
        over_cap_questions=dict(
            sorted(
                # beyond a hair's breadth: a question kept at the cap (an opener, by the opener rule)
                # ends a simulation up to a draw's worth above it, which is not a finding
                (
                    (c.code, round(x, 4))
                    for c, x in zip(spec.pool, shares, strict=False)
                    if x > spec.exposure_cap + 0.005
                ),
                key=lambda kv: (-kv[1], kv[0]),
            )
        ),
    )


def simulate(
    spec: DrawSpec, cfg: SimConfig, plan: Plan | None = None, *, steer: bool = False
) -> tuple[SimStats, SimStats]:
    """(qbank's draw, uniform baseline) over the same population. With the method's `plan` the
    figures are set against its floors; with `steer` too, the draw steers towards the plan's
    rates (qbank-draw/4), which production does not (see `draws._draw_in`)."""
    targets = plan.rates if steer and plan is not None and plan.cap == spec.exposure_cap else None
    attempts: Counter[str] = Counter()
    failed_attempts: Counter[str] = Counter()
    prng = random.Random(cfg.seed if cfg.seed is not None else secrets.token_hex(16))
    schedule = _population(cfg, prng)
    recent: deque[tuple[str, list[str]]] = deque()
    counts: Counter[str] = Counter()
    cohort_counts: dict[str, Counter[str]] = {}
    history: dict[str, set[str]] = {}
    sets: list[tuple[str, str, list[Candidate]]] = []
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    total_len = 0
    for ref, attempt, cohort in schedule:
        exclude = frozenset(history.get(ref, ()))
        usage = Usage(
            sets=len(recent),
            mean_length=total_len / len(recent) if recent else 0.0,
            counts=counts,
            cohort_counts=cohort_counts.get(cohort, {}),
            targets=targets or {},
        )
        dspec = DrawSpec(
            method=spec.method,
            pool=spec.pool,
            near_duplicates=spec.near_duplicates,
            exclude=exclude,
            extra_time_pct=spec.extra_time_pct,
            exposure_cap=spec.exposure_cap,
        )
        seed = secrets.token_hex(16) if cfg.seed is None else f"{cfg.seed}:{len(sets) + sum(failures.values())}"
        t = time.perf_counter()
        try:
            chosen = select(dspec, usage, seed)
        except Infeasible as e:
            latencies.append(time.perf_counter() - t)
            failures[f"{attempt}: {e.reasons[0].split(':')[0]}"] += 1
            failed_attempts[attempt] += 1
            continue
        latencies.append(time.perf_counter() - t)
        attempts[attempt] += 1
        codes = [c.code for c in chosen]
        sets.append((ref, cohort, chosen))
        history.setdefault(ref, set()).update(codes)
        recent.append((cohort, codes))
        counts.update(codes)
        cohort_counts.setdefault(cohort, Counter()).update(codes)
        total_len += len(codes)
        if len(recent) > cfg.window:
            old_cohort, old = recent.popleft()
            counts.subtract(old)
            cohort_counts[old_cohort].subtract(old)
            total_len -= len(old)
    first = DrawSpec(method=spec.method, pool=spec.pool, extra_time_pct=spec.extra_time_pct)  # nothing excluded
    ours = _measure("qbank", sets, spec, failures, latencies, usable_questions(first), ExposureFloor.of(first))
    ours.sets_by_attempt = dict(attempts)
    ours.failures_by_attempt = {a: failed_attempts[a] for a in ("first", "resit", "retake")}
    if plan is not None:
        ours.plan_floor, ours.plan_proved = plan.floor, plan.proved
        ours.plan_overlap, ours.plan_binding = plan.overlap, list(plan.binding)
        if plan.floor > ours.exposure_floor:  # the LP's floor is the true one; 1/k and L/N are bounds on it
            ours.exposure_floor, ours.exposure_floor_k, ours.exposure_floor_outcomes = plan.floor, 0, list(plan.binding)
        ours.exposure_limit = round(max(spec.exposure_cap, ours.exposure_floor), 4)
        shares = Counter(c.code for _, _, chosen in sets for c in chosen)
        ours.over_limit = sum(1 for n in shares.values() if n / max(ours.sets, 1) > ours.exposure_limit + 1e-9)

    n = max(1, round(ours.length_mean)) if ours.sets else spec.method.least_questions
    pool = list(spec.pool)
    base_sets, base_lat = [], []
    for ref, _attempt, cohort in schedule:
        t = time.perf_counter()
        chosen = prng.sample(pool, min(n, len(pool)))
        base_lat.append(time.perf_counter() - t)
        base_sets.append((ref, cohort, chosen))
    base = _measure(f"uniform random {n}", base_sets, spec, Counter(), base_lat, len(pool), None)
    return ours, base
