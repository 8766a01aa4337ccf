"""What every assessment command starts from: the errors it raises, the assessment's row lock, the
checks that the assessment and the method are still open, and the release they were started under."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from . import roles
from .definition import Method, ReleaseDefinition, for_release
from .grading import MethodScheme
from .models import AssessmentMethodRow, AssessmentRow, MethodRow, ReleaseRow, utcnow
from .problems import BankError


class SessionError(BankError):
    """An assessment action that cannot be done; the message says which step and why."""


class OpenAssessmentExists(SessionError):
    """The apprentice already has an open assessment on this standard: resume it, or void it."""

    def __init__(self, message: str, assessment_id: int):
        super().__init__(message)
        self.assessment_id = assessment_id


def lock_assessment(s: Session, assessment_id: int) -> AssessmentRow:
    """The assessment row, locked for the rest of the transaction: a no-op update takes the row lock
    (PostgreSQL) or the write lock (SQLite) before anything is read, so voiding and recording in it
    cannot pass each other's checks."""
    roles.lock_row(s, AssessmentRow, assessment_id)
    a = s.get(AssessmentRow, assessment_id, populate_existing=True)
    if a is None:
        raise SessionError(f"no assessment {assessment_id} in the store")
    return a


def methods_with_keys(s: Session, assessment_id: int) -> list[tuple[AssessmentMethodRow, str]]:
    """An assessment's method records with their method ids, in the assessment's order."""
    rows = s.execute(
        select(AssessmentMethodRow, col(MethodRow.key))
        .join(MethodRow, col(MethodRow.id) == AssessmentMethodRow.method_id)
        .where(col(AssessmentMethodRow.assessment_id) == assessment_id)
        .order_by(col(AssessmentMethodRow.position))
    ).all()
    return [(am, key) for am, key in rows]


def require_open_assessment(s: Session, assessment_id: int, *, lock: bool = False) -> AssessmentRow:
    """The assessment, if its record can still change (optionally locked first)."""
    a = lock_assessment(s, assessment_id) if lock else s.get(AssessmentRow, assessment_id)
    if a is None:
        raise SessionError(f"no assessment {assessment_id} in the store")
    roles.check_owner(s, a.owner, f"assessment {assessment_id}")
    if a.status == "complete":
        raise SessionError(f"assessment {assessment_id} is complete; its record can no longer change")
    if a.status == "void":
        raise SessionError(f"assessment {assessment_id} was voided; start a new assessment instead")
    return a


def require_open_method(s: Session, am_id: int, *, lock: bool = False) -> AssessmentMethodRow:
    """The method record, if it is being assessed now (not carried over, not ended) in an open assessment."""
    am = s.get(AssessmentMethodRow, am_id)
    if am is None:
        raise SessionError(f"no method record {am_id}")
    require_open_assessment(s, am.assessment_id, lock=lock)
    if am.status == "carried":
        raise SessionError("this method's grade was carried over from an earlier attempt; it is not re-assessed")
    if am.status == "ended":
        raise SessionError("this method has ended; reopen it to change its record")
    return am


def release_of(s: Session, assessment_id: int) -> tuple[ReleaseRow, ReleaseDefinition]:
    """The release the assessment was started under, and its definition."""
    a = s.get_one(AssessmentRow, assessment_id)  # get_one: callers pass a method record's assessment_id
    rel = s.get_one(ReleaseRow, a.release_id)
    return rel, for_release(rel)


def method_of(s: Session, am: AssessmentMethodRow) -> Method:
    """The method as the assessment's release defines it."""
    rel, definition = release_of(s, am.assessment_id)
    key = s.get_one(MethodRow, am.method_id).key
    method = definition.method(key)
    if method is None:
        raise SessionError(f"release {rel.semver} has no method {key}")
    return method


def method_and_scheme(s: Session, am: AssessmentMethodRow) -> tuple[Method, MethodScheme | None]:
    """The method as the assessment's release defines it, and its grading scheme (None: no rules)."""
    method = method_of(s, am)
    return method, release_of(s, am.assessment_id)[1].rules.methods.get(method.id)


def start_timer(am: AssessmentMethodRow) -> None:
    """The first thing recorded in a method starts it."""
    if am.status == "pending":
        am.status = "running"
        am.started_at = utcnow()
