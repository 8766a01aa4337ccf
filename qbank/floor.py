"""The exposure floor of a bank, proved by linear programming: how unpredictable a method's sets can be.

A *valid set* meets every hard constraint of the draw (`draw.py`): coverage of the method's
required outcomes, its time, its minimum number of questions, its theme minimums, no two
questions that must not share a set. A draw policy is, over many apprentices, a probability
distribution p over valid sets; question q's exposure is its inclusion rate π_q = Σ_{S ∋ q} p_S.

Stage 1, the floor: the least maximum exposure any distribution can reach,

    z* = min z   s.t.  Σ_{S ∋ q} p_S ≤ z  (every question q),   Σ_S p_S = 1,   p ≥ 0.

There are far too many valid sets to write down, so the LP is solved by column generation: the
master LP holds a few hundred sets; its duals y_q ≥ 0 (Σ y = 1) price every other set at
Σ_{q ∈ S} y_q − μ, and the pricing problem finds the valid set of least Σ y_q. A randomised
greedy (the draw's own cover with the duals as costs) proposes many cheap sets per round; when it
finds none that improves, an exact integer program (HiGHS through SciPy's `milp`, every hard
constraint written out) either finds one or proves there is none, and then z* is optimal. Any
y also proves a lower bound: every valid set holds at least min_S y(S) of its mass, so no
distribution keeps all exposures below that; `Plan.bound` is the best such bound found, equal to
the floor when `proved`.

Stage 2, the target rates: among distributions whose exposures all stay within
limit = max(cap, z*), the one of least expected overlap Σ_q π_q² / L̄ (the share of a set that
another set holds, as `simulate` measures it; L̄ = Σ_q π_q, the mean set length), a ratio made
linear by the Charnes-Cooper transformation and solved by the same column generation over
tangents of π² (`_stage2`). Minimising Σ π² alone, as the first version did, favoured short
sets, and its "least overlap" was not a floor: an unplanned draw with longer sets went below it.
Its rates are what a draw may steer towards (`draw.py`, qbank-draw/4: `qbank simulate --steer`;
production draws do not, see `draws._draw_in`) and its overlap is the
least any draw can reach under the limit. It keeps the draw's opener rule (a set opens with an
opener while one is under the cap): every opener at the cap, or, when the openers can fill
every set, an opener in every set.

Pure: no database here. The solver is SciPy's HiGHS (`scipy.optimize.linprog`, `milp`).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from . import definition
from .draw import Candidate, DrawSpec, Infeasible, check_feasible, select, themes_met
from .exposure import Plan

TOL = 1e-7
GREEDY_TRIES = 24  # cheap sets proposed per pricing round
MAX_ROUNDS = 400
MILP_SECONDS = 20.0  # one exact pricing problem; beyond it the plan keeps the bound it proved
TIME_LIMIT = 120.0  # one stage of one method: beyond it the plan stops with the bound it proved
LARGE_POOL = 1_500  # usable questions beyond which sets are not enumerated (see `_large`)


def valid(spec: DrawSpec, chosen: Sequence[Candidate]) -> bool:
    """Whether a set meets every hard constraint of the draw (the definition the LP optimises over)."""
    m = spec.method
    codes = [c.code for c in chosen]
    if len(set(codes)) != len(codes) or len(codes) < m.least_questions:
        return False
    if any(c.code in spec.exclude for c in chosen) or sum(c.minutes for c in chosen) > spec.budget:
        return False
    covered = set().union(*(c.outcomes for c in chosen)) if chosen else set()
    if not m.required <= covered or not themes_met(chosen, m.themes):
        return False
    dup = spec.near_duplicates
    return not any(frozenset((a, b)) in dup for i, a in enumerate(codes) for b in codes[i + 1 :])


# --------------------------------------------------------------------------- pricing


class _Pricer:
    """Finds valid sets of least total cost Σ y_q: greedily (many per round), exactly (one MILP)."""

    def __init__(self, spec: DrawSpec, usable: list[Candidate]):
        self.spec, self.m = spec, spec.method
        self.cands = usable
        self.pos = {c.code: i for i, c in enumerate(usable)}
        self.by_outcome: dict[str, list[int]] = {o: [] for o in self.m.required}
        for i, c in enumerate(usable):
            for o in c.outcomes & self.m.required:
                self.by_outcome[o].append(i)
        self.conflicts: dict[int, set[int]] = {}
        for pair in spec.near_duplicates:
            a, b = tuple(pair)
            if a in self.pos and b in self.pos:
                self.conflicts.setdefault(self.pos[a], set()).add(self.pos[b])
                self.conflicts.setdefault(self.pos[b], set()).add(self.pos[a])
        self._model: tuple[Any, ...] | None = None

    # the greedy ------------------------------------------------------------
    def greedy(self, cost: np.ndarray, rng: random.Random, tries: int) -> list[frozenset[int]]:
        found: set[frozenset[int]] = set()
        for t in range(tries):
            noise = 0.0 if t == 0 else 0.3
            eps = 1e-4 * (float(cost.max()) if cost.size and cost.max() > 0 else 1.0)
            c2 = [float(cost[i]) * (1 + noise * rng.random()) + eps * rng.random() for i in range(len(cost))]
            s = self._one(c2, rng)
            if s is not None:
                found.add(s)
        return list(found)

    def _one(self, cost: list[float], rng: random.Random) -> frozenset[int] | None:
        m, cands, budget = self.m, self.cands, self.spec.budget
        chosen: list[int] = []
        blocked: set[int] = set()
        uncovered = set(m.required)
        used = 0

        def take(i: int) -> None:
            nonlocal used
            chosen.append(i)
            blocked.add(i)
            blocked.update(self.conflicts.get(i, ()))
            uncovered.difference_update(cands[i].outcomes)
            used += cands[i].minutes

        while uncovered:
            o = min(uncovered, key=lambda k: (sum(1 for i in self.by_outcome[k] if i not in blocked), k))
            opts = [i for i in self.by_outcome[o] if i not in blocked and used + cands[i].minutes <= budget]
            if not opts:
                return None
            take(min(opts, key=lambda i: (cost[i] + 1e-9) / len(cands[i].outcomes & uncovered)))
        # drop what the rest covers, costliest first, down to the method's minimum
        for i in sorted(chosen, key=lambda i: -cost[i]):
            if len(chosen) <= m.least_questions:
                break
            rest = [j for j in chosen if j != i]
            covered = set().union(*(cands[j].outcomes for j in rest)) if rest else set()
            if m.required <= covered and themes_met([cands[j] for j in rest], m.themes):
                chosen = rest
        blocked = set(chosen).union(*(self.conflicts.get(i, set()) for i in chosen)) if chosen else set()
        used = sum(cands[i].minutes for i in chosen)
        order = sorted(range(len(cands)), key=lambda i: cost[i])
        while m.themes and not themes_met([cands[j] for j in chosen], m.themes):
            counts = _theme_short(chosen, cands, m.themes)
            nxt = next(
                (
                    i
                    for i in order
                    if i not in blocked and used + cands[i].minutes <= budget and cands[i].outcomes & counts
                ),
                None,
            )
            if nxt is None:
                return None
            chosen.append(nxt)
            blocked.add(nxt)
            blocked.update(self.conflicts.get(nxt, ()))
            used += cands[nxt].minutes
        while len(chosen) < m.least_questions:
            nxt = next((i for i in order if i not in blocked and used + cands[i].minutes <= budget), None)
            if nxt is None:
                return None
            chosen.append(nxt)
            blocked.add(nxt)
            blocked.update(self.conflicts.get(nxt, ()))
            used += cands[nxt].minutes
        return frozenset(chosen)

    def neighbours(self, s: frozenset[int], cost: np.ndarray, limit: float, most: int = 40) -> list[frozenset[int]]:
        """Valid sets one swap away from `s` whose cost stays below `limit`: an exact solve
        yields a family of improving sets instead of one (fewer rounds of column generation)."""
        base = float(sum(cost[q] for q in s))
        cheap = sorted((i for i in range(len(self.cands)) if i not in s), key=lambda i: cost[i])[:most]
        out = []
        for q in sorted(s, key=lambda q: -cost[q]):
            for r in cheap:
                if base - cost[q] + cost[r] >= limit:
                    break
                t = (s - {q}) | {r}
                if valid(self.spec, [self.cands[i] for i in t]):
                    out.append(frozenset(t))
        return out

    # the exact integer program ---------------------------------------------
    def exact(self, cost: np.ndarray, seconds: float) -> tuple[frozenset[int] | None, float, bool]:
        """(the cheapest valid set, a lower bound on its cost, whether that is proved optimal)."""
        n = len(self.cands)
        A, lb, ub, integrality, n_vars = self._build()
        c = np.zeros(n_vars)
        c[:n] = cost
        res = milp(
            c,
            constraints=LinearConstraint(A, lb, ub),
            integrality=integrality,
            bounds=Bounds(0, 1),
            options={"time_limit": seconds, "mip_rel_gap": 1e-9},
        )
        if res.x is None:
            if res.status == 2:  # infeasible: no valid set at all
                return None, math.inf, True
            return None, -math.inf, False
        chosen = frozenset(int(i) for i in np.flatnonzero(res.x[:n] > 0.5))
        bound = float(getattr(res, "mip_dual_bound", res.fun) or res.fun)
        return chosen, min(bound, float(res.fun)), res.status == 0

    def _build(self) -> tuple[Any, ...]:
        if self._model is not None:
            return self._model
        m, cands = self.m, self.cands
        n = len(cands)
        # theme assignment variables: a[q, t] for each question touching theme t
        pairs = [(i, t) for t, th in enumerate(m.themes) for i, c in enumerate(cands) if c.outcomes & th.outcomes]
        n_vars = n + len(pairs)
        rows: list[tuple[dict[int, float], float, float]] = []
        for o in sorted(m.required):
            rows.append((dict.fromkeys(self.by_outcome[o], 1.0), 1, np.inf))
        rows.append(({i: float(c.minutes) for i, c in enumerate(cands)}, -np.inf, self.spec.budget))
        rows.append((dict.fromkeys(range(n), 1.0), m.least_questions, np.inf))
        for pair in self.spec.near_duplicates:
            a, b = tuple(pair)
            if a in self.pos and b in self.pos:
                rows.append(({self.pos[a]: 1.0, self.pos[b]: 1.0}, -np.inf, 1))
        by_q: dict[int, list[int]] = {}
        by_t: dict[int, list[int]] = {}
        for k, (i, t) in enumerate(pairs):
            by_q.setdefault(i, []).append(n + k)
            by_t.setdefault(t, []).append(n + k)
        for i, ks in by_q.items():  # a question counts for one theme at most, and only when chosen
            row = dict.fromkeys(ks, 1.0)
            row[i] = -1.0
            rows.append((row, -np.inf, 0))
        for t, th in enumerate(m.themes):
            rows.append((dict.fromkeys(by_t.get(t, []), 1.0), th.min_questions, np.inf))
        data, ri, ci = [], [], []
        for r, (row, _, _) in enumerate(rows):
            for j, v in row.items():
                ri.append(r)
                ci.append(j)
                data.append(v)
        A = sparse.csr_array((data, (ri, ci)), shape=(len(rows), n_vars))
        lb = np.array([r[1] for r in rows], dtype=float)
        ub = np.array([r[2] for r in rows], dtype=float)
        self._model = (A, lb, ub, np.ones(n_vars), n_vars)
        return self._model


def _theme_short(chosen: list[int], cands: list[Candidate], themes: Sequence[definition.Theme]) -> frozenset[str]:
    from .draw import theme_counts

    counts = theme_counts([cands[j] for j in chosen], themes)
    return frozenset().union(*(t.outcomes for t, k in zip(themes, counts) if k < t.min_questions))


# --------------------------------------------------------------------------- the master LPs


class _Columns:
    def __init__(self) -> None:
        self.sets: list[frozenset[int]] = []
        self.known: set[frozenset[int]] = set()

    def add(self, s: frozenset[int]) -> bool:
        if s in self.known:
            return False
        self.known.add(s)
        self.sets.append(s)
        return True


def _incidence(cols: _Columns, rows: list[int]) -> sparse.csc_array:
    at = {q: r for r, q in enumerate(rows)}
    ri, ci = [], []
    for j, s in enumerate(cols.sets):
        for q in s:
            ri.append(at[q])
            ci.append(j)
    return sparse.csc_array((np.ones(len(ri)), (ri, ci)), shape=(len(rows), len(cols.sets)))


def _rows_of(cols: _Columns) -> list[int]:
    return sorted(set().union(*cols.sets)) if cols.sets else []


def _stage1(cols: _Columns) -> tuple[float, np.ndarray, dict[int, float], float, float]:
    """min z: (z, p, dual cost per question, μ, 0: the cost every question has besides its own)."""
    rows = _rows_of(cols)
    B = _incidence(cols, rows)
    n = len(cols.sets)
    A_ub = sparse.hstack([B, -np.ones((len(rows), 1))]).tocsr()
    A_eq = sparse.csr_array(np.r_[np.ones(n), 0.0].reshape(1, -1))
    c = np.r_[np.zeros(n), 1.0]
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(len(rows)), A_eq=A_eq, b_eq=[1.0], bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"the exposure LP failed: {res.message}")
    y = {q: -float(v) for q, v in zip(rows, res.ineqlin.marginals) if v < -1e-12}
    return float(res.fun), res.x[:n], y, float(res.eqlin.marginals[0]), 0.0


def _tangent_points(even: float, limit: float) -> list[float]:
    pts = {0.0, limit}
    for f in (0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 8.0):
        if even * f < limit:
            pts.add(even * f)
    return sorted(pts)


def _stage2(
    cols: _Columns, limit: float, points: list[float], openers: tuple[list[int], float] | None = None
) -> tuple[float, np.ndarray, dict[int, float], float, float]:
    """The least expected overlap, Σ_q π_q² / L̄ (the share of a set that another set holds, as
    `simulate` measures it), with every π_q ≤ limit: (objective, p, dual cost per question, μ, the
    cost every question has besides its own).

    A ratio, made linear by the Charnes-Cooper transformation: with s = 1/L̄ and p' = s·p (so
    Σ_S |S|·p'_S = 1 and Σ_S p'_S = s), Σ π² / L̄ = Σ π'² / s, and each π'²/s lies above its
    tangents 2x·π' − x²·s (x around the even share), linear in (p', s). Minimising Σ π² alone
    would favour short sets; the ratio weighs a set's length as the overlap does.

    `openers` = (questions, cap): the draw's opener rule (a set opens with an opener while one is
    under the cap), as the rates it leads to: every opener at the cap when the openers cannot fill
    every set (n·cap ≤ 1), else an opener in every set (Σ π_o ≥ 1)."""
    rows = _rows_of(cols)
    B = _incidence(cols, rows).tocsr()
    n, r = len(cols.sets), len(rows)
    col_s = sparse.csr_array(np.ones((r, 1)))
    blocks, rhs = [], []
    eye = sparse.identity(r, format="csr")
    for x in points:  # 2x·π'_q − x²·s − t_q ≤ 0
        blocks.append(sparse.hstack([2 * x * B, -eye, -(x * x) * col_s]))
        rhs.append(np.zeros(r))
    blocks.append(sparse.hstack([B, sparse.csr_array((r, r)), -limit * col_s]))  # π'_q ≤ limit·s
    rhs.append(np.zeros(r))
    extra: list[tuple[list[int], float]] = []  # rows −Σ_{q ∈ qs} π'_q + b·s ≤ 0, by question index in `rows`
    if openers is not None:
        at = {q: k for k, q in enumerate(rows)}
        qs, cap = openers
        if len(qs) * cap <= 1:
            extra = [([at[q]], cap) for q in qs]
        else:
            extra = [([at[q] for q in qs], 1.0)]
        sel = sparse.csr_array(
            (
                np.ones(sum(len(k) for k, _ in extra)),
                ([i for i, (k, _) in enumerate(extra) for _ in k], [j for k, _ in extra for j in k]),
            ),
            shape=(len(extra), r),
        )
        bs = sparse.csr_array(np.array([[b] for _, b in extra]))
        blocks.append(sparse.hstack([-(sel @ B), sparse.csr_array((len(extra), r)), bs]))
        rhs.append(np.zeros(len(extra)))
    A_ub = sparse.vstack(blocks).tocsr()
    sizes = np.array([len(S) for S in cols.sets], dtype=float)
    A_eq = sparse.csr_array(
        np.vstack([np.r_[sizes, np.zeros(r), 0.0], np.r_[np.ones(n), np.zeros(r), -1.0]])
    )  # Σ |S|·p' = 1, Σ p' − s = 0
    c = np.r_[np.zeros(n), np.ones(r), 0.0]
    res = linprog(c, A_ub=A_ub, b_ub=np.concatenate(rhs), A_eq=A_eq, b_eq=[1.0, 0.0], bounds=(0, None), method="highs")
    if res.status == 2 and openers is not None:
        raise _OpenersInfeasible
    if res.status != 0:
        raise RuntimeError(f"the rates LP failed: {res.message}")
    lam = res.ineqlin.marginals
    y = np.zeros(r)
    for k, x in enumerate(points):
        y -= 2 * x * lam[k * r : (k + 1) * r]
    y -= lam[len(points) * r : (len(points) + 1) * r]
    for i, (qs, _) in enumerate(extra):  # an opener row lowers its questions' cost: sets holding one pay less
        y[qs] += lam[(len(points) + 1) * r + i]
    nu_length, nu_sum = (float(v) for v in res.eqlin.marginals)
    s_val = float(res.x[-1])
    p = res.x[:n] / s_val if s_val > 0 else res.x[:n]
    duals = {q: float(v) for q, v in zip(rows, y) if abs(v) > 1e-15}
    # a set's reduced cost: Σ_{q ∈ S} (y_q − ν_length) − ν_sum
    return float(res.fun), p, duals, nu_sum, -nu_length


class _OpenersInfeasible(Exception):
    """No distribution over the sets found keeps the opener rule: the plan is solved without it."""


def _generate(
    stage: Any, cols: _Columns, pricer: _Pricer, rng: random.Random, deadline: float
) -> tuple[float, np.ndarray, float, bool, int, str]:
    """Column generation for one master LP: (objective, p, proved bound on the cost term, proved, rounds, note)."""
    n = len(pricer.cands)
    rounds = 0
    note = ""
    while True:
        rounds += 1
        obj, p, y, mu, base = stage(cols)
        cost = np.full(n, base)
        for q, v in y.items():
            cost[q] += v
        added = 0
        for g in pricer.greedy(cost, rng, GREEDY_TRIES):
            if sum(cost[q] for q in g) < mu - TOL and cols.add(g):
                added += 1
        if added:
            if rounds >= MAX_ROUNDS or time.perf_counter() > deadline:
                note = f"stopped after {rounds} rounds ({'time' if rounds < MAX_ROUNDS else 'rounds'} limit)"
                return obj, p, -math.inf, False, rounds, note
            continue
        left = max(1.0, min(MILP_SECONDS, deadline - time.perf_counter()))
        s, bound, exact = pricer.exact(cost, left)
        if s is not None and float(sum(cost[q] for q in s)) < mu - TOL and cols.add(s):
            for t in pricer.neighbours(s, cost, mu - TOL):
                cols.add(t)
            if rounds >= MAX_ROUNDS or time.perf_counter() > deadline:
                return obj, p, bound, False, rounds, f"stopped after {rounds} rounds"
            continue
        if not exact:
            note = "the exact pricing problem hit its time limit: the bound is what it proved"
        return obj, p, bound, exact, rounds, note


def plan(spec: DrawSpec, *, seed: str = "plan", time_limit: float = TIME_LIMIT) -> Plan:
    """The method's exposure floor (stage 1) and target rates (stage 2); Infeasible when no valid set exists."""
    t0 = time.perf_counter()
    m = spec.method
    base = DrawSpec(
        method=m, pool=spec.pool, near_duplicates=spec.near_duplicates, exposure_cap=spec.exposure_cap
    )  # as at release: no extra time, nothing excluded
    usable = [c for c in base.pool if c.minutes <= base.budget]
    if not m.required and not m.themes and m.min_questions == 0:  # questions only when asked for: none needed
        return Plan(
            method=m.id, budget=base.budget, floor=0.0, bound=0.0, proved=True, cap=spec.exposure_cap,
            limit=spec.exposure_cap, rates={}, overlap=0.0, mean_length=0.0, usable=len(usable), binding=(),
            seconds=time.perf_counter() - t0, columns=0, rounds=0, note="the method draws no questions of itself",
        )  # fmt: skip
    check_feasible(base)
    pricer = _Pricer(base, usable)
    if len(usable) > LARGE_POOL:
        return _large(base, usable, pricer, t0)
    rng = random.Random(seed)
    cols = _Columns()
    # start from the draw's own sets, steered by use as in production: a good spread to begin with
    from collections import Counter

    from .draw import Usage

    counts: Counter[str] = Counter()
    total = 0
    for i in range(max(20, min(400, 4 * len(usable) // max(1, m.least_questions)))):
        u = Usage(sets=i, mean_length=total / i if i else 0.0, counts=dict(counts))
        try:
            chosen = select(base, u, f"{seed}:{i}")
        except Infeasible:
            break
        cols.add(frozenset(pricer.pos[c.code] for c in chosen))
        counts.update(c.code for c in chosen)
        total += len(chosen)
    if not cols.sets:
        s, _, _ = pricer.exact(np.zeros(len(usable)), MILP_SECONDS)
        if s is None:
            raise Infeasible([f"no set of questions meets every constraint of {m.id}"])
        cols.add(s)
    deadline = time.perf_counter() + time_limit
    floor, _, bound, proved, r1, note1 = _generate(_stage1, cols, pricer, rng, deadline)
    bound = floor if proved else max(bound, 0.0)
    limit = max(spec.exposure_cap, floor)
    even = _even_share(cols, usable)
    points = _tangent_points(even, limit + 1e-9)
    deadline = time.perf_counter() + time_limit

    rule = _opener_rule(cols, pricer, spec.exposure_cap)

    def stage2(c: _Columns) -> tuple[float, np.ndarray, dict[int, float], float, float]:
        return _stage2(c, limit + 1e-9, points, rule)

    try:
        _, p, _, _, r2, note2 = _generate(stage2, cols, pricer, rng, deadline)
    except _OpenersInfeasible:
        rule = None
        _, p, _, _, r2, note2 = _generate(stage2, cols, pricer, rng, deadline)
        note2 = "; ".join(x for x in (note2, "the opener rule could not be kept by any distribution found") if x)
    rows = _rows_of(cols)
    rate = np.zeros(len(usable))
    support = []
    for j, s in enumerate(cols.sets):
        if p[j] > 1e-12:
            support.append((float(p[j]), tuple(sorted(usable[q].code for q in s))))
            for q in s:
                rate[q] += p[j]
    del rows
    mean_len = float(rate.sum())
    overlap = float((rate**2).sum()) / mean_len if mean_len else 0.0
    binding = tuple(
        sorted(
            o
            for o, qs in pricer.by_outcome.items()
            if qs and sum(rate[q] for q in qs) <= 1 + 1e-6 and max(rate[q] for q in qs) >= floor - 1e-6
            and floor > even + 1e-9
        )
    )  # fmt: skip
    return Plan(
        method=m.id,
        budget=base.budget,
        floor=floor,
        bound=bound,
        proved=proved,
        cap=spec.exposure_cap,
        limit=limit,
        rates={usable[q].code: float(rate[q]) for q in range(len(usable)) if rate[q] > 1e-9},
        overlap=overlap,
        mean_length=mean_len,
        usable=len(usable),
        binding=binding,
        seconds=time.perf_counter() - t0,
        columns=len(cols.sets),
        rounds=r1 + r2,
        note="; ".join(x for x in (note1, note2) if x),
        support=sorted(support, reverse=True),
    )


def _opener_rule(cols: _Columns, pricer: _Pricer, cap: float) -> tuple[list[int], float] | None:
    """The openers the draw's opener rule applies to (`draw.py`: a set opens with one while it is
    under the cap), each in at least one column; None when the method has none that any valid set
    can hold."""
    held = set().union(*cols.sets) if cols.sets else set()
    qs = []
    for i, c in enumerate(pricer.cands):
        if not c.opener:
            continue
        if i not in held:  # a valid set holding it, if there is one
            cost = np.zeros(len(pricer.cands))
            cost[i] = -1.0
            s, _, _ = pricer.exact(cost, MILP_SECONDS)
            if s is None or i not in s:
                continue
            cols.add(s)
        qs.append(i)
    return (qs, cap) if qs else None


def _even_share(cols: _Columns, usable: list[Candidate]) -> float:
    lengths = [len(s) for s in cols.sets]
    return (sum(lengths) / len(lengths)) / max(1, len(usable)) if lengths else 0.0


def _large(base: DrawSpec, usable: list[Candidate], pricer: _Pricer, t0: float) -> Plan:
    """A pool too large for column generation (thousands of questions: an even spread needs
    thousands of sets in the master LP, whose solves then take minutes). The floor is bounded
    below by two dual solutions of the LP, proved without enumerating sets: y spread evenly over
    the k questions of the scarcest outcome (every set holds one: 1/k) and y spread evenly over
    all N (every set holds at least L_min, the fewest questions a valid set can have, found
    by one integer program: L_min/N). No rates: the draw keeps to an even spread (qbank-draw/3),
    which such a pool allows far below any cap."""
    m = base.method
    ks = [len(v) for v in pricer.by_outcome.values() if v]
    k = min(ks, default=0)
    s, lmin_bound, exact = pricer.exact(np.ones(len(usable)), 5.0)  # its LP bound is valid when cut short
    l_min = math.ceil(lmin_bound - 1e-6) if math.isfinite(lmin_bound) else m.least_questions
    l_min = max(l_min, m.least_questions, 1)
    bound = max(1 / k if k else 0.0, l_min / len(usable))
    binding = (
        tuple(sorted(o for o, v in pricer.by_outcome.items() if v and len(v) == k))
        if k and 1 / k > l_min / len(usable)
        else ()
    )
    return Plan(
        method=m.id,
        budget=base.budget,
        floor=bound,
        bound=bound,
        proved=False,
        cap=base.exposure_cap,
        limit=max(base.exposure_cap, bound),
        rates={},
        overlap=l_min / len(usable),
        mean_length=float(l_min),
        usable=len(usable),
        binding=binding,
        seconds=time.perf_counter() - t0,
        columns=0,
        rounds=0,
        note=(
            f"{len(usable)} questions: too many to enumerate sets, so the floor is the lower bound "
            f"max(1/k = 1/{k}, L_min/N = {l_min}/{len(usable)})"
            + ("" if exact else " (L_min's integer program hit its time limit: a weaker bound)")
            + "; the draw keeps to an even spread"
        ),
    )
