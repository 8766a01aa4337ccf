"""Outcome statements (issue 13, item 2): each outcome keeps a short title for screens and, where
a source gives it, the standard's full statement word for word. Every shipped statement is checked
against its source document in ../shared/seeds/; statements travel from the bank file through the
release definition to the evidence dialog, where the assessor judges evidence."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from conftest import STANDARD, write_bank
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests_support import BANKS, REPO, settle, wait_until

from qbank import sessions as S
from qbank.bank_types import content_hash
from qbank.bankfiles import read_release, read_standard
from qbank.definition import ReleaseDefinition, for_release
from qbank.importer import import_bank
from qbank.models import ReleaseRow
from qbank.releases import make_release
from qbank.validation import Bank, load_bank, load_releases

# copies of the source documents (../shared/seeds/ beside the project), kept in the repository so
# that every clone, CI's included, checks the statements; test_the_copies_are_the_sources checks
# them against the originals wherever those are present
SEEDS = REPO / "tests" / "sources"
ORIGINALS = REPO.parent / "shared" / "seeds"

# the source document of each shipped standard's statements (a file name prefix in SEEDS); a
# standard not named here has no source giving its wording and must carry no statements
SOURCES = {"ST0480": "002_", "ILM-SI3": "001_", "UOB-HCSL": "003_"}

# statements the source splits over two table rows (joined with one space in the bank)
SPLIT = {("ST0480", "S4"), ("ST0480", "S11")}

# the UoB outline names its behaviours without codes: the codes are the bank's own
UOB_NAMES = {"TR": "Takes responsibility", "IN": "Inclusive", "AG": "Agile", "PR": "Professionalism"}

ST0480_CODES = [f"K{i}" for i in range(1, 15)] + [f"S{i}" for i in range(1, 22)] + [f"B{i}" for i in range(1, 12)]


def normalise(text: str) -> str:
    """What both sides go through: HTML tags removed, whitespace runs collapsed to one space."""
    return " ".join(re.sub(r"<[^>]*>", "", text).split())


def seed_raw(code: str) -> str:
    paths = sorted(SEEDS.glob(SOURCES[code] + "*.txt"))
    assert paths, f"no source document {SOURCES[code]}*.txt in {SEEDS}"
    return paths[0].read_text(encoding="utf-8")


@pytest.mark.skipif(not ORIGINALS.is_dir(), reason="the original source documents are not beside the project")
def test_the_copies_are_the_sources():
    originals = sorted(p.name for p in ORIGINALS.glob("*.txt"))
    assert originals and sorted(p.name for p in SEEDS.glob("*.txt")) == originals
    for name in originals:
        assert (SEEDS / name).read_bytes() == (ORIGINALS / name).read_bytes(), name


def seed(code: str) -> str:
    return normalise(seed_raw(code))


def cells(raw: str) -> list[str]:
    """The source's table cells (tab-separated on each line), each normalised, empty ones left out."""
    return [c for line in raw.splitlines() for c in (normalise(x) for x in line.split("\t")) if c]


def standard(code: str):
    problems: list = []
    std = read_standard(BANKS / code / "standard.toml", problems)
    assert std is not None and not [p.render() for p in problems if p.is_error]
    return std


def shipped_codes() -> list[str]:
    return sorted(p.parent.name for p in BANKS.glob("*/standard.toml"))


def labelled(code: str, outcome: str, statement: str) -> list[str]:
    """The statement as the source prints it next to its own label: a statement must be found where
    the source gives it for this outcome, not anywhere in the document."""
    if code == "ST0480":
        return [f"{outcome}: {statement}", f"{outcome} {statement}"]
    if code == "ILM-SI3":
        return [f"{outcome.split('/')[1]} {statement}"]
    if code == "UOB-HCSL":
        return [f"{UOB_NAMES[outcome]} {statement}"]
    raise AssertionError(f"{code}: no rule for how the source labels its statements")


def unit_text(text: str, outcome: str) -> str:
    """ILM: the part of the specification holding the unit's own criteria (both units number 1.1)."""
    unit = outcome.split("/")[0]
    assert text.count(f"({unit})") == 1, f"{unit}: the unit's title is not found once"
    start = text.index(f"({unit})")
    return text[start : text.index("(M3.55)")] if unit == "M3.54" else text[start:]


def found_split(table: list[str], outcome: str, statement: str) -> bool:
    """A statement split over two table rows: some word boundary leaves a first part that is a whole
    cell, labelled, and a rest that is a whole later cell."""
    words = statement.split(" ")
    for i in range(1, len(words)):
        head, tail = " ".join(words[:i]), " ".join(words[i:])
        for first in labelled("ST0480", outcome, head):
            if first in table and tail in table[table.index(first) + 1 :]:
                return True
    return False


# --------------------------------------------------------------------------- the shipped banks


@pytest.mark.parametrize("code", shipped_codes())
def test_every_statement_is_the_sources_words_where_the_source_gives_them(code):
    std = standard(code)
    given = {o.code: o.statement for o in std.outcomes.values() if o.statement}
    if code not in SOURCES:
        assert given == {}, f"{code}: statements with no source document named for them"
        return
    text = seed(code)
    assert given, f"{code} carries no statements"
    for outcome, statement in given.items():
        assert statement == normalise(statement), f"{code} {outcome}: tags or extra spaces in the statement"
        where = unit_text(text, outcome) if code == "ILM-SI3" else text
        if (code, outcome) in SPLIT:
            assert statement not in where, f"{code} {outcome}: found whole, but the source splits it over two rows"
            assert found_split(cells(seed_raw(code)), outcome, statement), f"{code} {outcome}: {statement!r}"
        else:
            assert any(s in where for s in labelled(code, outcome, statement)), f"{code} {outcome}: {statement!r}"


def test_every_senior_leader_ksb_has_its_statement():
    std = standard("ST0480")
    assert list(std.outcomes) == ST0480_CODES
    missing = [c for c in ST0480_CODES if not std.outcomes[c].statement]
    assert missing == []
    # the ones the issue names, and the code prefix is not part of a statement
    assert std.outcomes["B11"].statement == "Advocates the use of good practice within and outside the organisation."
    assert "global perspectives" in std.outcomes["K2"].statement
    assert "legal, H&S and well-being" in std.outcomes["K6"].statement
    assert "compassion" in std.outcomes["B1"].statement and "build reputation" in std.outcomes["S21"].statement
    assert all(not re.match(r"[KSB]\d+\b", o.statement) for o in std.outcomes.values())


def test_the_titles_no_longer_drop_what_the_issue_found_missing():
    o = standard("ST0480").outcomes
    assert "global perspectives" in o["K2"].title
    assert "legal" in o["K6"].title and "H&S" in o["K6"].title and "well-being" in o["K6"].title
    assert "compassion" in o["B1"].title and "reputation" in o["S21"].title


def test_every_ilm_criterion_has_the_units_own_words():
    o = standard("ILM-SI3").outcomes
    assert {c for c, x in o.items() if x.group == "criterion"} == set(o)
    assert len(o) == 7 and all(x.statement for x in o.values())
    assert o["M3.55/1.3"].statement == "Identify appropriate controls to monitor the effectiveness of the solution"
    assert o["M3.55/1.3"].title == o["M3.55/1.3"].statement  # short enough to be its own title


def test_every_uob_behaviour_has_the_outlines_words_and_the_codes_are_said_to_be_ours():
    std = standard("UOB-HCSL")
    assert set(std.outcomes) == set(UOB_NAMES) and all(o.statement for o in std.outcomes.values())
    assert "this bank's own" in std.notes and "TR, IN, AG and PR" in std.notes


# --------------------------------------------------------------------------- file -> release -> store


def _with_statement(statement: str) -> str:
    old = 'K1 = { group = "knowledge", title = "Knows strategy" }'
    assert old in STANDARD
    return STANDARD.replace(old, f'K1 = {{ group = "knowledge", title = "Knows strategy", statement = "{statement}" }}')


def test_a_statement_reads_from_the_file_and_round_trips_through_a_release(tmp_path, engine):
    words = "Knows how to shape organisational vision, culture and values."
    root = write_bank(tmp_path / "banks", standard=_with_statement(words))
    bank = load_bank(root)
    assert bank.errors == []
    k1 = bank.standards["TST01"].outcomes["K1"]
    assert (k1.title, k1.statement, k1.words) == ("Knows strategy", words, words)

    # the release manifest freezes it; the definition reads and writes it back unchanged
    make_release(bank, "TST01", "1.0.0")
    rel = load_releases(root).latest_release("TST01")
    assert rel is not None
    outcomes = {o["code"]: o for o in rel.definition["outcomes"]}
    assert outcomes["K1"] == {"code": "K1", "group": "knowledge", "title": "Knows strategy", "statement": words}
    assert "statement" not in outcomes["K2"]
    text = json.dumps(rel.definition, ensure_ascii=False, sort_keys=True)
    d = ReleaseDefinition.from_json(text)
    assert d.to_json() == text
    assert d.outcome_statements == {**d.outcome_titles, "K1": words}  # the title where none is given
    assert d.outcome_titles["K1"] == "Knows strategy"

    # and the store gives it back as imported
    import_bank(engine, load_releases(root))
    with Session(engine) as s:
        row = s.execute(select(ReleaseRow)).scalars().one()
        assert for_release(row).outcome_statements["K1"] == words


def test_an_outcome_without_a_statement_leaves_the_key_out_so_old_releases_keep_their_hashes(tmp_path):
    bank = load_bank(write_bank(tmp_path / "banks"))
    definition = bank.standards["TST01"].definition()
    assert all(set(o) == {"code", "group", "title"} for o in definition["outcomes"])
    # exactly what a release made before statements stored, byte for byte
    before = {**definition, "outcomes": [{k: o[k] for k in ("code", "group", "title")} for o in definition["outcomes"]]}
    assert content_hash(definition) == content_hash(before)
    d = ReleaseDefinition.from_dict(definition)
    assert all("statement" not in o for o in d.to_dict()["outcomes"])
    assert d.outcome_statements == d.outcome_titles  # the title stands in


def test_shipped_releases_made_before_statements_still_match_their_hashes():
    problems: list = []
    old = [read_release(p, problems) for p in sorted(BANKS.glob("*/releases/1.0.0.json"))]
    assert old and not [p.render() for p in problems if p.is_error]
    for rel in old:
        assert rel is not None
        d = ReleaseDefinition.from_dict(rel.definition)
        assert content_hash(d.to_dict()) == content_hash(rel.definition), rel.standard


# --------------------------------------------------------------------------- the evidence dialog


def _st0480_with_statements() -> Bank:
    """The frozen ST0480 1.2.0 release with the outcomes as the bank file words them now (no new
    release is made in the repository; that is the lead's)."""
    problems: list = []
    std = read_standard(BANKS / "ST0480" / "standard.toml", problems)
    rel = read_release(BANKS / "ST0480" / "releases" / "1.2.0.json", problems)
    assert std is not None and rel is not None and not [p.render() for p in problems if p.is_error]
    rel.definition = {**rel.definition, "outcomes": [o.as_dict() for o in std.outcomes.values()]}
    std = dataclasses.replace(std, folder=None)  # not the repository's manifest file
    return Bank(root=BANKS, standards={"ST0480": std}, releases={"ST0480": [rel]})


def _visible_text(widget) -> str:
    return normalise(" ".join(widget.render_line(y).text for y in range(widget.size.height)))


def _in_view(screen, selector: str) -> None:
    """Every widget matched is on screen and not hidden: its corners are where it is drawn."""
    for w in screen.query(selector):
        r = w.region
        assert r.width > 0 and r.height > 0 and r.right <= screen.app.size.width and r.bottom <= screen.app.size.height
        for x, y in ((r.x, r.y), (r.right - 1, r.bottom - 1)):
            at, _ = screen.get_widget_at(x, y)
            assert at is w or w in at.ancestors, f"{w!r} is hidden at ({x}, {y}) by {at!r}"


async def test_the_evidence_dialog_shows_each_targets_full_statement(engine):
    from qbank.tui.app import QBankApp
    from qbank.tui.dialogs import EvidenceDialog
    from qbank.tui.widgets import TickList

    import_bank(engine, _st0480_with_statements())
    statements = {c: o.statement for c, o in standard("ST0480").outcomes.items()}
    titles = {c: o.title for c, o in standard("ST0480").outcomes.items()}
    aid = S.start_assessment(
        engine,
        S.StartRequest(standard="ST0480", apprentice="WORDS-1", assessor="Pat", methods=("professional-discussion",)),
    )
    async with QBankApp(engine, assessor="Pat", timer=False, resume=aid).run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("f2")  # ask the highlighted question
        await settle(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(pilot.app.screen, EvidenceDialog), what="the evidence dialog")
        await settle(pilot)
        dialog = pilot.app.screen
        tl = dialog.query_one("#outcomes", TickList)
        targets = list(dialog.targets)
        assert targets and [t.value for t in tl.items] == targets
        # the full statement is what the assessor judges against, not the short title
        assert any(len(statements[o]) > len(titles[o]) + 20 for o in targets)
        for i, o in enumerate(targets):
            tl.highlighted = i  # scrolled into view
            await settle(pilot)
            assert f"{o} {statements[o]}" in _visible_text(tl), (o, _visible_text(tl))
        for selector in ("#outcomes", "#level-line", "#note", "Button"):  # the longer rows still fit 80x24
            _in_view(dialog, selector)
        # the other outcomes (Ctrl+O) are listed by their short titles
        await pilot.press("ctrl+o")
        await settle(pilot)
        others = [t for t in tl.items if t.value not in targets]
        assert others and all(t.label == f"{t.value} {titles[t.value]}" for t in others)
        assert [t.label for t in tl.items[: len(targets)]] == [f"{o} {statements[o]}" for o in targets]
