"""Honesty that travels (issue 13, item 9): a standard's notes and its need for clearance are frozen
into each release; a release that rests on assumptions is NOT CLEARED for live assessment until a
named person clears it (CLI, store, app banner, record); approved questions without an author warn."""

from __future__ import annotations

import json

import pytest
from conftest import STANDARD, question_block, write_bank
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests_support import settle, wait_until

from qbank import clearance
from qbank import sessions as S
from qbank.bank_types import content_hash
from qbank.cli import main
from qbank.definition import ReleaseDefinition
from qbank.importer import import_bank
from qbank.models import ReleaseClearanceRow
from qbank.record import render
from qbank.releases import build_release, make_release, manifest_text
from qbank.validation import load_bank

REASON = "the KSB-to-method mapping is assumed: the plan's annex was not found"
NOTES = "VERIFIED: two methods.\nASSUMPTION: the mapping of KSBs to methods."
CLEARED_STANDARD = STANDARD.replace(
    'version = "1.0"\n',
    f'version = "1.0"\nclearance = "required"\nclearance_reason = "{REASON}"\nnotes = """\n{NOTES}\n"""\n',
    1,
)
PD = "professional-discussion"


def released(root, standard: str = CLEARED_STANDARD, questions: str | None = None):
    """A TST01 bank written under root, released as 1.0.0 and loaded back (with its manifest)."""
    write_bank(root, questions=questions, standard=standard)
    make_release(load_bank(root), "TST01", "1.0.0")
    return load_bank(root)


@pytest.fixture
def store(engine, tmp_path):
    import_bank(engine, released(tmp_path / "banks"))
    return engine


# --------------------------------------------------------------------------- frozen in the release


def test_a_release_freezes_the_standards_notes_and_clearance(tmp_path):
    bank = load_bank(write_bank(tmp_path / "banks", standard=CLEARED_STANDARD))
    assert not bank.errors, [p.render() for p in bank.errors]
    rel = build_release(bank, "TST01", "1.0.0", created="2026-01-01T00:00:00Z")
    assert rel.definition["notes"] == NOTES
    assert rel.definition["clearance"] == "required" and rel.definition["clearance_reason"] == REASON
    manifest = json.loads(manifest_text(rel))
    assert manifest["definition"]["notes"] == NOTES
    assert manifest["definition_hash"] == content_hash(rel.definition)

    d = ReleaseDefinition.from_dict(rel.definition)
    assert (d.standard_notes, d.clearance, d.clearance_reason) == (NOTES, "required", REASON)
    assert d.notes == ""  # still the grading rules' notes (none here), not the standard's
    assert d.to_dict() == json.loads(json.dumps(rel.definition))


def test_a_standard_without_notes_or_clearance_keeps_the_definition_it_always_had(tmp_path):
    """Releases made before notes and clearance were frozen keep their definition hashes: the keys
    are added only when given."""
    bank = load_bank(write_bank(tmp_path / "banks"))
    definition = build_release(bank, "TST01", "1.0.0").definition
    assert set(definition) == {
        "code",
        "title",
        "level",
        "version",
        "source",
        "outcomes",
        "methods",
        "checks",
        "grading",
    }
    d = ReleaseDefinition.from_dict(definition)
    assert (d.standard_notes, d.clearance, d.clearance_reason) == ("", "", "")


def test_definitions_round_trip_exactly_with_and_without_the_new_keys():
    base = {
        "code": "X1",
        "title": "T",
        "level": 3,
        "version": "1",
        "outcomes": [{"code": "K1", "group": "knowledge", "title": "Knows"}],
        "methods": [
            {"id": "pd", "name": "PD", "kind": "interview", "minutes": 30, "min_questions": 2, "assesses": ["K1"]}
        ],
    }
    for extra in (
        {},
        {"notes": "Verified é", "clearance": "required", "clearance_reason": "assumed"},
        {"clearance": "not required"},
        {"notes": ""},  # never written by qbank; kept exactly as read all the same
    ):
        text = json.dumps({**base, **extra}, ensure_ascii=False, sort_keys=True)
        d = ReleaseDefinition.from_json(text)
        assert d.to_json() == text, extra
        assert ReleaseDefinition.from_json(d.to_json()) == d
    d = ReleaseDefinition.from_json(json.dumps({**base, "notes": "N", "clearance": "required"}))
    assert d.standard_notes == "N" and d.clearance == "required"


@pytest.mark.parametrize(
    "lines,needle",
    [
        ('clearance = "maybe"\n', "'clearance' = 'maybe' is not one of required, not required"),
        ('clearance = "required"\n', 'clearance = "required" needs a clearance_reason'),
    ],
)
def test_a_bad_clearance_in_the_standard_file_is_an_error_naming_the_field(tmp_path, lines, needle):
    standard = STANDARD.replace('version = "1.0"\n', 'version = "1.0"\n' + lines, 1)
    bank = load_bank(write_bank(tmp_path / "banks", standard=standard))
    found = [p for p in bank.errors if p.field == "clearance"]
    assert found and needle in found[0].message and found[0].file.endswith("standard.toml")


def test_the_shipped_standards_declare_their_clearance():
    from tests_support import BANKS

    from qbank.bankfiles import read_standard

    declared = {}
    for code in ("ST0480", "ST0556", "ILM-SI3", "UOB-HCSL"):
        problems: list = []
        std = read_standard(BANKS / code / "standard.toml", problems)
        assert std is not None and not [p for p in problems if p.field in ("clearance", "clearance_reason")]
        declared[code] = std.clearance
        if std.clearance == "required":
            assert std.clearance_reason and std.definition()["clearance_reason"] == std.clearance_reason
    assert declared == {
        "ST0480": "required",
        "ST0556": "required",
        "ILM-SI3": "not required",
        "UOB-HCSL": "not required",
    }


# --------------------------------------------------------------------------- clearing in the store


def test_not_cleared_then_cleared_then_withdrawn(store):
    c = clearance.status(store, "TST01", "1.0.0")
    assert c.required and c.not_cleared and c.latest is None
    assert c.text == f"NOT CLEARED for live assessment: {REASON}"
    assert c.banner == f"NOT CLEARED FOR LIVE ASSESSMENT — TST01 1.0.0: {REASON}"

    c = clearance.clear(store, "TST01", "1.0.0", "  Jane   Smith ", "mapping checked against Annex B")
    assert c.cleared and not c.banner
    assert c.text.startswith("cleared by Jane Smith on ") and c.text.endswith("(mapping checked against Annex B)")
    assert clearance.status(store, "TST01") == c  # the newest release by default

    with pytest.raises(clearance.ClearanceError, match="already cleared by Jane Smith"):
        clearance.clear(store, "TST01", "1.0.0", "Someone Else")
    with pytest.raises(clearance.ClearanceError, match="needs a note"):
        clearance.withdraw(store, "TST01", "1.0.0", "Jane Smith", "  ")

    c = clearance.withdraw(store, "TST01", "1.0.0", "Ola Quality", "Annex B obtained: the mapping differs")
    assert c.not_cleared and c.latest is not None and c.latest.action == "withdraw"
    assert c.text.startswith(f"NOT CLEARED for live assessment: {REASON} (clearance withdrawn by Ola Quality on ")
    assert c.banner == f"NOT CLEARED FOR LIVE ASSESSMENT — TST01 1.0.0: {REASON}"
    with pytest.raises(clearance.ClearanceError, match="nothing to withdraw"):
        clearance.withdraw(store, "TST01", "1.0.0", "Ola Quality", "again")

    c = clearance.clear(store, "TST01", "1.0.0", "Jane Smith")
    assert c.cleared and c.text.startswith("cleared by Jane Smith on ") and "(" not in c.text
    with Session(store) as s:  # append-only: every action is kept
        rows = s.execute(select(ReleaseClearanceRow).order_by(ReleaseClearanceRow.id)).scalars().all()
    assert [(r.action, r.cleared_by) for r in rows] == [
        ("clear", "Jane Smith"),
        ("withdraw", "Ola Quality"),
        ("clear", "Jane Smith"),
    ]
    assert [x.state for x in clearance.listing(store)] == ["cleared"]


def test_clearing_needs_a_name_and_a_release_that_needs_it(engine, tmp_path):
    import_bank(engine, released(tmp_path / "a"))
    with pytest.raises(clearance.ClearanceError, match="full name"):
        clearance.clear(engine, "TST01", "1.0.0", "   ")
    with pytest.raises(clearance.ClearanceError, match="has no release 9.9.9"):
        clearance.clear(engine, "TST01", "9.9.9", "Jane Smith")
    with pytest.raises(clearance.ClearanceError, match="no standard NOPE"):
        clearance.clear(engine, "NOPE", "1.0.0", "Jane Smith")
    with Session(engine) as s:
        assert s.execute(select(func.count()).select_from(ReleaseClearanceRow)).scalar() == 0

    other = tmp_path / "b"
    write_bank(other, standard=STANDARD.replace('code = "TST01"', 'code = "TST02"'))
    (other / "TST01" / "questions" / "general.toml").write_text(
        'standard = "TST02"\nauthor = "W"\n' + "".join(question_block(i, qid=f"T2-{i}") for i in range(8))
    )
    make_release(load_bank(other), "TST02", "1.0.0")
    import_bank(engine, load_bank(other))
    c = clearance.status(engine, "TST02")
    assert not c.required and not c.banner and c.text == "no clearance declared in this release"
    with pytest.raises(clearance.ClearanceError, match="cannot be cleared: its definition declares no clearance"):
        clearance.clear(engine, "TST02", "1.0.0", "Jane Smith")
    assert [(x.standard, x.state) for x in clearance.listing(engine)] == [
        ("TST01", "not cleared"),
        ("TST02", "not declared"),
    ]


# --------------------------------------------------------------------------- the CLI


def test_cli_clear_withdraw_list_and_warn_on_a_draw(store, db_url, monkeypatch, capsys):
    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)

    with pytest.raises(SystemExit) as e:
        main(["clear", "TST01", "1.0.0"])
    assert e.value.code == 2 and "the following arguments are required: --by" in capsys.readouterr().err
    assert main(["clear", "TST01", "1.0.0", "--by", " "]) == 1
    assert "needs the full name of the person" in capsys.readouterr().err

    assert main(["clearance"]) == 0
    assert capsys.readouterr().out.strip() == f"TST01 1.0.0  NOT CLEARED for live assessment: {REASON}"
    assert main(["draw", "--standard", "TST01", "--method", PD, "--apprentice", "CLI-1"]) == 0
    out = capsys.readouterr()
    assert "draw 1:" in out.out and f"warning: NOT CLEARED FOR LIVE ASSESSMENT — TST01 1.0.0: {REASON}" in out.err

    assert main(["clear", "TST01", "1.0.0", "--by", "Jane Smith", "--note", "checked"]) == 0
    assert capsys.readouterr().out.startswith("TST01 1.0.0: cleared by Jane Smith on ")
    assert main(["draw", "--standard", "TST01", "--method", PD, "--apprentice", "CLI-2"]) == 0
    assert "NOT CLEARED" not in capsys.readouterr().err

    assert main(["clear", "TST01", "1.0.0", "--withdraw", "--by", "Jane Smith"]) == 1
    assert "needs a note" in capsys.readouterr().err
    assert main(["clear", "TST01", "1.0.0", "--withdraw", "--by", "Jane Smith", "--note", "wrong annex"]) == 0
    assert main(["clearance", "TST01", "--format", "json"]) == 0
    listed = json.loads(capsys.readouterr().out.split("\n", 1)[1])  # after the withdraw command's line
    assert listed[0]["state"] == "not cleared" and listed[0]["latest"]["action"] == "withdraw"
    assert main(["clearance", "NOPE"]) == 1 and "no standard NOPE" in capsys.readouterr().err


# --------------------------------------------------------------------------- the record


def test_the_record_says_how_the_release_stood_when_the_assessment_started(store):
    aid = S.start_assessment(store, S.StartRequest(standard="TST01", apprentice="R-1", assessor="Pat", methods=(PD,)))
    md = render(S.load(store, aid), "md")
    assert (
        f"**Release clearance:** TST01 1.0.0, when this assessment started: NOT CLEARED for live assessment: {REASON}"
        in md
    )
    assert "Since then" not in md
    html = render(S.load(store, aid), "html")
    assert 'class="flag" id="clearance"' in html and "NOT CLEARED for live assessment" in html

    clearance.clear(store, "TST01", "1.0.0", "Jane Smith")
    v = S.load(store, aid)
    assert v.clearance is not None and v.clearance.cleared  # the screens: as it stands now
    assert v.clearance_at_start is not None and v.clearance_at_start.not_cleared  # the record: as it stood
    md = render(v, "md")
    assert "when this assessment started: NOT CLEARED" in md and "Since then: cleared by Jane Smith on " in md

    later = S.start_assessment(store, S.StartRequest(standard="TST01", apprentice="R-2", assessor="Pat", methods=(PD,)))
    md = render(S.load(store, later), "md")
    assert "when this assessment started: cleared by Jane Smith on " in md and "NOT CLEARED" not in md
    html = render(S.load(store, later), "html")
    assert 'class="muted" id="clearance"' in html


# --------------------------------------------------------------------------- the app


def _banner(app) -> str | None:
    """The banner's text when it is shown on the current screen, else None."""
    found = app.screen.query("#clearance-banner")
    if not found or not found.first().display:
        return None
    return found.first().full


async def test_the_app_shows_the_banner_until_the_release_is_cleared(store):
    from qbank.tui.app import QBankApp
    from qbank.tui.method import MethodScreen
    from qbank.tui.screens import OverallScreen, PreviewScreen, StartScreen

    banner = f"NOT CLEARED FOR LIVE ASSESSMENT — TST01 1.0.0: {REASON}"
    aid = S.start_assessment(store, S.StartRequest(standard="TST01", apprentice="T-1", assessor="Pat", methods=(PD,)))

    app = QBankApp(store, assessor="Pat", timer=False, resume=aid)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MethodScreen) and app.screen.view is not None)
        await settle(pilot)
        assert _banner(app) == banner
        await app.push_screen(OverallScreen(aid))
        await settle(pilot)
        assert _banner(app) == banner
        await app.push_screen(PreviewScreen(aid))
        await settle(pilot)
        assert _banner(app) == banner

    app = QBankApp(store, assessor="Pat", timer=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await wait_until(pilot, lambda: isinstance(app.screen, StartScreen) and _banner(app) is not None)
        assert _banner(app) == banner

    clearance.clear(store, "TST01", "1.0.0", "Jane Smith")

    app = QBankApp(store, assessor="Pat", timer=False, resume=aid)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, MethodScreen) and app.screen.view is not None)
        await settle(pilot)
        assert _banner(app) is None
        assert app.screen.query_one("#clearance-banner").display is False
    app = QBankApp(store, assessor="Pat", timer=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await wait_until(
            pilot, lambda: isinstance(app.screen, StartScreen) and app.screen.query_one("#methods").option_count
        )
        await settle(pilot)
        assert _banner(app) is None


# --------------------------------------------------------------------------- authors


def test_validate_warns_once_per_file_for_approved_questions_without_an_author(tmp_path, capsys):
    root = tmp_path / "banks"
    write_bank(root)
    qfile = root / "TST01" / "questions" / "general.toml"
    qfile.write_text(
        qfile.read_text().replace('author = "Test Writer"\n', "")
        + question_block(8, qid="TST-DRAFT", status="draft")  # a draft without an author is not warned about
        + question_block(
            9, qid="TST-NAMED", text_="Who did you ask first, and why them?", extra='author = "A. Writer"\n'
        )
    )
    bank = load_bank(root)
    assert not bank.errors, [p.render() for p in bank.errors]
    found = [p for p in bank.problems if p.check == "author"]
    assert len(found) == 1
    w = found[0]
    assert w.kind == "warning" and w.field == "author" and w.file.endswith("general.toml")
    assert w.message.startswith(
        "no author on 8 approved question(s) (TST-001, TST-002, TST-003, TST-004, TST-005 and 3 more)"
    )
    assert "the writer who wrote or last changed each question should be named" in w.message
    assert "TST-DRAFT" not in w.message and "TST-NAMED" not in w.message

    assert main(["validate", str(root)]) == 0  # a warning never fails validation
    out = capsys.readouterr().out
    assert out.count("no author on") == 1 and "0 error(s), 1 warning(s)" in out

    qfile.write_text('author = "Test Writer"\n' + qfile.read_text())
    assert not [p for p in load_bank(root).problems if p.check == "author"]


async def test_a_long_reason_takes_two_lines_at_80x24_and_the_tooltip_keeps_it_whole():
    """ST0480's reason is a paragraph: at 80x24 it took six of the 24 rows. The banner now keeps to
    two, cut with an ellipsis; the whole text is its tooltip (and `qbank clearance`, the record)."""
    from textual.app import App

    from qbank.tui.widgets import ClearanceBanner

    long = "NOT CLEARED FOR LIVE ASSESSMENT — ST0480 1.3.0: " + " ".join(["the mapping is an assumption"] * 20)

    class One(App):
        CSS_PATH = None

        def compose(self):
            yield ClearanceBanner()

    app = One()
    async with app.run_test(size=(80, 24)) as pilot:
        b = app.query_one(ClearanceBanner)
        b.styles.max_height = 2  # as qbank.tcss sets it
        b.show(long)
        await pilot.pause()
        assert b.display and b.full == long and b.tooltip == long
        assert str(b.content).endswith("…") and len(str(b.content)) < len(long)
        assert b.size.height <= 2
        short = "NOT CLEARED FOR LIVE ASSESSMENT — TST01 1.0.0: " + REASON
        b.show(short)
        await pilot.pause()
        assert str(b.content) == short
