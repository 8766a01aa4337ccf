"""The assessment read model: one connection and a fixed, small number of statements per `load`,
commands that read and write in one transaction, and grading folded by grading.py alone."""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from tests_support import shipped_bank

import qbank.draws
from qbank import assessment_view, method_record, views
from qbank import sessions as S
from qbank.grading import DEFAULT_LEVELS, method_standing, overall_results
from qbank.importer import import_bank

LOAD_STATEMENTS = 12  # an upper bound for any assessment, whatever its size (8 today)


@pytest.fixture
def store(engine, monkeypatch):
    seeds = itertools.count(1)
    monkeypatch.setattr(qbank.draws.secrets, "token_hex", lambda n=16: f"{next(seeds):0{2 * n}x}")
    import_bank(engine, shipped_bank())
    return engine


@contextmanager
def counted(engine):
    """Count the statements sent and the connections taken from the pool while the block runs."""
    seen = {"statements": 0, "connections": 0}

    def statement(*_):
        seen["statements"] += 1

    def checkout(*_):
        seen["connections"] += 1

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine.pool, "checkout", checkout)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine.pool, "checkout", checkout)


def busy_assessment(engine, apprentice: str, rounds: int) -> int:
    """A two-method assessment with asks, a skip, a swap, ad-hoc questions, evidence (one entry
    retracted) and marks in every method; `rounds` scales how much is recorded."""
    aid = S.start_assessment(engine, S.StartRequest(standard="ST0556", apprentice=apprentice, assessor="A"))
    for m in S.load(engine, aid).methods:
        codes = [q.code for q in m.questions if q.code is not None]
        assert len(codes) == len(m.questions) and m.scheme is not None  # all drawn; ST0556 grades both methods
        asked = [S.ask(engine, m.id, code) for code in codes[:rounds]]
        S.skip(engine, m.id, codes[rounds], "time is short")
        for code in codes[rounds + 1 :]:
            try:
                S.swap_question(engine, m.id, code, "too close to the presentation")
                break
            except S.SessionError:
                continue
        for i in range(rounds):
            S.add_adhoc(engine, m.id, f"Ad-hoc question {i} about the change led", [m.method.assesses[0]])
            for c in m.scheme.criteria:
                S.log_evidence(engine, m.id, m.scheme.levels[-1], criterion=c.id, ask_id=asked[i % len(asked)])
                S.set_mark(engine, m.id, c.id, strengths=f"strength {i}")
        S.retract_evidence(engine, S.load(engine, aid).method(m.method.id).evidence[0].id, "logged twice")
    return aid


def test_load_reads_in_one_connection_with_few_statements(store):
    small, large = busy_assessment(store, "RM-1", 1), busy_assessment(store, "RM-2", 3)
    counts = []
    for aid in (small, large):
        S.load(store, aid)  # the release's definition is read once per release: leave that out
        with counted(store) as seen:
            view = S.load(store, aid)
        assert len(view.methods) == 2 and view.methods[0].swaps and view.methods[1].evidence
        assert seen["connections"] == 1
        assert seen["statements"] <= LOAD_STATEMENTS
        counts.append(seen["statements"])
    assert counts[0] == counts[1]  # no statement per question, entry or method


def test_end_method_and_complete_each_use_one_connection(store):
    aid = S.start_assessment(store, S.StartRequest(standard="ST0556", apprentice="RM-3", assessor="A"))
    for m in S.load(store, aid).methods:
        for c in m.scheme.criteria:
            S.log_evidence(store, m.id, "pass", criterion=c.id)
        with counted(store) as seen:
            result = S.end_method(store, m.id, reason="ended once the evidence was logged", elapsed_seconds=90)
        assert seen["connections"] == 1 and result.grade == "Pass"
        S.confirm_grade(store, m.id)
    with counted(store) as seen:
        overall = S.complete(store, aid)
    assert seen["connections"] == 1 and [o.grade for o in overall] == ["Pass"]
    assert S.load(store, aid).status == "complete"
    with pytest.raises(S.SessionError, match="already complete"):
        S.complete(store, aid)


def test_end_method_grades_what_it_stores_in_the_same_transaction(store):
    aid = S.start_assessment(store, S.StartRequest(standard="ST0556", apprentice="RM-4", assessor="A"))
    m = S.load(store, aid).methods[0]
    with pytest.raises(S.SessionError, match="short"):
        S.end_method(store, m.id, elapsed_seconds=5)
    assert S.load(store, aid).methods[0].elapsed_seconds == 0  # the refused end stored nothing
    S.end_method(store, m.id, reason="the apprentice was unwell", elapsed_seconds=120)
    after = S.load(store, aid).methods[0]
    assert after.status == "ended" and after.elapsed_seconds == 120 and after.computed_grade == "Fail"
    assert after.end_reason == "the apprentice was unwell" and after.end_warnings


def test_sessions_is_the_one_module_callers_need():
    for name in ("load", "standards", "unfinished", "completed"):
        assert getattr(S, name) is getattr(assessment_view, name)
    for name in ("AssessmentView", "MethodView", "QuestionView", "EvidenceView", "StandardChoice"):
        assert getattr(S, name) is getattr(views, name)
    for name in ("ask", "skip", "log_evidence", "set_mark", "resolve_criterion", "set_ui_state"):
        assert getattr(S, name) is getattr(method_record, name)
    assert set(S.__all__) <= set(dir(S))


def test_a_method_without_rules_folds_evidence_on_the_default_levels():
    low, high = DEFAULT_LEVELS
    standing = method_standing(
        None, ["K1", "K2", "K3"], [("K1", ["K1"], high), ("K1", ["K1"], low), ("K2", ["K2"], low)]
    )
    assert standing.outcome_levels == {"K1": high, "K2": low}
    assert standing.uncovered == ["K2", "K3"]  # logged at the lowest level is not evidenced
    assert standing.result is None


def test_overall_results_grade_only_the_tables_whose_methods_were_assessed():
    rules = shipped_bank().standards["ST0556"].grading_rules
    table = rules.overalls[0]
    first, second = table.methods
    assert overall_results(rules, {}, [first]) == []
    waiting = overall_results(rules, {first: "Pass"}, [first, second])
    assert [o.grade for o in waiting] == [None] and waiting[0].missing == (second,)
