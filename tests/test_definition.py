"""The typed release definition reads and writes exactly what releases store, and is read once per release."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session
from tests_support import shipped_bank

from qbank import defaults, draw
from qbank.definition import Method, ReleaseDefinition, for_release, release_definition
from qbank.importer import import_bank
from qbank.models import ReleaseRow


def test_every_shipped_release_round_trips_exactly_as_stored(engine):
    import_bank(engine, shipped_bank())
    with Session(engine) as s:
        rows = s.execute(select(ReleaseRow)).scalars().all()
    assert len(rows) >= 8
    for rel in rows:
        d = ReleaseDefinition.from_json(rel.definition_json)
        assert d.to_json() == rel.definition_json
        assert d.to_dict() == json.loads(rel.definition_json)
        assert ReleaseDefinition.from_json(d.to_json()) == d
        raw = json.loads(rel.definition_json)
        assert [m.id for m in d.methods] == [m["id"] for m in raw["methods"]]
        assert d.checks.near_duplicate_threshold == raw["checks"]["near_duplicate_threshold"]
        assert d.outcome_titles == {o["code"]: o["title"] for o in raw["outcomes"]}
        assert set(d.rules.methods) <= set(d.method_ids)


def test_the_bank_definition_is_what_a_release_stores():
    for std in shipped_bank().standards.values():
        d = ReleaseDefinition.from_dict(std.definition())
        assert d.to_dict() == json.loads(json.dumps(std.definition()))
        for m in std.methods.values():
            assert d.method(m.id).assesses == tuple(m.assesses) and d.method(m.id).minutes == m.minutes


def test_optional_and_unknown_keys_round_trip():
    text = json.dumps(
        {
            "code": "X1",
            "title": "T",
            "level": 3,
            "version": "1",
            "future": {"b": [1, 2]},
            "outcomes": [{"code": "K1", "group": "knowledge", "title": "Knows é"}],
            "methods": [
                {"id": "pd", "name": "PD", "kind": "interview", "minutes": 30, "min_questions": 2, "assesses": ["K1"]}
            ],
            "checks": {"near_duplicate_threshold": 85},
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    d = ReleaseDefinition.from_json(text)
    assert d.to_json() == text
    assert d.source == "" and d.grading == {} and d.rules.methods == {}
    assert d.checks.near_duplicate_threshold == 85
    assert d.checks.min_questions_per_outcome == defaults.MIN_QUESTIONS_PER_OUTCOME
    assert d.default_methods == ["pd"]
    assert d.method("nope") is None


def test_definitions_are_read_once_per_release():
    text = json.dumps({"code": "X1", "title": "T", "level": 3, "version": "1", "outcomes": [], "methods": []})

    class Row:
        id = 987654
        definition_json = text

    assert for_release(Row()) is for_release(Row()) is release_definition(987654, text)


def test_the_draw_engine_uses_the_one_method_type():
    m = draw.Method("pd", frozenset({"K2", "K1"}), 30, 2)
    assert isinstance(m, Method)
    assert m.required == frozenset({"K1", "K2"}) and m.minutes == 30 and m.min_questions == 2
    assert draw.DrawSpec(method=m, pool=()).exposure_cap == defaults.EXPOSURE_CAP


def test_the_draw_engine_stays_free_of_the_database():
    import subprocess
    import sys

    code = (
        "import sys, qbank.draw, qbank.simulate; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
