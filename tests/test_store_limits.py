"""What either store cannot hold never reaches it, and if it ever did, the import says so plainly
(issue 14, items 7 and 10).

`qbank validate` refuses what SQLite or PostgreSQL cannot hold (tests/test_hostile_inputs.py runs
the corpus); these tests go round validation, to check that the import's own bulk insert (COPY on
PostgreSQL) reports a refused row like every other import failure, and check the near-duplicate
report's groups.
"""

from __future__ import annotations

import dataclasses

import pytest
from conftest import TEXTS, question_block, write_bank

from qbank.importer import import_bank
from qbank.problems import BankError
from qbank.releases import make_release
from qbank.similarity import NearDuplicate, clusters, near_duplicates
from qbank.store import table_counts
from qbank.validation import GROUP_IDS_SHOWN, load_bank, load_releases


def _released(tmp_path):
    root = write_bank(tmp_path / "banks")
    make_release(load_bank(root), "TST01", "1.0.0")
    return load_releases(root)


def _damage(bank, **changes) -> None:
    """Change the first question of the release as validation never would let it be."""
    item = bank.releases["TST01"][0].items[0]
    item.question = dataclasses.replace(item.question, **changes)
    item.hash = item.question.content_hash  # as a forger would: only the limits stand in the way


@pytest.mark.parametrize("minutes", [2**64, -(2**70)])
def test_a_number_the_store_refuses_is_reported_and_nothing_is_imported(engine, tmp_path, minutes):
    bank = _released(tmp_path)
    _damage(bank, minutes=minutes)
    before = table_counts(engine)
    with pytest.raises(BankError) as caught:
        import_bank(engine, bank)
    said = str(caught.value)
    assert "rolled back" in said and "question_version" in said and "refused" in said, said
    (problem,) = caught.value.problems
    assert problem.file.endswith("1.0.0.json") and problem.fix
    assert table_counts(engine) == before


def test_a_nul_character_refused_by_postgresql_copy_is_reported(engine, tmp_path):
    bank = _released(tmp_path)
    _damage(bank, text="Talk\x00 me through it")
    before = table_counts(engine)
    if engine.dialect.name == "sqlite":  # SQLite holds it: why validation refuses it for both stores
        import_bank(engine, bank)
        assert table_counts(engine) != before
        return
    with pytest.raises(BankError) as caught:
        import_bank(engine, bank)
    assert "NUL" in str(caught.value) and "nothing was imported" in caught.value.problems[0].message
    assert table_counts(engine) == before


def test_validation_refuses_the_same_release_for_both_stores(tmp_path):
    root = write_bank(tmp_path / "banks")
    make_release(load_bank(root), "TST01", "1.0.0")
    manifest = root / "TST01/releases/1.0.0.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("Talk me", "Talk\\u0000 me", 1), encoding="utf-8")
    errors = load_releases(root).errors
    assert any("control character (NUL" in p.message for p in errors), [p.render() for p in errors]


# --------------------------------------------------------------------------- item 10: groups


def test_clusters_join_chains_and_keep_their_scores():
    pairs = [NearDuplicate("A", "B", 95), NearDuplicate("B", "C", 91), NearDuplicate("D", "E", 99)]
    got = clusters(pairs)
    assert [(c.members, c.pairs, c.low, c.high) for c in got] == [(("A", "B", "C"), 2, 91, 95), (("D", "E"), 1, 99, 99)]
    assert clusters([]) == []


def test_clusters_of_a_long_chain_in_any_order():
    ids = [f"Q{i:04d}" for i in range(3000)]
    pairs = [NearDuplicate(ids[i], ids[i + 1], 90 + i % 10) for i in reversed(range(2999))]
    (group,) = clusters(pairs)
    assert group.members == tuple(ids) and group.pairs == 2999 and (group.low, group.high) == (90, 99)


def test_many_copies_are_one_problem_and_every_pair_is_still_found(tmp_path):
    n = 300
    root = write_bank(
        tmp_path / "banks", "".join(question_block(i, qid=f"DUP-{i:03d}", text_=TEXTS[0]) for i in range(n))
    )
    problems = [p for p in load_bank(root).problems if p.check == "near-duplicate"]
    (problem,) = problems
    assert f"{n} questions are near-duplicates" in problem.message
    assert f"and {n - GROUP_IDS_SHOWN} more" in problem.message and f"{n * (n - 1) // 2:,} pairs" in problem.message
    assert problem.message.count("DUP-") == GROUP_IDS_SHOWN
    # what the release and the import use (every pair, so that no draw puts two in one set): unbounded
    texts = {f"DUP-{i:03d}": TEXTS[0] for i in range(n)}
    assert len(near_duplicates(texts, 90)) == n * (n - 1) // 2


def test_a_release_number_too_large_for_the_store_is_refused_before_writing(tmp_path):
    root = write_bank(tmp_path / "banks")
    with pytest.raises(BankError, match="release number '99999999999.0.0' is too large.*nothing was written"):
        make_release(load_bank(root), "TST01", "99999999999.0.0")
    assert not (root / "TST01" / "releases").exists() or not list((root / "TST01" / "releases").iterdir())
