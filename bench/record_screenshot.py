"""The assessor's record in a real browser, and what grading and rendering cost.

Run: .venv/bin/python bench/record_screenshot.py [--out docs]
  1. imports the shipped banks into a temporary SQLite store;
  2. scripts a CMI ST0556 first attempt (a method failed) and its resit (capped, then overridden),
     with notes, an ad-hoc question, a swap, feedback and an outcome never evidenced;
  3. writes the resit's record as HTML and Markdown, opens the HTML in headless Chromium with the
     network cut off, saves a screenshot (PNG) and prints it to PDF (A4 page count);
  4. times the grading engine and the record rendering (medians), as ratios to a baseline in the
     same process (rendering a trivial jinja2 template).
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jinja2 import Template

from qbank import sessions as S
from qbank.grading import grade_method, grade_overall
from qbank.importer import import_bank
from qbank.record import render
from qbank.store import make_engine
from qbank.validation import load_bank

REPO = Path(__file__).resolve().parent.parent


def top(c):
    return max(c.descriptors, key=["pass", "merit", "distinction"].index)


# the scripted methods log evidence per criterion without timing the session or logging each question,
# so every one ends short (end_method then needs the assessor's reason, kept in the record)
SHORT_FIRST = "example session: questions not logged one by one, evidence recorded per criterion"
SHORT_RESIT = "example session: the resit questioning covered the outcomes still to evidence; timer not run"


def scripted(engine) -> int:
    a1 = S.start_assessment(
        engine,
        S.StartRequest(
            standard="ST0556", apprentice="EPA-2026-0147", assessor="Priya Shah", cohort="Midlands NHS 2025"
        ),
    )
    pq, pd = S.load(engine, a1).methods
    assert pq.scheme is not None and pd.scheme is not None  # ST0556 grades both methods
    for c in pq.scheme.criteria:
        S.log_evidence(engine, pq.id, top(c), criterion=c.id)
    S.end_method(engine, pq.id, reason=SHORT_FIRST)
    S.confirm_grade(engine, pq.id)
    for c in pd.scheme.criteria:
        S.log_evidence(engine, pd.id, "not met" if c.id == "PD3" else "pass", criterion=c.id)
    S.end_method(engine, pd.id, reason=SHORT_FIRST)
    S.confirm_grade(engine, pd.id)
    S.complete(engine, a1)

    a2 = S.start_assessment(
        engine,
        S.StartRequest(
            standard="ST0556",
            apprentice="EPA-2026-0147",
            assessor="Tom Reid",
            attempt="resit",
            cohort="Midlands NHS 2025",
            extra_time_pct=25,
            adjustments="Dyslexia: 25% extra time; each question also shown in writing on screen share.",
        ),
    )
    _, pd = S.load(engine, a2).methods
    assert pd.scheme is not None
    qs = pd.questions
    notes = [
        "Walked through Hoshin Kanri deployment at two sites; X-matrix in portfolio p.14.",
        "NPV of the theatre scheduling project: \u00a3412k over 3 years; explained discount rate choice.",
        "Gauge R&R on the weighing process; found 18% of variation from the measurement system.",
    ]
    for q, n in zip(qs[:3], notes):
        assert q.code is not None  # a drawn question
        ask = S.ask(engine, pd.id, q.code)
        S.set_notes(engine, ask, n)
    for q in qs[3:]:
        assert q.code is not None  # a drawn question
        try:
            S.swap_question(engine, pd.id, q.code, "apprentice's portfolio shows no project in this area")
            break
        except S.SessionError:
            continue
    adhoc = S.add_adhoc(engine, pd.id, "You mentioned a Monte Carlo model: what did it change in the decision?", ["K9"])
    S.set_notes(engine, adhoc, "Used it to size buffer stock; compared with the deterministic plan.")
    for c in pd.scheme.criteria:
        if c.id == "PD5":
            continue  # B4 (learning) never came up: flagged in the record
        S.log_evidence(
            engine,
            pd.id,
            top(c),
            criterion=c.id,
            note=f"answers met the {top(c)} descriptor",
            ask_id=adhoc if c.id == "PD3" else None,
        )
        S.set_mark(
            engine,
            pd.id,
            c.id,
            strengths="specific, quantified examples",
            improvements="link the analysis back to the strategy",
        )
    S.log_evidence(engine, pd.id, "pass", criterion="PD5", outcomes=["K4"], note="brief mention of CPD log only")
    S.end_method(engine, pd.id, reason=SHORT_RESIT)
    S.confirm_grade(engine, pd.id)
    S.record_override(
        engine,
        a2,
        "CMI EPA Operations (J. Okafor)",
        "first attempt disrupted by a documented bereavement: exceptional circumstances",
    )
    S.complete(engine, a2)
    return a2


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "docs"), help="folder for record-example.html/.md/.png")
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        import_bank(engine, load_bank(REPO / "banks", health=False))
        aid = scripted(engine)
        view = S.load(engine, aid)
        html = render(view, "html")
        (out / "record-example.html").write_text(html, encoding="utf-8")
        (out / "record-example.md").write_text(render(view, "md"), encoding="utf-8")
        external = re.findall(r"https?://|<script|<link|<img|@import|url\(", html, re.I)
        print(f"record: {len(html):,} bytes of HTML, external references: {len(external)}")

        # timings: grading engine and rendering, against a trivial template render in the same process
        scheme = view.rules.methods["professional-discussion"]
        levels = {c.id: "distinction" for c in scheme.criteria}
        overall = view.rules.overalls[0]
        trivial = Template("<p>{{ x }}</p>", autoescape=True)
        base = median_ms(lambda: trivial.render(x="baseline"), args.repeat)
        g = median_ms(lambda: grade_method(scheme, levels), args.repeat)
        o = median_ms(
            lambda: grade_overall(
                overall, {"presentation-questioning": "Distinction", "professional-discussion": "Merit"}, "resit"
            ),
            args.repeat,
        )
        load_ms = median_ms(lambda: S.load(engine, aid), max(10, args.repeat // 10))
        r_html = median_ms(lambda: render(view, "html"), max(10, args.repeat // 10))
        r_md = median_ms(lambda: render(view, "md"), max(10, args.repeat // 10))
        print(f"baseline trivial template render: {base * 1000:.1f} us (median of {args.repeat})")
        print(f"grade_method (6 criteria): {g * 1000:.1f} us = {g / base:.1f}x baseline")
        print(f"grade_overall with resit cap: {o * 1000:.1f} us = {o / base:.1f}x baseline")
        print(f"load assessment view from SQLite: {load_ms:.1f} ms")
        print(f"render record HTML: {r_html:.1f} ms = {r_html / base:.0f}x baseline; Markdown: {r_md:.1f} ms")

        chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
        if not chromium:
            print("chromium not installed (apt-get install chromium): no screenshot")
            return
        page = (out / "record-example.html").resolve().as_uri()
        flags = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--user-data-dir={tmp}/profile",
        ]
        subprocess.run(
            flags + ["--window-size=900,4200", f"--screenshot={out / 'record-example.png'}", page],
            capture_output=True,
            timeout=120,
        )
        pdf = Path(tmp) / "record.pdf"
        subprocess.run(
            flags + ["--no-pdf-header-footer", f"--print-to-pdf={pdf}", page], capture_output=True, timeout=120
        )
        boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes())
        sizes = {(round(float(w)), round(float(h))) for w, h in boxes}
        print(
            f"screenshot: {out / 'record-example.png'}; printed: {len(boxes)} page(s), sizes {sizes} pt (A4 = 596x843)"
        )


if __name__ == "__main__":
    main()
