"""The pool a method draws from, and the lookups every draw starts with.

A pool is the approved questions of one release usable in one method, with the pairs that are
near-duplicates by the standard's own threshold: read once per process and store (`pool_for`),
since a release never changes. `adhoc_avoid` finds the pool questions too close to ad-hoc questions
already put to an apprentice; `method_spec` and `spec_from_bank` give the draw engine's input for a
stored release or for bank files (simulations, benchmarks).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from sqlalchemy import delete, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlmodel import col

from .defaults import EXPOSURE_CAP, NEAR_DUPLICATE_THRESHOLD
from .definition import Method, ReleaseDefinition, for_release
from .draw import Candidate, DrawSpec
from .memory import gc_paused
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
    ReleaseNearDuplicateRow,
    ReleasePoolRow,
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
    threshold: float = NEAR_DUPLICATE_THRESHOLD  # the standard's own near-duplicate threshold


POOLS: dict[tuple[str, int, int], Pool] = {}  # (store URL, release id, method id) -> the pool


def pool_for(s: Session, engine: Engine, std: StandardRow, method: MethodRow, rel: ReleaseRow) -> Pool:
    """The method's pool in the release: one row (`release_pool`) read once per process, since a
    release never changes; built from the release's rows and stored when it is missing (a release
    imported before qbank stored pools)."""
    key = (str(engine.url), rel.id, method.id)
    if key in POOLS:
        return POOLS[key]
    m = for_release(rel).method(method.key)
    if m is None:
        raise DrawError(f"release {rel.semver} of {std.code} has no method {method.key}")
    row = s.execute(
        select(col(ReleasePoolRow.format), col(ReleasePoolRow.payload)).where(
            col(ReleasePoolRow.release_id) == rel.id, col(ReleasePoolRow.method_id) == method.id
        )
    ).first()
    if row is not None and row[0] == POOL_FORMAT:
        payload = row[1]
    else:
        payload = pool_payload(*_pool_rows(s, std.id, rel.id, method.id))
        _store_payload(engine, rel.id, method.id, payload)
    cands, qid_by_code, dups = read_pool_payload(payload)
    pool = Pool(
        standard_id=std.id,
        method_id=method.id,
        release_id=rel.id,
        release=rel.semver,
        method=m,
        candidates=cands,
        near_duplicates=dups,
        qid_by_code=qid_by_code,
        threshold=std.near_duplicate_threshold,
    )
    POOLS[key] = pool
    return pool


POOL_FORMAT = 1  # the layout of `pool_payload`; a stored pool in another layout is rebuilt

PoolEntry = tuple[int, str, int, int, int, str, bool, list[str]]  # question id, code, version id, version,
# minutes, topic, opener, outcome codes


def pool_payload(entries: list[PoolEntry], near_duplicates: list[tuple[str, str]]) -> str:
    """A method's pool as compact JSON: candidates in code order, each with the index of its
    outcome combination (a bank has far fewer combinations than questions), and the pairs of codes
    that must not share a set."""
    combos: dict[tuple[str, ...], int] = {}
    cands = []
    for qid, code, qv_id, version, minutes, topic, opener, outcomes in sorted(entries, key=lambda e: e[1]):
        combo = combos.setdefault(tuple(sorted(outcomes)), len(combos))
        cands.append([qid, code, qv_id, version, minutes, topic, 1 if opener else 0, combo])
    doc = {"outcomes": list(combos), "candidates": cands, "near_duplicates": sorted(near_duplicates)}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def read_pool_payload(payload: str) -> tuple[tuple[Candidate, ...], dict[str, int], frozenset[frozenset[str]]]:
    with gc_paused():  # 50,000 candidates: 0.27 s with the collector walking them, 0.08 s without
        return _read_pool_payload(payload)


def _read_pool_payload(payload: str) -> tuple[tuple[Candidate, ...], dict[str, int], frozenset[frozenset[str]]]:
    doc = json.loads(payload)
    combos = [frozenset(c) for c in doc["outcomes"]]
    make = Candidate._make  # tuple.__new__ underneath: a third of the time of Candidate(...) for 50,000
    cands = tuple(
        make((code, version, qv_id, combos[combo], minutes, topic, opener == 1))
        for _, code, qv_id, version, minutes, topic, opener, combo in doc["candidates"]
    )
    qid_by_code = {c[1]: c[0] for c in doc["candidates"]}
    return cands, qid_by_code, frozenset(frozenset(p) for p in doc["near_duplicates"])


def _pool_rows(s: Session, standard_id: int, release_id: int, method_id: int) -> tuple[list[PoolEntry], list]:
    """The pool's candidates and near-duplicate pairs, read from the release's rows."""
    conn = s.connection()  # Core rows: no ORM loading for 50,000 candidates
    rows = conn.execute(
        select(
            col(QuestionRow.id),
            col(QuestionRow.code),
            col(QuestionVersionRow.id),
            col(QuestionVersionRow.version),
            col(QuestionVersionRow.minutes),
            col(QuestionVersionRow.topic),
            col(QuestionVersionRow.opener),
        )
        .join(QuestionVersionRow, col(QuestionVersionRow.question_id) == QuestionRow.id)
        .join(ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionRow.id)
        .join(QuestionVersionMethodRow, col(QuestionVersionMethodRow.question_version_id) == QuestionVersionRow.id)
        .where(col(ReleaseItemRow.release_id) == release_id, col(QuestionVersionMethodRow.method_id) == method_id)
    ).all()
    code_of_outcome = dict(
        conn.execute(
            select(col(OutcomeRow.id), col(OutcomeRow.code)).where(col(OutcomeRow.standard_id) == standard_id)
        ).all()
    )
    outs: dict[int, list[str]] = {r[2]: [] for r in rows}
    for qv, outcome in conn.execute(
        select(col(QuestionVersionOutcomeRow.question_version_id), col(QuestionVersionOutcomeRow.outcome_id))
        .join(ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionOutcomeRow.question_version_id)
        .where(col(ReleaseItemRow.release_id) == release_id)
    ):
        if qv in outs:
            outs[qv].append(code_of_outcome[outcome])
    entries: list[PoolEntry] = [(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), outs[r[2]]) for r in rows]
    code_of = {r[2]: r[1] for r in rows}
    pairs = [
        (code_of[a], code_of[b])
        for a, b in conn.execute(
            select(col(ReleaseNearDuplicateRow.a_version_id), col(ReleaseNearDuplicateRow.b_version_id)).where(
                col(ReleaseNearDuplicateRow.release_id) == release_id
            )
        )
        if a in code_of and b in code_of
    ]
    return entries, pairs


def _store_payload(engine: Engine, release_id: int, method_id: int, payload: str) -> None:
    """Keep a pool built from rows for the next process (its own transaction: a draw that fails
    later keeps it; two processes building it at once both succeed, the second one's row unused)."""
    try:
        with Session(engine) as s, s.begin():
            s.execute(
                delete(ReleasePoolRow).where(
                    col(ReleasePoolRow.release_id) == release_id,
                    col(ReleasePoolRow.method_id) == method_id,
                    col(ReleasePoolRow.format) != POOL_FORMAT,
                )
            )
            s.add(ReleasePoolRow(release_id=release_id, method_id=method_id, format=POOL_FORMAT, payload=payload))
    except (IntegrityError, OperationalError):
        pass  # another process stored it first (or the store is busy): this one is built already


def resolve_method(
    s: Session, standard: str, method: str, release: str | None
) -> tuple[StandardRow, MethodRow, ReleaseRow]:
    """The standard, the method and the named release (default: the latest), or a DrawError."""
    q = (
        select(StandardRow, ReleaseRow, MethodRow)
        .join(ReleaseRow, col(ReleaseRow.standard_id) == StandardRow.id)
        .join(MethodRow, col(MethodRow.standard_id) == StandardRow.id)
        .where(col(StandardRow.code) == standard, col(MethodRow.key) == method)
    )
    q = q.where(col(ReleaseRow.semver) == release) if release else q
    found = s.execute(  # one round trip when all three are there; the lookups below say what is missing
        q.order_by(col(ReleaseRow.major).desc(), col(ReleaseRow.minor).desc(), col(ReleaseRow.patch).desc()).limit(1)
    ).first()
    if found is not None:
        return found[0], found[2], found[1]
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
    """The ad-hoc questions assessors put to the apprentice, in any assessment (on PostgreSQL with
    row-level security, other assessors' too, through `roles.definer`)."""
    from . import roles

    if roles.definer(s):
        found = s.execute(text("SELECT * FROM qbank_adhoc_texts(:a)"), {"a": apprentice_id}).scalars()
        return [t for t in found if t is not None]
    texts = s.execute(
        select(col(AskRow.adhoc_text))
        .join(AssessmentMethodRow, col(AssessmentMethodRow.id) == AskRow.assessment_method_id)
        .join(AssessmentRow, col(AssessmentRow.id) == AssessmentMethodRow.assessment_id)
        .where(col(AssessmentRow.apprentice_id) == apprentice_id, col(AskRow.adhoc_text).is_not(None))
        .order_by(col(AskRow.id))
    ).scalars()
    return [t for t in texts if t is not None]  # all of them (the WHERE)


def adhoc_avoid(s: Session, pool: Pool, texts: list[str]) -> frozenset[str]:
    """Pool questions that are near-duplicates (the standard's threshold, the same measure as the
    bank's near-duplicate check) of any of these ad-hoc question texts. The pool's texts are read
    only when there is an ad-hoc text to compare (most apprentices have none), once per process."""
    out: set[str] = set()
    if not texts:
        return frozenset()
    normalised = _normalised_texts(s, pool)
    for adhoc in dict.fromkeys(texts):
        for _, _, i in process.extract_iter(
            normalise(adhoc), normalised, scorer=fuzz.ratio, score_cutoff=pool.threshold
        ):
            out.add(pool.candidates[i].code)
    return frozenset(out)


TEXTS: dict[tuple[str, int, int], tuple[str, ...]] = {}  # (store URL, release id, method id) -> normalised texts


def _normalised_texts(s: Session, pool: Pool) -> tuple[str, ...]:
    """Each pool candidate's text, normalised for similarity, in the pool's order."""
    key = (str(s.get_bind().engine.url), pool.release_id, pool.method_id)  # .engine: the bind may be a connection
    if key not in TEXTS:
        text_of = dict(
            s.execute(
                select(col(QuestionVersionRow.id), col(QuestionVersionRow.text))
                .join(ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionRow.id)
                .where(col(ReleaseItemRow.release_id) == pool.release_id)
            ).all()
        )
        TEXTS[key] = tuple(normalise(text_of[c.qv_id]) for c in pool.candidates)
    return TEXTS[key]


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
    ids = {q.id for q in qs}
    dups = frozenset(
        frozenset((d.a, d.b)) for d in near_duplicates({q.id: q.text for q in qs}, std.near_duplicate_threshold)
    ) | frozenset(frozenset((q.id, x)) for q in qs for x in q.excludes if x in ids and x != q.id)
    return DrawSpec(method=md, pool=cands, near_duplicates=dups, exposure_cap=exposure_cap)
