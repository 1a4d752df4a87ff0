"""10,000 shops on one PostgreSQL: what one scheduler tick and one dispatch round cost.

Registers `--shops` shops with small synthetic data (products, buyers with confirmed opt-ins,
orders, two abandoned carts each) on a throwaway database, written in sets (INSERT … SELECT
over generate_series, one statement per table), then:
- runs one scheduler tick: every job the worker runs, once, through its real entry point
  (plugin.scheduler.attempt_job, with its lease), timing each job;
- queues one due message per shop and runs one dispatch round (the dispatch job: one second
  of claiming and sending on the dry-run channel), then rounds until nothing is due;
- reports the database's size per table (pg_total_relation_size) and per 10k orders.

Beside each figure: wall seconds, CPU-seconds of this process and of its PostgreSQL backends
(read from /proc when the server runs here), SQL statements, and the same per shop; at start the
machine's cores and load average. The shops have no platform credentials: the sync jobs find
nothing to call (their platform calls per shop per day follow from their schedules, see
docs/scale.md), so the tick measures the work the database and the engine do per shop.

    .venv/bin/python bench/tenants.py [--shops 10000] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from flask import Flask
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugin import create_app, crypto, migrate
from plugin.db import Database
from plugin.engine.jobs import dispatch_job
from plugin.models import Notification, NotificationState, Store, WhatsAppAccount
from plugin.scheduler import JobOutcome, attempt_job, jobs
from plugin.whatsapp.templates.wording import default_definitions

KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
#: A Monday morning in Berlin: carts from 90 minutes ago are due their first reminder.
NOW = dt.datetime(2026, 6, 1, 8, 0, tzinfo=dt.UTC)
PURPOSES = ("cart_reminder_1", "recommendation")


class Statements:
    """SQL statements sent by every engine of this process."""

    count = 0

    @classmethod
    def listen(cls) -> None:
        def counted(*_args: Any) -> None:
            cls.count += 1

        event.listen(Engine, "before_cursor_execute", counted)


def backends_cpu(admin: psycopg.Connection, database: str) -> float | None:
    """CPU-seconds so far of every PostgreSQL backend connected to `database`; None when the
    server's processes cannot be read here. Backends that ended are not counted: the app keeps
    its pooled connections for the whole run."""
    pids = [
        row[0]
        for row in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    ]
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


@dataclass
class Cost:
    wall: float
    cpu: float
    database_cpu: float | None
    statements: int

    def line(self, shops: int) -> str:
        database = (
            f"{self.database_cpu:.2f} CPU-s in PostgreSQL"
            if self.database_cpu is not None
            else "PostgreSQL CPU not measurable"
        )
        return (
            f"{self.wall:.2f} s wall, {self.cpu:.2f} CPU-s here, {database}, "
            f"{self.statements:,} statements; per shop {self.cpu / shops * 1000:.3f} ms CPU, "
            f"{self.statements / shops:.1f} statements"
        )


@contextmanager
def measured(admin: psycopg.Connection, database: str) -> Iterator[list[Cost]]:
    """Measure the block; the Cost lands in the yielded list."""
    found: list[Cost] = []
    before_db = backends_cpu(admin, database)
    statements = Statements.count
    wall, cpu = time.perf_counter(), time.process_time()
    yield found
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    after_db = backends_cpu(admin, database)
    database_cpu = after_db - before_db if None not in (before_db, after_db) else None
    found.append(Cost(wall, cpu, database_cpu, Statements.count - statements))


def seed(url: str, shops: int, orders: int, buyers: int) -> None:
    """The shops and their data, one INSERT … SELECT per table."""
    crypto.configure((KEY,))
    database = Database(url)
    with database.session() as session:  # one account through the ORM: its token encrypted
        store = Store(platform="shopify", domain="shop-1.myshopify.com", name="Shop 1")
        session.add(store)
        session.flush()
        session.add(
            WhatsAppAccount(
                store_id=store.id,
                phone_number_id="bench-1",
                waba_id="bench-1",
                token="dry-run",
                quality_rating="GREEN",
                dry_run=True,
            )
        )
    database.dispose()
    templates = [
        {
            "name": d.name,
            "language": d.language,
            "purpose": d.purpose,
            "category": d.category,
            "components": json.dumps(d.components),
        }
        for d in default_definitions("https://shopnudge.example")
        if d.purpose in PURPOSES
    ]
    settings = json.dumps(
        {"holdout_percent": 0, "quiet_hours_start": "00:00", "quiet_hours_end": "00:00"}
    )
    day = dt.timedelta(days=1)
    steps = [
        # shops 2..N beside the one made above; half Shopify, half WooCommerce
        (
            """INSERT INTO stores (public_key, platform, domain, base_url, name, status, timezone,
                 currency, default_locale, country, privacy_url, settings, created_at, updated_at)
               SELECT 'pk_bench_' || s, CASE WHEN s %% 2 = 0 THEN 'woocommerce' ELSE 'shopify' END,
                 'shop-' || s || '.example', '', 'Shop ' || s, 'active', 'Europe/Berlin', 'EUR',
                 'de', 'DE', '', %(settings)s, %(now)s, %(now)s
               FROM generate_series(2, %(shops)s) AS s""",
            {"settings": settings},
        ),
        ("UPDATE stores SET settings = %(settings)s, status = 'active'", {"settings": settings}),
        (
            """INSERT INTO whatsapp_accounts (store_id, phone_number_id, waba_id, token,
                 quality_rating, throughput_mps, dry_run, marketing_messages, created_at,
                 updated_at)
               SELECT s.id, 'bench-' || s.id, 'bench-' || s.id, a.token, 'GREEN',
                 a.throughput_mps, true, a.marketing_messages, %(now)s, %(now)s
               FROM stores s, (SELECT * FROM whatsapp_accounts LIMIT 1) a
               WHERE s.id <> a.store_id""",
            {},
        ),
        *[
            (
                """INSERT INTO whatsapp_templates (store_id, name, language, purpose, category,
                     status, components, created_at, updated_at)
                   SELECT id, %(name)s, %(language)s, %(purpose)s, %(category)s, 'APPROVED',
                     %(components)s, %(now)s, %(now)s FROM stores""",
                t,
            )
            for t in templates
        ],
        (
            """INSERT INTO products (store_id, platform_id, title, url, image_url, categories,
                 tags, published, created_at, updated_at)
               SELECT s.id, 'p' || p, 'Product ' || p, 'https://' || s.domain || '/p/' || p,
                 'https://cdn.example/' || p || '.jpg', '["Tea"]', '[]', true, %(now)s, %(now)s
               FROM stores s, generate_series(1, 3) AS p""",
            {},
        ),
        (
            """INSERT INTO variants (store_id, product_id, platform_id, title, price_minor,
                 currency, in_stock, created_at, updated_at)
               SELECT store_id, id, 'v' || id, 'Default', 1250, 'EUR', true, %(now)s, %(now)s
               FROM products""",
            {},
        ),
        (
            """INSERT INTO customers (store_id, platform_id, first_name, phone, locale,
                 created_at, updated_at)
               SELECT s.id, 'c' || b, 'Kim', '+49152' || lpad((s.id * 100 + b)::text, 8, '0'),
                 'de', %(now)s, %(now)s
               FROM stores s, generate_series(1, %(buyers)s) AS b""",
            {},
        ),
        (
            """INSERT INTO subscriptions (store_id, customer_id, phone, state, locale,
                 confirmed_at, undeliverable, unsubscribe_token, created_at, updated_at)
               SELECT store_id, id, phone, 'confirmed', 'de', %(long_ago)s, false,
                 md5('u' || id), %(long_ago)s, %(long_ago)s
               FROM customers""",
            {"long_ago": NOW - 200 * day},
        ),
        (
            """INSERT INTO orders (store_id, customer_id, platform_id, name, email, phone, status,
                 financial_status, total_minor, currency, placed_at, platform_updated_at,
                 created_at, updated_at)
               SELECT c.store_id, c.id, 'o' || c.id || '-' || n, '#' || (1000 + c.id * 10 + n),
                 'kim' || c.id || '@example.com', c.phone, 'completed', 'paid', 3750, 'EUR',
                 %(now)s - (n * 3 || ' days')::interval, %(now)s, %(now)s, %(now)s
               FROM customers c, generate_series(1, %(per_buyer)s) AS n""",
            {"per_buyer": max(1, orders // buyers)},
        ),
        (
            """INSERT INTO order_lines (store_id, order_id, product_id, variant_id, title,
                 quantity, price_minor)
               SELECT o.store_id, o.id, p.id, v.id, p.title, 2, 1250
               FROM orders o
               JOIN products p ON p.store_id = o.store_id AND p.platform_id IN ('p1', 'p2')
               JOIN variants v ON v.product_id = p.id""",
            {},
        ),
        (
            """INSERT INTO carts (store_id, customer_id, platform_id, source, phone, locale,
                 total_minor, currency, state, last_activity_at, created_at, updated_at)
               SELECT store_id, id, 'cart-' || id, 'platform', phone, 'de', 1250, 'EUR',
                 'abandoned', %(now)s - interval '90 minutes', %(now)s, %(now)s
               FROM customers WHERE platform_id IN ('c1', 'c2')""",
            {},
        ),
        (
            """INSERT INTO cart_lines (store_id, cart_id, product_id, variant_id, title,
                 quantity, price_minor)
               SELECT c.store_id, c.id, p.id, v.id, p.title, 1, 1250
               FROM carts c
               JOIN products p ON p.store_id = c.store_id AND p.platform_id = 'p2'
               JOIN variants v ON v.product_id = p.id""",
            {},
        ),
    ]
    with psycopg.connect(plain(url)) as connection:
        for statement, values in steps:
            connection.execute(statement, {"now": NOW, "shops": shops, "buyers": buyers, **values})
    with psycopg.connect(plain(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def queue_one_message_per_shop(url: str) -> int:
    """One due recommendation per shop, to its first buyer, as compose writes it."""
    with psycopg.connect(plain(url)) as connection:
        cursor = connection.execute(
            """INSERT INTO notifications (store_id, subscription_id, customer_id, dedupe_key,
                 flow, phone, template_name, language, parameters, context, state, due_at,
                 attempts, cost_micros, cost_currency, created_at, updated_at)
               SELECT s.store_id, s.id, s.customer_id, 'bench:' || s.id, 'recommendation',
                 s.phone, 'shopnudge_recommendation', 'de',
                 '{"body": [{"type": "text", "text": "Kim"}, {"type": "text", "text": "Shop"},
                   {"type": "text", "text": "Product 1"}]}',
                 '{"purpose": "recommendation"}', 'pending', %(due)s, 0, 113100, 'EUR',
                 %(due)s, %(due)s
               FROM subscriptions s JOIN customers c ON c.id = s.customer_id
               WHERE c.platform_id = 'c3'""",
            {"due": dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)},
        )
        queued = cursor.rowcount
    with psycopg.connect(plain(url), autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE notifications")
    return queued


def due_now(database: Database) -> int:
    """Messages waiting to be sent now (the tick's leftovers and the queued ones)."""
    with database.session() as session:
        return int(
            session.scalar(
                select(func.count(Notification.id)).where(
                    Notification.state == NotificationState.PENDING,
                    Notification.due_at <= func.now(),
                )
            )
            or 0
        )


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def sizes(url: str) -> list[tuple[str, int, int]]:
    """(table, bytes with indexes and TOAST, rows) for every table, largest first."""
    with psycopg.connect(plain(url)) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        found = []
        for table in tables:
            size = connection.execute("SELECT pg_total_relation_size(%s)", (table,)).fetchone()
            rows = connection.execute(f'SELECT count(*) FROM "{table}"').fetchone()
            found.append((table, int(size[0]), int(rows[0])))  # type: ignore[index]
    return sorted(found, key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shops", type=int, default=10_000)
    parser.add_argument("--buyers", type=int, default=10, help="confirmed buyers per shop")
    parser.add_argument("--orders", type=int, default=20, help="orders per shop")
    parser.add_argument("--admin-url", default=ADMIN, help="where to create the database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (1, 5, 15 min) at start")
    name = f"shopnudge_tenants_{os.getpid()}"
    admin = psycopg.connect(args.admin_url, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = args.admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    url = f"{url}/{name}"
    try:
        run(args, url, name, admin)
    finally:
        shutil.rmtree(getattr(args, "instance", ""), ignore_errors=True)
        if not args.keep:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def tick(
    app: Flask, admin: psycopg.Connection, name: str, shops: int, now: dt.datetime, title: str
) -> None:
    """Every job once at `now`, through its entry point (lease included), each job measured."""
    table = jobs()
    print(f"\n{title} at {now.isoformat()}: {len(table)} jobs, each once")
    costs: list[tuple[str, JobOutcome, Cost]] = []
    for job_name, job in table.items():
        with measured(admin, name) as found:
            outcome = attempt_job(app, job, now)
        costs.append((job_name, outcome, found[0]))
    for job_name, outcome, cost in sorted(costs, key=lambda item: -item[2].wall)[:8]:
        print(f"  {job_name:<24} {outcome.value:<7} {cost.line(shops)}")
    total = Cost(
        sum(c.wall for _n, _o, c in costs),
        sum(c.cpu for _n, _o, c in costs),
        None
        if any(c.database_cpu is None for _n, _o, c in costs)
        else sum(c.database_cpu or 0.0 for _n, _o, c in costs),
        sum(c.statements for _n, _o, c in costs),
    )
    print(f"  the other {len(costs) - 8} jobs and the total: {total.line(shops)}")
    print("  (wall: not a quiet machine)")


def run(args: argparse.Namespace, url: str, name: str, admin: psycopg.Connection) -> None:
    shops = args.shops
    migrate.upgrade(url)
    started = time.perf_counter()
    seed(url, shops, args.orders, args.buyers)
    print(
        f"seeded {shops:,} shops ({args.buyers} confirmed buyers, {args.orders} orders, "
        f"orders of 2 lines, 3 products, 2 abandoned carts each) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    instance = tempfile.mkdtemp(prefix="shopnudge-tenants-")  # removed by main()
    args.instance = instance
    app = create_app(
        {
            "instance_path": Path(instance),
            "database_url": url,
            "secret_key": "bench",
            "encryption_keys": (KEY,),
            "encryption_keys_in_instance": False,
            "public_url": "https://shopnudge.example",
            "log_level": "WARNING",
        }
    )
    Statements.listen()
    tick(app, admin, name, shops, NOW, "one scheduler tick")
    # a minute later: what was due is composed, so this is what an ordinary minute costs
    tick(app, admin, name, shops, NOW + dt.timedelta(minutes=1), "the next minute's tick")
    database = app.extensions["shopnudge.db"]
    with database.session() as session:
        composed = session.scalar(select(func.count(Notification.id)))
        sent = session.scalar(
            select(func.count(Notification.id)).where(Notification.state == NotificationState.SENT)
        )
    print(f"  the tick composed {composed:,} messages and sent {sent:,} of them")

    queued = queue_one_message_per_shop(url)
    print(f"\ndispatch: {queued:,} messages due, one per shop, dry-run channel")
    rounds: list[Cost] = []
    sent_per_round: list[int] = []
    left = due_now(database)
    while left and len(rounds) < 2_000:
        with measured(admin, name) as found:
            dispatch_job(app, dt.datetime.now(dt.UTC))
        rounds.append(found[0])
        before, left = left, due_now(database)
        sent_per_round.append(before - left)
    with database.session() as session:
        delivered = session.scalar(
            select(func.count(Notification.id))
            .where(Notification.dedupe_key.like("bench:%"))
            .where(Notification.state == NotificationState.SENT)
        )
    first = rounds[0]
    print(f"  first round (the job's 1 s budget): {first.line(shops)}")
    print(f"  sent per round: {', '.join(str(n) for n in sent_per_round[:12])}, …")
    wall = sum(c.wall for c in rounds)
    cpu = sum(c.cpu for c in rounds)
    print(
        f"  {len(rounds)} rounds until nothing was due: {delivered:,} sent in {wall:.1f} s wall "
        f"({delivered / wall:.0f} msg/s), {cpu:.1f} CPU-s here "
        f"({cpu / max(delivered, 1) * 1000:.2f} ms per message), "
        f"{sum(c.statements for c in rounds) / max(delivered, 1):.1f} statements per message"
    )

    print("\ndatabase size (pg_total_relation_size: table, indexes, TOAST)")
    found = sizes(url)
    whole = sum(size for _t, size, _r in found)
    for table, size, rows in found[:10]:
        per_row = f", {size / rows:.0f} B per row" if rows else ""
        print(f"  {table:<22} {size / 2**20:8.1f} MiB {rows:>10,} rows{per_row}")
    by_table = {table: (size, rows) for table, size, rows in found}
    orders = by_table["orders"][1]
    order_bytes = by_table["orders"][0] + by_table["order_lines"][0]
    print(
        f"  all tables {whole / 2**20:.1f} MiB: {whole / shops / 1024:.0f} KiB per shop; "
        f"orders with their lines {order_bytes / orders * 10_000 / 2**20:.2f} MiB per 10k orders "
        f"({order_bytes / orders:.0f} B per order with {by_table['order_lines'][1] / orders:.1f} "
        "lines)"
    )
    with database.session() as session:
        print(f"  {session.scalar(text('SELECT version()'))}")
    database.dispose()


if __name__ == "__main__":
    main()
