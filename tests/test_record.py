"""The assessor's record: every section present, self-contained, escaped, and rendered by a real browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from tests_support import shipped_bank

from qbank import sessions as S
from qbank.cli import main
from qbank.importer import import_bank
from qbank.record import render

SECTIONS = [
    "details",
    "adjustments",
    "method-presentation-questioning",
    "method-professional-discussion",
    "uncovered-professional-discussion",
    "grade-presentation-questioning",
    "grade-professional-discussion",
    "overall",
]


@pytest.fixture
def assessment(engine, monkeypatch):
    """A complete CMI assessment with notes, ad-hoc question, swap, marks of feedback, an outcome
    never evidenced, and text that tries to inject markup. Draw seeds are fixed so the set, and so
    whether a swap is possible, is the same on every run."""
    import itertools

    import qbank.draws

    seeds = itertools.count(1)
    monkeypatch.setattr(qbank.draws.secrets, "token_hex", lambda n=16: f"{next(seeds):0{2 * n}x}")
    import_bank(engine, shipped_bank())
    aid = S.start_assessment(
        engine,
        S.StartRequest(
            standard="ST0556",
            apprentice="REF-<b>7</b>",
            assessor="Sam O'Neil & Co",
            extra_time_pct=25,
            adjustments="Dyslexia: <script>alert(1)</script> questions also shown in writing",
        ),
    )
    pq, pd = S.load(engine, aid).methods
    a = S.ask(engine, pq.id, pq.questions[0].code)
    S.set_notes(engine, a, "Line one | with a pipe\nLine two <img src=x onerror=alert(1)>")
    swapped = False
    for q in pq.questions[1:]:  # a swap can be impossible for one question (tight outcomes); any will do
        try:
            S.swap_question(engine, pq.id, q.code, "topic already covered by the dissertation")
            swapped = True
            break
        except S.SessionError as e:
            assert "cannot swap" in str(e)
    assert swapped
    for c in pq.scheme.criteria:
        S.log_evidence(engine, pq.id, "distinction", criterion=c.id, note=f"strong on {c.id}")
        S.set_mark(engine, pq.id, c.id, strengths="clear A3", improvements="more on sustainment")
    S.end_method(engine, pq.id, reason="record test: ended once the evidence was logged")
    S.confirm_grade(engine, pq.id)
    adhoc = S.add_adhoc(engine, pd.id, "What did the Monte Carlo model tell you?", ["K9"])
    S.set_notes(engine, adhoc, "Explained sensitivity well.")
    last = pd.scheme.criteria[-1]
    for c in pd.scheme.criteria:
        if c is not last:
            S.log_evidence(engine, pd.id, "pass", criterion=c.id, ask_id=adhoc)
    S.end_method(engine, pd.id, reason="record test: ended once the evidence was logged")
    S.confirm_grade(engine, pd.id)
    S.complete(engine, aid)
    return engine, aid, last


def test_html_record_has_every_section_and_is_self_contained(assessment):
    engine, aid, last = assessment
    v = S.load(engine, aid)
    html = render(v, "html")
    for sid in SECTIONS:
        assert f'id="{sid}"' in html, sid
    for needle in (
        "Apprentice reference",
        "Sam O&#39;Neil &amp; Co",
        "25%",
        "release",
        v.release,
        "Questions asked",
        "Evidence and judgement per criterion",
        "clear A3",
        "more on sustainment",
        "Outcomes never evidenced",
        "NOT EVIDENCED",
        "Rule applied",
        "Overall EPA grade: Fail",
        "assessor-authored",
        "topic already covered by the dissertation",
        "What did the Monte Carlo",
    ):
        assert needle in html, needle
    for o in last.outcomes:
        assert o in v.method("professional-discussion").uncovered or o in html
    # nothing from outside the file: no scripts, links, remote images, fonts or imports
    assert not re.search(r"https?://|<script|<link|<img|@import|url\(", html, re.I), re.search(
        r"https?://|<script|<link|<img|@import|url\(", html, re.I
    ).group(0)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "REF-&lt;b&gt;7&lt;/b&gt;" in html
    assert "@page { size: A4" in html


def test_markdown_record_escapes_and_has_every_section(assessment):
    engine, aid, _ = assessment
    md = render(S.load(engine, aid), "md")
    for heading in (
        "## Reasonable adjustments",
        "## Method 1:",
        "## Method 2:",
        "### Questions asked",
        "### Evidence and judgement per criterion",
        "### Outcomes",
        "## Overall grade",
        "Outcomes never evidenced",
        "**NOT EVIDENCED**",
        "Rule applied",
    ):
        assert heading in md, heading
    assert "Line one \\| with a pipe<br>Line two &lt;img" in md
    assert "<script>" not in md
    for line in md.splitlines():  # a table row never breaks across lines
        if line.startswith("| "):
            assert line.rstrip().endswith("|"), line


def test_record_cli(assessment, tmp_path, capsys, monkeypatch, db_url):
    engine, aid, _ = assessment
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    out = tmp_path / "r.html"
    assert main(["record", str(aid), "--format", "html", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert main(["record", str(aid), "--format", "md"]) == 0
    assert "# Assessor's record: assessment" in capsys.readouterr().out
    assert main(["record", "999999"]) == 1
    assert "no assessment 999999" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["record", str(aid), "--format", "pdf"])
    assert exit_.value.code == 2 and "invalid choice: 'pdf'" in capsys.readouterr().err
    assert main(["record", str(aid), "-o", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM, reason="headless Chromium not installed (apt-get install chromium)")
def test_record_renders_in_headless_chromium(assessment, tmp_path, db_url):
    """Open the record in a real browser with the network cut off: the DOM it builds holds every
    section, the screenshot is not blank, and printing gives A4 pages."""
    if "postgres" in db_url:
        pytest.skip("one browser run is enough")
    engine, aid, _ = assessment
    page = tmp_path / "record.html"
    page.write_text(render(S.load(engine, aid), "html"), encoding="utf-8")
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    for sid in SECTIONS:
        assert f'id="{sid}"' in dom, sid
    png = tmp_path / "record.png"
    subprocess.run(
        flags + ["--window-size=900,3000", f"--screenshot={png}", page.as_uri()], capture_output=True, timeout=120
    )
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a blank page compresses to a few KB
    pdf = tmp_path / "record.pdf"
    subprocess.run(
        flags + ["--no-pdf-header-footer", f"--print-to-pdf={pdf}", page.as_uri()], capture_output=True, timeout=120
    )
    raw = pdf.read_bytes()
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", raw)
    assert boxes and all(abs(float(w) - 595.92) < 2 and abs(float(h) - 842.88) < 2 for w, h in boxes), boxes[:3]
    assert len(boxes) >= 2
