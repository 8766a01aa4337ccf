"""Drawing, storing, replaying and swapping question sets: the draw engine with the store at its edges.

`draw_set` reads the pool (cached per release and method: releases never change), the
apprentice's history and recent usage, asks `draw.select` for a set with a fresh CSPRNG seed,
and stores the set and its items in one transaction. The unique (apprentice, question, void_key)
constraint on draw items makes the database refuse a second draw that took the same question
for the same apprentice at the same moment; the loser retries with the history re-read.

A live item has void_key 0. An item that stops counting against the apprentice keeps its row and
gets void_key = its own id: every item of a draw voided unused (`void_draws`), and the question a
swap brought in when the swap is undone (`undo_swap_in`). The apprentice's history ignores them.
Bank questions that are near-duplicates of ad-hoc questions already put to the apprentice are
avoided too (`adhoc_avoid`), and stored with the draw so a replay reproduces it.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from rapidfuzz import fuzz, process

from .draw import ALGORITHM, ATTEMPTS, Candidate, DrawSpec, Infeasible, Method, Usage, choose_swap, select as select_set
from .models import (
    ApprenticeRow,
    AskRow,
    AssessmentMethodRow,
    AssessmentRow,
    DrawItemRow,
    DrawRow,
    DrawSwapRow,
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
    utcnow,
)
from .problems import BankError
from .similarity import near_duplicates, normalise

USAGE_WINDOW = 500  # recent sets of a method that exposure is measured over
OVERLAP = 64  # draw and swap ids re-read below each watermark (concurrent commits can land out of order)
RETRIES = 8


@dataclass(frozen=True)
class DrawRequest:
    standard: str
    method: str
    apprentice: str
    attempt: str = "first"
    cohort: str = ""
    extra_time_pct: int = 0
    release: str | None = None  # default: the standard's current release
    exposure_cap: float = 0.30


@dataclass
class DrawnQuestion:
    position: int
    id: str
    version: int
    outcomes: list[str]
    minutes: int
    topic: str
    opener: bool
    text: str = ""
    probes: list[str] = field(default_factory=list)
    guidance: str = ""
    bands: dict[str, str] = field(default_factory=dict)  # evidence level -> what an answer at it shows


@dataclass
class DrawResult:
    draw_id: int
    standard: str
    method: str
    release: str
    apprentice: str
    attempt: str
    cohort: str
    extra_time_pct: int
    budget_minutes: int
    seed: str
    questions: list[DrawnQuestion]
    required: list[str]
    adhoc_excluded: list[str] = field(default_factory=list)  # avoided: near-duplicates of ad-hoc questions asked
    voided: bool = False  # the draw's assessment was voided unused: its questions count for nobody

    @property
    def minutes(self) -> int:
        return sum(q.minutes for q in self.questions)

    def as_dict(self) -> dict:
        d = dict(self.__dict__)
        d["questions"] = [q.__dict__ for q in self.questions]
        d["minutes"] = self.minutes
        return d


class DrawError(BankError):
    """The draw cannot be made; `reasons` say what cannot be met and why."""

    def __init__(self, message: str, reasons: list[str] | None = None):
        super().__init__(message)
        self.reasons = reasons or []


# --------------------------------------------------------------------------- pool (cached)


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
    threshold: float = 90  # the standard's near-duplicate threshold


_POOLS: dict[tuple[str, int, int], Pool] = {}


def _pool(s: Session, engine: Engine, std: StandardRow, method: MethodRow, rel: ReleaseRow) -> Pool:
    key = (str(engine.url), rel.id, method.id)
    if key in _POOLS:
        return _POOLS[key]
    definition = json.loads(rel.definition_json)
    mdef = next((m for m in definition["methods"] if m["id"] == method.key), None)
    if mdef is None:
        raise DrawError(f"release {rel.semver} of {std.code} has no method {method.key}")
    m = Method(id=method.key, required=frozenset(mdef["assesses"]), minutes=mdef["minutes"],
               min_questions=mdef["min_questions"])
    rows = s.execute(
        select(QuestionRow.id, QuestionRow.code, QuestionVersionRow.id, QuestionVersionRow.version,
               QuestionVersionRow.minutes, QuestionVersionRow.topic, QuestionVersionRow.opener, QuestionVersionRow.text)
        .join(QuestionVersionRow, QuestionVersionRow.question_id == QuestionRow.id)
        .join(ReleaseItemRow, ReleaseItemRow.question_version_id == QuestionVersionRow.id)
        .join(QuestionVersionMethodRow, QuestionVersionMethodRow.question_version_id == QuestionVersionRow.id)
        .where(ReleaseItemRow.release_id == rel.id, QuestionVersionMethodRow.method_id == method.id)
        .order_by(QuestionRow.code)).all()
    qv_ids = [r[2] for r in rows]
    outs: dict[int, set[str]] = {i: set() for i in qv_ids}
    for qv, code in s.execute(select(QuestionVersionOutcomeRow.question_version_id, OutcomeRow.code)
                              .join(OutcomeRow, OutcomeRow.id == QuestionVersionOutcomeRow.outcome_id)
                              .join(ReleaseItemRow, ReleaseItemRow.question_version_id
                                    == QuestionVersionOutcomeRow.question_version_id)
                              .where(ReleaseItemRow.release_id == rel.id)):
        if qv in outs:
            outs[qv].add(code)
    cands = tuple(Candidate(code=r[1], version=r[3], qv_id=r[2], outcomes=frozenset(outs[r[2]]), minutes=r[4],
                            topic=r[5], opener=r[6]) for r in rows)
    texts = {r[1]: r[7] for r in rows}
    dups = frozenset(frozenset((d.a, d.b)) for d in near_duplicates(texts, std.near_duplicate_threshold))
    pool = Pool(standard_id=std.id, method_id=method.id, release_id=rel.id, release=rel.semver, method=m,
                candidates=cands, near_duplicates=dups, qid_by_code={r[1]: r[0] for r in rows},
                normalised=tuple(normalise(texts[c.code]) for c in cands), threshold=std.near_duplicate_threshold)
    _POOLS[key] = pool
    return pool


def _resolve(s: Session, standard: str, method: str, release: str | None):
    std, rel = resolve_release(s, standard, release)
    meth = s.execute(select(MethodRow).where(MethodRow.standard_id == std.id, MethodRow.key == method)).scalars().first()
    if meth is None:
        known = ", ".join(s.execute(select(MethodRow.key).where(MethodRow.standard_id == std.id)
                                    .order_by(MethodRow.position)).scalars())
        raise DrawError(f"{standard} has no method '{method}' (methods: {known})")
    return std, meth, rel


def resolve_release(s: Session, standard: str, release: str | None) -> tuple[StandardRow, ReleaseRow]:
    """The standard and the named release (default: its latest), or a DrawError saying what is missing."""
    std = s.execute(select(StandardRow).where(StandardRow.code == standard)).scalars().first()
    if std is None:
        known = ", ".join(s.execute(select(StandardRow.code).order_by(StandardRow.code)).scalars()) or "none"
        raise DrawError(f"no standard {standard} in the store (have: {known}; run `qbank import banks`)")
    q = select(ReleaseRow).where(ReleaseRow.standard_id == std.id)
    if release:
        rel = s.execute(q.where(ReleaseRow.semver == release)).scalars().first()
        if rel is None:
            raise DrawError(f"{standard} has no release {release} in the store")
    else:
        rel = s.execute(q.order_by(ReleaseRow.major.desc(), ReleaseRow.minor.desc(), ReleaseRow.patch.desc())
                        ).scalars().first()
        if rel is None:
            raise DrawError(f"{standard} has no release in the store (run `qbank import banks`)")
    return std, rel


def _apprentice(engine: Engine, ref: str) -> int:
    ref = ref.strip()
    if not ref:
        raise DrawError("the apprentice reference is empty: give the EPAO's pseudonymous reference")
    for _ in range(RETRIES):
        with Session(engine) as s:
            row = s.execute(select(ApprenticeRow.id).where(ApprenticeRow.ref == ref)).scalar()
            if row is not None:
                return row
            try:
                a = ApprenticeRow(ref=ref)
                s.add(a)
                s.commit()
                return a.id
            except IntegrityError:  # created by a concurrent draw: read it again
                s.rollback()
    raise DrawError(f"could not record apprentice {ref}")


def _history(s: Session, apprentice_id: int) -> frozenset[str]:
    """Every question that counts as drawn for the apprentice (voided items do not)."""
    return frozenset(s.execute(select(QuestionRow.code).join(DrawItemRow, DrawItemRow.question_id == QuestionRow.id)
                               .where(DrawItemRow.apprentice_id == apprentice_id, DrawItemRow.void_key == 0)
                               ).scalars())


def adhoc_texts(s: Session, apprentice_id: int) -> list[str]:
    """The ad-hoc questions assessors put to the apprentice, in any assessment."""
    return list(s.execute(select(AskRow.adhoc_text)
                          .join(AssessmentMethodRow, AssessmentMethodRow.id == AskRow.assessment_method_id)
                          .join(AssessmentRow, AssessmentRow.id == AssessmentMethodRow.assessment_id)
                          .where(AssessmentRow.apprentice_id == apprentice_id, AskRow.adhoc_text.is_not(None))
                          .order_by(AskRow.id)).scalars())


def adhoc_avoid(pool: Pool, texts: list[str]) -> frozenset[str]:
    """Pool questions that are near-duplicates (the standard's threshold, the same measure as the
    bank's near-duplicate check) of any of these ad-hoc question texts."""
    out: set[str] = set()
    if not texts or not pool.normalised:
        return frozenset()
    for text in dict.fromkeys(texts):
        for _, _, i in process.extract_iter(normalise(text), pool.normalised, scorer=fuzz.ratio,
                                            score_cutoff=pool.threshold):
            out.add(pool.candidates[i].code)
    return frozenset(out)


class _UsageCache:
    """Recent use of one method's questions, kept up to date incrementally.

    Each call reads only the draws and swaps it has not seen (re-reading OVERLAP ids below its
    watermarks, since concurrent transactions can commit out of id order), so it follows draws
    made by any process or assessor; the window holds the active questions of the last `window`
    sets. Usage steers only the soft goals; each draw stores the snapshot it used for replay."""

    def __init__(self, window: int):
        self.window = window
        self.last_draw = 0
        self.last_swap = 0
        self.sets: deque[tuple[int, str, list[str]]] = deque()  # (draw id, cohort, active question ids)
        self.counts: Counter = Counter()
        self.cohorts: dict[str, Counter] = {}
        self.items = 0
        self.seen_draws: set[int] = set()
        self.seen_swaps: set[int] = set()
        self.seen_void: set[int] = set()  # voided draws already taken out of the window
        self.seen_undone: set[int] = set()  # undone swaps already reversed


    def refresh(self, s: Session, method_id: int) -> None:
        # re-read a little below the watermark: a draw given a lower id may commit after a higher one
        new = [r for r in s.execute(select(DrawRow.id, DrawRow.cohort)
                                    .where(DrawRow.method_id == method_id, DrawRow.id > self.last_draw - OVERLAP,
                                           DrawRow.voided_at.is_(None))
                                    .order_by(DrawRow.id)).all() if r[0] not in self.seen_draws]
        self.seen_draws.update(r[0] for r in new)
        if len(new) > self.window:
            new = new[-self.window:]
        if new:
            codes: dict[int, list[str]] = {d: [] for d, _ in new}
            for draw_id, code in s.execute(select(DrawItemRow.draw_id, QuestionRow.code)
                                           .join(QuestionRow, QuestionRow.id == DrawItemRow.question_id)
                                           .where(DrawItemRow.draw_id.in_(list(codes)), DrawItemRow.active.is_(True))
                                           .order_by(DrawItemRow.draw_id, DrawItemRow.position)):
                codes[draw_id].append(code)
            for draw_id, cohort in new:
                self._add(draw_id, cohort, codes[draw_id])
            self.last_draw = max(self.last_draw, new[-1][0])
        swaps = [r for r in s.execute(
            select(DrawSwapRow.id, DrawSwapRow.draw_id, DrawItemRow.question_id, DrawSwapRow.in_item_id)
            .join(DrawItemRow, DrawItemRow.id == DrawSwapRow.out_item_id)
            .join(DrawRow, DrawRow.id == DrawSwapRow.draw_id)
            .where(DrawSwapRow.id > self.last_swap - OVERLAP, DrawRow.method_id == method_id,
                   DrawSwapRow.undone_at.is_(None))
            .order_by(DrawSwapRow.id)).all() if r[0] not in self.seen_swaps]
        if swaps:
            code_of = dict(s.execute(select(QuestionRow.id, QuestionRow.code).where(QuestionRow.id.in_(
                {r[2] for r in swaps} | set(s.execute(select(DrawItemRow.question_id).where(
                    DrawItemRow.id.in_([r[3] for r in swaps]))).scalars())))).all())
            in_q = dict(s.execute(select(DrawItemRow.id, DrawItemRow.question_id)
                                  .where(DrawItemRow.id.in_([r[3] for r in swaps]))).all())
            by_draw = {d: (cohort, lst) for d, cohort, lst in self.sets}
            for swap_id, draw_id, out_qid, in_item in swaps:
                self.seen_swaps.add(swap_id)
                if draw_id in by_draw:
                    cohort, lst = by_draw[draw_id]
                    out_code, in_code = code_of[out_qid], code_of[in_q[in_item]]
                    if out_code in lst and in_code not in lst:  # not already read as active
                        lst[lst.index(out_code)] = in_code
                        self.counts[out_code] -= 1
                        self.counts[in_code] += 1
                        self.cohorts[cohort][out_code] -= 1
                        self.cohorts[cohort][in_code] += 1
                self.last_swap = max(self.last_swap, swap_id)
        self._forget_undone(s, method_id)
        # remember only the ids that could still be re-read below the watermarks
        self.seen_draws = {d for d in self.seen_draws if d > self.last_draw - OVERLAP}
        self.seen_swaps = {w for w in self.seen_swaps if w > self.last_swap - OVERLAP}

    def _forget_undone(self, s: Session, method_id: int) -> None:
        """Voided draws leave the window; undone swaps are reversed (both rare: indexed lookups)."""
        voided = [d for d in s.execute(select(DrawRow.id).where(DrawRow.voided_at.is_not(None),
                                                                DrawRow.method_id == method_id)).scalars()
                  if d not in self.seen_void]
        if voided:
            self.seen_void.update(voided)
            gone = set(voided)
            keep = deque()
            for draw_id, cohort, codes in self.sets:
                if draw_id in gone:
                    self.counts.subtract(codes)
                    self.cohorts[cohort].subtract(codes)
                    self.items -= len(codes)
                else:
                    keep.append((draw_id, cohort, codes))
            self.sets = keep
        out_item = DrawItemRow.__table__.alias("uo")
        in_item = DrawItemRow.__table__.alias("ui")
        qo = QuestionRow.__table__.alias("uqo")
        qi = QuestionRow.__table__.alias("uqi")
        undone = [r for r in s.execute(
            select(DrawSwapRow.id, DrawSwapRow.draw_id, qo.c.code, qi.c.code)
            .join(DrawRow, DrawRow.id == DrawSwapRow.draw_id)
            .join(out_item, out_item.c.id == DrawSwapRow.out_item_id).join(qo, qo.c.id == out_item.c.question_id)
            .join(in_item, in_item.c.id == DrawSwapRow.in_item_id).join(qi, qi.c.id == in_item.c.question_id)
            .where(DrawSwapRow.undone_at.is_not(None), DrawRow.method_id == method_id)
            .order_by(DrawSwapRow.id.desc())).all() if r[0] not in self.seen_undone]
        if undone:
            by_draw = {d: (cohort, lst) for d, cohort, lst in self.sets}
            for swap_id, draw_id, out_code, in_code in undone:
                self.seen_undone.add(swap_id)
                if draw_id in by_draw:
                    cohort, lst = by_draw[draw_id]
                    if in_code in lst and out_code not in lst:  # read while the swap stood
                        lst[lst.index(in_code)] = out_code
                        self.counts[in_code] -= 1
                        self.counts[out_code] += 1
                        self.cohorts[cohort][in_code] -= 1
                        self.cohorts[cohort][out_code] += 1

    def _add(self, draw_id: int, cohort: str, codes: list[str]) -> None:
        self.sets.append((draw_id, cohort, codes))
        self.counts.update(codes)
        self.cohorts.setdefault(cohort, Counter()).update(codes)
        self.items += len(codes)
        while len(self.sets) > self.window:
            _, old_cohort, old = self.sets.popleft()
            self.counts.subtract(old)
            self.cohorts[old_cohort].subtract(old)
            self.items -= len(old)

    def usage(self, cohort: str) -> Usage:
        n = len(self.sets)
        if not n:
            return Usage()
        return Usage(sets=n, mean_length=round(self.items / n, 4), counts={k: v for k, v in self.counts.items() if v},
                      cohort_counts={k: v for k, v in self.cohorts.get(cohort, {}).items() if v} if cohort else {})


_USAGE: dict[tuple[str, int, int], _UsageCache] = {}
_USAGE_LOCK = threading.Lock()


def _usage(s: Session, method_id: int, cohort: str, window: int = USAGE_WINDOW) -> Usage:
    key = (str(s.get_bind().url), method_id, window)
    with _USAGE_LOCK:
        cache = _USAGE.setdefault(key, _UsageCache(window))
        cache.refresh(s, method_id)
        return cache.usage(cohort)


# --------------------------------------------------------------------------- draw


def check_request(req: DrawRequest) -> None:
    if req.attempt not in ATTEMPTS:
        raise DrawError(f"attempt must be one of {', '.join(ATTEMPTS)}, not '{req.attempt}'")
    if not 0 <= req.extra_time_pct <= 200:
        raise DrawError(f"extra time must be a percentage from 0 to 200, not {req.extra_time_pct}")
    if not 0 < req.exposure_cap <= 1:
        raise DrawError(f"the exposure cap must be a share between 0 and 1, not {req.exposure_cap}")


def draw_set(engine: Engine, req: DrawRequest) -> DrawResult:
    """Draw, store and return a set; DrawError names what cannot be met and why."""
    check_request(req)
    apprentice_id = _apprentice(engine, req.apprentice)

    def work(s: Session) -> int:
        return draw_in(s, engine, req, apprentice_id)

    return load_draw(engine, with_retries(engine, work))


def with_retries(engine: Engine, work):
    """Run `work(session)` in one transaction, retrying when a concurrent draw took a question
    (the unique apprentice+question constraint) or SQLite stayed locked."""
    last_error: Exception | None = None
    for attempt in range(RETRIES):
        try:
            with Session(engine) as s:
                with s.begin():
                    return work(s)
        except IntegrityError as e:  # a concurrent draw took one of these questions for this apprentice
            last_error = e
            time.sleep(0.005 * (attempt + 1))
        except OperationalError as e:  # SQLite: database locked beyond the busy timeout
            last_error = e
            time.sleep(0.05 * (attempt + 1))
    raise DrawError(f"could not store the draw after {RETRIES} tries: {getattr(last_error, 'orig', last_error)}")


def draw_in(s: Session, engine: Engine, req: DrawRequest, apprentice_id: int) -> int:
    """Draw and store one set inside the caller's transaction; returns the draw id."""
    std, meth, rel = _resolve(s, req.standard, req.method, req.release)
    pool = _pool(s, engine, std, meth, rel)
    exclude = _history(s, apprentice_id)
    adhoc = adhoc_avoid(pool, adhoc_texts(s, apprentice_id))
    usage = _usage(s, meth.id, req.cohort)
    spec = DrawSpec(method=pool.method, pool=pool.candidates, near_duplicates=pool.near_duplicates,
                    exclude=exclude | adhoc, extra_time_pct=req.extra_time_pct, exposure_cap=req.exposure_cap)
    seed = secrets.token_hex(16)
    consulted: set[str] = set()
    try:
        chosen = select_set(spec, usage, seed, consulted)
    except Infeasible as e:
        raise DrawError(f"cannot draw a set for {req.apprentice} ({req.standard} {req.method}): "
                        + "; ".join(e.reasons), e.reasons) from None
    row = DrawRow(standard_id=std.id, method_id=meth.id, release_id=rel.id,
                  apprentice_id=apprentice_id, attempt=req.attempt, cohort=req.cohort,
                  extra_time_pct=req.extra_time_pct, exposure_cap=req.exposure_cap, seed=seed,
                  algorithm=ALGORITHM,
                  exclude_json=json.dumps(sorted(exclude)),
                  adhoc_exclude_json=json.dumps(sorted(adhoc)),
                  usage_json=json.dumps(usage.restricted_to(consulted).as_dict(), sort_keys=True))
    s.add(row)
    s.flush()
    s.execute(insert(DrawItemRow.__table__), [
        {"draw_id": row.id, "position": i + 1, "question_id": pool.qid_by_code[c.code],
         "question_version_id": c.qv_id, "apprentice_id": apprentice_id, "origin": "draw",
         "active": True}
        for i, c in enumerate(chosen)])
    return row.id


def load_draw(engine: Engine, draw_id: int, *, active_only: bool = True) -> DrawResult:
    with Session(engine) as s:
        d = s.get(DrawRow, draw_id)
        if d is None:
            raise DrawError(f"no draw {draw_id} in the store")
        std = s.get(StandardRow, d.standard_id)
        meth = s.get(MethodRow, d.method_id)
        rel = s.get(ReleaseRow, d.release_id)
        appr = s.get(ApprenticeRow, d.apprentice_id)
        q = (select(DrawItemRow.position, QuestionRow.code, QuestionVersionRow)
             .join(QuestionRow, QuestionRow.id == DrawItemRow.question_id)
             .join(QuestionVersionRow, QuestionVersionRow.id == DrawItemRow.question_version_id)
             .where(DrawItemRow.draw_id == draw_id))
        if active_only and d.voided_at is None:
            q = q.where(DrawItemRow.active.is_(True))
        elif active_only:  # voided: the set as it stood when voided (every item is inactive now)
            gone = set(s.execute(select(DrawSwapRow.out_item_id).where(DrawSwapRow.draw_id == draw_id,
                                                                       DrawSwapRow.undone_at.is_(None))).scalars())
            gone |= set(s.execute(select(DrawSwapRow.in_item_id).where(DrawSwapRow.draw_id == draw_id,
                                                                       DrawSwapRow.undone_at.is_not(None))).scalars())
            if gone:
                q = q.where(DrawItemRow.id.not_in(gone))
        rows = s.execute(q.order_by(DrawItemRow.position, DrawItemRow.id)).all()
        qv_ids = [r[2].id for r in rows]
        outs: dict[int, list[str]] = {i: [] for i in qv_ids}
        for qv, code in s.execute(select(QuestionVersionOutcomeRow.question_version_id, OutcomeRow.code)
                                  .join(OutcomeRow, OutcomeRow.id == QuestionVersionOutcomeRow.outcome_id)
                                  .where(QuestionVersionOutcomeRow.question_version_id.in_(qv_ids))
                                  .order_by(OutcomeRow.position)):
            outs[qv].append(code)
        required = json.loads(rel.definition_json)
        mdef = next(m for m in required["methods"] if m["id"] == meth.key)
    questions = [DrawnQuestion(position=p, id=code, version=qv.version, outcomes=outs[qv.id], minutes=qv.minutes,
                               topic=qv.topic, opener=qv.opener, text=qv.text, probes=json.loads(qv.probes_json),
                               guidance=qv.guidance, bands=json.loads(qv.bands_json or "{}"))
                 for p, code, qv in rows]
    budget = mdef["minutes"] * (100 + d.extra_time_pct) // 100
    return DrawResult(draw_id=d.id, standard=std.code, method=meth.key, release=rel.semver, apprentice=appr.ref,
                      attempt=d.attempt, cohort=d.cohort, extra_time_pct=d.extra_time_pct, budget_minutes=budget,
                      seed=d.seed, questions=questions, required=list(mdef["assesses"]),
                      adhoc_excluded=json.loads(d.adhoc_exclude_json or "[]"), voided=d.voided_at is not None)


# --------------------------------------------------------------------------- replay


@dataclass
class Replay:
    draw_id: int
    stored: list[tuple[str, int]]
    replayed: list[tuple[str, int]]
    algorithm: str = ALGORITHM

    @property
    def identical(self) -> bool:
        return self.stored == self.replayed


def replay(engine: Engine, draw_id: int) -> Replay:
    """Re-run the selection with the stored seed, release, parameters and snapshots."""
    with Session(engine) as s:
        d = s.get(DrawRow, draw_id)
        if d is None:
            raise DrawError(f"no draw {draw_id} in the store")
        if d.algorithm != ALGORITHM:
            raise DrawError(f"draw {draw_id} was made by {d.algorithm}; this qbank selects with {ALGORITHM}. "
                            f"Replay it with the qbank release that made it (its seed and inputs are stored)")
        std = s.get(StandardRow, d.standard_id)
        meth = s.get(MethodRow, d.method_id)
        rel = s.get(ReleaseRow, d.release_id)
        pool = _pool(s, engine, std, meth, rel)
        stored = [(code, v) for code, v in s.execute(
            select(QuestionRow.code, QuestionVersionRow.version).select_from(DrawItemRow)
            .join(QuestionRow, QuestionRow.id == DrawItemRow.question_id)
            .join(QuestionVersionRow, QuestionVersionRow.id == DrawItemRow.question_version_id)
            .where(DrawItemRow.draw_id == draw_id, DrawItemRow.origin == "draw").order_by(DrawItemRow.position))]
    spec = DrawSpec(method=pool.method, pool=pool.candidates, near_duplicates=pool.near_duplicates,
                    exclude=frozenset(json.loads(d.exclude_json)) | frozenset(json.loads(d.adhoc_exclude_json or "[]")),
                    extra_time_pct=d.extra_time_pct,
                    exposure_cap=d.exposure_cap)
    chosen = select_set(spec, Usage.from_dict(json.loads(d.usage_json)), d.seed)
    return Replay(draw_id=draw_id, stored=stored, replayed=[(c.code, c.version) for c in chosen])


# --------------------------------------------------------------------------- swap


@dataclass
class SwapResult:
    draw: DrawResult
    out_id: str
    in_id: str
    reason: str


def swap(engine: Engine, draw_id: int, question: str, reason: str) -> SwapResult:
    """Replace one question of a stored set with another keeping every constraint; recorded with its reason."""
    reason = reason.strip()
    if not reason:
        raise DrawError("a swap needs a reason (it is recorded for standardisation)")
    for attempt in range(RETRIES):
        try:
            with Session(engine) as s:
                with s.begin():
                    d = s.get(DrawRow, draw_id)
                    if d is None:
                        raise DrawError(f"no draw {draw_id} in the store")
                    std, meth, rel = s.get(StandardRow, d.standard_id), s.get(MethodRow, d.method_id), \
                        s.get(ReleaseRow, d.release_id)
                    pool = _pool(s, engine, std, meth, rel)
                    items = s.execute(select(DrawItemRow, QuestionRow.code)
                                      .join(QuestionRow, QuestionRow.id == DrawItemRow.question_id)
                                      .where(DrawItemRow.draw_id == draw_id, DrawItemRow.active.is_(True))
                                      .order_by(DrawItemRow.position)).all()
                    by_code = {c.code: c for c in pool.candidates}
                    current = [by_code[code] for _, code in items if code in by_code]
                    out_item = next((it for it, code in items if code == question), None)
                    if out_item is None:
                        raise DrawError(f"{question} is not in draw {draw_id} "
                                        f"(it has: {', '.join(code for _, code in items)})")
                    if d.voided_at is not None:
                        raise DrawError(f"draw {draw_id} was voided; its questions can no longer be swapped")
                    exclude = _history(s, d.apprentice_id) | adhoc_avoid(pool, adhoc_texts(s, d.apprentice_id))
                    spec = DrawSpec(method=pool.method, pool=pool.candidates, near_duplicates=pool.near_duplicates,
                                    exclude=exclude, extra_time_pct=d.extra_time_pct, exposure_cap=d.exposure_cap)
                    seed = secrets.token_hex(16)
                    try:
                        new = choose_swap(spec, current, by_code[question], _usage(s, meth.id, d.cohort), seed)
                    except Infeasible as e:
                        raise DrawError(f"cannot swap {question}: " + "; ".join(e.reasons), e.reasons) from None
                    out_item.active = False
                    new_item = DrawItemRow(draw_id=draw_id, position=out_item.position,
                                           question_id=pool.qid_by_code[new.code], question_version_id=new.qv_id,
                                           apprentice_id=d.apprentice_id, origin="swap", active=True)
                    s.add(new_item)
                    s.flush()
                    s.add(DrawSwapRow(draw_id=draw_id, out_item_id=out_item.id, in_item_id=new_item.id,
                                      reason=reason, seed=seed))
            return SwapResult(draw=load_draw(engine, draw_id), out_id=question, in_id=new.code, reason=reason)
        except IntegrityError:
            time.sleep(0.005 * (attempt + 1))
    raise DrawError(f"could not store the swap after {RETRIES} tries")


def undo_swap_in(s: Session, draw_id: int, question_in: str) -> str:
    """Inside the caller's transaction: reverse the standing swap that brought `question_in` into
    the draw. The question swapped out is active again; `question_in`'s item is kept but no longer
    counts against the apprentice (void_key = its id); the swap row is kept, marked undone. Returns
    the code of the question restored."""
    in_item = DrawItemRow.__table__.alias("in_item")
    qi = QuestionRow.__table__.alias("qi")
    row = s.execute(select(DrawSwapRow).join(in_item, in_item.c.id == DrawSwapRow.in_item_id)
                    .join(qi, qi.c.id == in_item.c.question_id)
                    .where(DrawSwapRow.draw_id == draw_id, DrawSwapRow.undone_at.is_(None), qi.c.code == question_in,
                           in_item.c.active.is_(True))).scalars().first()
    if row is None:
        raise DrawError(f"{question_in} did not come into draw {draw_id} by a swap that still stands; "
                        "there is no swap to undo")
    d = s.get(DrawRow, draw_id)
    if d.voided_at is not None:
        raise DrawError(f"draw {draw_id} was voided; its swaps can no longer be undone")
    new_item = s.get(DrawItemRow, row.in_item_id)
    old_item = s.get(DrawItemRow, row.out_item_id)
    new_item.active = False
    new_item.void_key = new_item.id
    s.flush()  # the swapped-in item leaves the live set before the old one rejoins it
    old_item.active = True
    row.undone_at = utcnow()
    s.flush()
    return s.execute(select(QuestionRow.code).where(QuestionRow.id == old_item.question_id)).scalar_one()


def void_draws(s: Session, draw_ids: list[int]) -> None:
    """Inside the caller's transaction: the draws' questions no longer count against anyone (every
    item is kept, inactive, with void_key = its own id); the draws are marked voided."""
    if not draw_ids:
        return
    now = utcnow()
    s.execute(update(DrawItemRow).where(DrawItemRow.draw_id.in_(draw_ids))
              .values(void_key=DrawItemRow.id, active=False).execution_options(synchronize_session=False))
    s.execute(update(DrawRow).where(DrawRow.id.in_(draw_ids), DrawRow.voided_at.is_(None))
              .values(voided_at=now).execution_options(synchronize_session=False))


def draw_count(engine: Engine) -> int:
    with Session(engine) as s:
        return s.execute(select(func.count()).select_from(DrawRow)).scalar_one()


def required_outcomes(engine: Engine, standard: str, method: str) -> list[str]:
    with Session(engine) as s:
        std, meth, _ = _resolve(s, standard, method, None)
        return list(s.execute(select(OutcomeRow.code).join(MethodOutcomeRow, MethodOutcomeRow.outcome_id == OutcomeRow.id)
                              .where(MethodOutcomeRow.method_id == meth.id).order_by(OutcomeRow.position)).scalars())


def method_spec(engine: Engine, standard: str, method: str, *, release: str | None = None, extra_time_pct: int = 0,
                exposure_cap: float = 0.30) -> DrawSpec:
    """The draw specification for a method of a stored release (used by `qbank simulate`)."""
    with Session(engine) as s:
        std, meth, rel = _resolve(s, standard, method, release)
        pool = _pool(s, engine, std, meth, rel)
    return DrawSpec(method=pool.method, pool=pool.candidates, near_duplicates=pool.near_duplicates,
                    extra_time_pct=extra_time_pct, exposure_cap=exposure_cap)


def spec_from_bank(bank, standard: str, method: str, *, exposure_cap: float = 0.30) -> DrawSpec:
    """The same specification built from bank files' approved questions (benchmarks, previews)."""
    std = bank.standards.get(standard)
    if std is None or method not in std.methods:
        raise DrawError(f"no method {method} in standard {standard}")
    md = std.methods[method]
    qs = sorted((q for q in bank.questions_of(standard) if q.status == "approved" and method in q.methods),
                key=lambda q: q.id)
    cands = tuple(Candidate(code=q.id, version=q.version, qv_id=0, outcomes=frozenset(q.outcomes), minutes=q.minutes,
                            topic=q.topic, opener=q.opener) for q in qs)
    dups = frozenset(frozenset((d.a, d.b)) for d in near_duplicates({q.id: q.text for q in qs},
                                                                    std.near_duplicate_threshold))
    return DrawSpec(method=Method(id=method, required=frozenset(md.assesses), minutes=md.minutes,
                                  min_questions=md.min_questions),
                    pool=cands, near_duplicates=dups, exposure_cap=exposure_cap)
