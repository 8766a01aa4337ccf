"""The assessment read model: what the assessor's screens, the record and `complete` see.

`load` reads one assessment in one session with a fixed number of statements, however many
methods, questions and entries it has: the assessment with its standard, release and apprentice;
its methods with their draws; then, for every method at once, the asks, the drawn questions and
their outcomes, the swaps, the evidence and the marks. `read_assessment` and `read_method` do the
same inside a caller's session, so a command can read and write in one transaction. The views
built are plain data (`views`); their grades are the grading engine's (`grading.method_standing`,
`grading.overall_results`): nothing here decides a grade.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session
from sqlmodel import col

from .clearance import clearance_now_and_at
from .declarations import Declarations
from .definition import Method, for_release
from .grading import GradingError, MethodScheme, Override, method_standing, overall_results
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
    ReleaseRow,
    StandardRow,
    table_of,
)
from .session_guards import SessionError
from .views import AssessmentView, EvidenceView, MarkView, MethodView, QuestionView, StandardChoice, SwapView

# --------------------------------------------------------------------------- one assessment


def load(engine: Engine, assessment_id: int) -> AssessmentView:
    with Session(engine) as s:
        return read_assessment(s, assessment_id)


def read_assessment(s: Session, assessment_id: int) -> AssessmentView:
    """The assessment as it stands, read in the caller's session."""
    row = s.execute(
        select(AssessmentRow, col(StandardRow.code), col(ApprenticeRow.ref), ReleaseRow)
        .join(StandardRow, col(StandardRow.id) == AssessmentRow.standard_id)
        .join(ApprenticeRow, col(ApprenticeRow.id) == AssessmentRow.apprentice_id)
        .join(ReleaseRow, col(ReleaseRow.id) == AssessmentRow.release_id)
        .where(col(AssessmentRow.id) == assessment_id)
    ).first()
    if row is None:
        raise SessionError(f"no assessment {assessment_id} in the store")
    a, standard, apprentice, rel = row
    definition = for_release(rel)
    rules = definition.rules
    methods = _read_methods(s, rel, col(AssessmentMethodRow.assessment_id) == a.id)
    override = Override(by=a.override_by, reason=a.override_reason or "") if a.override_by else None  # set together
    try:
        overall = overall_results(
            rules,
            {m.method.id: m.grade for m in methods if m.grade},
            [m.method.id for m in methods],
            a.attempt,
            override,
        )
    except GradingError as e:  # a grade outside the table (cannot happen with validated rules)
        raise SessionError(str(e)) from None
    clearance, clearance_at_start = clearance_now_and_at(s, standard, rel, a.created_at)
    return AssessmentView(
        id=a.id,
        standard=standard,
        standard_title=definition.title,
        release=rel.semver,
        apprentice=apprentice,
        assessor=a.assessor,
        attempt=a.attempt,
        cohort=a.cohort,
        extra_time_pct=a.extra_time_pct,
        adjustments=a.adjustments,
        status=a.status,
        created_at=a.created_at,
        completed_at=a.completed_at,
        previous_id=a.previous_id,
        override=override,
        override_at=a.override_at,
        methods=methods,
        overall=overall,
        outcome_titles=definition.outcome_titles,
        outcome_statements=definition.outcome_statements,
        rules=rules,
        ui=json.loads(a.ui_json or "{}"),
        void_by=a.void_by,
        void_reason=a.void_reason,
        voided_at=a.voided_at,
        clearance=clearance,
        clearance_at_start=clearance_at_start,
        declarations=Declarations.from_json(a.declarations_json),
    )


def read_method(s: Session, am: AssessmentMethodRow) -> MethodView:
    """One method of an assessment as it stands, read in the caller's session (with its changes)."""
    rel = s.get_one(ReleaseRow, s.get_one(AssessmentRow, am.assessment_id).release_id)  # foreign keys
    return _read_methods(s, rel, col(AssessmentMethodRow.id) == am.id)[0]


# --------------------------------------------------------------------------- its methods, all at once


class _Rows:
    """Every row the methods' views are built from, fetched once for all of them, grouped in order:
    by method record the asks (ask, code, version, text), evidence and criterion marks; by draw the
    items of its set (item id, position, code, question version) and its swaps; by question version
    its outcome codes."""

    def __init__(self):
        self.asks, self.evidence, self.marks = defaultdict(list), defaultdict(list), defaultdict(list)
        self.items, self.swaps, self.outcomes = defaultdict(list), defaultdict(list), defaultdict(list)


def _read_methods(s: Session, rel: ReleaseRow, where) -> list[MethodView]:
    src = table_of(AssessmentMethodRow).alias("src")  # the method record a carried grade came from
    methods = s.execute(
        select(
            AssessmentMethodRow,
            col(MethodRow.key),
            src.c.assessment_id,
            col(DrawRow.extra_time_pct),
            col(DrawRow.voided_at),
        )
        .join(MethodRow, col(MethodRow.id) == AssessmentMethodRow.method_id)
        .outerjoin(src, src.c.id == AssessmentMethodRow.carried_from_id)
        .outerjoin(DrawRow, col(DrawRow.id) == AssessmentMethodRow.draw_id)
        .where(where)
        .order_by(col(AssessmentMethodRow.position))
    ).all()
    rows = _fetch(
        s,
        [am.id for am, *_ in methods],
        {am.draw_id: voided is not None for am, _, _, _, voided in methods if am.draw_id is not None},
    )
    definition = for_release(rel)
    views = []
    for am, key, carried_from, extra_time_pct, _ in methods:
        method = definition.method(key)
        if method is None:
            raise SessionError(f"release {rel.semver} has no method {key}")
        views.append(_method_view(am, method, definition.rules.methods.get(key), carried_from, extra_time_pct, rows))
    return views


def _fetch(s: Session, am_ids: list[int], draws: dict[int, bool]) -> _Rows:
    """The rows of these method records and their draws (draw id -> voided): six statements at most."""
    rows = _Rows()
    if not am_ids:
        return rows
    for a, code, version, text in s.execute(
        select(AskRow, col(QuestionRow.code), col(QuestionVersionRow.version), col(QuestionVersionRow.text))
        .outerjoin(QuestionRow, col(QuestionRow.id) == AskRow.question_id)
        .outerjoin(QuestionVersionRow, col(QuestionVersionRow.id) == AskRow.question_version_id)
        .where(col(AskRow.assessment_method_id).in_(am_ids))
        .order_by(col(AskRow.assessment_method_id), col(AskRow.position), col(AskRow.id))
    ):
        rows.asks[a.assessment_method_id].append((a, code, version, text))
    if draws:
        # a live draw's set is its active items; a voided one's is every item but those a swap took out
        # (or an undone swap brought in), sorted out once the swaps are read
        voided = [d for d, v in draws.items() if v]
        for r in s.execute(
            select(
                col(DrawItemRow.draw_id),
                col(DrawItemRow.id),
                col(DrawItemRow.position),
                col(QuestionRow.code),
                QuestionVersionRow,
            )
            .join(QuestionRow, col(QuestionRow.id) == DrawItemRow.question_id)
            .join(QuestionVersionRow, col(QuestionVersionRow.id) == DrawItemRow.question_version_id)
            .where(
                col(DrawItemRow.draw_id).in_(list(draws)),
                or_(col(DrawItemRow.active).is_(True), col(DrawItemRow.draw_id).in_(voided)),
            )
            .order_by(col(DrawItemRow.draw_id), col(DrawItemRow.position), col(DrawItemRow.id))
        ):
            rows.items[r[0]].append(r[1:])
        qv_ids = list({qv.id for items in rows.items.values() for *_, qv in items})
        if qv_ids:
            for qv, code in s.execute(
                select(col(QuestionVersionOutcomeRow.question_version_id), col(OutcomeRow.code))
                .join(OutcomeRow, col(OutcomeRow.id) == QuestionVersionOutcomeRow.outcome_id)
                .where(col(QuestionVersionOutcomeRow.question_version_id).in_(qv_ids))
                .order_by(col(OutcomeRow.position))
            ):
                rows.outcomes[qv].append(code)
        out_item, in_item = table_of(DrawItemRow).alias("o"), table_of(DrawItemRow).alias("i")
        qo, qi = table_of(QuestionRow).alias("qo"), table_of(QuestionRow).alias("qi")
        for r in s.execute(
            select(
                col(DrawSwapRow.draw_id),
                col(DrawSwapRow.id),
                col(DrawSwapRow.reason),
                col(DrawSwapRow.created_at),
                col(DrawSwapRow.undone_at),
                col(DrawSwapRow.out_item_id),
                col(DrawSwapRow.in_item_id),
                qo.c.code,
                qi.c.code,
            )
            .join(out_item, out_item.c.id == DrawSwapRow.out_item_id)
            .join(qo, qo.c.id == out_item.c.question_id)
            .join(in_item, in_item.c.id == DrawSwapRow.in_item_id)
            .join(qi, qi.c.id == in_item.c.question_id)
            .where(col(DrawSwapRow.draw_id).in_(list(draws)))
            .order_by(col(DrawSwapRow.draw_id), col(DrawSwapRow.id))
        ):
            rows.swaps[r[0]].append(r[1:])
        for d in voided:
            gone = {out_id if undone_at is None else in_id for _, _, _, undone_at, out_id, in_id, _, _ in rows.swaps[d]}
            rows.items[d] = [it for it in rows.items[d] if it[0] not in gone]
    for ev in s.execute(
        select(EvidenceRow)
        .where(col(EvidenceRow.assessment_method_id).in_(am_ids))
        .order_by(col(EvidenceRow.assessment_method_id), col(EvidenceRow.id))
    ).scalars():
        rows.evidence[ev.assessment_method_id].append(ev)
    for mark in s.execute(
        select(CriterionMarkRow)
        .where(col(CriterionMarkRow.assessment_method_id).in_(am_ids))
        .order_by(col(CriterionMarkRow.assessment_method_id), col(CriterionMarkRow.id))
    ).scalars():
        rows.marks[mark.assessment_method_id].append(mark)
    return rows


def _method_view(
    am: AssessmentMethodRow,
    method: Method,
    scheme: MethodScheme | None,
    carried_from: int | None,
    extra_time_pct: int | None,
    rows: _Rows,
) -> MethodView:
    asks = rows.asks[am.id]
    questions: list[QuestionView] = []
    swaps: list[SwapView] = []
    budget = method.minutes
    if am.draw_id is not None:
        assert extra_time_pct is not None  # read from the method's draw
        budget = method.minutes * (100 + extra_time_pct) // 100
        by_code = {code: a for a, code, _, _ in asks if code}
        for _, position, code, qv in rows.items[am.draw_id]:
            questions.append(
                QuestionView(
                    code=code,
                    version=qv.version,
                    text=qv.text,
                    outcomes=rows.outcomes[qv.id],
                    minutes=qv.minutes,
                    probes=json.loads(qv.probes_json),
                    guidance=qv.guidance,
                    topic=qv.topic,
                    position=position,
                    opener=qv.opener,
                    bands=json.loads(qv.bands_json or "{}"),
                    **_ask_fields(by_code.get(code)),
                )
            )
        drawn = {q.code for q in questions}
        for a, code, version, text in asks:  # asked or skipped, then swapped out (kept: the record shows what was put)
            if code and code not in drawn and a.status in ("asked", "skipped"):
                questions.append(QuestionView(code=code, version=version, text=text, outcomes=[], **_ask_fields(a)))
        swaps = [
            SwapView(
                out_code=out_code,
                in_code=in_code,
                reason=reason,
                created_at=created,
                undone=undone_at is not None,
                undone_at=undone_at,
                id=sw_id,
            )
            for sw_id, reason, created, undone_at, _, _, out_code, in_code in rows.swaps[am.draw_id]
        ]
    for a, *_ in asks:
        if a.adhoc_text is not None:
            questions.append(
                QuestionView(
                    code=None,
                    version=None,
                    text=a.adhoc_text,
                    outcomes=json.loads(a.adhoc_outcomes_json),
                    position=a.position,
                    adhoc=True,
                    **_ask_fields(a),
                )
            )
    evidence = [
        EvidenceView(
            id=e.id,
            criterion=e.criterion,
            outcomes=json.loads(e.outcomes_json),
            level=e.level,
            note=e.note,
            ask_id=e.ask_id,
            created_at=e.created_at,
            retracted=e.retracted_at is not None,
            retracted_at=e.retracted_at,
            retract_reason=e.retract_reason or "",
        )
        for e in rows.evidence[am.id]
    ]
    marks = {
        m.criterion: MarkView(criterion=m.criterion, mark=m.mark, strengths=m.strengths, improvements=m.improvements)
        for m in rows.marks[am.id]
    }
    grade = am.confirmed_grade or am.grade
    if am.status == "carried":  # graded in an earlier attempt: nothing is logged here
        olevels, unc, result = {}, [], None
        reason = f"{grade}: carried over from assessment {carried_from}" if carried_from else (grade or "")
    else:
        standing = method_standing(
            scheme,
            method.assesses,
            [(e.criterion, e.outcomes, e.level) for e in evidence if not e.retracted]
            + _sheet_evidence(method, scheme, marks),
            {k: m.mark for k, m in marks.items() if m.mark is not None},
        )
        olevels, unc, result = standing.outcome_levels, standing.uncovered, standing.result
        reason = result.reason if result is not None else ""
        if result is not None and am.confirmed_grade and am.grade and am.confirmed_grade != am.grade:
            reason = (
                f"{am.confirmed_grade}: recorded by the assessor, who disagreed with the rules "
                f"({result.reason}): {am.disagreement}"
            )
    return MethodView(
        id=am.id,
        method=method,
        scheme=scheme,
        status=am.status,
        position=am.position,
        draw_id=am.draw_id,
        budget_minutes=budget,
        elapsed_seconds=am.elapsed_seconds,
        started_at=am.started_at,
        ended_at=am.ended_at,
        questions=questions,
        swaps=swaps,
        evidence=evidence,
        marks=marks,
        outcome_levels=olevels,
        uncovered=unc,
        result=result,
        grade=grade,
        computed_grade=am.grade,
        confirmed_grade=am.confirmed_grade,
        disagreement=am.disagreement,
        rule_text=am.rule_text or (result.rule_text if result else ""),
        carried_from=carried_from,
        end_reason=am.end_reason or "",
        end_warnings=[w for w in (am.end_warnings or "").split("; ") if w],
        reason=reason,
        report_format=am.report_format,
    )


def _sheet_evidence(
    method: Method, scheme: MethodScheme | None, marks: dict[str, MarkView]
) -> list[tuple[str, list[str], str]]:
    """A report marked on a mark sheet (a method with report formats, graded by marks): each marked
    section evidences the criteria it lists, met when the section reaches its minimum (ILM: "section
    passes have been provided in the assessments ... to ensure all learning outcomes are assessed"),
    not met below it. Only what outcomes show as evidenced; the grade is the marks' alone."""
    if not method.report_formats or scheme is None or scheme.scheme != "marks":
        return []
    out = []
    for c in scheme.criteria:
        mv = marks.get(c.id)
        if mv is None or mv.mark is None:
            continue
        met = c.min is None or mv.mark >= c.min
        out.append((c.id, list(c.outcomes), scheme.levels[-1] if met else scheme.levels[0]))
    return out


def _ask_fields(a: AskRow | None) -> dict:
    """A question's state from its ask row: asked, skipped, or planned (never put, or a skip undone)."""
    if a is None:
        return {}
    put = a.status in ("asked", "skipped")  # "unskipped": a skip undone, the question is planned again
    return {
        "ask_id": a.id if put else None,
        "status": a.status if put else "planned",
        "notes": a.notes,
        "asked_at": a.asked_at if put else None,
        "ask_position": a.position if put else None,
        "skip_reason": a.skip_reason,
        "skipped_at": a.skipped_at,
        "skip_undone_at": a.skip_undone_at,
        "skip_history": [
            {
                "reason": h.get("reason", ""),
                "skipped_at": _from_iso(h.get("skipped_at")),
                "undone_at": _from_iso(h.get("undone_at")),
            }
            for h in json.loads(a.skip_history_json or "[]")
        ],
    }


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# --------------------------------------------------------------------------- lists


def standards(engine: Engine) -> list[StandardChoice]:
    """What an assessment can be started on: each imported standard at its latest release."""
    with Session(engine) as s:
        latest: dict[int, ReleaseRow] = {}
        releases = select(ReleaseRow).order_by(col(ReleaseRow.major), col(ReleaseRow.minor), col(ReleaseRow.patch))
        for rel in s.execute(releases).scalars():  # the latest of each standard last
            latest[rel.standard_id] = rel
        out = []
        for std in s.execute(select(StandardRow).order_by(col(StandardRow.code))).scalars():
            if std.id not in latest:
                continue
            rel = latest[std.id]
            d = for_release(rel)
            out.append(
                StandardChoice(
                    code=std.code,
                    title=d.title,
                    release=rel.semver,
                    methods=[(m.id, m.name) for m in d.methods],
                    default_methods=d.default_methods,
                    report_formats={m.id: m.report_formats for m in d.methods if m.report_formats},
                )
            )
    return out


def unfinished(engine: Engine, assessor: str | None = None) -> list[dict]:
    """Open assessments, newest first: what an assessor can resume."""
    with Session(engine) as s:
        q = _listed("open", assessor)
        return [
            {
                "id": a.id,
                "standard": code,
                "apprentice": ref,
                "assessor": a.assessor,
                "attempt": a.attempt,
                "created_at": a.created_at,
            }
            for a, code, ref in s.execute(q.order_by(col(AssessmentRow.id).desc())).all()
        ]


def completed(engine: Engine, assessor: str | None = None) -> list[dict]:
    """Completed assessments, newest first: the keys of `unfinished()` plus completed_at and the
    overall grade as text ("Merit"; several overall grades as "epa Merit, lsbu-module-8 Pass")."""
    with Session(engine) as s:
        q = _listed("complete", assessor)
        out = []
        for a, code, ref in s.execute(
            q.order_by(col(AssessmentRow.completed_at).desc(), col(AssessmentRow.id).desc())
        ).all():
            overall = [o for o in json.loads(a.overall_json or "[]") if o.get("grade")]
            text = overall[0]["grade"] if len(overall) == 1 else ", ".join(f"{o['id']} {o['grade']}" for o in overall)
            out.append(
                {
                    "id": a.id,
                    "standard": code,
                    "apprentice": ref,
                    "assessor": a.assessor,
                    "attempt": a.attempt,
                    "created_at": a.created_at,
                    "completed_at": a.completed_at,
                    "overall": text,
                }
            )
        return out


def _listed(status: str, assessor: str | None):
    """Assessments in this status (of this assessor, if given), with their standard and apprentice."""
    q = (
        select(AssessmentRow, col(StandardRow.code), col(ApprenticeRow.ref))
        .join(StandardRow, col(StandardRow.id) == AssessmentRow.standard_id)
        .join(ApprenticeRow, col(ApprenticeRow.id) == AssessmentRow.apprentice_id)
        .where(col(AssessmentRow.status) == status)
    )
    return q.where(col(AssessmentRow.assessor) == assessor) if assessor else q
