"""A seeded world of assessments with known properties, written straight into a store, for the
review tests and the review benchmark.

`build(engine, sets=420, seed=7)` draws `sets` professional discussions of ST0556 (shipped banks
must be imported) and records asks, swaps, evidence, grades and ad-hoc questions as a live session
would, in bulk. Planted, and nothing else like them:
- OVERUSED question: in about 60 % of sets (the exposure cap is 30 %);
- AVOIDED question: swapped out in about 70 % of the sets it is drawn into ("too hard to ask on video");
- WEAK question: when asked, none of its targeted outcomes is ever evidenced;
- assessor GENEROUS: grades mostly Merit and Distinction while the others mostly give Pass;
- cohort OVERLAP_COHORT: its apprentices' sets all come from the same 12 questions.
Everything else is drawn uniformly: other questions are swapped never, skipped about 5 % of the
time and have ~85 % of their targeted outcomes evidenced.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session
from sqlmodel import SQLModel, col

from qbank.gradingfile import rules_from_definition
from qbank.models import (
    ApprenticeRow,
    AskRow,
    AssessmentMethodRow,
    AssessmentRow,
    DrawItemRow,
    DrawRow,
    DrawSwapRow,
    EvidenceRow,
    MethodRow,
    OutcomeRow,
    QuestionRow,
    QuestionVersionMethodRow,
    QuestionVersionOutcomeRow,
    QuestionVersionRow,
    ReleaseItemRow,
    ReleaseRow,
    StandardRow,
    table_of,
)

STANDARD, METHOD = "ST0556", "professional-discussion"
GENEROUS = "Assessor G (generous)"
ASSESSORS = [f"Assessor {c}" for c in "ABCDEF"] + [GENEROUS]
OVERLAP_COHORT = "Overlap Ltd"
SET_LENGTH = 8
AVOID_REASON = "too hard to ask on video"


@dataclass
class World:
    overused: str
    avoided: str
    weak: str
    generous: str = GENEROUS
    overlap_cohort: str = OVERLAP_COHORT
    sets: int = 0
    asks: int = 0
    adhoc: int = 0
    pool: list[str] = field(default_factory=list)


def build(engine: Engine, sets: int = 420, seed: int = 7, start: datetime | None = None) -> World:
    rnd = random.Random(seed)
    start = start or datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)
    with Session(engine) as s:
        std = s.execute(select(StandardRow).where(col(StandardRow.code) == STANDARD)).scalar_one()
        meth = s.execute(
            select(MethodRow).where(col(MethodRow.standard_id) == std.id, col(MethodRow.key) == METHOD)
        ).scalar_one()
        rel = (
            s.execute(
                select(ReleaseRow)
                .where(col(ReleaseRow.standard_id) == std.id)
                .order_by(col(ReleaseRow.major).desc(), col(ReleaseRow.minor).desc(), col(ReleaseRow.patch).desc())
            )
            .scalars()
            .first()
        )
        assert rel is not None, f"no release of {STANDARD} in the store: import the banks first"
        pool = s.execute(
            select(col(QuestionRow.code), col(QuestionRow.id), col(QuestionVersionRow.id))
            .join(QuestionVersionRow, col(QuestionVersionRow.question_id) == QuestionRow.id)
            .join(ReleaseItemRow, col(ReleaseItemRow.question_version_id) == QuestionVersionRow.id)
            .join(QuestionVersionMethodRow, col(QuestionVersionMethodRow.question_version_id) == QuestionVersionRow.id)
            .where(col(ReleaseItemRow.release_id) == rel.id, col(QuestionVersionMethodRow.method_id) == meth.id)
            .order_by(col(QuestionRow.code))
        ).all()
        targets: dict[int, list[str]] = {}
        for qv, o in s.execute(
            select(col(QuestionVersionOutcomeRow.question_version_id), col(OutcomeRow.code)).join(
                OutcomeRow, col(OutcomeRow.id) == QuestionVersionOutcomeRow.outcome_id
            )
        ):
            targets.setdefault(qv, []).append(o)
        scheme = rules_from_definition(json.loads(rel.definition_json)).methods[METHOD]
        id_models: tuple[type[SQLModel], ...] = (
            ApprenticeRow,
            DrawRow,
            DrawItemRow,
            AssessmentRow,
            AssessmentMethodRow,
            AskRow,
        )
        ids = {
            t: s.execute(select(table_of(t).c.id).order_by(table_of(t).c.id.desc())).scalars().first() or 0
            for t in id_models
        }
        std_id, meth_id, rel_id = std.id, meth.id, rel.id
    codes = [p[0] for p in pool]
    by_code = {p[0]: p for p in pool}
    overused, avoided, weak = codes[0], codes[1], codes[2]
    others = [c for c in codes if c != overused]
    overlap_pool = rnd.sample([c for c in codes if c not in (overused, avoided, weak)], 12)
    crit_of = {o: c.id for c in reversed(scheme.criteria) for o in c.outcomes}
    cohorts = [f"Employer {i:02d}" for i in range(1, 11)]

    rows: dict[str, list[dict]] = {
        k: [] for k in ("apprentice", "draw", "item", "swap", "assessment", "am", "ask", "evidence")
    }
    next_id = dict(ids)
    world = World(overused=overused, avoided=avoided, weak=weak, pool=codes)

    def new(t):
        next_id[t] += 1
        return next_id[t]

    overlap_members = 0
    for n in range(sets):
        when = start + timedelta(minutes=int(n * 180 * 24 * 60 / max(sets, 1)))  # spread over ~6 months
        if overlap_members < 12 and n % 25 == 3:
            cohort, chosen = OVERLAP_COHORT, rnd.sample(overlap_pool, SET_LENGTH)
            overlap_members += 1
        else:
            cohort = rnd.choice(cohorts)
            chosen = [overused] if rnd.random() < 0.6 else []
            chosen += rnd.sample([c for c in others if c not in chosen], SET_LENGTH - len(chosen))
        assessor = ASSESSORS[n % len(ASSESSORS)]
        app_id, draw_id, a_id, am_id = new(ApprenticeRow), new(DrawRow), new(AssessmentRow), new(AssessmentMethodRow)
        rows["apprentice"].append({"id": app_id, "ref": f"W{seed}-{n:06d}", "created_at": when})
        rows["draw"].append(
            {
                "id": draw_id,
                "standard_id": std_id,
                "method_id": meth_id,
                "release_id": rel_id,
                "apprentice_id": app_id,
                "attempt": "first",
                "cohort": cohort,
                "extra_time_pct": 0,
                "exposure_cap": 0.3,
                "seed": f"{seed:032x}",
                "algorithm": "qbank-draw/1",
                "exclude_json": "[]",
                "usage_json": "{}",
                "created_at": when,
            }
        )
        final = []
        for pos, code in enumerate(chosen, start=1):
            item_id = new(DrawItemRow)
            _, qid, qv = by_code[code]
            swap_out = code == avoided and rnd.random() < 0.7
            rows["item"].append(
                {
                    "id": item_id,
                    "draw_id": draw_id,
                    "position": pos,
                    "question_id": qid,
                    "question_version_id": qv,
                    "apprentice_id": app_id,
                    "origin": "draw",
                    "active": not swap_out,
                }
            )
            if swap_out:
                repl = rnd.choice([c for c in others if c not in chosen and c != avoided])
                chosen_set = set(chosen) | {repl}
                in_id = new(DrawItemRow)
                _, rqid, rqv = by_code[repl]
                rows["item"].append(
                    {
                        "id": in_id,
                        "draw_id": draw_id,
                        "position": pos,
                        "question_id": rqid,
                        "question_version_id": rqv,
                        "apprentice_id": app_id,
                        "origin": "swap",
                        "active": True,
                    }
                )
                rows["swap"].append(
                    {
                        "draw_id": draw_id,
                        "out_item_id": item_id,
                        "in_item_id": in_id,
                        "reason": AVOID_REASON,
                        "seed": "0" * 32,
                        "created_at": when,
                    }
                )
                chosen = [c if c != code else repl for c in chosen]
                final.append(repl)
                del chosen_set
            else:
                final.append(code)
        generous = assessor == GENEROUS
        grade = rnd.choices(scheme.grades, weights=[0, 10, 40, 50] if generous else [10, 60, 20, 10])[0]
        rows["assessment"].append(
            {
                "id": a_id,
                "standard_id": std_id,
                "release_id": rel_id,
                "apprentice_id": app_id,
                "assessor": assessor,
                "attempt": "first",
                "cohort": cohort,
                "extra_time_pct": 0,
                "adjustments": "",
                "status": "complete",
                "overall_json": "[]",
                "ui_json": "{}",
                "created_at": when,
                "completed_at": when + timedelta(hours=2),
            }
        )
        rows["am"].append(
            {
                "id": am_id,
                "assessment_id": a_id,
                "method_id": meth_id,
                "position": 1,
                "draw_id": draw_id,
                "status": "ended",
                "started_at": when,
                "ended_at": when + timedelta(hours=2),
                "elapsed_seconds": 7200.0,
                "grade": grade,
                "rule_text": "",
                "confirmed_grade": grade,
                "disagreement": "",
                "strengths": "",
                "improvements": "",
            }
        )
        pos = 0
        for code in final:
            if rnd.random() < 0.05:
                continue  # skipped: drawn, never asked
            pos += 1
            ask_id = new(AskRow)
            _, qid, qv = by_code[code]
            rows["ask"].append(
                {
                    "id": ask_id,
                    "assessment_method_id": am_id,
                    "question_id": qid,
                    "question_version_id": qv,
                    "adhoc_text": None,
                    "adhoc_outcomes_json": "[]",
                    "position": pos,
                    "status": "asked",
                    "notes": "",
                    "asked_at": when,
                    "updated_at": when,
                }
            )
            world.asks += 1
            if code == weak:
                continue  # never elicits what it targets
            for o in targets.get(qv, []):
                if rnd.random() < 0.85:
                    rows["evidence"].append(
                        {
                            "assessment_method_id": am_id,
                            "ask_id": ask_id,
                            "criterion": crit_of[o],
                            "outcomes_json": json.dumps([o]),
                            "level": rnd.choice(scheme.levels[1:]),
                            "note": "",
                            "created_at": when,
                            "retracted_at": None,
                        }
                    )
        if n % 20 == 0:
            ask_id = new(AskRow)
            o = rnd.choice(["K7", "K8", "K9"])
            rows["ask"].append(
                {
                    "id": ask_id,
                    "assessment_method_id": am_id,
                    "question_id": None,
                    "question_version_id": None,
                    "adhoc_text": f"How did you check the {['measurement system', 'model', 'simulation'][n % 3]} "
                    f"before trusting it? ({n})",
                    "adhoc_outcomes_json": json.dumps([o]),
                    "position": pos + 1,
                    "status": "asked",
                    "notes": "",
                    "asked_at": when,
                    "updated_at": when,
                }
            )
            world.adhoc += 1
            world.asks += 1
    tables: list[tuple[type[SQLModel], str]] = [
        (ApprenticeRow, "apprentice"),
        (DrawRow, "draw"),
        (DrawItemRow, "item"),
        (DrawSwapRow, "swap"),
        (AssessmentRow, "assessment"),
        (AssessmentMethodRow, "am"),
        (AskRow, "ask"),
        (EvidenceRow, "evidence"),
    ]
    with Session(engine) as s, s.begin():
        for model, key in tables:
            batch = rows[key]
            for i in range(0, len(batch), 5000):
                s.execute(insert(table_of(model)), batch[i : i + 5000])
        # a synthetic history loaded behind the services' back: sealed in the audit log as such,
        # as an upgrade seals a store made before the log, so that `qbank verify` passes on it
        from qbank.audit import seal_existing

        seal_existing(s.connection(), "review_world (synthetic history)")
    if engine.dialect.name == "postgresql":  # explicit ids were written: move the sequences on
        with engine.begin() as c:
            for model, _ in tables:
                t = table_of(model).name
                c.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), COALESCE((SELECT MAX(id) FROM {t}), 1))"
                )
                c.exec_driver_sql(f"ANALYZE {t}")  # as autovacuum would after a bulk load: fresh planner stats
    world.sets = sets
    return world
