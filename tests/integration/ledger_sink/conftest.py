"""Throwaway PostgreSQL databases for schema tests: empty, or migrated to head.

Each database is created by the superuser (``SENTINEL_POSTGRES_ADMIN_DSN``), owned by the
application role, and dropped afterwards, so tests never touch the shared ``sentinel``
database and never see each other's rows. Copy ``migrated_db`` into another suite's conftest
to test against the real schema.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ledger_sink.migrate import upgrade
from schemas.connections import PostgresConnection
from tests.integration.ledger_sink.support import migrated_database


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A new, empty database owned by the application role; yields its DSN as that role."""
    postgres = PostgresConnection()
    app_dsn = postgres.dsn.get_secret_value()
    admin_dsn = postgres.admin_dsn.get_secret_value()
    name = f"test_{uuid.uuid4().hex}"
    owner = str(conninfo_to_dict(app_dsn)["user"])
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    try:
        yield make_conninfo(app_dsn, dbname=name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def new_database() -> Callable[[], AbstractContextManager[str]]:
    """`with new_database() as dsn:` for a test that needs more than one database."""
    return throwaway_database


@pytest.fixture
def empty_db() -> Iterator[str]:
    """The DSN of a fresh database with nothing in it, for this test alone."""
    with throwaway_database() as dsn:
        yield dsn


@pytest.fixture(scope="module")
def migrated_db() -> Iterator[str]:
    """The DSN (application role) of a fresh database migrated to head, for this module."""
    with throwaway_database() as dsn:
        upgrade(dsn)
        yield dsn


@pytest.fixture
def ledger_db() -> Iterator[str]:
    """A migrated database of this test's own (function scope): its row counts are exact."""
    with migrated_database() as dsn:
        yield dsn


@pytest.fixture
def db(migrated_db: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the migrated database as the application role."""
    with psycopg.connect(migrated_db, autocommit=True) as conn:
        yield conn


@pytest.fixture
def superuser_db(migrated_db: str) -> Iterator[psycopg.Connection]:
    """The same database as the superuser, for what the application role may not do."""
    admin_dsn = PostgresConnection().admin_dsn.get_secret_value()
    dbname = str(conninfo_to_dict(migrated_db)["dbname"])
    with psycopg.connect(make_conninfo(admin_dsn, dbname=dbname), autocommit=True) as conn:
        yield conn
