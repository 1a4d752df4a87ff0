"""Orders per second of a Shopify bulk backfill into SQLite and PostgreSQL, beside a ceiling.

The fake shop (tests/fakes/shopify.py) serves N orders through a real bulk operation; the
backfill is `sync_resource(..., "orders", full=True)`: download, JSONL assembly, mapping,
stale-safe upserts, cart recovery and one commit per 1,000 orders. The ceiling is a plain
executemany INSERT of the same order and line rows into empty tables: no reads, no checks.
On PostgreSQL the backfill itself writes with COPY (through a temporary table for the
orders), which that executemany does not: there the ceiling is the agreed fixed reference,
not a bound, and the backfill's writing can spend fewer CPU-seconds than it.
The fake shop runs in a process of its own (as Shopify is not in ours): each line prints wall
seconds and the backfill process's CPU-seconds, and the ratio of the backfill's rate to the
ceiling's in the same run.

    .venv/bin/python -u bench/sync_shopify.py [--orders 100000] [--postgres-admin-url URL]
        [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import delete, insert

from connectors.base import Page
from plugin import create_app, migrate
from plugin.connect import connector_for
from plugin.db import get_database, utcnow
from plugin.models import Order, OrderLine, Store
from plugin.sync.run import sync_resource
from tests.fakes.shopify import FakeShopify

KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="


@dataclass(frozen=True)
class Shop:
    """The fake shop serving from its own process: where it is, and a token it accepts."""

    url: str
    domain: str
    api_key: str
    secret: str
    token: str
    lines: int


def serve_fake(orders: int) -> None:
    """Seed and serve the fake shop until stdin closes (run as a child of the bench)."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with FakeShopify() as fake:
        fake.data.seed(products=500, customers=2_000, orders=orders)
        lines = sum(len(o["lineItems"]["nodes"]) for o in fake.data.orders.values())
        shop = {
            "url": fake.url,
            "domain": fake.domain,
            "api_key": fake.api_key,
            "secret": fake.secret,
            "token": fake.issue_token(10**6),
            "lines": lines,
        }
        print(json.dumps(shop), flush=True)
        sys.stdin.read()


def start_fake(orders: int) -> tuple[subprocess.Popen[str], Shop]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-fake", str(orders)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    return child, Shop(**json.loads(child.stdout.readline()))


def _app(url: str, fake: Shop, instance: Path) -> Any:
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
            # the fake builds a large bulk file before its first byte, slower on a busy machine
            "http_timeout": 600.0,
        }
    )


def backfill(url: str, fake: Shop, instance: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of the orders backfill (products and customers synced first,
    untimed), and the orders it created."""
    app = _app(url, fake, instance)
    database = get_database(app)
    with database.session() as session:
        store = Store(
            platform="shopify",
            domain=fake.domain,
            name="Bench",
            credentials={"access_token": fake.token},
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
    started, cpu = time.perf_counter(), time.process_time()
    counts = sync_resource(database, store_id, connector(), "orders", full=True)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    database.dispose()
    return elapsed, cpu, counts.created


class Replay:
    """A connector that hands out pages fetched before: the backfill's writing alone, timed."""

    def __init__(self, pages: list[Page[Any]]) -> None:
        self.pages = pages

    def fetch(self, resource: str, **_options: Any) -> Iterator[Page[Any]]:
        yield from self.pages


def persistence(
    url: str, fake: Shop, instance: Path, pages: list[Page[Any]]
) -> tuple[float, float]:
    """Wall and CPU seconds of sync_resource writing the same pages into emptied tables."""
    app = _app(url, fake, instance)
    database = get_database(app)
    with database.session() as session:
        session.execute(delete(OrderLine))
        session.execute(delete(Order))
        store_id = session.query(Store.id).scalar()
    started, cpu = time.perf_counter(), time.process_time()
    counts = sync_resource(database, store_id, Replay(pages), "orders", full=True)  # type: ignore[arg-type]
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert counts.created == sum(len(page.records) for page in pages)
    database.dispose()
    return elapsed, cpu


def ceiling(url: str, fake: Shop, instance: Path) -> tuple[float, float, list[Page[Any]]]:
    """Wall and CPU seconds of plain INSERTs of the same rows (fetching them is not timed),
    and the pages fetched."""
    app = _app(url, fake, instance)
    database = get_database(app)
    with database.session() as session:
        session.execute(delete(OrderLine))
        session.execute(delete(Order))
        store_id = session.query(Store.id).scalar()
        store = session.get(Store, store_id)
        connector = connector_for(store, app.config["SHOPNUDGE"])
    now, order_id, spent, cpu = utcnow(), 0, 0.0, 0.0
    pages = list(connector.fetch("orders", since=None, full=True))
    for page in pages:
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
        started, cpu_started = time.perf_counter(), time.process_time()
        with database.session() as session:
            session.execute(insert(Order.__table__), orders)
            session.execute(insert(OrderLine.__table__), lines)
        spent += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
    database.dispose()
    return spent, cpu, pages


def measure(name: str, url: str, fake: Shop, instance: Path, orders: int) -> None:
    seconds, cpu, created = backfill(url, fake, instance)
    assert created == orders, f"{name}: {created} orders written, expected {orders}"
    plain, plain_cpu, pages = ceiling(url, fake, instance)
    writing, writing_cpu = persistence(url, fake, instance, pages)
    print(
        f"{name:<11} plain insert ceiling {orders / plain:>8,.0f} orders/s ({plain:6.1f} s,"
        f" {plain_cpu:6.1f} CPU-s)\n"
        f"{'':<11} backfill writing     {orders / writing:>8,.0f} orders/s ({writing:6.1f} s,"
        f" {writing_cpu:6.1f} CPU-s)   {plain / writing:.0%} of the ceiling"
        f" (the same pages, fetched before)\n"
        f"{'':<11} backfill end to end  {orders / seconds:>8,.0f} orders/s ({seconds:6.1f} s,"
        f" {cpu:6.1f} CPU-s)   {plain / seconds:.0%} of the ceiling"
        f" (with the bulk operation, download and mapping)",
        flush=True,
    )


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per fake request
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--serve-fake", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake is not None:
        serve_fake(args.serve_fake)
        return
    engines = args.engines.split(",")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} at start", flush=True)
    child, fake = start_fake(args.orders)
    try:
        run(args, engines, fake)
    finally:
        child.communicate("")


def run(args: argparse.Namespace, engines: list[str], fake: Shop) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        print(
            f"{args.orders:,} orders with {fake.lines:,} lines, by bulk operation from the fake"
            " shop (its own process)",
            flush=True,
        )
        if "sqlite" in engines:
            measure("SQLite", f"sqlite:///{tmp}/bench.db", fake, Path(tmp) / "i1", args.orders)
        if "postgresql" not in engines:
            return
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
