"""Standardisation reviews on a seeded world with known properties (bench/review_world.py): each
report finds exactly what was planted, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import review_world
from sqlmodel import col
from tests_support import shipped_bank

from qbank.cli import main
from qbank.importer import import_bank
from qbank.reports import render
from qbank.reviews import Filters, ReviewError, _most_shared_pairs, _sets, review

PD = Filters(standard="ST0556", method="professional-discussion")


@pytest.fixture
def world(engine):  # seeding 420 sets takes a second or more: the tests on it are marked slow
    import_bank(engine, shipped_bank())
    return engine, review_world.build(engine, sets=420, seed=7)


def flagged_codes(report, column: int, flag_col: int = -1) -> list[str]:
    return sorted(row[column] for row in report.tables[0].rows if row[flag_col] not in ("", "too few", "too few asks"))


@pytest.mark.slow
def test_usage_finds_exactly_the_overused_question(world):
    engine, w = world
    r = review(engine, "usage", PD)
    assert flagged_codes(r, 2) == [w.overused]
    assert len(r.flags) == 1 and w.overused in r.flags[0]
    assert r.tables[2].rows == []  # every approved PD question was drawn at least once
    assert sum(n for _, n in r.tables[3].rows) == 420  # sets per month add up
    per_q = {row[2]: row for row in r.tables[0].rows}
    assert per_q[w.overused][3] > 0.5 * 420


@pytest.mark.slow
def test_overlap_finds_exactly_the_overlapping_cohort(world):
    engine, w = world
    r = review(engine, "overlap", PD)
    cohorts = [row for row in r.tables[1].rows if row[-1]]
    assert [row[2] for row in cohorts] == [w.overlap_cohort]
    assert all(row[2] == w.overlap_cohort for row in r.tables[2].rows[:3])
    overall = r.tables[0].rows[0]
    assert overall[2] == 420 and overall[7] > 1.0  # the over-used question pushes overlap above the bound


def every_pair(members: list, k: int) -> list:
    """The k pairs of a cohort's sets sharing the most questions, by comparing every pair: sets in
    order of apprentice reference (stable), ties to the pair first in that order."""
    order = sorted(range(len(members)), key=lambda i: members[i][2])
    n = len(order)
    pairs = sorted((-len(members[order[p]][3] & members[order[q]][3]), p, q) for p in range(n) for q in range(p + 1, n))
    return [(-neg, members[order[p]], members[order[q]]) for neg, p, q in pairs[:k]]


# small pools give many ties and identical sets; large ones pairs that share nothing
cohort_sets = st.integers(1, 40).flatmap(
    lambda pool: st.lists(
        st.tuples(
            st.sampled_from("ABCDE"),  # few references: sets of the same apprentice keep their order
            st.frozensets(st.integers(0, pool - 1).map(lambda i: f"Q{i:02d}"), min_size=1, max_size=9),
        ),
        min_size=2,
        max_size=40,
    )
)


@settings(max_examples=200, deadline=None)
@given(cohort_sets, st.integers(1, 6), st.sampled_from(["cheaper", "subsets", "prefix", "two"]))
@example([("A", frozenset({"Q1"})), ("B", frozenset({"Q2"})), ("C", frozenset({"Q3"}))], 3, "cheaper")
@example([("A", frozenset({"Q1", "Q2", "Q3"}))] * 2 + [("C", frozenset({"Q1", "Q2"}))] * 2, 3, "subsets")
def test_most_shared_pairs_are_those_of_comparing_every_pair(sets, k, way):
    """The overlap review's pair search (which compares only pairs that can share the most) finds
    the same pairs, counts and order as comparing every pair, whichever way it counts shares."""
    members = [(i, "Cohort", ref, codes) for i, (ref, codes) in enumerate(sets)]
    assert _most_shared_pairs(members, k, way) == every_pair(members, k)


@pytest.mark.slow
def test_overlap_pairs_are_those_of_comparing_every_pair(world):
    """On the seeded world, the most shared pair of each cohort and the top pairs overall are those
    found by comparing every pair of the cohort's sets."""
    from sqlalchemy.orm import Session

    engine, w = world
    r = review(engine, "overlap", PD)
    with Session(engine) as s:
        sets = _sets(s, PD)
    cohorts: dict[str, list] = {}
    for did, (_, _, cohort, ref, codes) in sets.items():
        cohorts.setdefault(cohort, []).append((did, cohort, ref, frozenset(codes)))
    most, pairs = [], []
    for cohort, members in sorted(cohorts.items()):
        best = every_pair(members, 3)
        most.append([cohort, f"{best[0][1][2]} & {best[0][2][2]}: {best[0][0]}"])
        pairs += [[PD.standard, PD.method, cohort, a[2], b[2], n, ", ".join(sorted(a[3] & b[3]))] for n, a, b in best]
    assert [[row[2], row[6]] for row in r.tables[1].rows] == most and len(most) == 11
    assert r.tables[2].rows == sorted(pairs, key=lambda row: -row[5])[:10]
    assert r.tables[2].rows[0][2] == w.overlap_cohort


@pytest.mark.slow
def test_avoidance_finds_exactly_the_avoided_question_with_its_reason(world):
    engine, w = world
    r = review(engine, "avoidance", PD)
    assert flagged_codes(r, 0) == [w.avoided]
    assert review_world.AVOID_REASON in r.flags[0]
    assessors = {row[0]: row for row in r.tables[1].rows}
    assert set(assessors) == set(review_world.ASSESSORS)
    assert sum(row[1] for row in assessors.values()) == 420


@pytest.mark.slow
def test_effectiveness_finds_exactly_the_weak_question(world):
    engine, w = world
    r = review(engine, "effectiveness", PD)
    assert flagged_codes(r, 0) == [w.weak]
    assert "0.0%" in r.flags[0]
    # per question and outcome tag: the weak question's tags, and only those, are never evidenced
    tags = r.tables[1].rows
    per_question = {row[0]: row[1] for row in r.tables[0].rows}
    assert {(row[0], row[1]) for row in tags if row[5] == "RE-TAG?"} == {
        (row[0], row[1]) for row in tags if row[0] == w.weak
    }
    assert all(row[3] == 0 for row in tags if row[0] == w.weak)
    for row in tags:  # each tag was asked as often as its question (one version each here)
        assert row[2] == per_question[row[0]] and 0 <= row[3] <= row[2]


@pytest.mark.slow
def test_assessor_consistency_finds_exactly_the_generous_assessor(world):
    engine, w = world
    r = review(engine, "assessors", Filters(standard="ST0556"))
    flagged = [row for row in r.tables[0].rows if row[-1]]
    assert [(row[1], row[-1]) for row in flagged] == [(w.generous, "GRADES HIGH")]


@pytest.mark.slow
def test_health_and_adhoc(world):
    engine, w = world
    h = review(engine, "health", Filters(standard="ST0556"), path=str(Path(__file__).resolve().parent.parent / "banks"))
    from tests_support import shipped_bank

    newest = shipped_bank().latest_release("ST0556")
    assert newest is not None
    # the shipped bank is sufficient and has no near-duplicates at 90; its questions have no recorded
    # review (no reviewer is invented), and the health review says so
    unreviewed = f"ST0556: {len(newest.items)} approved question(s) with no review in the last 12 months ("
    assert [f for f in h.flags if not f.startswith(unreviewed)] == [] and len(h.flags) == 1
    assert any(t.title == "Drafts waiting" for t in h.tables)
    assert h.tables[2].rows[0][1] == newest.semver
    a = review(engine, "adhoc", Filters(standard="ST0556"))
    rows = a.tables[0].rows
    assert len(rows) == w.adhoc and {row[0] for row in rows} <= {"ST0556 K7", "ST0556 K8", "ST0556 K9"}


@pytest.mark.slow
def test_filters_narrow_the_evidence(world):
    engine, w = world
    assert review(engine, "usage", Filters(standard="ST0556", assessor="Assessor A")).summary[0].startswith("60 set")
    # the draws of one assessor's assessments (a subquery), in every review that reads draws
    assert review(engine, "overlap", Filters(standard="ST0556", assessor="Assessor A")).tables[0].rows[0][2] == 60
    av = review(engine, "avoidance", Filters(standard="ST0556", assessor="Assessor A"))
    assert av.summary[0].startswith("60 set(s)") and [row[0] for row in av.tables[1].rows] == ["Assessor A"]
    assert review(engine, "usage", Filters(cohort=w.overlap_cohort)).summary[0].startswith("12 set")
    may = review(engine, "usage", Filters(since=date(2026, 5, 1), until=date(2026, 5, 31)))
    assert may.tables[3].rows == [["2026-05", int(may.summary[0].split()[0])]]
    with pytest.raises(ReviewError, match="needs --standard"):
        review(engine, "usage", Filters(release="1.1.0"))
    with pytest.raises(ReviewError, match="no method 'interview'"):
        review(engine, "usage", Filters(standard="ST0556", method="interview"))
    with pytest.raises(ReviewError, match="after"):
        review(engine, "usage", Filters(since=date(2026, 6, 1), until=date(2026, 5, 1)))


@pytest.mark.slow
def test_every_format_renders(world):
    engine, w = world
    r = review(engine, "avoidance", PD)
    assert json.loads(render(r, "json"))["flags"] == r.flags
    rows = list(csv.reader(io.StringIO(render(r, "csv"))))
    assert rows[0] == ["# Per question"] and rows[1][0] == "question"
    text = render(r, "table")
    assert "FLAGGED (1)" in text and w.avoided in text
    html = render(r, "html")
    assert "<svg" in html and "AVOIDED" in html
    assert not re.search(r"https?://|<script|<link|<img|@import|url\(", html, re.I)


@pytest.mark.slow
def test_review_cli(world, db_url, monkeypatch, capsys, tmp_path):
    engine, w = world
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    assert (
        main(["review", "usage", "--standard", "ST0556", "--method", "professional-discussion", "--format", "json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["kind"] == "usage"
    out = tmp_path / "r.html"
    assert main(["review", "effectiveness", "--format", "html", "-o", str(out)]) == 0
    assert w.weak in out.read_text(encoding="utf-8")
    assert main(["review", "usage", "--standard", "NOPE"]) == 1
    assert "no standard NOPE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["review", "popularity"])
    assert main(["review", "usage", "--path", "banks"]) == 2


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM, reason="headless Chromium not installed (apt-get install chromium)")
def test_review_report_renders_its_charts_in_chromium(world, tmp_path, db_url):
    if "postgres" in db_url:
        pytest.skip("one browser run is enough")
    engine, _ = world
    page = tmp_path / "usage.html"
    page.write_text(render(review(engine, "usage", PD), "html"), encoding="utf-8")
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<svg") == 2 and dom.count("<rect") >= 30
    png = tmp_path / "usage.png"
    subprocess.run(
        flags + ["--window-size=900,1400", f"--screenshot={png}", page.as_uri()], capture_output=True, timeout=120
    )
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 40_000


@pytest.mark.slow
def test_every_filter_reaches_the_assessment_based_reviews(world):
    """Assessors, ad-hoc and evidence levels honour release, cohort, dates and assessor; the
    assessor filter still judges that assessor against everyone else."""
    engine, w = world
    one = review(engine, "assessors", Filters(standard="ST0556", assessor=w.generous))
    assert [row[1] for row in one.tables[0].rows] == [w.generous]
    assert one.tables[0].rows[0][-1] == "GRADES HIGH"  # compared with the six others, who are not listed
    assert {row[2] for row in one.tables[1].rows} == {w.generous}
    assert [row[0] for row in one.tables[3].rows] == [w.generous]
    assert review(engine, "adhoc", Filters(standard="ST0556", release="1.0.0")).tables[0].rows == []  # world is 1.1.0
    with pytest.raises(ReviewError, match="no release 9.9.9"):
        review(engine, "adhoc", Filters(standard="ST0556", release="9.9.9"))
    assert review(engine, "adhoc", Filters(until=date(2026, 4, 30))).tables[0].rows == []
    may = review(engine, "adhoc", Filters(since=date(2026, 5, 1), until=date(2026, 5, 31))).tables[0].rows
    assert 0 < len(may) < w.adhoc
    assert review(engine, "assessors", Filters(cohort="nobody")).tables[0].rows == []


# --------------------------------------------------------------------------- voided starts and undone swaps


@pytest.fixture
def fixed_seeds(monkeypatch):
    """Fixed draw seeds: the sets, and so which swaps are possible, are the same on every run."""
    import itertools

    import qbank.draws

    seeds = itertools.count(1)
    monkeypatch.setattr(qbank.draws.secrets, "token_hex", lambda n=16: f"{next(seeds):0{2 * n}x}")


def _start(engine, apprentice: str) -> int:
    from qbank import sessions as S

    return S.start_assessment(
        engine,
        S.StartRequest(
            standard="ST0556", apprentice=apprentice, assessor="A. Assessor", methods=("professional-discussion",)
        ),
    )


def _swap_one(engine, m, reason: str) -> tuple[str, str]:
    """Swap the first question of the set that can be swapped: (out, in)."""
    from qbank import sessions as S

    for q in m.questions:
        try:
            return q.code, S.swap_question(engine, m.id, q.code, reason)
        except S.SessionError as e:
            assert "cannot swap" in str(e)
    raise AssertionError("no question of the set could be swapped")


UNDONE_REASON, STANDING_REASON = "swapped by mistake, then undone", "covered in the portfolio"


def test_a_voided_assessment_and_an_undone_swap_are_not_counted(engine, fixed_seeds):
    """A voided start's draw is no exposure, no set and no draw; an undone swap is no swap, and the
    question it brought in was never drawn. A swap that stands still counts."""
    from collections import Counter

    from qbank import sessions as S

    import_bank(engine, shipped_bank())
    gone = _start(engine, "VOID-1")
    S.void_assessment(engine, gone, "A. Assessor", "abandoned: the apprentice's line dropped")
    a_undone, a_standing = _start(engine, "UNDO-1"), _start(engine, "SWAP-1")
    out, came_in = _swap_one(engine, S.load(engine, a_undone).methods[0], UNDONE_REASON)
    assert S.undo_swap(engine, S.load(engine, a_undone).methods[0].id, came_in) == out
    out2, in2 = _swap_one(engine, S.load(engine, a_standing).methods[0], STANDING_REASON)
    undone, standing = ([q.code for q in S.load(engine, a).methods[0].questions] for a in (a_undone, a_standing))
    assert came_in not in undone and out in undone and in2 in standing and out2 not in standing

    usage = review(engine, "usage", PD)
    assert usage.summary[0].startswith("2 set(s) drawn")
    assert usage.tables[3].rows and sum(n for _, n in usage.tables[3].rows) == 2  # sets per month
    assert sum(n for _, n in review(engine, "usage", Filters(assessor="A. Assessor")).tables[3].rows) == 2
    assert {row[2]: row[3] for row in usage.tables[0].rows} == dict(Counter(undone + standing))
    assert review(engine, "overlap", PD).tables[0].rows[0][2] == 2

    av = review(engine, "avoidance", PD)
    drawn = {row[0]: row[1] for row in av.tables[0].rows}
    # drawn = the two live sets plus the question swapped out of the second (it was put to the set)
    assert drawn == dict(Counter(undone + standing + [out2]))
    assert av.summary[0].startswith("2 set(s); 1 swap(s)")
    reasons = " ".join(row[5] for row in av.tables[0].rows)
    assert STANDING_REASON in reasons and UNDONE_REASON not in reasons
    assert {row[0]: row[2] for row in av.tables[0].rows}[out2] == 1
    assert [row[:3] for row in av.tables[1].rows] == [["A. Assessor", 0, 1]]  # methods run, swaps


@pytest.mark.slow
def test_a_voided_start_changes_no_review(world):
    """On the seeded world, starting an assessment and voiding it leaves every review as it was."""
    from qbank import sessions as S

    engine, w = world

    def snapshot():
        out = {}
        for kind in ("usage", "overlap", "avoidance", "effectiveness", "assessors", "adhoc"):
            for f in (PD, Filters(assessor="Assessor A"), Filters(cohort=w.overlap_cohort)):
                r = review(engine, kind, f)
                out[(kind, f)] = (r.flags, r.summary, r.tables, r.charts)
        return out

    before = snapshot()
    for ref, assessor in (("VOIDED-1", "Assessor A"), ("VOIDED-2", "Assessor B")):
        aid = S.start_assessment(
            engine,
            S.StartRequest(
                standard="ST0556",
                apprentice=ref,
                assessor=assessor,
                cohort=w.overlap_cohort,
                methods=("professional-discussion",),
            ),
        )
        S.void_assessment(engine, aid, assessor, "started for the wrong apprentice")
    assert snapshot() == before


@pytest.mark.slow
@pytest.mark.tampers  # voids assessments behind the services' back, on purpose
def test_void_assessments_are_never_counted(world):
    """Defence in depth: the store never leaves grades, asks or ad-hoc questions in a void assessment,
    but if one had them, no review would count them."""
    from sqlalchemy import update

    from qbank.models import AssessmentRow

    engine, w = world
    with engine.begin() as c:
        c.execute(update(AssessmentRow).where(col(AssessmentRow.assessor) == w.generous).values(status="void"))
    r = review(engine, "assessors", Filters(standard="ST0556"))
    assert w.generous not in {row[1] for row in r.tables[0].rows} | {row[0] for row in r.tables[3].rows}
    assert w.generous not in {row[2] for row in review(engine, "adhoc", Filters(standard="ST0556")).tables[0].rows}
    assert w.generous not in {row[0] for row in review(engine, "avoidance", PD).tables[1].rows}
    assert review(engine, "usage", Filters(assessor=w.generous)).summary[0].startswith("0 set(s)")
