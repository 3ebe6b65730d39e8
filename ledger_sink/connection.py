"""The one PostgreSQL connection a ledger writer owns (the decision, labels and reviews
writers): autocommit, reopened after a failure, each batch in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


class OwnConnection:
    """Not thread-safe: one per writer, as the sink loop is one thread."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        self._conn: psycopg.Connection | None = None

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection]:
        """The connection inside a transaction; a lost connection is closed, never reused:
        the next attempt reconnects."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(self._dsn, connect_timeout=5, autocommit=True)
        try:
            with self._conn.transaction():
                yield self._conn
        except psycopg.OperationalError:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
