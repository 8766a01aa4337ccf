"""The store's tables (SQLModel). Every record that refers to a question pins an exact version.

Standards, their outcomes and methods reflect the latest imported release; each release keeps
the full definition it was made with (`definition_json`), so nothing is lost when a later
release changes a method. Question versions are immutable rows, identified by
(question, version) and checked by content hash.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import Column, DateTime, Index, Integer, String, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from .defaults import EXPOSURE_CAP, NEAR_DUPLICATE_THRESHOLD


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# Primary keys are typed `int` though they default to None: the database assigns them at the first
# flush, and every row the code reads back has one, so `row.id` is an int wherever it is used. (The
# column is NOT NULL either way, as a primary key; the schema is unchanged.)


def table_of(model: type[SQLModel]) -> Table:
    """The Table a table model maps to, for Core statements (insert, bulk copies)."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel sets __table__ but does not declare it
    return table


class StandardRow(SQLModel, table=True):
    __tablename__ = "standard"
    id: int = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    title: str
    level: int
    version: str
    source: str = ""
    min_per_outcome: int = 3
    near_duplicate_threshold: int = NEAR_DUPLICATE_THRESHOLD
    grading_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))


class OutcomeRow(SQLModel, table=True):
    __tablename__ = "outcome"
    __table_args__ = (UniqueConstraint("standard_id", "code"),)
    id: int = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    code: str = Field(max_length=64)
    title: str
    group: str = Field(max_length=16)
    position: int = 0


class MethodRow(SQLModel, table=True):
    __tablename__ = "method"
    __table_args__ = (UniqueConstraint("standard_id", "key"),)
    id: int = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    key: str = Field(max_length=64)
    name: str
    kind: str
    minutes: int
    min_questions: int
    position: int = 0


class MethodOutcomeRow(SQLModel, table=True):
    """Outcomes a method must assess."""

    __tablename__ = "method_outcome"
    method_id: int = Field(foreign_key="method.id", primary_key=True)
    outcome_id: int = Field(foreign_key="outcome.id", primary_key=True)


class QuestionRow(SQLModel, table=True):
    __tablename__ = "question"
    __table_args__ = (Index("ix_question_standard_id_code", "standard_id", "code"),)  # `list --standard`, in order
    id: int = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    standard_id: int = Field(foreign_key="standard.id", index=True)


class QuestionVersionRow(SQLModel, table=True):
    __tablename__ = "question_version"
    __table_args__ = (UniqueConstraint("question_id", "version"),)
    id: int = Field(default=None, primary_key=True)
    question_id: int = Field(foreign_key="question.id", index=True)
    version: int
    content_hash: str = Field(max_length=80)
    text: str = Field(sa_column=Column(Text, nullable=False))
    probes_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    guidance: str = Field(default="", sa_column=Column(Text, nullable=False))
    bands_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    minutes: int
    topic: str = ""
    opener: bool = False
    author: str = ""
    # ids of questions never to be drawn in one set with this one (the writer's declared "enemies")
    excludes_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]", server_default="[]"))
    # why a question carries more outcome tags than the standard's cap (empty when within it)
    tags_justification: str = Field(default="", sa_column=Column(Text, nullable=False, default="", server_default=""))


class QuestionVersionOutcomeRow(SQLModel, table=True):
    __tablename__ = "question_version_outcome"
    question_version_id: int = Field(foreign_key="question_version.id", primary_key=True)
    outcome_id: int = Field(foreign_key="outcome.id", primary_key=True, index=True)


class QuestionVersionMethodRow(SQLModel, table=True):
    __tablename__ = "question_version_method"
    question_version_id: int = Field(foreign_key="question_version.id", primary_key=True)
    method_id: int = Field(foreign_key="method.id", primary_key=True, index=True)


class ReleaseRow(SQLModel, table=True):
    __tablename__ = "release"
    __table_args__ = (UniqueConstraint("standard_id", "semver"),)
    id: int = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    semver: str = Field(max_length=32)
    major: int
    minor: int
    patch: int
    created: str
    manifest_hash: str = Field(max_length=80)
    definition_json: str = Field(sa_column=Column(Text, nullable=False))
    imported_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    # the manifest file's bytes (SHA-256), so that importing unchanged files again reads nothing else;
    # None for a release imported before qbank recorded it (filled in by the next import)
    manifest_sha256: str | None = Field(default=None, max_length=64, index=True)
    # the standard's near-duplicate threshold the release's stored pairs were found with
    near_duplicate_threshold: float | None = Field(default=None)


class ReleaseItemRow(SQLModel, table=True):
    __tablename__ = "release_item"
    release_id: int = Field(foreign_key="release.id", primary_key=True)
    question_version_id: int = Field(foreign_key="question_version.id", primary_key=True, index=True)
    # who reviewed the version and when ("YYYY-MM-DD"), as the release froze them: not content, so
    # kept per release (a later release may record a later review); "" when not recorded
    reviewer: str = Field(default="", sa_column=Column(Text, nullable=False, default="", server_default=""))
    reviewed_on: str = Field(default="", sa_column=Column(Text, nullable=False, default="", server_default=""))


class ReleaseNearDuplicateRow(SQLModel, table=True):
    """Two question versions of a release whose texts are near-duplicates (by the standard's
    threshold): found once, when the release is released or imported (a release never changes),
    and read by every draw, which must not put both in one set."""

    __tablename__ = "release_near_duplicate"
    release_id: int = Field(foreign_key="release.id", primary_key=True)
    a_version_id: int = Field(foreign_key="question_version.id", primary_key=True)
    b_version_id: int = Field(foreign_key="question_version.id", primary_key=True)
    score: float
    # "text": found by the similarity scan (score is the similarity); "declared": a writer's
    # `excludes` pair (score 100), which no draw may put in one set either
    kind: str = Field(
        default="text", sa_column=Column(String(8), nullable=False, default="text", server_default="text")
    )


class ReleasePoolRow(SQLModel, table=True):
    """One method's draw pool in a release, as compact JSON (`pools.pool_payload`): derived from the
    release's rows, written at import (or by the first draw that finds it missing) and never
    changed, so a cold draw reads one row instead of every candidate and its outcomes."""

    __tablename__ = "release_pool"
    release_id: int = Field(foreign_key="release.id", primary_key=True)
    method_id: int = Field(foreign_key="method.id", primary_key=True)
    format: int
    payload: str = Field(sa_column=Column(Text, nullable=False))


class ReleasePlanRow(SQLModel, table=True):
    """One method's exposure plan in a release (`floor.Plan` as JSON): the least maximum exposure
    the bank allows and the rates the draw steers towards, solved once by `qbank import` or
    `qbank plan` and never changed (a release never changes)."""

    __tablename__ = "release_plan"
    release_id: int = Field(foreign_key="release.id", primary_key=True)
    method_id: int = Field(foreign_key="method.id", primary_key=True)
    algorithm: str = Field(max_length=32)
    payload: str = Field(sa_column=Column(Text, nullable=False))


class ApprenticeRow(SQLModel, table=True):
    """A pseudonymous apprentice: the EPAO's reference only, never a name."""

    __tablename__ = "apprentice"
    id: int = Field(default=None, primary_key=True)
    ref: str = Field(index=True, unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class DrawRow(SQLModel, table=True):
    """One drawn set, with everything needed to replay it: seed, release, parameters, and the
    usage snapshot and apprentice history the draw saw."""

    __tablename__ = "draw"
    # a draw's usage window reads the newest draws of its method
    __table_args__ = (Index("ix_draw_method_id_id", "method_id", "id"),)
    id: int = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    method_id: int = Field(foreign_key="method.id", index=True)
    release_id: int = Field(foreign_key="release.id")
    apprentice_id: int = Field(foreign_key="apprentice.id", index=True)
    attempt: str = Field(max_length=16)
    cohort: str = Field(default="", max_length=128, index=True)
    extra_time_pct: int = 0
    exposure_cap: float = EXPOSURE_CAP
    seed: str = Field(max_length=64)
    algorithm: str = Field(default="qbank-draw/1", max_length=32)
    exclude_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))  # the apprentice's history
    # bank questions left out because they are near-duplicates of ad-hoc questions already put to the
    # apprentice; replay excludes these as well as `exclude_json`
    adhoc_exclude_json: str = Field(
        default="[]", sa_column=Column(Text, nullable=False, default="[]", server_default="[]")
    )
    usage_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    voided_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )
    owner: str = Field(default="", sa_column=Column(String(128), nullable=False, default="", server_default=""))


class DrawItemRow(SQLModel, table=True):
    """A question in a drawn set, pinned to its version. The unique (apprentice, question, void_key)
    triple is the database's guarantee that no apprentice is ever given the same question twice: a
    live item has void_key 0; an item that no longer counts against the apprentice (its draw was
    voided unused, or it came in by a swap that was undone) gets void_key = its own id, which frees
    the question for a later draw while the row is kept."""

    __tablename__ = "draw_item"
    __table_args__ = (
        UniqueConstraint("apprentice_id", "question_id", "void_key", name="uq_draw_item_apprentice_question_void_key"),
    )
    id: int = Field(default=None, primary_key=True)
    draw_id: int = Field(foreign_key="draw.id", index=True)
    position: int
    question_id: int = Field(foreign_key="question.id", index=True)
    question_version_id: int = Field(foreign_key="question_version.id")
    apprentice_id: int = Field(foreign_key="apprentice.id")
    origin: str = Field(default="draw", max_length=8)  # draw | swap
    active: bool = True  # False once swapped out (it still counts as drawn for the apprentice), or voided
    void_key: int = Field(default=0, sa_column=Column(Integer, nullable=False, default=0, server_default="0"))


class DrawSwapRow(SQLModel, table=True):
    __tablename__ = "draw_swap"
    id: int = Field(default=None, primary_key=True)
    draw_id: int = Field(foreign_key="draw.id", index=True)
    out_item_id: int = Field(foreign_key="draw_item.id")
    in_item_id: int = Field(foreign_key="draw_item.id")
    reason: str = Field(sa_column=Column(Text, nullable=False))
    seed: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    undone_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )


class AssessmentRow(SQLModel, table=True):
    """One assessment of one apprentice: an attempt at some methods of a standard, under one release.
    On a resit or retake, `previous_id` names the assessment whose passed grades carry over."""

    __tablename__ = "assessment"
    id: int = Field(default=None, primary_key=True)
    standard_id: int = Field(foreign_key="standard.id", index=True)
    release_id: int = Field(foreign_key="release.id")
    apprentice_id: int = Field(foreign_key="apprentice.id", index=True)
    assessor: str = Field(max_length=128, index=True)
    # the database user who started it (PostgreSQL's current_user; the operating-system user on
    # SQLite): row-level security lets only them (and an admin) see and change it
    owner: str = Field(
        default="", sa_column=Column(String(128), nullable=False, default="", server_default="", index=True)
    )
    attempt: str = Field(max_length=16)  # first | resit | retake
    cohort: str = Field(default="", max_length=128)
    previous_id: int | None = Field(default=None, foreign_key="assessment.id")
    extra_time_pct: int = 0
    adjustments: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default="open", max_length=16)  # open | complete | void
    override_by: str | None = Field(default=None, max_length=128)
    override_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    override_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    overall_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    ui_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))  # where the TUI was
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    # a start that was never used (nothing asked or evidenced), voided: kept, never deleted
    void_by: str | None = Field(default=None, max_length=128)
    void_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    # the learner's declarations on the record, e.g. ILM's mark sheet: {"authenticity": true,
    # "anonymous_use_refused": false}, each with who recorded it and when
    declarations_json: str = Field(
        default="{}", sa_column=Column(Text, nullable=False, default="{}", server_default="{}")
    )


class AssessmentMethodRow(SQLModel, table=True):
    """One method within an assessment: its drawn set, timer, grade and the assessor's confirmation.
    A method passed in an earlier attempt is carried over (`carried_from_id`) and not re-assessed."""

    __tablename__ = "assessment_method"
    __table_args__ = (UniqueConstraint("assessment_id", "method_id", name="uq_assessment_method"),)
    id: int = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True)
    method_id: int = Field(foreign_key="method.id", index=True)
    position: int
    draw_id: int | None = Field(default=None, foreign_key="draw.id", index=True)  # joins from draws
    carried_from_id: int | None = Field(default=None, foreign_key="assessment_method.id")
    status: str = Field(default="pending", max_length=16)  # pending | running | ended | carried
    started_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    elapsed_seconds: float = 0.0  # timer, paused time excluded
    grade: str | None = Field(default=None, max_length=64)  # computed by the grading engine at the end
    rule_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    confirmed_grade: str | None = Field(default=None, max_length=64)  # what the assessor confirmed
    disagreement: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    strengths: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    improvements: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # ending early (fewer questions than the minimum, or under half the time): the assessor's reason
    # and the warnings it answered
    end_reason: str = Field(default="", sa_column=Column(Text, nullable=False, default="", server_default=""))
    end_warnings: str = Field(default="", sa_column=Column(Text, nullable=False, default="", server_default=""))
    # for a method whose report may be written or oral (ILM): which the learner chose; None otherwise
    report_format: str | None = Field(default=None, max_length=16)


class AskRow(SQLModel, table=True):
    """A question put to the apprentice: a drawn one (pinned version) or an ad-hoc one the assessor
    wrote in their own words, tagged with outcomes; with the assessor's notes on the answer."""

    __tablename__ = "ask"
    __table_args__ = (UniqueConstraint("assessment_method_id", "question_id", name="uq_ask_question"),)
    id: int = Field(default=None, primary_key=True)
    assessment_method_id: int = Field(foreign_key="assessment_method.id", index=True)
    question_id: int | None = Field(default=None, foreign_key="question.id", index=True)
    question_version_id: int | None = Field(default=None, foreign_key="question_version.id")
    adhoc_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    adhoc_outcomes_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    position: int
    status: str = Field(default="asked", max_length=16)  # asked | skipped | unskipped (a skip undone: planned again)
    notes: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    asked_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    # the latest skip: why, when, and when it was undone (if it was); earlier skip/undo cycles of the
    # same question are kept in skip_history_json as [{"reason", "skipped_at", "undone_at"}]
    skip_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    skipped_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    skip_undone_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    skip_history_json: str = Field(
        default="[]", sa_column=Column(Text, nullable=False, default="[]", server_default="[]")
    )


class EvidenceRow(SQLModel, table=True):
    """One judgement logged during a method: a criterion evidenced at a level, for some outcomes,
    usually from the answer to one ask. Never deleted: a mistaken entry is retracted."""

    __tablename__ = "evidence"
    id: int = Field(default=None, primary_key=True)
    assessment_method_id: int = Field(foreign_key="assessment_method.id", index=True)
    ask_id: int | None = Field(default=None, foreign_key="ask.id", index=True)
    criterion: str = Field(max_length=64)
    outcomes_json: str = Field(default="[]", sa_column=Column(Text, nullable=False, default="[]"))
    level: str = Field(max_length=64)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))
    retracted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    retract_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class CriterionMarkRow(SQLModel, table=True):
    """Per criterion (a mark-sheet section or weighted component): the mark, strengths and areas
    for improvement, as on the ILM mark sheet."""

    __tablename__ = "criterion_mark"
    __table_args__ = (UniqueConstraint("assessment_method_id", "criterion", name="uq_criterion_mark"),)
    id: int = Field(default=None, primary_key=True)
    assessment_method_id: int = Field(foreign_key="assessment_method.id", index=True)
    criterion: str = Field(max_length=64)
    mark: float | None = None
    strengths: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    improvements: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class SecondMarkRow(SQLModel, table=True):
    """Internal quality assurance: a second marker's own judgement of one assessed method (ILM's
    "QA mark", an EPAO's IQA sample), kept beside the assessor's. Marks per criterion for a marks
    or weighted scheme, levels per criterion for descriptors, and the grade the rules give them.
    Never changed: a corrected second mark is a new row; the newest one counts."""

    __tablename__ = "second_mark"
    id: int = Field(default=None, primary_key=True)
    assessment_method_id: int = Field(foreign_key="assessment_method.id", index=True)
    marker: str = Field(max_length=128)
    owner: str = Field(default="", sa_column=Column(String(128), nullable=False, default="", server_default=""))
    marks_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))  # criterion -> mark
    levels_json: str = Field(default="{}", sa_column=Column(Text, nullable=False, default="{}"))  # criterion -> level
    grade: str | None = Field(default=None, max_length=64)  # what the rules give the second marker's judgement
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class ReleaseClearanceRow(SQLModel, table=True):
    """A named person's clearance of a release for live assessment: needed when the standard's
    definition rests on assumptions (its notes say which). Append-only; a withdrawal is a row too."""

    __tablename__ = "release_clearance"
    id: int = Field(default=None, primary_key=True)
    release_id: int = Field(foreign_key="release.id", index=True)
    cleared_by: str = Field(max_length=128)
    owner: str = Field(default="", sa_column=Column(String(128), nullable=False, default="", server_default=""))
    action: str = Field(default="clear", max_length=16)  # clear | withdraw
    note: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


class AuditEventRow(SQLModel, table=True):
    """The audit log (qbank.audit): one event per write to a record row, in the same transaction,
    append-only and hash-chained. `row_hash` is the row's content as written (never the content
    itself, so erasing a person's data leaves the log intact); `hash` covers this event and the
    previous event's hash, so a changed, removed or re-ordered event breaks the chain."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_table_row", "table_name", "row_key", "seq"),)
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(sa_column=Column(String(128), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))  # insert | update | delete | seal | import | erase
    table_name: str = Field(sa_column=Column(String(32), nullable=False))
    row_key: str = Field(sa_column=Column(String(64), nullable=False))
    apprentice_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True, index=True))
    row_hash: str = Field(sa_column=Column(String(64), nullable=False))
    detail: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
