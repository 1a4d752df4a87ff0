"""Pooled PostgreSQL connections: pinged before use only after being idle, and a connection the
server closed meanwhile is replaced without the caller noticing."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import exc, text

from plugin import db
from plugin.db import Database


def backend_pid(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())


def terminate(url: str, pid: int) -> None:
    """Close one server connection from outside, as a restart or an idle timeout would."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.postgres
def test_a_connection_closed_while_idle_is_replaced_before_use(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a pooled connection the server closed while it sat idle in the pool
    database = Database(postgres_url, pool_size=1, max_overflow=0)
    try:
        first = backend_pid(database)
        terminate(postgres_url, first)
        monkeypatch.setattr(db, "PING_AFTER_SECONDS", 0.0)  # it has been idle long enough
        # when the next transaction starts
        second = backend_pid(database)
        # then it ran on a new connection, and no error reached the caller
        assert second != first
    finally:
        database.dispose()


@pytest.mark.postgres
def test_a_connection_used_just_now_is_not_pinged_and_a_dead_one_fails_once(
    postgres_url: str,
) -> None:
    # given a pooled connection used a moment ago, which the server then closed
    database = Database(postgres_url, pool_size=1, max_overflow=0)
    try:
        first = backend_pid(database)
        terminate(postgres_url, first)
        # when the next transaction starts at once, it is not pinged: its statement fails
        with pytest.raises(exc.OperationalError):
            backend_pid(database)
        # then the pool has dropped it, and the one after runs on a new connection
        assert backend_pid(database) not in (first, None)
    finally:
        database.dispose()
