"""`qbank new` (standard and question templates that validate as written) and `qbank grade` (a
standard's grading rules from the command line), through `qbank.cli.main`.

Expected grades are derived from the shipped standards' own [grading] tables (ILM-SI3: a mark sheet
with section minimums and a total; ST0556: descriptors, a combination table and a resit cap), not
written into the tests, so a change to the rules moves the expectation with it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import tomli
from tests_support import BANKS

from qbank.bank_types import Question
from qbank.cli import main
from qbank.cli_new import next_id
from qbank.importer import import_bank
from qbank.validation import load_bank, load_releases


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def grading_of(code: str) -> dict:
    return tomli.loads((BANKS / code / "standard.toml").read_text(encoding="utf-8"))["grading"]


def the_method(grading: dict, method: str) -> dict:
    return next(m for m in grading["method"] if m["method"] == method)


# --------------------------------------------------------------------------- qbank new


def test_new_standard_and_questions_pass_validate(tmp_path, capsys):
    root = tmp_path / "banks"
    code, out, _ = run(capsys, "new", "standard", "ST9999", "--path", root, "--title", "Test Leader", "--level", "5")
    assert code == 0
    std_file = root / "ST9999" / "standard.toml"
    assert std_file.is_file() and (root / "ST9999" / "questions").is_dir()
    assert "ST9999/standard.toml" in out
    written = tomli.loads(std_file.read_text(encoding="utf-8"))
    assert (written["code"], written["title"], written["level"]) == ("ST9999", "Test Leader", 5)

    ids = []
    for extra in ([], ["--topic", "Strategy work", "--author", "Jo Writer"], ["--topic", "Strategy work"]):
        code, out, _ = run(capsys, "new", "question", "ST9999", "--path", root, *extra)
        assert code == 0
        ids.append(re.search(r"question (\S+)", out)[1])
    assert ids == ["ST9999-001", "ST9999-002", "ST9999-003"]  # a standard without questions starts at 001
    assert (root / "ST9999" / "questions" / "drafts.toml").is_file()
    topic_file = root / "ST9999" / "questions" / "strategy-work.toml"
    assert topic_file.read_text(encoding="utf-8").count("[[question]]") == 2  # the second was appended

    bank = load_bank(root)
    assert sorted(q.id for q in bank.questions) == ids
    assert {q.status for q in bank.questions} == {"draft"}
    assert {q.author for q in bank.questions if q.path.endswith("strategy-work.toml")} == {"Jo Writer"}
    # nothing is wrong with what was written: the only problems are the sufficiency check's, which
    # waits for approved questions on every outcome the template's method assesses
    assert bank.problems and all(p.check == "sufficiency" and p.is_error for p in bank.problems)
    method = bank.standards["ST9999"].methods["professional-discussion"]
    assert len(bank.problems) == len(method.assesses)
    # the grading skeleton is real rules: every pass descriptor met gives a Pass
    rules = bank.standards["ST9999"].grading_rules
    criteria = [c.id for c in rules.methods["professional-discussion"].criteria]
    code, out, _ = run(
        capsys, "grade", "ST9999", "--path", root, "--method", "professional-discussion",
        "--level", *[f"{c}=pass" for c in criteria],
    )  # fmt: skip
    assert code == 0 and "professional-discussion" in out and ": Pass" in out


def test_the_written_standard_explains_its_fields(tmp_path, capsys):
    run(capsys, "new", "standard", "ST9998", "--path", tmp_path)
    text = (tmp_path / "ST9998" / "standard.toml").read_text(encoding="utf-8")
    for field in ("code", "title", "level", "version", "kind", "minutes", "min_questions", "assesses", "scheme"):
        line = next(x for x in text.splitlines() if x.startswith(f"{field} ="))
        assert "#" in line.split("=", 1)[1], f"{field} has no comment"
    for table in ("[outcomes]", "[[method]]", "[checks]", "[grading]", "[[grading.method]]", "[[grading.overall]]"):
        assert table in text


def test_new_question_in_a_shipped_standard_takes_the_next_id_of_its_method(tmp_path, capsys):
    root = tmp_path / "banks"
    shutil.copytree(BANKS / "ST0556", root / "ST0556")
    all_ids = set(re.findall(r'^id = "([^"]+)"', _all_text(root / "ST0556" / "questions"), re.M))
    for rel in (root / "ST0556" / "releases").glob("*.json"):
        all_ids |= {i["id"] for i in json.loads(rel.read_text(encoding="utf-8"))["items"]}

    def expected(prefix: str) -> str:
        width = len(next(i for i in all_ids if i.startswith(prefix))) - len(prefix)
        return f"{prefix}{max(int(i[len(prefix) :]) for i in all_ids if i.startswith(prefix)) + 1:0{width}d}"

    pd_method = "professional-discussion"
    pd_ids = {q.id for q in load_bank(root, health=False).questions if pd_method in q.methods}
    prefix = re.match(r"^(.*?)\d+$", sorted(pd_ids)[0])[1]
    strategy = root / "ST0556" / "questions" / "strategy.toml"
    before = strategy.read_text(encoding="utf-8")
    problems_before = sorted(p.render() for p in load_bank(root).problems)
    args = ["--method", pd_method, "--outcome", "K1", "--file", "strategy"]
    code, out, _ = run(capsys, "new", "question", "ST0556", "--path", root, *args)
    assert code == 0
    new_id = re.search(r"question (\S+)", out)[1]
    assert new_id == expected(prefix) and new_id not in all_ids
    after = strategy.read_text(encoding="utf-8")
    assert after.startswith(before)  # appended; nothing before it touched
    bank = load_bank(root)
    mine = next(q for q in bank.questions if q.id == new_id)
    assert (mine.status, mine.methods, mine.outcomes) == ("draft", (pd_method,), ("K1",))
    assert mine.path.endswith("strategy.toml")
    assert sorted(p.render() for p in bank.problems) == problems_before  # no new problem, not even a warning


def _all_text(folder: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.toml")))


def test_next_id_skips_ids_held_only_by_a_release_and_ids_of_other_standards():
    def q(qid: str, methods=("m1",)) -> Question:
        return Question(
            id=qid, version=1, status="approved", standard="S1", methods=methods, outcomes=("K1",), minutes=5, text="t"
        )

    own = [q("S-PD-001"), q("S-PD-002"), q("S-PQ-01", ("m2",)), q("S-PQ-02", ("m2",))]
    taken = {"S-PD-001", "S-PD-002", "S-PD-003", "S-PQ-01", "S-PQ-02", "S-PQ-03"}  # 003s: in a release only
    assert next_id(own, taken, "S1", ["m1"]) == "S-PD-004"
    assert next_id(own, taken | {"S-PQ-04"}, "S1", ["m2"]) == "S-PQ-05"  # its own width kept
    assert next_id([], {"X1-001"}, "X1") == "X1-002"  # another standard's id is never reused


def test_new_refuses_to_overwrite(tmp_path, capsys):
    root = tmp_path / "banks"
    assert run(capsys, "new", "standard", "ST9999", "--path", root)[0] == 0
    std_file = root / "ST9999" / "standard.toml"
    std_file.write_text(std_file.read_text(encoding="utf-8") + "# my edits\n", encoding="utf-8")
    code, _, err = run(capsys, "new", "standard", "ST9999", "--path", root)
    assert code == 1 and "ST9999/standard.toml" in err and "not overwritten" in err
    assert std_file.read_text(encoding="utf-8").endswith("# my edits\n")

    # the same code in a folder of another name is found by its code
    other = root / "elsewhere"
    shutil.copytree(root / "ST9999", other)
    shutil.rmtree(root / "ST9999")
    code, _, err = run(capsys, "new", "standard", "ST9999", "--path", root)
    assert code == 1 and "elsewhere/standard.toml" in err and "already defines" in err

    assert run(capsys, "new", "question", "ST9999", "--path", root)[0] == 0
    drafts = other / "questions" / "drafts.toml"
    text = drafts.read_text(encoding="utf-8")
    code, _, err = run(capsys, "new", "question", "ST9999", "--path", root, "--id", "ST9999-001")
    assert code == 1 and "ST9999-001" in err and "drafts.toml:" in err and "not overwritten" in err
    assert drafts.read_text(encoding="utf-8") == text

    # a folder made for the standard beforehand, with no standard.toml yet, is written into
    (root / "ST7777").mkdir()
    assert run(capsys, "new", "standard", "ST7777", "--path", root)[0] == 0
    assert (root / "ST7777" / "standard.toml").is_file()


@pytest.mark.parametrize(
    "args, exit_code, needles",
    [
        (["new", "standard", "ST 1"], 2, ["'ST 1' is not a valid code", "letters, digits"]),
        (["new", "standard", "../x"], 2, ["is not a valid code"]),
        (["new", "standard", "ST1", "--level", "0"], 2, ["--level must be 1 or more"]),
        (["new", "question", "NOPE"], 1, ["no standard NOPE", "TST01", "qbank new standard NOPE"]),
        (["new", "question", "TST01", "--method", "nope"], 1, ["no method nope", "professional-discussion"]),
        (["new", "question", "TST01", "--outcome", "Z9"], 1, ["outcome Z9 is not assessed", "K1, K2, S1, B1"]),
        (["new", "question", "TST01", "--id", "bad id"], 2, ["'bad id' is not a valid code"]),
        (["new", "question", "TST01", "--file", "../../x"], 2, ["inside the standard's questions/ folder"]),
        (["new", "question", "TST01", "--id", "TST-003"], 1, ["TST-003 is already used", "general.toml:"]),
    ],
)
def test_new_bad_input_is_named(bank_dir, capsys, args, exit_code, needles):
    code, _, err = run(capsys, *args, "--path", bank_dir)
    assert code == exit_code
    for n in needles:
        assert n in err


def test_new_question_refuses_another_standards_file(bank_dir, tmp_path, capsys):
    run(capsys, "new", "standard", "ST9999", "--path", bank_dir)
    shutil.copy(bank_dir / "TST01" / "questions" / "general.toml", bank_dir / "ST9999" / "questions" / "general.toml")
    code, _, err = run(capsys, "new", "question", "ST9999", "--path", bank_dir, "--file", "general")
    assert code == 1 and "holds questions of 'TST01', not ST9999" in err


# --------------------------------------------------------------------------- qbank grade: method


def ilm_sheet(grading: dict) -> tuple[float, dict[str, float], dict[str, float], dict[str, str]]:
    """ILM-SI3's mark sheet: the PASS total, each section's minimum and maximum, and its title."""
    m = the_method(grading, "project-report")
    total = next(r["total"] for r in m["rules"] if "total" in r)
    crits = m["criterion"]
    return (
        total,
        {c["id"]: c["min"] for c in crits},
        {c["id"]: c["max"] for c in crits},
        {c["id"]: c["title"] for c in crits},
    )


def marks_args(marks: dict[str, float]) -> list[str]:
    return ["--mark", *(f"{k}={v:g}" for k, v in marks.items())]


def test_ilm_marks_at_and_just_below_the_boundaries(capsys):
    total, mins, maxes, titles = ilm_sheet(grading_of("ILM-SI3"))
    assert sum(mins.values()) <= total  # the test below reaches the total at or above the minimums
    at_mins = dict(mins)
    first = next(iter(at_mins))
    at_mins[first] += total - sum(mins.values())  # exactly the total, every section at its minimum or more
    base = ["grade", "ILM-SI3", "--path", BANKS, "--method", "project-report"]

    code, out, _ = run(capsys, *base, *marks_args(at_mins), "--format", "json")
    r = json.loads(out)
    assert code == 0 and r["grade"] == "PASS" and r["total"] == total and r["short_of"] is None
    assert r["rule"].startswith("PASS")

    # one mark less in a section at its minimum: the total falls below the boundary and the section below its min
    last = list(mins)[-1]
    below = dict(at_mins, **{last: at_mins[last] - 1})
    code, out, _ = run(capsys, *base, *marks_args(below))
    assert code == 0
    assert "project-report" in out and ": REFERRAL" in out
    assert f"short of PASS: total {total - 1:g}, below {total:g}" in out
    assert f"'{titles[last]}' {below[last]:g}, below its minimum of {mins[last]:g}" in out

    # the total well above the boundary cannot make up for a section below its minimum (no compensation)
    rich = {k: maxes[k] for k in mins}
    rich[first] = mins[first] - 1
    code, out, _ = run(capsys, *base, *marks_args(rich), "--format", "json")
    r = json.loads(out)
    assert r["grade"] == "REFERRAL" and r["total"] >= total and r["short_of"] == "PASS"
    assert r["lacking"] == [f"'{titles[first]}' {rich[first]:g}, below its minimum of {mins[first]:g}"]


def test_st0556_levels_name_what_the_next_grade_up_lacked(capsys):
    m = the_method(grading_of("ST0556"), "presentation-questioning")
    crits = m["criterion"]
    with_merit = [c["id"] for c in crits if "merit" in c["descriptors"]]
    without = [c["id"] for c in crits if "merit" not in c["descriptors"]]
    assert with_merit and without  # the shipped rules: behaviour criteria have no merit descriptor
    levels = {**dict.fromkeys(with_merit, "merit"), **dict.fromkeys(without, "pass")}
    base = ["grade", "ST0556", "--path", BANKS, "--method", "presentation-questioning"]
    code, out, _ = run(capsys, *base, "--level", *(f"{k}={v}" for k, v in levels.items()), "--format", "json")
    r = json.loads(out)
    assert code == 0 and r["grade"] == "Merit" and r["short_of"] == "Distinction" and not r["missing"]
    with_distinction = [c["id"] for c in crits if "distinction" in c["descriptors"]]
    assert r["lacking"] == [
        f"{c} distinction not met (logged: {levels[c]})" for c in [x["id"] for x in crits] if c in with_distinction
    ]

    # one criterion not evidenced at pass: the fail grade, naming it
    failing = dict(levels, **{with_merit[0]: "not met"})
    code, out, _ = run(capsys, *base, "--level", *(f"{k}={v}" for k, v in failing.items()))
    assert code == 0 and ": Fail" in out
    assert f"short of Pass: {with_merit[0]} pass not met (logged: not met)" in out


# --------------------------------------------------------------------------- qbank grade: overall


def test_overall_resit_is_capped_and_says_so(capsys):
    overall = grading_of("ST0556")["overall"][0]
    methods = overall["methods"]
    top = overall["grades"][-1]
    cap = overall["resit_cap"]["grade"]
    assert overall["grades"].index(cap) < overall["grades"].index(top)
    args = ["grade", "ST0556", "--path", BANKS, "--overall", *(f"{m}={top}" for m in methods)]

    code, out, _ = run(capsys, *args, "--format", "json")
    first = json.loads(out)["overall"][0]
    assert code == 0 and (first["grade"], first["capped"], first["next_up"]) == (top, False, None)

    code, out, _ = run(capsys, *args, "--attempt", "resit")
    assert code == 0
    assert f"resit attempt): {cap}" in out
    assert f"capped at {cap} (resit)" in out  # the rule that gave it
    assert f"short of {top}: a resit is capped at {cap}" in out and overall["resit_cap"]["override"] in out

    # below the cap, a resit gets the table's grade and is told what the grade above needs
    low = overall["grades"][1]
    code, out, _ = run(
        capsys, "grade", "ST0556", "--path", BANKS, "--overall", *(f"{m}={low}" for m in methods), "--attempt", "resit"
    )
    assert code == 0 and f"): {low}" in out and f"short of {overall['grades'][2]}, which needs" in out


def test_ilm_has_no_resit_cap(capsys):
    overall = grading_of("ILM-SI3")["overall"][0]
    assert "resit_cap" not in overall
    top = overall["grades"][-1]
    code, out, _ = run(
        capsys, "grade", "ILM-SI3", "--path", BANKS, "--overall", f"{overall['methods'][0]}={top}",
        "--attempt", "resit", "--format", "json",
    )  # fmt: skip
    r = json.loads(out)["overall"][0]
    assert code == 0 and (r["grade"], r["capped"], r["cap"]) == (top, False, None)


@pytest.mark.parametrize(
    "args, exit_code, needles",
    [
        (["ILM-SI3", "--method", "project-report", "--level", "define=pass"], 1, ["graded by marks", "--mark"]),
        (["ILM-SI3", "--method", "project-report", "--mark", "define=11", "nope=2"], 1,
         ["define: mark 11 is outside 0-10", "no criterion 'nope'", "define (0-10, min 5)"]),
        (["ILM-SI3", "--method", "project-report", "--mark", "define=x"], 2, ["'x' is not a number"]),
        (["ILM-SI3", "--method", "project-report", "--mark", "define"], 2, ["is not CRITERION=N"]),
        (["ILM-SI3", "--method", "project-report"], 2, ["give --mark CRITERION=N", "apply (0-60, min 30)"]),
        (["ILM-SI3", "--method", "nope", "--mark", "a=1"], 1, ["no grading rules for method 'nope'", "project-report"]),
        (["ST0556", "--method", "professional-discussion", "--level", "PD1=good"], 1,
         ["PD1: level 'good' is not one of: not met, pass, merit, distinction"]),
        (["ST0556", "--overall", "presentation-questioning=Good"], 1,
         ["grade 'Good' is not one of: Fail, Pass, Merit, Distinction"]),
        (["ST0556", "--overall", "x=Pass"], 1, ["no method 'x'", "presentation-questioning, professional-discussion"]),
        (["ST0556", "--overall", "presentation-questioning=Pass"], 1, ["epa also needs professional-discussion"]),
        (["ST0556", "--overall", "presentation-questioning=Pass", "--method", "x"], 2, ["not both"]),
        (["ST0556"], 2, ["give --method M"]),
        (["NOPE", "--method", "x", "--mark", "a=1"], 1, ["no standard NOPE", "ST0556"]),
    ],
)  # fmt: skip
def test_grade_bad_input_is_named(capsys, args, exit_code, needles):
    code, _, err = run(capsys, "grade", *args, "--path", BANKS)
    assert code == exit_code
    for n in needles:
        assert n in err


# --------------------------------------------------------------------------- qbank grade: the store


def test_grade_reads_the_newest_imported_release(engine, db_url, monkeypatch, capsys):
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    code, _, err = run(capsys, "grade", "ILM-SI3", "--method", "project-report", "--mark", "define=5")
    assert code == 1 and "no standard ILM-SI3 in the store" in err and "qbank import" in err

    bank = load_releases(BANKS / "ILM-SI3")
    import_bank(engine, bank)
    newest = bank.latest_release("ILM-SI3")
    total, mins, _, titles = ilm_sheet(newest.definition["grading"])
    marks = dict(mins)
    last = list(mins)[-1]
    marks[last] -= 1
    code, out, _ = run(capsys, "grade", "ILM-SI3", "--method", "project-report", *marks_args(marks), "--format", "json")
    r = json.loads(out)
    assert code == 0 and r["source"] == f"release {newest.semver} in the store"
    assert r["grade"] == "REFERRAL" and r["short_of"] == "PASS"
    assert f"'{titles[last]}' {marks[last]:g}, below its minimum of {mins[last]:g}" in r["lacking"]

    # an older release without grading rules says so; an unknown one is named
    ungraded = next(x for x in bank.releases["ILM-SI3"] if not x.definition.get("grading"))  # 1.0.0
    code, _, err = run(
        capsys, "grade", "ILM-SI3", "--release", ungraded.semver, "--method", "project-report", "--mark", "define=5"
    )
    assert code == 1 and f"release {ungraded.semver} in the store has no [grading]" in err
    code, _, err = run(capsys, "grade", "ILM-SI3", "--release", "9.9.9", "--overall", "project-report=PASS")
    assert code == 1 and "no release 9.9.9" in err
