"""`qbank list` and `qbank show` with their filters, order and limit run in the database.

The listing is checked against a reference computed here from the raw tables, in the plain way
the listing is defined: each question's newest version; approved when that version is in its
standard's newest release, else retired; filters on the version's own methods and outcomes; ids in
the database's order, or with a search the fuzzy ranking. And the queries are checked to read no
more rows than the page they return needs.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import string
from collections import defaultdict
from typing import Any

import pytest
from conftest import question_block, write_bank
from rapidfuzz import fuzz
from sqlalchemy import event, text
from tests_support import shipped_bank

from qbank import catalogue
from qbank.catalogue import list_questions, show_question
from qbank.cli import main
from qbank.importer import import_bank
from qbank.releases import make_release
from qbank.validation import load_bank


def _tst01_two_releases(root):
    """TST01 released twice: 1.1.0 changes TST-001 (v2), retires TST-003 and adds TST-010."""
    write_bank(root)
    make_release(load_bank(root), "TST01", "1.0.0")
    qfile = root / "TST01" / "questions" / "general.toml"
    t = qfile.read_text()
    t = t.replace('id = "TST-001"\nversion = 1', 'id = "TST-001"\nversion = 2')
    t = t.replace("tested its assumptions", "tested its premises")
    t = t.replace('id = "TST-003"\nversion = 1\nstatus = "approved"', 'id = "TST-003"\nversion = 1\nstatus = "retired"')
    t += question_block(9, qid="TST-010", text_="Which partnership taught you most about shared accountability?")
    qfile.write_text(t)
    make_release(load_bank(root), "TST01", "1.1.0")
    return load_bank(root)


@pytest.fixture
def store(engine, tmp_path):
    """The shipped banks, plus TST01 with a changed, a retired and an added question."""
    import_bank(engine, shipped_bank())
    import_bank(engine, _tst01_two_releases(tmp_path / "banks"))
    return engine


# --------------------------------------------------------------------------- the reference


WORD = re.compile(r"[a-z0-9]+(?:[-'/.][a-z0-9]+)*")  # the search's notion of a word


def _table(c, sql: str) -> list:
    return list(c.execute(text(sql)))


def reference_rows(engine) -> list[dict]:
    """Every question's newest version as `list` shows it, from plain reads of whole tables."""
    with engine.connect() as c:
        order = [r[0] for r in _table(c, "SELECT code FROM question ORDER BY code")]  # the database's collation
        questions = {r.id: r for r in _table(c, "SELECT id, code, standard_id FROM question")}
        std_code = dict(_table(c, "SELECT id, code FROM standard"))
        versions = _table(
            c, "SELECT id, question_id, version, minutes, topic, text, probes_json, guidance FROM question_version"
        )
        releases = _table(c, "SELECT id, standard_id, major, minor, patch FROM release")
        items = _table(c, "SELECT release_id, question_version_id FROM release_item")
        outcome = {r.id: (r.position, r.code) for r in _table(c, "SELECT id, code, position FROM outcome")}
        method = {r.id: (r.position, r.key) for r in _table(c, 'SELECT id, "key", position FROM method')}
        v_outcomes = _table(c, "SELECT question_version_id, outcome_id FROM question_version_outcome")
        v_methods = _table(c, "SELECT question_version_id, method_id FROM question_version_method")
    newest: dict[int, Any] = {}
    for v in versions:
        if v.question_id not in newest or v.version > newest[v.question_id].version:
            newest[v.question_id] = v
    current: dict[int, tuple[tuple[int, int, int], int]] = {}
    for r in releases:
        if r.standard_id not in current or (r.major, r.minor, r.patch) > current[r.standard_id][0]:
            current[r.standard_id] = ((r.major, r.minor, r.patch), r.id)
    in_current = {qv for rid, qv in items if rid in {cur[1] for cur in current.values()}}
    outs, meths = defaultdict(list), defaultdict(list)
    for qv, oid in v_outcomes:
        outs[qv].append(outcome[oid])
    for qv, mid in v_methods:
        meths[qv].append(method[mid])
    by_code = {}
    for qid, v in newest.items():
        q = questions[qid]
        by_code[q.code] = {
            "id": q.code,
            "version": v.version,
            "standard": std_code[q.standard_id],
            "status": "approved" if v.id in in_current else "retired",
            "methods": [k for _, k in sorted(meths[v.id])],
            "outcomes": [k for _, k in sorted(outs[v.id])],
            "minutes": v.minutes,
            "topic": v.topic,
            "text": v.text,
            "score": None,
            "extra": " ".join(json.loads(v.probes_json)) + " " + v.guidance,
        }
    return [by_code[code] for code in order if code in by_code]


def reference_scores(rows, search) -> dict[str, tuple[float, float]]:
    """Per question id: (mean over the query's words of its best fuzz.ratio against the question's
    words, partial_ratio of the whole query), for those scoring at least 80."""
    words = WORD.findall(search.lower())
    out = {}
    for r in rows:
        hay = f"{r['id']} {r['topic']} {r['text']} {r['extra']}".lower()
        vocab = set(WORD.findall(hay))
        best = [max(fuzz.ratio(w, v) for v in vocab) for w in words]
        score = sum(best) / len(best)
        if score >= 80:
            out[r["id"]] = (score, fuzz.partial_ratio(search.lower(), hay))
    return out


def reference_list(rows, scores, *, standard, method, outcome, status, search, limit):
    out = [
        dict(r, extra=r["extra"] if search else "")
        for r in rows
        if (not standard or r["standard"] == standard)
        and (not method or method in r["methods"])
        and (not outcome or outcome in r["outcomes"])
        and (not status or r["status"] == status)
    ]
    if scores is not None:  # best score first, then the closer phrase match, then the id
        out = [dict(r, score=round(scores[r["id"]][0], 1)) for r in out if r["id"] in scores]
        out.sort(key=lambda r: (-scores[r["id"]][0], -scores[r["id"]][1], r["id"]))
    return out[:limit] if limit else out


# --------------------------------------------------------------------------- identical results


STANDARDS = [None, "ST0480", "TST01"]
METHODS = [None, "professional-discussion", "no-such-method"]
OUTCOMES = [None, "K1", "B1"]
STATUSES = [None, "approved", "retired"]
LIMITS = [None, 1, 5]


def test_fixture_store_has_what_the_grid_needs(store):
    rows = reference_rows(store)
    assert len(rows) > 240
    assert {r["id"] for r in rows if r["status"] == "retired"} == {"TST-003"}
    tst001 = next(r for r in rows if r["id"] == "TST-001")
    assert tst001["version"] == 2 and "premises" in tst001["text"] and tst001["status"] == "approved"
    assert len({r["standard"] for r in rows if "professional-discussion" in r["methods"]}) == 3


@pytest.mark.parametrize("search", [None, "strategy", "team changs", "!!!"])
def test_list_matches_the_reference_for_every_filter_and_limit(store, search):
    rows = reference_rows(store)
    scores = reference_scores(rows, search) if search and WORD.search(search.lower()) else None
    nonempty = truncated = 0
    names = ("standard", "method", "outcome", "status", "limit")
    for values in itertools.product(STANDARDS, METHODS, OUTCOMES, STATUSES, LIMITS):
        kw = {**dict(zip(names, values, strict=True)), "search": search}
        limit = kw["limit"]
        got = [q.__dict__ for q in list_questions(store, **kw)]
        expected = reference_list(rows, scores, **kw)
        assert got == expected, kw
        nonempty += bool(got)
        truncated += bool(limit) and len(reference_list(rows, scores, **dict(kw, limit=None))) > limit
    assert nonempty >= 50 and truncated >= 20, (nonempty, truncated)  # the grid is not vacuous


def test_search_ranks_across_the_whole_filtered_set_before_the_limit(store):
    everything = list_questions(store, search="values integrity")
    assert len(everything) > 3
    assert [q.id for q in list_questions(store, search="values integrity", limit=3)] == [q.id for q in everything[:3]]
    assert all(q.score is not None for q in everything)
    assert [q.score for q in everything] == sorted((q.score for q in everything), reverse=True)


def test_many_ids_are_read_in_chunks_with_the_same_result(store, monkeypatch):
    whole = [q.__dict__ for q in list_questions(store)]
    searched = [q.__dict__ for q in list_questions(store, search="strategy")]
    monkeypatch.setattr(catalogue, "_CHUNK", 7)
    assert [q.__dict__ for q in list_questions(store)] == whole
    assert [q.__dict__ for q in list_questions(store, search="strategy")] == searched


def test_show_reads_the_same_versions_releases_and_status(store):
    d = show_question(store, "TST-001")
    assert d.standard == "TST01" and d.status == "approved"
    assert [(v["version"], v["releases"]) for v in d.versions] == [(2, ["1.1.0"]), (1, ["1.0.0"])]
    assert "premises" in d.versions[0]["text"] and "assumptions" in d.versions[1]["text"]
    retired = show_question(store, "TST-003")
    assert retired.status == "retired" and retired.versions[0]["releases"] == ["1.0.0"]
    assert retired.versions[0]["outcomes"] == ["S1", "B1"]
    assert retired.versions[0]["methods"] == ["professional-discussion", "presentation-questioning"]


# --------------------------------------------------------------------------- rows read


class RowsRead:
    """Records every statement an engine runs; `counts()` re-runs each SELECT to count its rows."""

    def __init__(self, engine):
        self.engine, self.seen = engine, []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            self.seen.append((statement, parameters))

    def counts(self) -> list[tuple[int, str]]:
        with self.engine.connect() as c:
            return [(len(c.exec_driver_sql(st, params).all()), st) for st, params in self.seen]


@pytest.fixture
def big_store(engine, tmp_path):
    """TST01 with 400 questions, released: enough that reading them all shows."""
    rnd = random.Random(12)
    vocab = ["".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(5, 9))) for _ in range(3000)]
    blocks = "".join(
        question_block(i, qid=f"TST-{i + 1:03d}", text_=f"On strategy: {' '.join(rnd.sample(vocab, 12))}?")
        for i in range(400)
    )
    root = write_bank(tmp_path / "banks", blocks)
    make_release(load_bank(root), "TST01", "1.0.0")
    import_bank(engine, load_bank(root))
    return engine


@pytest.mark.parametrize(
    "filters",
    [{}, {"standard": "TST01"}, {"method": "presentation-questioning", "outcome": "B1", "status": "approved"}],
)
def test_list_reads_rows_for_the_page_only(big_store, filters):
    with RowsRead(big_store) as rec:
        page = list_questions(big_store, limit=3, **filters)
    assert len(page) == 3
    counts = rec.counts()
    # each question targets at most 2 outcomes and 2 methods; the store has 400 questions
    assert max(n for n, _ in counts) <= 3 * 2, counts
    assert any(" LIMIT " in st.upper() for _, st in counts)


def test_search_reads_texts_of_the_filtered_questions_and_details_of_the_page(big_store):
    with RowsRead(big_store) as rec:
        page = list_questions(big_store, search="strategy", outcome="K2", limit=2)
    assert len(page) == 2 and all(q.score == 100 for q in page)
    with_k2 = sum("K2" in q.outcomes for q in list_questions(big_store))
    assert 0 < with_k2 < 400 / 2
    counts = rec.counts()
    assert max(n for n, _ in counts) == with_k2  # the texts to score; nothing else reads more than the page
    assert sorted(n for n, _ in counts)[-2] <= 2 * 2, counts


def test_show_reads_one_questions_rows(big_store):
    with RowsRead(big_store) as rec:
        d = show_question(big_store, "TST-123")
    assert d.id == "TST-123" and d.status == "approved" and len(d.versions) == 1
    assert max(n for n, _ in rec.counts()) <= 2


def test_negative_limit_is_a_usage_error(capsys):
    assert main(["list", "--limit", "-1"]) == 2
    assert "--limit must be at least 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="limit must be 0"):
        list_questions(None, limit=-1)  # checked before the store is touched
