"""The pool a method draws from, and the lookups every draw starts with.

A pool is the approved questions of one release usable in one method, with the pairs that are
near-duplicates by the standard's own threshold: read once per process and store (`pool_for`),
since a release never changes. `adhoc_avoid` finds the pool questions too close to ad-hoc questions
already put to an apprentice; `method_spec` and `spec_from_bank` give the draw engine's input for a
stored release or for bank files (simulations, benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlmodel import col

from .defaults import EXPOSURE_CAP, NEAR_DUPLICATE_THRESHOLD
from .definition import Method, ReleaseDefinition, for_release
from .draw import Candidate, DrawSpec
from .models import (
    AskRow,
    AssessmentMethodRow,
    AssessmentRow,
    MethodOutcomeRow,
    MethodRow,
    OutcomeRow,
    QuestionRow,
    QuestionVersionMethodRow,
    QuestionVersionOutcomeRow,
    QuestionVersionRow,
    ReleaseItemRow,
    ReleaseRow,
    StandardRow,
)
from .problems import BankError
from .similarity import near_duplicates, normalise


class DrawError(BankError):
    """The draw cannot be made; `reasons` say what cannot be met and why."""

    def __init__(self, message: str, reasons: list[str] | None = None):
        super().__init__(message)
        self.reasons = reasons or []


@dataclass(frozen=True)
class Pool:
    standard_id: int
    method_id: int
    release_id: int
    release: str
    method: Method
    candidates: tuple[Candidate, ...]
    near_duplicates: frozenset
    qid_by_code: dict[str, int]
    normalised: tuple[str, ...] = ()  # each candidate's text, normalised for similarity (same order)
    threshold: float = NEAR_DUPLICATE_THRESHOLD  # the standard's own near-duplicate threshold


POOLS: dict[tuple[str, int, int], Pool] = {}  # (store URL, release id, method id) -> the pool


def pool_for(s: Session, engine: Engine, std: StandardRow, method: MethodRow, rel: ReleaseRow) -> Pool:
    """The method's pool in the release, read once per process (a release never changes)."""
    key = (str(engine.url), rel.id, method.id)
    if key in POOLS:
        return POOLS[key]
    m = for_release(rel).method(method.key)
    if m is None:
        raise DrawError(f"release {rel.semver} of {std.code} has no method {method.key}")
    rows = s.execute(
        select(
            col(QuestionRow.id),
            col(QuestionRow.code),
            col(QuestionVersionRow.id),
            col(QuestionVersionRow.version),
            col(QuestionVersionRow.minutes),
            col(QuestionVersionRow.topic),
            col(QuestionVersionRow.opener),
            col(QuestionVersionRow.text),
        )
        .join(QuestionVersionRow, col(QuestionVersionRow.question_id) == QuestionRow.id)
        .join(ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionRow.id)
        .join(QuestionVersionMethodRow, col(QuestionVersionMethodRow.question_version_id) == QuestionVersionRow.id)
        .where(col(ReleaseItemRow.release_id) == rel.id, col(QuestionVersionMethodRow.method_id) == method.id)
        .order_by(col(QuestionRow.code))
    ).all()
    qv_ids = [r[2] for r in rows]
    outs: dict[int, set[str]] = {i: set() for i in qv_ids}
    for qv, code in s.execute(
        select(col(QuestionVersionOutcomeRow.question_version_id), col(OutcomeRow.code))
        .join(OutcomeRow, col(OutcomeRow.id) == QuestionVersionOutcomeRow.outcome_id)
        .join(ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionOutcomeRow.question_version_id)
        .where(col(ReleaseItemRow.release_id) == rel.id)
    ):
        if qv in outs:
            outs[qv].add(code)
    cands = tuple(
        Candidate(
            code=r[1], version=r[3], qv_id=r[2], outcomes=frozenset(outs[r[2]]), minutes=r[4], topic=r[5], opener=r[6]
        )
        for r in rows
    )
    texts = {r[1]: r[7] for r in rows}
    dups = frozenset(frozenset((d.a, d.b)) for d in near_duplicates(texts, std.near_duplicate_threshold))
    pool = Pool(
        standard_id=std.id,
        method_id=method.id,
        release_id=rel.id,
        release=rel.semver,
        method=m,
        candidates=cands,
        near_duplicates=dups,
        qid_by_code={r[1]: r[0] for r in rows},
        normalised=tuple(normalise(texts[c.code]) for c in cands),
        threshold=std.near_duplicate_threshold,
    )
    POOLS[key] = pool
    return pool


def resolve_method(
    s: Session, standard: str, method: str, release: str | None
) -> tuple[StandardRow, MethodRow, ReleaseRow]:
    """The standard, the method and the named release (default: the latest), or a DrawError."""
    std, rel = resolve_release(s, standard, release)
    meth = (
        s.execute(select(MethodRow).where(col(MethodRow.standard_id) == std.id, col(MethodRow.key) == method))
        .scalars()
        .first()
    )
    if meth is None:
        known = ", ".join(
            s.execute(
                select(col(MethodRow.key)).where(col(MethodRow.standard_id) == std.id).order_by(col(MethodRow.position))
            ).scalars()
        )
        raise DrawError(f"{standard} has no method '{method}' (methods: {known})")
    return std, meth, rel


def resolve_release(s: Session, standard: str, release: str | None) -> tuple[StandardRow, ReleaseRow]:
    """The standard and the named release (default: its latest), or a DrawError saying what is missing."""
    std = s.execute(select(StandardRow).where(col(StandardRow.code) == standard)).scalars().first()
    if std is None:
        known = ", ".join(s.execute(select(col(StandardRow.code)).order_by(col(StandardRow.code))).scalars()) or "none"
        raise DrawError(f"no standard {standard} in the store (have: {known}; run `qbank import banks`)")
    q = select(ReleaseRow).where(col(ReleaseRow.standard_id) == std.id)
    if release:
        rel = s.execute(q.where(col(ReleaseRow.semver) == release)).scalars().first()
        if rel is None:
            raise DrawError(f"{standard} has no release {release} in the store")
    else:
        rel = (
            s.execute(
                q.order_by(col(ReleaseRow.major).desc(), col(ReleaseRow.minor).desc(), col(ReleaseRow.patch).desc())
            )
            .scalars()
            .first()
        )
        if rel is None:
            raise DrawError(f"{standard} has no release in the store (run `qbank import banks`)")
    return std, rel


def adhoc_texts(s: Session, apprentice_id: int) -> list[str]:
    """The ad-hoc questions assessors put to the apprentice, in any assessment."""
    texts = s.execute(
        select(col(AskRow.adhoc_text))
        .join(AssessmentMethodRow, col(AssessmentMethodRow.id) == AskRow.assessment_method_id)
        .join(AssessmentRow, col(AssessmentRow.id) == AssessmentMethodRow.assessment_id)
        .where(col(AssessmentRow.apprentice_id) == apprentice_id, col(AskRow.adhoc_text).is_not(None))
        .order_by(col(AskRow.id))
    ).scalars()
    return [t for t in texts if t is not None]  # all of them (the WHERE)


def adhoc_avoid(pool: Pool, texts: list[str]) -> frozenset[str]:
    """Pool questions that are near-duplicates (the standard's threshold, the same measure as the
    bank's near-duplicate check) of any of these ad-hoc question texts."""
    out: set[str] = set()
    if not texts or not pool.normalised:
        return frozenset()
    for text in dict.fromkeys(texts):
        for _, _, i in process.extract_iter(
            normalise(text), pool.normalised, scorer=fuzz.ratio, score_cutoff=pool.threshold
        ):
            out.add(pool.candidates[i].code)
    return frozenset(out)


def required_outcomes(engine: Engine, standard: str, method: str) -> list[str]:
    with Session(engine) as s:
        std, meth, _ = resolve_method(s, standard, method, None)
        return list(
            s.execute(
                select(col(OutcomeRow.code))
                .join(MethodOutcomeRow, col(MethodOutcomeRow.outcome_id) == OutcomeRow.id)
                .where(col(MethodOutcomeRow.method_id) == meth.id)
                .order_by(col(OutcomeRow.position))
            ).scalars()
        )


def method_spec(
    engine: Engine,
    standard: str,
    method: str,
    *,
    release: str | None = None,
    extra_time_pct: int = 0,
    exposure_cap: float = EXPOSURE_CAP,
) -> DrawSpec:
    """The draw specification for a method of a stored release (used by `qbank simulate`)."""
    with Session(engine) as s:
        std, meth, rel = resolve_method(s, standard, method, release)
        pool = pool_for(s, engine, std, meth, rel)
    return DrawSpec(
        method=pool.method,
        pool=pool.candidates,
        near_duplicates=pool.near_duplicates,
        extra_time_pct=extra_time_pct,
        exposure_cap=exposure_cap,
    )


def spec_from_bank(bank, standard: str, method: str, *, exposure_cap: float = EXPOSURE_CAP) -> DrawSpec:
    """The same specification built from bank files' approved questions (benchmarks, previews)."""
    std = bank.standards.get(standard)
    if std is None or method not in std.methods:
        raise DrawError(f"no method {method} in standard {standard}")
    md = ReleaseDefinition.from_dict(std.definition()).method(method)  # as a release of the bank would hold it
    assert md is not None  # the standard has the method (checked above)
    qs = sorted(
        (q for q in bank.questions_of(standard) if q.status == "approved" and method in q.methods), key=lambda q: q.id
    )
    cands = tuple(
        Candidate(
            code=q.id,
            version=q.version,
            qv_id=0,
            outcomes=frozenset(q.outcomes),
            minutes=q.minutes,
            topic=q.topic,
            opener=q.opener,
        )
        for q in qs
    )
    dups = frozenset(
        frozenset((d.a, d.b)) for d in near_duplicates({q.id: q.text for q in qs}, std.near_duplicate_threshold)
    )
    return DrawSpec(method=md, pool=cands, near_duplicates=dups, exposure_cap=exposure_cap)
