"""Schema migrations (Alembic), run by `qbank.store.make_engine` on first use of a newer qbank.

The scripts live in `versions/`; Alembic is configured here in code (no alembic.ini). Opening a
store at the current revision costs one query of `alembic_version` and never imports Alembic;
everything else (a new store, one made before migrations, one behind) takes the slow path,
`bring_to_head`, under a lock so concurrent openers wait for one upgrade:

- no `alembic_version` and none of our tables: a brand-new store, created from the models and
  stamped at head;
- our tables but no `alembic_version`: made by a qbank from before migrations, i.e. the baseline
  schema (revision 0001, which also creates any baseline table such an old store lacks), then
  upgraded;
- a known revision behind head: upgraded, with one line on stderr;
- an unknown revision: written by a newer qbank, refused with a BankError.

On SQLite the upgrade runs on its own connection with foreign keys OFF (Alembic's batch mode
recreates tables, and a DROP TABLE with foreign keys on would cascade or fail), inside one
BEGIN IMMEDIATE transaction, and `PRAGMA foreign_key_check` must find no new violation before
COMMIT.
On PostgreSQL the DDL is transactional and a transaction-scoped advisory lock serialises openers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import event, inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ..problems import BankError

HERE = Path(__file__).resolve().parent

REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
"""Every revision, oldest first. HEAD is checked against the scripts by tests/test_migrations.py, so
the fast path can compare without loading Alembic."""
HEAD = REVISIONS[-1]
BASELINE = "0001"

_PG_LOCK_KEY = 0x71_62_61_6E_6B  # "qbank": pg_advisory_xact_lock key for schema changes


class NewerStoreError(BankError):
    """The store is at a revision this qbank does not know: a newer qbank wrote it."""


def current_revisions(conn: Connection) -> list[str] | None:
    """The store's revision(s) from alembic_version, or None if that table does not exist."""
    try:
        return [r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
    except DBAPIError:
        return None


def check_revision(revs: list[str]) -> None:
    unknown = [r for r in revs if r not in REVISIONS]
    if unknown or len(revs) > 1:
        raise NewerStoreError(
            f"this store was written by a newer qbank (revision {', '.join(unknown or revs)}); upgrade qbank"
        )


def ensure_current(engine: Engine, where: str) -> None:
    """Bring the store to HEAD. Fast when it is there already: one query, no Alembic."""
    with engine.connect() as conn:  # a connection failure propagates: the caller names the store
        revs = current_revisions(conn)
    if revs == [HEAD]:
        return
    if revs:
        check_revision(revs)  # before taking any lock: a newer store is refused untouched
    bring_to_head(engine, where)


# --------------------------------------------------------------------------- the slow path


def alembic_config(connection: Connection | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


_SCRIPT: list = []


def script_directory():
    """The revision scripts (parsed once per process)."""
    if not _SCRIPT:
        from alembic.script import ScriptDirectory

        _SCRIPT.append(ScriptDirectory.from_config(alembic_config()))
    return _SCRIPT[0]


def _our_tables(conn: Connection) -> set[str]:
    from sqlmodel import SQLModel

    from .. import models  # noqa: F401  (registers the tables)

    return set(inspect(conn).get_table_names()) & set(SQLModel.metadata.tables)


def bring_to_head(engine: Engine, where: str) -> None:
    """Create, adopt or upgrade the store so that it is at HEAD (see the module docstring), all in
    one transaction: if any step fails, the store is left exactly as it was."""
    try:
        _bring_to_head(engine, where)
    except DBAPIError as e:
        if e.connection_invalidated or _is_connect_error(e):
            raise
        raise BankError(
            f"could not bring the store at {where} to revision {HEAD}: {e.orig}; it was left as it was"
        ) from None


def _is_connect_error(e: DBAPIError) -> bool:
    return e.statement is None  # raised while connecting, not by a statement


def _bring_to_head(engine: Engine, where: str) -> None:
    if engine.dialect.name == "sqlite" and not _sqlite_file(engine):
        with engine.begin() as conn:  # in memory: nobody else can see it, and it must be this connection
            _migrate(conn, where)
        return
    if engine.dialect.name == "sqlite":
        mig = _sqlite_migration_engine(engine)
        try:
            with mig.begin() as conn:  # BEGIN IMMEDIATE: the write lock for the whole upgrade
                before = _fk_violations(conn)
                _migrate(conn, where)
                broken = {k: n for k, n in _fk_violations(conn).items() if n > before.get(k, 0)}
                if broken:
                    raise BankError(
                        f"upgrading the store at {where} would break foreign keys "
                        f"({', '.join(f'{t} -> {p}: {n}' for (t, p), n in sorted(broken.items()))}); "
                        "it was left as it was"
                    )
        finally:
            mig.dispose()
    else:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
            _migrate(conn, where)
    engine.dispose()  # pooled connections opened before the change start afresh


def _migrate(conn: Connection, where: str) -> None:
    """Inside the caller's transaction (and lock): decide again, then act."""
    from alembic.runtime.migration import MigrationContext

    revs = current_revisions(conn) if inspect(conn).has_table("alembic_version") else None
    if revs == [HEAD]:
        return  # another process got here first
    if revs:
        check_revision(revs)
        start = revs[0]
    elif revs is None and not _our_tables(conn):
        from sqlmodel import SQLModel

        SQLModel.metadata.create_all(conn)
        MigrationContext.configure(conn).stamp(script_directory(), HEAD)
        return
    else:  # our tables, no (or an empty) alembic_version: the baseline schema of a qbank before migrations
        start = BASELINE
    if start != HEAD:
        print(f"upgrading the store at {where} from revision {start} to {HEAD}", file=sys.stderr)
    from alembic import command

    # from no revision, 0001 runs first: it creates only the baseline tables such a store lacks (none,
    # unless it predates some of them), so for a complete baseline store it amounts to stamping 0001
    command.upgrade(alembic_config(conn), "head")


def _fk_violations(conn: Connection) -> dict[tuple[str, str], int]:
    """SQLite: rows whose foreign key has no parent, counted by (table, parent table). Only new
    ones stop an upgrade: a store that already had some (foreign keys are on in qbank, but another
    tool may have written to it) can still be upgraded."""
    out: dict[tuple[str, str], int] = {}
    for table, _rowid, parent, _fk in conn.exec_driver_sql("PRAGMA foreign_key_check"):
        out[(table, parent)] = out.get((table, parent), 0) + 1
    return out


def _sqlite_file(engine: Engine) -> bool:
    db = engine.url.database
    return bool(db) and db != ":memory:" and "mode=memory" not in str(engine.url)


def _sqlite_migration_engine(engine: Engine) -> Engine:
    """A one-connection engine for the upgrade: real transactions around DDL (pysqlite's own
    transaction handling is switched off), foreign keys off, the write lock taken at BEGIN."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    mig = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(mig, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # autocommit at the driver level: we say BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction: set before BEGIN
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(mig, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return mig
