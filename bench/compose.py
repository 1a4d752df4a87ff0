"""Time to compute recommendations and compose them for a large shop on PostgreSQL.

Builds a synthetic shop (1,000,000 orders, 20,000 products, 100,000 confirmed subscribers whose
last order is two to six weeks old) with COPY, then times:
  1. the item model: reading the history with aggregate queries and fitting it (scipy);
  2. composing: eligible buyers, picks for all of them, guards, and the outbox INSERTs.
Prints CPU-seconds of this process (the goal: at most 25 for both together) and of the
database backend, beside wall time. `--orders 100000` shows how it grows with the history;
`--reuse` times again on the shop built before; `--profile FILE` writes a cProfile.

    .venv/bin/python bench/compose.py --url postgresql+psycopg://postgres@127.0.0.1:5432/DB
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import load_average, timed
from plugin import crypto, migrate
from plugin.db import Database
from plugin.engine.recommend import fitting
from plugin.engine.recommend.flow import compose_recommendations
from plugin.models import Notification, Store, WhatsAppAccount, WhatsAppTemplate

#: CPU-seconds of this process for fitting and composing at 1M orders: the goal is at most 25.
GOAL_CPU_SECONDS = 25
KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="
NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)


def copy_rows(connection: psycopg.Connection, table: str, columns: list[str], rows) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )


def vacuum(url: str, table: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"VACUUM ANALYZE {table}")


def build_shop(url: str, orders: int, products: int, buyers: int, seed: int = 7) -> int:
    crypto.configure((KEY,))
    database = Database(url)
    with database.session() as session:
        store = Store(platform="shopify", domain="bench.myshopify.com", name="Bench", settings={})
        session.add(store)
        session.flush()
        store_id = store.id
        session.add(
            WhatsAppAccount(
                store_id=store_id,
                phone_number_id="bench",
                waba_id="bench",
                token="x",
                quality_rating="GREEN",
                dry_run=True,
            )
        )
        session.add(
            WhatsAppTemplate(
                store_id=store_id,
                name="shopnudge_recommendation",
                language="de",
                purpose="recommendation",
                status="APPROVED",
            )
        )
    database.dispose()
    generator = np.random.default_rng(seed)
    stamp = NOW - dt.timedelta(days=400)
    categories = generator.integers(0, 50, products)
    # Each buyer leans to two categories; popularity within a category is Zipf-like.
    popularity = 1.0 / np.arange(1, products + 1) ** 0.8
    by_category = [np.flatnonzero(categories == c) for c in range(50)]
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as connection:
        copy_rows(
            connection,
            "products",
            [
                "id",
                "store_id",
                "platform_id",
                "title",
                "handle",
                "url",
                "image_url",
                "categories",
                "tags",
                "published",
                "created_at",
                "updated_at",
            ],
            (
                (
                    p + 1,
                    store_id,
                    f"p{p}",
                    f"Product {p}",
                    f"product-{p}",
                    f"https://bench.example/products/{p}",
                    f"https://cdn.bench.example/{p}.jpg",
                    json.dumps([f"Category {categories[p]}"]),
                    "[]",
                    True,
                    stamp,
                    stamp,
                )
                for p in range(products)
            ),
        )
        copy_rows(
            connection,
            "variants",
            [
                "id",
                "store_id",
                "product_id",
                "platform_id",
                "title",
                "price_minor",
                "currency",
                "inventory_quantity",
                "in_stock",
                "created_at",
                "updated_at",
            ],
            (
                (
                    p + 1,
                    store_id,
                    p + 1,
                    f"v{p}",
                    "Default",
                    500 + (p * 37) % 5000,
                    "EUR",
                    10,
                    True,
                    stamp,
                    stamp,
                )
                for p in range(products)
            ),
        )
        copy_rows(
            connection,
            "customers",
            [
                "id",
                "store_id",
                "platform_id",
                "phone",
                "country",
                "first_name",
                "created_at",
                "updated_at",
            ],
            (
                (c + 1, store_id, f"c{c}", f"+49151{c:08d}", "DE", "Kim", stamp, stamp)
                for c in range(buyers)
            ),
        )
        copy_rows(
            connection,
            "subscriptions",
            [
                "id",
                "store_id",
                "phone",
                "customer_id",
                "state",
                "locale",
                "confirmed_at",
                "undeliverable",
                "created_at",
                "updated_at",
            ],
            (
                (
                    c + 1,
                    store_id,
                    f"+49151{c:08d}",
                    c + 1,
                    "confirmed",
                    "de",
                    stamp,
                    False,
                    stamp,
                    stamp,
                )
                for c in range(buyers)
            ),
        )
        per_buyer = orders // buyers
        buyer_of = np.repeat(np.arange(buyers), per_buyer)
        rank = np.tile(np.arange(per_buyer), buyers)
        # Orders spread over a year; each buyer's last order 14 to 44 days ago.
        last_age = generator.uniform(14.1, 43.9, buyers)
        age_days = last_age[buyer_of] + (per_buyer - 1 - rank) * generator.uniform(
            5, 30, buyer_of.size
        )
        placed = [NOW - dt.timedelta(days=float(a)) for a in age_days]
        copy_rows(
            connection,
            "orders",
            [
                "id",
                "store_id",
                "platform_id",
                "customer_id",
                "total_minor",
                "currency",
                "placed_at",
                "created_at",
                "updated_at",
            ],
            (
                (o + 1, store_id, f"o{o}", int(buyer_of[o]) + 1, 0, "EUR", placed[o], stamp, stamp)
                for o in range(buyer_of.size)
            ),
        )
        taste = generator.integers(0, 50, (buyers, 2))
        sizes = generator.integers(1, 6, buyer_of.size)
        line_order = np.repeat(np.arange(buyer_of.size), sizes)
        category = taste[buyer_of[line_order], generator.integers(0, 2, line_order.size)]
        picked = np.empty(line_order.size, dtype=np.int64)
        for c in range(50):
            where = np.flatnonzero(category == c)
            weights = popularity[by_category[c]] / popularity[by_category[c]].sum()
            picked[where] = generator.choice(by_category[c], where.size, p=weights)
        copy_rows(
            connection,
            "order_lines",
            ["id", "store_id", "order_id", "product_id", "title", "quantity", "price_minor"],
            (
                (n + 1, store_id, int(line_order[n]) + 1, int(picked[n]) + 1, "", 1, 1000)
                for n in range(line_order.size)
            ),
        )
        connection.execute("ANALYZE")
    return store_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="time again on the shop built before")
    parser.add_argument("--profile", metavar="FILE", help="write a cProfile of composing to FILE")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {load_average()} (1, 5, 15 min) at start")
    migrate.upgrade(args.url)
    crypto.configure((KEY,))
    database = Database(args.url)
    if args.reuse:
        with database.session() as session:
            session.execute(delete(Notification))
            store_id = session.scalar(select(func.min(Store.id)))
        vacuum(args.url, "notifications")  # a fresh shop has no dead rows to wade through
    else:
        started = time.perf_counter()
        store_id = build_shop(args.url, args.orders, args.products, args.subscribers)
        print(f"built the shop in {time.perf_counter() - started:.1f} s")
    # CPU time, not wall: on a shared machine waiting for a core would count as work.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    with database.session() as session:
        store = session.get(Store, store_id)
        assert store is not None
        if profiler:
            profiler.enable()
        models = fitting.ModelCache()
        model, fitted = timed(session, lambda: models.model_for(session, store, NOW))
        counts, composed = timed(
            session, lambda: compose_recommendations(session, models, store, NOW, any_hour=True)
        )
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
    with database.session() as session:
        rows = session.scalar(select(func.count(Notification.id)))
    history = model.history
    print(
        f"shop: {history.order_ids.size:,} orders, {history.order_items.nnz:,} order lines, "
        f"{history.items.size:,} products, {args.subscribers:,} subscribers"
    )
    print(f"recommendations: history read and item model fitted: {fitted.line()}")
    print(
        f"composition: picks, guards and outbox rows for all buyers: {composed.line()} "
        f"({counts.pending:,} pending, {counts.skipped:,} skipped of which holdout, {rows:,} rows)"
    )
    total_database = (
        f", database backend {fitted.database_cpu + composed.database_cpu:.1f} CPU-s"
        if fitted.database_cpu is not None and composed.database_cpu is not None
        else ""
    )
    cpu = fitted.cpu + composed.cpu
    print(
        f"total: {cpu:.1f} CPU-s in this process ({cpu / GOAL_CPU_SECONDS:.2f} of the goal of "
        f"at most {GOAL_CPU_SECONDS} CPU-s)"
        f"{total_database}, {fitted.wall + composed.wall:.1f} s wall (not a quiet machine)"
    )


if __name__ == "__main__":
    main()
