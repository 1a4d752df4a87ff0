"""The declarative base, column types shared by all models, the engine and sessions."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, current_app, g
from sqlalchemy import (
    ColumnElement,
    DateTime,
    ForeignKey,
    MetaData,
    Select,
    String,
    any_,
    bindparam,
    create_engine,
    event,
    exc,
    func,
    literal,
    make_url,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes on every engine (SQLite drops the zone; this puts it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC one is required")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime()}


class StoreScoped:
    """Mixin for rows that belong to one shop: every query over them is scoped by store_id."""

    @declared_attr
    def store_id(cls) -> Mapped[int]:
        #: The shop this row belongs to; deleting the shop deletes the row.
        return mapped_column(ForeignKey("stores.id", ondelete="CASCADE"), index=True)


class Timestamps:
    #: When the row was written first.
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: When the row was last changed.
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


ModelT = TypeVar("ModelT", bound=Base)


def for_store(model: type[ModelT], store_id: int) -> Select[tuple[ModelT]]:
    """A select over one shop's rows of a store-scoped model; the only way to list them."""
    if not hasattr(model, "store_id"):
        raise TypeError(f"{model.__name__} is not store-scoped")
    return select(model).where(model.store_id == store_id)  # type: ignore[attr-defined]


def get_for_store(
    session: Session, model: type[ModelT], store_id: int, row_id: int
) -> ModelT | None:
    """One row by id, or None when it does not exist or belongs to another shop."""
    return session.scalars(for_store(model, store_id).where(model.id == row_id)).first()  # type: ignore[attr-defined]


class Database:
    """The engine and a session factory for one database URL."""

    def __init__(self, url: str, **engine_options: Any) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, **engine_options)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


#: How long an SQLite statement waits for another writer before giving up (the request then
#: answers 503 with Retry-After): well inside the 5 s Shopify gives a webhook to answer.
BUSY_TIMEOUT_MS = 2500


def make_engine(url: str, **options: Any) -> Engine:
    if url.startswith("sqlite"):
        _create_private_file(make_url(url).database)
        options.setdefault(
            "connect_args", {"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if "poolclass" not in options:
        options.setdefault("pool_size", 5)
        options.setdefault("max_overflow", 10)
    engine = create_engine(url, **options)
    if not options.get("pool_pre_ping"):
        _ping_when_idle(engine)
    return engine


#: A pooled connection idle longer than this is pinged before use; one used more recently is
#: taken as alive. Pinging every checkout (SQLAlchemy's pool_pre_ping) costs a round trip per
#: transaction, and a dispatching worker runs a few dozen short ones a second; a server that
#: went away since is noticed by the first statement instead, and the pool then replaces its
#: connections.
PING_AFTER_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def stamp(_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def ping(connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.pop("idle_since", None)  # None: connected just now
        if since is None or time.monotonic() - since < PING_AFTER_SECONDS:
            return
        try:
            engine.dialect.do_ping(connection)
        except Exception as error:  # the pool discards it and checks out another
            raise exc.DisconnectionError(str(error)) from error


#: WAL pages a commit may leave before SQLite copies them into the database file (SQLite's
#: default is 1,000). A backfill page of 1,000 orders dirties pages all over the indexes on
#: customer, product and checkout (about 1,500 WAL pages per commit at 250k orders), so with the
#: default nearly every commit also ran a checkpoint with its two fsyncs. A checkpoint now
#: comes every few pages of a backfill; commits are as durable as before (a committed
#: transaction is in the WAL whether or not it has been copied back yet).
WAL_AUTOCHECKPOINT_PAGES = 10_000

#: Bytes the WAL file is cut back to after a checkpoint, so the larger checkpoint interval
#: does not leave a file of its largest size on disk.
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024

#: Page cache per connection in KiB (SQLite's default is 2 MiB): the indexes touched by a
#: page of orders stay in memory instead of being read back for every page.
CACHE_KIB = 32 * 1024


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
    cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    cursor.close()


def _create_private_file(path: str | None) -> None:
    """Create the SQLite file readable by us alone (0600): it holds buyers' personal data.

    SQLite gives its -wal and -shm files the database file's permissions. A file that
    already exists is left as the operator set it."""
    if not path or path == ":memory:" or path.startswith("file:") or os.path.exists(path):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        return  # another process created it first
    except OSError:
        return  # no such folder: SQLite reports the real error on first use


def init_app(app: Flask, url: str) -> Database:
    database = Database(url)
    app.extensions["shopnudge.db"] = database
    app.teardown_appcontext(_close_request_session)
    return database


def get_database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["shopnudge.db"]


def request_session() -> Session:
    """The session of the current request or CLI command, closed when its app context ends."""
    if "db_session" not in g:
        g.db_session = get_database().sessionmaker()
    return g.db_session


def _close_request_session(_error: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def among(session: Session, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values` with one parameter however many values, in a statement text that
    never changes: `= ANY(array)` on PostgreSQL (which then prepares the statement once),
    `IN (SELECT value FROM json_each(…))` on SQLite. A placeholder per value cost more CPU to
    render, bind and parse than many of the queries it was in; both forms probe the column's
    index."""
    dialect = session.get_bind().dialect.name
    bound = literal(listed(dialect, values), _list_type(dialect, column))
    return _among(dialect, column, bound)


def among_bound(dialect: str, column: Any, name: str) -> ColumnElement[bool]:
    """`among` in a statement built once for a dialect (by name), the list bound later as
    `name`, given by `listed`."""
    return _among(dialect, column, bindparam(name, type_=_list_type(dialect, column)))


def listed(dialect: str, values: Sequence[Any]) -> Any:
    """Values as `among_bound` takes them: an array on PostgreSQL, JSON text on SQLite."""
    return list(values) if dialect == "postgresql" else json.dumps(list(values))


def _list_type(dialect: str, column: Any) -> Any:
    return postgresql.ARRAY(column.type) if dialect == "postgresql" else String()


def _among(dialect: str, column: Any, bound: Any) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return column == any_(bound)  # type: ignore[no-any-return]
    return column.in_(select(func.json_each(bound).table_valued("value").c.value))  # type: ignore[no-any-return]


def skip_locked(statement: Select[Any], session: Session) -> Select[Any]:
    """Lock the selected rows, skipping rows other workers hold (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        return statement.with_for_update(skip_locked=True)
    return statement
