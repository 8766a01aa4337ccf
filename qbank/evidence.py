"""Turning what an assessor ticked into evidence entries. Pure: no database, no UI.

The assessor chooses the outcomes an answer evidenced (by default the asked question's targets)
and a level; the criterion follows from the outcomes, never the other way round. When the chosen
outcomes fall under more than one criterion, one entry is made per criterion, each holding only
the chosen outcomes it covers, so an entry never credits an outcome nobody chose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .grading import Criterion, MethodScheme


@dataclass(frozen=True)
class PlannedEntry:
    criterion: str | None  # None: the method has no grading rules; evidence is logged per outcome
    outcomes: tuple[str, ...]


class EvidencePlanError(ValueError):
    """The chosen outcomes cannot be logged (none chosen, or one no criterion holds)."""


def plan_entries(scheme: MethodScheme | None, assesses: Sequence[str], chosen: Sequence[str]) -> list[PlannedEntry]:
    """The entries to log for `chosen` outcomes: as few criteria as possible, each entry holding
    exactly the chosen outcomes it covers (the first criterion in the scheme's order wins ties)."""
    chosen = list(dict.fromkeys(chosen))
    if not chosen:
        raise EvidencePlanError("tick at least one outcome the answer evidenced")
    stray = [o for o in chosen if o not in assesses]
    if stray:
        raise EvidencePlanError(f"{', '.join(stray)} not assessed by this method")
    if scheme is None:
        return [PlannedEntry(criterion=None, outcomes=tuple(chosen))]
    left = list(chosen)
    out: list[PlannedEntry] = []
    while left:
        best: Criterion | None = None
        best_n = 0
        for c in scheme.criteria:
            n = sum(1 for o in left if o in c.outcomes)
            if n > best_n:
                best, best_n = c, n
        if best is None:
            raise EvidencePlanError(f"no criterion of this method holds {', '.join(left)}")
        out.append(PlannedEntry(criterion=best.id, outcomes=tuple(o for o in left if o in best.outcomes)))
        left = [o for o in left if o not in best.outcomes]
    return out


def descriptor(scheme: MethodScheme | None, criterion: str | None, level: str) -> str:
    """The grading wording for a criterion at a level ('' when the rules give none)."""
    if scheme is None or criterion is None:
        return ""
    c = scheme.criterion(criterion)
    return c.descriptors.get(level, "") if c else ""


def default_level(levels: Sequence[str]) -> str:
    """The level the dialog starts at: the lowest level that counts as met (the second), so a
    fail is always a deliberate choice."""
    return levels[1] if len(levels) > 1 else levels[0]
