"""Bringing a database to a schema revision, and telling which revision it is at (alembic).

Alembic is configured in code (no alembic.ini): its scripts are the package resource
``ledger_sink/migrations``. A DSN is any libpq connection string; psycopg parses it, as
everywhere else in the project, and SQLAlchemy's ``postgresql+psycopg`` dialect drives it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.pool import NullPool

from ledger_sink.errors import MigrationError

SCRIPT_LOCATION = "ledger_sink:migrations"
# Any fixed 64-bit key works, as long as every migrator uses the same: "SENTINEL" in ASCII.
MIGRATION_LOCK_KEY = 0x53454E54494E454C
# A migration that waits longer than this for a table lock fails instead of queueing every
# query of the running services behind its ACCESS EXCLUSIVE request.
LOCK_TIMEOUT = "15s"


@dataclass(frozen=True, slots=True)
class Upgrade:
    """Where an upgrade started and ended (None: a database without the schema)."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(
    connection: sa.Connection | None = None, output: io.StringIO | None = None
) -> Config:
    """The alembic Config, handing `connection` to env.py and offline SQL to `output`."""
    config = Config(output_buffer=output, attributes={"connection": connection})
    config.set_main_option("script_location", SCRIPT_LOCATION)
    # Percent signs doubled: alembic reads options through configparser interpolation.
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    return config


def _engine(dsn: str) -> sa.Engine:
    # NullPool: one short-lived connection per command, nothing worth keeping open.
    return sa.create_engine(
        "postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=NullPool
    )


@contextmanager
def _connection(dsn: str, *, transaction: bool) -> Iterator[sa.Connection]:
    """A connection to `dsn`, inside one transaction if asked; errors become MigrationError."""
    engine = _engine(dsn)
    try:
        with engine.begin() if transaction else engine.connect() as connection:
            yield connection
    except (sa.exc.SQLAlchemyError, psycopg.Error, CommandError) as exc:
        # The driver's own message, without SQLAlchemy's wrapping; a DSN never appears in it.
        raise MigrationError(str(getattr(exc, "orig", None) or exc).strip()) from exc
    finally:
        engine.dispose()


def _revision(connection: sa.Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(dsn: str, revision: str = "head") -> Upgrade:
    """Bring the database at `dsn` to `revision`, in one transaction: all of it or nothing.

    Idempotent, and safe to run from several processes at once: a transaction-scoped advisory
    lock makes later migrators wait, then find the work done.
    """
    with _connection(dsn, transaction=True) as connection:
        connection.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(%(key)s)", {"key": MIGRATION_LOCK_KEY}
        )
        connection.exec_driver_sql(
            "SELECT set_config('lock_timeout', %(timeout)s, true)", {"timeout": LOCK_TIMEOUT}
        )
        before = _revision(connection)
        command.upgrade(alembic_config(connection), revision)
        return Upgrade(before, _revision(connection))


def current(dsn: str) -> str | None:
    """The revision the database at `dsn` is at; None when no migration has run there."""
    with _connection(dsn, transaction=False) as connection:
        return _revision(connection)


def head() -> str | None:
    """The newest revision this code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def history() -> list[str]:
    """Every revision this code knows, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def sql_script(revision: str = "head") -> str:
    """The PostgreSQL script that takes an empty database to `revision` (for review)."""
    output = io.StringIO()
    try:
        command.upgrade(alembic_config(output=output), revision, sql=True)
    except CommandError as exc:
        raise MigrationError(str(exc)) from exc
    # Alembic ends every op.execute with its own ";" after the migration's last one.
    return re.sub(r";[ \t]*;$", ";", output.getvalue(), flags=re.MULTILINE)


def new_revision(message: str, now: datetime | None = None) -> Path:
    """Write an empty migration after the head, its revision id the UTC time; its path."""
    moment = now or datetime.now(UTC)
    try:
        script = command.revision(
            alembic_config(), message=message, rev_id=moment.strftime("%Y%m%d_%H%M")
        )
    except CommandError as exc:
        raise MigrationError(str(exc)) from exc
    if script is None or isinstance(script, list):
        raise MigrationError("alembic wrote no single revision")
    return Path(script.path)
