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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import review_world  # noqa: E402
from qbank.cli import main  # noqa: E402
from qbank.importer import import_bank  # noqa: E402
from qbank.reports import render  # noqa: E402
from qbank.reviews import Filters, ReviewError, review  # noqa: E402
from tests_support import shipped_bank  # noqa: E402

PD = Filters(standard="ST0556", method="professional-discussion")


@pytest.fixture
def world(engine):
    import_bank(engine, shipped_bank())
    return engine, review_world.build(engine, sets=420, seed=7)


def flagged_codes(report, column: int, flag_col: int = -1) -> list[str]:
    return sorted(row[column] for row in report.tables[0].rows if row[flag_col] not in ("", "too few", "too few asks"))


def test_usage_finds_exactly_the_overused_question(world):
    engine, w = world
    r = review(engine, "usage", PD)
    assert flagged_codes(r, 2) == [w.overused]
    assert len(r.flags) == 1 and w.overused in r.flags[0]
    assert r.tables[2].rows == []  # every approved PD question was drawn at least once
    assert sum(n for _, n in r.tables[3].rows) == 420  # sets per month add up
    per_q = {row[2]: row for row in r.tables[0].rows}
    assert per_q[w.overused][3] > 0.5 * 420


def test_overlap_finds_exactly_the_overlapping_cohort(world):
    engine, w = world
    r = review(engine, "overlap", PD)
    cohorts = [row for row in r.tables[1].rows if row[-1]]
    assert [row[2] for row in cohorts] == [w.overlap_cohort]
    assert all(row[2] == w.overlap_cohort for row in r.tables[2].rows[:3])
    overall = r.tables[0].rows[0]
    assert overall[2] == 420 and overall[7] > 1.0  # the over-used question pushes overlap above the bound


def test_avoidance_finds_exactly_the_avoided_question_with_its_reason(world):
    engine, w = world
    r = review(engine, "avoidance", PD)
    assert flagged_codes(r, 0) == [w.avoided]
    assert review_world.AVOID_REASON in r.flags[0]
    assessors = {row[0]: row for row in r.tables[1].rows}
    assert set(assessors) == set(review_world.ASSESSORS)
    assert sum(row[1] for row in assessors.values()) == 420


def test_effectiveness_finds_exactly_the_weak_question(world):
    engine, w = world
    r = review(engine, "effectiveness", PD)
    assert flagged_codes(r, 0) == [w.weak]
    assert "0.0%" in r.flags[0]


def test_assessor_consistency_finds_exactly_the_generous_assessor(world):
    engine, w = world
    r = review(engine, "assessors", Filters(standard="ST0556"))
    flagged = [row for row in r.tables[0].rows if row[-1]]
    assert [(row[1], row[-1]) for row in flagged] == [(w.generous, "GRADES HIGH")]


def test_health_and_adhoc(world):
    engine, w = world
    h = review(engine, "health", Filters(standard="ST0556"), path=str(Path(__file__).resolve().parent.parent / "banks"))
    assert h.flags == []  # the shipped bank is sufficient and has no near-duplicates at 90
    assert any(t.title == "Drafts waiting" for t in h.tables)
    assert h.tables[2].rows[0][1] == "1.1.0"
    a = review(engine, "adhoc", Filters(standard="ST0556"))
    rows = a.tables[0].rows
    assert len(rows) == w.adhoc and {row[0] for row in rows} <= {"ST0556 K7", "ST0556 K8", "ST0556 K9"}


def test_filters_narrow_the_evidence(world):
    engine, w = world
    assert review(engine, "usage", Filters(standard="ST0556", assessor="Assessor A")).summary[0].startswith("60 set")
    assert review(engine, "usage", Filters(cohort=w.overlap_cohort)).summary[0].startswith("12 set")
    may = review(engine, "usage", Filters(since=date(2026, 5, 1), until=date(2026, 5, 31)))
    assert may.tables[3].rows == [["2026-05", int(may.summary[0].split()[0])]]
    with pytest.raises(ReviewError, match="needs --standard"):
        review(engine, "usage", Filters(release="1.1.0"))
    with pytest.raises(ReviewError, match="no method 'interview'"):
        review(engine, "usage", Filters(standard="ST0556", method="interview"))
    with pytest.raises(ReviewError, match="after"):
        review(engine, "usage", Filters(since=date(2026, 6, 1), until=date(2026, 5, 1)))


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


def test_review_cli(world, db_url, monkeypatch, capsys, tmp_path):
    engine, w = world
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    assert main(["review", "usage", "--standard", "ST0556", "--method", "professional-discussion",
                 "--format", "json"]) == 0
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


@pytest.mark.skipif(not CHROMIUM, reason="headless Chromium not installed (apt-get install chromium)")
def test_review_report_renders_its_charts_in_chromium(world, tmp_path, db_url):
    if "postgres" in db_url:
        pytest.skip("one browser run is enough")
    engine, _ = world
    page = tmp_path / "usage.html"
    page.write_text(render(review(engine, "usage", PD), "html"), encoding="utf-8")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--host-resolver-rules=MAP * ~NOTFOUND",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<svg") == 2 and dom.count("<rect") >= 30
    png = tmp_path / "usage.png"
    subprocess.run(flags + ["--window-size=900,1400", f"--screenshot={png}", page.as_uri()], capture_output=True,
                   timeout=120)
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 40_000


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
