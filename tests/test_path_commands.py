"""Working from the files before import: `diff`, `simulate` and `stats` with --path; `diff` shows
what changed in each question, field by field; `release` refuses a release that changes nothing."""

from __future__ import annotations

import json

import pytest
from conftest import question_block, write_bank

from qbank.cli import main
from qbank.importer import import_bank
from qbank.releases import field_changes, make_release, word_diff
from qbank.validation import load_bank, load_releases

NEW_TEXT = "Which partnership taught you most about shared accountability?"


def qfile(root):
    return root / "TST01" / "questions" / "general.toml"


def change_bank(root) -> None:
    """After 1.0.0: TST-001 v2 (a word of its text, a probe, an outcome and its minutes change),
    TST-004 retired, TST-010 added."""
    t = qfile(root).read_text()
    t = t.replace('id = "TST-001"\nversion = 1', 'id = "TST-001"\nversion = 2')
    t = t.replace("tested its assumptions", "tested its premises")
    first = t.index('id = "TST-001"')
    block_end = t.index("[[question]]", first)
    block = t[first:block_end]
    block = block.replace('outcomes = ["K1", "S1"]', 'outcomes = ["K1", "K2"]').replace("minutes = 6", "minutes = 8")
    block = block.replace('"What would you do differently?", ', '"Who disagreed with you, and why?", ')
    t = t[:first] + block + t[block_end:]
    t = t.replace('id = "TST-004"\nversion = 1\nstatus = "approved"', 'id = "TST-004"\nversion = 1\nstatus = "retired"')
    t += question_block(9, qid="TST-010", text_=NEW_TEXT)
    qfile(root).write_text(t)
    assert load_bank(root).errors == []


@pytest.fixture
def two_releases(bank_dir):
    make_release(load_bank(bank_dir), "TST01", "1.0.0")
    change_bank(bank_dir)
    make_release(load_bank(bank_dir), "TST01", "1.1.0")
    return bank_dir


@pytest.fixture
def no_store(tmp_path, monkeypatch):
    """A store URL whose file must never be created: --path commands read the files only."""
    db = tmp_path / "untouched.db"
    monkeypatch.setenv("QBANK_DATABASE_URL", f"sqlite:///{db}")
    yield db
    assert not db.exists()


# --------------------------------------------------------------------------- diff


def test_word_diff_and_field_changes():
    assert word_diff("how you tested its assumptions", "how you tested its premises") == (
        "how you tested its [-assumptions-] {+premises+}"
    )
    assert word_diff("a  b\nc", "a b c") == "(layout only: the same words)"
    long = " ".join(f"w{i}" for i in range(20))
    assert word_diff(long + " end", long + " stop") == "… w16 w17 w18 w19 [-end-] {+stop+}"
    old = {"text": "x", "probes": ["p", "q"], "outcomes": ["K1", "S1"], "minutes": 6, "opener": False}
    new = {"text": "x", "probes": ["p", "r"], "outcomes": ["K1", "K2"], "minutes": 8, "opener": True}
    got = {c.name: c for c in field_changes(old, new)}
    assert list(got) == ["probes", "outcomes", "minutes", "opener"]  # text unchanged: not listed
    assert got["probes"].lines() == ["probes:", "  - q", "  + r"]
    assert got["outcomes"].lines() == ["outcomes: +K2 -S1"]
    assert got["minutes"].lines() == ["minutes: 6 -> 8"] and got["opener"].lines() == ["opener: no -> yes"]
    assert got["outcomes"].as_dict() == {
        "field": "outcomes",
        "from": ["K1", "S1"],
        "to": ["K1", "K2"],
        "added": ["K2"],
        "removed": ["S1"],
    }


def _check_text_diff(out: str) -> None:
    assert "TST01: 1.0.0 -> 1.1.0" in out
    assert "added (1): TST-010 v1" in out and "retired (1): TST-004 v1" in out
    assert "TST-001 v1 -> v2" in out
    assert "text: … how you tested its [-assumptions.-] {+premises.+}" in out
    assert "- What would you do differently?" in out and "+ Who disagreed with you, and why?" in out
    assert "outcomes: +K2 -S1" in out and "minutes: 6 -> 8" in out


def _check_json_diff(d: dict) -> None:
    (changed,) = d["changed"]
    assert (changed["id"], changed["from"], changed["to"]) == ("TST-001", 1, 2)
    fields = {f["field"]: f for f in changed["fields"]}
    assert set(fields) == {"text", "probes", "outcomes", "minutes"}
    assert fields["text"]["words"].endswith("[-assumptions.-] {+premises.+}")
    assert fields["probes"]["added"] == ["Who disagreed with you, and why?"]
    assert fields["probes"]["removed"] == ["What would you do differently?"]
    assert (fields["minutes"]["from"], fields["minutes"]["to"]) == (6, 8)
    assert d["added"] == [{"id": "TST-010", "version": 1}] and d["retired"] == [{"id": "TST-004", "version": 1}]


def test_diff_of_two_manifests_in_the_files(two_releases, capsys, no_store):
    assert main(["diff", "TST01", "1.0.0", "1.1.0", "--path", str(two_releases)]) == 0
    _check_text_diff(capsys.readouterr().out)
    assert main(["diff", "TST01", "1.0.0", "1.1.0", "--path", str(two_releases), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    _check_json_diff(d)
    assert d["definition_changed"] == []


def test_diff_against_the_working_files(bank_dir, capsys, no_store):
    make_release(load_bank(bank_dir), "TST01", "1.0.0")
    assert main(["diff", "TST01", "1.0.0", "draft", "--path", str(bank_dir)]) == 0
    out = capsys.readouterr().out
    assert "TST01: 1.0.0 -> draft" in out and "changed (0): none" in out and "unchanged: 8" in out
    change_bank(bank_dir)  # not released: only the working files know
    assert main(["diff", "TST01", "1.0.0", "draft", "--path", str(bank_dir), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["to"] == "draft"
    _check_json_diff(d)


def test_diff_shows_a_changed_definition(bank_dir, capsys, no_store):
    make_release(load_bank(bank_dir), "TST01", "1.0.0")
    std = bank_dir / "TST01" / "standard.toml"
    std.write_text(std.read_text().replace('title = "Test Standard"', 'title = "Test Standard (revised)"'))
    assert main(["diff", "TST01", "1.0.0", "draft", "--path", str(bank_dir)]) == 0
    assert "standard definition changed: title" in capsys.readouterr().out


def test_diff_names_what_is_missing(bank_dir, capsys, no_store):
    make_release(load_bank(bank_dir), "TST01", "1.0.0")
    assert main(["diff", "TST01", "1.0.0", "1.1.0", "--path", str(bank_dir)]) == 1
    err = capsys.readouterr().err
    assert "TST01 has no release 1.1.0 in" in err and "(releases: 1.0.0)" in err
    assert "qbank release TST01 1.1.0" in err and "`draft`" in err
    assert main(["diff", "NOPE", "1.0.0", "draft", "--path", str(bank_dir)]) == 1
    assert "no standard NOPE in" in capsys.readouterr().err


def test_diff_in_the_store_says_to_import_or_read_the_files(two_releases, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("QBANK_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    assert main(["diff", "TST01", "1.0.0", "1.1.0"]) == 1
    err = capsys.readouterr().err
    assert "no standard TST01 in the store" in err
    assert "qbank import banks" in err and "qbank diff TST01 1.0.0 1.1.0 --path banks" in err
    assert main(["diff", "TST01", "1.0.0", "draft"]) == 2
    assert "`draft` is the working files: add --path" in capsys.readouterr().err


def test_diff_in_the_store_field_by_field(two_releases, db_url, capsys, monkeypatch):
    """The imported releases, on SQLite and PostgreSQL: the same changes as from the files."""
    from qbank.store import make_engine

    engine = make_engine(db_url)
    try:
        import_bank(engine, load_releases(two_releases))
    finally:
        engine.dispose()
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    assert main(["diff", "TST01", "1.0.0", "1.1.0"]) == 0
    _check_text_diff(capsys.readouterr().out)
    assert main(["diff", "TST01", "1.0.0", "1.1.0", "--format", "json"]) == 0
    _check_json_diff(json.loads(capsys.readouterr().out))
    assert main(["diff", "TST01", "1.0.0", "1.2.0"]) == 1
    err = capsys.readouterr().err
    assert "TST01 has no release 1.2.0 in the store" in err and "--path banks" in err


# --------------------------------------------------------------------------- stats, simulate


def test_stats_from_the_files(bank_dir, capsys, no_store):
    t = qfile(bank_dir).read_text() + question_block(9, qid="TST-010", text_=NEW_TEXT, status="draft")
    qfile(bank_dir).write_text(t)
    assert main(["stats", "--path", str(bank_dir), "--format", "json"]) == 0
    (st,) = json.loads(capsys.readouterr().out)
    assert st["standard"] == "TST01" and st["questions"] == 8  # the draft is not counted
    k1 = next(o for o in st["outcomes"] if o["code"] == "K1")
    assert k1["approved"] == {"professional-discussion": 3, "presentation-questioning": 3}
    assert main(["stats", "--path", str(bank_dir), "--standard", "TST01"]) == 0
    out = capsys.readouterr().out
    assert f"TST01 Test Standard — the files in {bank_dir}, 8 approved question(s)" in out
    assert main(["stats", "--path", str(bank_dir), "--standard", "NOPE"]) == 1
    assert "no standard NOPE in" in capsys.readouterr().err


def test_simulate_from_the_files_names_questions_over_the_cap(bank_dir, capsys, no_store):
    base = ["simulate", "--path", str(bank_dir), "--standard", "TST01", "--method", "presentation-questioning"]
    assert main([*base, "--draws", "200", "--seed", "p", "--format", "json"]) == 0
    ours = json.loads(capsys.readouterr().out)["qbank"]
    assert ours["sets"] + ours["failures"] == 200
    assert len(ours["over_cap_questions"]) == ours["over_cap"]
    assert all(x > ours["cap"] for x in ours["over_cap_questions"].values())
    assert main([*base, "--draws", "200", "--seed", "p", "--exposure-cap", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "questions over the cap (0.10), share of sets: TST-" in out


def test_a_problem_in_another_standard_does_not_stop_path_commands(bank_dir, capsys, no_store):
    other = write_bank(bank_dir.parent / "other")  # a second copy, moved to another code, then broken
    folder = other / "TST01"
    std = folder / "standard.toml"
    std.write_text(std.read_text().replace('code = "TST01"', 'code = "TST02"'))
    q = folder / "questions" / "general.toml"
    q.write_text(q.read_text().replace('standard = "TST01"', 'standard = "TST02"').replace("TST-", "OTH-"))
    q.write_text(q.read_text().replace("minutes = 6", "minutes = 0", 1))
    (bank_dir / "TST02").mkdir()
    for p in folder.rglob("*"):
        dest = bank_dir / "TST02" / p.relative_to(folder)
        dest.mkdir(parents=True, exist_ok=True) if p.is_dir() else dest.write_bytes(p.read_bytes())
    assert load_bank(bank_dir).errors  # TST02 is broken
    assert main(["stats", "--path", str(bank_dir), "--standard", "TST01", "--format", "json"]) == 0
    capsys.readouterr()
    assert main(["stats", "--path", str(bank_dir), "--standard", "TST02"]) == 1
    assert "problem(s) in TST02's files" in capsys.readouterr().err


# --------------------------------------------------------------------------- release


def test_release_refuses_a_release_that_changes_nothing(bank_dir, capsys):
    path = ["--path", str(bank_dir)]
    assert main(["release", "TST01", "1.0.0", *path]) == 0
    capsys.readouterr()
    assert main(["release", "TST01", "1.1.0", *path]) == 1
    err = capsys.readouterr().err
    assert "identical to release 1.0.0: nothing changed" in err
    assert not (bank_dir / "TST01" / "releases" / "1.1.0.json").exists()
    assert main(["release", "TST01", "1.0.0", *path]) == 0  # the same number again: still nothing to do
    assert "already released with exactly this content" in capsys.readouterr().out
    # a changed definition is a change: the standard's title
    std = bank_dir / "TST01" / "standard.toml"
    std.write_text(std.read_text().replace('title = "Test Standard"', 'title = "Test Standard (revised)"'))
    assert main(["release", "TST01", "1.1.0", *path]) == 0
    capsys.readouterr()
    # and so is a question's new version
    change_bank(bank_dir)
    assert main(["release", "TST01", "1.2.0", *path]) == 0
    assert main(["release", "TST01", "1.3.0", *path]) == 1
    assert "identical to release 1.2.0" in capsys.readouterr().err
