"""`qbank gaps`: where a bank is thin, on a bank built so that every figure is known.

The bank (TST01): method `discussion` (60 minutes, sets of at least 3) must cover A1, B1 and C1;
every question targets one outcome. A1 has 3 approved questions that fit (one more takes 90
minutes, one more is a draft: neither counts), B1 has 2, C1 has 6 (two of them declared
exclusions of each other). Method `presentation` (30 minutes, sets of at least 1) covers C1 only.

- A1: k = 3, attempts 3, floor 1/3 > cap 0.30: needs 1 more (ceil(1/0.30) = 4 questions).
- B1: k = 2, attempts 2, floor 1/2: needs max(4 - 2, 3 - 2) = 2 more; it holds the LP floor at 1/2.
- C1: k = 6, attempts 5 (the excluded pair counts once), floor 1/6: needs 0.
"""

from __future__ import annotations

import json

import pytest
from conftest import question_block, write_bank

from qbank import plans
from qbank.cli import main
from qbank.draw import DrawSpec
from qbank.gaps import OutcomeGap, method_gaps, outcome_gaps, questions_for_cap
from qbank.importer import import_bank
from qbank.pools import spec_from_bank
from qbank.releases import make_release
from qbank.validation import load_bank, load_releases

GAP_STANDARD = """\
code = "TST01"
title = "Gaps Standard"
level = 5
version = "1.0"

[outcomes]
A1 = { group = "knowledge", title = "Knows the market" }
B1 = { group = "behaviour", title = "Acts with integrity" }
C1 = { group = "skill", title = "Leads change" }

[[method]]
id = "discussion"
name = "Professional discussion"
kind = "professional discussion"
minutes = 60
min_questions = 3
assesses = ["A1", "B1", "C1"]

[[method]]
id = "presentation"
name = "Presentation with questioning"
kind = "presentation questioning"
minutes = 30
min_questions = 1
assesses = ["C1"]

[checks]
min_questions_per_outcome = 1

[grading]
"""

TEXTS = {
    "A-1": "Which competitor moved first in your market last year, and how did you respond?",
    "A-2": "How do you size a new market before committing a budget to it?",
    "A-3": "What data told you that customer demand was shifting away from your core product?",
    "A-4": "Walk through the full market study you ran for the regional expansion programme.",
    "A-5": "Which pricing signal do you watch most closely, and why that one?",
    "B-1": "Tell me about a time you refused to bend a rule that others were happy to bend.",
    "B-2": "When did you report a mistake of your own before anyone else noticed it?",
    "C-1": "Describe a change you led that met resistance, and what you did about it.",
    "C-2": "How did you keep a team motivated through a restructure you did not choose?",
    "C-3": "What would you do differently next time you introduce a new way of working?",
    "C-4": "Explain how you decided who to involve first when redesigning the service.",
    "C-5": "Which change of yours failed, and what did you learn from the failure?",
    "C-6": "How do you know when a change has really been adopted rather than tolerated?",
}
A_FIT, B_ALL, C_ALL = ["A-1", "A-2", "A-3"], ["B-1", "B-2"], [f"C-{i}" for i in range(1, 7)]


def gaps_bank(root):
    blocks = []
    for i, (qid, text) in enumerate(TEXTS.items()):
        outcome = qid[0] + "1"
        methods = ("discussion", "presentation") if outcome == "C1" else ("discussion",)
        minutes = 90 if qid == "A-4" else 5  # A-4 fits no method's time
        status = "draft" if qid == "A-5" else "approved"
        extra = 'excludes = ["C-2"]\n' if qid == "C-1" else ""
        blocks.append(
            question_block(
                i, qid=qid, methods=methods, outcomes=[outcome], minutes=minutes, text_=text, status=status, extra=extra
            )
        )
    return write_bank(root, "".join(blocks), standard=GAP_STANDARD)


@pytest.fixture
def gap_dir(tmp_path):
    root = gaps_bank(tmp_path / "banks")
    bank = load_bank(root)
    assert not bank.errors, [p.render() for p in bank.errors]
    return root


def spec_of(root, method: str, cap: float = 0.30) -> DrawSpec:
    return spec_from_bank(load_bank(root, health=False), "TST01", method, exposure_cap=cap)


def test_the_needs_formula():
    assert questions_for_cap(0.30) == 4 and questions_for_cap(0.25) == 4 and questions_for_cap(0.2) == 5
    three = OutcomeGap("X", 3, ("a", "b", "c"), 3, (), 0.30)
    assert three.floor == pytest.approx(1 / 3) and three.over_cap and three.needs == 1
    two = OutcomeGap("Y", 2, ("a", "b"), 2, (), 0.30)
    assert two.needs == 2  # the cap needs 2 more; three attempts need 1
    assert OutcomeGap("Y", 2, ("a", "b"), 2, (), 0.5).needs == 1  # at cap 0.5 only the third attempt is short
    assert OutcomeGap("Z", 0, (), 0, (), 0.30).needs == 4 and OutcomeGap("Z", 0, (), 0, (), 0.30).floor is None
    healthy = OutcomeGap("W", 6, tuple("abcdef"), 6, (), 0.30)
    assert not healthy.over_cap and healthy.needs == 0


def test_outcomes_by_questions_that_fit_thinnest_first(gap_dir):
    got = {o.outcome: o for o in outcome_gaps(spec_of(gap_dir, "discussion"))}
    assert [o.outcome for o in outcome_gaps(spec_of(gap_dir, "discussion"))] == ["B1", "A1", "C1"]
    a, b, c = got["A1"], got["B1"], got["C1"]
    assert (a.k, a.questions, a.attempts, a.needs) == (3, tuple(A_FIT), 3, 1)  # not A-4 (90 min), not A-5 (draft)
    assert a.floor == pytest.approx(1 / 3) and a.over_cap
    assert (b.k, b.attempts, b.needs) == (2, 2, 2)
    assert (c.k, c.attempts, c.alike, c.needs, c.over_cap) == (6, 5, (("C-1", "C-2"),), 0, False)


def test_method_figures_plan_and_simulation(gap_dir):
    g = method_gaps(spec_of(gap_dir, "discussion"), draws=600)
    assert g.usable == 11 and g.least_questions == 3 and g.attempts == 2 and g.needs == 3
    assert g.plan_floor == pytest.approx(0.5, abs=1e-6) and g.plan_proved and "B1" in g.plan_binding
    # every set takes one of B1's 2 and one of A1's 3: those five, and only those, are over the cap
    assert set(g.over_cap_questions) == set(A_FIT + B_ALL)
    assert all(x > 0.30 for x in g.over_cap_questions.values())
    assert g.failed.get("retake", 0) > 0  # a third attempt finds B1 run out
    assert g.summary().startswith("needs 3 more question(s) for outcomes B1 (+2), A1 (+1)")
    assert "exposure floor 0.500 is over the cap 0.30 (binding: B1" in g.summary()

    healthy = method_gaps(spec_of(gap_dir, "presentation"), draws=600)
    assert healthy.ok and healthy.summary() == "ok" and healthy.over_cap_questions == {}
    assert healthy.plan_floor is not None and healthy.plan_floor <= 0.30

    # at a cap the bank can keep for A1 (1/3) but not for B1 (1/2)
    loose = method_gaps(spec_of(gap_dir, "discussion", cap=0.34), draws=0)
    assert {o.outcome: o.needs for o in loose.outcomes} == {"A1": 0, "B1": 1, "C1": 0}
    assert loose.simulated == 0 and loose.over_cap_questions == {}


def test_cli_from_files_text_and_json(gap_dir, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("QBANK_DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    assert main(["gaps", "TST01", "--path", str(gap_dir), "--draws", "400"]) == 0
    out = capsys.readouterr().out
    assert not (tmp_path / "never.db").exists()  # --path reads the files only
    lines = out.splitlines()
    discussion = lines.index(next(x for x in lines if x.startswith("discussion:")))
    header = next(i for i in range(discussion, len(lines)) if lines[i].split()[:2] == ["outcome", "k"])
    rows = [x.split() for x in lines[header + 1 : header + 4]]
    assert rows == [
        ["B1", "2", "2", "0.500!", "2"],
        ["A1", "3", "3", "0.333!", "1"],
        ["C1", "6", "5", "0.167", "0", "(C-1~C-2", "count", "once)"],
    ]
    assert "discussion: needs 3 more question(s) for outcomes B1 (+2), A1 (+1)" in out
    assert "presentation: ok" in out
    assert "attempts one apprentice can take: 2 (until B1 runs out)" in out
    assert "exposure floor (linear programming over every valid set): 0.500 (proved)" in out
    at = next(i for i, x in enumerate(lines) if "questions over the cap" in x and "B-1" in x)
    over = " ".join(lines[at : at + 3])  # folded at the width: the list may run on
    for q in A_FIT + B_ALL:
        assert q in over

    assert main(["gaps", "TST01", "--path", str(gap_dir), "--draws", "400", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] is False and d["source"] == f"the approved questions in {gap_dir}"
    by = {m["method"]: m for m in d["methods"]}
    assert [(o["outcome"], o["k"], o["attempts"], o["needs"]) for o in by["discussion"]["outcomes"]] == [
        ("B1", 2, 2, 2),
        ("A1", 3, 3, 1),
        ("C1", 6, 5, 0),
    ]
    assert by["discussion"]["plan"]["floor"] == 0.5 and by["discussion"]["plan"]["proved"] is True
    assert set(by["discussion"]["simulation"]["over_cap"]) == set(A_FIT + B_ALL)
    assert by["presentation"]["ok"] is True and by["presentation"]["summary"] == "ok"


def test_cli_errors(gap_dir, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("QBANK_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert main(["gaps", "NOPE", "--path", str(gap_dir)]) == 1
    assert "no standard NOPE in" in capsys.readouterr().err
    assert main(["gaps", "TST01", "--path", str(tmp_path / "nowhere")]) == 1
    assert "no bank folder" in capsys.readouterr().err
    assert main(["gaps", "NOPE"]) == 1
    assert "no standard NOPE in the store" in capsys.readouterr().err
    assert main(["gaps", "TST01", "--path", str(gap_dir), "--exposure-cap", "0"]) == 2
    with pytest.raises(SystemExit) as e:
        main(["gaps"])
    assert e.value.code == 2


def test_cli_from_the_store_uses_the_stored_plan(gap_dir, db_url, capsys, monkeypatch):
    """The imported newest release, on SQLite and PostgreSQL; its stored plan, not a new solve."""
    make_release(load_bank(gap_dir), "TST01", "1.0.0")
    from qbank.store import make_engine

    engine = make_engine(db_url)
    try:
        import_bank(engine, load_releases(gap_dir))
        plans.PLANS.clear()
        solved = plans.solve_missing(engine, "TST01")
        assert all(s.plan is not None for s in solved)
    finally:
        engine.dispose()
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)

    def no_solving(*a, **k):
        raise AssertionError("gaps solved a plan the store holds")

    monkeypatch.setattr("qbank.floor.plan", no_solving)
    assert main(["gaps", "TST01", "--draws", "300", "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["source"] == "release 1.0.0 in the store"
    by = {m["method"]: m for m in d["methods"]}
    assert [(o["outcome"], o["k"], o["attempts"], o["needs"]) for o in by["discussion"]["outcomes"]] == [
        ("B1", 2, 2, 2),
        ("A1", 3, 3, 1),
        ("C1", 6, 5, 0),
    ]
    assert by["discussion"]["plan"]["floor"] == 0.5 and by["presentation"]["ok"] is True
    assert main(["gaps", "TST01", "--draws", "0"]) == 0
    out = capsys.readouterr().out
    assert "TST01 (release 1.0.0 in the store)" in out and "presentation: ok" in out
    assert "discussion: needs 3 more question(s) for outcomes B1 (+2), A1 (+1)" in out
