"""Reading the store's bank: listing, searching, showing questions, coverage stats, release diffs.

A question is *approved* when its latest version is in its standard's current (newest) release,
and *retired* when it was released before but the current release no longer has it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial

from rapidfuzz import fuzz, process
from sqlalchemy import Exists, Select, exists, select
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from .definition import for_release
from .models import (
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
from .releases import ReleaseDiff, diff_versions


@dataclass
class QuestionSummary:
    id: str
    version: int
    standard: str
    status: str
    methods: list[str]
    outcomes: list[str]
    minutes: int
    topic: str
    text: str
    score: float | None = None
    extra: str = ""  # probes and guidance: searched, not shown

    def as_dict(self) -> dict:
        d = self.__dict__.copy()
        d.pop("extra")
        return d


@dataclass
class QuestionDetail:
    id: str
    standard: str
    status: str
    versions: list[dict] = field(default_factory=list)  # newest first, each with releases

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _releases(s: Session, standard_id: int | None = None) -> dict[int, list[Row]]:
    """Each standard's releases (or one standard's), oldest first: the last is the current one.
    Only (id, standard_id, semver, major, minor, patch) are read, not the stored definitions."""
    stmt = select(
        col(ReleaseRow.id),
        col(ReleaseRow.standard_id),
        col(ReleaseRow.semver),
        col(ReleaseRow.major),
        col(ReleaseRow.minor),
        col(ReleaseRow.patch),
    )
    if standard_id is not None:
        stmt = stmt.where(col(ReleaseRow.standard_id) == standard_id)
    out: dict[int, list[Row]] = defaultdict(list)
    for r in s.execute(stmt):
        out[r.standard_id].append(r)
    for rs in out.values():
        rs.sort(key=lambda r: (r.major, r.minor, r.patch))
    return out


def _links(s: Session, qv_ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Each version's outcome codes and method keys, in the standard's order."""
    outs: dict[int, list[str]] = defaultdict(list)
    meths: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(qv_ids):
        for qv, code in s.execute(
            select(col(QuestionVersionOutcomeRow.question_version_id), col(OutcomeRow.code))
            .join(OutcomeRow, col(OutcomeRow.id) == QuestionVersionOutcomeRow.outcome_id)
            .where(col(QuestionVersionOutcomeRow.question_version_id).in_(chunk))
            .order_by(col(OutcomeRow.position))
        ):
            outs[qv].append(code)
        for qv, key in s.execute(
            select(col(QuestionVersionMethodRow.question_version_id), col(MethodRow.key))
            .join(MethodRow, col(MethodRow.id) == QuestionVersionMethodRow.method_id)
            .where(col(QuestionVersionMethodRow.question_version_id).in_(chunk))
            .order_by(col(MethodRow.position))
        ):
            meths[qv].append(key)
    return outs, meths


_QV = QuestionVersionRow
_NEWER = aliased(QuestionVersionRow)


def _listing(
    columns: tuple,
    current: list[int],
    *,
    standard_id: int | None,
    method: str | None,
    outcome: str | None,
    status: str | None,
) -> Select:
    """A SELECT of `columns` over each question's latest version, with the list filters as SQL.
    A version is approved when it is an item of a current release (`current`: each standard's
    newest release); a method or outcome filter matches the version's own links by key or code."""
    in_current = _in_current(current)
    stmt = (
        select(*columns)
        .select_from(QuestionRow)
        .join(_QV, col(_QV.question_id) == QuestionRow.id)
        .where(~exists().where(col(_NEWER.question_id) == _QV.question_id).where(col(_NEWER.version) > _QV.version))
    )
    if standard_id is not None:
        stmt = stmt.where(col(QuestionRow.standard_id) == standard_id)
    if method:
        stmt = stmt.where(
            exists()
            .where(col(QuestionVersionMethodRow.question_version_id) == _QV.id)
            .where(col(QuestionVersionMethodRow.method_id) == MethodRow.id)
            .where(col(MethodRow.key) == method)
        )
    if outcome:
        stmt = stmt.where(
            exists()
            .where(col(QuestionVersionOutcomeRow.question_version_id) == _QV.id)
            .where(col(QuestionVersionOutcomeRow.outcome_id) == OutcomeRow.id)
            .where(col(OutcomeRow.code) == outcome)
        )
    if status == "approved":
        stmt = stmt.where(in_current)
    elif status == "retired":
        stmt = stmt.where(~in_current)
    return stmt


def _in_current(current: list[int]) -> Exists:
    """Whether the latest version is an item of a current release."""
    return (
        exists()
        .where(col(ReleaseItemRow.question_version_id) == _QV.id)
        .where(col(ReleaseItemRow.release_id).in_(current))
    )


def list_questions(
    engine: Engine | Connection,
    *,
    standard: str | None = None,
    method: str | None = None,
    outcome: str | None = None,
    status: str | None = None,
    search: str | None = None,
    limit: int | None = None,
) -> list[QuestionSummary]:
    """Each question's latest version, filtered, in id order or (with `search`) best match first;
    at most `limit` of them (None or 0: all). The filters, the order and the limit run in the
    database, and only the questions returned have their links read; a search reads the filtered
    questions' texts, scores them here, and reads the rest only for the best `limit`."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 (no limit) or more, not {limit}")
    if status not in (None, "approved", "retired"):
        raise ValueError(f"status must be approved or retired, not {status!r}")
    words = _WORD.findall(search.lower()) if search else []
    with Session(engine) as s:
        standard_id = None
        if standard:
            standard_id = s.execute(select(col(StandardRow.id)).where(col(StandardRow.code) == standard)).scalar()
            if standard_id is None:
                have = ", ".join(sorted(s.execute(select(col(StandardRow.code))).scalars())) or "none"
                raise BankError(f"no standard {standard} in the store (have: {have}; run `qbank import banks`)")
        current = [rels[-1].id for rels in _releases(s).values()]
        listing = partial(
            _listing, current=current, standard_id=standard_id, method=method, outcome=outcome, status=status
        )
        page = listing((*_SUMMARY, _in_current(current).label("approved")))
        scores: dict[int, float] = {}
        if words:
            assert search is not None
            texts = listing((_QV.id, QuestionRow.code, _QV.topic, _QV.text, _QV.probes_json, _QV.guidance))
            ranked = _rank(search, words, [(k, c, t, x, _extra(p, g)) for k, c, t, x, p, g in s.execute(texts)])
            scores = dict(ranked[:limit] if limit else ranked)  # best first
            rows = [r for ids in _chunks(list(scores)) for r in s.execute(page.where(col(_QV.id).in_(ids)))]
            by_id = {r.id: r for r in rows}
            rows = [by_id[k] for k in scores]
        else:
            page = page.order_by(col(QuestionRow.code))
            rows = list(s.execute(page.limit(limit) if limit else page))
        ids = [r.id for r in rows]
        outs, meths = _links(s, ids)
    return [
        QuestionSummary(
            id=r.code,
            version=r.version,
            standard=r.standard,
            status="approved" if r.approved else "retired",
            methods=meths[r.id],
            outcomes=outs[r.id],
            minutes=r.minutes,
            topic=r.topic,
            text=r.text,
            score=round(scores[r.id], 1) if words else None,
            extra=_extra(r.probes_json, r.guidance) if search else "",
        )
        for r in rows
    ]


_CHUNK = 10_000  # ids per IN list: well under any database's limit on bound parameters


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


_SUMMARY = (
    _QV.id,
    QuestionRow.code,
    select(col(StandardRow.code))
    .where(col(StandardRow.id) == QuestionRow.standard_id)
    .scalar_subquery()
    .label("standard"),
    _QV.version,
    _QV.minutes,
    _QV.topic,
    _QV.text,
    _QV.probes_json,
    _QV.guidance,
)


def _extra(probes_json: str, guidance: str) -> str:
    return " ".join(json.loads(probes_json)) + " " + guidance


_WORD = re.compile(r"[a-z0-9]+(?:[-'/.][a-z0-9]+)*")
SEARCH_CUTOFF = 80


def _rank(query: str, words: list[str], rows: list[tuple[int, str, str, str, str]]) -> list[tuple[int, float]]:
    """Fuzzy search over (key, id, topic, text, extra) rows, best first, as (key, score): every word
    of the query is looked for among the words of the question's id, topic, text, probes and guidance
    (a typo or a different ending still matches); a question scores the mean of its words' best
    matches, so one that holds all the words beats one that holds some. Ties go to the closer phrase
    match, then the id. Questions scoring under SEARCH_CUTOFF are left out."""
    scored = []
    for key, code, topic, text, extra in rows:
        hay = f"{code} {topic} {text} {extra}".lower()
        vocab = list(set(_WORD.findall(hay)))
        if not vocab:
            continue
        best = [process.extractOne(w, vocab, scorer=fuzz.ratio)[1] for w in words]
        score = sum(best) / len(best)
        if score >= SEARCH_CUTOFF:
            scored.append((-score, -fuzz.partial_ratio(query.lower(), hay), code, key))
    scored.sort(key=lambda x: x[:3])
    return [(x[3], -x[0]) for x in scored]


def show_question(engine: Engine, code: str) -> QuestionDetail:
    """One question with every version, newest first: only that question's rows are read."""
    with Session(engine) as s:
        q = s.execute(select(QuestionRow).where(col(QuestionRow.code) == code)).scalars().first()
        if q is None:
            hits = process.extractOne(
                code, list(s.execute(select(col(QuestionRow.code))).scalars()), scorer=fuzz.ratio, score_cutoff=70
            )
            hint = f" (did you mean {hits[0]}?)" if hits else ""
            raise BankError(f"no question {code} in the store{hint}")
        std = s.get(StandardRow, q.standard_id)
        assert std is not None  # question.standard_id is a foreign key
        rels = _releases(s, q.standard_id).get(q.standard_id, [])
        versions = list(
            s.execute(
                select(QuestionVersionRow)
                .where(col(QuestionVersionRow.question_id) == q.id)
                .order_by(col(QuestionVersionRow.version).desc())
            ).scalars()
        )
        ids = [v.id for v in versions]
        outs, meths = _links(s, ids)
        in_release: dict[int, list[str]] = defaultdict(list)
        for semver, qv in s.execute(
            select(col(ReleaseRow.semver), col(ReleaseItemRow.question_version_id))
            .join(ReleaseRow, col(ReleaseRow.id) == ReleaseItemRow.release_id)
            .where(col(ReleaseItemRow.question_version_id).in_(ids))
        ):
            in_release[qv].append(semver)
    current = rels[-1].semver if rels else None
    detail = QuestionDetail(
        id=code,
        standard=std.code,
        status="approved" if versions and current in in_release[versions[0].id] else "retired",
    )
    for v in versions:
        detail.versions.append(
            {
                "version": v.version,
                "hash": v.content_hash,
                "text": v.text,
                "probes": json.loads(v.probes_json),
                "guidance": v.guidance,
                "bands": json.loads(v.bands_json),
                "minutes": v.minutes,
                "topic": v.topic,
                "opener": v.opener,
                "author": v.author,
                "methods": meths[v.id],
                "outcomes": outs[v.id],
                "releases": sorted(in_release[v.id], key=lambda x: tuple(int(p) for p in x.split("."))),
            }
        )
    return detail


@dataclass
class StandardStats:
    code: str
    title: str
    release: str | None
    methods: list[str]
    outcomes: list[tuple[str, str]]  # (code, group)
    required: dict[str, set[str]]  # method -> outcome codes it must assess
    counts: dict[tuple[str, str], int]  # (outcome, method) -> approved questions
    questions: int
    threshold: int

    def shortfalls(self) -> list[tuple[str, str, int]]:
        return [
            (m, o, self.counts.get((o, m), 0))
            for m in self.methods
            for o in sorted(self.required[m])
            if self.counts.get((o, m), 0) < self.threshold
        ]

    def as_dict(self) -> dict:
        return {
            "standard": self.code,
            "title": self.title,
            "release": self.release,
            "questions": self.questions,
            "threshold": self.threshold,
            "methods": self.methods,
            "outcomes": [
                {
                    "code": o,
                    "group": g,
                    "approved": {m: self.counts.get((o, m), 0) for m in self.methods},
                    "required_by": [m for m in self.methods if o in self.required[m]],
                }
                for o, g in self.outcomes
            ],
            "shortfalls": [{"method": m, "outcome": o, "approved": n} for m, o, n in self.shortfalls()],
        }


def stats(engine: Engine | Connection, standard: str | None = None) -> list[StandardStats]:
    out = []
    with Session(engine) as s:
        rels = _releases(s)
        stds = list(s.execute(select(StandardRow).order_by(col(StandardRow.code))).scalars())
        if standard and not any(r.code == standard for r in stds):
            raise BankError(f"no standard {standard} in the store (run `qbank import banks`)")
        for std in stds:
            if standard and std.code != standard:
                continue
            methods = list(
                s.execute(
                    select(MethodRow).where(col(MethodRow.standard_id) == std.id).order_by(col(MethodRow.position))
                ).scalars()
            )
            outcomes = list(
                s.execute(
                    select(OutcomeRow).where(col(OutcomeRow.standard_id) == std.id).order_by(col(OutcomeRow.position))
                ).scalars()
            )
            current = rels.get(std.id, [])
            if current:  # a method a later release dropped (ILM's oral-report-questioning) is history, not a gap
                newest = s.get(ReleaseRow, current[-1].id)
                kept = set(for_release(newest).method_ids) if newest is not None else {m.key for m in methods}
                methods = [m for m in methods if m.key in kept]
            ocode = {o.id: o.code for o in outcomes}
            mkey = {m.id: m.key for m in methods}
            required: dict[str, set[str]] = {m.key: set() for m in methods}
            for mid, oid in s.execute(
                select(col(MethodOutcomeRow.method_id), col(MethodOutcomeRow.outcome_id)).where(
                    col(MethodOutcomeRow.method_id).in_(list(mkey) or [-1])
                )
            ):
                required[mkey[mid]].add(ocode[oid])
            counts: dict[tuple[str, str], int] = defaultdict(int)
            n = 0
            if current:
                qv_ids = list(
                    s.execute(
                        select(col(ReleaseItemRow.question_version_id)).where(
                            col(ReleaseItemRow.release_id) == current[-1].id
                        )
                    ).scalars()
                )
                n = len(qv_ids)
                outs, meths = _links(s, qv_ids)
                for qv in qv_ids:
                    for o in outs[qv]:
                        for m in meths[qv]:
                            counts[(o, m)] += 1
            out.append(
                StandardStats(
                    code=std.code,
                    title=std.title,
                    release=current[-1].semver if current else None,
                    methods=[m.key for m in methods],
                    outcomes=[(o.code, o.group) for o in outcomes],
                    required=required,
                    counts=dict(counts),
                    questions=n,
                    threshold=std.min_per_outcome,
                )
            )
    return out


def release_diff(engine: Engine | Connection, standard: str, old: str, new: str) -> ReleaseDiff:
    with Session(engine) as s:
        std = s.execute(select(StandardRow).where(col(StandardRow.code) == standard)).scalars().first()
        if std is None:
            raise BankError(f"no standard {standard} in the store (run `qbank import banks`)")
        rels = {r.semver: r for r in _releases(s).get(std.id, [])}
        for v in (old, new):
            if v not in rels:
                raise BankError(f"{standard} has no release {v} in the store (releases: {', '.join(rels) or 'none'})")

        def versions(rel: Row) -> dict[str, int]:
            return dict(
                s.execute(
                    select(col(QuestionRow.code), col(QuestionVersionRow.version))
                    .join(QuestionVersionRow, col(QuestionVersionRow.question_id) == QuestionRow.id)
                    .join(ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionRow.id)
                    .where(col(ReleaseItemRow.release_id) == rel.id)
                ).all()
            )

        return diff_versions(standard, old, new, versions(rels[old]), versions(rels[new]))


def summary(engine: Engine) -> list[dict]:
    """One line per standard: release, methods, outcomes, approved questions, shortfalls."""
    return [
        {
            "standard": st.code,
            "title": st.title,
            "release": st.release,
            "methods": len(st.methods),
            "outcomes": len(st.outcomes),
            "approved_questions": st.questions,
            "shortfalls": len(st.shortfalls()),
        }
        for st in stats(engine)
    ]
