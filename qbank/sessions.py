"""Assessments: the live record an assessor builds, stored as it is made.

An assessment is one apprentice's attempt at some methods of a standard under one release. Each
method gets a drawn set (`draws.draw_in`, all methods in one transaction, so a failed start burns
no questions), then the assessor asks questions (drawn or ad hoc), types notes, logs evidence per
criterion at a level, records marks, strengths and areas for improvement, and ends the method: the
grading engine computes the grade with its rule and the assessor confirms it or records a justified
disagreement. On a resit or retake only the methods failed before are assessed; passed grades carry
over. Every function here is one short transaction, so whatever returned has been stored.

Nothing is ever deleted. A skip keeps its reason and, when undone, when; an undone swap and a
retracted evidence entry stay in the record, marked. A start that was never used (nothing asked
or evidenced) can be voided: it is kept, marked void with who and why, and its questions return
to the apprentice's pool. An apprentice has at most one open assessment per standard.

Grading logic lives in `grading.py`; this module only folds stored rows into its inputs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from .bankfiles import Method
from .draw import ATTEMPTS
from .draws import (DrawError, DrawRequest, _apprentice, check_request, draw_in, load_draw, resolve_release, swap,
                    undo_swap_in, void_draws, with_retries)
from .grading import (DEFAULT_LEVELS, GradingError, GradingRules, MethodResult, MethodScheme, OverallResult, Override,
                      criterion_levels, grade_method, grade_overall, outcome_levels, uncovered)
from .gradingfile import rules_from_definition
from .models import (ApprenticeRow, AskRow, AssessmentMethodRow, AssessmentRow, CriterionMarkRow, DrawItemRow,
                     DrawSwapRow, EvidenceRow, MethodRow, QuestionRow, QuestionVersionRow, ReleaseRow, StandardRow,
                     utcnow)
from .problems import BankError


class SessionError(BankError):
    """An assessment action that cannot be done; the message says which step and why."""


class OpenAssessmentExists(SessionError):
    """The apprentice already has an open assessment on this standard: resume it, or void it."""

    def __init__(self, message: str, assessment_id: int):
        super().__init__(message)
        self.assessment_id = assessment_id


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
    ask_id: int | None = None  # set once asked (or skipped)
    status: str = "planned"  # planned | asked | skipped (a skip undone is planned again)
    notes: str = ""
    asked_at: datetime | None = None
    adhoc: bool = False
    ask_position: int | None = None  # order in which it was put (asked or skipped) in the method
    skip_reason: str | None = None  # the latest skip's reason (also kept once undone)
    skipped_at: datetime | None = None
    skip_undone_at: datetime | None = None  # the latest skip was undone then
    skip_history: list[dict] = field(default_factory=list)  # every undone skip: reason, skipped_at, undone_at
    opener: bool = False  # written to open the conversation (the draw puts it first)
    bands: dict[str, str] = field(default_factory=dict)  # evidence level -> what an answer at it shows

    @property
    def undone_skips(self) -> list[dict]:
        """Every skip of this question that was undone, oldest first: {reason, skipped_at, undone_at}."""
        out = list(self.skip_history)
        if self.skip_undone_at is not None and self.skipped_at is not None:
            out.append({"reason": self.skip_reason or "", "skipped_at": self.skipped_at,
                        "undone_at": self.skip_undone_at})
        return out


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
    retracted_at: datetime | None = None
    retract_reason: str = ""


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
    undone: bool = False  # reversed by undo_swap: out_code is back in the set
    undone_at: datetime | None = None
    id: int = 0


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
    end_reason: str = ""  # why the method was ended short (see end_warnings)
    end_warnings: list[str] = field(default_factory=list)  # the warnings that reason answered
    reason: str = ""  # one line beside the grade: the rule that gave it; for a failing grade, what was lacking

    @property
    def levels(self) -> tuple[str, ...]:
        return self.scheme.levels if self.scheme else DEFAULT_LEVELS

    @property
    def asked(self) -> list[QuestionView]:
        """Questions put to the apprentice (drawn and ad hoc), in the order they were asked."""
        return sorted((q for q in self.questions if q.status == "asked"),
                      key=lambda q: (q.ask_position or 0, q.ask_id or 0))

    @property
    def skipped(self) -> list[QuestionView]:
        return sorted((q for q in self.questions if q.status == "skipped"), key=lambda q: q.ask_position or 0)

    @property
    def planned(self) -> list[QuestionView]:
        """Drawn questions not asked or skipped (yet), in the set's order."""
        return [q for q in self.questions if q.status == "planned"]


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
    void_by: str | None = None
    void_reason: str | None = None
    voided_at: datetime | None = None

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
    # None: carried over from the apprentice's previous (latest non-void) assessment on this standard,
    # else 0 / "" (see previous_adjustments)
    extra_time_pct: int | None = None
    adjustments: str | None = None
    release: str | None = None
    previous: int | None = None  # resit/retake: the earlier assessment (default: the latest complete one)


def start_assessment(engine: Engine, req: StartRequest) -> int:
    """Create the assessment and draw every method's set in one transaction; returns its id.

    Raises OpenAssessmentExists when the apprentice already has an open assessment on the standard."""
    if req.attempt not in ATTEMPTS:
        raise SessionError(f"attempt must be one of {', '.join(ATTEMPTS)}, not '{req.attempt}'")
    if not req.assessor.strip():
        raise SessionError("the assessor's name is empty: say who is assessing")
    try:
        check_request(DrawRequest(standard=req.standard, method="-", apprentice=req.apprentice, attempt=req.attempt,
                                  extra_time_pct=req.extra_time_pct or 0))
        apprentice_id = _apprentice(engine, req.apprentice)
    except DrawError as e:
        raise SessionError(str(e)) from None

    def work(s: Session) -> int:
        std, _, rel = _resolve_release(s, req.standard, req.release)
        # one start at a time per apprentice: the no-op update locks their row (PostgreSQL) or takes
        # the write lock (SQLite) before the check, so two simultaneous starts cannot both pass it
        s.execute(update(ApprenticeRow).where(ApprenticeRow.id == apprentice_id).values(ref=ApprenticeRow.ref))
        open_ = _open_for(s, std.id, apprentice_id)
        if open_ is not None:
            raise OpenAssessmentExists(
                f"{req.apprentice} already has an open assessment on {req.standard}: assessment {open_.id}, started "
                f"{open_.created_at:%d %b %Y %H:%M} by {open_.assessor}. Resume it, or void it if nothing was "
                "asked or evidenced in it", open_.id)
        extra, adjustments = req.extra_time_pct, req.adjustments
        if extra is None or adjustments is None:
            prev_adj = _previous_adjustments(s, std.id, apprentice_id)
            if extra is None:
                extra = prev_adj[0] if prev_adj else 0
            if adjustments is None:
                adjustments = prev_adj[1] if prev_adj else ""
        try:
            check_request(DrawRequest(standard=req.standard, method="-", apprentice=req.apprentice,
                                      attempt=req.attempt, extra_time_pct=extra))
        except DrawError as e:
            raise SessionError(str(e)) from None
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
                          previous_id=previous_id, extra_time_pct=extra, adjustments=adjustments.strip())
        s.add(a)
        s.flush()
        pos = 0
        for key in methods:  # the standard's order
            if key in wanted:
                pos += 1
                dreq = DrawRequest(standard=req.standard, method=key, apprentice=req.apprentice, attempt=req.attempt,
                                   cohort=req.cohort.strip(), extra_time_pct=extra, release=rel.semver)
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


def _open_for(s: Session, standard_id: int, apprentice_id: int) -> AssessmentRow | None:
    return s.execute(select(AssessmentRow).where(AssessmentRow.apprentice_id == apprentice_id,
                                                 AssessmentRow.standard_id == standard_id,
                                                 AssessmentRow.status == "open")
                     .order_by(AssessmentRow.id.desc())).scalars().first()


def _previous_adjustments(s: Session, standard_id: int, apprentice_id: int) -> tuple[int, str] | None:
    a = s.execute(select(AssessmentRow).where(AssessmentRow.apprentice_id == apprentice_id,
                                              AssessmentRow.standard_id == standard_id,
                                              AssessmentRow.status != "void")
                  .order_by(AssessmentRow.id.desc())).scalars().first()
    return (a.extra_time_pct, a.adjustments) if a is not None else None


def _ids(s: Session, standard: str, apprentice: str) -> tuple[int, int] | None:
    std = s.execute(select(StandardRow.id).where(StandardRow.code == standard)).scalar()
    appr = s.execute(select(ApprenticeRow.id).where(ApprenticeRow.ref == apprentice.strip())).scalar()
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
    if not by.strip():
        raise SessionError("voiding an assessment needs who is voiding it")
    if not reason.strip():
        raise SessionError("give the reason for voiding the assessment (it is kept with the record)")
    with Session(engine) as s, s.begin():
        a = _lock_assessment(s, assessment_id)
        if a.status == "void":
            raise SessionError(f"assessment {assessment_id} is already void")
        if a.status == "complete":
            raise SessionError(f"assessment {assessment_id} is complete; a completed assessment cannot be voided")
        ams = s.execute(select(AssessmentMethodRow).where(AssessmentMethodRow.assessment_id == a.id)).scalars().all()
        live = [am.id for am in ams if am.status != "carried"]
        recorded = []
        if live:
            def count(table, *where) -> int:
                return s.execute(select(func.count()).select_from(table).where(*where)).scalar() or 0

            in_live = AskRow.assessment_method_id.in_(live)
            counts = [(count(AskRow, in_live, AskRow.status == "asked"), "question asked", "questions asked"),
                      (count(AskRow, in_live, AskRow.status != "asked"), "question skipped", "questions skipped"),
                      (count(EvidenceRow, EvidenceRow.assessment_method_id.in_(live)), "evidence entry",
                       "evidence entries"),
                      (count(CriterionMarkRow, CriterionMarkRow.assessment_method_id.in_(live)),
                       "criterion mark or feedback", "criterion marks or feedback"),
                      (sum(1 for am in ams if am.status == "ended"), "method ended", "methods ended"),
                      (sum(1 for am in ams if am.status != "carried" and (am.strengths or am.improvements)),
                       "method's feedback", "methods' feedback")]
            recorded = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n]
        if recorded:
            raise SessionError(f"assessment {assessment_id} cannot be voided: {', '.join(recorded)} recorded. "
                               "Only a start nothing was recorded in can be voided; complete this one instead "
                               "(end each method, giving the reason if it ends short)")
        a.status = "void"
        a.void_by, a.void_reason, a.voided_at = by.strip(), reason.strip(), utcnow()
        void_draws(s, [am.draw_id for am in ams if am.draw_id is not None])


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


def _set_item(s: Session, am: AssessmentMethodRow, question: str, step: str):
    """(draw item, question row id) of a question in the method's current set, else SessionError."""
    item = s.execute(select(DrawItemRow, QuestionRow.id)
                     .join(QuestionRow, QuestionRow.id == DrawItemRow.question_id)
                     .where(DrawItemRow.draw_id == am.draw_id, DrawItemRow.active.is_(True),
                            QuestionRow.code == question)).first()
    if item is None:
        raise SessionError(f"{step}: {question} is not in this method's set")
    return item


def _ask_row(s: Session, am_id: int, question_id: int) -> AskRow | None:
    return s.execute(select(AskRow).where(AskRow.assessment_method_id == am_id,
                                          AskRow.question_id == question_id)).scalars().first()


def ask(engine: Engine, am_id: int, question: str) -> int:
    """Mark a drawn question as asked (idempotent); returns the ask id. Asking a skipped question
    undoes the skip (kept in its history)."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id, lock=True)
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
        row = AskRow(assessment_method_id=am_id, question_id=item[1], question_version_id=item[0].question_version_id,
                     position=_next_position(s, am_id), asked_at=now, updated_at=now)
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
        am = _open_method(s, am_id, lock=True)
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


def skip(engine: Engine, am_id: int, question: str, reason: str) -> int:
    """Record that a drawn question was deliberately not asked, and why (for standardisation);
    returns the ask id. `undo_skip` puts it back among the questions to ask."""
    reason = " ".join(reason.split())
    if not reason:
        raise SessionError(f"skipping {question}: give the reason it is not asked (it is kept for standardisation)")
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id, lock=True)
        item = _set_item(s, am, question, "skipping")
        row = _ask_row(s, am_id, item[1])
        now = utcnow()
        position = _next_position(s, am_id)
        if row is None:
            row = AskRow(assessment_method_id=am_id, question_id=item[1],
                         question_version_id=item[0].question_version_id, position=position, asked_at=now)
            s.add(row)
        elif row.status == "asked":
            recorded = row.notes.strip() or s.execute(select(EvidenceRow.id).where(
                EvidenceRow.ask_id == row.id, EvidenceRow.retracted_at.is_(None))).first()
            if recorded:
                raise SessionError(f"skipping {question}: it has been asked and its answer has notes or evidence; "
                                   "a question answered cannot be skipped")
        elif row.status == "skipped":  # skipped already: the reason is updated
            row.skip_reason = reason
            row.updated_at = now
            return row.id
        if row.skipped_at is not None:  # skipped before and undone: that cycle goes to the history
            row.skip_history_json = json.dumps(json.loads(row.skip_history_json or "[]") + [
                {"reason": row.skip_reason or "", "skipped_at": _iso(row.skipped_at),
                 "undone_at": _iso(row.skip_undone_at)}])
        row.position = position
        row.status = "skipped"
        row.skip_reason = reason
        row.skipped_at = now
        row.skip_undone_at = None
        row.updated_at = now
        _start_timer(am)
        s.flush()
        return row.id


def undo_skip(engine: Engine, am_id: int, question: str) -> None:
    """Put a skipped question back among those still to ask, while the method runs. The skip stays
    in the record, marked undone."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id)
        if am.status != "running":
            raise SessionError(f"undoing the skip of {question}: the method is not running")
        code_row = s.execute(select(AskRow, DrawItemRow.id).join(QuestionRow, QuestionRow.id == AskRow.question_id)
                             .outerjoin(DrawItemRow, (DrawItemRow.question_id == AskRow.question_id)
                                        & (DrawItemRow.draw_id == am.draw_id) & DrawItemRow.active.is_(True))
                             .where(AskRow.assessment_method_id == am_id, QuestionRow.code == question)).first()
        if code_row is None or code_row[0].status != "skipped":
            raise SessionError(f"undoing the skip of {question}: it is not skipped in this method")
        if code_row[1] is None:
            raise SessionError(f"undoing the skip of {question}: it has since been swapped out of the set")
        row = code_row[0]
        row.status = "unskipped"
        row.skip_undone_at = row.updated_at = utcnow()


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


def undo_swap(engine: Engine, am_id: int, question_in: str) -> str:
    """Reverse the swap that brought `question_in` into the method's set, while it has not been
    asked (or skipped) and the method has not ended: the question swapped out is back (its code is
    returned), `question_in` no longer counts against the apprentice, and the swap stays in the
    record, marked undone."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id, lock=True)
        if am.draw_id is None:
            raise SessionError(f"undoing the swap of {question_in}: this method has no drawn set")
        put = s.execute(select(AskRow.status).join(QuestionRow, QuestionRow.id == AskRow.question_id)
                        .where(AskRow.assessment_method_id == am_id, QuestionRow.code == question_in)).first()
        if put is not None:
            raise SessionError(f"undoing the swap of {question_in}: it has already been "
                               f"{'asked' if put[0] == 'asked' else 'put to the record (skipped)'}; "
                               "only a question not yet asked can be swapped back")
        try:
            return undo_swap_in(s, am.draw_id, question_in)
        except DrawError as e:
            raise SessionError(f"undoing the swap of {question_in}: {e}") from None


def log_evidence(engine: Engine, am_id: int, level: str, *, criterion: str | None = None,
                 outcomes: list[str] | None = None, note: str = "", ask_id: int | None = None) -> int:
    """Log that the answers evidenced a criterion (or some of its outcomes) at a level."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id, lock=True)
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


def retract_evidence(engine: Engine, evidence_id: int, reason: str = "") -> None:
    """Withdraw a mistaken evidence entry: the row is kept, marked retracted (with the reason, if
    given) and no longer counts. Retracting it again only adds a reason it lacked."""
    reason = " ".join(reason.split())
    with Session(engine) as s, s.begin():
        row = s.get(EvidenceRow, evidence_id)
        if row is None:
            raise SessionError(f"retracting evidence: no evidence entry {evidence_id}")
        _open_method(s, row.assessment_method_id)
        if row.retracted_at is None:
            row.retracted_at = utcnow()
            row.retract_reason = reason or None
        elif reason and not row.retract_reason:
            row.retract_reason = reason


def set_mark(engine: Engine, am_id: int, criterion: str, *, mark: float | None = None, strengths: str | None = None,
             improvements: str | None = None, clear_mark: bool = False) -> None:
    """Record a criterion's mark (marks / weighted schemes) and/or its strengths and areas for improvement."""
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id, lock=True)
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
        am = _open_method(s, am_id, lock=True)
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


def end_warnings(m: MethodView, elapsed_seconds: float | None = None) -> list[str]:
    """Why ending the method now would be ending it short (empty: it is not): fewer questions asked
    than the method's minimum, or under half its time used (`elapsed_seconds`, default the stored
    timer). Pure."""
    if m.status == "carried":
        return []
    out = []
    asked = sum(1 for q in m.questions if q.status == "asked")
    if asked < m.method.min_questions:
        out.append(f"{asked} question{'' if asked == 1 else 's'} asked; "
                   f"the method's minimum is {m.method.min_questions}")
    elapsed = m.elapsed_seconds if elapsed_seconds is None else elapsed_seconds
    if m.budget_minutes and elapsed < m.budget_minutes * 60 / 2:
        out.append(f"{int(elapsed // 60)} of {m.budget_minutes} minutes used")
    return out


def end_method(engine: Engine, am_id: int, reason: str = "", *,
               elapsed_seconds: float | None = None) -> MethodResult | None:
    """Close the method: the engine's grade and rule are stored for the assessor to confirm.

    Ending short (see `end_warnings`) needs the assessor's reason; it is stored with the warnings.
    `elapsed_seconds`, when given, is stored as the timer first."""
    reason = reason.strip()
    with Session(engine) as s, s.begin():
        am = _open_method(s, am_id)
        if elapsed_seconds is not None:
            am.elapsed_seconds = max(0.0, float(elapsed_seconds))
        view = _method_view(s, am, _assessment_rules(s, am.assessment_id))
        warnings = end_warnings(view)
        if warnings and not reason:
            raise SessionError(f"ending {view.method.id} short: {'; '.join(warnings)}. Give the reason for ending "
                               "it now (it is kept in the record)")
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
        am.rule_text = am.disagreement = am.end_reason = am.end_warnings = ""


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
    if view.status == "void":
        raise SessionError(f"assessment {assessment_id} was voided; it cannot be completed")
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
            ui=json.loads(a.ui_json or "{}"), void_by=a.void_by, void_reason=a.void_reason, voided_at=a.voided_at)


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


def completed(engine: Engine, assessor: str | None = None) -> list[dict]:
    """Completed assessments, newest first: the keys of `unfinished()` plus completed_at and the
    overall grade as text ("Merit"; several overall grades as "epa Merit, lsbu-module-8 Pass")."""
    with Session(engine) as s:
        q = (select(AssessmentRow, StandardRow.code, ApprenticeRow.ref)
             .join(StandardRow, StandardRow.id == AssessmentRow.standard_id)
             .join(ApprenticeRow, ApprenticeRow.id == AssessmentRow.apprentice_id)
             .where(AssessmentRow.status == "complete"))
        if assessor:
            q = q.where(AssessmentRow.assessor == assessor)
        out = []
        for a, code, ref in s.execute(q.order_by(AssessmentRow.completed_at.desc(), AssessmentRow.id.desc())).all():
            overall = [o for o in json.loads(a.overall_json or "[]") if o.get("grade")]
            text = (overall[0]["grade"] if len(overall) == 1
                    else ", ".join(f"{o['id']} {o['grade']}" for o in overall))
            out.append({"id": a.id, "standard": code, "apprentice": ref, "assessor": a.assessor,
                        "attempt": a.attempt, "created_at": a.created_at, "completed_at": a.completed_at,
                        "overall": text})
        return out


def _method_view(s: Session, am: AssessmentMethodRow, rules: GradingRules) -> MethodView:
    method = _method_def(s, am)
    scheme = rules.methods.get(method.id)
    questions: list[QuestionView] = []
    swaps: list[SwapView] = []
    budget = method.minutes
    asks = s.execute(select(AskRow, QuestionRow.code).outerjoin(QuestionRow, QuestionRow.id == AskRow.question_id)
                     .where(AskRow.assessment_method_id == am.id).order_by(AskRow.position)).all()
    by_code = {code: a for a, code in asks if code}

    def ask_fields(a: AskRow | None) -> dict:
        if a is None:
            return {}
        put = a.status in ("asked", "skipped")  # "unskipped": a skip undone, the question is planned again
        return dict(ask_id=a.id if put else None, status=a.status if put else "planned", notes=a.notes,
                    asked_at=a.asked_at if put else None, ask_position=a.position if put else None,
                    skip_reason=a.skip_reason, skipped_at=a.skipped_at, skip_undone_at=a.skip_undone_at,
                    skip_history=[{"reason": h.get("reason", ""), "skipped_at": _from_iso(h.get("skipped_at")),
                                   "undone_at": _from_iso(h.get("undone_at"))}
                                  for h in json.loads(a.skip_history_json or "[]")])

    if am.draw_id is not None:
        d = load_draw(s.get_bind(), am.draw_id)
        budget = d.budget_minutes
        for q in d.questions:
            questions.append(QuestionView(code=q.id, version=q.version, text=q.text, outcomes=q.outcomes,
                                          minutes=q.minutes, probes=q.probes, guidance=q.guidance, topic=q.topic,
                                          position=q.position, opener=q.opener, bands=q.bands,
                                          **ask_fields(by_code.get(q.id))))
        drawn = {q.code for q in questions}
        for a, code in asks:  # asked or skipped, then swapped out (kept: the record shows what was put)
            if code and code not in drawn and a.status in ("asked", "skipped"):
                qv = s.get(QuestionVersionRow, a.question_version_id)
                questions.append(QuestionView(code=code, version=qv.version, text=qv.text, outcomes=[],
                                              **ask_fields(a)))
        out_item = DrawItemRow.__table__.alias("o")
        in_item = DrawItemRow.__table__.alias("i")
        qo = QuestionRow.__table__.alias("qo")
        qi = QuestionRow.__table__.alias("qi")
        for sw_id, reason, created, undone_at, out_code, in_code in s.execute(
                select(DrawSwapRow.id, DrawSwapRow.reason, DrawSwapRow.created_at, DrawSwapRow.undone_at,
                       qo.c.code, qi.c.code)
                .join(out_item, out_item.c.id == DrawSwapRow.out_item_id).join(qo, qo.c.id == out_item.c.question_id)
                .join(in_item, in_item.c.id == DrawSwapRow.in_item_id).join(qi, qi.c.id == in_item.c.question_id)
                .where(DrawSwapRow.draw_id == am.draw_id).order_by(DrawSwapRow.id)).all():
            swaps.append(SwapView(out_code=out_code, in_code=in_code, reason=reason, created_at=created,
                                  undone=undone_at is not None, undone_at=undone_at, id=sw_id))
    for a, code in asks:
        if a.adhoc_text is not None:
            questions.append(QuestionView(code=None, version=None, text=a.adhoc_text,
                                          outcomes=json.loads(a.adhoc_outcomes_json), position=a.position,
                                          adhoc=True, **ask_fields(a)))
    evidence = [EvidenceView(id=e.id, criterion=e.criterion, outcomes=json.loads(e.outcomes_json), level=e.level,
                             note=e.note, ask_id=e.ask_id, created_at=e.created_at, retracted=e.retracted_at is not None,
                             retracted_at=e.retracted_at, retract_reason=e.retract_reason or "")
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
    grade = am.confirmed_grade or am.grade
    if am.status == "carried":
        reason = f"{grade}: carried over from assessment {carried_from}" if carried_from else (grade or "")
    elif result is not None:
        reason = result.reason
        if am.confirmed_grade and am.grade and am.confirmed_grade != am.grade:
            reason = (f"{am.confirmed_grade}: recorded by the assessor, who disagreed with the rules "
                      f"({result.reason}): {am.disagreement}")
    else:
        reason = ""
    return MethodView(
        id=am.id, method=method, scheme=scheme, status=am.status, position=am.position, draw_id=am.draw_id,
        budget_minutes=budget, elapsed_seconds=am.elapsed_seconds, started_at=am.started_at, ended_at=am.ended_at,
        questions=questions, swaps=swaps, evidence=evidence, marks=marks, outcome_levels=olevels, uncovered=unc,
        result=result, grade=grade, computed_grade=am.grade,
        confirmed_grade=am.confirmed_grade, disagreement=am.disagreement,
        rule_text=am.rule_text or (result.rule_text if result else ""), carried_from=carried_from,
        end_reason=am.end_reason or "", end_warnings=[w for w in (am.end_warnings or "").split("; ") if w],
        reason=reason)


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


def _lock_assessment(s: Session, assessment_id: int) -> AssessmentRow:
    """The assessment row, locked for the rest of the transaction: a no-op update takes the row lock
    (PostgreSQL) or the write lock (SQLite) before anything is read, so voiding and recording in it
    cannot pass each other's checks."""
    s.execute(update(AssessmentRow).where(AssessmentRow.id == assessment_id).values(status=AssessmentRow.status)
              .execution_options(synchronize_session=False))
    a = s.get(AssessmentRow, assessment_id, populate_existing=True)
    if a is None:
        raise SessionError(f"no assessment {assessment_id} in the store")
    return a


def _open_assessment(s: Session, assessment_id: int, *, lock: bool = False) -> AssessmentRow:
    a = _lock_assessment(s, assessment_id) if lock else s.get(AssessmentRow, assessment_id)
    if a is None:
        raise SessionError(f"no assessment {assessment_id} in the store")
    if a.status == "complete":
        raise SessionError(f"assessment {assessment_id} is complete; its record can no longer change")
    if a.status == "void":
        raise SessionError(f"assessment {assessment_id} was voided; start a new assessment instead")
    return a


def _open_method(s: Session, am_id: int, *, lock: bool = False) -> AssessmentMethodRow:
    am = s.get(AssessmentMethodRow, am_id)
    if am is None:
        raise SessionError(f"no method record {am_id}")
    _open_assessment(s, am.assessment_id, lock=lock)
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


def _iso(d: datetime | None) -> str | None:
    return d.isoformat() if d is not None else None


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
