"""What to ask next: the remaining questions of a method ranked for the assessor. Pure.

A question still to ask ranks higher the more still-uncovered outcomes it targets; among equals,
one that fits the time left comes first, then the shorter, then the drawn order. A question whose
outcomes are all covered already is optional: still shown, ranked last. Before anything has been
asked, the draw's opener (a question written to open the conversation) leads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Suggestion:
    code: str
    text: str
    minutes: int
    targets: tuple[str, ...]  # the still-uncovered outcomes it targets
    optional: bool  # every outcome it targets is covered already
    fits: bool  # its minutes fit in the time left
    opener: bool = False  # the draw marked it as the conversation's opener


class Rankable(Protocol):
    """What `rank` reads of a question (`sessions.QuestionView` is one); `opener` is optional."""

    @property
    def code(self) -> str | None: ...
    @property
    def text(self) -> str: ...
    @property
    def minutes(self) -> int: ...
    @property
    def outcomes(self) -> Iterable[str]: ...
    @property
    def position(self) -> int: ...
    @property
    def status(self) -> str: ...


def rank(
    questions: Iterable[Rankable], uncovered: Iterable[str], seconds_left: float, *, started: bool = True
) -> list[Suggestion]:
    """`questions`: objects with code, text, minutes, outcomes, position, status (planned | asked |
    skipped) and opener, as `sessions.QuestionView`; only planned, drawn questions are ranked.
    `started`: something has been asked already (the opener leads only before that)."""
    open_outcomes = set(uncovered)
    out = []
    for q in questions:
        if q.status != "planned" or q.code is None:
            continue
        targets = tuple(o for o in q.outcomes if o in open_outcomes)
        out.append(
            (
                q.position,
                Suggestion(
                    code=q.code,
                    text=q.text,
                    minutes=q.minutes,
                    targets=targets,
                    optional=not targets,
                    fits=q.minutes * 60 <= max(seconds_left, 0),
                    opener=bool(getattr(q, "opener", False)),
                ),
            )
        )
    out.sort(key=lambda p: (started or not p[1].opener, -len(p[1].targets), not p[1].fits, p[1].minutes, p[0]))
    return [s for _, s in out]
