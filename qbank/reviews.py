"""Standardisation reviews: what reviewers need to see about how questions are used and graded.

Each `review_*` function reads the store with a few aggregate queries (the same SQL on SQLite and
PostgreSQL), computes in plain Python, and returns a `Report`: a title, how to read it (every
threshold stated), what stands out (`flags`), tables and bar charts. `reports.py` renders it as a
table, JSON, CSV or self-contained HTML.

Filters (all optional): standard, method, release, date range, assessor, cohort. Draws made
outside an assessment (`qbank draw`) have no assessor; an assessor filter leaves them out.

Only what the apprentice was really exposed to counts: a voided draw (its assessment was voided
unused) and its items, void assessments, the question a swap brought in when the swap was later
undone (its item has a void_key), and undone swaps themselves are left out of every review. The
rows stay in the store for audit.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timezone
from itertools import combinations, islice
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import ColumnElement, Engine, and_, func, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from .defaults import EXPOSURE_CAP, NEAR_DUPLICATE_THRESHOLD  # the cap: share of a method's sets a question may be in
from .definition import for_release, release_definition
from .grading import GradingRules
from .models import (
    ApprenticeRow,
    AskRow,
    AssessmentMethodRow,
    AssessmentRow,
    CriterionMarkRow,
    DrawItemRow,
    DrawRow,
    DrawSwapRow,
    EvidenceRow,
    MethodRow,
    OutcomeRow,
    QuestionRow,
    QuestionVersionOutcomeRow,
    QuestionVersionRow,
    ReleaseItemRow,
    ReleaseNearDuplicateRow,
    ReleasePlanRow,
    ReleaseRow,
    SecondMarkRow,
    StandardRow,
    table_of,
)
from .problems import BankError

KINDS = ("usage", "overlap", "avoidance", "effectiveness", "assessors", "health", "adhoc")
MIN_DRAWS = 10  # a question needs this many draws before its swap/skip rate is judged
AVOID_RATE = 0.30  # swapped or skipped in at least this share of its draws: flagged
MIN_ASKS = 10  # asks before a question's effectiveness is judged
WEAK_SHARE = 0.40  # targeted outcomes evidenced in less than this share of asks: flagged
MIN_GRADES = 10  # method grades before an assessor is compared
GRADE_MARGIN = 0.15  # difference in mean grade position (0 = lowest grade, 1 = highest) that flags
COHORT_OVERLAP_RATIO = 2.0  # a cohort whose mean overlap is this many times the bound is flagged
IQA_MIN = 5  # second-marked methods before an assessor's agreement with second markers is judged
IQA_AGREEMENT = 0.80  # second markers agreeing with fewer of an assessor's method grades than this: flagged


class ReviewError(BankError):
    pass


@dataclass(frozen=True)
class Filters:
    standard: str | None = None
    method: str | None = None
    release: str | None = None
    since: date | None = None
    until: date | None = None
    assessor: str | None = None
    cohort: str | None = None

    def describe(self) -> str:
        parts = [f"{k} {v}" for k, v in asdict(self).items() if v not in (None, "")]
        return ", ".join(parts) if parts else "everything in the store"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list]
    note: str = ""


@dataclass
class Chart:
    title: str
    bars: list[tuple[str, float, bool]]  # label, value, flagged
    unit: str = ""
    reference: float | None = None  # a line to compare against (a cap, a bound, a mean)
    reference_label: str = ""


@dataclass
class Report:
    kind: str
    title: str
    explanation: str
    filters: str
    flags: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    generated: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def review(engine: Engine, kind: str, filters: Filters | None = None, **options) -> Report:
    if kind not in KINDS:
        raise ReviewError(f"no review '{kind}' (reviews: {', '.join(KINDS)})")
    filters = filters or Filters()
    with Session(engine) as s:
        _check_filters(s, filters)
        report = _REVIEWS[kind](s, filters, **options)
    report.filters = filters.describe()
    report.generated = datetime.now(timezone.utc).strftime("%d %B %Y %H:%M UTC")
    return report


# --------------------------------------------------------------------------- shared selection


def _check_filters(s: Session, f: Filters) -> None:
    if f.standard and s.execute(select(col(StandardRow.id)).where(col(StandardRow.code) == f.standard)).first() is None:
        known = ", ".join(s.execute(select(col(StandardRow.code)).order_by(col(StandardRow.code))).scalars()) or "none"
        raise ReviewError(f"no standard {f.standard} in the store (have: {known})")
    if f.method:
        q = select(col(MethodRow.key)).join(StandardRow, col(StandardRow.id) == MethodRow.standard_id)
        if f.standard:
            q = q.where(col(StandardRow.code) == f.standard)
        keys = set(s.execute(q).scalars())
        if f.method not in keys:
            raise ReviewError(
                f"no method '{f.method}'"
                + (f" in {f.standard}" if f.standard else "")
                + f" (methods: {', '.join(sorted(keys))})"
            )
    if f.release and not f.standard:
        raise ReviewError("--release needs --standard (release numbers belong to a standard)")
    if f.release:
        semvers = list(
            s.execute(
                select(col(ReleaseRow.semver))
                .join(StandardRow, col(StandardRow.id) == ReleaseRow.standard_id)
                .where(col(StandardRow.code) == f.standard)
            ).scalars()
        )
        if f.release not in semvers:
            raise ReviewError(f"{f.standard} has no release {f.release} in the store (releases: {', '.join(semvers)})")
    if f.since and f.until and f.since > f.until:
        raise ReviewError(f"--since {f.since} is after --until {f.until}")


def _draw_conditions(f: Filters, *, assessments: bool = False) -> list:
    """WHERE conditions on DrawRow (joined to standard, method, release, and with `assessments` to
    assessment via assessment_method). Voided draws never count; nor do void assessments, whether
    joined or reached through the assessor filter."""
    conds: list[ColumnElement[bool]] = [col(DrawRow.voided_at).is_(None)]
    if assessments:
        conds.append(col(AssessmentRow.status) != "void")
    if f.standard:
        conds.append(col(StandardRow.code) == f.standard)
    if f.method:
        conds.append(col(MethodRow.key) == f.method)
    if f.release:
        conds.append(col(ReleaseRow.semver) == f.release)
    if f.since:
        conds.append(col(DrawRow.created_at) >= datetime.combine(f.since, time.min, tzinfo=timezone.utc))
    if f.until:
        conds.append(col(DrawRow.created_at) <= datetime.combine(f.until, time.max, tzinfo=timezone.utc))
    if f.cohort is not None:
        conds.append(col(DrawRow.cohort) == f.cohort)
    if f.assessor and assessments:
        conds.append(col(AssessmentRow.assessor) == f.assessor)
    elif f.assessor:
        # the draws of that assessor's assessments (a draw belongs to one assessment method), as a
        # subquery rather than a join: joined, SQLite walked the assessor's assessments for every
        # drawn item (assessment_method.draw_id has no index), minutes at 200,000 asks
        conds.append(
            col(DrawRow.id).in_(
                select(col(AssessmentMethodRow.draw_id))
                .join(AssessmentRow, col(AssessmentRow.id) == AssessmentMethodRow.assessment_id)
                .where(col(AssessmentRow.assessor) == f.assessor, col(AssessmentRow.status) != "void")
            )
        )
    return conds


def _draws_from(q, f: Filters, *, assessments: bool = False):
    """Add the joins and filters to a query that selects from DrawRow; `assessments` also joins the
    assessment method and assessment of each draw (draws outside assessments drop out)."""
    q = (
        q.join(StandardRow, col(StandardRow.id) == DrawRow.standard_id)
        .join(MethodRow, col(MethodRow.id) == DrawRow.method_id)
        .join(ReleaseRow, col(ReleaseRow.id) == DrawRow.release_id)
    )
    if assessments:
        q = q.join(AssessmentMethodRow, col(AssessmentMethodRow.draw_id) == DrawRow.id).join(
            AssessmentRow, col(AssessmentRow.id) == AssessmentMethodRow.assessment_id
        )
    return q.where(and_(*_draw_conditions(f, assessments=assessments)))


def _assessed(q, f: Filters, *, assessor: bool = True):
    """Join a query that selects from AssessmentMethodRow (or joins it) to its assessment, standard,
    method and release, and apply every filter; `assessor=False` keeps all assessors (to compare).
    Void assessments never count."""
    q = (
        q.join(AssessmentRow, col(AssessmentRow.id) == AssessmentMethodRow.assessment_id)
        .join(StandardRow, col(StandardRow.id) == AssessmentRow.standard_id)
        .join(MethodRow, col(MethodRow.id) == AssessmentMethodRow.method_id)
        .join(ReleaseRow, col(ReleaseRow.id) == AssessmentRow.release_id)
    )
    conds = [col(AssessmentRow.status) != "void"]
    if f.standard:
        conds.append(col(StandardRow.code) == f.standard)
    if f.method:
        conds.append(col(MethodRow.key) == f.method)
    if f.release:
        conds.append(col(ReleaseRow.semver) == f.release)
    if f.cohort is not None:
        conds.append(col(AssessmentRow.cohort) == f.cohort)
    if f.since:
        conds.append(col(AssessmentRow.created_at) >= datetime.combine(f.since, time.min, tzinfo=timezone.utc))
    if f.until:
        conds.append(col(AssessmentRow.created_at) <= datetime.combine(f.until, time.max, tzinfo=timezone.utc))
    if assessor and f.assessor:
        conds.append(col(AssessmentRow.assessor) == f.assessor)
    return q.where(and_(*conds))


def _live_item():
    """A draw item that counts against the apprentice: not voided with its draw, not brought in by
    a swap that was undone (both get void_key = their own id; live items have 0)."""
    return col(DrawItemRow.void_key) == 0


def _live_swap():
    """A swap that stands: an undone swap is not a swap."""
    return col(DrawSwapRow.undone_at).is_(None)


def _sets(s: Session, f: Filters) -> dict[int, tuple[str, str, str, str, list[str]]]:
    """draw id -> (standard, method, cohort, apprentice, final set of question codes)."""
    q = _draws_from(
        select(
            col(DrawRow.id),
            col(StandardRow.code),
            col(MethodRow.key),
            col(DrawRow.cohort),
            col(ApprenticeRow.ref),
            col(QuestionRow.code),
        )
        .select_from(DrawRow)
        .join(ApprenticeRow, col(ApprenticeRow.id) == DrawRow.apprentice_id)
        .join(DrawItemRow, col(DrawItemRow.draw_id) == DrawRow.id)
        .join(QuestionRow, col(QuestionRow.id) == DrawItemRow.question_id),
        f,
    )
    q = q.where(col(DrawItemRow.active).is_(True), _live_item())
    out: dict[int, tuple] = {}
    for did, std, meth, cohort, ref, code in s.execute(q):
        out.setdefault(did, (std, meth, cohort, ref, []))[4].append(code)
    return out


def _set_count(s: Session, f: Filters) -> int:
    """len(_sets(s, f)), counted in SQL: draws with at least one question that counts."""
    q = _draws_from(
        select(func.count(func.distinct(col(DrawRow.id))))
        .select_from(DrawRow)
        .join(DrawItemRow, col(DrawItemRow.draw_id) == DrawRow.id),
        f,
    )
    return s.execute(q.where(col(DrawItemRow.active).is_(True), _live_item())).scalar_one()


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


# --------------------------------------------------------------------------- 1. usage and exposure


def review_usage(s: Session, f: Filters, cap: float = EXPOSURE_CAP) -> Report:
    # counted in SQL: sets per method, and per question the sets holding it (in its final set)
    def final_items(*columns):
        q = _draws_from(
            select(col(StandardRow.code), col(MethodRow.key), *columns)
            .select_from(DrawRow)
            .join(DrawItemRow, col(DrawItemRow.draw_id) == DrawRow.id),
            f,
        )
        return q.where(col(DrawItemRow.active).is_(True), _live_item())

    per_method_sets = Counter(
        {
            (std, meth): n
            for std, meth, n in s.execute(
                final_items(func.count(func.distinct(col(DrawRow.id)))).group_by(
                    col(StandardRow.code), col(MethodRow.key)
                )
            )
        }
    )
    drawn = Counter(
        {
            (std, meth, code): n
            for std, meth, code, n in s.execute(
                final_items(col(QuestionRow.code), func.count(col(DrawItemRow.id)))
                .join(QuestionRow, col(QuestionRow.id) == DrawItemRow.question_id)
                .group_by(col(StandardRow.code), col(MethodRow.key), col(QuestionRow.code))
            )
        }
    )
    n_sets = sum(per_method_sets.values())
    asked = _asked_counts(s, f)
    rows, flags, bars = [], [], []
    for (std, meth, code), n in sorted(drawn.items(), key=lambda kv: (-kv[1], kv[0])):
        share = n / per_method_sets[(std, meth)]
        over = share > cap
        rows.append([std, meth, code, n, asked.get(code, 0), _pct(share), "OVER CAP" if over else ""])
        if over:
            flags.append(f"{code} ({std} {meth}) is in {_pct(share)} of sets, over the {_pct(cap)} cap")
        bars.append((code, round(share, 4), over))
    never = _never_drawn(s, f, {c for (_, _, c) in drawn})
    # per outcome
    outcome_counts: Counter = Counter()
    outs = _outcomes_of_codes(s, {c for (_, _, c) in drawn})
    for (std, meth, code), n in drawn.items():
        for o in outs.get(code, ()):
            outcome_counts[(std, meth, o)] += n
    trend = _monthly(s, f)
    r = Report(
        kind="usage",
        title="Question usage and exposure",
        filters="",
        explanation=(
            f"Share of sets = the sets of that method holding the question (its exposure). A question "
            f"over {_pct(cap)} of its method's sets is flagged: it is predictable. Asked = how often "
            "assessors actually put it. Approved questions never drawn are listed; they cost "
            "nothing but may hide a draw or mapping problem."
        ),
    )
    r.flags = flags + ([f"{len(never)} approved question(s) never drawn"] if never else [])
    r.summary = [f"{n_sets} set(s) drawn in {len(per_method_sets)} method(s); {len(drawn)} distinct question(s)"]
    r.tables.append(
        Table("Per question", ["standard", "method", "question", "drawn", "asked", "share of sets", "flag"], rows)
    )
    r.tables.append(
        Table(
            "Per outcome",
            ["standard", "method", "outcome", "question draws targeting it"],
            [[a, b, c, n] for (a, b, c), n in sorted(outcome_counts.items())],
        )
    )
    r.tables.append(
        Table("Approved in the current release, never drawn", ["standard", "question"], [list(x) for x in never])
    )
    r.tables.append(Table("Sets drawn per month", ["month", "sets"], [[m, n] for m, n in trend]))
    r.charts.append(
        Chart(
            "Exposure: share of sets (top 30)",
            bars[:30],
            unit="share",
            reference=cap,
            reference_label=f"cap {_pct(cap)}",
        )
    )
    r.charts.append(Chart("Sets drawn per month", [(m, n, False) for m, n in trend], unit="sets"))
    return r


def _asked_counts(s: Session, f: Filters) -> Counter:
    q = _draws_from(select(col(QuestionRow.code), func.count(col(AskRow.id))).select_from(DrawRow), f, assessments=True)
    q = (
        q.join(AskRow, col(AskRow.assessment_method_id) == AssessmentMethodRow.id)
        .join(QuestionRow, col(QuestionRow.id) == AskRow.question_id)
        .where(col(AskRow.status) == "asked")
        .group_by(col(QuestionRow.code))
    )
    return Counter(dict(s.execute(q).all()))


def _never_drawn(s: Session, f: Filters, drawn_codes: set[str]) -> list[tuple[str, str]]:
    latest = {}
    for rel in s.execute(
        select(ReleaseRow).order_by(col(ReleaseRow.major), col(ReleaseRow.minor), col(ReleaseRow.patch))
    ).scalars():
        latest[rel.standard_id] = rel
    out = []
    for sid, rel in latest.items():
        std = s.get_one(StandardRow, sid)  # a release's standard_id is a foreign key
        if f.standard and std.code != f.standard:
            continue
        q = (
            select(col(QuestionRow.code))
            .join(QuestionVersionRow, col(QuestionVersionRow.question_id) == QuestionRow.id)
            .join(ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionRow.id)
            .where(col(ReleaseItemRow.release_id) == rel.id)
        )
        if f.method:
            from .models import QuestionVersionMethodRow

            q = (
                q.join(
                    QuestionVersionMethodRow, col(QuestionVersionMethodRow.question_version_id) == QuestionVersionRow.id
                )
                .join(MethodRow, col(MethodRow.id) == QuestionVersionMethodRow.method_id)
                .where(col(MethodRow.key) == f.method)
            )
        out += [(std.code, c) for c in sorted(set(s.execute(q).scalars())) if c not in drawn_codes]
    return out


def _outcomes_of_codes(s: Session, codes: set[str]) -> dict[str, set[str]]:
    if not codes:
        return {}
    out: dict[str, set[str]] = defaultdict(set)
    q = (
        select(col(QuestionRow.code), col(OutcomeRow.code))
        .join(QuestionVersionRow, col(QuestionVersionRow.question_id) == QuestionRow.id)
        .join(QuestionVersionOutcomeRow, col(QuestionVersionOutcomeRow.question_version_id) == QuestionVersionRow.id)
        .join(OutcomeRow, col(OutcomeRow.id) == QuestionVersionOutcomeRow.outcome_id)
    )
    for code, o in s.execute(q):
        if code in codes:
            out[code].add(o)
    return out


def _monthly(s: Session, f: Filters) -> list[tuple[str, int]]:
    months: Counter = Counter()
    for (created,) in s.execute(_draws_from(select(col(DrawRow.created_at)).select_from(DrawRow), f)):
        months[created.strftime("%Y-%m")] += 1
    return sorted(months.items())


# --------------------------------------------------------------------------- 2. overlap


def review_overlap(s: Session, f: Filters, top: int = 10) -> Report:
    sets = _sets(s, f)
    by_method: dict[tuple[str, str], list] = defaultdict(list)
    for did, (std, meth, cohort, ref, codes) in sets.items():
        by_method[(std, meth)].append((did, cohort, ref, frozenset(codes)))
    pools = _pool_sizes(s, f)
    rows, flags, cohort_rows, pairs_rows, bars = [], [], [], [], []
    for (std, meth), items in sorted(by_method.items()):
        overall = _overlap([x[3] for x in items])
        pool = pools.get((std, meth), 0)
        mean_len = sum(len(x[3]) for x in items) / len(items)
        bound = mean_len / pool if pool else 0.0
        ratio = overall / bound if bound else 0.0
        rows.append([std, meth, len(items), pool, round(mean_len, 2), _pct(overall), _pct(bound), round(ratio, 2)])
        groups: dict[str, list] = defaultdict(list)
        for x in items:
            if x[1]:
                groups[x[1]].append(x)
        for cohort, members in sorted(groups.items()):
            if len(members) < 2:
                continue
            ov = _overlap([m[3] for m in members])
            cratio = ov / bound if bound else 0.0
            flagged = cratio >= COHORT_OVERLAP_RATIO
            best = _most_shared_pairs(members, 3)
            (sa, a, b) = best[0]
            cohort_rows.append(
                [
                    std,
                    meth,
                    cohort,
                    len(members),
                    _pct(ov),
                    round(cratio, 2),
                    f"{a[2]} & {b[2]}: {sa}",
                    "HIGH OVERLAP" if flagged else "",
                ]
            )
            bars.append((f"{cohort} ({meth})", round(cratio, 3), flagged))
            if flagged:
                flags.append(
                    f"cohort {cohort} ({std} {meth}): mean overlap {_pct(ov)} is {cratio:.1f}x the bound "
                    f"{_pct(bound)}; apprentices in it can pass questions on"
                )
            for shared, a, b in best:
                pairs_rows.append([std, meth, cohort, a[2], b[2], shared, ", ".join(sorted(a[3] & b[3]))])
    pairs_rows.sort(key=lambda r: -r[5])
    r = Report(
        kind="overlap",
        title="Overlap between apprentices' sets",
        filters="",
        explanation=(
            "Mean pairwise overlap = the share of a set that two sets of the same method have in "
            "common on average, computed exactly. Its lower bound for a pool of N questions and sets "
            "of mean length L is L/N: random draws cannot do better. A cohort/employer whose overlap "
            f"is {COHORT_OVERLAP_RATIO:g}x the bound or more is flagged. The pairs listed are, within "
            "each cohort, the apprentices who shared the most questions."
        ),
    )
    r.flags = flags
    r.tables = [
        Table(
            "Overall, per method",
            ["standard", "method", "sets", "pool N", "mean length L", "mean overlap", "bound L/N", "ratio"],
            rows,
        ),
        Table(
            "Per cohort / employer",
            ["standard", "method", "cohort", "sets", "mean overlap", "ratio to bound", "most shared pair", "flag"],
            cohort_rows,
        ),
        Table(
            f"Pairs who shared the most (top {top})",
            ["standard", "method", "cohort", "apprentice", "apprentice", "shared", "questions"],
            pairs_rows[:top],
        ),
    ]
    r.charts = [
        Chart(
            "Cohort overlap, as a multiple of the L/N bound",
            bars,
            unit="x bound",
            reference=COHORT_OVERLAP_RATIO,
            reference_label=f"flag at {COHORT_OVERLAP_RATIO:g}x",
        )
    ]
    return r


def _most_shared_pairs(members: list, k: int, way: str = "cheaper") -> list[tuple[int, tuple, tuple]]:
    """The k pairs of sets sharing the most questions, as (shared, member, member): members are put
    in order of apprentice reference (a stable sort) and ties go to the pair that comes first in
    that order (the smaller first member, then the smaller second). Fewer than k pairs share a
    question: pairs sharing none make up the k, first in that order too.

    Not every pair is compared. Shares are found from the top down, t = the longest set, then t - 1,
    ...: the pairs sharing exactly t questions (`_pairs_sharing`), until at least k pairs share t or
    more. All of the pairs sharing more than t are then known (fewer than k of them), so only the
    first pairs in order sharing exactly t are needed. Where the top two steps find too few (sets
    from a large pool: few pairs share much), every pair sharing two or more is listed at once
    instead (`_pairs_sharing_two`) when they are few. The work follows the pairs that share the
    most, not the square of the cohort (bench/bench_reviews.py --pairs).

    `way`: "cheaper" (the above); "subsets" or "prefix" count every t one way only; "two" lists the
    pairs sharing two or more first, whatever their number. The tests hold each to comparing every pair."""
    order = sorted(range(len(members)), key=lambda i: members[i][2])
    n = len(order)
    k = min(k, n * (n - 1) // 2)
    if k <= 0:
        return []
    freq = Counter(q for m in members for q in m[3])
    rank = {q: r for r, q in enumerate(sorted(freq, key=lambda q: (freq[q], q)))}  # rarest first
    tokens = [sorted(rank[q] for q in members[i][3]) for i in order]
    masks = [sum(1 << r for r in ts) for ts in tokens]
    longest = max(map(len, tokens))
    two_at = {"cheaper": longest - 2, "two": longest}.get(way, 0)  # the step at which to list pairs sharing 2+
    higher: dict[tuple[int, int], int] = {}  # every pair sharing more than t: (p, q) -> shared
    exact: list[tuple[int, int, int]] = []
    t = longest
    while t >= 1:
        if t == two_at and t > 2:
            budget = 2 * sum(math.comb(len(ts), 2) for ts in tokens) if way == "cheaper" else None
            two = _pairs_sharing_two(tokens, masks, budget)
            if two is not None:  # every pair sharing two or more, so more than t = 1
                higher.update(two)
                if len(higher) >= k:
                    break
                t = 1
        exact = _pairs_sharing(tokens, masks, t, higher, k - len(higher), way)
        if len(higher) + len(exact) >= k:
            break
        higher.update(((p, q), shared) for shared, p, q in exact)
        exact = []
        t -= 1
    found = sorted([(-shared, p, q) for (p, q), shared in higher.items()] + [(-c, p, q) for c, p, q in exact])[:k]
    # fewer than k pairs share anything: pairs sharing none make up the k, first in order (every
    # pair sharing something is in `higher` then, and fewer than k of them are skipped)
    none_shared = ((0, p, q) for p in range(n) for q in range(p + 1, n) if (p, q) not in higher)
    found += islice(none_shared, k - len(found))
    return [(-neg, members[order[p]], members[order[q]]) for neg, p, q in found]


def _file_subsets(tokens: list[list[int]], t: int) -> dict[tuple[int, ...], list[int]]:
    """Each t-question subset held by two sets or more -> those sets, in order. A subset gets a list
    only when a second set holds it: tens of thousands of lists would each stay in the garbage
    collector's care and set off its full passes (a subset's tuple of ints leaves it at once)."""
    first: dict[tuple[int, ...], int] = {}
    shared_by: dict[tuple[int, ...], list[int]] = {}
    for p, ts in enumerate(tokens):
        for sub in combinations(ts, t):
            q = first.setdefault(sub, p)
            if q != p:
                shared_by.setdefault(sub, [q]).append(p)
    return shared_by


def _pairs_sharing_two(
    tokens: list[list[int]], masks: list[int], budget: int | None
) -> dict[tuple[int, int], int] | None:
    """Every pair p < q of sets sharing two questions or more -> how many they share; None when the
    pairs met on a common 2-question subset number more than `budget` (most pairs share two)."""
    filed = _file_subsets(tokens, 2)
    if budget is not None and sum(len(ps) * (len(ps) - 1) // 2 for ps in filed.values()) > budget:
        return None
    out: dict[tuple[int, int], int] = {}
    for ps in filed.values():
        for i, p in enumerate(ps):
            mp = masks[p]
            for q in ps[i + 1 :]:
                if (p, q) not in out:
                    out[(p, q)] = (mp & masks[q]).bit_count()
    return out


def _pairs_sharing(
    tokens: list[list[int]],
    masks: list[int],
    t: int,
    higher: dict[tuple[int, int], int],
    need: int,
    way: str = "cheaper",
) -> list[tuple[int, int, int]]:
    """Pairs p < q of sets sharing exactly t questions, as (t, p, q): all of them, or at least the
    `need` first in order. `tokens` are each set's questions as ranks (rarest first, ascending),
    `masks` the same as bits; `higher` holds every pair sharing more than t (they are left out).

    Two ways, both exact; whichever reads fewer entries for this t is used (or `way` says which):
    - t-subsets: every set files each of its t-question subsets; two sets share at least t questions
      if and only if they file a common subset, and a pair sharing exactly t files exactly one. From
      each subset's sets the first pairs in order are taken, at most `need` + len(higher) of them.
      Costs C(len, t) per set: cheap when t is near the set length, or 1 or 2.
    - prefix filtering: two sets sharing t or more questions have a common question among the
      first len - t + 1 of each (in the same order), so only pairs meeting there are compared.
      Costs the pairs that meet there: cheap when sets are far apart (questions rarely shared)."""
    prefix: Counter = Counter()
    by_subsets = 0
    for ts in tokens:
        prefix.update(ts[: max(len(ts) - t + 1, 0)])
        by_subsets += math.comb(len(ts), t)
    by_prefix = sum(c * (c - 1) // 2 for c in prefix.values())
    out: list[tuple[int, int, int]] = []
    if way == "subsets" or (way != "prefix" and by_subsets <= by_prefix):
        cap = need + len(higher)  # enough pairs in order, whatever the pairs sharing more take
        for ps in _file_subsets(tokens, t).values():
            taken = 0
            for i, p in enumerate(ps):
                for q in ps[i + 1 :]:
                    if (p, q) not in higher:
                        out.append((t, p, q))
                    taken += 1
                    if taken >= cap:
                        break
                if taken >= cap:
                    break
        return out
    index: dict[int, list[int]] = defaultdict(list)
    for p, ts in enumerate(tokens):
        met: set[int] = set()
        for r in ts[: max(len(ts) - t + 1, 0)]:
            met.update(index[r])
            index[r].append(p)
        mp = masks[p]
        out += [(t, q, p) for q in met if (mp & masks[q]).bit_count() == t]
    return out


def _overlap(sets: list[frozenset]) -> float:
    n = len(sets)
    if n < 2:
        return 0.0
    counts = Counter(q for st in sets for q in st)
    shared = sum(c * (c - 1) / 2 for c in counts.values())
    mean_len = sum(len(st) for st in sets) / n
    return shared / (n * (n - 1) / 2) / mean_len if mean_len else 0.0


def _pool_sizes(s: Session, f: Filters) -> dict[tuple[str, str], int]:
    from .models import QuestionVersionMethodRow

    latest = {}
    for rel in s.execute(
        select(ReleaseRow).order_by(col(ReleaseRow.major), col(ReleaseRow.minor), col(ReleaseRow.patch))
    ).scalars():
        if not f.release or rel.semver == f.release:
            latest[rel.standard_id] = rel
    out = {}
    for sid, rel in latest.items():
        std = s.get_one(StandardRow, sid)  # a release's standard_id is a foreign key
        q = (
            select(col(MethodRow.key), func.count(func.distinct(col(QuestionVersionRow.question_id))))
            .select_from(ReleaseItemRow)
            .join(QuestionVersionRow, col(QuestionVersionRow.id) == ReleaseItemRow.question_version_id)
            .join(QuestionVersionMethodRow, col(QuestionVersionMethodRow.question_version_id) == QuestionVersionRow.id)
            .join(MethodRow, col(MethodRow.id) == QuestionVersionMethodRow.method_id)
            .where(col(ReleaseItemRow.release_id) == rel.id)
            .group_by(col(MethodRow.key))
        )
        for key, n in s.execute(q):
            out[(std.code, key)] = n
    return out


# --------------------------------------------------------------------------- 3. avoidance


def review_avoidance(s: Session, f: Filters) -> Report:
    n_sets = _set_count(s, f)
    drawn: Counter = Counter()
    # every question put in a set that still counts (swapped-out ones included) counts as drawn; the
    # items of voided draws and the question an undone swap brought in do not
    q = _draws_from(
        select(col(QuestionRow.code), func.count(col(DrawItemRow.id)))
        .select_from(DrawRow)
        .join(DrawItemRow, col(DrawItemRow.draw_id) == DrawRow.id)
        .join(QuestionRow, col(QuestionRow.id) == DrawItemRow.question_id),
        f,
    )
    q = q.where(_live_item()).group_by(col(QuestionRow.code))
    drawn.update(dict(s.execute(q).all()))
    out_item = table_of(DrawItemRow).alias("out_item")
    qo = table_of(QuestionRow).alias("qo")
    swaps = s.execute(
        _draws_from(
            select(qo.c.code, col(DrawSwapRow.reason), col(DrawSwapRow.draw_id))
            .select_from(DrawRow)
            .join(DrawSwapRow, col(DrawSwapRow.draw_id) == DrawRow.id)
            .join(out_item, out_item.c.id == DrawSwapRow.out_item_id)
            .join(qo, qo.c.id == out_item.c.question_id),
            f,
        ).where(_live_swap())
    ).all()
    swap_assessor = _assessor_of_draws(s)
    swapped: Counter = Counter()
    reasons: dict[str, Counter] = defaultdict(Counter)
    per_assessor_swaps: Counter = Counter()
    for code, reason, draw_id in swaps:
        swapped[code] += 1
        reasons[code][reason] += 1
        per_assessor_swaps[swap_assessor.get(draw_id, "(no assessment)")] += 1
    skipped, per_assessor_skips, methods_run = _skips(s, f)
    rows, flags, bars = [], [], []
    for code, n in sorted(drawn.items()):
        sw, sk = swapped.get(code, 0), skipped.get(code, 0)
        rate = (sw + sk) / n if n else 0.0
        judged = n >= MIN_DRAWS
        flagged = judged and rate >= AVOID_RATE
        top_reasons = "; ".join(f"{r} ({c})" for r, c in reasons.get(code, Counter()).most_common(3))
        rows.append([code, n, sw, sk, _pct(rate), top_reasons, "AVOIDED" if flagged else ("" if judged else "too few")])
        if flagged:
            flags.append(
                f"{code}: swapped or skipped in {_pct(rate)} of {n} draws"
                + (f" (reasons: {top_reasons})" if top_reasons else "")
            )
        if sw or sk:
            bars.append((code, round(rate, 4), flagged))
    rows.sort(key=lambda r: (-(r[2] + r[3]) / max(r[1], 1), r[0]))
    bars.sort(key=lambda b: -b[1])
    assessors = sorted(set(methods_run) | set(per_assessor_swaps))
    a_rows = []
    for a in assessors:
        methods = methods_run.get(a, 0)
        a_rows.append(
            [
                a,
                methods,
                per_assessor_swaps.get(a, 0),
                per_assessor_skips.get(a, 0),
                round(per_assessor_swaps.get(a, 0) / methods, 2) if methods else "-",
                round(per_assessor_skips.get(a, 0) / methods, 2) if methods else "-",
            ]
        )
    r = Report(
        kind="avoidance",
        title="Questions assessors avoid",
        filters="",
        explanation=(
            "Swap rate = swaps out of the question / times it was drawn; skip rate = drawn, not "
            "swapped, and not asked by the time the method ended (or marked skipped). A question with "
            "at least "
            f"{MIN_DRAWS} draws swapped or skipped in {_pct(AVOID_RATE)} of them or more is flagged; "
            "read the reasons before rewriting it."
        ),
    )
    r.flags = flags
    r.summary = [f"{n_sets} set(s); {sum(swapped.values())} swap(s); {sum(skipped.values())} skip(s)"]
    r.tables = [
        Table("Per question", ["question", "drawn", "swapped", "skipped", "avoid rate", "reasons", "flag"], rows),
        Table(
            "Per assessor",
            ["assessor", "methods run", "swaps", "skips", "swaps per method", "skips per method"],
            a_rows,
        ),
    ]
    r.charts = [
        Chart(
            "Avoid rate (swapped or skipped / drawn)",
            bars[:30],
            unit="share",
            reference=AVOID_RATE,
            reference_label=f"flag at {_pct(AVOID_RATE)}",
        )
    ]
    return r


def _assessor_of_draws(s: Session) -> dict[int, str]:
    rows = s.execute(
        select(col(AssessmentMethodRow.draw_id), col(AssessmentRow.assessor))
        .join(AssessmentRow, col(AssessmentRow.id) == AssessmentMethodRow.assessment_id)
        .where(col(AssessmentMethodRow.draw_id).is_not(None), col(AssessmentRow.status) != "void")
    ).all()
    return {draw_id: assessor for draw_id, assessor in rows if draw_id is not None}  # all of them (the WHERE)


def _skips(s: Session, f: Filters) -> tuple[Counter, Counter, dict[str, int]]:
    """Skipped questions: in the final set of an ended method and not asked (or marked skipped).
    Returns (skips per question, skips per assessor, methods run per assessor). Counted in SQL: a
    planned question is skipped when no ask of it with status 'asked' is in its method (an ask is
    unique per method and question, so the outer join adds no rows)."""

    def planned(q):
        q = _draws_from(q.select_from(DrawRow), f, assessments=True)
        return q.join(DrawItemRow, col(DrawItemRow.draw_id) == DrawRow.id).where(
            col(DrawItemRow.active).is_(True), _live_item(), col(AssessmentMethodRow.status) == "ended"
        )

    methods = planned(
        select(col(AssessmentRow.assessor), func.count(func.distinct(col(AssessmentMethodRow.id))))
    ).group_by(col(AssessmentRow.assessor))
    asked = and_(
        col(AskRow.assessment_method_id) == AssessmentMethodRow.id,
        col(AskRow.question_id) == DrawItemRow.question_id,
        col(AskRow.status) == "asked",
    )
    q = (
        planned(select(col(AssessmentRow.assessor), col(QuestionRow.code), func.count(col(DrawItemRow.id))))
        .join(QuestionRow, col(QuestionRow.id) == DrawItemRow.question_id)
        .outerjoin(AskRow, asked)
        .where(col(AskRow.id).is_(None))
        .group_by(col(AssessmentRow.assessor), col(QuestionRow.code))
    )
    skipped: Counter = Counter()
    per_assessor: Counter = Counter()
    for assessor, code, n in s.execute(q):
        skipped[code] += n
        per_assessor[assessor] += n
    return skipped, per_assessor, dict(s.execute(methods).all())


# --------------------------------------------------------------------------- 4. effectiveness


def review_effectiveness(s: Session, f: Filters) -> Report:
    def asked(*columns):  # the asks of bank questions in the draws the filters select
        q = _draws_from(select(*columns).select_from(DrawRow), f, assessments=True)
        return (
            q.join(AskRow, col(AskRow.assessment_method_id) == AssessmentMethodRow.id)
            .join(QuestionRow, col(QuestionRow.id) == AskRow.question_id)
            .where(col(AskRow.status) == "asked")
        )

    asks = s.execute(asked(col(AskRow.id), col(QuestionRow.code), col(AskRow.question_version_id))).all()
    targets: dict[int, set[str]] = defaultdict(set)
    qv_ids = {qv for _, _, qv in asks}
    for qv, code in s.execute(
        select(col(QuestionVersionOutcomeRow.question_version_id), col(OutcomeRow.code)).join(
            OutcomeRow, col(OutcomeRow.id) == QuestionVersionOutcomeRow.outcome_id
        )
    ):
        if qv in qv_ids:
            targets[qv].add(code)
    # the evidence logged against those asks, above the lowest level; where two entries name the same
    # outcome of one ask, the later one's level counts
    evidenced: dict[int, dict[str, str]] = defaultdict(dict)
    lowest = _lowest_levels(s)
    parsed: dict[str, list[str]] = {}  # outcome lists repeat: each distinct one is parsed once
    for ask_id, outs, level in s.execute(
        asked(col(EvidenceRow.ask_id), col(EvidenceRow.outcomes_json), col(EvidenceRow.level))
        .join(EvidenceRow, col(EvidenceRow.ask_id) == AskRow.id)
        .where(col(EvidenceRow.retracted_at).is_(None), col(EvidenceRow.level).not_in(sorted(lowest)))
        .order_by(col(EvidenceRow.id))
    ):
        outcomes = parsed.get(outs)
        if outcomes is None:
            outcomes = parsed[outs] = json.loads(outs)
        for o in outcomes:
            evidenced[ask_id][o] = level
    per_q: dict[str, list[float]] = defaultdict(list)
    levels: dict[str, Counter] = defaultdict(Counter)
    tag_asks: Counter = Counter()  # (question, outcome tag) -> asks of a version carrying the tag
    tag_hits: Counter = Counter()  # ... of which the tag was evidenced
    for ask_id, code, qv in asks:
        t = targets.get(qv, set())
        got = {o for o in t if o in evidenced.get(ask_id, {})}
        per_q[code].append(len(got) / len(t) if t else 0.0)
        for o in got:
            levels[code][evidenced[ask_id][o]] += 1
        tag_asks.update((code, o) for o in t)
        tag_hits.update((code, o) for o in got)
    rows: list[list[Any]] = []
    flags: list[str] = []
    bars: list[tuple[str, float, bool]] = []
    for code, shares in sorted(per_q.items()):
        n = len(shares)
        mean = sum(shares) / n
        judged = n >= MIN_ASKS
        weak = judged and mean < WEAK_SHARE
        lv = ", ".join(f"{k} {v}" for k, v in levels[code].most_common())
        rows.append([code, n, _pct(mean), lv, "REWRITE?" if weak else ("" if judged else "too few asks")])
        bars.append((code, round(mean, 4), weak))
        if weak:
            flags.append(f"{code}: its targeted outcomes were evidenced in only {_pct(mean)} of {n} asks")
    rows.sort(key=lambda r: (r[4] != "REWRITE?", float(r[2].rstrip("%")), r[0]))
    bars.sort(key=lambda b: b[1])
    r = Report(
        kind="effectiveness",
        title="Do questions elicit what they target?",
        filters="",
        explanation=(
            f"For each ask, the share of the question's targeted outcomes that evidence logged against "
            f"that ask showed above the lowest level; averaged over the question's asks. A question "
            f"asked {MIN_ASKS} times or more whose mean is below {_pct(WEAK_SHARE)} is flagged for "
            "rewriting (or re-mapping its outcomes). Per question and outcome tag: how often each tag "
            f"was evidenced when the question was asked; a tag under {_pct(WEAK_SHARE)} over "
            f"{MIN_ASKS} asks or more is flagged for re-tagging."
        ),
    )
    r.flags = flags
    r.summary = [f"{len(asks)} ask(s) of {len(per_q)} question(s)"]
    tag_rows: list[list[Any]] = []
    for (code, o), n in tag_asks.items():
        share = tag_hits[(code, o)] / n
        flag = ("RE-TAG?" if share < WEAK_SHARE else "") if n >= MIN_ASKS else "too few asks"
        tag_rows.append([code, o, n, tag_hits[(code, o)], _pct(share), flag])
    tag_rows.sort(key=lambda r: (r[5] != "RE-TAG?", r[3] / r[2], r[0], r[1]))
    r.tables = [
        Table("Per question", ["question", "asks", "targets evidenced", "levels", "flag"], rows),
        # a tag a good answer does not really evidence makes coverage nominal (issue 13)
        Table("Per question and outcome tag", ["question", "outcome", "asks", "evidenced", "share", "flag"], tag_rows),
    ]
    r.charts = [
        Chart(
            "Share of targeted outcomes evidenced (lowest 30)",
            bars[:30],
            unit="share",
            reference=WEAK_SHARE,
            reference_label=f"flag below {_pct(WEAK_SHARE)}",
        )
    ]
    return r


def _lowest_levels(s: Session) -> set[str]:
    low = {"not evidenced", "not met", "not seen"}
    for rel_id, definition in s.execute(select(col(ReleaseRow.id), col(ReleaseRow.definition_json))):
        try:
            rules = release_definition(rel_id, definition).rules
        except ValueError:
            continue
        low |= {m.levels[0] for m in rules.methods.values()}
    return low


# --------------------------------------------------------------------------- 5. assessor consistency


def review_assessors(s: Session, f: Filters, margin: float = GRADE_MARGIN, min_grades: int = MIN_GRADES) -> Report:
    # every assessor is read, whatever the assessor filter: one is judged against everyone else
    q = _assessed(
        select(
            col(AssessmentRow.assessor),
            col(StandardRow.code),
            col(MethodRow.key),
            col(AssessmentMethodRow.confirmed_grade),
            col(ReleaseRow.id),
            col(AssessmentRow.id),
            col(AssessmentRow.overall_json),
        ).select_from(AssessmentMethodRow),
        f,
        assessor=False,
    )
    q = q.where(col(AssessmentMethodRow.confirmed_grade).is_not(None), col(AssessmentMethodRow.status) != "carried")
    rules_cache: dict[int, GradingRules] = {}
    positions: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))  # std -> assessor -> pos
    dist: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    overall: dict[tuple[str, str], Counter] = defaultdict(Counter)
    seen_assessments = set()
    scale_of: dict[tuple[str, str], tuple[str, ...]] = {}
    for assessor, std, meth, grade, rel_id, aid, overall_json in s.execute(q):
        if rel_id not in rules_cache:  # a definition is kilobytes: read once per release, not once per row
            definition = s.execute(select(col(ReleaseRow.definition_json)).where(col(ReleaseRow.id) == rel_id))
            rules_cache[rel_id] = release_definition(rel_id, definition.scalar_one()).rules
        scheme = rules_cache[rel_id].methods.get(meth)
        if scheme is None or grade not in scheme.grades:
            continue
        positions[std][assessor].append(scheme.grades.index(grade) / (len(scheme.grades) - 1))
        scale_of[(std, meth)] = scheme.grades
        dist[(std, meth, assessor)][grade] += 1
        if aid not in seen_assessments:
            seen_assessments.add(aid)
            for o in json.loads(overall_json or "[]"):
                if o.get("grade"):
                    overall[(std, assessor)][o["grade"]] += 1
    rows, flags, bars = [], [], []
    for std, by_assessor in sorted(positions.items()):
        for assessor, pos in sorted(by_assessor.items()):
            if f.assessor and assessor != f.assessor:
                continue  # still counted among "everyone else" for the assessor asked about
            others = [p for a, ps in by_assessor.items() if a != assessor for p in ps]
            mine = sum(pos) / len(pos)
            theirs = sum(others) / len(others) if others else math.nan
            diff = mine - theirs if others else math.nan
            judged = len(pos) >= min_grades and len(others) >= min_grades
            out = judged and abs(diff) >= margin
            label = ("GRADES HIGH" if diff > 0 else "GRADES LOW") if out else ("" if judged else "too few to judge")
            if out:
                flags.append(
                    f"{assessor} ({std}): mean grade position {mine:.2f} vs {theirs:.2f} for everyone else "
                    f"over {len(pos)} method grades ({'+' if diff > 0 else ''}{diff:.2f}, margin {margin})"
                )
            rows.append(
                [
                    std,
                    assessor,
                    len(pos),
                    f"{mine:.2f}",
                    "-" if math.isnan(theirs) else f"{theirs:.2f}",
                    "-" if math.isnan(diff) else f"{diff:+.2f}",
                    label,
                ]
            )
            if not math.isnan(diff):
                bars.append((f"{assessor} ({std})", round(diff, 3), out))
    mine_only = (lambda a: a == f.assessor) if f.assessor else (lambda a: True)
    d_rows = [
        [std, meth, a, ", ".join(f"{g} {c[g]}" for g in scale_of[(std, meth)] if c[g])]
        for (std, meth, a), c in sorted(dist.items())
        if mine_only(a)
    ]
    o_rows = [
        [std, a, ", ".join(f"{g} {n}" for g, n in sorted(c.items()))]
        for (std, a), c in sorted(overall.items())
        if mine_only(a)
    ]
    levels = _evidence_levels_by_assessor(s, f)
    r = Report(
        kind="assessors",
        title="Assessor consistency",
        filters="",
        explanation=(
            "Each method grade is placed on its scale from 0 (the lowest grade) to 1 (the highest), "
            "so Fail/Pass/Merit/Distinction is 0, 1/3, 2/3, 1. An assessor's mean position is compared "
            f"with everyone else's on the same standard. Flagged: at least {min_grades} grades on "
            f"each side and a difference of {margin} or more (about half a step on a four-grade "
            "scale). A flag is a prompt for moderation, not a finding: the assessor may simply have "
            "met stronger apprentices. Second marking (internal quality assurance, `qbank iqa`): per "
            "assessor, the methods a second marker graded (the newest second mark counts), the share whose "
            "second grade was the assessor's grade, and for marks schemes the mean absolute difference "
            f"between the two totals; flagged under {IQA_AGREEMENT:.0%} agreement over at least {IQA_MIN} "
            "second-marked methods."
        ),
    )
    iqa_rows, iqa_flags = _second_marking(s, f)
    r.flags = flags + iqa_flags
    r.tables = [
        Table(
            "Mean grade position",
            ["standard", "assessor", "method grades", "mean position", "everyone else", "difference", "flag"],
            rows,
        ),
        Table("Method grades", ["standard", "method", "assessor", "grades"], d_rows),
        Table("Overall grades", ["standard", "assessor", "grades"], o_rows),
        Table("Evidence levels logged", ["assessor", "levels"], levels),
        Table(
            "Second marking (IQA)",
            ["standard", "assessor", "second-marked", "agreed", "agreement", "mean |total difference|", "flag"],
            iqa_rows,
        ),
    ]
    r.charts = [
        Chart(
            "Difference from everyone else (grade position)",
            bars,
            unit="difference",
            reference=margin,
            reference_label=f"margin ±{margin}",
        )
    ]
    return r


def _second_marking(s: Session, f: Filters) -> tuple[list[list], list[str]]:
    """Per standard and assessor: methods second-marked (the newest second mark of each counts; a
    method reopened since is left out), how many second grades were the assessor's grade, the rate,
    and for marks schemes the mean absolute difference between the second marker's total and the
    assessor's. Three statements, whatever the number of second marks."""
    newest = select(func.max(col(SecondMarkRow.id))).group_by(col(SecondMarkRow.assessment_method_id))
    q = _assessed(
        select(
            col(StandardRow.code),
            col(AssessmentRow.assessor),
            col(ReleaseRow.id),
            col(MethodRow.key),
            col(AssessmentMethodRow.id),
            func.coalesce(col(AssessmentMethodRow.confirmed_grade), col(AssessmentMethodRow.grade)),
            col(SecondMarkRow.grade),
            col(SecondMarkRow.marks_json),
        )
        .select_from(SecondMarkRow)
        .join(AssessmentMethodRow, col(AssessmentMethodRow.id) == SecondMarkRow.assessment_method_id),
        f,
    )
    marked = s.execute(q.where(col(SecondMarkRow.id).in_(newest), col(AssessmentMethodRow.status) == "ended")).all()
    if not marked:
        return [], []
    release_ids = {rel for _, _, rel, *_ in marked}
    rules = {
        rid: release_definition(rid, text).rules
        for rid, text in s.execute(
            select(col(ReleaseRow.id), col(ReleaseRow.definition_json)).where(col(ReleaseRow.id).in_(release_ids))
        )
    }
    # the assessor's total per second-marked method, summed in SQL
    assessor_totals = dict(
        s.execute(
            select(col(CriterionMarkRow.assessment_method_id), func.sum(col(CriterionMarkRow.mark)))
            .where(col(CriterionMarkRow.assessment_method_id).in_(select(col(SecondMarkRow.assessment_method_id))))
            .group_by(col(CriterionMarkRow.assessment_method_id))
        ).all()
    )
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])  # (std, assessor) -> [marked, agreed]
    diffs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for std, assessor, rel, key, am_id, grade, second, marks_json in marked:
        if grade is None:
            continue  # a method without grading rules whose grade is not confirmed yet
        c = counts[(std, assessor)]
        c[0] += 1
        c[1] += int(second == grade)
        scheme = rules[rel].methods.get(key)
        assessor_total = assessor_totals.get(am_id)
        if scheme is not None and scheme.scheme == "marks" and assessor_total is not None:
            second_total = sum(float(v) for v in json.loads(marks_json or "{}").values())
            diffs[(std, assessor)].append(abs(second_total - float(assessor_total)))
    rows, flags = [], []
    for (std, assessor), (n, agreed) in sorted(counts.items()):
        rate = agreed / n
        judged = n >= IQA_MIN
        low = judged and rate < IQA_AGREEMENT
        d = diffs.get((std, assessor))
        rows.append(
            [
                std,
                assessor,
                n,
                agreed,
                _pct(rate),
                f"{sum(d) / len(d):.1f}" if d else "-",
                "LOW AGREEMENT" if low else ("" if judged else "too few to judge"),
            ]
        )
        if low:
            flags.append(
                f"{assessor} ({std}): second markers gave the assessor's grade in {agreed} of {n} second-marked "
                f"methods ({_pct(rate)}), under {IQA_AGREEMENT:.0%}"
            )
    return rows, flags


def _evidence_levels_by_assessor(s: Session, f: Filters) -> list[list]:
    q = _assessed(
        select(col(AssessmentRow.assessor), col(EvidenceRow.level), func.count(col(EvidenceRow.id)))
        .select_from(EvidenceRow)
        .join(AssessmentMethodRow, col(AssessmentMethodRow.id) == EvidenceRow.assessment_method_id),
        f,
    )
    q = q.where(col(EvidenceRow.retracted_at).is_(None))
    by: dict[str, Counter] = defaultdict(Counter)
    for a, level, n in s.execute(q.group_by(col(AssessmentRow.assessor), col(EvidenceRow.level))):
        by[a][level] += n
    return [[a, ", ".join(f"{lv} {n}" for lv, n in c.most_common())] for a, c in sorted(by.items())]


# --------------------------------------------------------------------------- 6. bank health


def _newest_releases(s: Session, standard: str | None) -> list[tuple[str, ReleaseRow]]:
    """(standard code, its newest release) for every standard in the store (or `standard`) that has
    one, by code: the release the health review's tables describe."""
    out = []
    q = select(col(StandardRow.id), col(StandardRow.code)).order_by(col(StandardRow.code))
    for std_id, code in s.execute(q.where(col(StandardRow.code) == standard) if standard else q).all():
        newest = s.execute(
            select(ReleaseRow)
            .where(col(ReleaseRow.standard_id) == std_id)
            .order_by(col(ReleaseRow.major).desc(), col(ReleaseRow.minor).desc(), col(ReleaseRow.patch).desc())
            .limit(1)
        ).scalar()
        if newest is not None:
            out.append((code, newest))
    return out


def _current_release_sizes(s: Session, standard: str | None) -> dict[str, int]:
    """Approved questions per standard: the question versions of its newest release."""
    return {
        code: s.execute(
            select(func.count()).select_from(ReleaseItemRow).where(col(ReleaseItemRow.release_id) == newest.id)
        ).scalar_one()
        for code, newest in _newest_releases(s, standard)
    }


def _current_near_duplicates(s: Session, standards: set[str]) -> list[list[Any]]:
    """The near-duplicate pairs stored with each standard's newest release (found once, at import,
    by the standard's threshold): [standard, id, id, score], in order."""
    qa, qb = table_of(QuestionVersionRow).alias("qva"), table_of(QuestionVersionRow).alias("qvb")
    ca, cb = table_of(QuestionRow).alias("qa"), table_of(QuestionRow).alias("qb")
    out = []
    for code in sorted(standards):
        newest = s.execute(
            select(col(ReleaseRow.id))
            .join(StandardRow, col(StandardRow.id) == ReleaseRow.standard_id)
            .where(col(StandardRow.code) == code)
            .order_by(col(ReleaseRow.major).desc(), col(ReleaseRow.minor).desc(), col(ReleaseRow.patch).desc())
            .limit(1)
        ).scalar()
        if newest is None:
            continue
        for a, b, score in s.execute(
            select(ca.c.code, cb.c.code, col(ReleaseNearDuplicateRow.score))
            .join(qa, qa.c.id == ReleaseNearDuplicateRow.a_version_id)
            .join(ca, ca.c.id == qa.c.question_id)
            .join(qb, qb.c.id == ReleaseNearDuplicateRow.b_version_id)
            .join(cb, cb.c.id == qb.c.question_id)
            .where(col(ReleaseNearDuplicateRow.release_id) == newest)
            .where(col(ReleaseNearDuplicateRow.kind) == "text")
        ):
            out.append([code, min(a, b), max(a, b), round(score, 1)])
    return sorted(out)


def _current_plans(s: Session, standard: str | None, method: str | None) -> list[list[Any]]:
    """Each method's exposure plan in its standard's newest release (`qbank plan`): [standard,
    method, floor, proved, cap, least overlap, even share, binding outcomes]; "not solved" when missing."""
    from .exposure import ALGORITHM, Plan

    out: list[list[Any]] = []
    for code, newest in _newest_releases(s, standard):
        keys = {m.id for m in for_release(newest).methods}
        stored = {
            key: (alg, payload)
            for key, alg, payload in s.execute(
                select(col(MethodRow.key), col(ReleasePlanRow.algorithm), col(ReleasePlanRow.payload))
                .join(MethodRow, col(MethodRow.id) == ReleasePlanRow.method_id)
                .where(col(ReleasePlanRow.release_id) == newest.id)
            )
        }
        for key in sorted(keys):
            if method and key != method:
                continue
            alg, payload = stored.get(key, ("", ""))
            if alg != ALGORITHM:
                out.append([code, key, "not solved", "", "", "", "", "run `qbank plan`"])
                continue
            p = Plan.from_dict(json.loads(payload))
            if not p.usable or (p.floor == 0 and not p.rates):
                continue  # a method that draws nothing of itself
            out.append(
                [
                    code,
                    key,
                    round(p.floor, 3),
                    "yes" if p.proved else "bound",
                    p.cap,
                    round(p.overlap, 4),
                    round(p.even_share, 4),
                    ", ".join(p.binding),
                ]
            )
    return out


REVIEW_NAMED = 5  # questions due for review named per standard in the health review


def _months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day when it is shorter)."""
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return date(y, m + 1, d)
        except ValueError:
            continue
    raise AssertionError("every month has 28 days")


def _reviews_due(s: Session, standard: str | None, today: date) -> tuple[list[list[Any]], list[str]]:
    """Per standard, from its newest release: whether the bank's review (`review_due`, as the release
    froze it) has passed, and the approved questions with no review in the last
    `review_interval_months` (12 unless the standard says otherwise), never-reviewed first, counted
    in SQL with the first few named. Returns the table's rows and the flags."""
    rows: list[list[Any]] = []
    flags: list[str] = []
    for code, newest in _newest_releases(s, standard):
        d = for_release(newest)
        cutoff = _months_before(today, d.review_months).isoformat()
        reviewed_on = col(ReleaseItemRow.reviewed_on)
        due = and_(col(ReleaseItemRow.release_id) == newest.id, or_(reviewed_on == "", reviewed_on < cutoff))
        approved = s.execute(
            select(func.count()).select_from(ReleaseItemRow).where(col(ReleaseItemRow.release_id) == newest.id)
        ).scalar_one()
        n_due = s.execute(select(func.count()).select_from(ReleaseItemRow).where(due)).scalar_one()
        named = [
            f"{qcode} v{version}" + (f" ({when})" if when else "")
            for qcode, version, when in s.execute(
                select(col(QuestionRow.code), col(QuestionVersionRow.version), reviewed_on)
                .join(QuestionVersionRow, col(QuestionVersionRow.id) == ReleaseItemRow.question_version_id)
                .join(QuestionRow, col(QuestionRow.id) == QuestionVersionRow.question_id)
                .where(due)
                .order_by(reviewed_on, col(QuestionRow.code))
                .limit(REVIEW_NAMED)
            )
        ]
        listed = ", ".join(named) + (f" and {n_due - len(named)} more" if n_due > len(named) else "")
        if not d.review_due:
            state = "not recorded"
        else:
            late = (today - date.fromisoformat(d.review_due)).days
            state = f"OVERDUE {late} day(s)" if late > 0 else f"in {-late} day(s)"
            if late > 0:
                flags.append(f"{code}: the bank's review was due on {d.review_due}, {late} day(s) ago")
        if n_due:
            flags.append(
                f"{code}: {n_due} approved question(s) with no review in the last {d.review_months} months ({listed})"
            )
        rows.append([code, newest.semver, d.review_due or "-", state, approved, d.review_months, n_due, listed])
    return rows, flags


def review_health(s: Session, f: Filters, path: str | None = None) -> Report:
    from .catalogue import list_questions, release_diff, stats

    engine = s.get_bind()
    st = [x for x in stats(engine, f.standard) if not f.standard or x.code == f.standard]
    suff_rows: list[list[Any]] = []
    flags: list[str] = []
    for x in st:
        for meth in x.methods:
            if f.method and meth != f.method:
                continue
            for outcome in sorted(x.required[meth]):
                n = x.counts.get((outcome, meth), 0)
                short = n < x.threshold
                suff_rows.append([x.code, meth, outcome, n, x.threshold, "SHORT" if short else ""])
                if short:
                    flags.append(f"{x.code} {meth} {outcome}: {n} approved question(s), needs {x.threshold}")
    # counted in SQL: a 50,000-question bank is not listed to count it
    approved = _current_release_sizes(s, f.standard)
    retired = Counter(q.standard for q in list_questions(engine, standard=f.standard, status="retired"))
    plans = _current_plans(s, f.standard, f.method)
    for code, key, fl, _, cap, _, _, binding in plans:
        if isinstance(fl, float) and fl > cap:
            flags.append(
                f"{code} {key}: no draw can keep exposure under the cap {cap:.2f}; the bank's floor is {fl:.3f}"
                + (f" (add questions for {binding})" if binding else "")
            )
    dups = _current_near_duplicates(s, {code for code, n in approved.items() if n})
    for d in dups:
        flags.append(f"near-duplicates in {d[0]}: {d[1]} and {d[2]} ({d[3]})")
    rel_rows, change_rows = [], []
    now = datetime.now(timezone.utc)
    rels: dict[str, list] = defaultdict(list)
    for rel, code in s.execute(
        select(ReleaseRow, col(StandardRow.code))
        .join(StandardRow, col(StandardRow.id) == ReleaseRow.standard_id)
        .order_by(col(ReleaseRow.major), col(ReleaseRow.minor), col(ReleaseRow.patch))
    ):
        if not f.standard or code == f.standard:
            rels[code].append(rel)
    for code, lst in sorted(rels.items()):
        cur = lst[-1]
        made = _parse_date(cur.created)
        age = (now - made).days if made else None
        rel_rows.append([code, cur.semver, cur.created, age if age is not None else "-", len(lst)])
        if len(lst) >= 2:
            diff = release_diff(engine, code, lst[-2].semver, cur.semver)
            change_rows.append(
                [code, f"{lst[-2].semver} -> {cur.semver}", len(diff.added), len(diff.changed), len(diff.retired)]
            )
    drafts, reviewed = _drafts(path, f.standard) if path else (None, None)
    due_rows, due_flags = _reviews_due(s, f.standard, now.date())
    flags += due_flags
    r = Report(
        kind="health",
        title="Bank health",
        filters="",
        explanation=(
            "Sufficiency: approved questions in the current release per outcome and method, against "
            "the standard's minimum. Near-duplicates: approved texts scoring at least their standard's "
            f"near-duplicate threshold ({NEAR_DUPLICATE_THRESHOLD} unless it sets its own). Reviews: the "
            "bank's review date (review_due) and each approved question's last review, as the current "
            "release recorded them; a question is due when it has no review in the standard's "
            "review_interval_months (12 unless set). Drafts are read from the bank files (--path) since "
            "the store holds only released questions."
        ),
    )
    r.flags = flags
    r.summary = [
        f"{sum(approved.values())} approved, {sum(retired.values())} retired question(s)"
        + (
            f"; {sum(drafts.values())} draft(s) and {sum(reviewed.values())} reviewed question(s) waiting"
            if drafts is not None and reviewed is not None
            else "; drafts: give --path banks to count them"
        )
    ]
    r.tables = [
        Table(
            "Sufficiency per outcome x method",
            ["standard", "method", "outcome", "approved", "minimum", "flag"],
            suff_rows,
        ),
        Table("Near-duplicates", ["standard", "question", "question", "score"], dups),
        Table("Releases", ["standard", "current", "made", "age (days)", "releases"], rel_rows),
        Table("Changed in the latest release", ["standard", "releases", "added", "changed", "retired"], change_rows),
        Table("Retired questions", ["standard", "retired"], [[k, v] for k, v in sorted(retired.items())]),
        Table(
            "Exposure floor per method (linear programming over every valid set, current release)",
            ["standard", "method", "floor", "proved", "cap", "least overlap", "even share L/N", "binding outcomes"],
            plans,
            note=(
                "floor: the least maximum exposure any draw can reach with this bank; least overlap: the "
                "lowest expected overlap of two sets whose questions all stay within max(cap, floor); "
                "binding: outcomes whose few questions every set must take one of"
            ),
        ),
    ]
    if drafts is not None and reviewed is not None:
        r.tables.append(
            Table(
                "Drafts waiting",
                ["standard", "drafts", "reviewed (to approve)"],
                [[k, drafts[k], reviewed[k]] for k in sorted(set(drafts) | set(reviewed))],
            )
        )
    r.tables.append(
        Table(
            "Reviews due (current release)",
            ["standard", "release", "bank review due", "status", "approved", "interval (months)", "questions due"]
            + ["first due"],
            due_rows,
            note="questions due: approved questions with no review in the interval, never-reviewed first, "
            "then the oldest review",
        )
    )
    r.charts = [
        Chart(
            "Approved questions per outcome (lowest 30)",
            sorted([(f"{a} {b} {c}", n, fl == "SHORT") for a, b, c, n, _, fl in suff_rows], key=lambda x: x[1])[:30],
            unit="questions",
            reference=float(st[0].threshold) if st else None,
            reference_label="minimum",
        )
    ]
    return r


def _parse_date(text: str) -> datetime | None:
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d"):
        try:
            d = datetime.strptime(text.replace("Z", "+00:00"), fmt)
            return d if d.tzinfo else d.replace(tzinfo=timezone.utc)
        except (ValueError, AttributeError):
            continue
    try:
        d = datetime.fromisoformat(text)
        return d if d.tzinfo else d.replace(tzinfo=timezone.utc)
    except (ValueError, TypeError):
        return None


def _drafts(path: str, standard: str | None) -> tuple[Counter, Counter]:
    """Questions waiting in the bank files, per standard: drafts, and those reviewed but not approved."""
    from .validation import load_bank

    bank = load_bank(path, health=False)
    drafts: Counter = Counter()
    reviewed: Counter = Counter()
    for q in bank.questions:
        if not standard or q.standard == standard:
            if q.status == "draft":
                drafts[q.standard] += 1
            elif q.status == "reviewed":
                reviewed[q.standard] += 1
    return drafts, reviewed


# --------------------------------------------------------------------------- 7. ad-hoc questions


def review_adhoc(s: Session, f: Filters) -> Report:
    q = _assessed(
        select(
            col(AskRow.adhoc_text),
            col(AskRow.adhoc_outcomes_json),
            col(AssessmentRow.assessor),
            col(StandardRow.code),
            col(MethodRow.key),
            col(AskRow.asked_at),
        )
        .select_from(AskRow)
        .join(AssessmentMethodRow, col(AssessmentMethodRow.id) == AskRow.assessment_method_id),
        f,
    )
    q = q.where(col(AskRow.adhoc_text).is_not(None))
    rows_in = s.execute(q).all()
    bank = dict(
        s.execute(
            select(col(QuestionRow.code), col(QuestionVersionRow.text)).join(
                QuestionVersionRow, col(QuestionVersionRow.question_id) == QuestionRow.id
            )
        ).all()
    )
    by_outcome: dict[str, list] = defaultdict(list)
    for text, outs, assessor, std, meth, at in rows_in:
        for o in json.loads(outs):
            by_outcome[f"{std} {o}"].append((text, assessor, meth, at))
    rows = []
    for key, items in sorted(by_outcome.items()):
        for text, assessor, meth, at in items:
            best = process.extractOne(text, bank, scorer=fuzz.token_set_ratio) if bank else None
            near = f"{best[2]} ({best[1]:.0f})" if best and best[1] >= 80 else ""
            rows.append([key, text, assessor, meth, at.strftime("%Y-%m-%d"), near])
    r = Report(
        kind="adhoc",
        title="Ad-hoc questions assessors wrote",
        filters="",
        explanation=(
            "Questions assessors asked in their own words during sessions, grouped by the outcome they "
            "targeted: candidates for the bank. 'Close to' names a bank question scoring 80 or more on "
            "token-set similarity, so a reviewer can see whether it is new."
        ),
    )
    counts = Counter(k for k in by_outcome for _ in by_outcome[k])
    r.summary = [f"{len(rows_in)} ad-hoc question(s) across {len(by_outcome)} outcome(s)"]
    r.tables = [Table("By outcome", ["outcome", "question", "assessor", "method", "date", "close to"], rows)]
    r.charts = [
        Chart("Ad-hoc questions per outcome", [(k, n, False) for k, n in counts.most_common(30)], unit="questions")
    ]
    return r


_REVIEWS = {
    "usage": review_usage,
    "overlap": review_overlap,
    "avoidance": review_avoidance,
    "effectiveness": review_effectiveness,
    "assessors": review_assessors,
    "health": review_health,
    "adhoc": review_adhoc,
}
