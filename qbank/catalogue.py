"""Reading the store's bank: listing, searching, showing questions, coverage stats, release diffs.

A question is *approved* when its latest version is in its standard's current (newest) release,
and *retired* when it was released before but the current release no longer has it.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlmodel import col

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


def _releases(s: Session) -> dict[int, list[ReleaseRow]]:
    out: dict[int, list[ReleaseRow]] = defaultdict(list)
    for r in s.execute(select(ReleaseRow)).scalars():
        out[r.standard_id].append(r)
    for rs in out.values():
        rs.sort(key=lambda r: (r.major, r.minor, r.patch))
    return out


def _links(s: Session, qv_ids: list[int]) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    outs: dict[int, list[str]] = defaultdict(list)
    meths: dict[int, list[str]] = defaultdict(list)
    if not qv_ids:
        return outs, meths
    for qv, code in s.execute(
        select(col(QuestionVersionOutcomeRow.question_version_id), col(OutcomeRow.code))
        .join(OutcomeRow, col(OutcomeRow.id) == QuestionVersionOutcomeRow.outcome_id)
        .where(col(QuestionVersionOutcomeRow.question_version_id).in_(qv_ids))
        .order_by(col(OutcomeRow.position))
    ):
        outs[qv].append(code)
    for qv, key in s.execute(
        select(col(QuestionVersionMethodRow.question_version_id), col(MethodRow.key))
        .join(MethodRow, col(MethodRow.id) == QuestionVersionMethodRow.method_id)
        .where(col(QuestionVersionMethodRow.question_version_id).in_(qv_ids))
        .order_by(col(MethodRow.position))
    ):
        meths[qv].append(key)
    return outs, meths


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
    with Session(engine) as s:
        stds = {r.id: r for r in s.execute(select(StandardRow)).scalars()}
        if standard and not any(r.code == standard for r in stds.values()):
            have = ", ".join(sorted(r.code for r in stds.values())) or "none"
            raise BankError(f"no standard {standard} in the store (have: {have}; run `qbank import banks`)")
        current_items: set[int] = set()
        for rels in _releases(s).values():
            current_items.update(
                s.execute(
                    select(col(ReleaseItemRow.question_version_id)).where(col(ReleaseItemRow.release_id) == rels[-1].id)
                ).scalars()
            )
        rows = s.execute(
            select(col(QuestionRow.code), col(QuestionRow.standard_id), QuestionVersionRow)
            .join(QuestionVersionRow, col(QuestionVersionRow.question_id) == QuestionRow.id)
            .order_by(col(QuestionRow.code), col(QuestionVersionRow.version))
        ).all()
        latest: dict[str, tuple[int, QuestionVersionRow]] = {}
        for code, sid, qv in rows:
            latest[code] = (sid, qv)  # ordered by version, so the last wins
        outs, meths = _links(s, [qv.id for _, qv in latest.values()])
    result = []
    for code, (sid, qv) in latest.items():
        st = "approved" if qv.id in current_items else "retired"
        summary = QuestionSummary(
            id=code,
            version=qv.version,
            standard=stds[sid].code,
            status=st,
            methods=meths[qv.id],
            outcomes=outs[qv.id],
            minutes=qv.minutes,
            topic=qv.topic,
            text=qv.text,
            extra=" ".join(json.loads(qv.probes_json)) + " " + qv.guidance if search else "",
        )
        if standard and summary.standard != standard:
            continue
        if method and method not in summary.methods:
            continue
        if outcome and outcome not in summary.outcomes:
            continue
        if status and summary.status != status:
            continue
        result.append(summary)
    if search:
        result = _search(result, search)
    return result[:limit] if limit else result


_WORD = re.compile(r"[a-z0-9]+(?:[-'/.][a-z0-9]+)*")
SEARCH_CUTOFF = 80


def _search(rows: list[QuestionSummary], query: str) -> list[QuestionSummary]:
    """Fuzzy search: every word of the query is looked for among the words of the question's id,
    topic, text, probes and guidance (a typo or a different ending still matches); a question scores the mean of its
    words' best matches, so one that holds all the words beats one that holds some. Ties go to
    the closer phrase match, then the id."""
    words = _WORD.findall(query.lower())
    if not words:
        return rows
    scored = []
    for q in rows:
        hay = f"{q.id} {q.topic} {q.text} {q.extra}".lower()
        vocab = list(set(_WORD.findall(hay)))
        if not vocab:
            continue
        best = [process.extractOne(w, vocab, scorer=fuzz.ratio)[1] for w in words]
        score = sum(best) / len(best)
        if score >= SEARCH_CUTOFF:
            q.score = round(score, 1)
            scored.append((-score, -fuzz.partial_ratio(query.lower(), hay), q.id, q))
    scored.sort(key=lambda x: x[:3])
    return [x[3] for x in scored]


def show_question(engine: Engine, code: str) -> QuestionDetail:
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
        rels = _releases(s).get(q.standard_id, [])
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
        rel_by_id = {r.id: r for r in rels}
        for rid, qv in s.execute(
            select(col(ReleaseItemRow.release_id), col(ReleaseItemRow.question_version_id)).where(
                col(ReleaseItemRow.question_version_id).in_(ids)
            )
        ):
            in_release[qv].append(rel_by_id[rid].semver)
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
            ocode = {o.id: o.code for o in outcomes}
            mkey = {m.id: m.key for m in methods}
            required: dict[str, set[str]] = {m.key: set() for m in methods}
            for mid, oid in s.execute(
                select(col(MethodOutcomeRow.method_id), col(MethodOutcomeRow.outcome_id)).where(
                    col(MethodOutcomeRow.method_id).in_(list(mkey) or [-1])
                )
            ):
                required[mkey[mid]].add(ocode[oid])
            current = rels.get(std.id, [])
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

        def versions(rel: ReleaseRow) -> dict[str, int]:
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
