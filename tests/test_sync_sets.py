"""Orders written in sets: the same outcome as row by row, and statistics after a large load."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from connectors.base import LineRecord
from plugin import migrate
from plugin.db import Database
from plugin.models import Order, OrderLine
from plugin.sync.orders import upsert_orders
from plugin.sync.run import ANALYZE_AFTER, sync_resource
from tests.factories import make_store
from tests.test_sync import T0, ListConnector, order

LATER = T0 + dt.timedelta(hours=1)


def line(title: str, quantity: int = 1) -> LineRecord:
    return LineRecord(title=title, quantity=quantity, price_minor=500)


def test_a_page_of_new_newer_stale_and_repeated_orders_is_written_and_counted(
    session: Session,
) -> None:
    # given two held orders
    store = make_store(session)
    upsert_orders(session, store, [order(1, lines=(line("a"),)), order(2, at=LATER)])
    session.commit()
    # when one page brings o1 newer, o2 older, and o3 new then newer again
    counts = upsert_orders(
        session,
        store,
        [
            order(1, at=LATER, total_minor=111, lines=(line("b", 2), line("c"))),
            order(2, at=T0, total_minor=222),
            order(3, at=T0, total_minor=300),
            order(3, at=LATER, total_minor=333, lines=(line("d", 4),)),
        ],
    )
    session.commit()
    # then each is counted as row by row would count it
    assert (counts.created, counts.updated, counts.unchanged) == (1, 2, 1)
    totals = dict(session.execute(select(Order.platform_id, Order.total_minor)).all())
    assert totals == {"o1": 111, "o2": 990, "o3": 333}
    lines = session.execute(
        select(Order.platform_id, OrderLine.title, OrderLine.quantity)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .order_by(Order.platform_id, OrderLine.title)
    ).all()
    # o1's old line is gone, o2 keeps its line, o3 has only the newer record's line
    assert [tuple(row) for row in lines] == [
        ("o1", "b", 2),
        ("o1", "c", 1),
        ("o2", "Product 1", 1),
        ("o3", "d", 4),
    ]


def test_an_order_the_session_holds_shows_what_the_set_wrote(session: Session) -> None:
    store = make_store(session)
    upsert_orders(session, store, [order(1)])
    held = session.scalars(select(Order)).one()
    assert [ln.title for ln in held.lines] == ["Product 1"]
    upsert_orders(session, store, [order(1, at=LATER, total_minor=5, lines=(line("new"),))])
    assert (held.total_minor, [ln.title for ln in held.lines]) == (5, ["new"])


def test_times_written_in_sets_compare_in_sql_as_times_the_orm_wrote(session: Session) -> None:
    # given an order stamped in another zone, with and without microseconds
    store = make_store(session)
    berlin = dt.timezone(dt.timedelta(hours=1))
    placed = T0.astimezone(berlin)
    updated = (T0 + dt.timedelta(microseconds=250)).astimezone(berlin)
    upsert_orders(session, store, [order(1, placed_at=placed, updated_at=updated)])
    session.commit()
    # then SQL finds it by the same instants given in UTC, and orders it among ORM-written rows
    found = session.scalars(
        select(Order.platform_id).where(
            Order.placed_at == T0,
            Order.platform_updated_at == T0 + dt.timedelta(microseconds=250),
        )
    ).all()
    assert found == ["o1"]
    session.add(Order(store_id=store.id, platform_id="orm", currency="EUR", placed_at=T0))
    session.flush()
    earlier_first = session.scalars(
        select(Order.platform_id).where(Order.placed_at >= T0).order_by(Order.placed_at, Order.id)
    ).all()
    assert earlier_first == ["o1", "orm"]
    assert session.scalars(select(Order.platform_id).where(Order.placed_at > T0)).all() == []


def forget_statistics(database: Database) -> None:
    """The suite shares one database: drop what earlier tests' loads taught the planner."""
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_stat_reset_single_table_counters('orders'::regclass)")
            )
        elif connection.scalar(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        ):
            connection.execute(text("DELETE FROM sqlite_stat1 WHERE tbl = 'orders'"))


def analysed(database: Database) -> bool:
    """Whether the orders table has planner statistics."""
    with database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            return bool(
                connection.scalar(
                    text(
                        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables"
                        " WHERE relname = 'orders'"
                    )
                )
            )
        has_table = connection.scalar(
            text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        )
        return bool(
            has_table
            and connection.scalar(text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'orders'"))
        )


def test_a_large_load_refreshes_the_planner_statistics_and_a_small_one_does_not(
    database: Database,
) -> None:
    forget_statistics(database)
    with database.session() as session:
        store_id = make_store(session).id
    few = [order(n, customer_id=None) for n in range(50)]
    sync_resource(database, store_id, ListConnector(few, page_size=1000), "orders")
    assert analysed(database) is False
    many = [order(n, customer_id=None) for n in range(50, 50 + ANALYZE_AFTER)]
    counts = sync_resource(database, store_id, ListConnector(many, page_size=1000), "orders")
    assert counts.created == ANALYZE_AFTER
    assert analysed(database) is True


#: A sync in a process of its own that commits three pages of orders and is then killed
#: (os._exit: no close, no checkpoint, no cleanup), as a crash would end it.
CRASHING_SYNC = """
import os, sys
from plugin import create_app
from plugin.db import get_database
from plugin.sync.run import sync_resource
from tests.factories import make_store
from tests.test_sync import ListConnector, order

KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="
app = create_app({"instance_path": sys.argv[2], "database_url": sys.argv[1], "secret_key": "t",
                  "encryption_keys": (KEY,), "encryption_keys_in_instance": False})
database = get_database(app)
with database.session() as session:
    store_id = make_store(session).id
orders = [order(n, customer_id=None) for n in range(3000)]
sync_resource(database, store_id, ListConnector(orders, page_size=1000), "orders")
os._exit(9)
"""


def test_pages_a_crashed_sqlite_sync_committed_are_kept_though_not_yet_checkpointed(
    tmp_path: Path,
) -> None:
    # given an SQLite database and a sync process that dies right after its last commit
    path = tmp_path / "crash.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    root = Path(__file__).resolve().parents[1]
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_SYNC, url, str(tmp_path / "instance")],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert child.returncode == 9, child.stderr
    # the last commits were in the WAL alone at the crash: the database file without it
    # lacks orders
    assert Path(f"{path}-wal").stat().st_size > 0
    main_only = tmp_path / "main-only.db"
    shutil.copyfile(path, main_only)
    with closing(sqlite3.connect(main_only)) as connection:
        held = connection.execute("SELECT count(*) FROM sqlite_master WHERE name = 'orders'")
        in_file = (
            connection.execute("SELECT count(*) FROM orders").fetchone()[0]
            if held.fetchone()[0]
            else 0
        )
    assert in_file < 3000
    # then a new process finds every order of the three committed pages, each once
    database = Database(url)
    try:
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(Order)) == 3000
            assert session.scalar(select(func.count(func.distinct(Order.platform_id)))) == 3000
    finally:
        database.dispose()
