"""Alembic's environment for qbank's store. qbank runs it itself (qbank.migrations.bring_to_head),
passing the connection, already in a transaction, in `config.attributes["connection"]`.

For writing a new revision, a developer may also point the alembic command at this folder with a
throwaway ini (script_location = qbank/migrations, sqlalchemy.url = a store at head) and run
`alembic revision --autogenerate -m "..."`; review what it writes: qbank's scripts are explicit,
use batch mode for every table change (SQLite) and name every constraint.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from qbank import models  # noqa: F401  (registers the tables)


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=SQLModel.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER on SQLite = recreate the table
        compare_type=True,
    )
    with context.begin_transaction():  # a no-op inside qbank's own transaction
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("qbank's migrations inspect the store as they run: offline (--sql) mode is not supported")

_conn = context.config.attributes.get("connection")
if _conn is not None:
    run(_conn)
else:  # the alembic command line, for developers
    from qbank.store import database_url

    _url = context.config.get_main_option("sqlalchemy.url") or database_url()
    _engine = create_engine(_url)
    with _engine.connect() as c:
        run(c)
    _engine.dispose()
