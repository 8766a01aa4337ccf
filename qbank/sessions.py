"""Assessments: the live record an assessor builds, stored as it is made.

An assessment is one apprentice's attempt at some methods of a standard under one release. Each
method gets a drawn set (`draws.draw_in`, all methods in one transaction, so a failed start burns
no questions), except a method whose questioning is the assessor's option (minimum 0: ILM's
report, written or oral, whose format the start records): it gets a set only when the assessor
asks for one after an oral report (`draw_questions`), so no question is drawn, or counts against
the learner, unless wanted. Then the assessor asks questions (drawn or ad hoc), types notes, logs
evidence per criterion at a level, records marks, strengths and areas for improvement, and ends
the method: the grading engine computes the grade with its rule and the assessor confirms it or
records a justified disagreement. On a resit or retake only the methods failed before are
assessed; passed grades carry over. Every command is one transaction, its checks and its writes
together, so whatever returned has been stored.

Nothing is ever deleted. A skip keeps its reason and, when undone, when; an undone swap and a
retracted evidence entry stay in the record, marked. A start that was never used (nothing asked
or evidenced) can be voided: it is kept, marked void with who and why, and its questions return
to the apprentice's pool. An apprentice has at most one open assessment per standard.

This module starts and voids assessments; the commands while a method runs are in
`method_record`, ending methods and completing the assessment in `completion`, the read model
(`load`) in `assessment_view`, the views it builds in `views`, the learner's declarations in
`declarations`, and grading in `grading`. All of them are re-exported here: `sessions` is the
one module callers need.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from sqlmodel import col

from . import roles
from .assessment_view import completed, load, standards, unfinished
from .completion import complete, confirm_grade, end_method, end_warnings, record_override, reopen_method
from .declarations import Declaration, Declarations, record_declarations
from .defaults import ATTEMPTS
from .definition import ReleaseDefinition, for_release
from .draws import (
    DrawError,
    DrawRequest,
    check_request,
    draw_in,
    ensure_apprentice,
    resolve_release,
    void_draws,
    with_retries,
)
from .grading import GradingRules, methods_to_reassess
from .method_record import (
    CriterionState,
    EditConflict,
    FeedbackState,
    add_adhoc,
    ask,
    draw_questions,
    log_evidence,
    resolve_criterion,
    retract_evidence,
    set_elapsed,
    set_mark,
    set_method_feedback,
    set_notes,
    set_ui_state,
    skip,
    swap_question,
    undo_skip,
    undo_swap,
)
from .models import (
    ApprenticeRow,
    AskRow,
    AssessmentMethodRow,
    AssessmentRow,
    CriterionMarkRow,
    EvidenceRow,
    MethodRow,
    ReleaseRow,
    StandardRow,
    utcnow,
)
from .session_guards import (
    OpenAssessmentExists,
    SessionError,
    lock_assessment,
    methods_with_keys,
)
from .text_input import clean
from .views import AssessmentView, EvidenceView, MarkView, MethodView, QuestionView, StandardChoice, SwapView

__all__ = [
    "AssessmentView",
    "CriterionState",
    "EditConflict",
    "FeedbackState",
    "Declaration",
    "Declarations",
    "EvidenceView",
    "MarkView",
    "MethodView",
    "OpenAssessmentExists",
    "QuestionView",
    "SessionError",
    "StandardChoice",
    "StartRequest",
    "SwapView",
    "add_adhoc",
    "ask",
    "complete",
    "completed",
    "confirm_grade",
    "draw_questions",
    "end_method",
    "end_warnings",
    "load",
    "log_evidence",
    "open_assessment_for",
    "previous_adjustments",
    "record_declarations",
    "record_override",
    "reopen_method",
    "resolve_criterion",
    "retract_evidence",
    "set_elapsed",
    "set_mark",
    "set_method_feedback",
    "set_notes",
    "set_ui_state",
    "skip",
    "standards",
    "start_assessment",
    "swap_question",
    "undo_skip",
    "undo_swap",
    "unfinished",
    "void_assessment",
]


# --------------------------------------------------------------------------- start


@dataclass(frozen=True)
class StartRequest:
    standard: str
    apprentice: str
    assessor: str
    methods: tuple[str, ...] = ()  # empty: first attempt = the methods of the first overall grade; resit = failed ones
    attempt: str = "first"
    cohort: str = ""
    # None: carried over from the apprentice's previous (latest non-void) assessment on this standard,
    # else 0 / "" (see previous_adjustments)
    extra_time_pct: int | None = None
    adjustments: str | None = None
    release: str | None = None
    previous: int | None = None  # resit/retake: the earlier assessment (default: the latest complete one)
    # how the learner presented the report, for the methods assessed whose report may take more than
    # one format (ILM: "written" or "oral"); required when such a method is assessed, unless it has one
    report_format: str | None = None


def start_assessment(engine: Engine, req: StartRequest) -> int:
    """Create the assessment and draw every method's set in one transaction; returns its id.

    Raises OpenAssessmentExists when the apprentice already has an open assessment on the standard."""
    if req.attempt not in ATTEMPTS:
        raise SessionError(f"attempt must be one of {', '.join(ATTEMPTS)}, not '{req.attempt}'")
    if not req.assessor.strip():
        raise SessionError("the assessor's name is empty: say who is assessing")
    assessor = clean(req.assessor, "name", what="assessor's name").strip()
    cohort = clean(req.cohort, "name", what="cohort").strip()
    try:
        check_request(
            DrawRequest(
                standard=req.standard,
                method="-",
                apprentice=req.apprentice,
                attempt=req.attempt,
                extra_time_pct=req.extra_time_pct or 0,
            )
        )
        apprentice_id = ensure_apprentice(engine, req.apprentice)
    except DrawError as e:
        raise SessionError(str(e)) from None

    def work(s: Session) -> int:
        std, rel = _resolve_release(s, req.standard, req.release)
        # one start at a time per apprentice: the no-op update locks their row (PostgreSQL) or takes
        # the write lock (SQLite) before the check, so two simultaneous starts cannot both pass it
        roles.lock_row(s, ApprenticeRow, apprentice_id)
        open_ = _open_for(s, std.id, apprentice_id)
        if open_ is not None:
            raise OpenAssessmentExists(
                f"{req.apprentice} already has an open assessment on {req.standard}: assessment {open_.id}, started "
                f"{open_.created_at:%d %b %Y %H:%M} by {open_.assessor}. Resume it, or void it if nothing was "
                "asked or evidenced in it",
                open_.id,
            )
        extra, adjustments = req.extra_time_pct, req.adjustments
        if extra is None or adjustments is None:
            prev_adj = _previous_adjustments(s, std.id, apprentice_id)
            if extra is None:
                extra = prev_adj[0] if prev_adj else 0
            if adjustments is None:
                adjustments = prev_adj[1] if prev_adj else ""
        adjustments = clean(adjustments, "adjustments")
        try:
            check_request(
                DrawRequest(
                    standard=req.standard,
                    method="-",
                    apprentice=req.apprentice,
                    attempt=req.attempt,
                    extra_time_pct=extra,
                )
            )
        except DrawError as e:
            raise SessionError(str(e)) from None
        definition = for_release(rel)
        methods = definition.method_ids
        carried: dict[str, tuple[int, str]] = {}
        previous_id = None
        if req.attempt == "first":
            wanted = list(req.methods) or definition.default_methods
        else:
            prev = _previous(s, std.id, apprentice_id, req.previous, req.apprentice)
            previous_id = prev.id
            failed, passed = _failed_and_passed(s, prev, definition.rules)
            if not failed:
                raise SessionError(
                    f"assessment {prev.id} of {req.apprentice} failed no method: there is nothing to {req.attempt}"
                )
            wanted = list(req.methods) or failed
            for m in wanted:
                if m in passed:
                    raise SessionError(
                        f"{m} was passed ({passed[m][1]}) in assessment {prev.id}: its grade carries "
                        f"over and it cannot be re-assessed on a {req.attempt}"
                    )
                if m not in failed:
                    raise SessionError(
                        f"{m} was not assessed in assessment {prev.id}; a {req.attempt} re-assesses "
                        f"only the failed methods: {', '.join(failed)}"
                    )
            carried = passed
        for m in wanted:
            if m not in methods:
                raise SessionError(
                    f"{req.standard} release {rel.semver} has no method '{m}' (methods: {', '.join(methods)})"
                )
        if len(set(wanted)) != len(wanted):
            raise SessionError("a method is listed twice")
        formats = _report_formats(definition, wanted, req, rel.semver)
        a = AssessmentRow(
            standard_id=std.id,
            release_id=rel.id,
            apprentice_id=apprentice_id,
            assessor=assessor,
            attempt=req.attempt,
            cohort=cohort,
            previous_id=previous_id,
            extra_time_pct=extra,
            adjustments=adjustments.strip(),
        )
        s.add(a)
        s.flush()
        pos = 0
        for key in methods:  # the standard's order
            if key in wanted:
                pos += 1
                dreq = DrawRequest(
                    standard=req.standard,
                    method=key,
                    apprentice=req.apprentice,
                    attempt=req.attempt,
                    cohort=cohort,
                    extra_time_pct=extra,
                    release=rel.semver,
                )
                method = definition.method(key)
                assert method is not None  # every wanted method was checked against the release above
                # questioning the assessor may choose (ILM's report): nothing drawn until asked for
                draw_id = None if method.questions_optional else draw_in(s, engine, dreq, apprentice_id)
                mrow = _method_row(s, std.id, key)
                s.add(
                    AssessmentMethodRow(
                        assessment_id=a.id,
                        method_id=mrow.id,
                        position=pos,
                        draw_id=draw_id,
                        report_format=formats.get(key),
                    )
                )
            elif key in carried:
                pos += 1
                from_id, grade = carried[key]
                mrow = _method_row(s, std.id, key)
                s.add(
                    AssessmentMethodRow(
                        assessment_id=a.id,
                        method_id=mrow.id,
                        position=pos,
                        status="carried",
                        carried_from_id=from_id,
                        grade=grade,
                        confirmed_grade=grade,
                        rule_text="carried over from the earlier attempt",
                    )
                )
        s.flush()
        return a.id

    return with_retries(engine, work)


def _report_formats(definition: ReleaseDefinition, wanted: list[str], req: StartRequest, semver: str) -> dict[str, str]:
    """The report format of each method assessed whose report may take more than one way (method id
    -> format): the one the request gives, or the method's only format. A format given for a
    standard none of whose methods has report formats is refused; one given when those methods
    are not assessed (carried over) is not needed and is ignored."""
    fmt = (req.report_format or "").strip().lower() or None
    with_formats = [m for m in definition.methods if m.report_formats]
    if fmt is not None and not with_formats:
        raise SessionError(
            f"{req.standard} release {semver} has no method whose report may be written or oral; "
            f"leave the report format out (given: '{req.report_format}')"
        )
    out = {}
    for m in with_formats:
        if m.id not in wanted:
            continue
        if fmt is None:
            if len(m.report_formats) != 1:
                raise SessionError(
                    f"{m.id}: say how the learner presented the report: {' or '.join(m.report_formats)} "
                    "(the assessor records it when the assessment starts)"
                )
            out[m.id] = m.report_formats[0]
        elif fmt not in m.report_formats:
            raise SessionError(
                f"{m.id}: the report format is one of {', '.join(m.report_formats)}, not '{req.report_format}'"
            )
        else:
            out[m.id] = fmt
    return out


@dataclass
class _Brief:
    """What the checks at a start need of an apprentice's other assessment, which on PostgreSQL
    may be another assessor's (hidden by row-level security, read through `roles.definer`)."""

    id: int
    status: str
    created_at: datetime
    assessor: str
    extra_time_pct: int
    adjustments: str


def _latest(s: Session, standard_id: int, apprentice_id: int, *statuses: str) -> _Brief | None:
    """The apprentice's newest assessment on the standard in one of these statuses, whoever's it is."""
    if roles.definer(s):
        row = s.execute(
            text("SELECT * FROM qbank_latest_assessment(:a, :s, CAST(:st AS text[]))"),
            {"a": apprentice_id, "s": standard_id, "st": list(statuses)},
        ).first()
        return _Brief(*row) if row is not None else None
    a = (
        s.execute(
            select(AssessmentRow)
            .where(
                col(AssessmentRow.apprentice_id) == apprentice_id,
                col(AssessmentRow.standard_id) == standard_id,
                col(AssessmentRow.status).in_(statuses),
            )
            .order_by(col(AssessmentRow.id).desc())
        )
        .scalars()
        .first()
    )
    if a is None:
        return None
    return _Brief(a.id, a.status, a.created_at, a.assessor, a.extra_time_pct, a.adjustments)


def _open_for(s: Session, standard_id: int, apprentice_id: int) -> _Brief | None:
    return _latest(s, standard_id, apprentice_id, "open")


def _previous_adjustments(s: Session, standard_id: int, apprentice_id: int) -> tuple[int, str] | None:
    a = _latest(s, standard_id, apprentice_id, "open", "complete")
    return (a.extra_time_pct, a.adjustments) if a is not None else None


def _ids(s: Session, standard: str, apprentice: str) -> tuple[int, int] | None:
    std = s.execute(select(col(StandardRow.id)).where(col(StandardRow.code) == standard)).scalar()
    appr = s.execute(select(col(ApprenticeRow.id)).where(col(ApprenticeRow.ref) == apprentice.strip())).scalar()
    return (std, appr) if std is not None and appr is not None else None


def open_assessment_for(engine: Engine, standard: str, apprentice: str) -> int | None:
    """The apprentice's open assessment on the standard, if any (there is at most one)."""
    with Session(engine) as s:
        ids = _ids(s, standard, apprentice)
        a = _open_for(s, *ids) if ids else None
        return a.id if a is not None else None


def previous_adjustments(engine: Engine, standard: str, apprentice: str) -> tuple[int, str] | None:
    """(extra time %, adjustments note) of the apprentice's latest non-void assessment on the
    standard, for the start form to prefill; None when there is none."""
    with Session(engine) as s:
        ids = _ids(s, standard, apprentice)
        return _previous_adjustments(s, *ids) if ids else None


def void_assessment(engine: Engine, assessment_id: int, by: str, reason: str) -> None:
    """Void a start that was never used: nothing asked, skipped or evidenced and no marks in any
    method. The assessment is kept, marked void with who, when and why; its draws are voided, so
    their questions return to the apprentice's pool for a later draw."""
    by = clean(by, "name", what="name of who is voiding")
    reason = clean(reason, "reason", what="void reason")
    if not by.strip():
        raise SessionError("voiding an assessment needs who is voiding it")
    if not reason.strip():
        raise SessionError("give the reason for voiding the assessment (it is kept with the record)")
    with Session(engine) as s, s.begin():
        a = lock_assessment(s, assessment_id)
        roles.check_owner(s, a.owner, f"assessment {assessment_id}")
        if a.status == "void":
            raise SessionError(f"assessment {assessment_id} is already void")
        if a.status == "complete":
            raise SessionError(f"assessment {assessment_id} is complete; a completed assessment cannot be voided")
        ams = (
            s.execute(select(AssessmentMethodRow).where(col(AssessmentMethodRow.assessment_id) == a.id)).scalars().all()
        )
        live = [am.id for am in ams if am.status != "carried"]
        recorded = []
        if live:

            def count(table, *where) -> int:
                return s.execute(select(func.count()).select_from(table).where(*where)).scalar() or 0

            in_live = col(AskRow.assessment_method_id).in_(live)
            counts = [
                (count(AskRow, in_live, col(AskRow.status) == "asked"), "question asked", "questions asked"),
                (count(AskRow, in_live, col(AskRow.status) != "asked"), "question skipped", "questions skipped"),
                (
                    count(EvidenceRow, col(EvidenceRow.assessment_method_id).in_(live)),
                    "evidence entry",
                    "evidence entries",
                ),
                (
                    count(CriterionMarkRow, col(CriterionMarkRow.assessment_method_id).in_(live)),
                    "criterion mark or feedback",
                    "criterion marks or feedback",
                ),
                (sum(1 for am in ams if am.status == "ended"), "method ended", "methods ended"),
                (
                    sum(1 for am in ams if am.status != "carried" and (am.strengths or am.improvements)),
                    "method's feedback",
                    "methods' feedback",
                ),
            ]
            recorded = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n]
        if recorded:
            raise SessionError(
                f"assessment {assessment_id} cannot be voided: {', '.join(recorded)} recorded. "
                "Only a start nothing was recorded in can be voided; complete this one instead "
                "(end each method, giving the reason if it ends short)"
            )
        a.status = "void"
        a.void_by, a.void_reason, a.voided_at = by.strip(), reason.strip(), utcnow()
        void_draws(s, [am.draw_id for am in ams if am.draw_id is not None])


def _previous(s: Session, standard_id: int, apprentice_id: int, previous: int | None, ref: str) -> _Brief:
    prev: _Brief | None
    if previous is not None:
        row = s.get(AssessmentRow, previous)
        if row is None or row.apprentice_id != apprentice_id or row.standard_id != standard_id:
            raise SessionError(f"assessment {previous} is not an assessment of {ref} on this standard")
        prev = _Brief(row.id, row.status, row.created_at, row.assessor, row.extra_time_pct, row.adjustments)
    else:
        prev = _latest(s, standard_id, apprentice_id, "complete")
        if prev is None:
            raise SessionError(f"{ref} has no completed assessment on this standard to resit or retake")
    if prev.status != "complete":
        raise SessionError(f"assessment {prev.id} is not complete yet; finish it before a resit or retake")
    return prev


def _failed_and_passed(s: Session, prev: _Brief, rules: GradingRules) -> tuple[list[str], dict[str, tuple[int, str]]]:
    """The methods `prev` failed, and those it passed: (the method record the grade is on, grade)."""
    rows: list[tuple[int, str, str | None, int | None]]  # (method record, key, grade, carried from)
    if roles.definer(s):  # perhaps another assessor's: read past row-level security
        rows = [
            (i, key, confirmed or grade, carried)
            for i, key, _status, grade, confirmed, carried in s.execute(
                text("SELECT * FROM qbank_method_grades(:a)"), {"a": prev.id}
            )
        ]
    else:
        rows = [
            (am.id, key, am.confirmed_grade or am.grade, am.carried_from_id)
            for am, key in methods_with_keys(s, prev.id)
        ]
    graded = {key: (i, grade, carried) for i, key, grade, carried in rows if grade is not None}
    failed, passed = methods_to_reassess(rules, {key: g[1] for key, g in graded.items() if g[1] is not None})
    return failed, {key: (graded[key][2] or graded[key][0], grade) for key, grade in passed.items()}


def _resolve_release(s: Session, standard: str, release: str | None) -> tuple[StandardRow, ReleaseRow]:
    try:
        return resolve_release(s, standard, release)
    except DrawError as e:
        raise SessionError(str(e)) from None


def _method_row(s: Session, standard_id: int, key: str) -> MethodRow:
    row = (
        s.execute(select(MethodRow).where(col(MethodRow.standard_id) == standard_id, col(MethodRow.key) == key))
        .scalars()
        .first()
    )
    if row is None:
        raise SessionError(f"method {key} is not in the store; run `qbank import banks`")
    return row
