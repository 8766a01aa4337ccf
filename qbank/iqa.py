"""Internal quality assurance (IQA): a second marker's own judgement of an assessed method, kept
beside the assessor's, whether the two agree, and which assessments to second-mark.

What the seeds ask for: ILM's mark sheet has, per section, the assessor's mark AND a "QA mark",
then the assessor's total and PASS/REFERRAL beside the quality assurer's own total and
PASS/REFERRAL, the date of the IQA check and the IQA's name; an EPAO moderates its assessors'
decisions (ST0480) by second-marking a sample.

Second marking (`record_second_mark`): for a method that has ended (the assessment complete, or
still open with the method ended), the second marker records their own marks per section (marks
and weighted schemes) or level per criterion (descriptors), every criterion required; the grade
is what the method's own grading rules give their marks or levels (`grading.grade_method`, the
engine that gave the assessor's grade). A method without grading rules takes the second marker's
grade as given. The second marker must not be the assessor. Void assessments and carried-over
methods (graded in an earlier attempt) are not second-marked. Second marks are never changed: a
correction is a new row and the newest counts; the older ones stay in the store.

Agreement (`compare_method`, `compare_assessment`): a method agrees when the second marker's grade
equals the assessor's grade (the confirmed one, else the rules' grade at the end); for marks
schemes each section's difference and the total difference are shown too. The second marker's
overall grade comes from the standard's combination table once every method assessed in the
attempt has a second mark (a carried-over grade counts as it stands), with the same resit cap and
override as the assessor's.

The sample (`sample`, `choose_sample`): over the completed assessments of a period, for each
assessor,
  1. every assessment with a fail (the lowest grade of a method or of an overall grade: Fail,
     REFERRAL),
  2. every assessment with a top grade on a scale of three or more grades (Distinction; on a
     two-grade scale such as PASS/REFERRAL the top grade is the ordinary pass and is not
     sampled for itself),
  3. and a random share (default 10 %, rounded up, at least one) of that assessor's other
     completed assessments. The draw is seeded: each of those assessments is ranked by
     SHA-256(seed, assessment id) and the first ones taken, so the same seed, period and
     store give the same sample, and the output names the seed and the command to repeat it.
An assessment is listed once with every reason that applies ("fail", "distinction",
"random share") and whether it has been second-marked already.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timezone

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from .assessment_view import read_assessment
from .definition import release_definition
from .grading import GradingError, GradingRules, MethodResult, MethodScheme, fmt_number, grade_method, grade_overall
from .models import (
    ApprenticeRow,
    AssessmentMethodRow,
    AssessmentRow,
    MethodRow,
    ReleaseRow,
    SecondMarkRow,
    StandardRow,
)
from .session_guards import SessionError, lock_assessment, method_and_scheme, methods_with_keys
from .views import AssessmentView, MethodView

DEFAULT_SHARE = 0.10  # the random share of each assessor's other completed assessments
REASONS = ("fail", "distinction", "random share")


class IQAError(SessionError):
    """A second mark or sample request that cannot be done; the message names the field and why."""


# --------------------------------------------------------------------------- plain data


@dataclass(frozen=True)
class SecondMark:
    """One stored second mark (the newest per method counts)."""

    id: int
    assessment_method_id: int
    marker: str
    marks: dict[str, float]
    levels: dict[str, str]
    grade: str | None
    note: str
    created_at: datetime


@dataclass(frozen=True)
class CriterionComparison:
    id: str
    title: str
    assessor_mark: float | None = None  # marks / weighted
    second_mark: float | None = None
    max: float | None = None  # marks: marks available; weighted: 100
    assessor_level: str | None = None  # descriptors
    second_level: str | None = None

    @property
    def difference(self) -> float | None:
        """Second marker's mark minus the assessor's (None for levels, or a mark missing)."""
        if self.assessor_mark is None or self.second_mark is None:
            return None
        return self.second_mark - self.assessor_mark

    @property
    def difference_text(self) -> str:
        return signed(self.difference)

    @property
    def same(self) -> bool:
        if self.second_level is not None or self.assessor_level is not None:
            return self.assessor_level == self.second_level
        return self.difference == 0


@dataclass(frozen=True)
class MethodAgreement:
    """A second-marked method: both judgements side by side."""

    method: str
    name: str
    assessment_method_id: int
    scheme: str | None  # descriptors | marks | weighted | None (no grading rules)
    assessor_grade: str | None  # confirmed, else the rules' grade at the end (None: not ended)
    second: SecondMark
    criteria: tuple[CriterionComparison, ...] = ()
    assessor_total: float | None = None  # marks: total marks; weighted: weighted percentage
    second_total: float | None = None
    total_max: float | None = None
    corrections: int = 0  # earlier second marks of this method, superseded by this one

    @property
    def agree(self) -> bool | None:
        """The grades are the same (None: the assessor has no grade yet: the method was reopened)."""
        if self.assessor_grade is None:
            return None
        return self.second.grade == self.assessor_grade

    @property
    def verdict(self) -> str:
        return {True: "AGREE", False: "DISAGREE", None: "PENDING"}[self.agree]

    @property
    def total_difference(self) -> float | None:
        if self.assessor_total is None or self.second_total is None:
            return None
        return round(self.second_total - self.assessor_total, 6)

    @property
    def total_difference_text(self) -> str:
        return signed(self.total_difference)

    def as_dict(self) -> dict:
        return {
            "method": self.method,
            "name": self.name,
            "scheme": self.scheme,
            "marker": self.second.marker,
            "marked_at": self.second.created_at.isoformat(),
            "note": self.second.note,
            "assessor_grade": self.assessor_grade,
            "second_grade": self.second.grade,
            "agree": self.agree,
            "verdict": self.verdict,
            "criteria": [
                {
                    "id": c.id,
                    "title": c.title,
                    "assessor_mark": c.assessor_mark,
                    "second_mark": c.second_mark,
                    "difference": c.difference,
                    "max": c.max,
                    "assessor_level": c.assessor_level,
                    "second_level": c.second_level,
                }
                for c in self.criteria
            ],
            "assessor_total": self.assessor_total,
            "second_total": self.second_total,
            "total_difference": self.total_difference,
            "total_max": self.total_max,
            "corrections": self.corrections,
        }


@dataclass(frozen=True)
class OverallAgreement:
    id: str
    name: str
    assessor_grade: str | None
    second_grade: str | None  # None while a method has no second mark
    missing: tuple[str, ...] = ()  # methods assessed in this attempt with no second mark yet
    explanation: str = ""

    @property
    def agree(self) -> bool | None:
        if self.second_grade is None or self.assessor_grade is None:
            return None
        return self.second_grade == self.assessor_grade

    @property
    def verdict(self) -> str:
        return {True: "AGREE", False: "DISAGREE", None: "PENDING"}[self.agree]


@dataclass(frozen=True)
class AssessmentIQA:
    """Second marking of one assessment: the methods second-marked, those not, and the overall."""

    assessment_id: int
    assessor: str
    status: str
    methods: tuple[MethodAgreement, ...] = ()
    unmarked: tuple[str, ...] = ()  # assessed in this attempt, no second mark
    overall: tuple[OverallAgreement, ...] = ()

    def method(self, key: str) -> MethodAgreement | None:
        return next((m for m in self.methods if m.method == key), None)

    @property
    def markers(self) -> list[str]:
        return list(dict.fromkeys(m.second.marker for m in self.methods))

    @property
    def checked_at(self) -> datetime | None:
        """The date of the IQA check: the newest second mark's."""
        return max((m.second.created_at for m in self.methods), default=None)

    def as_dict(self) -> dict:
        return {
            "assessment": self.assessment_id,
            "assessor": self.assessor,
            "status": self.status,
            "methods": [m.as_dict() for m in self.methods],
            "not_second_marked": list(self.unmarked),
            "overall": [
                {**asdict(o), "agree": o.agree, "verdict": o.verdict, "missing": list(o.missing)} for o in self.overall
            ],
        }


# --------------------------------------------------------------------------- pure: grading a second mark


def signed(x: float | None) -> str:
    """A difference as shown: "+2", "-1.5", "0"; "-" when there is none."""
    if x is None:
        return "-"
    return "0" if x == 0 else ("+" if x > 0 else "-") + fmt_number(abs(x))


def same_person(a: str, b: str) -> bool:
    """Two names for one person, as typed: case and spacing ignored."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def second_grade(
    method: str,
    scheme: MethodScheme | None,
    *,
    marks: Mapping[str, float] | None = None,
    levels: Mapping[str, str] | None = None,
    grade: str | None = None,
) -> tuple[str, MethodResult | None]:
    """The grade the method's rules give the second marker's marks (marks and weighted schemes) or
    levels (descriptors), after checking them: every criterion, none unknown, each mark within its
    section's range, each level one of the scheme's. A method without grading rules takes `grade`
    as given. Raises IQAError naming the field."""
    marks, levels = dict(marks or {}), dict(levels or {})
    if scheme is None:
        if marks or levels:
            raise IQAError(f"{method} has no grading rules, so no marks or levels: give the second marker's grade")
        given = (grade or "").strip()
        if not given or len(given) > 64:
            raise IQAError(f"{method} has no grading rules: give the second marker's grade (at most 64 characters)")
        return given, None
    if grade is not None:
        what = "levels per criterion" if scheme.scheme == "descriptors" else "marks per section"
        raise IQAError(
            f"{method}: the grade is not given, it is what the rules give the second marker's {what}: "
            f"give those instead"
        )
    ids = [c.id for c in scheme.criteria]
    if scheme.scheme == "descriptors":
        if marks:
            raise IQAError(
                f"{method} is graded by descriptors, not marks: give a level for each criterion ({', '.join(ids)})"
            )
        named: Mapping[str, object] = levels
        what = "criterion"
    else:
        if levels:
            raise IQAError(f"{method} is marked per section, not by levels: give a mark for each of {', '.join(ids)}")
        named, what = marks, "section"
    for cid in named:
        if cid not in ids:
            raise IQAError(f"{method} has no {what} '{cid}' ({what}s: {', '.join(ids)})")
    missing = [cid for cid in ids if cid not in named]
    if missing:
        noun = "level" if scheme.scheme == "descriptors" else "mark"
        raise IQAError(f"no {noun} for {', '.join(missing)}: a second mark gives every {what} of {method} a {noun}")
    if scheme.scheme == "descriptors":
        for cid, level in levels.items():
            if level not in scheme.levels:
                raise IQAError(f"{method} criterion {cid}: level '{level}' is not one of {', '.join(scheme.levels)}")
    else:
        for c in scheme.criteria:
            m = marks[c.id]
            top = c.max if scheme.scheme == "marks" else 100.0
            unit = "%" if scheme.scheme == "weighted" else ""
            if not isinstance(m, (int, float)) or isinstance(m, bool) or not math.isfinite(m):
                raise IQAError(f"{method} section {c.id}: the mark must be a number, not '{m}'")
            if m < 0 or (top is not None and m > top):
                raise IQAError(
                    f"{method} section {c.id}: mark {fmt_number(m)}{unit} is outside 0-{fmt_number(top)}{unit}"
                )
    try:
        result = grade_method(scheme, levels, {k: float(v) for k, v in marks.items()})
    except GradingError as e:  # cannot happen after the checks above; named if it does
        raise IQAError(str(e)) from None
    return result.grade, result


# --------------------------------------------------------------------------- pure: agreement


def compare_method(m: MethodView, second: SecondMark, corrections: int = 0) -> MethodAgreement:
    """The assessor's judgement of method `m` beside the second marker's."""
    scheme = m.scheme
    crit: list[CriterionComparison] = []
    assessor_total = second_total = total_max = None
    if scheme is not None:
        levels = {c.id: c.level for c in (m.result.criteria if m.result else ())}
        for c in scheme.criteria:
            if scheme.scheme == "descriptors":
                crit.append(
                    CriterionComparison(
                        id=c.id,
                        title=c.title,
                        assessor_level=levels.get(c.id),
                        second_level=second.levels.get(c.id),
                    )
                )
            else:
                mv = m.marks.get(c.id)
                crit.append(
                    CriterionComparison(
                        id=c.id,
                        title=c.title,
                        assessor_mark=mv.mark if mv else None,
                        second_mark=second.marks.get(c.id),
                        max=c.max if scheme.scheme == "marks" else 100.0,
                    )
                )
        if scheme.scheme != "descriptors":
            theirs = grade_method(scheme, second.levels, second.marks)
            assessor_total = m.result.total if m.result else None
            second_total, total_max = theirs.total, theirs.total_max
    return MethodAgreement(
        method=m.method.id,
        name=m.method.name,
        assessment_method_id=m.id,
        scheme=scheme.scheme if scheme else None,
        assessor_grade=m.grade if m.status == "ended" else None,
        second=second,
        criteria=tuple(crit),
        assessor_total=assessor_total,
        second_total=second_total,
        total_max=total_max,
        corrections=corrections,
    )


def compare_assessment(view: AssessmentView, seconds: Mapping[int, list[SecondMark]]) -> AssessmentIQA:
    """Every second-marked method of the assessment beside the assessor's, and the overall grades.
    `seconds`: method record id -> its second marks, oldest first (the newest counts)."""
    methods: list[MethodAgreement] = []
    unmarked: list[str] = []
    second_grades: dict[str, str] = {}
    for m in view.methods:
        if m.status == "carried":
            if m.grade:
                second_grades[m.method.id] = m.grade  # not re-marked: the carried grade stands
            continue
        rows = seconds.get(m.id) or []
        if not rows:
            unmarked.append(m.method.id)
            continue
        agreement = compare_method(m, rows[-1], corrections=len(rows) - 1)
        methods.append(agreement)
        if agreement.second.grade:
            second_grades[m.method.id] = agreement.second.grade
    assessed = {m.method.id for m in view.methods}
    assessor_overall = {o.id: o for o in view.overall}
    overall: list[OverallAgreement] = []
    for o in view.rules.overalls:
        if not set(o.methods) <= assessed:
            continue
        mine = assessor_overall.get(o.id)
        missing = tuple(k for k in o.methods if k not in second_grades)
        grade = explanation = None
        if not missing:
            try:
                r = grade_overall(o, second_grades, view.attempt, view.override)
            except GradingError as e:  # a grade outside the table (a method without rules in a table)
                raise IQAError(str(e)) from None
            grade, explanation = r.grade, r.explanation
        overall.append(
            OverallAgreement(
                id=o.id,
                name=o.name,
                assessor_grade=mine.grade if mine else None,
                second_grade=grade,
                missing=missing,
                explanation=explanation or ("waiting for a second mark in " + ", ".join(missing) if missing else ""),
            )
        )
    return AssessmentIQA(
        assessment_id=view.id,
        assessor=view.assessor,
        status=view.status,
        methods=tuple(methods),
        unmarked=tuple(unmarked),
        overall=tuple(overall),
    )


# --------------------------------------------------------------------------- store edges


def _row_to_mark(r: SecondMarkRow) -> SecondMark:
    return SecondMark(
        id=r.id,
        assessment_method_id=r.assessment_method_id,
        marker=r.marker,
        marks={k: float(v) for k, v in json.loads(r.marks_json or "{}").items()},
        levels=dict(json.loads(r.levels_json or "{}")),
        grade=r.grade,
        note=r.note,
        created_at=r.created_at,
    )


def _second_marks(s: Session, am_ids: list[int]) -> dict[int, list[SecondMark]]:
    """Method record id -> its second marks, oldest first: one statement."""
    out: dict[int, list[SecondMark]] = defaultdict(list)
    if not am_ids:
        return out
    for r in s.execute(
        select(SecondMarkRow)
        .where(col(SecondMarkRow.assessment_method_id).in_(am_ids))
        .order_by(col(SecondMarkRow.assessment_method_id), col(SecondMarkRow.id))
    ).scalars():
        out[r.assessment_method_id].append(_row_to_mark(r))
    return out


def load(engine: Engine, assessment_id: int) -> AssessmentIQA:
    """The second marking of one assessment, read in one session."""
    with Session(engine) as s:
        view = read_assessment(s, assessment_id)
        return compare_assessment(view, _second_marks(s, [m.id for m in view.methods]))


def for_view(engine: Engine, view: AssessmentView) -> AssessmentIQA:
    """The second marking of an assessment already read (the record has its view): one statement."""
    with Session(engine) as s:
        return compare_assessment(view, _second_marks(s, [m.id for m in view.methods]))


def record_second_mark(
    engine: Engine,
    assessment_id: int,
    method: str,
    marker: str,
    *,
    marks: Mapping[str, float] | None = None,
    levels: Mapping[str, str] | None = None,
    grade: str | None = None,
    note: str = "",
) -> MethodAgreement:
    """Store a second marker's marks (or levels) for one ended method of an assessment, with the
    grade the method's rules give them; returns it beside the assessor's. One transaction, the
    assessment locked first. A later call for the same method is a correction: a new row."""
    marker = " ".join((marker or "").split())
    if not marker:
        raise IQAError("the second marker's name is empty: say who is second-marking")
    if len(marker) > 128:
        raise IQAError(f"the second marker's name is {len(marker)} characters long; at most 128")
    with Session(engine) as s, s.begin():
        a = lock_assessment(s, assessment_id)
        if a.status == "void":
            raise IQAError(f"assessment {assessment_id} was voided; there is nothing to second-mark")
        rows = methods_with_keys(s, a.id)
        am = next((r for r, key in rows if key == method), None)
        if am is None:
            raise IQAError(
                f"assessment {assessment_id} has no method '{method}' (it has: {', '.join(k for _, k in rows)})"
            )
        if am.status == "carried":
            raise IQAError(
                f"{method} was carried over from an earlier attempt; it was not assessed here and is not "
                "second-marked (second-mark it in the assessment that graded it)"
            )
        if am.status != "ended":
            raise IQAError(
                f"{method} has not ended in assessment {assessment_id}: second marking follows the assessor's"
            )
        if same_person(marker, a.assessor):
            raise IQAError(f"{marker} assessed assessment {assessment_id}: the second marker must be someone else")
        m, scheme = method_and_scheme(s, am)
        given, _ = second_grade(m.id, scheme, marks=marks, levels=levels, grade=grade)
        earlier = s.execute(
            select(func.count()).select_from(SecondMarkRow).where(col(SecondMarkRow.assessment_method_id) == am.id)
        ).scalar_one()
        row = SecondMarkRow(
            assessment_method_id=am.id,
            marker=marker,
            marks_json=json.dumps({k: float(v) for k, v in (marks or {}).items()}, sort_keys=True),
            levels_json=json.dumps(dict(levels or {}), sort_keys=True),
            grade=given,
            note=note.strip(),
        )
        s.add(row)
        s.flush()
        view = read_assessment(s, assessment_id)
        return compare_method(view.method(method), _row_to_mark(row), corrections=earlier)


# --------------------------------------------------------------------------- the sample


@dataclass(frozen=True)
class Candidate:
    """A completed assessment the sample may take, with what its grades say."""

    id: int
    assessor: str
    standard: str
    apprentice: str
    completed_at: datetime | None
    overall: str  # the overall grade(s) as text
    fail: bool  # a method or overall grade is the lowest of its scale
    distinction: bool  # a method or overall grade is the top of a scale of three or more grades
    second_marked: bool = False  # every method assessed in it has a second mark


@dataclass(frozen=True)
class SampleItem:
    candidate: Candidate
    reasons: tuple[str, ...]  # of REASONS

    def as_dict(self) -> dict:
        c = self.candidate
        return {
            "assessment": c.id,
            "assessor": c.assessor,
            "standard": c.standard,
            "apprentice": c.apprentice,
            "completed_at": c.completed_at.isoformat() if c.completed_at else None,
            "overall": c.overall,
            "reasons": list(self.reasons),
            "second_marked": c.second_marked,
        }


@dataclass(frozen=True)
class AssessorSample:
    assessor: str
    completed: int
    sampled: int
    fails: int
    distinctions: int
    random: int


@dataclass
class Sample:
    share: float
    seed: str
    since: date | None
    until: date | None
    standard: str | None
    items: list[SampleItem] = field(default_factory=list)
    assessors: list[AssessorSample] = field(default_factory=list)

    @property
    def rule(self) -> str:
        return (
            f"per assessor: every fail, every distinction, and a random {100 * self.share:g}% (rounded up, at "
            "least one) of their other completed assessments"
        )

    @property
    def reproduce(self) -> str:
        parts = ["qbank iqa sample", f"--share {self.share:g}"]
        if self.since:
            parts.append(f"--since {self.since.isoformat()}")
        if self.until:
            parts.append(f"--until {self.until.isoformat()}")
        if self.standard:
            parts.append(f"--standard {self.standard}")
        parts.append(f"--seed {self.seed}")
        return " ".join(parts)

    def as_dict(self) -> dict:
        return {
            "rule": self.rule,
            "share": self.share,
            "seed": self.seed,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "standard": self.standard,
            "reproduce": self.reproduce,
            "assessors": [asdict(a) for a in self.assessors],
            "assessments": [i.as_dict() for i in self.items],
        }


def check_share(share: float) -> None:
    if not (isinstance(share, (int, float)) and math.isfinite(share) and 0 < share <= 1):
        raise IQAError(f"the share must be more than 0 and at most 1 (0.1 is 10 %), not {share}")


def random_count(share: float, others: int) -> int:
    """How many of an assessor's other assessments the random share takes: the share rounded up,
    at least one (none when there are none)."""
    if others <= 0:
        return 0
    return min(others, max(1, math.ceil(round(share * others, 9))))


def _rank(seed: str, assessment_id: int) -> str:
    return hashlib.sha256(f"{seed}:{assessment_id}".encode()).hexdigest()


def choose_sample(pool: list[Candidate], share: float, seed: str) -> tuple[list[SampleItem], list[AssessorSample]]:
    """The sample (see the module docstring): per assessor every fail and distinction, and a seeded
    random share of the rest. Pure; the same candidates, share and seed give the same sample."""
    check_share(share)
    by_assessor: dict[str, list[Candidate]] = defaultdict(list)
    for c in pool:
        by_assessor[c.assessor].append(c)
    items: list[SampleItem] = []
    summary: list[AssessorSample] = []
    for assessor in sorted(by_assessor):
        mine = sorted(by_assessor[assessor], key=lambda c: c.id)
        rest = [c for c in mine if not (c.fail or c.distinction)]
        k = random_count(share, len(rest))
        drawn = {c.id for c in sorted(rest, key=lambda c: _rank(seed, c.id))[:k]}
        chosen = 0
        for c in mine:
            reasons = tuple(
                r
                for r, yes in (("fail", c.fail), ("distinction", c.distinction), ("random share", c.id in drawn))
                if yes
            )
            if reasons:
                items.append(SampleItem(c, reasons))
                chosen += 1
        summary.append(
            AssessorSample(
                assessor=assessor,
                completed=len(mine),
                sampled=chosen,
                fails=sum(1 for c in mine if c.fail),
                distinctions=sum(1 for c in mine if c.distinction),
                random=len(drawn),
            )
        )
    return items, summary


def grade_flags(
    rules: GradingRules, method_grades: Mapping[str, str], overall_grades: Mapping[str, str]
) -> tuple[bool, bool]:
    """(fail, distinction) for an assessment's method grades (assessed here, not carried) and
    overall grades: a fail is the lowest grade of its scale; a distinction the top grade of a
    scale of three or more grades. Grades off the scale count as neither."""
    fail = distinction = False
    scales = [(rules.methods[k].grades, g) for k, g in method_grades.items() if k in rules.methods]
    by_id = {o.id: o for o in rules.overalls}
    scales += [(by_id[k].grades, g) for k, g in overall_grades.items() if k in by_id]
    for grades, g in scales:
        if g not in grades:
            continue
        fail = fail or g == grades[0]
        distinction = distinction or (len(grades) >= 3 and g == grades[-1])
    return fail, distinction


def _period(since: date | None, until: date | None) -> list:
    conds = []
    if since:
        conds.append(col(AssessmentRow.completed_at) >= datetime.combine(since, time.min, tzinfo=timezone.utc))
    if until:
        conds.append(col(AssessmentRow.completed_at) <= datetime.combine(until, time.max, tzinfo=timezone.utc))
    return conds


def candidates(
    engine: Engine, *, since: date | None = None, until: date | None = None, standard: str | None = None
) -> list[Candidate]:
    """The completed assessments of the period (completion date, UTC), with their fail and
    distinction flags: four statements, whatever their number."""
    if since and until and since > until:
        raise IQAError(f"--since {since} is after --until {until}")
    with Session(engine) as s:
        if standard and s.execute(select(col(StandardRow.id)).where(col(StandardRow.code) == standard)).first() is None:
            known = ", ".join(s.execute(select(col(StandardRow.code)).order_by(col(StandardRow.code))).scalars())
            raise IQAError(f"no standard {standard} in the store (have: {known or 'none'})")
        conds = [col(AssessmentRow.status) == "complete", *_period(since, until)]
        if standard:
            conds.append(col(StandardRow.code) == standard)
        chosen = (
            select(col(AssessmentRow.id))
            .join(StandardRow, col(StandardRow.id) == AssessmentRow.standard_id)
            .where(*conds)
        )
        rows = s.execute(
            select(AssessmentRow, col(StandardRow.code), col(ApprenticeRow.ref))
            .join(StandardRow, col(StandardRow.id) == AssessmentRow.standard_id)
            .join(ApprenticeRow, col(ApprenticeRow.id) == AssessmentRow.apprentice_id)
            .where(*conds)
            .order_by(col(AssessmentRow.id))
        ).all()
        methods: dict[int, list[tuple[int, str, str, str | None]]] = defaultdict(list)
        for am_id, aid, key, status, grade in s.execute(
            select(
                col(AssessmentMethodRow.id),
                col(AssessmentMethodRow.assessment_id),
                col(MethodRow.key),
                col(AssessmentMethodRow.status),
                func.coalesce(col(AssessmentMethodRow.confirmed_grade), col(AssessmentMethodRow.grade)),
            )
            .join(MethodRow, col(MethodRow.id) == AssessmentMethodRow.method_id)
            .where(col(AssessmentMethodRow.assessment_id).in_(chosen))
        ):
            methods[aid].append((am_id, key, status, grade))
        marked = set(
            s.execute(
                select(col(SecondMarkRow.assessment_method_id))
                .join(AssessmentMethodRow, col(AssessmentMethodRow.id) == SecondMarkRow.assessment_method_id)
                .where(col(AssessmentMethodRow.assessment_id).in_(chosen))
                .distinct()
            ).scalars()
        )
        release_ids = {a.release_id for a, _, _ in rows}
        rules: dict[int, GradingRules] = {}
        if release_ids:
            for rid, text in s.execute(
                select(col(ReleaseRow.id), col(ReleaseRow.definition_json)).where(col(ReleaseRow.id).in_(release_ids))
            ):
                rules[rid] = release_definition(rid, text).rules
    out = []
    for a, code, ref in rows:
        own = [(am_id, key, grade) for am_id, key, status, grade in methods[a.id] if status != "carried"]
        overall = {o["id"]: o["grade"] for o in json.loads(a.overall_json or "[]") if o.get("grade")}
        fail, distinction = grade_flags(rules[a.release_id], {k: g for _, k, g in own if g}, overall)
        text = ", ".join(overall.values()) if len(overall) <= 1 else ", ".join(f"{k} {g}" for k, g in overall.items())
        out.append(
            Candidate(
                id=a.id,
                assessor=a.assessor,
                standard=code,
                apprentice=ref,
                completed_at=a.completed_at,
                overall=text,
                fail=fail,
                distinction=distinction,
                second_marked=bool(own) and all(am_id in marked for am_id, _, _ in own),
            )
        )
    return out


def sample(
    engine: Engine,
    *,
    share: float = DEFAULT_SHARE,
    since: date | None = None,
    until: date | None = None,
    standard: str | None = None,
    seed: str | None = None,
) -> Sample:
    """Which completed assessments to second-mark (see the module docstring for how). Without a
    seed one is made up and returned, so the sample can be drawn again exactly; without `until` the
    period ends today (UTC), and `Sample.reproduce` says so."""
    check_share(share)
    seed = (seed or "").strip() or secrets.token_hex(4)
    # the period ends today unless told: named in `reproduce`, so a later run takes the same assessments
    until = until or datetime.now(timezone.utc).date()
    items, summary = choose_sample(candidates(engine, since=since, until=until, standard=standard), share, seed)
    return Sample(share=share, seed=seed, since=since, until=until, standard=standard, items=items, assessors=summary)
