"""Shared fixtures: a small valid bank on disk, and stores on SQLite and (when enabled) PostgreSQL.

PostgreSQL tests run when QBANK_TEST_POSTGRES_URL is set (`.ci/run` sets it); each test gets
its own schema, dropped afterwards, so runs never see each other's rows.
"""

from __future__ import annotations

import os
import textwrap
import uuid
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from qbank.store import make_engine

PG_ENV = "QBANK_TEST_POSTGRES_URL"
REPO = Path(__file__).resolve().parent.parent


def pytest_report_header(config):
    if os.environ.get(PG_ENV):
        return f"PostgreSQL tests: on ({PG_ENV} is set)"
    return (
        f"PostgreSQL tests: SKIPPED — set {PG_ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/test "
        "to run them (CI does)"
    )


@pytest.fixture(autouse=True)
def _own_user_folders(tmp_path_factory, monkeypatch):
    """Each test gets its own settings folder and data folder (default store, records): no test
    reads or writes the user's (~/.config/qbank, ~/.local/share/qbank), and tests running at the
    same time (`make test` runs two workers) never see each other's settings. A test may set its own."""
    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("QBANK_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    schema = f"qbank_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base, create=False)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def engine(db_url, request):
    eng = make_engine(db_url)
    yield eng
    # every write qbank made in the test is in the audit log: the store verifies (a test that
    # tampers with the store on purpose says so with @pytest.mark.tampers)
    if request.node.get_closest_marker("tampers") is None and getattr(request.node, "rep_call_passed", False):
        from qbank.verify import verify

        report = verify(eng, pools=False)
        assert report.ok, "the store does not verify after the test:\n" + "\n".join(
            f"{f.check}: {f.record}: {f.problem}" for f in report.findings[:20]
        )
    eng.dispose()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    if rep.when == "call":
        item.rep_call_passed = rep.passed
    return rep


STANDARD = """\
code = "TST01"
title = "Test Standard"
level = 5
version = "1.0"

[outcomes]
K1 = { group = "knowledge", title = "Knows strategy" }
K2 = { group = "knowledge", title = "Knows finance" }
S1 = { group = "skill", title = "Leads change" }
B1 = { group = "behaviour", title = "Acts with integrity" }

[[method]]
id = "professional-discussion"
name = "Professional discussion"
kind = "professional discussion"
minutes = 60
min_questions = 4
assesses = ["K1", "K2", "S1", "B1"]

[[method]]
id = "presentation-questioning"
name = "Presentation with questioning"
kind = "presentation questioning"
minutes = 30
min_questions = 3
assesses = ["K1", "S1"]

[checks]
min_questions_per_outcome = 2

[grading]
"""

TEXTS = [
    "Talk me through the strategy you wrote for your service and how you tested its assumptions.",
    "How did you work out what the budget pressures on your department meant for the plan?",
    "Describe a change you led that met resistance, and what you did about it.",
    "Tell me about a time you had to hold to your values when it was costly to do so.",
    "Which financial measures did you use to judge whether the project was worth funding?",
    "What did you learn about leading people through uncertainty from your last project?",
    "Explain how you decided which stakeholders to involve first in the redesign.",
    "When did you last challenge a senior colleague on an ethical question, and how?",
]
OUTCOMES = [["K1", "S1"], ["K2"], ["S1", "B1"], ["B1"], ["K2", "K1"], ["S1"], ["K1", "B1"], ["B1", "K2"]]


def question_block(
    i: int,
    *,
    qid: str | None = None,
    version: int = 1,
    status: str = "approved",
    methods=("professional-discussion", "presentation-questioning"),
    outcomes=None,
    minutes: int = 6,
    text_: str | None = None,
    extra: str = "",
    reviewer: str | None = "Test Reviewer",
) -> str:
    qid = qid or f"TST-{i + 1:03d}"
    outcomes = outcomes if outcomes is not None else OUTCOMES[i % len(OUTCOMES)]
    text_ = text_ if text_ is not None else TEXTS[i % len(TEXTS)]
    ms = ", ".join(f'"{m}"' for m in methods)
    os_ = ", ".join(f'"{o}"' for o in outcomes)
    return (
        textwrap.dedent(f'''
        [[question]]
        id = "{qid}"
        version = {version}
        status = "{status}"
        methods = [{ms}]
        outcomes = [{os_}]
        minutes = {minutes}
        text = """
        {text_}
        """
        probes = ["What would you do differently?", "What evidence showed it worked?"]
        guidance = "A good answer gives a real example and evaluates it."
        ''')
        # reviewed by a second person today (the two-person rule of `qbank release`: a version
        # changed after a release needs a review dated since); None: not reviewed
        + (f'reviewer = "{reviewer}"\nreviewed = {date.today().isoformat()}\n' if reviewer else "")
        + extra
    )


def write_bank(root: Path, questions: str | None = None, standard: str = STANDARD) -> Path:
    """A valid two-method bank with eight approved questions under root/TST01."""
    folder = root / "TST01"
    (folder / "questions").mkdir(parents=True, exist_ok=True)
    (folder / "standard.toml").write_text(standard, encoding="utf-8")
    if questions is None:
        questions = "".join(question_block(i) for i in range(len(TEXTS)))
    (folder / "questions" / "general.toml").write_text(
        'standard = "TST01"\ntopic = "General"\nauthor = "Test Writer"\n' + questions, encoding="utf-8"
    )
    return root


@pytest.fixture
def bank_dir(tmp_path) -> Path:
    return write_bank(tmp_path / "banks")


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests (Textual's Pilot) in a fresh event loop; no plugin needed."""
    import asyncio
    import inspect

    if inspect.iscoroutinefunction(pyfuncitem.obj):
        args = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(pyfuncitem.obj(**args))
        return True
    return None
