"""`qbank validate` shows every independent problem in one run, each once, and nothing that only
follows from another (issue 15).

A writer planted eight mistakes and needed four runs to see them: a question with one field error
hid its other errors, and grading errors set off false follow-on messages. Here a copy of a shipped
bank gets thirteen independent mistakes across three files (question fields, references, ids,
standard fields, grading), and one run must name each of them, at its file and field, and no other
error; warnings come after the errors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import write_bank

from qbank.cli import _print_problems, main
from qbank.problems import Problem
from qbank.validation import Bank, load_bank

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "banks" / "ST0556"


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "banks"
    shutil.copytree(SHIPPED, root / "ST0556")
    return root


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {path}: the shipped bank changed, update the test"
    path.write_text(text.replace(old, new), encoding="utf-8")


# ---------------------------------------------------------------------------- planted mistakes

RULES_IN_ORDER = """  { grade = "Distinction", met = ["pass", "merit", "distinction"] },
  { grade = "Merit", met = ["pass", "merit"] },
  { grade = "Pass", met = ["pass"] },
  { grade = "Fail" },
]

[[grading.method.criterion]]
id = "PQ1\""""
RULES_OUT_OF_ORDER = RULES_IN_ORDER.replace(
    '{ grade = "Merit", met = ["pass", "merit"] },\n  { grade = "Pass", met = ["pass"] },',
    '{ grade = "Pass", met = ["pass"] },\n  { grade = "Merit", met = ["pass", "merit"] },',
)
B_NEXT_TO_BAD = ('outcomes = ["B1", "B2", "B3"]', 'outcomes = ["B1", "B2", "B3", "B7"]')
TABLE_ROW = '  { when = ["Merit", "Merit"], grade = "Merit" },\n'

STANDARD_MISTAKES = [
    ("level = 6\n", 'level = "six"\n'),  # a standard field
    ('K9 = { group = "knowledge",', 'K9 = { group = "knowlege",'),  # an outcome's field: K9 is used everywhere
    ("minutes = 60\n", "minutes = 0\n"),  # presentation-questioning: its questions still name it
    (RULES_IN_ORDER, RULES_OUT_OF_ORDER),  # grading: rules out of order
    B_NEXT_TO_BAD,  # grading: a bad outcome code next to good ones
    (TABLE_ROW, ""),  # grading: an incomplete overall table
]

NEW_QUESTIONS = """standard = "ST0556"
topic = "New"
author = "Ann Writer"

[[question]]
id = "IL-NEW-001"
version = 1
status = "draft"
methods = ["profesional-discussion"]
outcomes = ["K1"]
minutes = 0
text = "Tell me about the strategy you deployed."
excludes = ["IL-NOPE-999"]

[[question]]
id = "IL-NEW-002"
version = 1
status = "draft"
methods = ["professional-discussion"]
outcomes = ["K99"]
minutes = 5
text = "How did you quantify the benefits?"
probe = ["Why that way?"]

[[question]]
id = "IL-PQ-007"
version = 1
status = "draft"
methods = ["professional-discussion"]
outcomes = ["K2"]
minutes = 5
text = "A different question that reuses a released id."

[[question]]
id = "IL-NEW-003"
version = 1
status = "draft"
methods = ["presentation-questioning", "professional-discussion"]
outcomes = ["K9", "B1"]
minutes = 5
text = "Which experiments did you design, and what did they show?"
excludes = ["IL-NEW-002"]
"""
# IL-NEW-003 is right: it names a method and an outcome whose own blocks have errors, and a
# question whose block has errors; none of that is a further error.

# (file, field, words of the message, question): each must be reported exactly once
EXPECTED = [
    ("standard.toml", "level", "'level' must be a whole number", None),
    ("standard.toml", "group", "outcome K9: 'group' = 'knowlege' is not one of", None),
    ("standard.toml", "minutes", "method presentation-questioning: 'minutes' = 0 must be at least 1", None),
    ("standard.toml", "rules", "presentation-questioning: rules must run from the highest grade down", None),
    ("standard.toml", "outcomes", "criterion PD6: unknown outcome 'B7'", None),
    ("standard.toml", "table", "overall epa: the table is incomplete: no overall grade for Merit + Merit", None),
    ("new.toml", "minutes", "'minutes' = 0 must be at least 1", "IL-NEW-001"),
    ("new.toml", "methods", "unknown method 'profesional-discussion'", "IL-NEW-001"),
    ("new.toml", "excludes", "excludes unknown question 'IL-NOPE-999'", "IL-NEW-001"),
    ("new.toml", "probe", "unknown field 'probe'", "IL-NEW-002"),
    ("new.toml", "outcomes", "unknown outcome code 'K99'", "IL-NEW-002"),
    ("new.toml", "id", "duplicate id IL-PQ-007: also at ", "IL-PQ-007"),
    ("business-benefits.toml", "status", "'status' = 'aproved' is not one of", "IL-PQ-008"),
]


def _plant(root: Path) -> None:
    folder = root / "ST0556"
    for old, new in STANDARD_MISTAKES:
        _replace(folder / "standard.toml", old, new)
    (folder / "questions" / "new.toml").write_text(NEW_QUESTIONS, encoding="utf-8")
    # a released question with a field error: not also "missing" or "changed since release"
    _replace(
        folder / "questions" / "business-benefits.toml",
        'id = "IL-PQ-008"\nversion = 2\nstatus = "approved"',
        'id = "IL-PQ-008"\nversion = 2\nstatus = "aproved"',
    )


def _matches(p: Problem | dict, expected: tuple) -> bool:
    d = p.as_dict() if isinstance(p, Problem) else p
    file, fieldname, words, question = expected
    return (
        Path(d["file"]).name == file
        and d["field"] == fieldname
        and words in d["message"]
        and (question is None or d["question"] == question)
    )


def _assert_each_once(errors: list) -> None:
    for e in EXPECTED:
        hits = [p for p in errors if _matches(p, e)]
        assert len(hits) == 1, f"{e} reported {len(hits)} times in:\n" + "\n".join(map(str, errors))
    unexpected = [p for p in errors if not any(_matches(p, e) for e in EXPECTED)]
    assert unexpected == [], unexpected
    assert len(errors) == len(EXPECTED)


def _warnings(bank: Bank, root: Path) -> set[tuple[str, str]]:
    """Each warning as (file within the bank, message), comparable between two copies. (The
    messages of the per-file warnings on questions without an author or a reviewer count them, and
    a question with an error is not counted: only the file is compared.)"""
    return {
        (
            str(Path(p.file).resolve().relative_to(root.resolve())),
            "" if p.check in ("author", "reviewer") else p.message,
        )
        for p in bank.warnings
    }


SKIPPED = (
    "ST0556/standard.toml",
    "ST0556: sufficiency and near-duplicate checks skipped until the errors above are fixed",
)


@pytest.fixture
def clean_warnings(tmp_path) -> set[tuple[str, str]]:
    """The warnings the unchanged shipped bank gives (no errors): the planted run adds none but
    the one saying the health checks were skipped."""
    root = _copy(tmp_path / "clean")
    bank = load_bank(root)
    assert bank.errors == []
    return _warnings(bank, root)


# ---------------------------------------------------------------------------- one run, every problem


def test_one_run_reports_every_planted_mistake_once_and_nothing_else(tmp_path, clean_warnings):
    root = _copy(tmp_path)
    _plant(root)
    bank = load_bank(root)
    _assert_each_once(bank.errors)
    # every error has a line, so the writer can go straight to it
    assert all(p.line for p in bank.errors), [p for p in bank.errors if not p.line]
    # no warning follows from the mistakes ("no grading rules", "not assessed by any method"...)
    assert _warnings(bank, root) - clean_warnings == {SKIPPED}
    # the questions with errors are not questions of the bank: nothing draws or releases them
    assert not {"IL-NEW-001", "IL-NEW-002", "IL-PQ-008"} & {q.id for q in bank.questions}
    assert {"IL-NEW-001", "IL-NEW-002", "IL-PQ-008"} <= {q.id for q in bank.partial}


def test_the_cli_reports_the_same_in_json_errors_then_warnings(tmp_path, capsys):
    root = _copy(tmp_path)
    _plant(root)
    assert main(["validate", str(root), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    kinds = [p["kind"] for p in out["problems"]]
    assert kinds == sorted(kinds, key=lambda k: k != "error"), "errors first, then warnings"
    assert out["errors"] == len(EXPECTED)
    _assert_each_once([p for p in out["problems"] if p["kind"] == "error"])


def test_the_cli_prints_warnings_after_the_errors(tmp_path, capsys):
    root = _copy(tmp_path)
    _plant(root)
    assert main(["validate", str(root)]) == 1
    lines = [ln for ln in capsys.readouterr().out.splitlines() if not ln.startswith("    ")]
    summary = lines.pop()
    assert summary.startswith("FAILED:") and f"{len(EXPECTED)} error(s)" in summary
    is_warning = [": warning: " in ln for ln in lines]
    assert is_warning.count(False) == len(EXPECTED)
    first_warning = is_warning.index(True)
    assert not any(is_warning[:first_warning]) and all(is_warning[first_warning:]), lines
    skipped = next(i for i, ln in enumerate(lines) if "checks skipped until the errors above" in ln)
    assert skipped > first_warning - 1 >= len(EXPECTED) - 1


def test_problems_printed_by_other_commands_put_errors_first(capsys):
    warning = Problem(file="a.toml", message="a warning", kind="warning")
    errors = [Problem(file="z.toml", message=f"error {i}") for i in range(2)]
    _print_problems([warning, *errors])
    printed = capsys.readouterr().err.splitlines()
    assert printed == ["z.toml: error 0", "z.toml: error 1", "a.toml: warning: a warning"]


# ---------------------------------------------------------------------------- grading: no follow-ons

FOLLOW_ONS = ("has no grading rules", "in no [[grading.overall]] table", "no criterion evidences it", "has no valid")


@pytest.mark.parametrize(
    "old,new,message",
    [
        (RULES_IN_ORDER, RULES_OUT_OF_ORDER, "rules must run from the highest grade down"),
        (*B_NEXT_TO_BAD, "criterion PD6: unknown outcome 'B7'"),
        (TABLE_ROW, "", "the table is incomplete: no overall grade for Merit + Merit"),
        # a misspelt method in a rules block or a table: the method meant is not "without rules"
        ('method = "professional-discussion"\nscheme', 'method = "profesional-discussion"\nscheme', "is not a method"),
        (
            'methods = ["presentation-questioning", "professional-discussion"]\ngrades',
            'methods = ["presentation-questioning", "profesional-discussion"]\ngrades',
            "unknown method 'profesional-discussion'",
        ),
    ],
    ids=[
        "rules-out-of-order",
        "bad-code-next-to-B1",
        "incomplete-table",
        "misspelt-rules-method",
        "misspelt-table-method",
    ],
)
def test_a_grading_error_sets_off_no_follow_on_messages(tmp_path, clean_warnings, old, new, message):
    root = _copy(tmp_path)
    _replace(root / "ST0556" / "standard.toml", old, new)
    bank = load_bank(root)
    assert [p.message for p in bank.errors if message in p.message] and len(bank.errors) == 1, bank.errors
    assert not [p for p in bank.problems if any(f in p.message for f in FOLLOW_ONS)]
    assert _warnings(bank, root) - clean_warnings == {SKIPPED}


def test_a_dropped_criterion_does_not_skew_the_weights_or_marks(tmp_path):
    """One criterion with an error is left out of the method; the checks over all the criteria
    (weights add up to 100, the marks a rule needs) would then fail too: they are left out."""
    standard = (REPO / "banks" / "ILM-SI3" / "standard.toml").read_text(encoding="utf-8")
    broken = standard.replace("max = 30\nmin = 15", 'max = "30"\nmin = 15', 1)
    assert broken != standard
    root = tmp_path / "banks"
    shutil.copytree(REPO / "banks" / "ILM-SI3", root / "ILM-SI3")
    (root / "ILM-SI3" / "standard.toml").write_text(broken, encoding="utf-8")
    errors = load_bank(root).errors
    assert [p.field for p in errors] == ["max"], errors


def test_a_method_id_written_wrong_is_one_error(tmp_path):
    """Its questions and grading name it as it should be written: they are not errors too."""
    root = write_bank(tmp_path / "banks")
    std = root / "TST01" / "standard.toml"
    _replace(std, 'id = "presentation-questioning"', 'id = "Presentation Questioning"')
    errors = load_bank(root).errors
    assert [(p.field, p.line) for p in errors] == [("id", 21)], errors


def test_questions_of_a_file_without_its_standard_are_still_checked(tmp_path):
    """A file whose `standard` is missing lies in a standard's folder: its questions are checked
    against that standard, so a wrong outcome code shows in the same run."""
    root = write_bank(tmp_path / "banks")
    questions = root / "TST01" / "questions" / "general.toml"
    _replace(questions, 'standard = "TST01"\n', "")
    _replace(questions, 'outcomes = ["K2"]', 'outcomes = ["K7"]')
    errors = load_bank(root).errors
    assert [(p.field, p.message) for p in errors] == [
        (None, "question file: missing required field 'standard'"),
        ("outcomes", "unknown outcome code 'K7' for TST01"),
    ]


# ---------------------------------------------------------------------------- other files


def test_question_files_are_checked_when_the_standard_file_is_unreadable(tmp_path):
    root = write_bank(tmp_path / "banks")
    std = root / "TST01" / "standard.toml"
    std.write_text(std.read_text().replace("level = 5", "level = = 5"), encoding="utf-8")
    questions = root / "TST01" / "questions" / "general.toml"
    questions.write_text(questions.read_text().replace("minutes = 6", "minutes = 0", 1), encoding="utf-8")
    errors = load_bank(root).errors
    assert [(Path(p.file).name, p.field) for p in errors] == [("standard.toml", None), ("general.toml", "minutes")]


def test_stray_files_are_warned_about_by_name(tmp_path, capsys):
    root = _copy(tmp_path)
    folder = root / "ST0556"
    strays = {
        "questions/notes.csv": "id,text\n",
        "questions/export.xml": "<questions/>\n",
        "questions/old.TOML": 'standard = "ST0556"\n',  # the right content, the wrong case: not read
        "questions/drafts/ideas.txt": "later\n",
        "releases/1.3.0.JSON": "{}\n",
        "releases/notes.md": "release notes\n",
        "standard.json": "{}\n",
    }
    for name, text in strays.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "releases" / ".gitkeep").write_text("", encoding="utf-8")  # hidden: not a stray
    assert main(["validate", str(root), "--format", "json"]) == 0  # warnings only: the rest validates
    out = json.loads(capsys.readouterr().out)
    warned = {
        str(Path(p["file"]).resolve().relative_to(folder.resolve())): p
        for p in out["problems"]
        if p["check"] == "files"
    }
    assert set(warned) == set(strays)
    assert all(p["kind"] == "warning" and p["fix"] for p in warned.values())
    assert "'.toml' (lower case)" in warned["questions/old.TOML"]["message"]
    assert "rename it to old.toml" in warned["questions/old.TOML"]["fix"]
    assert "rename it to 1.3.0.json" in warned["releases/1.3.0.JSON"]["fix"]
