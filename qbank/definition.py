"""What a release defines, typed: the standard's outcomes, methods, checks and grading rules.

A release freezes the standard's definition beside its questions: `Standard.definition()` writes
it, the release manifest carries it, and the store keeps it as `release.definition_json`. Every
reader of that JSON goes through `ReleaseDefinition`: `from_json` reads it into frozen dataclasses,
`to_json` gives back exactly the text the store holds, and `for_release` reads each release once
(a release never changes). `Method` is qbank's one method type: the draw engine, the grading rules
and the live assessment all use it.

Pure: no database and no files here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from .defaults import MIN_QUESTIONS_PER_OUTCOME, NEAR_DUPLICATE_THRESHOLD, REVIEW_INTERVAL_MONTHS

if TYPE_CHECKING:
    from .grading import GradingRules

KNOWN_KEYS = ("code", "title", "level", "version", "source", "outcomes", "methods", "checks", "grading")
# text keys a definition holds only when the standard gives them (releases made before they were
# frozen lack them): definition key -> ReleaseDefinition field
OPTIONAL_TEXT = {
    "notes": "standard_notes",
    "clearance": "clearance",
    "clearance_reason": "clearance_reason",
    "review_due": "review_due",
    "two_person_rule_reason": "two_person_rule_reason",
}
# other keys of that kind, each read only when of its type: definition key -> (field, type)
OPTIONAL_VALUES: dict[str, tuple[str, type]] = {
    "review_interval_months": ("review_interval_months", int),
    "two_person_rule": ("two_person_rule", bool),
}


@dataclass(frozen=True)
class Outcome:
    """An outcome (KSB or criterion): a short `title` for screens and, where the bank gives it, the
    standard's own `statement`, word for word, for where the assessor judges evidence."""

    code: str
    title: str
    group: str
    statement: str = ""

    def as_dict(self) -> dict[str, str]:
        d = {"code": self.code, "group": self.group, "title": self.title}
        if self.statement:  # left out when empty, so releases made before statements read back the same
            d["statement"] = self.statement
        return d

    @property
    def words(self) -> str:
        """The standard's words when the bank gives them, else the short title."""
        return self.statement or self.title


@dataclass(frozen=True)
class Theme:
    """A group of a method's outcomes from which a drawn set must take at least `min_questions`
    questions (ST0480 method 1: "at least 6 questions, 2 from each of the 3 grading themes"). A
    question counts for a theme when it targets one of the theme's outcomes, and for one theme
    only: a set meets its themes when its questions can be shared out so that each theme gets its
    minimum."""

    name: str
    outcomes: frozenset[str]
    min_questions: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcomes": sorted(self.outcomes), "min_questions": self.min_questions}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Theme:
        return cls(name=d["name"], outcomes=frozenset(d["outcomes"]), min_questions=d["min_questions"])


@dataclass(frozen=True)
class Method:
    """An assessment method as the release defines it; what a draw for it must cover is `required`."""

    id: str
    name: str
    kind: str
    minutes: int
    min_questions: int
    assesses: tuple[str, ...]
    themes: tuple[Theme, ...] = ()
    # how the learner may present the work the method assesses, e.g. ("written", "oral") for ILM's
    # project report; empty when there is one way. With min_questions 0, questioning is optional.
    report_formats: tuple[str, ...] = ()
    # the outcomes a drawn question set must cover, when not every one the method assesses: where
    # the plan has the questioning probe a submitted piece of work that evidences the rest (ST0480
    # method 1: the proposal and presentation, with "2 questions from each theme")
    draw_covers: tuple[str, ...] | None = None

    @cached_property
    def required(self) -> frozenset[str]:
        """The outcomes a drawn set must cover: every one the method assesses, unless the method
        names fewer in `draw_covers`."""
        return frozenset(self.assesses if self.draw_covers is None else self.draw_covers)

    @property
    def questions_optional(self) -> bool:
        """Questioning is the assessor's option (ILM: questions after an oral report)."""
        return self.min_questions == 0

    @property
    def least_questions(self) -> int:
        """The fewest questions a drawn set may have: the method's minimum, or its themes' sum."""
        return max(self.min_questions, sum(t.min_questions for t in self.themes), 1)

    @classmethod
    def for_draw(cls, id: str, required: Iterable[str], minutes: int, min_questions: int) -> Method:
        """A method given only by what the draw engine reads (simulations, previews, tests)."""
        return cls(
            id=id, name=id, kind="", minutes=minutes, min_questions=min_questions, assesses=tuple(sorted(required))
        )

    def as_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "minutes": self.minutes,
            "min_questions": self.min_questions,
            "assesses": list(self.assesses),
        }
        # left out when empty, so that definitions released before them read back the same
        if self.themes:
            d["themes"] = [t.as_dict() for t in self.themes]
        if self.report_formats:
            d["report_formats"] = list(self.report_formats)
        if self.draw_covers is not None:
            d["draw_covers"] = list(self.draw_covers)
        return d

    @classmethod
    def from_dict(cls, m: Mapping[str, Any]) -> Method:
        return cls(
            id=m["id"],
            name=m["name"],
            kind=m["kind"],
            minutes=m["minutes"],
            min_questions=m["min_questions"],
            assesses=tuple(m["assesses"]),
            themes=tuple(Theme.from_dict(t) for t in m.get("themes", ())),
            report_formats=tuple(m.get("report_formats", ())),
            draw_covers=None if m.get("draw_covers") is None else tuple(m["draw_covers"]),
        )


@dataclass(frozen=True)
class Checks:
    """The standard's bank checks: questions each outcome needs, and when two texts are near-duplicates."""

    min_questions_per_outcome: int = MIN_QUESTIONS_PER_OUTCOME
    near_duplicate_threshold: int = NEAR_DUPLICATE_THRESHOLD


@dataclass(frozen=True)
class ReleaseDefinition:
    code: str
    title: str
    level: int
    version: str
    outcomes: tuple[Outcome, ...]
    methods: tuple[Method, ...]
    source: str = ""
    checks: Checks = Checks()
    grading_json: str = "{}"  # the [grading] table as released, canonical JSON; read into `rules` when needed
    extra_json: str = "{}"  # keys this qbank does not know, kept so that `to_json` gives back what was read
    # the keys the stored definition left out, of those it may (the importer reads them with defaults):
    # source, checks, checks.min_questions_per_outcome, checks.near_duplicate_threshold, grading;
    # `to_json` leaves them out again
    absent: frozenset[str] = frozenset()
    # the standard's notes (which facts are verified, which are assumptions), frozen with the release;
    # not `notes`, which is the grading rules' notes for assessors
    standard_notes: str = ""
    clearance: str = ""  # "required", "not required", or "" when the release declares nothing
    clearance_reason: str = ""  # what rests on assumptions, when clearance is required
    # review and sign-off, as the release froze them (empty / None when the release declares
    # nothing, as every release made before they were recorded): the date the bank was next due
    # for review, how old a question's review may be, and the two-person rule (off only with a reason)
    review_due: str = ""
    review_interval_months: int | None = None
    two_person_rule: bool | None = None
    two_person_rule_reason: str = ""

    # ------------------------------------------------------------------ reading and writing

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReleaseDefinition:
        checks = d.get("checks", {})
        absent = {k for k in ("source", "checks", "grading") if k not in d}
        absent |= {f"checks.{k}" for k in ("min_questions_per_outcome", "near_duplicate_threshold") if k not in checks}
        # read when given as text; anything else (never written by qbank) is kept as read in extra_json
        text = {k: d[k] for k in OPTIONAL_TEXT if isinstance(d.get(k), str) and d[k]}
        text |= {k: d[k] for k, (_, kind) in OPTIONAL_VALUES.items() if _of_type(d.get(k), kind)}
        return cls(
            code=d["code"],
            title=d["title"],
            level=d["level"],
            version=d["version"],
            outcomes=tuple(
                Outcome(code=o["code"], title=o["title"], group=o["group"], statement=o.get("statement", ""))
                for o in d["outcomes"]
            ),
            methods=tuple(Method.from_dict(m) for m in d["methods"]),
            source=d.get("source", ""),
            checks=Checks(
                min_questions_per_outcome=checks.get("min_questions_per_outcome", MIN_QUESTIONS_PER_OUTCOME),
                near_duplicate_threshold=checks.get("near_duplicate_threshold", NEAR_DUPLICATE_THRESHOLD),
            ),
            grading_json=_canonical(d.get("grading", {})),
            extra_json=_canonical({k: v for k, v in d.items() if k not in KNOWN_KEYS and k not in text}),
            absent=frozenset(absent),
            **{(OPTIONAL_TEXT.get(k) or OPTIONAL_VALUES[k][0]): v for k, v in text.items()},
        )

    @classmethod
    def from_json(cls, text: str) -> ReleaseDefinition:
        return cls.from_dict(json.loads(text))

    def to_dict(self) -> dict[str, Any]:
        checks = {
            "min_questions_per_outcome": self.checks.min_questions_per_outcome,
            "near_duplicate_threshold": self.checks.near_duplicate_threshold,
        }
        d = {
            "code": self.code,
            "title": self.title,
            "level": self.level,
            "version": self.version,
            "source": self.source,
            "outcomes": [o.as_dict() for o in self.outcomes],
            "methods": [m.as_dict() for m in self.methods],
            "checks": {k: v for k, v in checks.items() if f"checks.{k}" not in self.absent},
            "grading": json.loads(self.grading_json),
            **json.loads(self.extra_json),
            **{k: getattr(self, f) for k, f in OPTIONAL_TEXT.items() if getattr(self, f)},
            **{k: getattr(self, f) for k, (f, _) in OPTIONAL_VALUES.items() if getattr(self, f) is not None},
        }
        return {k: v for k, v in d.items() if k not in self.absent}

    def to_json(self) -> str:
        """The text a release stores (`release.definition_json`): sorted keys, UTF-8 as is."""
        return _canonical(self.to_dict())

    # ------------------------------------------------------------------ what readers ask of it

    def method(self, key: str) -> Method | None:
        return next((m for m in self.methods if m.id == key), None)

    @property
    def method_ids(self) -> list[str]:
        return [m.id for m in self.methods]

    @property
    def outcome_titles(self) -> dict[str, str]:
        return {o.code: o.title for o in self.outcomes}

    @property
    def outcome_statements(self) -> dict[str, str]:
        """Each outcome's full statement in the standard's words (its title where none is given)."""
        return {o.code: o.words for o in self.outcomes}

    @property
    def review_months(self) -> int:
        """How many months old a question's review may be before it is due again."""
        return self.review_interval_months or REVIEW_INTERVAL_MONTHS

    @property
    def two_person(self) -> bool:
        """Whether the release was made under the two-person rule (on unless set off)."""
        return self.two_person_rule is not False

    @property
    def grading(self) -> dict[str, Any]:
        """The [grading] table as released (a fresh copy)."""
        table: dict[str, Any] = json.loads(self.grading_json)
        return table

    @cached_property
    def rules(self) -> GradingRules:
        """The grading rules (checked when the release was made; ValueError if they no longer read)."""
        # imported when first needed: the pure draw engine uses this module without the bank-file readers
        from .gradingfile import rules_from_definition

        return rules_from_definition(self.to_dict())

    @property
    def notes(self) -> str:
        """The grading rules' notes for assessors."""
        return self.rules.notes

    @property
    def default_methods(self) -> list[str]:
        """The methods a first attempt assesses unless told otherwise: those of the first overall
        grade, else every method."""
        return list(self.rules.overalls[0].methods) if self.rules.overalls else self.method_ids


def _of_type(value: Any, kind: type) -> bool:
    """Whether `value` is of `kind` as JSON reads it (a bool is not an int here)."""
    return type(value) is kind


def _canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class StoredRelease(Protocol):
    """What `for_release` reads of a release row."""

    @property
    def id(self) -> int | None: ...

    @property
    def definition_json(self) -> str: ...


@lru_cache(maxsize=64)
def release_definition(release_id: int | None, definition_json: str) -> ReleaseDefinition:
    """The definition stored with a release, read once per release."""
    return ReleaseDefinition.from_json(definition_json)


def for_release(release: StoredRelease) -> ReleaseDefinition:
    """The definition of a release row (anything with `id` and `definition_json`), read once per release."""
    return release_definition(release.id, release.definition_json)
