"""An order finds its customer whichever is written first, also when both are written at once.

Shopify delivers `customers/create` and `orders/create` for a new buyer's first order together;
each is applied in its own transaction. These tests run on the suite's database (SQLite, and
PostgreSQL where SHOPNUDGE_TEST_DATABASE_URL names one, as CI does).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import CustomerRecord
from plugin.db import Database
from plugin.models import Customer, Order, Store
from plugin.sync.catalog import upsert_customers
from plugin.sync.links import BUCKETS, bucket
from plugin.sync.orders import upsert_orders
from tests.factories import make_store
from tests.test_sync import T0, order

#: Long enough for a writer that does not wait to have finished; well inside SQLite's busy
#: timeout (2.5 s), so a writer that waits for SQLite's lock is still waiting.
WAITS = 0.5


def buyer(platform_id: str = "c1") -> CustomerRecord:
    return CustomerRecord(platform_id=platform_id, updated_at=T0, phone="+4915112345678")


def new_store(database: Database) -> Store:
    with database.session() as session:
        return make_store(session)


def order_customers(database: Database) -> dict[str, str | None]:
    with database.session() as session:
        rows = session.execute(
            select(Order.platform_id, Customer.platform_id).outerjoin(
                Customer, Customer.id == Order.customer_id
            )
        )
        return dict(rows.all())


def while_open(
    database: Database, first: Callable[[Session], object], second: Callable[[Session], object]
) -> bool:
    """Run `first` in a transaction left open, start `second` in its own transaction in a
    thread, then commit `first`; whether `second` was still waiting for it when it committed."""
    with database.sessionmaker() as session:
        first(session)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                with database.session() as other:
                    second(other)
            except BaseException as error:  # reported by the test, not lost in the thread
                errors.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        thread.join(WAITS)
        waited = thread.is_alive()
        session.commit()
    thread.join()
    assert not errors, errors
    return waited


def test_an_order_written_before_its_customer_is_linked_when_the_customer_arrives(
    database: Database,
) -> None:
    # given an order whose customer we do not hold yet
    store = new_store(database)
    with database.session() as session:
        upsert_orders(session, store, [order(1)])
    assert order_customers(database) == {"o1": None}
    # when the customer arrives
    with database.session() as session:
        upsert_customers(session, store, [buyer()])
    # then the order is theirs
    assert order_customers(database) == {"o1": "c1"}


def test_an_order_written_while_its_customer_is_being_written_waits_and_is_linked(
    database: Database,
) -> None:
    # given a customer being written in a transaction not yet committed
    store = new_store(database)
    waited = while_open(
        database,
        lambda session: upsert_customers(session, store, [buyer()]),
        # when the order of that customer is written meanwhile
        lambda session: upsert_orders(session, store, [order(1)]),
    )
    # then the order waited for the customer's transaction and belongs to the customer
    assert waited
    assert order_customers(database) == {"o1": "c1"}


def test_a_customer_written_while_their_order_is_being_written_waits_and_takes_the_order(
    database: Database,
) -> None:
    # given an order being written in a transaction not yet committed
    store = new_store(database)
    waited = while_open(
        database,
        lambda session: upsert_orders(session, store, [order(1)]),
        # when its customer is written meanwhile
        lambda session: upsert_customers(session, store, [buyer()]),
    )
    # then the customer waited for the order's transaction and the order is theirs
    assert waited
    assert order_customers(database) == {"o1": "c1"}


def test_an_order_of_another_customer_or_shop_is_not_linked(database: Database) -> None:
    # given orders of c1 here, of c2 here, and of c1 in another shop, none of them linked
    store, other = new_store(database), new_store(database)
    with database.session() as session:
        upsert_orders(session, store, [order(1), order(2, customer_id="c2")])
        upsert_orders(session, other, [order(3)])
    # when c1 arrives in the first shop
    with database.session() as session:
        upsert_customers(session, store, [buyer("c1")])
    # then only its own order in its own shop is linked
    assert order_customers(database) == {"o1": "c1", "o2": None, "o3": None}


def test_every_process_puts_a_customer_in_the_same_bucket() -> None:
    """The lock is shared across worker processes, so its key cannot come from Python's own
    string hash, which each process seeds differently."""
    ids = ["c1", "7225614483569", "gid://shopify/Customer/1"]
    script = f"from plugin.sync.links import bucket; print([bucket(p) for p in {ids!r}])"
    elsewhere = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    assert elsewhere.stdout.strip() == str([bucket(pid) for pid in ids])
    assert {bucket(str(n)) for n in range(10_000)} == set(range(BUCKETS))
