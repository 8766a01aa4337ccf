"""Schema migrations (qbank/migrations): a store made before migrations keeps every record through
the upgrade; the migrations' head matches the models; the baseline is what create_all made; a store
from a newer qbank is refused; a store at head opens without Alembic. SQLite, and PostgreSQL when
enabled."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
from conftest import PG_ENV, REPO
from sqlalchemy import MetaData, create_engine, inspect, select, text
from sqlmodel import SQLModel

from qbank import migrations
from qbank import sessions as S
from qbank.importer import import_bank
from qbank.problems import BankError
from qbank.record import render
from qbank.releases import make_release
from qbank.store import make_engine
from qbank.validation import load_bank

BASELINE_SNAPSHOT = Path(__file__).resolve().parent / "migrations_baseline_schema.json"


# --------------------------------------------------------------------------- helpers


def plain_engine(url: str):
    """An engine with none of qbank's set-up (no schema check, SQLite foreign keys off)."""
    return create_engine(url)


def alembic_upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    eng = plain_engine(url)
    with eng.begin() as conn:
        command.upgrade(migrations.alembic_config(conn), revision)
    eng.dispose()


def alembic_downgrade(url: str, revision: str) -> None:
    from alembic import command

    eng = plain_engine(url)
    with eng.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), revision)
    eng.dispose()


def revision_of(url: str) -> list[str]:
    eng = plain_engine(url)
    with eng.connect() as c:
        revs = [r[0] for r in c.execute(text("SELECT version_num FROM alembic_version"))]
    eng.dispose()
    return revs


def schema_snapshot(url: str) -> dict:
    """Everything about the schema that matters, reflected (and on SQLite the DDL itself)."""
    eng = plain_engine(url)
    out: dict = {}
    with eng.connect() as c:
        ins = inspect(c)
        for t in sorted(ins.get_table_names()):
            if t == "alembic_version":
                continue
            out[t] = {
                "columns": [
                    [col["name"], col["type"].compile(dialect=c.dialect), col["nullable"], col.get("default")]
                    for col in ins.get_columns(t)
                ],
                "pk": [ins.get_pk_constraint(t).get("name"), ins.get_pk_constraint(t)["constrained_columns"]],
                "fks": sorted(
                    [fk.get("name"), fk["constrained_columns"], fk["referred_table"], fk["referred_columns"]]
                    for fk in ins.get_foreign_keys(t)
                ),
                "indexes": sorted([i["name"], i["column_names"], bool(i["unique"])] for i in ins.get_indexes(t)),
                "uniques": sorted([u["name"], u["column_names"]] for u in ins.get_unique_constraints(t)),
            }
        if c.dialect.name == "sqlite":
            out["(ddl)"] = sorted(
                re.sub(r"\s+", " ", r[0])
                for r in c.execute(
                    text("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'alembic_version'")
                )
            )
    eng.dispose()
    return json.loads(json.dumps(out))  # tuples to lists, as in the snapshot file


def _compare_default(ctx, inspected_col, metadata_col, inspected, metadata_default, rendered_metadata):
    """Alembic's SQLite comparison reports DEFAULT '' as differing from server_default="" even on a
    table create_all made from the models themselves (SQLite reflects it as "('')" and Alembic's
    normaliser needs one character between the quotes). Treat defaults that are equal once parens
    and quotes are stripped as equal; everything else falls through to Alembic's own comparison."""
    if ctx.dialect.name != "sqlite" or inspected is None or rendered_metadata is None:
        return None

    def norm(v: str) -> str:
        v = re.sub(r"^\((.*)\)$", r"\1", v.strip())
        return re.sub(r"^\"?'(.*)'\"?$", r"\1", v)

    return False if norm(inspected) == norm(rendered_metadata) else None


def schema_differences(url: str) -> list:
    """compare_metadata between the store at `url` and the models: types and server defaults too."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    eng = plain_engine(url)
    with eng.connect() as c:
        mc = MigrationContext.configure(c, opts={"compare_type": True, "compare_server_default": _compare_default})
        diffs = compare_metadata(mc, SQLModel.metadata)
    eng.dispose()
    return diffs


@pytest.fixture
def other_url(db_url, tmp_path):
    """A second, empty store on the same kind of database as db_url."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'other.db'}"
        return
    base = os.environ[PG_ENV]
    schema = f"qbank_test_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base, create=False)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def fill(engine, bank_dir) -> int:
    """Real records through the real workflow: the test bank released and imported, an assessment
    started (both methods drawn), questions asked with notes, an ad-hoc question, a swap, evidence
    for every outcome, each method ended and its grade confirmed, the assessment completed; and a
    second assessment left open mid-way. Returns the completed assessment's id."""
    import itertools

    import qbank.draws

    seeds = itertools.count(1)  # fixed draw seeds, so whether a swap is possible never varies
    real = qbank.draws.secrets.token_hex

    def token_hex(nbytes: int | None = 16) -> str:
        assert nbytes is not None
        return f"{next(seeds):0{2 * nbytes}x}"

    qbank.draws.secrets.token_hex = token_hex
    try:
        make_release(load_bank(bank_dir), "TST01", "1.0.0")
        import_bank(engine, load_bank(bank_dir))
        aid = S.start_assessment(
            engine,
            S.StartRequest(
                standard="TST01",
                apprentice="APP-1",
                assessor="A. Assessor",
                cohort="2025-A",
                extra_time_pct=25,
                adjustments="breaks",
            ),
        )
        pd, pq = S.load(engine, aid).methods
        for q in pd.questions:
            assert q.code is not None  # a drawn question
            try:
                S.swap_question(engine, pd.id, q.code, "covered in the portfolio")
                break
            except S.SessionError:
                continue
        pd = S.load(engine, aid).methods[0]
        for q in pd.questions:  # every active question: no warning to answer on ending
            assert q.code is not None  # a drawn question
            a = S.ask(engine, pd.id, q.code)
            S.set_notes(engine, a, f"answered {q.code} with a worked example")
        adhoc = S.add_adhoc(engine, pd.id, "What would you change next time?", ["S1"])
        for o in pd.method.assesses:
            S.log_evidence(
                engine, pd.id, "evidenced", outcomes=[o], note=f"{o} shown", ask_id=adhoc if o == "S1" else None
            )
        S.set_elapsed(engine, pd.id, pd.budget_minutes * 60)
        S.end_method(engine, pd.id)
        S.confirm_grade(engine, pd.id, "Pass")
        for q in pq.questions:
            assert q.code is not None  # a drawn question
            a = S.ask(engine, pq.id, q.code)
            S.set_notes(engine, a, "clear presentation")
        for o in pq.method.assesses:
            S.log_evidence(engine, pq.id, "evidenced", outcomes=[o])
        S.set_elapsed(engine, pq.id, pq.budget_minutes * 60)
        S.end_method(engine, pq.id)
        S.confirm_grade(engine, pq.id, "Pass")
        S.complete(engine, aid)
        open_id = S.start_assessment(
            engine,
            S.StartRequest(
                standard="TST01", apprentice="APP-2", assessor="B. Assessor", methods=("presentation-questioning",)
            ),
        )
        (m,) = S.load(engine, open_id).methods
        assert m.questions[0].code is not None  # a drawn question
        S.ask(engine, m.id, m.questions[0].code)
        S.log_evidence(engine, m.id, "evidenced", outcomes=["K1"], note="partly")
        return aid
    finally:
        qbank.draws.secrets.token_hex = real


def copy_rows(src_url: str, dst_url: str) -> None:
    """Every row of every table of the (baseline) store at dst_url, copied from the store at src_url,
    keeping ids; on PostgreSQL the id sequences are moved on past them, as they would be."""
    src, dst = plain_engine(src_url), plain_engine(dst_url)
    md = MetaData()
    md.reflect(dst)
    with src.connect() as s, dst.begin() as d:
        for t in md.sorted_tables:
            if t.name == "alembic_version":
                continue
            source = SQLModel.metadata.tables[t.name]
            rows = (
                s.execute(
                    select(*[source.c[c.name] for c in t.columns]).order_by(*[source.c[c.name] for c in t.primary_key])
                )
                .mappings()
                .all()
            )
            if rows:
                d.execute(t.insert(), [dict(r) for r in rows])
            if d.dialect.name == "postgresql" and "id" in t.c and rows:
                d.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{t.name}', 'id'), (SELECT max(id) FROM {t.name}))")
                )
    src.dispose()
    dst.dispose()


def rows_of(url: str, tables: dict[str, list[str]]) -> dict[str, list[tuple]]:
    """The given columns of every row of the given tables, in primary-key order, as text (or None)."""
    eng = plain_engine(url)
    md = MetaData()
    md.reflect(eng)
    out = {}
    with eng.connect() as c:
        for name, cols in tables.items():
            t = md.tables[name]
            out[name] = [
                tuple(None if v is None else str(v) for v in r)
                for r in c.execute(select(*[t.c[x] for x in cols]).order_by(*t.primary_key.columns))
            ]
    eng.dispose()
    return out


def record_md(view) -> str:
    """The assessment record as Markdown, less the line saying when it was generated."""
    return "\n".join(ln for ln in render(view, "md").splitlines() if " by qbank " not in ln)


def baseline_store(url: str) -> None:
    """A store as a qbank from before migrations left it: the baseline schema, no alembic_version."""
    alembic_upgrade(url, migrations.BASELINE)
    eng = plain_engine(url)
    with eng.begin() as c:
        c.execute(text("DROP TABLE alembic_version"))
    eng.dispose()


# --------------------------------------------------------------------------- the revisions themselves


def test_head_constant_matches_the_scripts():
    """store.py compares against migrations.HEAD without loading Alembic: it must be the scripts' head,
    and REVISIONS their one linear history."""
    script = migrations.script_directory()
    assert script.get_heads() == [migrations.HEAD]
    chain = [s.revision for s in script.walk_revisions("base", "heads")][::-1]
    assert tuple(chain) == migrations.REVISIONS
    assert chain[0] == migrations.BASELINE


def test_baseline_is_what_create_all_made(db_url):
    """Revision 0001 reproduces the schema create_all made from qbank/models.py before migrations
    (snapshot taken from that create_all on both databases: names of indexes and constraints,
    types, nullability, defaults; on SQLite the CREATE statements themselves)."""
    alembic_upgrade(db_url, migrations.BASELINE)
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    expected = json.loads(BASELINE_SNAPSHOT.read_text())[dialect]
    assert schema_snapshot(db_url) == expected


def test_migrations_head_matches_the_models(db_url):
    """A store built from empty by the migrations alone has exactly the models' schema. Fails when
    models.py changes without a new revision: write one (see qbank/migrations)."""
    alembic_upgrade(db_url)
    assert revision_of(db_url) == [migrations.HEAD]
    assert schema_differences(db_url) == []


def test_a_new_store_is_created_from_the_models_and_stamped(db_url):
    eng = make_engine(db_url)
    eng.dispose()
    assert revision_of(db_url) == [migrations.HEAD]
    assert schema_differences(db_url) == []


def test_downgrade_to_the_baseline_and_up_again(db_url):
    alembic_upgrade(db_url)
    alembic_downgrade(db_url, migrations.BASELINE)
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    expected = json.loads(BASELINE_SNAPSHOT.read_text())[dialect]
    got = schema_snapshot(db_url)
    if dialect == "sqlite":  # tables recreated by batch mode are written out differently; same structure
        got.pop("(ddl)"), expected.pop("(ddl)")
    assert got == expected
    alembic_upgrade(db_url)
    assert schema_differences(db_url) == []


# --------------------------------------------------------------------------- upgrading a real store


def test_a_store_from_before_migrations_keeps_every_record(db_url, other_url, bank_dir, capsys):
    """Records made by the real workflow, in a store with the baseline schema and no alembic_version
    (what every qbank before migrations left): opening it upgrades it to head, says so once, and
    every row of every table is as it was, the new columns at their defaults."""
    src = make_engine(other_url)
    aid = fill(src, bank_dir)
    record_before = record_md(S.load(src, aid))
    src.dispose()

    baseline_store(db_url)
    copy_rows(other_url, db_url)
    base = plain_engine(db_url)
    baseline_columns = {t: [c["name"] for c in inspect(base).get_columns(t)] for t in inspect(base).get_table_names()}
    base.dispose()
    before = rows_of(db_url, baseline_columns)
    assert before["assessment"] and before["evidence"] and before["draw_swap"] and before["ask"]
    capsys.readouterr()

    eng = make_engine(db_url)
    err = capsys.readouterr().err
    assert err.count("upgrading the store") == 1
    assert f"from revision {migrations.BASELINE} to {migrations.HEAD}" in err
    assert revision_of(db_url) == [migrations.HEAD]
    assert rows_of(db_url, baseline_columns) == before
    assert schema_differences(db_url) == []
    # every column added since the baseline holds its default in every old row
    new_columns = {
        t: [c.name for c in SQLModel.metadata.tables[t].columns if c.name not in cols]
        for t, cols in baseline_columns.items()
    }
    # except what 0003 works out from the rows: the threshold each release's pairs were found with
    backfilled = {("release", "near_duplicate_threshold")}
    assert {v for (v,) in rows_of(db_url, {"release": ["near_duplicate_threshold"]})["release"]} == {"90.0"}
    for t, cols in new_columns.items():
        table = SQLModel.metadata.tables[t]
        for col in (c for c in cols if (t, c) not in backfilled):
            c = table.c[col]
            want = None if c.server_default is None else str(c.server_default.arg)
            got = {v for (v,) in rows_of(db_url, {t: [col]})[t]}
            assert got <= {want}, (t, col, got)
    # the app reads the upgraded store as it read the original, and goes on working in it
    assert record_md(S.load(eng, aid)) == record_before
    with pytest.raises(BankError, match="already asked of this apprentice"):  # APP-1's history came through
        S.start_assessment(
            eng,
            S.StartRequest(
                standard="TST01", apprentice="APP-1", assessor="C. Assessor", methods=("presentation-questioning",)
            ),
        )
    later = S.start_assessment(eng, S.StartRequest(standard="TST01", apprentice="APP-3", assessor="C. Assessor"))
    assert S.load(eng, later).status == "open" and later > aid
    eng.dispose()

    capsys.readouterr()
    make_engine(db_url).dispose()  # at head now: silent
    assert "upgrading" not in capsys.readouterr().err


def test_a_failed_upgrade_leaves_the_store_as_it_was(db_url, other_url, bank_dir, capsys):
    """0002 fails part-way (an index already has the name it needs), after draw_item was rebuilt:
    the whole upgrade is one transaction, so the store is exactly as before, and the error is clear."""
    src = make_engine(other_url)
    fill(src, bank_dir)
    src.dispose()
    baseline_store(db_url)
    copy_rows(other_url, db_url)
    eng = plain_engine(db_url)
    with eng.begin() as c:
        c.execute(text("CREATE INDEX ix_draw_swap_undone_at ON draw (id)"))
    eng.dispose()
    before_rows = rows_of(db_url, {"draw_item": ["id", "apprentice_id", "question_id"], "draw_swap": ["id"]})
    before_schema = schema_snapshot(db_url)
    with pytest.raises(BankError, match=r"could not bring the store at .* to revision .*it was left as it was"):
        make_engine(db_url)
    assert "Traceback" not in capsys.readouterr().err
    assert schema_snapshot(db_url) == before_schema
    assert rows_of(db_url, {"draw_item": ["id", "apprentice_id", "question_id"], "draw_swap": ["id"]}) == before_rows
    assert not inspect(plain_engine(db_url)).has_table("alembic_version")


def test_foreign_keys_hold_after_the_upgrade(db_url, other_url, bank_dir):
    """draw_item is rebuilt on SQLite (copy, drop, rename) with foreign keys off: draw_swap still
    points at it, every reference resolves, and the store's connections have foreign keys on again."""
    src = make_engine(other_url)
    fill(src, bank_dir)
    src.dispose()
    baseline_store(db_url)
    copy_rows(other_url, db_url)
    eng = make_engine(db_url)
    fks = {
        (fk["referred_table"], tuple(fk["constrained_columns"])) for fk in inspect(eng).get_foreign_keys("draw_swap")
    }
    assert {("draw_item", ("out_item_id",)), ("draw_item", ("in_item_id",))} <= fks
    if eng.dialect.name == "sqlite":
        with eng.connect() as c:
            assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert c.execute(text("PRAGMA foreign_key_check")).fetchall() == []
            assert c.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    eng.dispose()


def test_a_store_that_predates_some_baseline_tables_gets_them(db_url, capsys):
    """create_all only ever added tables, so an old store may lack later ones (here: everything from
    assessments on); adopting it as the baseline creates them before upgrading."""
    baseline_store(db_url)
    eng = plain_engine(db_url)
    with eng.begin() as c:
        for t in ("evidence", "criterion_mark", "ask", "assessment_method", "assessment"):
            c.execute(text(f"DROP TABLE {t}"))
    eng.dispose()
    make_engine(db_url).dispose()
    assert "from revision 0001" in capsys.readouterr().err
    assert revision_of(db_url) == [migrations.HEAD]
    assert schema_differences(db_url) == []


def test_a_dangling_reference_from_before_does_not_block_the_upgrade(tmp_path):
    """SQLite: only foreign-key violations the upgrade itself would make stop it; one already in the
    store (written with foreign keys off by another tool) does not."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    baseline_store(url)
    eng = plain_engine(url)  # foreign keys off
    with eng.begin() as c:
        c.execute(text("INSERT INTO question (id, code, standard_id) VALUES (1, 'ORPHAN-1', 42)"))
    eng.dispose()
    make_engine(url).dispose()
    assert revision_of(url) == [migrations.HEAD]


def test_an_in_memory_store_is_created_at_head():
    eng = make_engine("sqlite://")
    with eng.connect() as c:
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == migrations.HEAD
        assert c.execute(text("SELECT count(*) FROM draw_item")).scalar() == 0
    eng.dispose()


def test_a_store_behind_head_is_upgraded_once_by_concurrent_openers(db_url, capsys):
    """Four engines open the same baseline store at once: one upgrades (under the store's write lock
    on SQLite, an advisory lock on PostgreSQL), the others wait and find it at head."""
    baseline_store(db_url)
    errors, barrier = [], threading.Barrier(4)

    def opener():
        barrier.wait()
        try:
            make_engine(db_url).dispose()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert capsys.readouterr().err.count("upgrading the store") == 1
    assert revision_of(db_url) == [migrations.HEAD]


# --------------------------------------------------------------------------- a newer store; the fast path


def test_a_store_from_a_newer_qbank_is_refused_clearly(db_url, monkeypatch, capsys):
    make_engine(db_url).dispose()
    eng = plain_engine(db_url)
    with eng.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    eng.dispose()
    with pytest.raises(BankError, match=r"this store was written by a newer qbank \(revision 0999\); upgrade qbank"):
        make_engine(db_url)
    assert revision_of(db_url) == ["0999"]  # untouched

    from qbank.cli import main

    monkeypatch.setenv("QBANK_DATABASE_URL", db_url)
    assert main(["list", "--limit", "1"]) == 1
    err = capsys.readouterr().err
    assert "newer qbank (revision 0999); upgrade qbank" in err and "Traceback" not in err


def test_opening_a_store_at_head_does_not_load_alembic(db_url):
    make_engine(db_url).dispose()
    code = (
        "import sys; from qbank.store import make_engine; make_engine(sys.argv[1]).dispose(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))"
    )
    out = subprocess.run([sys.executable, "-c", code, db_url], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
