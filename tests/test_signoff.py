"""Review and sign-off (issue 15, item 2): a question version moves draft -> reviewed -> approved
(-> retired); the bank files record who wrote it, who reviewed it and when; `qbank release` holds
every new version to the two-person rule unless the standard sets it off with a reason; each
standard has a review date that `validate` warns about; `qbank review health` lists the standards
and questions due for review from the store (SQLite and PostgreSQL); migration 0006 brings the
reviews to a store made before them.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from conftest import STANDARD, question_block, write_bank
from sqlalchemy import create_engine, inspect, select, text
from sqlmodel import col

from qbank import migrations
from qbank.bank_types import content_hash
from qbank.cli import main
from qbank.definition import ReleaseDefinition
from qbank.importer import import_bank
from qbank.models import QuestionRow, QuestionVersionRow, ReleaseItemRow, ReleaseRow
from qbank.problems import BankError
from qbank.releases import make_release
from qbank.reviews import Filters, review
from qbank.store import make_engine
from qbank.validation import load_bank


def today() -> date:
    """Today, asked when used: a module-level date went stale when the suite ran past midnight."""
    return date.today()


AUTHOR = "Test Writer"  # the question file's header author (conftest.write_bank)
REVIEWER = "Rita Reviewer"


def days_ago(n: int) -> str:
    return (today() - timedelta(days=n)).isoformat()


def q(i: int, *, reviewer: str | None = REVIEWER, reviewed: str | None = None, extra: str = "", **kw) -> str:
    """conftest's question block i with exactly the review given (reviewer None: none; reviewed
    None: 10 days ago), then `extra`."""
    block = re.sub(r"^(reviewer|reviewed) = .*\n", "", question_block(i, **kw), flags=re.M)
    if reviewer is not None:
        block += f'reviewer = "{reviewer}"\nreviewed = {reviewed or days_ago(10)}\n'
    return block + extra


def standard(*lines: str) -> str:
    """conftest's standard, with top-level `lines` added (and no review lines of its own)."""
    head, rest = STANDARD.split("\n[outcomes]", 1)
    head = "\n".join(ln for ln in head.splitlines() if not ln.startswith(("review_", "two_person_rule")))
    return head + "\n" + "".join(f"{ln}\n" for ln in lines) + "\n[outcomes]" + rest


REVIEW_DUE = (
    f"review_due = {(date.today() + timedelta(days=200)).isoformat()}"  # 200 days: a day either way changes nothing
)
RULE_OFF = ("two_person_rule = false", 'two_person_rule_reason = "a sole trader EPAO: one assessor writes and checks"')


def bank(tmp_path: Path, questions: str, *std_lines: str) -> Path:
    return write_bank(tmp_path / "banks", questions=questions, standard=standard(*std_lines))


def qfile(root: Path) -> Path:
    return root / "TST01" / "questions" / "general.toml"


def release(root: Path, semver: str):
    return make_release(load_bank(root), "TST01", semver)


def manifest(root: Path, semver: str) -> dict:
    return json.loads((root / "TST01" / "releases" / f"{semver}.json").read_text(encoding="utf-8"))


def line_of(path: Path, needle: str) -> int:
    return next(n for n, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in ln)


# --------------------------------------------------------------------------- the two-person rule


def test_release_refuses_new_versions_with_no_second_persons_review(tmp_path, capsys):
    """One question with no reviewer, one reviewed by its own author (written otherwise), the rest
    by a second person: nothing is released, and each offending version is named at its line."""
    qs = [q(i) for i in range(8)]
    qs[2] = q(2, reviewer=None)
    qs[5] = q(5, reviewer="  test   WRITER ")  # the header's author, written otherwise
    root = bank(tmp_path, "".join(qs), REVIEW_DUE)
    with pytest.raises(BankError, match=r"2 new question version\(s\) were not reviewed by a second person") as e:
        release(root, "1.0.0")
    named = {(p.question, p.file, p.line): p.message for p in e.value.problems}
    path = qfile(root)
    assert set(named) == {
        ("TST-003", str(path), line_of(path, 'id = "TST-003"') - 1),  # no reviewer line: the block's
        ("TST-006", str(path), line_of(path, 'reviewer = "  test   WRITER "')),
    }
    assert "TST-003 v1 has no reviewer" in named[("TST-003", str(path), line_of(path, 'id = "TST-003"') - 1)]
    assert f"TST-006 v1 is reviewed only by its author, {AUTHOR}" in " ".join(named.values())
    assert all("reviewer" in p.fix and "reviewed" in p.fix for p in e.value.problems)
    assert not (root / "TST01" / "releases").exists()

    assert main(["release", "TST01", "1.0.0", "--path", str(root)]) == 1
    err = capsys.readouterr().err
    assert "[TST-003]" in err and "[TST-006]" in err and "two-person rule" in err and "Traceback" not in err
    assert "two_person_rule = false" in err  # how a standard may set it off

    # validate warned about both before the release was tried: a file-level warning for the
    # approved question with no reviewer, one for the question reviewed by its author
    warnings = {p.check: p for p in load_bank(root).warnings}
    assert "no reviewer on 1 approved question(s) (TST-003)" in warnings["reviewer"].message
    assert "1 question(s) reviewed by their own author (TST-006)" in warnings["review"].message


def test_a_second_persons_review_releases_and_the_manifest_freezes_it(tmp_path):
    root = bank(tmp_path, "".join(q(i, reviewed=days_ago(i)) for i in range(8)), REVIEW_DUE)
    result = release(root, "1.0.0")
    assert result.created and result.notices == []
    items = {i["id"]: i for i in manifest(root, "1.0.0")["items"]}
    for i in range(8):
        item = items[f"TST-{i + 1:03d}"]
        assert (item["author"], item["reviewer"], item["reviewed"]) == (AUTHOR, REVIEWER, days_ago(i))
    # read back from the manifest, and not content: the hashes are those of the questions alone
    rel = load_bank(root).latest_release("TST01")
    assert rel is not None
    assert {(i.question.id, i.question.reviewer, i.question.reviewed) for i in rel.items} == {
        (f"TST-{i + 1:03d}", REVIEWER, days_ago(i)) for i in range(8)
    }
    assert all(i["hash"] == content_hash({k: v for k, v in i.items() if k in CONTENT}) for i in items.values())


CONTENT = {"text", "probes", "guidance", "bands", "methods", "outcomes", "minutes", "topic", "opener"}


def test_the_rule_off_with_a_reason_releases_and_says_so(tmp_path):
    root = bank(tmp_path, "".join(q(i, reviewer=None) for i in range(8)), REVIEW_DUE, *RULE_OFF)
    result = release(root, "1.0.0")
    assert result.created
    reason = "a sole trader EPAO: one assessor writes and checks"
    assert result.notices == [f"TST01: released without the two-person rule: {reason}"]
    d = ReleaseDefinition.from_dict(manifest(root, "1.0.0")["definition"])
    assert (d.two_person_rule, d.two_person_rule_reason, d.two_person) == (False, reason, False)


def test_qbank_release_prints_why_the_rule_was_off(tmp_path, capsys):
    from qbank.cli import main

    root = bank(tmp_path, "".join(q(i, reviewer=None) for i in range(8)), REVIEW_DUE, *RULE_OFF)
    assert main(["release", "TST01", "1.0.0", "--path", str(root)]) == 0
    out = capsys.readouterr().out
    assert "note: TST01: released without the two-person rule: a sole trader EPAO" in out


def test_the_rule_off_without_a_reason_is_an_error(tmp_path):
    root = bank(tmp_path, "".join(q(i) for i in range(8)), REVIEW_DUE, "two_person_rule = false")
    (err,) = load_bank(root).errors
    assert err.field == "two_person_rule" and err.line == line_of(root / "TST01" / "standard.toml", "two_person_rule")
    assert "two_person_rule = false needs a two_person_rule_reason" in err.message
    with pytest.raises(BankError, match="fix them before releasing"):
        release(root, "1.0.0")


def test_versions_released_before_are_not_judged_again(tmp_path):
    """1.0.0 was made without the rule (as every release before it): its versions stand. A new
    question with a second person's review is released beside them; a changed version is new and
    is judged."""
    root = bank(tmp_path, "".join(q(i, reviewer=None) for i in range(8)), REVIEW_DUE, *RULE_OFF)
    release(root, "1.0.0")
    std = root / "TST01" / "standard.toml"
    std.write_text(standard(REVIEW_DUE), encoding="utf-8")  # the rule on again
    qfile(root).write_text(
        qfile(root).read_text(encoding="utf-8")
        + q(8, qid="TST-100", text_="Which of your projects would you not run again, and why not?"),
        encoding="utf-8",
    )
    assert release(root, "1.1.0").created
    assert {i["id"] for i in manifest(root, "1.1.0")["items"]} == {f"TST-{i:03d}" for i in range(1, 9)} | {"TST-100"}

    text = qfile(root).read_text(encoding="utf-8")
    text = text.replace('id = "TST-001"\nversion = 1', 'id = "TST-001"\nversion = 2')
    qfile(root).write_text(text.replace("tested its assumptions", "checked its assumptions"), encoding="utf-8")
    with pytest.raises(BankError) as e:
        release(root, "1.2.0")
    assert [(p.question, p.message.split(":")[0]) for p in e.value.problems] == [
        ("TST-001", "TST-001 v2 has no reviewer")
    ]


def test_a_changed_version_needs_a_new_review_not_the_old_ones(tmp_path):
    """Raising the version leaves the old version's reviewer and date on the question: that review
    was of the old content, so the new version is refused until it is reviewed again."""
    root = bank(tmp_path, "".join(q(i, reviewed=days_ago(30)) for i in range(8)), REVIEW_DUE)
    release(root, "1.0.0")  # made today
    text = qfile(root).read_text(encoding="utf-8")
    text = text.replace('id = "TST-001"\nversion = 1', 'id = "TST-001"\nversion = 2')
    qfile(root).write_text(text.replace("tested its assumptions", "checked its assumptions"), encoding="utf-8")
    with pytest.raises(BankError) as e:
        release(root, "1.1.0")
    (p,) = e.value.problems
    assert (
        p.question == "TST-001" and f"carries a review dated {days_ago(30)}, before release 1.0.0 froze v1" in p.message
    )
    block = qfile(root).read_text(encoding="utf-8").split('id = "TST-001"')[1].split("[[question]]")[0]
    qfile(root).write_text(
        qfile(root)
        .read_text(encoding="utf-8")
        .replace(block, block.replace(f"reviewed = {days_ago(30)}", f"reviewed = {today().isoformat()}")),
        encoding="utf-8",
    )
    assert release(root, "1.1.0").created


def test_a_release_that_only_records_reviews_is_a_release(tmp_path):
    """Recording the annual review changes no content, but the store must learn of it (the health
    review reads it): such a release is made; one that changes nothing at all is refused."""
    root = bank(tmp_path, "".join(q(i, reviewed=days_ago(400)) for i in range(8)), REVIEW_DUE)
    release(root, "1.0.0")
    with pytest.raises(BankError, match="identical to release 1.0.0"):
        release(root, "1.1.0")
    qfile(root).write_text(
        qfile(root).read_text(encoding="utf-8").replace(f"reviewed = {days_ago(400)}", f"reviewed = {days_ago(1)}"),
        encoding="utf-8",
    )
    assert release(root, "1.1.0").created
    assert {i["reviewed"] for i in manifest(root, "1.1.0")["items"]} == {days_ago(1)}
    assert release(root, "1.1.0").created is False  # the same again: nothing to do


# --------------------------------------------------------------------------- the question's review fields


def test_review_fields_are_checked_each_once_in_one_run(tmp_path):
    qs = [q(i) for i in range(8)]
    bad = {
        "TST-101": ('status = "reviewed"\n', "status", 'status "reviewed" needs the review'),
        "TST-102": ('reviewer = "Bea Other"\n', None, "missing field 'reviewed'"),
        "TST-103": (f"reviewed = {days_ago(3)}\n", None, "missing field 'reviewer'"),
        "TST-104": (f'reviewer = "Bea Other"\nreviewed = {days_ago(-3)}\n', "reviewed", "is in the future"),
        "TST-105": ('reviewer = "Bea Other"\nreviewed = "2026-02-30"\n', "reviewed", "is not a valid date"),
        "TST-106": ('reviewer = "Bea Other"\nreviewed = 2026-01-05T10:00:00\n', "reviewed", "without a time"),
        "TST-107": ('reviewer = "Bea Other"\nreviewed = 20260105\n', "reviewed", "must be a date, not a number"),
        "TST-108": ('reviewer = ""\nreviewed = 2026-01-05\n', "reviewer", "'reviewer' is empty"),
    }
    for n, (qid, (extra, _, _)) in enumerate(bad.items()):
        status = "reviewed" if qid == "TST-101" else "draft"
        qs.append(q(20 + n, qid=qid, reviewer=None, status=status, extra="" if qid == "TST-101" else extra))
    root = bank(tmp_path, "".join(qs), REVIEW_DUE)
    path = qfile(root)
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            'author = "Test Writer"\n', 'author = "Test Writer"\nreviewer = "Bea Other"\n'
        )
    )
    errors = load_bank(root).errors
    for qid, (_, fieldname, words) in bad.items():
        hits = [p for p in errors if p.question == qid]
        assert len(hits) == 1 and words in hits[0].message and hits[0].field == fieldname, (qid, hits)
        assert hits[0].line is not None
    header = [p for p in errors if p.question is None]
    assert len(header) == 1 and header[0].field == "reviewer" and "not in the file's header" in header[0].message
    assert len(errors) == len(bad) + 1


def test_a_reviewed_question_with_its_review_is_valid_and_not_released(tmp_path):
    qs = "".join(q(i) for i in range(8)) + q(
        8, qid="TST-200", status="reviewed", text_="How did you judge which risks to escalate first?"
    )
    root = bank(tmp_path, qs, REVIEW_DUE)
    b = load_bank(root)
    assert b.errors == []
    mine = next(x for x in b.questions if x.id == "TST-200")
    assert (mine.status, mine.reviewer, mine.reviewed) == ("reviewed", REVIEWER, days_ago(10))
    release(root, "1.0.0")
    assert "TST-200" not in {i["id"] for i in manifest(root, "1.0.0")["items"]}  # only approved ones are


# --------------------------------------------------------------------------- the standard's review date


def test_a_passed_review_date_is_warned_about_with_the_days(tmp_path):
    root = bank(tmp_path, "".join(q(i) for i in range(8)), f"review_due = {days_ago(30)}")
    b = load_bank(root)
    assert b.errors == []
    (w,) = [p for p in b.warnings if p.field == "review_due"]
    assert w.message == f"TST01: the bank's review was due on {days_ago(30)}, 30 day(s) ago"
    assert w.line == line_of(root / "TST01" / "standard.toml", "review_due")
    assert main(["validate", str(root)]) == 0  # a warning: validation passes


def test_a_review_date_to_come_is_not_warned_about(tmp_path):
    root = bank(tmp_path, "".join(q(i) for i in range(8)), f"review_due = {today().isoformat()}")
    release(root, "1.0.0")
    assert [p for p in load_bank(root).warnings if p.field == "review_due"] == []


def test_a_released_bank_without_a_review_date_is_warned_about(tmp_path):
    root = bank(tmp_path, "".join(q(i) for i in range(8)))
    assert [p for p in load_bank(root).warnings if p.field == "review_due"] == []  # not in use yet
    result = release(root, "1.0.0")
    assert any("has no review_due" in n for n in result.notices)  # said when first released
    (w,) = [p for p in load_bank(root).warnings if p.field == "review_due"]
    assert "TST01: no review_due" in w.message and "at least annually" in w.message


@pytest.mark.parametrize(
    "line,fieldname,words",
    [
        ('review_due = "next year"', "review_due", "'review_due' = 'next year' is not a valid date"),
        ("review_interval_months = 0", "review_interval_months", "must be at least 1"),
        ('two_person_rule = "no"', "two_person_rule", "must be true or false"),
    ],
)
def test_bad_review_settings_are_errors_naming_the_field(tmp_path, line, fieldname, words):
    root = bank(tmp_path, "".join(q(i) for i in range(8)), line)
    (err,) = load_bank(root).errors
    assert err.field == fieldname and words in err.message


def test_review_keys_are_frozen_only_when_given(tmp_path):
    """A standard that sets none keeps the definition it always had (and so its releases' hashes)."""
    plain = load_bank(bank(tmp_path / "a", "".join(q(i) for i in range(8)))).standards["TST01"].definition()
    assert not {"review_due", "review_interval_months", "two_person_rule", "two_person_rule_reason"} & set(plain)
    given = load_bank(
        bank(tmp_path / "b", "".join(q(i) for i in range(8)), REVIEW_DUE, "review_interval_months = 24", *RULE_OFF)
    ).standards["TST01"]
    d = given.definition()
    assert d["review_due"] == REVIEW_DUE.split(" = ")[1] and d["review_interval_months"] == 24
    assert d["two_person_rule"] is False and d["two_person_rule_reason"].startswith("a sole trader")
    read = ReleaseDefinition.from_dict(d)
    assert (read.review_due, read.review_months, read.two_person) == (d["review_due"], 24, False)
    assert read.to_dict() == d and ReleaseDefinition.from_json(read.to_json()) == read


# --------------------------------------------------------------------------- the health review, from the store


def test_the_health_review_lists_overdue_standards_and_questions(tmp_path, engine):
    """1.0.0 (made without the rule) holds one never-reviewed question, three reviewed 13 months
    ago and four recently; the bank's review date passed 10 days ago. 1.1.0 records the annual
    review and moves the date on: nothing is due."""
    reviewed = {0: None, 1: days_ago(400), 2: days_ago(395), 3: days_ago(390)}
    qs = "".join(
        q(i, reviewer=None) if i in reviewed and reviewed[i] is None else q(i, reviewed=reviewed.get(i) or days_ago(20))
        for i in range(8)
    )
    root = bank(tmp_path, qs, f"review_due = {days_ago(10)}", *RULE_OFF)
    release(root, "1.0.0")
    import_bank(engine, load_bank(root))

    h = review(engine, "health", Filters(standard="TST01"))
    due = [f for f in h.flags if "review" in f]
    assert due == [
        f"TST01: the bank's review was due on {days_ago(10)}, 10 day(s) ago",
        "TST01: 4 approved question(s) with no review in the last 12 months (TST-001 v1, "
        f"TST-002 v1 ({days_ago(400)}), TST-003 v1 ({days_ago(395)}), TST-004 v1 ({days_ago(390)}))",
    ]
    table = h.tables[-1]
    assert table.title.startswith("Reviews due")
    assert [row[:7] for row in table.rows] == [["TST01", "1.0.0", days_ago(10), "OVERDUE 10 day(s)", 8, 12, 4]]

    # the review done: every question reviewed, the next date a year on, a longer interval
    text = qfile(root).read_text(encoding="utf-8")
    for when in reviewed.values():
        if when:
            text = text.replace(f"reviewed = {when}", f"reviewed = {days_ago(2)}")
    text = text.replace('id = "TST-001"\n', 'id = "TST-001"\n' + f'reviewer = "{REVIEWER}"\nreviewed = {days_ago(2)}\n')
    qfile(root).write_text(text, encoding="utf-8")
    (root / "TST01" / "standard.toml").write_text(
        standard(f"review_due = {(today() + timedelta(days=365)).isoformat()}", "review_interval_months = 24"),
        encoding="utf-8",
    )
    release(root, "1.1.0")
    import_bank(engine, load_bank(root))
    h = review(engine, "health", Filters(standard="TST01"))
    assert [f for f in h.flags if "review" in f] == []
    (row,) = h.tables[-1].rows
    assert row[:7] == ["TST01", "1.1.0", (today() + timedelta(days=365)).isoformat(), "in 365 day(s)", 8, 24, 0]

    # the store holds each release's reviews as its manifest froze them
    with engine.connect() as c:
        stored = c.execute(
            select(col(QuestionRow.code), col(ReleaseRow.semver), col(ReleaseItemRow.reviewer))
            .add_columns(col(ReleaseItemRow.reviewed_on))
            .join(ReleaseRow, col(ReleaseRow.id) == ReleaseItemRow.release_id)
            .join(QuestionVersionRow, col(QuestionVersionRow.id) == ReleaseItemRow.question_version_id)
            .join(QuestionRow, col(QuestionRow.id) == QuestionVersionRow.question_id)
            .where(col(QuestionRow.code).in_(["TST-001", "TST-002"]))
        ).all()
    assert sorted(map(tuple, stored)) == [
        ("TST-001", "1.0.0", "", ""),
        ("TST-001", "1.1.0", REVIEWER, days_ago(2)),
        ("TST-002", "1.0.0", REVIEWER, days_ago(400)),
        ("TST-002", "1.1.0", REVIEWER, days_ago(2)),
    ]


# --------------------------------------------------------------------------- migration 0006


def test_a_store_at_0005_is_upgraded_keeping_its_releases(tmp_path, db_url, capsys):
    """A store made by the qbank before reviews were recorded (revision 0005): opening it adds the
    two columns, every release item kept with no review recorded, and the next import goes on."""
    from alembic import command

    assert migrations.REVISIONS[migrations.REVISIONS.index("0005") + 1] == "0006"
    root = bank(tmp_path, "".join(q(i) for i in range(8)), REVIEW_DUE)
    release(root, "1.0.0")
    eng = make_engine(db_url)
    import_bank(eng, load_bank(root))
    eng.dispose()
    plain = create_engine(db_url)
    with plain.begin() as c:
        command.downgrade(migrations.alembic_config(c), "0005")
    with plain.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0005"
        assert {col["name"] for col in inspect(c).get_columns("release_item")} == {"release_id", "question_version_id"}
        before = sorted(c.execute(text("SELECT release_id, question_version_id FROM release_item")).all())
    assert len(before) == 8
    capsys.readouterr()

    eng = make_engine(db_url)
    assert f"from revision 0005 to {migrations.HEAD}" in capsys.readouterr().err
    with eng.connect() as c:
        after = sorted(
            c.execute(text("SELECT release_id, question_version_id, reviewer, reviewed_on FROM release_item"))
        )
    assert [tuple(r) for r in after] == [(*r, "", "") for r in before]
    qfile(root).write_text(
        qfile(root).read_text(encoding="utf-8").replace('status = "approved"', 'status = "retired"', 1)
    )
    release(root, "1.1.0")
    assert import_bank(eng, load_bank(root)).new_releases == ["TST01 1.1.0"]
    h = review(eng, "health", Filters(standard="TST01"))
    assert h.tables[-1].rows[0][:7] == ["TST01", "1.1.0", REVIEW_DUE.split(" = ")[1], "in 200 day(s)", 7, 12, 0]
    eng.dispose()
    plain.dispose()
