"""The bank's domain types: standards, their outcomes and methods, questions and releases.

Plain data, read from bank files by `bankfiles` and checked whole by `validation`; the names and
patterns a bank file may use are defined here too. No file reading and no database here.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .defaults import MAX_OUTCOMES_PER_QUESTION, MIN_QUESTIONS_PER_OUTCOME, NEAR_DUPLICATE_THRESHOLD, SIMILAR_WARNING
from .definition import Method as Method  # one type each, shared with the release definition
from .definition import Outcome as Outcome
from .definition import Theme as Theme

GROUPS = ("knowledge", "skill", "behaviour", "criterion")
# a question version moves draft -> reviewed (by a second person) -> approved (released and drawn),
# and is retired when it is no longer used; only approved versions are released
STATUSES = ("draft", "reviewed", "approved", "retired")
BANDS = ("fail", "pass", "merit", "distinction")
METHOD_KINDS = (
    "presentation questioning",
    "professional discussion",
    "oral report questioning",
    "progress review",
    "interview",
    "project showcase questioning",
    "project report",
)
REPORT_FORMATS = ("written", "oral")
CLEARANCES = ("required", "not required")  # standard.toml `clearance` (see qbank.clearance)
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
METHOD_ID_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
OUTCOME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")
SEMVER_RE = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")

DEFAULT_MIN_PER_OUTCOME = MIN_QUESTIONS_PER_OUTCOME
DEFAULT_NEAR_DUPLICATE = NEAR_DUPLICATE_THRESHOLD


@dataclass
class Standard:
    code: str
    title: str
    level: int
    version: str
    source: str = ""
    notes: str = ""
    # "required" when the definition rests on assumptions and a named person must clear each release
    # before live assessment (qbank.clearance); "not required"; "" when the bank file says nothing
    clearance: str = ""
    clearance_reason: str = ""  # what rests on assumptions (shown while a release is not cleared)
    # review and sign-off: the date the bank must next be reviewed ("YYYY-MM-DD", "" when not
    # given), how many months old a question's review may be (None: the default, 12), and the
    # two-person rule (None when not given: on), which only a reason may set off
    review_due: str = ""
    review_interval_months: int | None = None
    two_person_rule: bool | None = None
    two_person_rule_reason: str = ""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    methods: dict[str, Method] = field(default_factory=dict)
    min_per_outcome: int = DEFAULT_MIN_PER_OUTCOME
    near_duplicate_threshold: int = DEFAULT_NEAR_DUPLICATE
    # writers' checks, not frozen in releases: the most outcome tags without a justification, and
    # the similarity from which two texts that share their content words are worth a warning
    max_outcomes_per_question: int = MAX_OUTCOMES_PER_QUESTION
    similar_warning: int = SIMILAR_WARNING
    grading: dict[str, Any] = field(default_factory=dict)
    grading_rules: object = None  # grading.GradingRules, read from `grading` by gradingfile.read_grading
    path: str = ""
    folder: Path | None = None
    lines: dict[str, int] = field(default_factory=dict)  # "method:<id>" / "outcome:<code>" -> line
    # outcome codes and method ids the file declares but that could not be read: their errors are
    # reported where they are, and what names them is not reported again as unknown
    unreadable_outcomes: set[str] = field(default_factory=set)
    unreadable_methods: set[str] = field(default_factory=set)

    def definition(self) -> dict[str, Any]:
        """The standard's definition as frozen into a release, notes and clearance included.

        `notes`, `clearance`, `clearance_reason` and the review keys (`review_due`,
        `review_interval_months`, `two_person_rule`, `two_person_rule_reason`) are added only when
        given, so that every release made before they were frozen keeps its definition hash."""
        d: dict[str, Any] = {
            "code": self.code,
            "title": self.title,
            "level": self.level,
            "version": self.version,
            "source": self.source,
            "outcomes": [o.as_dict() for o in self.outcomes.values()],
            "methods": [m.as_dict() for m in self.methods.values()],
            "checks": {
                "min_questions_per_outcome": self.min_per_outcome,
                "near_duplicate_threshold": self.near_duplicate_threshold,
            },
            "grading": self.grading,
        }
        if self.notes:
            d["notes"] = self.notes
        if self.clearance:
            d["clearance"] = self.clearance
        if self.clearance_reason:
            d["clearance_reason"] = self.clearance_reason
        if self.review_due:
            d["review_due"] = self.review_due
        if self.review_interval_months is not None:
            d["review_interval_months"] = self.review_interval_months
        if self.two_person_rule is not None:
            d["two_person_rule"] = self.two_person_rule
        if self.two_person_rule_reason:
            d["two_person_rule_reason"] = self.two_person_rule_reason
        return d

    @property
    def two_person(self) -> bool:
        """Whether `qbank release` holds new question versions to the two-person rule (on unless
        the standard sets it off)."""
        return self.two_person_rule is not False


@dataclass
class Question:
    id: str
    version: int
    status: str
    standard: str
    methods: tuple[str, ...]
    outcomes: tuple[str, ...]
    minutes: int
    text: str
    probes: tuple[str, ...] = ()
    guidance: str = ""
    bands: dict[str, str] = field(default_factory=dict)
    opener: bool = False
    topic: str = ""
    author: str = ""
    # who reviewed the version (a second person: never its author) and when ("YYYY-MM-DD"); like
    # `author`, not content: recording a review needs no new version
    reviewer: str = ""
    reviewed: str = ""
    # ids of questions never to share a set with this one (declared by the writer: near-duplicates
    # in disguise that the text comparison misses); the relation is symmetric
    excludes: tuple[str, ...] = ()
    # why the question carries more outcome tags than the standard's cap (empty when within it)
    tags_justification: str = ""
    path: str = ""
    line: int | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def content(self) -> dict[str, Any]:
        """Everything that makes up a question version; changing any of it needs a new version."""
        d: dict[str, Any] = {
            "text": self.text,
            "probes": list(self.probes),
            "guidance": self.guidance,
            "bands": dict(sorted(self.bands.items())),
            "methods": sorted(self.methods),
            "outcomes": sorted(self.outcomes),
            "minutes": self.minutes,
            "topic": self.topic,
            "opener": self.opener,
        }
        # added only when given, so that every version released before these fields keeps its hash
        if self.excludes:
            d["excludes"] = sorted(self.excludes)
        if self.tags_justification:
            d["tags_justification"] = self.tags_justification
        return d

    @property
    def content_hash(self) -> str:
        """The hash of `content()`, computed once: content never changes after reading.

        (Kept as a plain attribute rather than with functools.cached_property, which takes a lock
        and gives each question a separate attribute dict, one more object for the collector to walk.)
        """
        cached: str | None = getattr(self, "_content_hash", None)
        if cached is None:
            cached = self._content_hash = content_hash(self.content())
        return cached

    def field_line(self, name: str) -> int | None:
        return self.lines.get(name, self.line)


@dataclass
class PartialQuestion:
    """What could be read of a [[question]] block that has errors (reported when it was read).

    Not a question of the bank (nothing draws or releases it), but enough for the checks across
    files to run on it in the same `validate` run: its id is unique, its methods and outcomes
    exist, its `excludes` name questions. A field that could not be read is None or empty."""

    id: str | None
    standard: str
    version: int | None
    methods: tuple[str, ...]
    outcomes: tuple[str, ...]
    excludes: tuple[str, ...]
    path: str
    line: int | None = None
    lines: dict[str, int] = field(default_factory=dict)

    def field_line(self, name: str) -> int | None:
        return self.lines.get(name, self.line)


# The canonical form that every stored hash (release manifests, the store) was computed from: it
# must never change. One encoder reused, rather than json.dumps building one per call.
_canonical_json = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


def content_hash(content: dict[str, Any]) -> str:
    """The hash of a question's content or a definition: sha256 of its canonical JSON."""
    return "sha256:" + hashlib.sha256(_canonical_json(content).encode("utf-8")).hexdigest()


@dataclass
class ReleaseItem:
    question: Question
    hash: str


@dataclass
class Release:
    standard: str
    semver: str
    created: str
    definition: dict[str, Any]
    items: list[ReleaseItem]
    path: str = ""
    # the near-duplicate pairs (id, id, score) the manifest records, found by `qbank release` with
    # this threshold; None for a manifest written before qbank recorded them
    near_duplicates: tuple[tuple[str, str, float], ...] | None = None
    near_duplicate_threshold: float | None = None

    @property
    def key(self) -> tuple[int, int, int]:
        return semver_key(self.semver)

    def manifest_hash(self) -> str:
        return content_hash(
            {
                "definition": self.definition,
                "items": sorted((i.question.id, i.question.version, i.hash) for i in self.items),
            }
        )


def semver_key(s: str) -> tuple[int, int, int]:
    m = SEMVER_RE.match(s)
    if not m:
        raise ValueError(s)
    return (int(m[1]), int(m[2]), int(m[3]))
