"""The store on SQLite and PostgreSQL: all-or-nothing, idempotent imports pinned to exact versions."""

from __future__ import annotations

import pytest
from conftest import TEXTS, question_block, write_bank
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from qbank import importer
from qbank.catalogue import list_questions, release_diff, show_question, stats
from qbank.importer import import_bank
from qbank.models import QuestionVersionRow, StandardRow
from qbank.problems import BankError
from qbank.releases import make_release
from qbank.store import make_engine, table_counts
from qbank.validation import load_bank


def qfile(root):
    return root / "TST01" / "questions" / "general.toml"


def dump(engine) -> dict[str, list]:
    """Every row of every table, for comparing the store before and after."""
    out = {}
    with engine.connect() as c:
        for t in SQLModel.metadata.sorted_tables:
            out[t.name] = sorted(tuple(str(v) for v in r) for r in c.execute(select(t)))
    return out


def released(root, semver="1.0.0"):
    make_release(load_bank(root), "TST01", semver)
    return load_bank(root)


def second_release(root):
    text_ = qfile(root).read_text()
    text_ = text_.replace('id = "TST-001"\nversion = 1', 'id = "TST-001"\nversion = 2')
    text_ = text_.replace("tested its assumptions", "tested its premises")
    text_ += question_block(9, qid="TST-010", text_="Which partnership taught you most about shared accountability?")
    qfile(root).write_text(text_)
    return released(root, "1.1.0")


def test_import_twice_changes_nothing(engine, bank_dir):
    bank = released(bank_dir)
    first = import_bank(engine, bank)
    assert first.new_releases == ["TST01 1.0.0"] and first.new_versions == 8
    before = dump(engine)
    again = import_bank(engine, load_bank(bank_dir))
    assert again.new_releases == [] and again.known_releases == ["TST01 1.0.0"] and again.new_versions == 0
    assert dump(engine) == before


def test_new_release_adds_only_new_versions(engine, bank_dir):
    import_bank(engine, released(bank_dir))
    counts = table_counts(engine)
    report = import_bank(engine, second_release(bank_dir))
    assert report.new_releases == ["TST01 1.1.0"] and report.new_versions == 2  # TST-001 v2, TST-010 v1
    after = table_counts(engine)
    assert after["question_version"] == counts["question_version"] + 2
    assert after["question"] == counts["question"] + 1
    assert after["release_item"] == counts["release_item"] + 9
    d = release_diff(engine, "TST01", "1.0.0", "1.1.0")
    assert d.added == [("TST-010", 1)] and d.changed == [("TST-001", 1, 2)] and d.retired == []


def test_every_version_ever_released_is_kept(engine, bank_dir):
    import_bank(engine, released(bank_dir))
    import_bank(engine, second_release(bank_dir))
    detail = show_question(engine, "TST-001")
    assert [v["version"] for v in detail.versions] == [2, 1]
    assert detail.versions[0]["releases"] == ["1.1.0"] and detail.versions[1]["releases"] == ["1.0.0"]
    assert "premises" in detail.versions[0]["text"] and "assumptions" in detail.versions[1]["text"]


def test_failing_import_leaves_store_exactly_as_before(engine, bank_dir, monkeypatch):
    import_bank(engine, released(bank_dir))
    before = dump(engine)
    bank = second_release(bank_dir)
    calls = {"n": 0}
    real = importer._upsert_definition

    def boom(*a, **kw):  # fail after the release's first writes have been flushed
        calls["n"] += 1
        real(*a, **kw)
        a[0].flush()
        raise BankError("simulated failure half-way through the import")

    monkeypatch.setattr(importer, "_upsert_definition", boom)
    with pytest.raises(BankError, match="simulated failure"):
        import_bank(engine, bank)
    assert calls["n"] == 1
    assert dump(engine) == before


def test_database_error_mid_import_rolls_back(engine, bank_dir, monkeypatch):
    bank = released(bank_dir)
    before = dump(engine)
    real = importer._import_release

    def then_fail(s, rel, report):
        real(s, rel, report)
        s.execute(text("INSERT INTO question_version_outcome (question_version_id, outcome_id) VALUES (-1, -1)"))

    monkeypatch.setattr(importer, "_import_release", then_fail)
    with pytest.raises(BankError, match="rolled back, the store is unchanged"):
        import_bank(engine, bank)
    assert dump(engine) == before


def test_import_refuses_a_bank_with_errors(engine, bank_dir):
    qfile(bank_dir).write_text(qfile(bank_dir).read_text().replace("minutes = 6", "minutes = 0", 1))
    with pytest.raises(BankError, match="nothing was imported"):
        import_bank(engine, load_bank(bank_dir))
    assert table_counts(engine)["question"] == 0


def test_changed_release_content_is_refused(engine, bank_dir, tmp_path):
    import_bank(engine, released(bank_dir))
    before = dump(engine)
    other = write_bank(
        tmp_path / "other",
        questions="".join(question_block(i, text_="In your own words: " + TEXTS[i]) for i in range(8)),
    )
    make_release(load_bank(other), "TST01", "1.0.0")
    with pytest.raises(BankError, match="already in the store with different content"):
        import_bank(engine, load_bank(other))
    assert dump(engine) == before


def test_unreleased_standard_is_reported_not_imported(engine, bank_dir):
    report = import_bank(engine, load_bank(bank_dir))
    assert report.unreleased == ["TST01"] and report.new_releases == []


def test_versions_are_pinned_and_unique(engine, bank_dir):
    import_bank(engine, released(bank_dir))
    with Session(engine) as s:
        qv = s.execute(select(QuestionVersionRow)).scalars().first()
        dup = QuestionVersionRow(question_id=qv.question_id, version=qv.version, content_hash="x", text="t", minutes=1)
        s.add(dup)
        with pytest.raises(IntegrityError):
            s.commit()


def test_list_filters_search_and_stats(engine, bank_dir):
    import_bank(engine, released(bank_dir))
    import_bank(engine, second_release(bank_dir))
    all_ = list_questions(engine)
    assert len(all_) == 9 and all(q.status == "approved" for q in all_)
    assert {q.id for q in list_questions(engine, outcome="K2")} == {"TST-002", "TST-005", "TST-008", "TST-010"}
    hits = list_questions(engine, search="budget pressures")
    assert hits[0].id == "TST-002"
    st = stats(engine, "TST01")[0]
    assert st.release == "1.1.0" and st.questions == 9
    assert st.counts[("K2", "professional-discussion")] == 4
    assert st.shortfalls() == []
    with pytest.raises(BankError, match="no standard NOPE"):
        stats(engine, "NOPE")


def test_retired_questions_show_as_retired(engine, bank_dir):
    import_bank(engine, released(bank_dir))
    qfile(bank_dir).write_text(qfile(bank_dir).read_text().replace('status = "approved"', 'status = "retired"', 1))
    import_bank(engine, released(bank_dir, "1.0.1"))
    assert show_question(engine, "TST-001").status == "retired"
    assert [q.id for q in list_questions(engine, status="retired")] == ["TST-001"]


def test_sqlite_default_store_uses_wal_and_foreign_keys(tmp_path, monkeypatch):
    monkeypatch.delenv("QBANK_DATABASE_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    eng = make_engine()
    assert str(eng.url).endswith("data/qbank/qbank.db")
    with eng.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
    with Session(eng) as s:
        assert s.execute(select(StandardRow)).first() is None
