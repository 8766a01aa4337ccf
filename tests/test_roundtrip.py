"""Round trip (issue 16): `qbank export` then `qbank convert` gives back, for every question of the
newest release of each shipped bank, the same text, probes, guidance, outcomes, methods, minutes
and topic, in every format.

Each case exports a release with the CLI, converts the file into an empty copy of the standard
(its standard.toml only, so no id clashes) with the CLI, and reads the drafts back with the bank's
own reader. The Moodle and QTI cases are skipped, saying why, while qbank/moodle.py or qbank/qti.py
is not there yet.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest
from tests_support import BANKS

from qbank.bankfiles import read_question_file
from qbank.cli import main
from qbank.validation import load_releases

STANDARDS = ("ST0556", "ST0480", "ILM-SI3", "UOB-HCSL")
FORMATS = ("csv", "xlsx", "moodle", "qti")
SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "moodle": ".xml", "qti": ".zip"}
_RELEASES = load_releases(BANKS)


def _needs(fmt: str) -> None:
    if fmt not in ("moodle", "qti"):
        return
    try:
        importlib.import_module(f"qbank.{fmt}")
    except ModuleNotFoundError as e:
        if e.name != f"qbank.{fmt}":
            raise
        pytest.skip(f"qbank/{fmt}.py is not there yet (its reader and writer land separately): re-run once it does")


def _empty_copy(code: str, tmp: Path) -> Path:
    """A bank folder holding only `code`'s standard.toml: nothing to clash with."""
    folder = tmp / "bank" / code
    folder.mkdir(parents=True)
    shutil.copy(BANKS / code / "standard.toml", folder / "standard.toml")
    return tmp / "bank"


def _drafts(bank: Path, code: str) -> dict:
    files = sorted((bank / code / "questions").glob("*.toml"))
    assert len(files) == 1, files
    problems: list = []
    std, questions = read_question_file(files[0], problems)
    assert std == code and not [p for p in problems if p.is_error], [p.render() for p in problems]
    return {q.id: q for q in questions}


def _assert_same(released, got: dict, *, ordered: bool = True) -> None:
    assert sorted(got) == sorted(i.question.id for i in released.items)
    for item in released.items:
        want, q = item.question, got[item.question.id]
        assert q.status == "draft" and q.version == 1
        assert q.text == want.text, want.id
        assert q.probes == want.probes, want.id
        assert q.guidance == want.guidance, want.id
        assert q.minutes == want.minutes, want.id
        assert q.topic == want.topic, want.id
        if ordered:
            assert q.outcomes == want.outcomes and q.methods == want.methods, want.id
        else:
            assert sorted(q.outcomes) == sorted(want.outcomes) and sorted(q.methods) == sorted(want.methods), want.id


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", STANDARDS)
def test_export_then_convert_gives_back_every_shipped_question(code, fmt, tmp_path, capsys):
    _needs(fmt)
    released = _RELEASES.releases[code][-1]
    out = tmp_path / f"{code}{SUFFIX[fmt]}"
    assert main(["export", code, "--path", str(BANKS), "--format", fmt, "-o", str(out)]) == 0, capsys.readouterr()
    bank = _empty_copy(code, tmp_path)
    assert main(["convert", str(out), "--standard", code, "--path", str(bank)]) == 0, capsys.readouterr()
    text = capsys.readouterr().out
    assert f"made {len(released.items)} draft questions" in text and "skipped" not in text
    _assert_same(released, _drafts(bank, code))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_from_the_store_then_convert(fmt, engine, db_url, monkeypatch, tmp_path, capsys):
    """The same from the store (what `qbank import` loaded), for every shipped standard: the store
    keeps a version's outcomes and methods as links, so their order is the standard's."""
    from tests_support import shipped_bank

    from qbank.importer import import_bank

    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    import_bank(engine, shipped_bank())
    for code in STANDARDS:
        out = tmp_path / f"{code}{SUFFIX[fmt]}"
        assert main(["export", code, "--format", fmt, "-o", str(out)]) == 0
        assert "in the store" in capsys.readouterr().out
        bank = _empty_copy(code, tmp_path / code)
        assert main(["convert", str(out), "--standard", code, "--path", str(bank)]) == 0
        _assert_same(_RELEASES.releases[code][-1], _drafts(bank, code), ordered=False)
