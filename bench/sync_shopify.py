"""Orders per second of a Shopify bulk backfill into SQLite and PostgreSQL, beside a ceiling.

The fake shop (tests/fakes/shopify.py) serves N orders through a real bulk operation; the
backfill is `sync_resource(..., "orders", full=True)`: download, JSONL assembly, mapping,
stale-safe upserts, cart recovery and one commit per 1,000 orders. The ceiling is a plain
executemany INSERT of the same order and line rows into empty tables: no reads, no checks.

    .venv/bin/python bench/sync_shopify.py [--orders 100000] [--postgres-admin-url URL]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, insert

from plugin import create_app, migrate
from plugin.connect import connector_for
from plugin.db import get_database, utcnow
from plugin.models import Order, OrderLine, Store
from plugin.syncing import sync_resource
from tests.fakes.shopify import FakeShopify

KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="


def _app(url: str, fake: FakeShopify, instance: Path) -> Any:
    migrate.upgrade(url)
    return create_app(
        {
            "instance_path": instance,
            "database_url": url,
            "secret_key": "bench",
            "encryption_keys": (KEY,),
            "encryption_keys_in_instance": False,
            "shopify_base_url": fake.url,
            "shopify_api_key": fake.api_key,
            "shopify_api_secret": fake.secret,
            "log_level": "WARNING",
        }
    )


def backfill(url: str, fake: FakeShopify, instance: Path) -> tuple[float, int]:
    """Seconds for the orders backfill (products and customers synced first, untimed)."""
    app = _app(url, fake, instance)
    database = get_database(app)
    with database.session() as session:
        store = Store(
            platform="shopify",
            domain=fake.domain,
            name="Bench",
            credentials={"access_token": fake.issue_token(10**6)},
        )
        session.add(store)
        session.flush()
        store_id = store.id
    settings = app.config["SHOPNUDGE"]

    def connector():
        with database.session() as session:
            return connector_for(session.get(Store, store_id), settings)

    for resource in ("products", "customers"):
        sync_resource(database, store_id, connector(), resource, full=True)
    started = time.perf_counter()
    counts = sync_resource(database, store_id, connector(), "orders", full=True)
    elapsed = time.perf_counter() - started
    database.dispose()
    return elapsed, counts.created


def ceiling(url: str, fake: FakeShopify, instance: Path) -> float:
    """Seconds for plain INSERTs of the same rows (fetching them is not timed)."""
    app = _app(url, fake, instance)
    database = get_database(app)
    with database.session() as session:
        session.execute(delete(OrderLine))
        session.execute(delete(Order))
        store_id = session.query(Store.id).scalar()
        store = session.get(Store, store_id)
        connector = connector_for(store, app.config["SHOPNUDGE"])
    now, order_id, spent = utcnow(), 0, 0.0
    for page in connector.fetch("orders", since=None, full=True):
        orders, lines = [], []
        for record in page.records:
            order_id += 1
            orders.append(
                {
                    "id": order_id,
                    "store_id": store_id,
                    "platform_id": record.platform_id,
                    "name": record.name,
                    "status": record.status,
                    "total_minor": record.total_minor,
                    "financial_status": record.financial_status,
                    "currency": record.currency,
                    "checkout_token": record.checkout_token,
                    "placed_at": record.placed_at,
                    "platform_updated_at": record.updated_at,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            lines.extend(
                {
                    "order_id": order_id,
                    "store_id": store_id,
                    "title": line.title,
                    "quantity": line.quantity,
                    "price_minor": line.price_minor,
                    "platform_product_id": line.product_id,
                    "platform_variant_id": line.variant_id,
                }
                for line in record.lines
            )
        if not orders:
            continue
        started = time.perf_counter()
        with database.session() as session:
            session.execute(insert(Order), orders)
            session.execute(insert(OrderLine), lines)
        spent += time.perf_counter() - started
    database.dispose()
    return spent


def measure(name: str, url: str, fake: FakeShopify, instance: Path, orders: int) -> None:
    seconds, created = backfill(url, fake, instance)
    assert created == orders, f"{name}: {created} orders written, expected {orders}"
    plain = ceiling(url, fake, instance)
    print(
        f"{name:<11} backfill {orders / seconds:>8,.0f} orders/s ({seconds:6.1f} s)   "
        f"plain insert ceiling {orders / plain:>8,.0f} orders/s ({plain:6.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    with FakeShopify() as fake, tempfile.TemporaryDirectory() as tmp:
        fake.data.seed(products=500, customers=2_000, orders=args.orders)
        lines = sum(len(o["lineItems"]["nodes"]) for o in fake.data.orders.values())
        print(f"{args.orders:,} orders with {lines:,} lines, by bulk operation from the fake shop")
        measure("SQLite", f"sqlite:///{tmp}/bench.db", fake, Path(tmp) / "i1", args.orders)
        os.environ["SHOPNUDGE_TEST_POSTGRES_ADMIN_URL"] = args.postgres_admin_url
        from tests.conftest import create_postgres_database, drop_postgres_database

        try:
            url = create_postgres_database()
        except Exception as error:  # no server: say so, the SQLite figure still stands
            print(f"PostgreSQL  skipped: {type(error).__name__}: {error}")
            return
        try:
            measure("PostgreSQL", url, fake, Path(tmp) / "i2", args.orders)
        finally:
            drop_postgres_database(url)


if __name__ == "__main__":
    main()
