"""Opening the store: SQLite in the user's data directory by default, PostgreSQL by URL.

`QBANK_DATABASE_URL` selects the database (e.g. postgresql+psycopg://user@host/db). Without it,
qbank uses `<data dir>/qbank/qbank.db`, created on first use, in WAL mode with foreign keys on.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session
from sqlmodel import SQLModel

from . import audit, models  # noqa: F401  (registers the tables)
from .problems import BankError

ENV_URL = "QBANK_DATABASE_URL"

audit.install()  # every write to the record appends to the audit log, in its own transaction


def user_data_dir() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or os.environ.get("APPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "qbank"


def default_url() -> str:
    return f"sqlite:///{user_data_dir() / 'qbank.db'}"


def database_url() -> str:
    return os.environ.get(ENV_URL) or default_url()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str | None = None, *, create: bool = True, **kwargs) -> Engine:
    """An engine for `url` (default: $QBANK_DATABASE_URL or the user's SQLite file), schema created
    or upgraded to the current revision (qbank.migrations) unless `create` is False."""
    url = url or database_url()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise BankError(f"{ENV_URL} is not a database URL: {url!r} (e.g. postgresql+psycopg://user@host/db)") from None
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    try:
        engine = create_engine(parsed, **kwargs)
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        raise BankError(
            f"no database driver for {parsed.drivername}: {e}. "
            "For PostgreSQL install the extra: pip install 'qbank[postgres]'"
        ) from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if create:
        from .migrations import ensure_current

        try:  # at the current schema revision: one query; otherwise create, adopt or upgrade it
            ensure_current(engine, describe(engine))
        except OperationalError as e:
            raise BankError(f"cannot open the store at {describe(engine)}: {e.orig}") from None
    return engine


def describe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def table_counts(engine: Engine) -> dict[str, int]:
    from sqlalchemy import func, select

    out = {}
    with Session(engine) as s:
        for table in SQLModel.metadata.sorted_tables:
            if inspect(engine).has_table(table.name):
                out[table.name] = s.execute(select(func.count()).select_from(table)).scalar_one()
    return out
