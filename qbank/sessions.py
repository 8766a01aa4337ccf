"""Assessments: the live record an assessor builds, stored as it is made.

An assessment is one apprentice's attempt at some methods of a standard under one release. Each
method gets a drawn set (`draws.draw_in`, all methods in one transaction, so a failed start burns
no questions), then the assessor asks questions (drawn or ad hoc), types notes, logs evidence per
criterion at a level, records marks, strengths and areas for improvement, and ends the method: the
grading engine computes the grade with its rule and the assessor confirms it or records a justified
disagreement. On a resit or retake only the methods failed before are assessed; passed grades carry
over. Every function here is one short transaction, so whatever returned has been stored.

Grading logic lives in `grading.py`; this module only folds stored rows into its inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from .bankfiles import Method
from .draw import ATTEMPTS
from .draws import (DrawError, DrawRequest, _apprentice, check_request, draw_in, load_draw, resolve_release, swap,
                    with_retries)
from .grading import (DEFAULT_LEVELS, GradingError, GradingRules, MethodResult, MethodScheme, OverallResult, Override,
                      criterion_levels, grade_method, grade_overall, outcome_levels, uncovered)
from .gradingfile import rules_from_definition
from .models import (ApprenticeRow, AskRow, AssessmentMethodRow, AssessmentRow, CriterionMarkRow, DrawItemRow,
                     DrawSwapRow, EvidenceRow, MethodRow, QuestionRow, QuestionVersionRow, ReleaseRow, StandardRow,
                     utcnow)
from .problems import BankError


class SessionError(BankError):
    """An assessment action that cannot be done; the message says which step and why."""


# --------------------------------------------------------------------------- views


@dataclass
class QuestionView:
    code: str | None  # None for an ad-hoc question
    version: int | None
    text: str
    outcomes: list[str]
    minutes: int = 0
    probes: list[str] = field(default_factory=list)
    guidance: str = ""
    topic: str = ""
    position: int = 0
    ask_id: int | None = None  # set once asked
    status: str = "planned"  # planned | asked | skipped
    notes: str = ""
    asked_at: datetime | None = None
    adhoc: bool = False


@dataclass
class EvidenceView:
    id: int
    criterion: str
    outcomes: list[str]
    level: str
    note: str
    ask_id: int | None
    created_at: datetime
    retracted: bool = False


@dataclass
class MarkView:
    criterion: str
    mark: float | None
    strengths: str
    improvements: str


@dataclass
class SwapView:
    out_code: str
    in_code: str
    reason: str
    created_at: datetime


@dataclass
class MethodView:
    id: int  # assessment_method id
    method: Method
    scheme: MethodScheme | None
    status: str  # pending | running | ended | carried
    position: int
    draw_id: int | None
    budget_minutes: int
    elapsed_seconds: float
    started_at: datetime | None
    ended_at: datetime | None
    questions: list[QuestionView]
    swaps: list[SwapView]
    evidence: list[EvidenceView]  # retracted entries included, flagged
    marks: dict[str, MarkView]
    outcome_levels: dict[str, str]
    uncovered: list[str]
    result: MethodResult | None  # the engine's grade for what is logged now (None: no rules / carried)
    grade: str | None  # the method's grade: confirmed, else computed at the end, else carried
    computed_grade: str | None
    confirmed_grade: str | None
    disagreement: str
    rule_text: str
    carried_from: int | None = None  # assessment id the grade came from

    @property
    def levels(self) -> tuple[str, ...]:
        return self.scheme.levels if self.scheme else DEFAULT_LEVELS


@dataclass
class AssessmentView:
    id: int
    standard: str
    standard_title: str
    release: str
    apprentice: str
    assessor: str
    attempt: str
    cohort: str
    extra_time_pct: int
    adjustments: str
    status: str
    created_at: datetime
    completed_at: datetime | None
    previous_id: int | None
    override: Override | None
    override_at: datetime | None
    methods: list[MethodView]
    overall: list[OverallResult]
    outcome_titles: dict[str, str]
    rules: GradingRules
    ui: dict

    def method(self, key: str) -> MethodView:
        for m in self.methods:
            if m.method.id == key:
                return m
        raise SessionError(f"assessment {self.id} has no method '{key}' "
                           f"(it has: {', '.join(m.method.id for m in self.methods)})")


# --------------------------------------------------------------------------- start


@dataclass(frozen=True)
class StartRequest:
    standard: str
    apprentice: str
    assessor: str
    methods: tuple[str, ...] = ()  # empty: first attempt = the methods of the first overall grade; resit = failed ones
    attempt: str = "first"
    cohort: str = ""
    extra_time_pct: int = 0
    adjustments: str = ""
    release: str | None = None
    previous: int | None = None  # resit/retake: the earlier assessment (default: the latest complete one)


def start_assessment(engine: Engine, req: StartRequest) -> int:
    """Create the assessment and draw every method's set in one transaction; returns its id."""
    if req.attempt not in ATTEMPTS:
        raise SessionError(f"attempt must be one of {', '.join(ATTEMPTS)}, not '{req.attempt}'")
    if not req.assessor.strip():
        raise SessionError("the assessor's name is empty: say who is assessing")
    check_request(DrawRequest(standard=req.standard, method="-", apprentice=req.apprentice, attempt=req.attempt,
                              extra_time_pct=req.extra_time_pct))
    apprentice_id = _apprentice(engine, req.apprentice)

    def work(s: Session) -> int:
        std, _, rel = _resolve_release(s, req.standard, req.release)
        definition = json.loads(rel.definition_json)
        rules = _rules(rel.id, rel.definition_json)
        methods = {m["id"]: m for m in definition["methods"]}
        carried: dict[str, tuple[int, str]] = {}
        previous_id = None
        if req.attempt == "first":
            wanted = list(req.methods) or _default_methods(rules, methods)
        else:
            prev = _previous(s, std.id, apprentice_id, req.previous, req.apprentice)
            previous_id = prev.id
            failed, passed = _failed_and_passed(s, prev, rules)
            if not failed:
                raise SessionError(f"assessment {prev.id} of {req.apprentice} failed no method: there is nothing "
                                   f"to {req.attempt}")
            wanted = list(req.methods) or failed
            for m in wanted:
                if m in passed:
                    raise SessionError(f"{m} was passed ({passed[m][1]}) in assessment {prev.id}: its grade carries "
                                       f"over and it cannot be re-assessed on a {req.attempt}")
                if m not in failed:
                    raise SessionError(f"{m} was not assessed in assessment {prev.id}; a {req.attempt} re-assesses "
                                       f"only the failed methods: {', '.join(failed)}")
            carried = passed
        for m in wanted:
            if m not in methods:
                raise SessionError(f"{req.standard} release {rel.semver} has no method '{m}' "
                                   f"(methods: {', '.join(methods)})")
        if len(set(wanted)) != len(wanted):
            raise SessionError("a method is listed twice")
        a = AssessmentRow(standard_id=std.id, release_id=rel.id, apprentice_id=apprentice_id,
                          assessor=req.assessor.strip(), attempt=req.attempt, cohort=req.cohort.strip(),
                          previous_id=previous_id, extra_time_pct=req.extra_time_pct,
                          adjustments=req.adjustments.strip())
        s.add(a)
        s.flush()
        pos = 0
        for key in methods:  # the standard's order
            if key in wanted:
                pos += 1
                dreq = DrawRequest(standard=req.standard, method=key, apprentice=req.apprentice, attempt=req.attempt,
                                   cohort=req.cohort.strip(), extra_time_pct=req.extra_time_pct, release=rel.semver)
                draw_id = draw_in(s, engine, dreq, apprentice_id)
                mrow = _method_row(s, std.id, key)
                s.add(AssessmentMethodRow(assessment_id=a.id, method_id=mrow.id, position=pos, draw_id=draw_id))
            elif key in carried:
                pos += 1
                from_id, grade = carried[key]
                mrow = _method_row(s, std.id, key)
                s.add(AssessmentMethodRow(assessment_id=a.id, method_id=mrow.id, position=pos, status="carried",
                                          carried_from_id=from_id, grade=grade, confirmed_grade=grade,
                                          rule_text="carried over from the earlier attempt"))
        s.flush()
        return a.id

    return with_retries(engine, work)


def _default_methods(rules: GradingRules, methods: dict) -> list[str]:
    if rules.overalls:
        return list(rules.overalls[0].methods)
    return list(methods)


def _previous(s: Session, standard_id: int, apprentice_id: int, previous: int | None, ref: str) -> AssessmentRow:
    if previous is not None:
        prev = s.get(AssessmentRow, previous)
        if prev is None or prev.apprentice_id != apprentice_id or prev.standard_id != standard_id:
            raise SessionError(f"assessment {previous} is not an assessment of {ref} on this standard")
    else:
        prev = s.execute(select(AssessmentRow).where(AssessmentRow.apprentice_id == apprentice_id,
                                                     AssessmentRow.standard_id == standard_id,
                                                     AssessmentRow.status == "complete")
                         .order_by(AssessmentRow.id.desc())).scalars().first()
        if prev is None:
            raise SessionError(f"{ref} has no completed assessment on this standard to resit or retake")
    if prev.status != "complete":
        raise SessionError(f"assessment {prev.id} is not complete yet; finish it before a resit or retake")
    return prev


def _failed_and_passed(s: Session, prev: AssessmentRow, rules: GradingRules
                       ) -> tuple[list[str], dict[str, tuple[int, str]]]:
    rows = s.execute(select(AssessmentMethodRow, MethodRow.key)
                     .join(MethodRow, MethodRow.id == AssessmentMethodRow.method_id)
                     .where(AssessmentMethodRow.assessment_id == prev.id)
                     .order_by(AssessmentMethodRow.position)).all()
    failed, passed = [], {}
    for am, key in rows:
        grade = am.confirmed_grade or am.grade
        scheme = rules.methods.get(key)
        if grade is None or scheme is None:
            continue
        if grade == scheme.fail_grade:
            failed.append(key)
        else:
            passed[key] = (am.carried_from_id or am.id, grade)
    return failed, passed


# --------------------------------------------------------------------------- during a method


def ask(engine: Engine, am_id: int, question: str) -> int:
    """Mark a drawn question as asked (idempotent); returns the ask id."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id)
        item = s.execute(select(DrawItemRow, QuestionRow.id)
                         .join(QuestionRow, QuestionRow.id == DrawItemRow.question_id)
                         .where(DrawItemRow.draw_id == am.draw_id, DrawItemRow.active.is_(True),
                                QuestionRow.code == question)).first()
        if item is None:
            raise SessionError(f"{question} is not in this method's set")
        existing = s.execute(select(AskRow).where(AskRow.assessment_method_id == am_id,
                                                  AskRow.question_id == item[1])).scalars().first()
        if existing is not None:
            if existing.status == "skipped":
                existing.status = "asked"
                existing.updated_at = utcnow()
            return existing.id
        row = AskRow(assessment_method_id=am_id, question_id=item[1], question_version_id=item[0].question_version_id,
                     position=_next_position(s, am_id))
        _start_timer(am)
        s.add(row)
        s.flush()
        return row.id


def add_adhoc(engine: Engine, am_id: int, text: str, outcomes: list[str]) -> int:
    """Record a question the assessor asked in their own words, tagged with outcomes."""
    text = " ".join(text.split())
    if not text:
        raise SessionError("the ad-hoc question is empty: type the question as asked")
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id)
        method = _method_def(s, am)
        bad = [o for o in outcomes if o not in method.assesses]
        if not outcomes:
            raise SessionError("tag the ad-hoc question with at least one outcome it targets")
        if bad:
            raise SessionError(f"{', '.join(bad)} not assessed by {method.id} (it assesses {', '.join(method.assesses)})")
        row = AskRow(assessment_method_id=am_id, adhoc_text=text, adhoc_outcomes_json=json.dumps(list(outcomes)),
                     position=_next_position(s, am_id))
        _start_timer(am)
        s.add(row)
        s.flush()
        return row.id


def set_notes(engine: Engine, ask_id: int, notes: str) -> None:
    with Session(engine) as s, s.begin():
        row = s.get(AskRow, ask_id)
        if row is None:
            raise SessionError(f"no ask {ask_id}")
        _open_method(s, row.assessment_method_id)
        if row.notes != notes:
            row.notes = notes
            row.updated_at = utcnow()


def skip(engine: Engine, am_id: int, question: str) -> int:
    """Record that a drawn question was deliberately not asked (for standardisation)."""
    ask_id = ask(engine, am_id, question)
    with Session(engine) as s, s.begin():
        row = s.get(AskRow, ask_id)
        row.status = "skipped"
        row.updated_at = utcnow()
    return ask_id


def swap_question(engine: Engine, am_id: int, question: str, reason: str) -> str:
    """Swap a drawn question not yet asked for another keeping every constraint; returns the new id."""
    with Session(engine) as s:
        am = _open_method(s, am_id)
        asked = s.execute(select(AskRow.id).join(QuestionRow, QuestionRow.id == AskRow.question_id)
                          .where(AskRow.assessment_method_id == am_id, QuestionRow.code == question,
                                 AskRow.status == "asked")).first()
        if asked is not None:
            raise SessionError(f"{question} has already been asked; only questions not yet asked can be swapped")
        draw_id = am.draw_id
    try:
        return swap(engine, draw_id, question, reason).in_id
    except DrawError as e:
        raise SessionError(str(e)) from None


def log_evidence(engine: Engine, am_id: int, level: str, *, criterion: str | None = None,
                 outcomes: list[str] | None = None, note: str = "", ask_id: int | None = None) -> int:
    """Log that the answers evidenced a criterion (or some of its outcomes) at a level."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id)
        method = _method_def(s, am)
        scheme = _scheme(s, am, method.id)
        crit_id, outs = resolve_criterion(method, scheme, criterion, outcomes)
        levels = scheme.levels if scheme else DEFAULT_LEVELS
        if level not in levels:
            raise SessionError(f"level '{level}' is not one of {', '.join(levels)}")
        if ask_id is not None:
            a = s.get(AskRow, ask_id)
            if a is None or a.assessment_method_id != am_id:
                raise SessionError(f"ask {ask_id} does not belong to this method")
        row = EvidenceRow(assessment_method_id=am_id, ask_id=ask_id, criterion=crit_id, outcomes_json=json.dumps(outs),
                          level=level, note=note.strip())
        _start_timer(am)
        s.add(row)
        s.flush()
        return row.id


def resolve_criterion(method: Method, scheme: MethodScheme | None, criterion: str | None,
                      outcomes: list[str] | None) -> tuple[str, list[str]]:
    """Which criterion and outcomes an evidence entry is for: a named criterion (all its outcomes,
    or the named subset), or the one criterion that holds every named outcome."""
    outcomes = list(outcomes or [])
    bad = [o for o in outcomes if o not in method.assesses]
    if bad:
        raise SessionError(f"{', '.join(bad)} not assessed by {method.id}")
    if scheme is None:  # no grading rules: evidence is logged per outcome
        if criterion and criterion not in method.assesses:
            raise SessionError(f"{method.id} has no grading rules; log evidence against its outcomes")
        outs = outcomes or [criterion]
        if not outs or outs == [None]:
            raise SessionError("name the outcome the answer evidenced")
        return outs[0], outs
    if criterion:
        c = scheme.criterion(criterion)
        if c is None:
            raise SessionError(f"{method.id} has no criterion '{criterion}' "
                               f"(criteria: {', '.join(x.id for x in scheme.criteria)})")
        stray = [o for o in outcomes if o not in c.outcomes]
        if stray:
            raise SessionError(f"criterion {c.id} does not cover {', '.join(stray)} (it covers {', '.join(c.outcomes)})")
        return c.id, outcomes or list(c.outcomes)
    if not outcomes:
        raise SessionError("name the criterion or the outcomes the answer evidenced")
    matches = [c for c in scheme.criteria if all(o in c.outcomes for o in outcomes)]
    if not matches:
        raise SessionError(f"no single criterion covers {', '.join(outcomes)}; log them separately")
    if len(matches) > 1:
        raise SessionError(f"{', '.join(outcomes)} belong to criteria {', '.join(c.id for c in matches)}; "
                           "name the criterion")
    return matches[0].id, outcomes


def retract_evidence(engine: Engine, evidence_id: int) -> None:
    with Session(engine) as s, s.begin():
        row = s.get(EvidenceRow, evidence_id)
        if row is None:
            raise SessionError(f"no evidence entry {evidence_id}")
        _open_method(s, row.assessment_method_id)
        if row.retracted_at is None:
            row.retracted_at = utcnow()


def set_mark(engine: Engine, am_id: int, criterion: str, *, mark: float | None = None, strengths: str | None = None,
             improvements: str | None = None, clear_mark: bool = False) -> None:
    """Record a criterion's mark (marks / weighted schemes) and/or its strengths and areas for improvement."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id)
        method = _method_def(s, am)
        scheme = _scheme(s, am, method.id)
        c = scheme.criterion(criterion) if scheme else None
        if c is None:
            known = ", ".join(x.id for x in scheme.criteria) if scheme else "none: the method has no grading rules"
            raise SessionError(f"{method.id} has no criterion '{criterion}' (criteria: {known})")
        if mark is not None:
            if scheme.scheme == "descriptors":
                raise SessionError(f"{method.id} is graded by descriptors, not marks: log evidence at a level")
            top = c.max if scheme.scheme == "marks" else 100
            if not 0 <= mark <= top:
                unit = "" if scheme.scheme == "marks" else "%"
                raise SessionError(f"mark for {c.id} must be from 0 to {top:g}{unit}, not {mark:g}")
        row = s.execute(select(CriterionMarkRow).where(CriterionMarkRow.assessment_method_id == am_id,
                                                       CriterionMarkRow.criterion == c.id)).scalars().first()
        if row is None:
            row = CriterionMarkRow(assessment_method_id=am_id, criterion=c.id)
            s.add(row)
        if mark is not None or clear_mark:
            row.mark = None if clear_mark else float(mark)
        if strengths is not None:
            row.strengths = strengths.strip()
        if improvements is not None:
            row.improvements = improvements.strip()
        row.updated_at = utcnow()


def set_method_feedback(engine: Engine, am_id: int, *, strengths: str | None = None,
                        improvements: str | None = None) -> None:
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id)
        if strengths is not None:
            am.strengths = strengths.strip()
        if improvements is not None:
            am.improvements = improvements.strip()


def set_elapsed(engine: Engine, am_id: int, seconds: float) -> None:
    """Store the method's timer (paused time excluded), so a restart resumes it."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id)
        am.elapsed_seconds = max(0.0, float(seconds))
        _start_timer(am)


def set_ui_state(engine: Engine, assessment_id: int, state: dict) -> None:
    with Session(engine) as s, s.begin():
        a = s.get(AssessmentRow, assessment_id)
        if a is None:
            raise SessionError(f"no assessment {assessment_id}")
        a.ui_json = json.dumps(state, sort_keys=True)


# --------------------------------------------------------------------------- end of a method, end of assessment


def end_method(engine: Engine, am_id: int) -> MethodResult | None:
    """Close the method: the engine's grade and rule are stored for the assessor to confirm."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id)
        view = _method_view(s, am, _assessment_rules(s, am.assessment_id))
        am.status = "ended"
        am.ended_at = utcnow()
        if view.result is not None:
            am.grade = view.result.grade
            am.rule_text = view.result.rule_text
        return view.result


def confirm_grade(engine: Engine, am_id: int, grade: str | None = None, disagreement: str = "") -> str:
    """The assessor confirms the computed grade, or gives another with the reason they disagree."""
    with Session(engine) as s, s.begin():
        am = s.get(AssessmentMethodRow, am_id)
        if am is None:
            raise SessionError(f"no method record {am_id}")
        _open_assessment(s, am.assessment_id)
        if am.status != "ended":
            raise SessionError("end the method before confirming its grade")
        method = _method_def(s, am)
        scheme = _scheme(s, am, method.id)
        grade = grade or am.grade
        if grade is None:
            raise SessionError(f"{method.id} has no grading rules: give the grade to record")
        if scheme and grade not in scheme.grades:
            raise SessionError(f"'{grade}' is not a grade of {method.id} ({', '.join(scheme.grades)})")
        if am.grade is not None and grade != am.grade and not disagreement.strip():
            raise SessionError(f"the rules give {am.grade}; to record {grade} instead, give the reason you disagree")
        am.confirmed_grade = grade
        am.disagreement = disagreement.strip() if grade != am.grade else ""
        return grade


def reopen_method(engine: Engine, am_id: int) -> None:
    with Session(engine) as s, s.begin():
        am = s.get(AssessmentMethodRow, am_id)
        if am is None:
            raise SessionError(f"no method record {am_id}")
        _open_assessment(s, am.assessment_id)
        if am.status == "carried":
            raise SessionError("a carried-over grade cannot be reopened")
        am.status = "running" if am.started_at else "pending"
        am.ended_at = None
        am.grade = am.confirmed_grade = None
        am.rule_text = am.disagreement = ""


def record_override(engine: Engine, assessment_id: int, by: str, reason: str) -> None:
    """Lift the resit/retake cap: an exceptional-circumstances decision, with who made it and why."""
    if not by.strip() or not reason.strip():
        raise SessionError("an override needs who made the decision and the reason")
    with Session(engine) as s, s.begin():
        a = _open_assessment(s, assessment_id)
        if a.attempt == "first":
            raise SessionError("there is no cap to lift on a first attempt")
        a.override_by, a.override_reason, a.override_at = by.strip(), reason.strip(), utcnow()


def complete(engine: Engine, assessment_id: int) -> list[OverallResult]:
    """Finish the assessment once every method has a confirmed grade; the overall grades are stored."""
    view = load(engine, assessment_id)
    if view.status == "complete":
        raise SessionError(f"assessment {assessment_id} is already complete")
    waiting = [m.method.id for m in view.methods if m.status != "carried" and m.confirmed_grade is None]
    if waiting:
        raise SessionError("confirm the grade of " + ", ".join(waiting) + " before completing the assessment")
    with Session(engine) as s, s.begin():
        a = _open_assessment(s, assessment_id)
        a.status = "complete"
        a.completed_at = utcnow()
        a.overall_json = json.dumps([{"id": o.id, "grade": o.grade, "table_grade": o.table_grade, "capped": o.capped,
                                      "explanation": o.explanation} for o in view.overall])
    return view.overall


# --------------------------------------------------------------------------- reading


def load(engine: Engine, assessment_id: int) -> AssessmentView:
    with Session(engine) as s:
        a = s.get(AssessmentRow, assessment_id)
        if a is None:
            raise SessionError(f"no assessment {assessment_id} in the store")
        std = s.get(StandardRow, a.standard_id)
        rel = s.get(ReleaseRow, a.release_id)
        appr = s.get(ApprenticeRow, a.apprentice_id)
        rules = _rules(rel.id, rel.definition_json)
        definition = json.loads(rel.definition_json)
        rows = s.execute(select(AssessmentMethodRow).where(AssessmentMethodRow.assessment_id == a.id)
                         .order_by(AssessmentMethodRow.position)).scalars().all()
        methods = [_method_view(s, am, rules) for am in rows]
        override = Override(by=a.override_by, reason=a.override_reason) if a.override_by else None
        grades = {m.method.id: m.grade for m in methods if m.grade}
        overall = []
        present = {m.method.id for m in methods}
        for o in rules.overalls:
            if set(o.methods) <= present:
                try:
                    overall.append(grade_overall(o, grades, a.attempt, override))
                except GradingError as e:  # a grade outside the table (cannot happen with validated rules)
                    raise SessionError(str(e)) from None
        return AssessmentView(
            id=a.id, standard=std.code, standard_title=definition.get("title", std.title), release=rel.semver,
            apprentice=appr.ref, assessor=a.assessor, attempt=a.attempt, cohort=a.cohort,
            extra_time_pct=a.extra_time_pct, adjustments=a.adjustments, status=a.status, created_at=a.created_at,
            completed_at=a.completed_at, previous_id=a.previous_id, override=override, override_at=a.override_at,
            methods=methods, overall=overall,
            outcome_titles={o["code"]: o["title"] for o in definition.get("outcomes", [])}, rules=rules,
            ui=json.loads(a.ui_json or "{}"))


@dataclass
class StandardChoice:
    code: str
    title: str
    release: str
    methods: list[tuple[str, str]]  # (id, name)
    default_methods: list[str]


def standards(engine: Engine) -> list[StandardChoice]:
    """What an assessment can be started on: each imported standard at its latest release."""
    out = []
    with Session(engine) as s:
        for std in s.execute(select(StandardRow).order_by(StandardRow.code)).scalars():
            try:
                _, _, rel = _resolve_release(s, std.code, None)
            except SessionError:
                continue
            d = json.loads(rel.definition_json)
            rules = _rules(rel.id, rel.definition_json)
            methods = {m["id"]: m for m in d["methods"]}
            out.append(StandardChoice(code=std.code, title=d.get("title", std.title), release=rel.semver,
                                      methods=[(m["id"], m["name"]) for m in d["methods"]],
                                      default_methods=_default_methods(rules, methods)))
    return out


def unfinished(engine: Engine, assessor: str | None = None) -> list[dict]:
    """Open assessments, newest first: what an assessor can resume."""
    with Session(engine) as s:
        q = (select(AssessmentRow, StandardRow.code, ApprenticeRow.ref)
             .join(StandardRow, StandardRow.id == AssessmentRow.standard_id)
             .join(ApprenticeRow, ApprenticeRow.id == AssessmentRow.apprentice_id)
             .where(AssessmentRow.status == "open"))
        if assessor:
            q = q.where(AssessmentRow.assessor == assessor)
        return [{"id": a.id, "standard": code, "apprentice": ref, "assessor": a.assessor, "attempt": a.attempt,
                 "created_at": a.created_at} for a, code, ref in s.execute(q.order_by(AssessmentRow.id.desc())).all()]


def _method_view(s: Session, am: AssessmentMethodRow, rules: GradingRules) -> MethodView:
    method = _method_def(s, am)
    scheme = rules.methods.get(method.id)
    questions: list[QuestionView] = []
    swaps: list[SwapView] = []
    budget = method.minutes
    asks = s.execute(select(AskRow, QuestionRow.code).outerjoin(QuestionRow, QuestionRow.id == AskRow.question_id)
                     .where(AskRow.assessment_method_id == am.id).order_by(AskRow.position)).all()
    by_code = {code: a for a, code in asks if code}
    if am.draw_id is not None:
        d = load_draw(s.get_bind(), am.draw_id)
        budget = d.budget_minutes
        for q in d.questions:
            a = by_code.get(q.id)
            questions.append(QuestionView(code=q.id, version=q.version, text=q.text, outcomes=q.outcomes,
                                          minutes=q.minutes, probes=q.probes, guidance=q.guidance, topic=q.topic,
                                          position=q.position, ask_id=a.id if a else None,
                                          status=a.status if a else "planned", notes=a.notes if a else "",
                                          asked_at=a.asked_at if a else None))
        drawn = {q.code for q in questions}
        for a, code in asks:  # asked, then swapped out (kept: the record shows what was asked)
            if code and code not in drawn:
                qv = s.get(QuestionVersionRow, a.question_version_id)
                questions.append(QuestionView(code=code, version=qv.version, text=qv.text, outcomes=[],
                                              ask_id=a.id, status=a.status, notes=a.notes, asked_at=a.asked_at))
        out_item = DrawItemRow.__table__.alias("o")
        in_item = DrawItemRow.__table__.alias("i")
        qo = QuestionRow.__table__.alias("qo")
        qi = QuestionRow.__table__.alias("qi")
        for reason, created, out_code, in_code in s.execute(
                select(DrawSwapRow.reason, DrawSwapRow.created_at, qo.c.code, qi.c.code)
                .join(out_item, out_item.c.id == DrawSwapRow.out_item_id).join(qo, qo.c.id == out_item.c.question_id)
                .join(in_item, in_item.c.id == DrawSwapRow.in_item_id).join(qi, qi.c.id == in_item.c.question_id)
                .where(DrawSwapRow.draw_id == am.draw_id).order_by(DrawSwapRow.id)).all():
            swaps.append(SwapView(out_code=out_code, in_code=in_code, reason=reason, created_at=created))
    for a, code in asks:
        if a.adhoc_text is not None:
            questions.append(QuestionView(code=None, version=None, text=a.adhoc_text,
                                          outcomes=json.loads(a.adhoc_outcomes_json), position=a.position,
                                          ask_id=a.id, status=a.status, notes=a.notes, asked_at=a.asked_at,
                                          adhoc=True))
    evidence = [EvidenceView(id=e.id, criterion=e.criterion, outcomes=json.loads(e.outcomes_json), level=e.level,
                             note=e.note, ask_id=e.ask_id, created_at=e.created_at, retracted=e.retracted_at is not None)
                for e in s.execute(select(EvidenceRow).where(EvidenceRow.assessment_method_id == am.id)
                                   .order_by(EvidenceRow.id)).scalars()]
    marks = {m.criterion: MarkView(criterion=m.criterion, mark=m.mark, strengths=m.strengths,
                                   improvements=m.improvements)
             for m in s.execute(select(CriterionMarkRow).where(CriterionMarkRow.assessment_method_id == am.id))
             .scalars()}
    live = [e for e in evidence if not e.retracted]
    result = None
    if am.status == "carried":
        olevels, unc = {}, []
    elif scheme is not None:
        olevels = outcome_levels(scheme, ((e.outcomes, e.level) for e in live))
        unc = uncovered(method.assesses, olevels, scheme)
        clevels = criterion_levels(scheme, ((e.criterion, e.level) for e in live))
        result = grade_method(scheme, clevels, {k: m.mark for k, m in marks.items() if m.mark is not None})
    else:
        olevels = {}
        for e in live:
            for o in e.outcomes:
                if DEFAULT_LEVELS.index(e.level) >= DEFAULT_LEVELS.index(olevels.get(o, DEFAULT_LEVELS[0])):
                    olevels[o] = e.level
        unc = [o for o in method.assesses if olevels.get(o, DEFAULT_LEVELS[0]) == DEFAULT_LEVELS[0]]
    carried_from = None
    if am.carried_from_id:
        src = s.get(AssessmentMethodRow, am.carried_from_id)
        carried_from = src.assessment_id if src else None
    return MethodView(
        id=am.id, method=method, scheme=scheme, status=am.status, position=am.position, draw_id=am.draw_id,
        budget_minutes=budget, elapsed_seconds=am.elapsed_seconds, started_at=am.started_at, ended_at=am.ended_at,
        questions=questions, swaps=swaps, evidence=evidence, marks=marks, outcome_levels=olevels, uncovered=unc,
        result=result, grade=am.confirmed_grade or am.grade, computed_grade=am.grade,
        confirmed_grade=am.confirmed_grade, disagreement=am.disagreement,
        rule_text=am.rule_text or (result.rule_text if result else ""), carried_from=carried_from)


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=64)
def _rules(release_id: int, definition_json: str) -> GradingRules:
    return rules_from_definition(json.loads(definition_json))


def _assessment_rules(s: Session, assessment_id: int) -> GradingRules:
    a = s.get(AssessmentRow, assessment_id)
    rel = s.get(ReleaseRow, a.release_id)
    return _rules(rel.id, rel.definition_json)


def _resolve_release(s: Session, standard: str, release: str | None):
    try:
        std, rel = resolve_release(s, standard, release)
    except DrawError as e:
        raise SessionError(str(e)) from None
    return std, None, rel


def _method_row(s: Session, standard_id: int, key: str) -> MethodRow:
    row = s.execute(select(MethodRow).where(MethodRow.standard_id == standard_id, MethodRow.key == key)).scalars().first()
    if row is None:
        raise SessionError(f"method {key} is not in the store; run `qbank import banks`")
    return row


def _method_def(s: Session, am: AssessmentMethodRow) -> Method:
    """The method as the assessment's release defined it."""
    a = s.get(AssessmentRow, am.assessment_id)
    rel = s.get(ReleaseRow, a.release_id)
    key = s.get(MethodRow, am.method_id).key
    for m in json.loads(rel.definition_json)["methods"]:
        if m["id"] == key:
            return Method(id=m["id"], name=m["name"], kind=m["kind"], minutes=m["minutes"],
                          min_questions=m["min_questions"], assesses=tuple(m["assesses"]))
    raise SessionError(f"release {rel.semver} has no method {key}")


def _scheme(s: Session, am: AssessmentMethodRow, key: str) -> MethodScheme | None:
    return _assessment_rules(s, am.assessment_id).methods.get(key)


def _open_assessment(s: Session, assessment_id: int) -> AssessmentRow:
    a = s.get(AssessmentRow, assessment_id)
    if a is None:
        raise SessionError(f"no assessment {assessment_id} in the store")
    if a.status == "complete":
        raise SessionError(f"assessment {assessment_id} is complete; its record can no longer change")
    return a


def _open_method(s: Session, am_id: int) -> AssessmentMethodRow:
    am = s.get(AssessmentMethodRow, am_id)
    if am is None:
        raise SessionError(f"no method record {am_id}")
    _open_assessment(s, am.assessment_id)
    if am.status == "carried":
        raise SessionError("this method's grade was carried over from an earlier attempt; it is not re-assessed")
    if am.status == "ended":
        raise SessionError("this method has ended; reopen it to change its record")
    return am


def _start_timer(am: AssessmentMethodRow) -> None:
    if am.status == "pending":
        am.status = "running"
        am.started_at = utcnow()


def _next_position(s: Session, am_id: int) -> int:
    return (s.execute(select(func.max(AskRow.position)).where(AskRow.assessment_method_id == am_id)).scalar() or 0) + 1
