"""The views of an assessment: what the assessor's screens, the record and the commands read.

Plain data built by the read model (`assessment_view`) from the stored rows; a method's view
carries the grading engine's standing on what is logged (`grading.method_standing`). `sessions`
re-exports them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .declarations import Declarations
from .definition import Method
from .grading import DEFAULT_LEVELS, GradingRules, MethodResult, MethodScheme, OverallResult, Override
from .session_guards import SessionError

if TYPE_CHECKING:
    from .clearance import Clearance


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
            out.append(
                {"reason": self.skip_reason or "", "skipped_at": self.skipped_at, "undone_at": self.skip_undone_at}
            )
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
    # how the learner presented the report (written | oral) for a method with report formats, else None
    report_format: str | None = None

    @property
    def questioning(self) -> bool:
        """Questions are part of this method as it runs: a drawn set (at the start, or when the
        assessor chose to ask questions after an oral report)."""
        return self.draw_id is not None

    @property
    def levels(self) -> tuple[str, ...]:
        return self.scheme.levels if self.scheme else DEFAULT_LEVELS

    @property
    def asked(self) -> list[QuestionView]:
        """Questions put to the apprentice (drawn and ad hoc), in the order they were asked."""
        return sorted(
            (q for q in self.questions if q.status == "asked"), key=lambda q: (q.ask_position or 0, q.ask_id or 0)
        )

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
    # each outcome's full statement in the standard's words, or its title where the release has none
    # (shown where the assessor judges evidence; titles stay where space is tight)
    outcome_statements: dict[str, str] = field(default_factory=dict)
    # the release's clearance for live assessment now (the screens' banner) and as it stood when the
    # assessment was started (the record); see qbank.clearance
    clearance: Clearance | None = None
    clearance_at_start: Clearance | None = None
    # the learner's declarations (ILM's mark sheet: authenticity, refusal of anonymous use)
    declarations: Declarations = field(default_factory=Declarations)

    def method(self, key: str) -> MethodView:
        for m in self.methods:
            if m.method.id == key:
                return m
        raise SessionError(
            f"assessment {self.id} has no method '{key}' (it has: {', '.join(m.method.id for m in self.methods)})"
        )


@dataclass
class StandardChoice:
    code: str
    title: str
    release: str
    methods: list[tuple[str, str]]  # (id, name)
    default_methods: list[str]
    # method id -> the formats its report may take (written, oral), for the methods that have them
    report_formats: dict[str, tuple[str, ...]] = field(default_factory=dict)
