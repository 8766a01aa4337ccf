"""Recording a method while it runs: each command is one short transaction, so whatever returned
has been stored.

The assessor asks drawn questions (or their own, ad hoc, tagged with outcomes), types notes,
skips a question with the reason (undone while the method runs), swaps one not yet asked (the
swap can be undone while the question it brought in is unasked), logs evidence per criterion at a
level (retracted with a reason, never deleted), and records marks, strengths and areas for
improvement. The first thing recorded starts the method's timer. A method whose questioning is
the assessor's option (ILM's report: questions after an oral report) has no set until the
assessor asks for one (`draw_questions`). `sessions` re-exports all of it.

Text typed by the assessor goes through `text_input.clean` here, at the service boundary: control
characters removed, each field's length limit enforced.

Two people may have one assessment open (an assessor and a second assessor, two browser tabs).
What is overwritten in place (an answer's notes; a criterion's mark, strengths and areas for
improvement; a method's strengths and areas for improvement) is written compare-and-set when the
caller says what it last read (`previous=`): each field the caller changed is written only if the
store still holds what the caller read (or already holds the caller's value); a field the caller
did not change is left as it is, whoever changed it. Otherwise nothing is written and
`EditConflict` carries both texts (and when the other change was stored, when known), so the
caller can show them and nothing is lost. The check and the write run with the assessment
locked (`require_open_method(lock=True)`), so two writers cannot both pass it. Appends (asks,
evidence, skips) need no such check. Without `previous` a write overwrites, as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlmodel import col

from .definition import Method
from .draws import DrawError, DrawRequest, draw_in, swap_in, undo_swap_in, with_retries
from .grading import DEFAULT_LEVELS, MethodScheme
from .models import (
    ApprenticeRow,
    AskRow,
    AssessmentMethodRow,
    AssessmentRow,
    AuditEventRow,
    CriterionMarkRow,
    DrawItemRow,
    EvidenceRow,
    QuestionRow,
    ReleaseRow,
    StandardRow,
    utcnow,
)
from .session_guards import SessionError, method_and_scheme, method_of, require_open_method, start_timer
from .text_input import clean, strip_controls

# --------------------------------------------------------------------------- edit conflicts


@dataclass(frozen=True)
class FieldConflict:
    """One field two people changed: what the store holds now (the other person's), and what this
    writer tried to store (not written; kept here so it is not lost)."""

    field: str  # notes | mark | strengths | improvements
    stored: str | float | None
    yours: str | float | None


class EditConflict(SessionError):
    """Someone else changed what this writer was editing since it was read: nothing was written.
    `conflicts` has both values of each field; `changed_at` (UTC) is when the other change was
    stored, `by` who made it, when the store knows."""

    def __init__(
        self,
        what: str,
        conflicts: list[FieldConflict],
        *,
        changed_at: datetime | None = None,
        by: str | None = None,
    ):
        self.what = what
        self.conflicts = conflicts
        self.changed_at = changed_at
        self.by = by
        fields = ", ".join(c.field for c in conflicts)
        who = by or "someone else"
        when = f" at {changed_at:%H:%M:%S} UTC" if changed_at is not None else ""
        super().__init__(
            f"{what}: {who} changed it{when} after you read it ({fields}); nothing of yours was stored. "
            "Read it again and put your changes into it"
        )


@dataclass(frozen=True)
class CriterionState:
    """A criterion's mark, strengths and areas for improvement as an editor read them (`set_mark`'s
    `previous`)."""

    mark: float | None = None
    strengths: str = ""
    improvements: str = ""


@dataclass(frozen=True)
class FeedbackState:
    """A method's strengths and areas for improvement as an editor read them
    (`set_method_feedback`'s `previous`)."""

    strengths: str = ""
    improvements: str = ""


def _last_writer(s: Session, table: str, key: int) -> tuple[str | None, datetime | None]:
    """Who last wrote a row and when, from the audit log (`qbank.audit`): (None, None) when the log
    has no event for it or this database user may not read the log (PostgreSQL roles)."""
    try:
        row = s.execute(
            select(col(AuditEventRow.actor), col(AuditEventRow.at))
            .where(col(AuditEventRow.table_name) == table, col(AuditEventRow.row_key) == str(key))
            .order_by(col(AuditEventRow.seq).desc())
            .limit(1)
        ).first()
    except DBAPIError:  # not allowed to read the log: the conflict is still reported, without a name
        return None, None
    return (row[0], row[1]) if row is not None else (None, None)


def _three_way(field: str, stored, yours, previous, conflicts: list[FieldConflict]) -> bool:
    """Whether to write `yours` over `stored`, given what the writer read (`previous`); a change
    someone else made meanwhile that `yours` would overwrite is added to `conflicts` instead."""
    if yours == previous:  # this writer did not change it: whatever is stored stays
        return False
    if stored in (previous, yours):
        return stored != yours
    conflicts.append(FieldConflict(field, stored, yours))
    return False


def _set_item(s: Session, am: AssessmentMethodRow, question: str, step: str):
    """(draw item, question row id) of a question in the method's current set, else SessionError."""
    item = s.execute(
        select(DrawItemRow, col(QuestionRow.id))
        .join(QuestionRow, col(QuestionRow.id) == DrawItemRow.question_id)
        .where(
            col(DrawItemRow.draw_id) == am.draw_id, col(DrawItemRow.active).is_(True), col(QuestionRow.code) == question
        )
    ).first()
    if item is None:
        raise SessionError(f"{step}: {question} is not in this method's set")
    return item


def _ask_row(s: Session, am_id: int, question_id: int) -> AskRow | None:
    return (
        s.execute(
            select(AskRow).where(col(AskRow.assessment_method_id) == am_id, col(AskRow.question_id) == question_id)
        )
        .scalars()
        .first()
    )


def ask(engine: Engine, am_id: int, question: str) -> int:
    """Mark a drawn question as asked (idempotent); returns the ask id. Asking a skipped question
    undoes the skip (kept in its history)."""
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id, lock=True)
        item = _set_item(s, am, question, "asking")
        existing = _ask_row(s, am_id, item[1])
        now = utcnow()
        if existing is not None:
            if existing.status != "asked":  # skipped, or a skip undone: asked now, in this place
                if existing.status == "skipped":
                    existing.skip_undone_at = now
                existing.status = "asked"
                existing.position = _next_position(s, am_id)
                existing.asked_at = existing.updated_at = now
            return existing.id
        row = AskRow(
            assessment_method_id=am_id,
            question_id=item[1],
            question_version_id=item[0].question_version_id,
            position=_next_position(s, am_id),
            asked_at=now,
            updated_at=now,
        )
        start_timer(am)
        s.add(row)
        s.flush()
        return row.id


def draw_questions(engine: Engine, am_id: int) -> int:
    """Draw the set for a method whose questioning is the assessor's option, when the assessor
    chooses to ask questions (ILM: after an oral report); returns the draw id. The set is drawn as
    at a start (covering every outcome the method assesses, every constraint kept) and stored with
    the method in one transaction. A written report is marked without questioning: nothing is
    drawn for it. Methods whose questions are required were drawn when the assessment started."""

    def work(s: Session) -> int:
        am = require_open_method(s, am_id, lock=True)
        method = method_of(s, am)
        if am.draw_id is not None:
            raise SessionError(f"{method.id} has its drawn set already; ask from it, or add an ad-hoc question")
        if not method.questions_optional:  # cannot happen: such a method is drawn at the start
            raise SessionError(f"{method.id} was drawn when the assessment started; it has no set to draw now")
        if method.report_formats and am.report_format != "oral":
            raise SessionError(
                f"{method.id}: "
                + (
                    "a written report is marked as it stands: no questions are drawn for it"
                    if am.report_format == "written"
                    else "the report's format is not recorded"
                )
                + "; questions are the assessor's option after an oral report"
            )
        a, std, ref, rel = s.execute(
            select(AssessmentRow, col(StandardRow.code), col(ApprenticeRow.ref), ReleaseRow)
            .join(StandardRow, col(StandardRow.id) == AssessmentRow.standard_id)
            .join(ApprenticeRow, col(ApprenticeRow.id) == AssessmentRow.apprentice_id)
            .join(ReleaseRow, col(ReleaseRow.id) == AssessmentRow.release_id)
            .where(col(AssessmentRow.id) == am.assessment_id)
        ).one()
        req = DrawRequest(
            standard=std,
            method=method.id,
            apprentice=ref,
            attempt=a.attempt,
            cohort=a.cohort,
            extra_time_pct=a.extra_time_pct,
            release=rel.semver,
        )
        am.draw_id = draw_in(s, engine, req, a.apprentice_id)
        return am.draw_id

    try:
        return with_retries(engine, work)
    except DrawError as e:
        raise SessionError(str(e)) from None


def add_adhoc(engine: Engine, am_id: int, text: str, outcomes: list[str]) -> int:
    """Record a question the assessor asked in their own words, tagged with outcomes."""
    text = " ".join(clean(text, "ad-hoc question").split())
    if not text:
        raise SessionError("the ad-hoc question is empty: type the question as asked")
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id, lock=True)
        method = method_of(s, am)
        bad = [o for o in outcomes if o not in method.assesses]
        if not outcomes:
            raise SessionError("tag the ad-hoc question with at least one outcome it targets")
        if bad:
            raise SessionError(
                f"{', '.join(bad)} not assessed by {method.id} (it assesses {', '.join(method.assesses)})"
            )
        row = AskRow(
            assessment_method_id=am_id,
            adhoc_text=text,
            adhoc_outcomes_json=json.dumps(list(outcomes)),
            position=_next_position(s, am_id),
        )
        start_timer(am)
        s.add(row)
        s.flush()
        return row.id


def set_notes(engine: Engine, ask_id: int, notes: str, *, previous: str | None = None) -> None:
    """Store the notes on an answer (control characters removed; at most LIMITS["notes"]
    characters). With `previous` (the notes as the editor read them), EditConflict when someone
    else changed them since, and nothing is written."""
    notes = clean(notes, "notes")
    with Session(engine) as s, s.begin():
        row = s.get(AskRow, ask_id)
        if row is None:
            raise SessionError(f"no ask {ask_id}")
        require_open_method(s, row.assessment_method_id, lock=True)
        s.refresh(row)  # as it stands now that the assessment is locked
        if previous is not None:
            conflicts: list[FieldConflict] = []
            write = _three_way("notes", row.notes, notes, strip_controls(previous), conflicts)
            if conflicts:
                by, _at = _last_writer(s, "ask", ask_id)
                raise EditConflict("saving the notes", conflicts, changed_at=row.updated_at, by=by)
            if not write:
                return
        if row.notes != notes:
            row.notes = notes
            row.updated_at = utcnow()


def skip(engine: Engine, am_id: int, question: str, reason: str) -> int:
    """Record that a drawn question was deliberately not asked, and why (for standardisation);
    returns the ask id. `undo_skip` puts it back among the questions to ask."""
    reason = " ".join(clean(reason, "reason", what="skip reason").split())
    if not reason:
        raise SessionError(f"skipping {question}: give the reason it is not asked (it is kept for standardisation)")
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id, lock=True)
        item = _set_item(s, am, question, "skipping")
        row = _ask_row(s, am_id, item[1])
        now = utcnow()
        position = _next_position(s, am_id)
        if row is None:
            row = AskRow(
                assessment_method_id=am_id,
                question_id=item[1],
                question_version_id=item[0].question_version_id,
                position=position,
                asked_at=now,
            )
            s.add(row)
        elif row.status == "asked":
            recorded = (
                row.notes.strip()
                or s.execute(
                    select(col(EvidenceRow.id)).where(
                        col(EvidenceRow.ask_id) == row.id, col(EvidenceRow.retracted_at).is_(None)
                    )
                ).first()
            )
            if recorded:
                raise SessionError(
                    f"skipping {question}: it has been asked and its answer has notes or evidence; "
                    "a question answered cannot be skipped"
                )
        elif row.status == "skipped":  # skipped already: the reason is updated
            row.skip_reason = reason
            row.updated_at = now
            return row.id
        if row.skipped_at is not None:  # skipped before and undone: that cycle goes to the history
            row.skip_history_json = json.dumps(
                json.loads(row.skip_history_json or "[]")
                + [
                    {
                        "reason": row.skip_reason or "",
                        "skipped_at": _iso(row.skipped_at),
                        "undone_at": _iso(row.skip_undone_at),
                    }
                ]
            )
        row.position = position
        row.status = "skipped"
        row.skip_reason = reason
        row.skipped_at = now
        row.skip_undone_at = None
        row.updated_at = now
        start_timer(am)
        s.flush()
        return row.id


def undo_skip(engine: Engine, am_id: int, question: str) -> None:
    """Put a skipped question back among those still to ask, while the method runs. The skip stays
    in the record, marked undone."""
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id)
        if am.status != "running":
            raise SessionError(f"undoing the skip of {question}: the method is not running")
        code_row = s.execute(
            select(AskRow, col(DrawItemRow.id))
            .join(QuestionRow, col(QuestionRow.id) == AskRow.question_id)
            .outerjoin(
                DrawItemRow,
                (col(DrawItemRow.question_id) == AskRow.question_id)
                & (col(DrawItemRow.draw_id) == am.draw_id)
                & col(DrawItemRow.active).is_(True),
            )
            .where(col(AskRow.assessment_method_id) == am_id, col(QuestionRow.code) == question)
        ).first()
        if code_row is None or code_row[0].status != "skipped":
            raise SessionError(f"undoing the skip of {question}: it is not skipped in this method")
        if code_row[1] is None:
            raise SessionError(f"undoing the skip of {question}: it has since been swapped out of the set")
        row = code_row[0]
        row.status = "unskipped"
        row.skip_undone_at = row.updated_at = utcnow()


def swap_question(engine: Engine, am_id: int, question: str, reason: str) -> str:
    """Swap a drawn question not yet asked for another keeping every constraint; returns the new id.
    Checked and stored in one transaction (tried again if a concurrent draw took the question)."""
    reason = clean(reason, "reason", what="swap reason")

    def work(s: Session) -> str:
        am = require_open_method(s, am_id, lock=True)
        asked = s.execute(
            select(col(AskRow.id))
            .join(QuestionRow, col(QuestionRow.id) == AskRow.question_id)
            .where(
                col(AskRow.assessment_method_id) == am_id,
                col(QuestionRow.code) == question,
                col(AskRow.status) == "asked",
            )
        ).first()
        if asked is not None:
            raise SessionError(f"{question} has already been asked; only questions not yet asked can be swapped")
        if am.draw_id is None:  # questions optional, and none drawn
            raise SessionError(f"swapping {question}: this method has no drawn set")
        return swap_in(s, engine, am.draw_id, question, reason)

    try:
        return with_retries(engine, work, what="the swap")
    except DrawError as e:
        raise SessionError(str(e)) from None


def undo_swap(engine: Engine, am_id: int, question_in: str) -> str:
    """Reverse the swap that brought `question_in` into the method's set, while it has not been
    asked (or skipped) and the method has not ended: the question swapped out is back (its code is
    returned), `question_in` no longer counts against the apprentice, and the swap stays in the
    record, marked undone."""
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id, lock=True)
        if am.draw_id is None:
            raise SessionError(f"undoing the swap of {question_in}: this method has no drawn set")
        put = s.execute(
            select(col(AskRow.status))
            .join(QuestionRow, col(QuestionRow.id) == AskRow.question_id)
            .where(col(AskRow.assessment_method_id) == am_id, col(QuestionRow.code) == question_in)
        ).first()
        if put is not None:
            raise SessionError(
                f"undoing the swap of {question_in}: it has already been "
                f"{'asked' if put[0] == 'asked' else 'put to the record (skipped)'}; "
                "only a question not yet asked can be swapped back"
            )
        try:
            return undo_swap_in(s, am.draw_id, question_in)
        except DrawError as e:
            raise SessionError(f"undoing the swap of {question_in}: {e}") from None


def log_evidence(
    engine: Engine,
    am_id: int,
    level: str,
    *,
    criterion: str | None = None,
    outcomes: list[str] | None = None,
    note: str = "",
    ask_id: int | None = None,
) -> int:
    """Log that the answers evidenced a criterion (or some of its outcomes) at a level."""
    note = clean(note, "evidence note")
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id, lock=True)
        method, scheme = method_and_scheme(s, am)
        crit_id, outs = resolve_criterion(method, scheme, criterion, outcomes)
        levels = scheme.levels if scheme else DEFAULT_LEVELS
        if level not in levels:
            raise SessionError(f"level '{level}' is not one of {', '.join(levels)}")
        if ask_id is not None:
            a = s.get(AskRow, ask_id)
            if a is None or a.assessment_method_id != am_id:
                raise SessionError(f"ask {ask_id} does not belong to this method")
        row = EvidenceRow(
            assessment_method_id=am_id,
            ask_id=ask_id,
            criterion=crit_id,
            outcomes_json=json.dumps(outs),
            level=level,
            note=note.strip(),
        )
        start_timer(am)
        s.add(row)
        s.flush()
        return row.id


def resolve_criterion(
    method: Method, scheme: MethodScheme | None, criterion: str | None, outcomes: list[str] | None
) -> tuple[str, list[str]]:
    """Which criterion and outcomes an evidence entry is for: a named criterion (all its outcomes,
    or the named subset), or the one criterion that holds every named outcome."""
    outcomes = list(outcomes or [])
    bad = [o for o in outcomes if o not in method.assesses]
    if bad:
        raise SessionError(f"{', '.join(bad)} not assessed by {method.id}")
    if scheme is None:  # no grading rules: evidence is logged per outcome
        if criterion and criterion not in method.assesses:
            raise SessionError(f"{method.id} has no grading rules; log evidence against its outcomes")
        outs = outcomes or ([criterion] if criterion is not None else [])
        if not outs:
            raise SessionError("name the outcome the answer evidenced")
        return outs[0], outs
    if criterion:
        c = scheme.criterion(criterion)
        if c is None:
            raise SessionError(
                f"{method.id} has no criterion '{criterion}' (criteria: {', '.join(x.id for x in scheme.criteria)})"
            )
        stray = [o for o in outcomes if o not in c.outcomes]
        if stray:
            raise SessionError(
                f"criterion {c.id} does not cover {', '.join(stray)} (it covers {', '.join(c.outcomes)})"
            )
        return c.id, outcomes or list(c.outcomes)
    if not outcomes:
        raise SessionError("name the criterion or the outcomes the answer evidenced")
    matches = [c for c in scheme.criteria if all(o in c.outcomes for o in outcomes)]
    if not matches:
        raise SessionError(f"no single criterion covers {', '.join(outcomes)}; log them separately")
    if len(matches) > 1:
        raise SessionError(
            f"{', '.join(outcomes)} belong to criteria {', '.join(c.id for c in matches)}; name the criterion"
        )
    return matches[0].id, outcomes


def retract_evidence(engine: Engine, evidence_id: int, reason: str = "") -> None:
    """Withdraw a mistaken evidence entry: the row is kept, marked retracted (with the reason, if
    given) and no longer counts. Retracting it again only adds a reason it lacked."""
    reason = " ".join(clean(reason, "reason", what="retraction reason").split())
    with Session(engine) as s, s.begin():
        row = s.get(EvidenceRow, evidence_id)
        if row is None:
            raise SessionError(f"retracting evidence: no evidence entry {evidence_id}")
        require_open_method(s, row.assessment_method_id)
        if row.retracted_at is None:
            row.retracted_at = utcnow()
            row.retract_reason = reason or None
        elif reason and not row.retract_reason:
            row.retract_reason = reason


def set_mark(
    engine: Engine,
    am_id: int,
    criterion: str,
    *,
    mark: float | None = None,
    strengths: str | None = None,
    improvements: str | None = None,
    clear_mark: bool = False,
    previous: CriterionState | None = None,
) -> None:
    """Record a criterion's mark (marks / weighted schemes) and/or its strengths and areas for
    improvement (None: left as it is). With `previous` (the criterion as the editor read it),
    compare-and-set: EditConflict, and nothing written, when someone else changed a field this
    writer changed too."""
    if strengths is not None:
        strengths = clean(strengths, "strengths").strip()
    if improvements is not None:
        improvements = clean(improvements, "improvements").strip()
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id, lock=True)
        method, scheme = method_and_scheme(s, am)
        c = scheme.criterion(criterion) if scheme else None
        if c is None:
            known = ", ".join(x.id for x in scheme.criteria) if scheme else "none: the method has no grading rules"
            raise SessionError(f"{method.id} has no criterion '{criterion}' (criteria: {known})")
        assert scheme is not None  # the criterion came from it
        if mark is not None:
            if scheme.scheme == "descriptors":
                raise SessionError(f"{method.id} is graded by descriptors, not marks: log evidence at a level")
            top = c.max if scheme.scheme == "marks" else 100
            assert top is not None  # the rules file gives every criterion of a marks scheme its max
            if not 0 <= mark <= top:
                unit = "" if scheme.scheme == "marks" else "%"
                raise SessionError(f"mark for {c.id} must be from 0 to {top:g}{unit}, not {mark:g}")
        row = (
            s.execute(
                select(CriterionMarkRow).where(
                    col(CriterionMarkRow.assessment_method_id) == am_id, col(CriterionMarkRow.criterion) == c.id
                )
            )
            .scalars()
            .first()
        )
        new_mark = None if clear_mark or mark is None else float(mark)
        set_mark_too = mark is not None or clear_mark
        if previous is not None:
            stored = CriterionState(
                mark=row.mark if row else None,
                strengths=row.strengths if row else "",
                improvements=row.improvements if row else "",
            )
            conflicts: list[FieldConflict] = []
            set_mark_too = set_mark_too and _three_way("mark", stored.mark, new_mark, previous.mark, conflicts)
            if strengths is not None:
                before = strip_controls(previous.strengths).strip()
                if not _three_way("strengths", stored.strengths, strengths, before, conflicts):
                    strengths = None
            if improvements is not None:
                before = strip_controls(previous.improvements).strip()
                if not _three_way("improvements", stored.improvements, improvements, before, conflicts):
                    improvements = None
            if conflicts:
                by, _at = _last_writer(s, "criterion_mark", row.id) if row is not None else (None, None)
                raise EditConflict(
                    f"saving {c.id}'s marks and feedback",
                    conflicts,
                    changed_at=row.updated_at if row else None,
                    by=by,
                )
            if not set_mark_too and strengths is None and improvements is None:
                return  # nothing this writer changed
        if row is None:
            row = CriterionMarkRow(assessment_method_id=am_id, criterion=c.id)
            s.add(row)
        if am.draw_id is None:  # a method marked with no questioning (a written report): marking starts it
            start_timer(am)
        if set_mark_too:
            row.mark = new_mark
        if strengths is not None:
            row.strengths = strengths
        if improvements is not None:
            row.improvements = improvements
        row.updated_at = utcnow()


def set_method_feedback(
    engine: Engine,
    am_id: int,
    *,
    strengths: str | None = None,
    improvements: str | None = None,
    previous: FeedbackState | None = None,
) -> None:
    """The method's strengths and areas for improvement (None: left as it is). With `previous`
    (as the editor read them), compare-and-set as `set_mark`."""
    if strengths is not None:
        strengths = clean(strengths, "strengths").strip()
    if improvements is not None:
        improvements = clean(improvements, "improvements").strip()
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id, lock=True)
        s.refresh(am)  # as it stands now that the assessment is locked
        if previous is not None:
            conflicts: list[FieldConflict] = []
            if strengths is not None:
                before = strip_controls(previous.strengths).strip()
                if not _three_way("strengths", am.strengths, strengths, before, conflicts):
                    strengths = None
            if improvements is not None:
                before = strip_controls(previous.improvements).strip()
                if not _three_way("improvements", am.improvements, improvements, before, conflicts):
                    improvements = None
            if conflicts:
                by, at = _last_writer(s, "assessment_method", am_id)
                raise EditConflict("saving the method's feedback", conflicts, changed_at=at, by=by)
        if strengths is not None:
            am.strengths = strengths
        if improvements is not None:
            am.improvements = improvements


def set_elapsed(engine: Engine, am_id: int, seconds: float) -> None:
    """Store the method's timer (paused time excluded), so a restart resumes it."""
    with Session(engine) as s, s.begin():
        am = require_open_method(s, am_id)
        am.elapsed_seconds = max(0.0, float(seconds))
        start_timer(am)


def set_ui_state(engine: Engine, assessment_id: int, state: dict) -> None:
    with Session(engine) as s, s.begin():
        a = s.get(AssessmentRow, assessment_id)
        if a is None:
            raise SessionError(f"no assessment {assessment_id}")
        a.ui_json = json.dumps(state, sort_keys=True)


def _next_position(s: Session, am_id: int) -> int:
    return (
        s.execute(select(func.max(AskRow.position)).where(col(AskRow.assessment_method_id) == am_id)).scalar() or 0
    ) + 1


def _iso(d: datetime | None) -> str | None:
    return d.isoformat() if d is not None else None
