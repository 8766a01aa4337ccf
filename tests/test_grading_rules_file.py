"""`qbank validate` on grading rules: every mistake a writer can make is named with file, line and fix."""

from __future__ import annotations

import json

import pytest
from conftest import STANDARD, write_bank

from qbank.cli import main
from qbank.validation import load_bank

GOOD = STANDARD.replace(
    "[grading]\n",
    """[grading]
notes = "test rules"

[[grading.method]]
method = "professional-discussion"
scheme = "descriptors"
levels = ["not met", "pass", "distinction"]
grades = ["Fail", "Pass", "Distinction"]
rules = [
  { grade = "Distinction", met = ["pass", "distinction"] },
  { grade = "Pass", met = ["pass"] },
  { grade = "Fail" },
]

[[grading.method.criterion]]
id = "PD1"
theme = "Knowledge"
outcomes = ["K1", "K2"]
descriptors = { pass = "Explains strategy and finance.", distinction = "Critically evaluates both." }

[[grading.method.criterion]]
id = "PD2"
outcomes = ["S1", "B1"]
descriptors = { pass = "Leads change with integrity." }

[[grading.method]]
method = "presentation-questioning"
scheme = "marks"
grades = ["Fail", "Pass"]
rules = [{ grade = "Pass", total = 20, minimums = true }, { grade = "Fail" }]

[[grading.method.criterion]]
id = "content"
title = "Content"
outcomes = ["K1"]
max = 30
min = 10

[[grading.method.criterion]]
id = "delivery"
title = "Delivery"
outcomes = ["S1"]
max = 10
min = 5

[[grading.overall]]
id = "epa"
name = "Overall"
methods = ["professional-discussion", "presentation-questioning"]
grades = ["Fail", "Pass", "Distinction"]
table = [
  { when = ["Fail", "*"], grade = "Fail" },
  { when = ["*", "Fail"], grade = "Fail" },
  { when = ["Pass", "Pass"], grade = "Pass" },
  { when = ["Distinction", "Pass"], grade = "Distinction" },
]
resit_cap = { grade = "Pass", override = "exceptional circumstances" }
""",
)


def problems_for(tmp_path, standard: str):
    root = write_bank(tmp_path / "banks", standard=standard)
    bank = load_bank(root)
    return bank, [p for p in bank.problems if p.check in ("grading", "reference", "format") or "grading" in p.message]


def errors(tmp_path, standard: str) -> list[str]:
    bank, _ = problems_for(tmp_path, standard)
    return [p.render() for p in bank.problems if p.is_error]


def test_good_rules_validate_and_are_read(tmp_path):
    bank, _ = problems_for(tmp_path, GOOD)
    assert [p.render() for p in bank.problems if p.is_error] == []
    rules = bank.standards["TST01"].grading_rules
    assert set(rules.methods) == {"professional-discussion", "presentation-questioning"}
    assert rules.overalls[0].resit_cap.attempts == ("resit", "retake")


@pytest.mark.parametrize(
    "old,new,expect",
    [
        ('outcomes = ["K1", "K2"]', 'outcomes = ["K1", "K9"]', ["unknown outcome 'K9'"]),
        (
            'outcomes = ["K1", "K2"]',
            'outcomes = ["K1"]',
            ["outcome K2 is assessed by the method but no criterion evidences it"],
        ),
        (
            'outcomes = ["K1"]\nmax = 30',
            'outcomes = ["K1", "B1"]\nmax = 30',
            ["outcome B1 is not assessed by method presentation-questioning"],
        ),
        ("max = 30\nmin = 10", "max = inf\nmin = 10", ["'max' must be a finite number, not inf"]),
        ("max = 10\nmin = 5", "max = 10\nmin = nan", ["'min' must be a finite number, not nan"]),
        (
            'method = "professional-discussion"\nscheme',
            'method = "profesional-discussion"\nscheme',
            ["method 'profesional-discussion' is not a method", "did you mean 'professional-discussion'"],
        ),
        (
            '{ when = ["Distinction", "Pass"], grade = "Distinction" },\n',
            "",
            ["the table is incomplete: no overall grade for Distinction + Pass"],
        ),
        (
            '{ when = ["Pass", "Pass"], grade = "Pass" },',
            '{ when = ["Pass", "Pass"], grade = "Pass" },\n  { when = ["Pass", "*"], grade = "Distinction" },',
            ["the table is ambiguous: Pass + Pass gives Distinction and Pass"],
        ),
        (
            '{ grade = "Pass", met = ["pass"] },\n  { grade = "Fail" },',
            '{ grade = "Fail" },\n  { grade = "Pass", met = ["pass"] },',
            [
                "rules must run from the highest grade down",
                "the last rule must have no condition",
                "rule Fail has no condition, so the rules after it can never apply",
            ],
        ),
        (
            'met = ["pass", "distinction"]',
            'met = ["pass", "distinctoin"]',
            ["level 'distinctoin'", "did you mean 'distinction'"],
        ),
        (
            '{ grade = "Pass", total = 20',
            '{ grade = "Pass", total = 50',
            ["needs a total of 50 but only 40 marks are available"],
        ),
        ("max = 10\nmin = 5", "max = 10\nmin = 15", ["min 15 is outside 0-10"]),
        (
            '{ when = ["*", "Fail"], grade = "Fail" },',
            '{ when = ["*", "Merit"], grade = "Fail" },',
            ["'Merit' is not a grade of method presentation-questioning"],
        ),
        (
            '{ when = ["Fail", "*"], grade = "Fail" },',
            '{ when = ["Fail"], grade = "Fail" },',
            ["'when' has 1 grades but the table combines 2"],
        ),
        ('resit_cap = { grade = "Pass"', 'resit_cap = { grade = "Merit"', ["'grade' = 'Merit' is not one of"]),
        (
            'descriptors = { pass = "Leads change with integrity." }',
            'descriptors = { pas = "Leads change with integrity." }',
            ["descriptor level 'pas'", "did you mean 'pass'"],
        ),
        ('scheme = "marks"', 'scheme = "mark"', ["'scheme' = 'mark' is not one of", "did you mean 'marks'"]),
        ("max = 30", 'max = "30"', ["'max' must be a number"]),
        ('id = "content"', 'id = "delivery"', ["criterion id 'delivery' is used twice"]),
        ('grades = ["Fail", "Pass"]\nrules', 'grades = ["Fail", "Pass"]\nrulez = []\nrules', ["unknown field 'rulez'"]),
    ],
)
def test_each_mistake_is_named(tmp_path, old, new, expect):
    assert old in GOOD, old
    errs = errors(tmp_path, GOOD.replace(old, new, 1))
    text = "\n".join(errs)
    for e in expect:
        assert e in text, f"{e!r} not in:\n{text}"
    # every message names the standard file and a line
    for e in errs:
        assert "TST01/standard.toml:" in e, e


def test_weights_must_add_up_to_100(tmp_path):
    std = (
        GOOD.replace('scheme = "marks"', 'scheme = "weighted"')
        .replace("max = 30\nmin = 10", "weight = 60")
        .replace("max = 10\nmin = 5", "weight = 30")
        .replace(", minimums = true", "")
    )
    assert "weights add up to 90, not 100" in "\n".join(errors(tmp_path, std))


def test_line_numbers_point_at_the_block(tmp_path):
    std = GOOD.replace('outcomes = ["K1", "K2"]', 'outcomes = ["K1", "K7"]')
    bank, _ = problems_for(tmp_path, std)
    p = next(p for p in bank.problems if "unknown outcome 'K7'" in p.message)
    lines = std.splitlines()
    assert lines[p.line - 1].startswith("outcomes = "), (p.line, lines[p.line - 1])


def test_methods_without_rules_warn(tmp_path):
    std = GOOD[: GOOD.index('[[grading.method]]\nmethod = "presentation-questioning"')]
    bank, _ = problems_for(tmp_path, std)
    warns = [p.message for p in bank.problems if p.kind == "warning"]
    assert any("method 'presentation-questioning' has no grading rules" in w for w in warns)


def test_validate_cli_reports_grading_problems(tmp_path, capsys):
    root = write_bank(tmp_path / "banks", standard=GOOD.replace('outcomes = ["K1", "K2"]', 'outcomes = ["K1"]'))
    assert main(["validate", str(root), "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert any("no criterion evidences it" in p["message"] and p["line"] for p in out["problems"])
