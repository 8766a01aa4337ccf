"""Every kind of bad bank file gets its own clear message naming file, line, id and fix."""

from __future__ import annotations

import json

import pytest
from conftest import STANDARD, question_block, write_bank

from qbank.cli import main
from qbank.validation import load_bank


def problems_of(root, **kw):
    return load_bank(root, **kw).problems


def only_error(root, **kw):
    errs = [p for p in problems_of(root, **kw) if p.is_error]
    assert len(errs) == 1, "\n".join(p.render() for p in errs)
    return errs[0]


def qfile(root):
    return root / "TST01" / "questions" / "general.toml"


def replace_in(path, old, new, count=1):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def test_clean_bank_has_no_problems(bank_dir):
    assert problems_of(bank_dir) == []


def test_malformed_toml_names_file_and_line(bank_dir):
    replace_in(qfile(bank_dir), 'status = "approved"', 'status = "approved', 1)
    p = only_error(bank_dir)
    assert p.file.endswith("general.toml")
    assert "malformed TOML" in p.message
    assert p.line == qfile(bank_dir).read_text().splitlines().index('status = "approved') + 1


def test_missing_required_field(bank_dir):
    replace_in(qfile(bank_dir), "minutes = 6\n", "", 1)
    p = only_error(bank_dir)
    assert p.question == "TST-001" and "missing required field 'minutes'" in p.message
    assert "minutes = " in p.fix


def test_mistyped_field(bank_dir):
    replace_in(qfile(bank_dir), "minutes = 6", 'minutes = "6"', 1)
    p = only_error(bank_dir)
    assert "'minutes' must be a whole number, not a string" in p.message
    assert p.field == "minutes" and p.line is not None
    assert qfile(bank_dir).read_text().splitlines()[p.line - 1].startswith("minutes")


def test_unknown_key_suggests_the_field_meant(bank_dir):
    replace_in(qfile(bank_dir), "probes = ", "probs = ", 1)
    p = only_error(bank_dir)
    assert "unknown field 'probs'" in p.message
    assert "did you mean 'probes'" in p.fix
    assert qfile(bank_dir).read_text().splitlines()[p.line - 1].startswith("probs")


def test_unknown_outcome_code(bank_dir):
    replace_in(qfile(bank_dir), 'outcomes = ["K1", "S1"]', 'outcomes = ["K1", "S9"]', 1)
    p = only_error(bank_dir)
    assert "unknown outcome code 'S9' for TST01" in p.message and p.question == "TST-001"


def test_unknown_method(bank_dir):
    replace_in(qfile(bank_dir), '"presentation-questioning"]', '"presentation-questions"]', 1)
    p = only_error(bank_dir)
    assert "unknown method 'presentation-questions'" in p.message
    assert "did you mean 'presentation-questioning'" in p.fix


def test_invalid_status_suggests(bank_dir):
    replace_in(qfile(bank_dir), 'status = "approved"', 'status = "aproved"', 1)
    p = only_error(bank_dir)
    assert "'status' = 'aproved' is not one of draft, reviewed, approved, retired" in p.message
    assert "did you mean 'approved'" in p.fix


def test_duplicate_ids(bank_dir):
    replace_in(qfile(bank_dir), 'id = "TST-002"', 'id = "TST-001"')
    errs = [p for p in problems_of(bank_dir) if p.is_error]
    assert any("duplicate id TST-001" in p.message for p in errs)


def test_empty_text(bank_dir):
    replace_in(
        qfile(bank_dir),
        "Talk me through the strategy you wrote for your service and how you tested its assumptions.",
        "   ",
    )
    p = only_error(bank_dir)
    assert "'text' is empty" in p.message and p.question == "TST-001"


def test_minutes_must_be_positive(bank_dir):
    replace_in(qfile(bank_dir), "minutes = 6", "minutes = 0")
    p = only_error(bank_dir)
    assert "'minutes' = 0 must be at least 1" in p.message


def test_list_given_as_string(bank_dir):
    replace_in(qfile(bank_dir), 'outcomes = ["K1", "S1"]', 'outcomes = "K1"')
    p = only_error(bank_dir)
    assert "'outcomes' must be a list, not a single string" in p.message
    assert p.fix == 'write `outcomes = ["K1"]`'


def test_file_not_utf8(bank_dir):
    path = qfile(bank_dir)
    path.write_bytes(path.read_bytes().replace(b"Talk me", b"Talk \xff me"))
    p = only_error(bank_dir)
    assert "not valid UTF-8" in p.message and p.line is not None


def test_standard_with_unknown_outcome_in_method(tmp_path):
    root = write_bank(tmp_path, standard=STANDARD.replace('assesses = ["K1", "S1"]', 'assesses = ["K1", "S7"]'))
    p = only_error(root)
    assert p.file.endswith("standard.toml") and "assesses unknown outcome 'S7'" in p.message


def test_standard_bad_group_and_kind(tmp_path):
    std = STANDARD.replace('group = "skill"', 'group = "skills"').replace(
        'kind = "professional discussion"', 'kind = "discussion"'
    )
    errs = [p for p in problems_of(write_bank(tmp_path, standard=std)) if p.is_error]
    msgs = " | ".join(p.message for p in errs)
    assert "outcome S1: 'group' = 'skills' is not one of" in msgs
    assert "'kind' = 'discussion' is not one of" in msgs


def test_question_file_names_wrong_standard(bank_dir):
    replace_in(qfile(bank_dir), 'standard = "TST01"', 'standard = "ST0556"')
    errs = [p for p in problems_of(bank_dir) if p.is_error]
    assert any("says standard = 'ST0556' but lies in the folder of TST01" in p.message for p in errs)


def test_sufficiency_names_each_shortfall(tmp_path):
    questions = "".join(question_block(i) for i in range(8)).replace('"K2"', '"S1"')
    root = write_bank(tmp_path, questions=questions)
    errs = [p for p in problems_of(root) if p.check == "sufficiency"]
    assert [p.message for p in errs] == ["TST01 professional-discussion: K2 has 0 approved questions (needs 2)"]
    assert "write 2 more approved questions for K2" in errs[0].fix


def test_sufficiency_threshold_configurable(bank_dir):
    errs = [p for p in problems_of(bank_dir, min_per_outcome=4) if p.check == "sufficiency"]
    assert {p.message.split(": ")[1].split(" ")[0] for p in errs} == {"K1", "K2", "S1"}


def test_near_duplicates_named_with_score(tmp_path):
    texts = question_block(0) + question_block(
        1, text_="Talk me through the strategy you wrote for your service and how you tested the assumptions."
    )
    questions = texts + "".join(question_block(i) for i in range(2, 8))
    errs = [p for p in problems_of(write_bank(tmp_path, questions=questions)) if p.check == "near-duplicate"]
    assert len(errs) == 1
    assert "TST-001 and TST-002" in errs[0].message and "similarity" in errs[0].message


def test_drafts_are_not_checked_for_duplicates_or_counted(tmp_path):
    questions = (
        question_block(0)
        + question_block(1, status="draft", text_=TEXT0)
        + "".join(question_block(i) for i in range(2, 8))
    )
    probs = problems_of(write_bank(tmp_path, questions=questions))
    assert not [p for p in probs if p.check == "near-duplicate"]


TEXT0 = "Talk me through the strategy you wrote for your service and how you tested its assumptions."


def test_every_problem_reported_at_once(bank_dir):
    text = qfile(bank_dir).read_text()
    text = text.replace("minutes = 6", "minutes = -1", 1).replace("probes = ", "probs = ", 1)
    text = text.replace('"S1", "B1"]', '"S1", "X9"]', 1)
    qfile(bank_dir).write_text(text)
    errs = [p for p in problems_of(bank_dir) if p.is_error]
    kinds = {p.message.split(": ", 1)[-1].split(" ")[0] for p in errs}
    assert len(errs) >= 3, kinds


def test_cli_exit_codes_and_json(bank_dir, capsys):
    assert main(["validate", str(bank_dir)]) == 0
    replace_in(qfile(bank_dir), "minutes = 6", "minutes = 0")
    capsys.readouterr()
    assert main(["validate", str(bank_dir), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["errors"] == 1
    assert data["problems"][0]["question"] == "TST-001" and data["problems"][0]["field"] == "minutes"


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "--similarity", "150"],
        ["validate", "--bogus"],
        ["nonsense"],
        ["release", "TST01"],
        ["validate", "--min-per-outcome", "0"],
    ],
)
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        rc = main(argv)
        raise SystemExit(rc)
    assert e.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_missing_path_is_a_problem_not_a_crash(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope")]) == 1
    assert "no such file or folder" in capsys.readouterr().out
