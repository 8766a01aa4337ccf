"""Grading rules and the engine that applies them: pure functions, no database, no files.

A standard's `[grading]` table (read and checked by `gradingfile.py`) becomes a `GradingRules`:
per method a `MethodScheme` (descriptors, marks or weighted components) and one or more `Overall`
combination tables. Three functions do all the grading:

- `grade_method(scheme, levels, marks)`: the method grade, the rule that gave it, and why no
  higher rule held;
- `grade_overall(overall, method_grades, attempt, override)`: the combination-table grade, then the
  resit/retake cap unless an override is recorded;
- `criterion_levels` / `outcome_levels`: fold an evidence log into the inputs above;
  `method_standing` does all of it for one method's log (with or without rules), and
  `overall_results` grades every combination table the assessed methods complete.

Every rule condition only asks "at least", and rules run from the highest grade down, so raising
any input can only move the first rule that holds upward: more evidence never lowers a grade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .defaults import ATTEMPTS, EVIDENCE_LEVELS

SCHEMES = ("descriptors", "marks", "weighted")
DEFAULT_LEVELS = EVIDENCE_LEVELS  # the evidence levels of a method without grading rules
WILDCARD = "*"


# --------------------------------------------------------------------------- the rules, as data


@dataclass(frozen=True)
class Criterion:
    id: str
    outcomes: tuple[str, ...]
    title: str = ""
    theme: str = ""
    descriptors: Mapping[str, str] = field(default_factory=dict)  # level -> descriptor text
    max: float | None = None  # marks: marks available
    min: float | None = None  # marks / weighted: minimum needed
    weight: float | None = None  # weighted: share of the total, in per cent

    @property
    def label(self) -> str:
        return f"'{self.title}'" if self.title else self.id


@dataclass(frozen=True)
class Rule:
    grade: str
    met: tuple[str, ...] = ()  # descriptors: every criterion with a descriptor at each level met it
    total: float | None = None  # marks / weighted: total at least this
    minimums: bool = False  # marks / weighted: every criterion with a `min` reached it
    text: str = ""  # the plan's own wording, if given

    @property
    def unconditional(self) -> bool:
        return not self.met and self.total is None and not self.minimums

    def describe(self, scheme: str) -> str:
        if self.text:
            return self.text
        if self.unconditional:
            return f"{self.grade}: no higher rule holds"
        parts = []
        if self.met:
            parts.append("every " + _join(list(self.met)) + " descriptor met")
        if self.total is not None:
            unit = "%" if scheme == "weighted" else " marks"
            what = "weighted total" if scheme == "weighted" else "total"
            parts.append(f"{what} of at least {fmt_number(self.total)}{unit}")
        if self.minimums:
            parts.append("every minimum reached")
        return f"{self.grade}: " + " and ".join(parts)


@dataclass(frozen=True)
class MethodScheme:
    method: str
    scheme: str  # descriptors | marks | weighted
    levels: tuple[str, ...]  # evidence levels, lowest first
    grades: tuple[str, ...]  # method grades, lowest (the fail grade) first
    rules: tuple[Rule, ...]  # highest grade first; the last is unconditional
    criteria: tuple[Criterion, ...]

    @property
    def fail_grade(self) -> str:
        return self.grades[0]

    def criterion(self, cid: str) -> Criterion | None:
        return next((c for c in self.criteria if c.id == cid), None)

    @property
    def outcomes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(o for c in self.criteria for o in c.outcomes))

    def level_rank(self, level: str) -> int:
        return self.levels.index(level)


@dataclass(frozen=True)
class ResitCap:
    grade: str
    attempts: tuple[str, ...] = ("resit", "retake")
    override: str = ""  # who may lift it, and when (the plan's words)


@dataclass(frozen=True)
class TableRow:
    when: tuple[str, ...]
    grade: str

    def matches(self, combo: tuple[str, ...]) -> bool:
        return all(w in (WILDCARD, g) for w, g in zip(self.when, combo, strict=True))

    def describe(self, methods: tuple[str, ...]) -> str:
        return (
            " + ".join(f"{m} {w}" if w != WILDCARD else f"{m} any" for m, w in zip(methods, self.when))
            + f" \u2192 {self.grade}"
        )


@dataclass(frozen=True)
class Overall:
    id: str
    name: str
    methods: tuple[str, ...]
    grades: tuple[str, ...]  # lowest first
    table: tuple[TableRow, ...]
    resit_cap: ResitCap | None = None

    def rank(self, grade: str) -> int:
        return self.grades.index(grade)


@dataclass(frozen=True)
class GradingRules:
    methods: Mapping[str, MethodScheme]
    overalls: tuple[Overall, ...] = ()
    notes: str = ""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CriterionResult:
    id: str
    level: str | None  # descriptors: the highest level logged (None: nothing logged)
    mark: float | None  # marks / weighted: the mark recorded (None: not marked)
    short: str = ""  # what fell short, if anything ("below minimum 5")


@dataclass(frozen=True)
class MethodResult:
    method: str
    grade: str
    rule: Rule
    rule_text: str
    reasons: tuple[str, ...]  # why each higher rule did not hold, highest first
    criteria: tuple[CriterionResult, ...]
    total: float | None = None  # marks: total marks; weighted: weighted percentage
    total_max: float | None = None
    complete: bool = True  # every criterion has a level / mark recorded
    failed: bool = False  # the grade is the scheme's fail grade
    short_of: str | None = None  # the next grade up, whose rule did not hold (None: the top rule held)
    lacking: tuple[str, ...] = ()  # what that rule lacked, one entry per criterion or condition

    @property
    def reason(self) -> str:
        """One line for the assessor beside the grade: for a failing grade what was lacking
        ("REFERRAL: 'Prepare a brief report' 12, below its minimum of 15"), else the rule that gave it."""
        if self.failed and self.lacking:
            return f"{self.grade}: " + "; ".join(self.lacking)
        return self.rule_text


@dataclass(frozen=True)
class Override:
    by: str
    reason: str


@dataclass(frozen=True)
class OverallResult:
    id: str
    name: str
    grade: str | None  # None while a method grade is missing
    table_grade: str | None  # before any cap
    row: TableRow | None
    missing: tuple[str, ...] = ()  # methods without a grade yet
    capped: bool = False  # the cap lowered the grade
    cap: ResitCap | None = None  # the cap that applied to this attempt, if any
    override: Override | None = None  # recorded override that lifted the cap
    explanation: str = ""


class GradingError(ValueError):
    """Input the rules cannot grade (an unknown criterion, level or grade); names what is wrong."""


# --------------------------------------------------------------------------- evidence folding


def criterion_levels(scheme: MethodScheme, entries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """(criterion id, level) entries -> the highest level logged per criterion."""
    best: dict[str, str] = {}
    for cid, level in entries:
        if scheme.criterion(cid) is None:
            raise GradingError(f"{scheme.method}: no criterion '{cid}'")
        if level not in scheme.levels:
            raise GradingError(f"{scheme.method}: level '{level}' is not one of {', '.join(scheme.levels)}")
        if cid not in best or scheme.level_rank(level) > scheme.level_rank(best[cid]):
            best[cid] = level
    return best


def outcome_levels(scheme: MethodScheme | None, entries: Iterable[tuple[Iterable[str], str]]) -> dict[str, str]:
    """(outcome codes, level) entries -> the highest level logged per outcome (no scheme: the
    method has no grading rules and its levels are DEFAULT_LEVELS)."""
    levels = scheme.levels if scheme else DEFAULT_LEVELS
    best: dict[str, str] = {}
    for outcomes, level in entries:
        if level not in levels:
            where = scheme.method if scheme else "a method without grading rules"
            raise GradingError(f"{where}: level '{level}' is not one of {', '.join(levels)}")
        for o in outcomes:
            if o not in best or levels.index(level) > levels.index(best[o]):
                best[o] = level
    return best


def uncovered(assesses: Iterable[str], levels: Mapping[str, str], scheme: MethodScheme | None) -> list[str]:
    """Outcomes the method must assess with no evidence above the lowest level (no scheme: the
    lowest of DEFAULT_LEVELS)."""
    lowest = scheme.levels[0] if scheme else DEFAULT_LEVELS[0]
    return [o for o in assesses if o not in levels or levels[o] == lowest]


@dataclass(frozen=True)
class MethodStanding:
    """Where a method stands on the evidence and marks logged so far."""

    outcome_levels: dict[str, str]  # outcome -> the highest level logged
    uncovered: list[str]  # outcomes the method assesses with nothing above the lowest level
    result: MethodResult | None  # the rules' grade now (None: the method has no grading rules)


def method_standing(
    scheme: MethodScheme | None,
    assesses: Iterable[str],
    evidence: Iterable[tuple[str, Iterable[str], str]],
    marks: Mapping[str, float] | None = None,
) -> MethodStanding:
    """Fold a method's live evidence log ((criterion, outcomes, level) entries) and its marks into
    the outcome levels, the outcomes not yet evidenced and, when the method has grading rules, the
    grade they give now."""
    evidence = list(evidence)
    levels = outcome_levels(scheme, ((outcomes, level) for _, outcomes, level in evidence))
    result = None
    if scheme is not None:
        result = grade_method(scheme, criterion_levels(scheme, ((c, level) for c, _, level in evidence)), marks)
    return MethodStanding(outcome_levels=levels, uncovered=uncovered(assesses, levels, scheme), result=result)


# --------------------------------------------------------------------------- method grade


def grade_method(
    scheme: MethodScheme, levels: Mapping[str, str] | None = None, marks: Mapping[str, float] | None = None
) -> MethodResult:
    """The method grade from the per-criterion levels (descriptors) or marks (marks, weighted)."""
    levels = dict(levels or {})
    marks = dict(marks or {})
    for cid in list(levels) + list(marks):
        if scheme.criterion(cid) is None:
            raise GradingError(f"{scheme.method}: no criterion '{cid}'")
    for cid, lv in levels.items():
        if lv not in scheme.levels:
            raise GradingError(
                f"{scheme.method}: criterion {cid}: level '{lv}' is not one of {', '.join(scheme.levels)}"
            )
    for cid, m in marks.items():
        c = scheme.criterion(cid)
        assert c is not None  # every criterion named was checked above
        top = c.max if scheme.scheme == "marks" else 100.0
        if m is None or m < 0 or (top is not None and m > top):
            raise GradingError(f"{scheme.method}: criterion {cid}: mark {m} is outside 0-{fmt_number(top)}")

    total = total_max = None
    if scheme.scheme == "marks":
        total = sum(marks.get(c.id, 0.0) for c in scheme.criteria)
        total_max = sum(c.max or 0 for c in scheme.criteria)
    elif scheme.scheme == "weighted":
        wsum = sum(c.weight or 0 for c in scheme.criteria)
        total = sum((c.weight or 0) * marks.get(c.id, 0.0) for c in scheme.criteria) / wsum if wsum else 0.0
        total = round(total, 6)  # keep 49.999999 from float sums from deciding a boundary
        total_max = 100.0

    reasons: list[str] = []
    chosen: Rule | None = None
    above: Rule | None = None  # the lowest rule that did not hold
    for rule in scheme.rules:
        short = _rule_shortfalls(scheme, rule, levels, marks, total)
        if not short:
            chosen = rule
            break
        reasons.append(f"not {rule.grade}: " + "; ".join(short))
        above = rule
    if chosen is None:  # a validated scheme always ends with an unconditional rule
        raise GradingError(f"{scheme.method}: no rule holds and no unconditional last rule")
    lacking = tuple(_lacking(scheme, above, levels, marks, total)) if above is not None else ()
    rule_text = chosen.describe(scheme.scheme)
    if chosen.unconditional and lacking and above is not None:  # a fallback: say what the rule above it lacked
        rule_text += f" (short of {above.grade}: " + "; ".join(lacking) + ")"

    crit = []
    for c in scheme.criteria:
        s = ""
        if c.min is not None and scheme.scheme in ("marks", "weighted"):
            mark = marks.get(c.id)
            if mark is None:
                s = "not marked"
            elif mark < c.min:
                s = f"below the minimum of {fmt_number(c.min)}"
        crit.append(CriterionResult(id=c.id, level=levels.get(c.id), mark=marks.get(c.id), short=s))
    if scheme.scheme == "descriptors":
        complete = all(c.id in levels for c in scheme.criteria)
    else:
        complete = all(c.id in marks for c in scheme.criteria)
    return MethodResult(
        method=scheme.method,
        grade=chosen.grade,
        rule=chosen,
        rule_text=rule_text,
        reasons=tuple(reasons),
        criteria=tuple(crit),
        total=total,
        total_max=total_max,
        complete=complete,
        failed=chosen.grade == scheme.fail_grade,
        short_of=above.grade if above is not None else None,
        lacking=lacking,
    )


def _lacking(
    scheme: MethodScheme, rule: Rule, levels: Mapping[str, str], marks: Mapping[str, float], total: float | None
) -> list[str]:
    """What stops `rule` from holding, one short entry per condition or criterion, naming the
    criterion and the figure: "'Prepare a brief report' 12, below its minimum of 15"."""
    out: list[str] = []
    for need in rule.met:
        rank = scheme.level_rank(need)
        for c in scheme.criteria:
            if need in c.descriptors and (c.id not in levels or scheme.level_rank(levels[c.id]) < rank):
                got = levels.get(c.id)
                out.append(f"{c.id} {need} not met" + (f" (logged: {got})" if got else " (nothing logged)"))
    if rule.total is not None and (total is None or total < rule.total):
        if scheme.scheme == "weighted":
            out.append(f"weighted total {fmt_number(total or 0)}%, below {fmt_number(rule.total)}%")
        else:
            out.append(f"total {fmt_number(total or 0)}, below {fmt_number(rule.total)}")
    if rule.minimums:
        for c in scheme.criteria:
            if c.min is None:
                continue
            unit = "%" if scheme.scheme == "weighted" else ""
            m = marks.get(c.id)
            if m is None:
                out.append(f"{c.label} not marked (minimum {fmt_number(c.min)}{unit})")
            elif m < c.min:
                out.append(f"{c.label} {fmt_number(m)}{unit}, below its minimum of {fmt_number(c.min)}{unit}")
    return out


def _rule_shortfalls(
    scheme: MethodScheme, rule: Rule, levels: Mapping[str, str], marks: Mapping[str, float], total: float | None
) -> list[str]:
    """What stops `rule` from holding (empty: it holds). A marks or weighted rule never holds while
    a criterion has no mark: a missing component makes the result incomplete, never a pass on the
    others' marks (LSBU: report 100, presentation unmarked is not 50 %)."""
    short: list[str] = []
    if scheme.scheme in ("marks", "weighted") and (rule.total is not None or rule.minimums):
        unmarked = [c.label for c in scheme.criteria if c.id not in marks]
        if unmarked:
            short.append(f"no mark yet for {', '.join(unmarked)}")
    for need in rule.met:
        rank = scheme.level_rank(need)
        missing = [
            c.id
            for c in scheme.criteria
            if need in c.descriptors and (c.id not in levels or scheme.level_rank(levels[c.id]) < rank)
        ]
        if missing:
            short.append(f"{need} not met for {', '.join(missing)}")
    if rule.total is not None and (total is None or total < rule.total):
        unit = "%" if scheme.scheme == "weighted" else ""
        short.append(f"total {fmt_number(total or 0)}{unit} is below {fmt_number(rule.total)}{unit}")
    if rule.minimums:
        under = [c for c in scheme.criteria if c.min is not None and marks.get(c.id, 0.0) < c.min]
        if under:
            short.append(
                "below the minimum in "
                + ", ".join(f"{c.label} ({fmt_number(marks.get(c.id, 0.0))} of min {fmt_number(c.min)})" for c in under)
            )
    return short


# --------------------------------------------------------------------------- overall grade


def table_lookup(overall: Overall, combo: tuple[str, ...]) -> TableRow | None:
    return next((r for r in overall.table if r.matches(combo)), None)


def grade_overall(
    overall: Overall, method_grades: Mapping[str, str], attempt: str = "first", override: Override | None = None
) -> OverallResult:
    """The overall grade: the table's grade for these method grades, then the resit/retake cap,
    lifted only by a recorded override (who and why). An attempt other than first, resit or retake
    is refused: a misspelt "Resit" would otherwise escape the cap."""
    if attempt not in ATTEMPTS:
        raise GradingError(f"attempt must be one of {', '.join(ATTEMPTS)}, not '{attempt}'")
    missing = tuple(m for m in overall.methods if not method_grades.get(m))
    cap = overall.resit_cap if overall.resit_cap and attempt in overall.resit_cap.attempts else None
    if missing:
        return OverallResult(
            id=overall.id,
            name=overall.name,
            grade=None,
            table_grade=None,
            row=None,
            missing=missing,
            cap=cap,
            explanation="waiting for a grade in " + ", ".join(missing),
        )
    combo = tuple(method_grades[m] for m in overall.methods)
    row = table_lookup(overall, combo)
    if row is None:
        raise GradingError(f"{overall.id}: the combination table has no row for {' + '.join(combo)}")
    grade = row.grade
    explanation = row.describe(overall.methods)
    capped = False
    if override is not None and not (override.by.strip() and override.reason.strip()):
        raise GradingError("an override needs both who made it and the reason")
    if cap and overall.rank(grade) > overall.rank(cap.grade):
        if override is None:
            capped = True
            explanation += f"; capped at {cap.grade} ({attempt})"
            grade = cap.grade
        else:
            explanation += f"; {attempt} cap at {cap.grade} lifted by {override.by}: {override.reason}"
    return OverallResult(
        id=overall.id,
        name=overall.name,
        grade=grade,
        table_grade=row.grade,
        row=row,
        capped=capped,
        cap=cap,
        override=override if cap and not capped and overall.rank(row.grade) > overall.rank(cap.grade) else None,
        explanation=explanation,
    )


def overall_results(
    rules: GradingRules,
    method_grades: Mapping[str, str],
    assessed: Iterable[str],
    attempt: str = "first",
    override: Override | None = None,
) -> list[OverallResult]:
    """The grade of every combination table whose methods are all among those `assessed` (graded
    here or carried over); a table still waiting for a method grade says which."""
    present = set(assessed)
    return [grade_overall(o, method_grades, attempt, override) for o in rules.overalls if set(o.methods) <= present]


def methods_to_reassess(rules: GradingRules, previous: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """For a resit or retake: (methods failed before, to be assessed again; passed grades carried over)."""
    again: list[str] = []
    carried: dict[str, str] = {}
    for m, g in previous.items():
        scheme = rules.methods.get(m)
        if scheme is None:
            continue
        (again.append(m) if g == scheme.fail_grade else carried.__setitem__(m, g))
    return again, carried


# --------------------------------------------------------------------------- helpers


def fmt_number(x: float | None) -> str:
    if x is None:
        return "-"
    return str(int(x)) if float(x).is_integer() else f"{x:.1f}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
