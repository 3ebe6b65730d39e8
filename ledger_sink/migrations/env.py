"""Alembic's entry point: runs the versions on the connection ledger_sink.migrate opens.

There is no alembic.ini: ledger_sink.migrate builds the Config in code, opens the connection
(holding the migration lock) and hands it over in ``config.attributes["connection"]``.
Offline mode (``sentinel db sql``) renders the same migrations as a PostgreSQL script.
"""

from __future__ import annotations

from alembic import context


def _run() -> None:
    if context.is_offline_mode():
        # paramstyle "named": the pyformat default would double every % in the script.
        context.configure(
            dialect_name="postgresql",
            dialect_opts={"paramstyle": "named"},
            literal_binds=True,
            transactional_ddl=True,
        )
    else:
        connection = context.config.attributes.get("connection")
        if connection is None:
            raise RuntimeError("run migrations with `sentinel db migrate` (ledger_sink.migrate)")
        context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


_run()
