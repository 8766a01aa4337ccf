"""Clearance for live assessment: a named person's sign-off of a release whose definition rests on
assumptions.

A standard says in its bank file whether its releases need clearing (`clearance = "required"`, with
a `clearance_reason` naming what rests on assumptions, e.g. a KSB-to-method mapping the plan's
annex would settle); the release freezes both in its definition. Clearing is a store action, per
release, by a named person: `clear` and `withdraw` append a `release_clearance` row each (the table
is append-only; the newest row decides). A release that needs clearing and has none, or whose
newest row is a withdrawal, is NOT CLEARED: the app shows a banner on the assessment screens, the
CLI warns on a draw and the assessor's record says so. Nothing is blocked: whether to assess under
an uncleared release is the EPAO's decision, made visible here.

A release made before clearances were frozen declares nothing and needs no clearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from sqlmodel import col

from . import roles
from .definition import ReleaseDefinition, for_release
from .models import ReleaseClearanceRow, ReleaseRow, StandardRow, utcnow
from .pools import DrawError, resolve_release
from .problems import BankError

REQUIRED = "required"
ACTIONS = ("clear", "withdraw")
NAME_MAX = 128  # release_clearance.cleared_by


class ClearanceError(BankError):
    """A clearance action that cannot be done; the message says why."""


@dataclass(frozen=True)
class ClearanceEvent:
    """One stored clearance row: who cleared or withdrew, when, and their note."""

    action: str  # clear | withdraw
    by: str
    note: str
    at: datetime  # UTC

    @property
    def date(self) -> str:
        return self.at.date().isoformat()


@dataclass(frozen=True)
class Clearance:
    """Where one release stands: what its definition declares and the newest clearance row."""

    standard: str
    release: str
    declared: str  # "required", "not required", or "" (a release that declares nothing)
    reason: str  # what rests on assumptions (when required)
    latest: ClearanceEvent | None = None

    @property
    def required(self) -> bool:
        return self.declared == REQUIRED

    @property
    def cleared(self) -> bool:
        """Cleared by a named person, and not withdrawn since."""
        return self.required and self.latest is not None and self.latest.action == "clear"

    @property
    def not_cleared(self) -> bool:
        """The release needs clearing and is not cleared: the app shows the banner."""
        return self.required and not self.cleared

    @property
    def state(self) -> str:
        if not self.required:
            return "not required" if self.declared else "not declared"
        return "cleared" if self.cleared else "not cleared"

    @property
    def text(self) -> str:
        """One line: "cleared by X on DATE", "NOT CLEARED for live assessment: <reason>", or why none
        is needed."""
        if not self.required:
            # a release made before clearance was frozen, or from a standard file that says nothing
            return "no clearance needed" if self.declared else "no clearance declared in this release"
        e = self.latest
        if self.cleared:
            assert e is not None  # cleared means there is a newest row, a clearance
            return f"cleared by {e.by} on {e.date}" + (f" ({e.note})" if e.note else "")
        text = f"NOT CLEARED for live assessment: {self.reason}"
        if e is not None:  # the newest row is a withdrawal
            text += f" (clearance withdrawn by {e.by} on {e.date}" + (f": {e.note})" if e.note else ")")
        return text

    @property
    def banner(self) -> str:
        """The line the app shows while the release is not cleared; empty otherwise."""
        if not self.not_cleared:
            return ""
        return f"NOT CLEARED FOR LIVE ASSESSMENT — {self.standard} {self.release}: {self.reason}"

    def as_dict(self) -> dict:
        e = self.latest
        return {
            "standard": self.standard,
            "release": self.release,
            "clearance": self.declared or None,
            "reason": self.reason,
            "state": self.state,
            "text": self.text,
            "latest": None
            if e is None
            else {"action": e.action, "by": e.by, "note": e.note, "at": e.at.isoformat(timespec="seconds")},
        }


# --------------------------------------------------------------------------- pure


def clearance_of(
    standard: str,
    release: str,
    definition: ReleaseDefinition,
    events: list[ClearanceEvent],
    at: datetime | None = None,
) -> Clearance:
    """Where a release stands given its clearance rows (oldest first); with `at`, as it stood then."""
    if at is not None:
        at = _utc(at)
        events = [e for e in events if e.at <= at]
    return Clearance(
        standard=standard,
        release=release,
        declared=definition.clearance,
        reason=definition.clearance_reason or "its definition rests on assumptions: see the standard's notes",
        latest=events[-1] if events else None,
    )


def _utc(d: datetime) -> datetime:
    """SQLite hands timestamps back without their zone: they were stored in UTC."""
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d.astimezone(timezone.utc)


# --------------------------------------------------------------------------- reading


def _events(s: Session, release_ids: list[int]) -> dict[int, list[ClearanceEvent]]:
    """Every clearance row of these releases, oldest first, by release id (one statement)."""
    out: dict[int, list[ClearanceEvent]] = {i: [] for i in release_ids}
    if not release_ids:
        return out
    rows = s.execute(
        select(ReleaseClearanceRow)
        .where(col(ReleaseClearanceRow.release_id).in_(release_ids))
        .order_by(col(ReleaseClearanceRow.created_at), col(ReleaseClearanceRow.id))
    ).scalars()
    for r in rows:
        out[r.release_id].append(ClearanceEvent(action=r.action, by=r.cleared_by, note=r.note, at=_utc(r.created_at)))
    return out


def release_clearance(s: Session, standard: str, rel: ReleaseRow, at: datetime | None = None) -> Clearance:
    """Where a stored release stands (as it stood at `at`, if given), read in the caller's session."""
    return clearance_of(standard, rel.semver, for_release(rel), _events(s, [rel.id])[rel.id], at)


def clearance_now_and_at(s: Session, standard: str, rel: ReleaseRow, at: datetime) -> tuple[Clearance, Clearance]:
    """Where a stored release stands now, and where it stood at `at` (one statement)."""
    events = _events(s, [rel.id])[rel.id]
    definition = for_release(rel)
    return clearance_of(standard, rel.semver, definition, events), clearance_of(
        standard, rel.semver, definition, events, at
    )


def _resolve(s: Session, standard: str, release: str | None) -> tuple[StandardRow, ReleaseRow]:
    try:
        return resolve_release(s, standard, release)
    except DrawError as e:
        raise ClearanceError(str(e)) from None


def status(engine: Engine, standard: str, release: str | None = None) -> Clearance:
    """Where a release (default: the standard's newest) stands."""
    with Session(engine) as s:
        std, rel = _resolve(s, standard, release)
        return release_clearance(s, std.code, rel)


def listing(engine: Engine, standard: str | None = None) -> list[Clearance]:
    """Every stored release (of one standard, if given) with where it stands, by standard then
    release number."""
    with Session(engine) as s:
        q = (
            select(ReleaseRow, col(StandardRow.code))
            .join(StandardRow, col(StandardRow.id) == ReleaseRow.standard_id)
            .order_by(col(StandardRow.code), col(ReleaseRow.major), col(ReleaseRow.minor), col(ReleaseRow.patch))
        )
        if standard:
            if s.execute(select(col(StandardRow.id)).where(col(StandardRow.code) == standard)).first() is None:
                _resolve(s, standard, None)  # raises, naming the standards there are
            q = q.where(col(StandardRow.code) == standard)
        rows = s.execute(q).all()
        events = _events(s, [rel.id for rel, _ in rows])
        return [clearance_of(code, rel.semver, for_release(rel), events[rel.id]) for rel, code in rows]


# --------------------------------------------------------------------------- clearing


def clear(engine: Engine, standard: str, release: str, by: str, note: str = "") -> Clearance:
    """Record that `by`, a named person, clears the release for live assessment (one transaction)."""
    return _record(engine, standard, release, "clear", by, note)


def withdraw(engine: Engine, standard: str, release: str, by: str, note: str) -> Clearance:
    """Withdraw the release's clearance: it is NOT CLEARED again until cleared anew. Needs a note
    saying why (one transaction)."""
    if not note.strip():
        raise ClearanceError("withdrawing a clearance needs a note saying why (--note)")
    return _record(engine, standard, release, "withdraw", by, note)


def _record(engine: Engine, standard: str, release: str, action: str, by: str, note: str) -> Clearance:
    assert action in ACTIONS
    by, note = " ".join(by.split()), note.strip()
    verb = "clearing" if action == "clear" else "withdrawing a clearance"
    if not by:
        raise ClearanceError(f'{verb} needs the full name of the person doing it (--by "Full Name")')
    if len(by) > NAME_MAX:
        raise ClearanceError(f"the name given is {len(by)} characters; at most {NAME_MAX}")
    with Session(engine) as s, s.begin():
        std, rel = _resolve(s, standard, release)
        # take the release's row lock (PostgreSQL) or the write lock (SQLite) before reading, so two
        # clearances at once cannot both pass the checks below
        roles.lock_row(s, ReleaseRow, rel.id)
        now = release_clearance(s, std.code, rel)
        label = f"{std.code} {rel.semver}"
        if not now.required:
            said = f'says clearance = "{now.declared}"' if now.declared else "declares no clearance"
            raise ClearanceError(
                f"{label} cannot be cleared: its definition {said}. To require clearance, set "
                'clearance = "required" and clearance_reason in standard.toml and release again'
            )
        if action == "clear" and now.cleared:
            raise ClearanceError(f"{label} is already {now.text}; withdraw that first to record another")
        if action == "withdraw" and not now.cleared:
            raise ClearanceError(f"{label} is not cleared, so there is nothing to withdraw")
        s.add(ReleaseClearanceRow(release_id=rel.id, cleared_by=by, action=action, note=note, created_at=utcnow()))
        s.flush()
        return release_clearance(s, std.code, rel)
