"""Where a standard's bank is thin, before any apprentice meets it (`qbank gaps`). Pure: no database.

Per method and per outcome a drawn set must cover, from the method's draw specification (a stored
release's pool, or the approved questions of bank files):

- k: the approved questions able to cover the outcome (those targeting it that fit the method's time);
- attempts: how many sets (first, resit, retake) one apprentice can be given before the outcome runs
  out. Every set takes at least one of the k and no question is put to an apprentice twice, so at
  most k; questions that are near-duplicates or declared exclusions of each other count once (a
  resit that asks a near-copy of a question already met is not a fresh question);
- the exposure floor 1/k: every set takes one of the k, so one of them is in at least 1/k of all
  sets, whatever the draw does. Over the exposure cap, the cap cannot be kept;
- needs: the new questions the outcome needs to meet the cap and to allow three attempts,
  max(0, ceil(1/cap) - k, 3 - attempts).

Per method as well: the attempts the method's minimum set size allows (three sets of at least
`least_questions` each need that many distinct questions), the bank's proved exposure floor from
the linear programme (`floor.plan`, issue 17: every constraint at once, which 1/k alone does not
see) with the outcomes that bind it, and the questions a short seeded simulation (`simulate`)
finds over the cap, with their share of sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .draw import DrawSpec, Infeasible
from .exposure import Plan
from .simulate import SimConfig, simulate

ATTEMPTS_WANTED = 3  # first, resit, retake: what one apprentice may need
GAPS_DRAWS = 2_000  # simulated draws per method: enough to see a question over the cap, quick to run
GAPS_SEED = "gaps"  # the simulation is seeded, so the same bank always gives the same report


@dataclass(frozen=True)
class OutcomeGap:
    outcome: str
    k: int  # approved questions able to cover it (fit the method's time)
    questions: tuple[str, ...]  # those k questions
    attempts: int  # sets one apprentice can be given before the outcome runs out
    alike: tuple[tuple[str, str], ...]  # near-duplicate or excluded pairs among them (each counted once)
    cap: float

    @property
    def floor(self) -> float | None:
        """The least maximum exposure among its questions: 1/k (None when no question covers it)."""
        return 1 / self.k if self.k else None

    @property
    def over_cap(self) -> bool:
        return self.k == 0 or 1 / self.k > self.cap + 1e-9

    @property
    def needs(self) -> int:
        """New questions the outcome needs to keep the cap and allow three attempts."""
        return max(0, questions_for_cap(self.cap) - self.k, ATTEMPTS_WANTED - self.attempts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "k": self.k,
            "questions": list(self.questions),
            "attempts": self.attempts,
            "alike": [list(p) for p in self.alike],
            "floor": None if self.floor is None else round(self.floor, 4),
            "cap": self.cap,
            "over_cap": self.over_cap,
            "needs": self.needs,
        }


@dataclass
class MethodGaps:
    method: str
    minutes: int
    cap: float
    least_questions: int  # the fewest questions a set may have
    usable: int  # approved questions that fit the method's time
    outcomes: list[OutcomeGap]  # thinnest first
    plan_floor: float | None = None  # the LP's least maximum exposure over every valid set
    plan_proved: bool = False
    plan_binding: tuple[str, ...] = ()
    plan_note: str = ""
    problem: str = ""  # why no set can be drawn at all, when none can
    simulated: int = 0  # draws simulated (0: not simulated)
    over_cap_questions: dict[str, float] = field(default_factory=dict)  # question -> share of sets
    failed: dict[str, int] = field(default_factory=dict)  # attempt -> simulated sets that failed
    exposure_max: float | None = None

    @property
    def attempts(self) -> int:
        """Sets one apprentice can be given: the thinnest outcome's, and what the set size allows."""
        by_size = self.usable // max(1, self.least_questions)
        return min([o.attempts for o in self.outcomes] + [by_size])

    @property
    def needs(self) -> int:
        """New questions the outcomes need (a question tagged with several counts once for each)."""
        return sum(o.needs for o in self.outcomes)

    @property
    def needs_for_size(self) -> int:
        """New usable questions (of any outcome) three sets of the minimum size need."""
        return max(0, ATTEMPTS_WANTED * self.least_questions - self.usable)

    @property
    def floor_over_cap(self) -> bool:
        return self.plan_floor is not None and self.plan_floor > self.cap + 1e-6

    @property
    def ok(self) -> bool:
        return not (self.needs or self.needs_for_size or self.floor_over_cap or self.over_cap_questions or self.problem)

    def summary(self) -> str:
        """'ok', or what the method needs, in one line."""
        if self.ok:
            return "ok"
        parts = []
        short = [o for o in self.outcomes if o.needs]
        if short:
            parts.append(
                f"needs {self.needs} more question(s) for outcomes "
                + ", ".join(f"{o.outcome} (+{o.needs})" for o in short)
            )
        if self.needs_for_size:
            parts.append(
                f"needs {self.needs_for_size} more question(s) that fit {self.minutes} minutes for "
                f"{ATTEMPTS_WANTED} sets of at least {self.least_questions}"
            )
        if self.problem:
            parts.append(self.problem)
        if self.floor_over_cap:
            assert self.plan_floor is not None
            binding = f" (binding: {', '.join(self.plan_binding)})" if self.plan_binding else ""
            parts.append(f"its exposure floor {self.plan_floor:.3f} is over the cap {self.cap:.2f}{binding}")
        if self.over_cap_questions:
            parts.append(f"{len(self.over_cap_questions)} question(s) over the cap in simulation")
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "ok": self.ok,
            "summary": self.summary(),
            "minutes": self.minutes,
            "cap": self.cap,
            "least_questions": self.least_questions,
            "usable": self.usable,
            "attempts": self.attempts,
            "needs": self.needs,
            "needs_for_size": self.needs_for_size,
            "plan": {
                "floor": None if self.plan_floor is None else round(self.plan_floor, 4),
                "proved": self.plan_proved,
                "binding": list(self.plan_binding),
                "note": self.plan_note,
            },
            "problem": self.problem,
            "simulation": {
                "draws": self.simulated,
                "exposure_max": self.exposure_max,
                "over_cap": self.over_cap_questions,
                "failed": self.failed,
            },
            "outcomes": [o.as_dict() for o in self.outcomes],
        }


def questions_for_cap(cap: float) -> int:
    """The fewest questions covering an outcome for 1/k to keep within `cap`: ceil(1/cap)."""
    return math.ceil(1 / cap - 1e-9)


def _components(ids: list[str], pairs: frozenset[frozenset[str]]) -> tuple[int, tuple[tuple[str, str], ...]]:
    """How many groups `ids` make when each pair in `pairs` joins two of them, and the pairs used."""
    parent = {i: i for i in ids}

    def root(i: str) -> str:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    used = []
    members = set(ids)
    for pair in pairs:
        a, b = sorted(pair) if len(pair) == 2 else (None, None)
        if a in members and b in members:
            used.append((a, b))
            parent[root(a)] = root(b)
    return len({root(i) for i in ids}), tuple(sorted(used))


def outcome_gaps(spec: DrawSpec) -> list[OutcomeGap]:
    """Every outcome a set of the method must cover, thinnest first (fewest attempts, then fewest questions)."""
    usable = [c for c in spec.pool if c.minutes <= spec.budget]
    out = []
    for o in spec.method.required:
        ids = sorted(c.code for c in usable if o in c.outcomes)
        groups, alike = _components(ids, spec.near_duplicates)
        out.append(OutcomeGap(o, len(ids), tuple(ids), groups, alike, spec.exposure_cap))
    return sorted(out, key=lambda g: (g.attempts, g.k, g.outcome))


def method_gaps(
    spec: DrawSpec,
    plan: Plan | None = None,
    *,
    solve: bool = True,
    draws: int = GAPS_DRAWS,
    seed: str = GAPS_SEED,
) -> MethodGaps:
    """The gaps of one method. `plan` is its stored plan; without one (or one solved for another
    cap) it is solved here when `solve` (bank files). `draws` simulated draws (0: none), seeded."""
    base = DrawSpec(
        method=spec.method, pool=spec.pool, near_duplicates=spec.near_duplicates, exposure_cap=spec.exposure_cap
    )  # as a first attempt sees it: no extra time, nothing excluded
    m = spec.method
    g = MethodGaps(
        method=m.id,
        minutes=base.budget,
        cap=spec.exposure_cap,
        least_questions=m.least_questions,
        usable=sum(1 for c in base.pool if c.minutes <= base.budget),
        outcomes=outcome_gaps(base),
    )
    if plan is not None and plan.cap != spec.exposure_cap:
        plan = None
    if plan is None and solve:
        from .floor import plan as solve_plan  # SciPy: loaded only when a plan must be solved

        try:
            plan = solve_plan(base)
        except Infeasible as e:
            g.problem = "no set meets every constraint: " + "; ".join(e.reasons)
    if plan is not None:
        g.plan_floor, g.plan_proved, g.plan_binding, g.plan_note = plan.floor, plan.proved, plan.binding, plan.note
    if draws > 0 and not g.problem:
        ours, _ = simulate(base, SimConfig(draws=draws, seed=seed), plan)
        g.simulated = draws
        g.over_cap_questions = dict(ours.over_cap_questions)
        g.failed = {a: n for a, n in ours.failures_by_attempt.items() if n}
        g.exposure_max = ours.exposure_max
    return g


@dataclass
class StandardGaps:
    standard: str
    source: str  # "release X.Y.Z in the store" or "the files in banks"
    methods: list[MethodGaps]

    @property
    def ok(self) -> bool:
        return all(m.ok for m in self.methods)

    def as_dict(self) -> dict[str, Any]:
        return {
            "standard": self.standard,
            "source": self.source,
            "ok": self.ok,
            "attempts_wanted": ATTEMPTS_WANTED,
            "methods": [m.as_dict() for m in self.methods],
        }

    def lines(self) -> list[str]:
        """The report as text: per method, its outcomes thinnest first, then its summary line."""
        out = [f"{self.standard} ({self.source}): where the bank is thin"]
        for m in self.methods:
            out.append("")
            out.append(
                f"{m.method}: {m.usable} approved question(s) fit {m.minutes} minutes; sets of at least "
                f"{m.least_questions}; exposure cap {m.cap:.2f}"
            )
            if m.outcomes:
                out.append(f"  {'outcome':<14}{'k':>4}{'attempts':>10}{'floor 1/k':>11}{'needs':>7}")
            else:
                out.append("  no outcome that every set must cover")
            for o in m.outcomes:
                floor = "-" if o.floor is None else f"{o.floor:.3f}" + ("!" if o.over_cap else " ")
                alike = f"  ({', '.join(f'{a}~{b}' for a, b in o.alike)} count once)" if o.alike else ""
                out.append(f"  {o.outcome:<14}{o.k:>4}{o.attempts:>10}{floor:>11}{o.needs:>7}{alike}")
            by_size = m.usable // max(1, m.least_questions)
            thinnest = min((o.attempts for o in m.outcomes), default=by_size)
            out.append(
                f"  attempts one apprentice can take: {m.attempts}"
                + (
                    f" ({m.usable} questions make {by_size} sets of {m.least_questions})"
                    if by_size < thinnest
                    else f" (until {m.outcomes[0].outcome} runs out)"
                    if m.outcomes
                    else ""
                )
            )
            if m.plan_floor is not None:
                proof = "proved" if m.plan_proved else f"not proved: {m.plan_note}" if m.plan_note else "not proved"
                binding = f"; binding: {', '.join(m.plan_binding)}" if m.plan_binding else ""
                out.append(
                    f"  exposure floor (linear programming over every valid set): {m.plan_floor:.3f} "
                    f"({proof}) against the cap {m.cap:.2f}{binding}"
                )
            if m.simulated:
                over = ", ".join(f"{q} {x:.3f}" for q, x in m.over_cap_questions.items()) or "none"
                failed = ", ".join(f"{a} {n}" for a, n in m.failed.items())
                out.append(
                    f"  simulation ({m.simulated} draws, seeded): questions over the cap: {over}"
                    + (f"; failed sets: {failed}" if failed else "")
                )
            out.append(f"  {m.method}: {m.summary()}")
        out.append("")
        out.append(
            "(k = approved questions that fit the method's time and can cover the outcome; attempts = sets one "
            "apprentice can be given before it runs out; ! = the floor 1/k is over the cap; needs = new questions "
            f"for the cap and {ATTEMPTS_WANTED} attempts, max(0, ceil(1/cap) - k, {ATTEMPTS_WANTED} - attempts))"
        )
        return out
