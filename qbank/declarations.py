"""The learner's declarations on an assessment's record, as ILM's mark sheet carries them.

The sheet for units M3.54 and M3.55 says: "1. Learner named below confirms authenticity of
submission. 2. ILM uses learners' submissions - on an anonymous basis - for assessment
standardisation. ... if you are unwilling to allow ILM use your script, please refuse by ticking
the box". qbank records both with the assessment: the authenticity confirmation, and whether the
learner refused the anonymous use of their script (not refused unless recorded). Each is kept
with who recorded it and when; changing one keeps the earlier entry in `history`, never deleting
it. For a method whose report may be written or oral (`Method.report_formats`), the grade is not
confirmed until the authenticity confirmation is recorded (`completion.confirm_grade`).

Stored as JSON in `assessment.declarations_json`:
{"authenticity": {"value": true, "by": "...", "at": "<ISO time>"},
 "anonymous_use_refused": {"value": false, "by": "...", "at": "..."},
 "history": [{"key": "authenticity", "value": false, "by": "...", "at": "..."}, ...]}
`record_declarations` is one transaction, with the assessment locked first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .models import utcnow
from .session_guards import SessionError, require_open_assessment

KEYS = ("authenticity", "anonymous_use_refused")
LABELS = {
    "authenticity": "the learner confirms the authenticity of the submission (their own work)",
    "anonymous_use_refused": "the learner refuses the anonymous use of their script for assessment standardisation",
}


@dataclass(frozen=True)
class Declaration:
    """One declaration as recorded: its value, who recorded it and when."""

    value: bool
    by: str
    at: datetime | None

    def as_dict(self) -> dict:
        return {"value": self.value, "by": self.by, "at": self.at.isoformat() if self.at else None}

    @classmethod
    def from_dict(cls, d: dict) -> Declaration:
        at = d.get("at")
        return cls(value=bool(d.get("value")), by=str(d.get("by") or ""), at=datetime.fromisoformat(at) if at else None)


@dataclass(frozen=True)
class Declarations:
    """An assessment's declarations; None where nothing was recorded. `history` keeps every entry a
    later one replaced, oldest first, as (key, declaration)."""

    authenticity: Declaration | None = None
    anonymous_use_refused: Declaration | None = None
    history: tuple[tuple[str, Declaration], ...] = ()

    @property
    def authenticity_confirmed(self) -> bool:
        return self.authenticity is not None and self.authenticity.value

    @property
    def use_refused(self) -> bool:
        """The learner refused ILM's anonymous use of the script (default: not refused)."""
        return self.anonymous_use_refused is not None and self.anonymous_use_refused.value

    @property
    def recorded(self) -> bool:
        return self.authenticity is not None or self.anonymous_use_refused is not None

    def to_json(self) -> str:
        d: dict = {k: getattr(self, k).as_dict() for k in KEYS if getattr(self, k) is not None}
        if self.history:
            d["history"] = [{"key": k, **v.as_dict()} for k, v in self.history]
        return json.dumps(d, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Declarations:
        d = json.loads(text or "{}")
        return cls(
            **{k: Declaration.from_dict(d[k]) for k in KEYS if isinstance(d.get(k), dict)},
            history=tuple((h["key"], Declaration.from_dict(h)) for h in d.get("history", ()) if h.get("key") in KEYS),
        )


def record_declarations(
    engine: Engine,
    assessment_id: int,
    by: str,
    *,
    authenticity: bool | None = None,
    anonymous_use_refused: bool | None = None,
) -> Declarations:
    """Record the learner's declarations (each given one; None leaves it as it is) while the
    assessment is open; returns them as stored. `by`: who records them (the assessor)."""
    by = " ".join(by.split())
    if not by:
        raise SessionError("recording the learner's declarations needs who records them (the assessor's name)")
    given = {"authenticity": authenticity, "anonymous_use_refused": anonymous_use_refused}
    if all(v is None for v in given.values()):
        raise SessionError("nothing to record: give the authenticity confirmation or the anonymous-use refusal")
    with Session(engine) as s, s.begin():
        a = require_open_assessment(s, assessment_id, lock=True)
        current = Declarations.from_json(a.declarations_json)
        now = utcnow()
        fields = {k: getattr(current, k) for k in KEYS}
        history = list(current.history)
        for key, value in given.items():
            if value is None:
                continue
            old = fields[key]
            if old is not None and old.value == bool(value):
                continue  # unchanged: who recorded it first, and when, stands
            if old is not None:
                history.append((key, old))
            fields[key] = Declaration(value=bool(value), by=by, at=now)
        new = Declarations(**fields, history=tuple(history))
        a.declarations_json = new.to_json()
        return new


def authenticity_refusal(method_id: str, declarations: Declarations) -> str:
    """Why a grade of a report method cannot be confirmed yet ('' when it can)."""
    if declarations.authenticity_confirmed:
        return ""
    return (
        f"{method_id}: the learner's confirmation that the submission is their own work is not recorded. "
        "The mark sheet needs it ('Learner named below confirms authenticity of submission'): record it "
        "with the learner's declarations, then confirm the grade"
    )
