"""Ending a method and completing the assessment, each one transaction, its checks and writes together.

Ending a method stores the grading engine's grade and the rule that gave it (ending it short
needs the assessor's reason); the assessor confirms that grade or records another with the
reason they disagree; the grade of a report marked on a mark sheet (a method with report formats,
ILM) is confirmed only once the learner's authenticity confirmation is recorded (`declarations`).
Completing the assessment needs every method's grade confirmed and stores the overall grades.
`sessions` re-exports all of it.
"""

from __future__ import annotations

import json

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from . import roles
from .assessment_view import read_assessment, read_method
from .declarations import Declarations, authenticity_refusal
from .grading import MethodResult, OverallResult
from .models import AssessmentMethodRow, AssessmentRow, utcnow
from .session_guards import (
    SessionError,
    lock_assessment,
    method_and_scheme,
    require_open_assessment,
    require_open_method,
)
from .text_input import clean
from .views import MethodView


def end_warnings(m: MethodView, elapsed_seconds: float | None = None) -> list[str]:
    """Why ending the method now would be ending it short (empty: it is not): fewer questions asked
    than the method's minimum, or under half its time used (`elapsed_seconds`, default the stored
    timer). A method whose questioning is the assessor's option (minimum 0: ILM's report) never
    ends short: its minutes are the time allowed for questions, not a time to use. Pure."""
    if m.status == "carried" or m.method.questions_optional:
        return []
    out = []
    asked = sum(1 for q in m.questions if q.status == "asked")
    if asked < m.method.min_questions:
        out.append(
            f"{asked} question{'' if asked == 1 else 's'} asked; the method's minimum is {m.method.min_questions}"
        )
    elapsed = m.elapsed_seconds if elapsed_seconds is None else elapsed_seconds
    if m.budget_minutes and elapsed < m.budget_minutes * 60 / 2:
        out.append(f"{int(elapsed // 60)} of {m.budget_minutes} minutes used")
    return out


def end_method(
    engine: Engine, am_id: int, reason: str = "", *, elapsed_seconds: float | None = None
) -> MethodResult | None:
    """Close the method: the engine's grade and rule are stored for the assessor to confirm.

    Ending short (see `end_warnings`) needs the assessor's reason; it is stored with the warnings.
    `elapsed_seconds`, when given, is stored as the timer first. The method is read, graded and
    closed in one transaction, with the assessment locked first."""
    reason = clean(reason, "reason", what="reason for ending early").strip()
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id, lock=True)
        if elapsed_seconds is not None:
            am.elapsed_seconds = max(0.0, float(elapsed_seconds))
        view = read_method(s, am)
        warnings = end_warnings(view)
        if warnings and not reason:
            raise SessionError(
                f"ending {view.method.id} short: {'; '.join(warnings)}. Give the reason for ending "
                "it now (it is kept in the record)"
            )
        am.status = "ended"
        am.ended_at = utcnow()
        am.end_reason = reason
        am.end_warnings = "; ".join(warnings)
        if view.result is not None:
            am.grade = view.result.grade
            am.rule_text = view.result.rule_text
        return view.result


def confirm_grade(engine: Engine, am_id: int, grade: str | None = None, disagreement: str = "") -> str:
    """The assessor confirms the computed grade, or gives another with the reason they disagree."""
    disagreement = clean(disagreement, "disagreement")
    with Session(engine) as s, s.begin():
        am = s.get(AssessmentMethodRow, am_id)
        if am is None:
            raise SessionError(f"no method record {am_id}")
        require_open_assessment(s, am.assessment_id)
        if am.status != "ended":
            raise SessionError("end the method before confirming its grade")
        method, scheme = method_and_scheme(s, am)
        if method.report_formats:  # a report marked on a mark sheet: the learner vouches for it first
            declarations = Declarations.from_json(s.get_one(AssessmentRow, am.assessment_id).declarations_json)
            refusal = authenticity_refusal(method.id, declarations)
            if refusal:
                raise SessionError(refusal)
        if scheme is not None and scheme.scheme in ("marks", "weighted"):
            result = read_method(s, am).result
            if result is not None and not result.complete:
                unmarked = [c.id for c in result.criteria if c.mark is None]
                raise SessionError(
                    f"{method.id} is incomplete: no mark for {', '.join(unmarked)}. Record every "
                    "component's mark (reopen the method), then confirm the grade"
                )
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
        require_open_assessment(s, am.assessment_id)
        if am.status == "carried":
            raise SessionError("a carried-over grade cannot be reopened")
        am.status = "running" if am.started_at else "pending"
        am.ended_at = None
        am.grade = am.confirmed_grade = None
        am.rule_text = am.disagreement = am.end_reason = am.end_warnings = ""


def record_override(engine: Engine, assessment_id: int, by: str, reason: str) -> None:
    """Lift the resit/retake cap: an exceptional-circumstances decision, with who made it and why."""
    by = clean(by, "name", what="name of who decided")
    reason = clean(reason, "reason", what="override reason")
    if not by.strip() or not reason.strip():
        raise SessionError("an override needs who made the decision and the reason")
    with Session(engine) as s, s.begin():
        a = require_open_assessment(s, assessment_id)
        if a.attempt == "first":
            raise SessionError("there is no cap to lift on a first attempt")
        a.override_by, a.override_reason, a.override_at = by.strip(), reason.strip(), utcnow()


def complete(engine: Engine, assessment_id: int) -> list[OverallResult]:
    """Finish the assessment once every method has a confirmed grade; the overall grades are stored.
    Checked and stored in one transaction, with the assessment locked first."""
    with Session(engine) as s, s.begin():
        a = lock_assessment(s, assessment_id)
        roles.check_owner(s, a.owner, f"assessment {assessment_id}")
        view = read_assessment(s, assessment_id)
        if view.status == "complete":
            raise SessionError(f"assessment {assessment_id} is already complete")
        if view.status == "void":
            raise SessionError(f"assessment {assessment_id} was voided; it cannot be completed")
        waiting = [m.method.id for m in view.methods if m.status != "carried" and m.confirmed_grade is None]
        if waiting:
            raise SessionError("confirm the grade of " + ", ".join(waiting) + " before completing the assessment")
        a.status = "complete"
        a.completed_at = utcnow()
        a.overall_json = json.dumps(
            [
                {
                    "id": o.id,
                    "grade": o.grade,
                    "table_grade": o.table_grade,
                    "capped": o.capped,
                    "explanation": o.explanation,
                }
                for o in view.overall
            ]
        )
    return view.overall
