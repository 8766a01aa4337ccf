"""Draws stored on SQLite and PostgreSQL: atomic, pinned, replayable, and never repeating a
question for an apprentice, even under concurrent draws (enforced by the database)."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter

import pytest
from conftest import question_block, write_bank
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from qbank import draws as draws_mod
from qbank.draws import DrawError, DrawRequest, draw_set, load_draw, replay, swap
from qbank.importer import import_bank
from qbank.models import DrawItemRow, DrawRow, DrawSwapRow
from qbank.releases import make_release
from qbank.store import make_engine
from qbank.validation import load_bank

WORDS = (
    "strategy budget patients staff change culture risk board data partners community quality safety "
    "finance workforce digital innovation governance values coaching feedback conflict resilience "
    "evidence pathway capacity demand sponsor programme procurement ethics inclusion trust outcome"
).split()
PD = "professional-discussion"


def big_bank(root, n=40, seed=3):
    rnd = random.Random(seed)
    outs = ["K1", "K2", "S1", "B1"]
    blocks = []
    for i in range(n):
        text = "Tell me how you " + " ".join(rnd.sample(WORDS, 9)) + f" in case {i}?"
        blocks.append(
            question_block(
                i,
                qid=f"TST-{i + 1:03d}",
                outcomes=rnd.sample(outs, rnd.randint(1, 2)),
                minutes=rnd.randint(3, 6),
                text_=text,
            )
        )
    write_bank(root, questions="".join(blocks))
    bank = load_bank(root)
    assert not bank.errors, [p.render() for p in bank.errors]
    make_release(bank, "TST01", "1.0.0")
    return load_bank(root)


@pytest.fixture
def stocked(engine, tmp_path):
    import_bank(engine, big_bank(tmp_path / "banks"))
    draws_mod._POOLS.clear()
    return engine


def test_draw_is_stored_pinned_and_complete(stocked):
    r = draw_set(stocked, DrawRequest("TST01", PD, "APP-1", cohort="ACME"))
    assert set(r.required) == {"K1", "K2", "S1", "B1"}
    assert set(r.required) <= {o for q in r.questions for o in q.outcomes}
    assert r.minutes <= r.budget_minutes == 60 and len(r.questions) >= 4
    assert all(q.version == 1 for q in r.questions)
    again = load_draw(stocked, r.draw_id)
    assert [q.id for q in again.questions] == [q.id for q in r.questions]
    with Session(stocked) as s:
        d = s.get(DrawRow, r.draw_id)
        assert len(d.seed) == 32 and d.cohort == "ACME"
        assert json.loads(d.usage_json)["sets"] == 0


def test_replay_reproduces_stored_draws(stocked):
    ids = [draw_set(stocked, DrawRequest("TST01", PD, f"APP-{i % 3}", cohort=f"C{i % 2}")).draw_id for i in range(6)]
    draws_mod._POOLS.clear()  # an auditor's fresh process
    for i in ids:
        rp = replay(stocked, i)
        assert rp.identical and rp.stored


def test_resits_never_repeat_a_question(stocked):
    seen: set[str] = set()
    for attempt in ("first", "resit", "retake"):
        r = draw_set(stocked, DrawRequest("TST01", PD, "APP-9", attempt=attempt))
        got = {q.id for q in r.questions}
        assert not got & seen
        seen |= got


def test_exhausted_apprentice_gets_named_reason_and_nothing_stored(stocked):
    with pytest.raises(DrawError) as e:
        for _ in range(40):
            draw_set(stocked, DrawRequest("TST01", PD, "APP-X"))
    assert any("already asked of this apprentice" in r or "only" in r for r in e.value.reasons)
    with Session(stocked) as s:
        items = s.execute(
            select(col(DrawItemRow.question_id)).join(DrawRow, col(DrawRow.id) == DrawItemRow.draw_id)
        ).all()
        assert len(items) == len(set(items))


def test_unknown_standard_method_and_bad_parameters(stocked):
    with pytest.raises(DrawError, match="no standard NOPE"):
        draw_set(stocked, DrawRequest("NOPE", PD, "A"))
    with pytest.raises(DrawError, match="has no method 'chat'.*professional-discussion"):
        draw_set(stocked, DrawRequest("TST01", "chat", "A"))
    with pytest.raises(DrawError, match="extra time"):
        draw_set(stocked, DrawRequest("TST01", PD, "A", extra_time_pct=-5))
    with pytest.raises(DrawError, match="apprentice reference is empty"):
        draw_set(stocked, DrawRequest("TST01", PD, "  "))


def test_swap_keeps_constraints_and_records_reason(stocked):
    r = draw_set(stocked, DrawRequest("TST01", PD, "APP-S"))
    out = r.questions[1].id
    res = swap(stocked, r.draw_id, out, "the apprentice covered this in the presentation")
    ids = [q.id for q in res.draw.questions]
    assert out not in ids and res.in_id in ids and len(ids) == len(r.questions)
    assert set(res.draw.required) <= {o for q in res.draw.questions for o in q.outcomes}
    assert res.draw.minutes <= res.draw.budget_minutes
    with Session(stocked) as s:
        sw = s.execute(select(DrawSwapRow)).scalars().one()
        assert sw.reason == "the apprentice covered this in the presentation"
    nxt = draw_set(stocked, DrawRequest("TST01", PD, "APP-S", attempt="resit"))
    assert not {q.id for q in nxt.questions} & {out, *ids}  # the swapped-out question counts as met
    assert replay(stocked, r.draw_id).identical  # replay is of the set as drawn
    with pytest.raises(DrawError, match="needs a reason"):
        swap(stocked, r.draw_id, ids[0], " ")
    with pytest.raises(DrawError, match="is not in draw"):
        swap(stocked, r.draw_id, "TST-999", "x")


def test_concurrent_draws_never_give_an_apprentice_a_question_twice(stocked, db_url):
    """20 threads, each with its own connection, drawing at once for the same 5 apprentices."""
    errors, results = [], []
    barrier = threading.Barrier(20)
    engines = [make_engine(db_url) for _ in range(4)]

    def worker(i):
        eng = engines[i % 4]
        barrier.wait()
        try:
            results.append(draw_set(eng, DrawRequest("TST01", PD, f"APP-{i % 5}")))
        except DrawError as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for e in engines:
        e.dispose()
    assert not [e for e in errors if "could not store" in str(e)], errors
    per_apprentice: dict[str, Counter] = {}
    for r in results:
        per_apprentice.setdefault(r.apprentice, Counter()).update(q.id for q in r.questions)
    for ref, counts in per_apprentice.items():
        assert max(counts.values()) == 1, (ref, counts.most_common(3))
    with Session(stocked) as s:
        dup = s.execute(
            select(col(DrawItemRow.apprentice_id), col(DrawItemRow.question_id), func.count())
            .group_by(col(DrawItemRow.apprentice_id), col(DrawItemRow.question_id))
            .having(func.count() > 1)
        ).all()
        assert dup == []
        assert s.execute(select(func.count()).select_from(DrawRow)).scalar_one() == len(results)
    assert len(results) + len(errors) == 20 and len(results) >= 15


def test_replay_refuses_a_draw_made_by_another_algorithm(stocked):
    r = draw_set(stocked, DrawRequest("TST01", PD, "APP-ALG"))
    with Session(stocked) as s:
        s.get(DrawRow, r.draw_id).algorithm = "qbank-draw/0"
        s.commit()
    with pytest.raises(DrawError, match="was made by qbank-draw/0"):
        replay(stocked, r.draw_id)


def test_a_draw_names_the_rules_it_was_made_by_and_a_mismatch_is_refused(stocked):
    r = draw_set(stocked, DrawRequest("TST01", PD, "APP-RULES"))
    with Session(stocked) as s:
        row = s.get_one(DrawRow, r.draw_id)
        snapshot = json.loads(row.usage_json)
        assert row.algorithm == "qbank-draw/5" and snapshot["openers"] is True and snapshot["count_floor"] == 3
    assert replay(stocked, r.draw_id).identical
    with Session(stocked) as s:
        s.get_one(DrawRow, r.draw_id).algorithm = "qbank-draw/1"  # says v1; its snapshot is v5's
        s.commit()
    with pytest.raises(DrawError, match="the record has been altered"):
        replay(stocked, r.draw_id)


def test_incremental_usage_equals_a_fresh_read(stocked):
    """The per-process usage cache, refreshed between draws and swaps, matches reading it all anew."""
    rnd = random.Random(5)
    for i in range(12):
        r = draw_set(stocked, DrawRequest("TST01", PD, f"U-{i}", cohort=f"C{i % 3}"))
        if rnd.random() < 0.5:
            try:
                swap(stocked, r.draw_id, r.questions[-1].id, "test")
            except DrawError:
                pass
        with Session(stocked) as s:
            method_id = s.get(DrawRow, r.draw_id).method_id
            cached = draws_mod._usage(s, method_id, "C1", window=5)
            fresh_cache = draws_mod._UsageCache(5)
            fresh_cache.refresh(s, method_id)
            assert cached == fresh_cache.usage("C1")
