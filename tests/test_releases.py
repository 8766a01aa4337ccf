"""Releases are frozen, append-only, and guard released content against silent edits."""

from __future__ import annotations

import pytest
from conftest import question_block, write_bank

from qbank.cli import main
from qbank.problems import BankError
from qbank.releases import diff_versions, make_release
from qbank.validation import load_bank


def qfile(root):
    return root / "TST01" / "questions" / "general.toml"


def release(root, semver):
    return make_release(load_bank(root), "TST01", semver)


def test_release_writes_manifest_with_every_approved_question(bank_dir):
    r = release(bank_dir, "1.0.0")
    assert r.created and r.path.name == "1.0.0.json"
    bank = load_bank(bank_dir)
    assert bank.errors == []
    rel = bank.latest_release("TST01")
    assert [i.question.id for i in rel.items] == [f"TST-{i:03d}" for i in range(1, 9)]
    assert all(i.hash.startswith("sha256:") for i in rel.items)


def test_drafts_and_retired_are_not_released(tmp_path):
    qs = "".join(question_block(i) for i in range(8)) + question_block(
        8, qid="TST-900", status="draft", text_="A draft still being written by the team."
    )
    root = write_bank(tmp_path, questions=qs)
    rel = release(root, "1.0.0").release
    assert "TST-900" not in {i.question.id for i in rel.items}


def test_same_release_again_is_a_no_op(bank_dir):
    release(bank_dir, "1.0.0")
    before = (bank_dir / "TST01/releases/1.0.0.json").read_bytes()
    r = release(bank_dir, "1.0.0")
    assert not r.created
    assert (bank_dir / "TST01/releases/1.0.0.json").read_bytes() == before


def test_rereleasing_a_number_with_different_content_is_an_error(bank_dir):
    release(bank_dir, "1.0.0")
    text = qfile(bank_dir).read_text().replace('id = "TST-001"\nversion = 1', 'id = "TST-001"\nversion = 2')
    qfile(bank_dir).write_text(text.replace("tested its assumptions", "checked its assumptions"))
    with pytest.raises(BankError, match="already exists with different content: releases are append-only"):
        release(bank_dir, "1.0.0")


def test_release_numbers_only_go_up(bank_dir):
    release(bank_dir, "1.2.0")
    qfile(bank_dir).write_text(qfile(bank_dir).read_text().replace('status = "approved"', 'status = "retired"', 1))
    with pytest.raises(BankError, match="only go up"):
        release(bank_dir, "1.1.9")


def test_bad_semver_and_unknown_standard(bank_dir):
    with pytest.raises(BankError, match="not a semantic version"):
        release(bank_dir, "1.0")
    with pytest.raises(BankError, match="no standard NOPE"):
        make_release(load_bank(bank_dir), "NOPE", "1.0.0")


def test_release_refused_while_bank_has_errors(bank_dir):
    qfile(bank_dir).write_text(qfile(bank_dir).read_text().replace("minutes = 6", "minutes = 0", 1))
    with pytest.raises(BankError, match="fix them before releasing"):
        release(bank_dir, "1.0.0")
    assert not (bank_dir / "TST01/releases").exists()


def test_editing_released_text_without_bump_names_id_release_and_fix(bank_dir, capsys):
    release(bank_dir, "1.2.0")
    qfile(bank_dir).write_text(qfile(bank_dir).read_text().replace("tested its assumptions", "tested its premises"))
    assert main(["validate", str(bank_dir)]) == 1
    out = capsys.readouterr().out
    assert "TST-001 v1 changed since release 1.2.0" in out
    assert "fix: bump its version to 2" in out
    assert "general.toml:" in out


def test_bumped_version_validates_and_diff_shows_change(bank_dir):
    release(bank_dir, "1.0.0")
    text = qfile(bank_dir).read_text()
    text = text.replace('id = "TST-001"\nversion = 1', 'id = "TST-001"\nversion = 2')
    text = text.replace("tested its assumptions", "tested its premises")
    text = text.replace(
        'id = "TST-004"\nversion = 1\nstatus = "approved"', 'id = "TST-004"\nversion = 1\nstatus = "retired"'
    )
    text += question_block(9, qid="TST-010", text_="Which partnership taught you most about shared accountability?")
    qfile(bank_dir).write_text(text)
    assert load_bank(bank_dir).errors == []
    release(bank_dir, "1.1.0")
    bank = load_bank(bank_dir)
    a, b = bank.releases["TST01"]
    d = diff_versions(
        "TST01",
        a.semver,
        b.semver,
        {i.question.id: i.question.version for i in a.items},
        {i.question.id: i.question.version for i in b.items},
    )
    assert d.added == [("TST-010", 1)]
    assert d.changed == [("TST-001", 1, 2)]
    assert d.retired == [("TST-004", 1)]
    assert d.unchanged == 6


def test_version_regression(bank_dir):
    release(bank_dir, "1.0.0")
    text = qfile(bank_dir).read_text().replace('id = "TST-001"\nversion = 1', 'id = "TST-001"\nversion = 2')
    qfile(bank_dir).write_text(text.replace("tested its assumptions", "tested its premises"))
    release(bank_dir, "1.1.0")
    qfile(bank_dir).write_text(
        qfile(bank_dir).read_text().replace('id = "TST-001"\nversion = 2', 'id = "TST-001"\nversion = 1')
    )
    msgs = [p.message for p in load_bank(bank_dir).errors]
    assert any("TST-001 is at version 1 but release 1.1.0 already has version 2" in m for m in msgs), msgs


def test_deleting_a_released_question_is_an_error(bank_dir):
    release(bank_dir, "1.0.0")
    text = qfile(bank_dir).read_text()
    start = text.index('[[question]]\nid = "TST-008"')
    qfile(bank_dir).write_text(text[:start])
    errs = load_bank(bank_dir).errors
    assert any("TST-008 v1 (release 1.0.0) is missing" in p.message and "retired" in p.fix for p in errs)


def test_hand_edited_manifest_is_detected(bank_dir):
    r = release(bank_dir, "1.0.0")
    r.path.write_text(r.path.read_text().replace("tested its assumptions", "tested its ideas"))
    errs = load_bank(bank_dir).errors
    assert any("release 1.0.0: TST-001 v1 does not match its hash" in p.message for p in errs)


def test_retiring_needs_no_version_bump(bank_dir):
    release(bank_dir, "1.0.0")
    qfile(bank_dir).write_text(qfile(bank_dir).read_text().replace('status = "approved"', 'status = "retired"', 1))
    assert [p for p in load_bank(bank_dir).errors if p.check == "version"] == []


def test_manifest_round_trips_exact_content(bank_dir):
    release(bank_dir, "1.0.0")
    bank = load_bank(bank_dir)
    working = {q.id: q.content_hash for q in bank.questions}
    assert {i.question.id: i.question.content_hash for i in bank.latest_release("TST01").items} == working


def test_broken_released_question_is_reported_once_not_as_missing(bank_dir):
    release(bank_dir, "1.0.0")
    qfile(bank_dir).write_text(qfile(bank_dir).read_text().replace("minutes = 6", 'minutes = "6"', 1))
    errs = load_bank(bank_dir).errors
    assert [(p.question, p.message) for p in errs] == [
        ("TST-001", "'minutes' must be a whole number, not a string '6'")
    ]
    assert errs[0].fix == "write `minutes = 6` (no quotes)"
