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

from .defaults import MIN_QUESTIONS_PER_OUTCOME, NEAR_DUPLICATE_THRESHOLD

if TYPE_CHECKING:
    from .grading import GradingRules

KNOWN_KEYS = ("code", "title", "level", "version", "source", "outcomes", "methods", "checks", "grading")


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
class Method:
    """An assessment method as the release defines it; what a draw for it must cover is `required`."""

    id: str
    name: str
    kind: str
    minutes: int
    min_questions: int
    assesses: tuple[str, ...]

    @cached_property
    def required(self) -> frozenset[str]:
        """The outcomes a drawn set must cover: every one the method assesses."""
        return frozenset(self.assesses)

    @classmethod
    def for_draw(cls, id: str, required: Iterable[str], minutes: int, min_questions: int) -> Method:
        """A method given only by what the draw engine reads (simulations, previews, tests)."""
        return cls(
            id=id, name=id, kind="", minutes=minutes, min_questions=min_questions, assesses=tuple(sorted(required))
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "minutes": self.minutes,
            "min_questions": self.min_questions,
            "assesses": list(self.assesses),
        }


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

    # ------------------------------------------------------------------ reading and writing

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReleaseDefinition:
        checks = d.get("checks", {})
        absent = {k for k in ("source", "checks", "grading") if k not in d}
        absent |= {f"checks.{k}" for k in ("min_questions_per_outcome", "near_duplicate_threshold") if k not in checks}
        return cls(
            code=d["code"],
            title=d["title"],
            level=d["level"],
            version=d["version"],
            outcomes=tuple(
                Outcome(code=o["code"], title=o["title"], group=o["group"], statement=o.get("statement", ""))
                for o in d["outcomes"]
            ),
            methods=tuple(
                Method(
                    id=m["id"],
                    name=m["name"],
                    kind=m["kind"],
                    minutes=m["minutes"],
                    min_questions=m["min_questions"],
                    assesses=tuple(m["assesses"]),
                )
                for m in d["methods"]
            ),
            source=d.get("source", ""),
            checks=Checks(
                min_questions_per_outcome=checks.get("min_questions_per_outcome", MIN_QUESTIONS_PER_OUTCOME),
                near_duplicate_threshold=checks.get("near_duplicate_threshold", NEAR_DUPLICATE_THRESHOLD),
            ),
            grading_json=_canonical(d.get("grading", {})),
            extra_json=_canonical({k: v for k, v in d.items() if k not in KNOWN_KEYS}),
            absent=frozenset(absent),
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
