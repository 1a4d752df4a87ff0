"""Time a campaign's segment count and its compose for a large shop on PostgreSQL.

Builds a synthetic shop (1,000,000 orders, 100,000 subscribers: 95 % confirmed, 3 % opted out,
2 % pending) with INSERT … SELECT over generate_series, set-based in the database, then times:
  1. the live segment count the composer shows (goal: under 1 s), three times, against one
     plain scan of the shop's orders in the same run (the least a count over them can cost);
  2. the compose: the campaign's plan after every guard and its outbox rows (goal: under 10 s),
     against reading the segment's buyers alone (the least a compose can cost).
Prints wall seconds, CPU seconds of this process and of the database backend serving it (read
from /proc; the backend's parallel workers are not in it, so the count runs once more in a
serial plan for the whole of its database CPU), the machine's cores and its load average at
the start, which on a shared machine move the figures.

    .venv/bin/python bench/campaign.py --url postgresql+psycopg://postgres@127.0.0.1:5432/DB
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import load_average, timed
from plugin import crypto, migrate
from plugin.campaigns import drafts, lifecycle, segments
from plugin.campaigns.audience import load_buyers
from plugin.config import Settings
from plugin.db import Database
from plugin.models import (
    Campaign,
    Notification,
    Order,
    Store,
    WhatsAppAccount,
    WhatsAppTemplate,
)

KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="
#: A Monday, 09:00 UTC: 10:00 in Berlin, inside the send window and outside quiet hours.
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC)
#: Buyers with at least two orders, the last within a year, who read German.
SEGMENT = {
    "rules": [
        {"rule": "orders", "min": 2},
        {"rule": "days_since_last_order", "max": 365},
        {"rule": "language", "in": ["de"]},
    ]
}
BODY = "Hallo {{1}}, bei {{2}} gibt es diese Woche 20 % auf alles."

CUSTOMERS = """
INSERT INTO customers (store_id, platform_id, phone, country, first_name, locale,
                       created_at, updated_at)
SELECT :store, 'c' || g, '+49151' || lpad(g::text, 8, '0'), 'DE', 'Kim', 'de', :stamp, :stamp
FROM generate_series(1, :buyers) AS g
"""
#: g % 100: 0-1 pending, 2-4 opted out, the rest confirmed between 1 and 400 days ago.
SUBSCRIPTIONS = """
INSERT INTO subscriptions (store_id, phone, customer_id, state, locale, confirmed_at,
                           opted_out_at, undeliverable, created_at, updated_at)
SELECT c.store_id, c.phone, c.id,
       CASE WHEN c.id % 100 < 2 THEN 'pending' WHEN c.id % 100 < 5 THEN 'opted_out'
            ELSE 'confirmed' END,
       'de',
       CASE WHEN c.id % 100 < 2 THEN NULL ELSE :now - (1 + c.id % 400) * interval '1 day' END,
       CASE WHEN c.id % 100 BETWEEN 2 AND 4 THEN :now - interval '1 day' END,
       false, :stamp, :stamp
FROM customers AS c WHERE c.store_id = :store
"""
#: Orders spread over 500 days, unevenly over the buyers (g * 7919 scatters them).
ORDERS = """
INSERT INTO orders (store_id, platform_id, customer_id, total_minor, currency, placed_at,
                    created_at, updated_at)
SELECT :store, 'o' || g, :first + (g * 7919) % :buyers, 1000 + (g * 37) % 9000, 'EUR',
       :now - ((g * 104729) % 500) * interval '1 day' - (g % 86400) * interval '1 second',
       :stamp, :stamp
FROM generate_series(1::bigint, :orders) AS g
"""


def build_shop(database: Database, orders: int, buyers: int) -> int:
    """The shop, its number and template by the ORM; its buyers and orders set-based."""
    with database.session() as session:
        store = Store(platform="shopify", domain="bench-campaign.myshopify.com", name="Bench")
        store.settings = {"holdout_percent": 0}
        session.add(store)
        session.flush()
        session.add(
            WhatsAppAccount(
                store_id=store.id,
                phone_number_id="bench",
                waba_id="bench",
                token="x",
                quality_rating="GREEN",
                dry_run=True,
            )
        )
        session.add(
            WhatsAppTemplate(
                store_id=store.id,
                name="bench_offer",
                language="de",
                purpose="campaign",
                category="MARKETING",
                status="APPROVED",
                components=[{"type": "BODY", "text": BODY}],
            )
        )
        session.flush()
        values = {"store": store.id, "stamp": NOW - dt.timedelta(days=600), "now": NOW}
        session.execute(text(CUSTOMERS), {**values, "buyers": buyers})
        first = session.scalar(
            text("SELECT min(id) FROM customers WHERE store_id = :store"), values
        )
        session.execute(text(SUBSCRIPTIONS), values)
        session.execute(
            text(ORDERS), {**values, "orders": orders, "buyers": buyers, "first": first}
        )
        session.commit()
        store_id = store.id
    with database.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    return store_id


def count_segment(session: Session, store: Store, serial: bool = False) -> int:
    """The composer's live count, in its own transaction as a request would run it; `serial`
    keeps PostgreSQL's parallel workers out, so the backend's CPU is all the query's CPU."""
    segments.make_room(session)
    if serial:
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
    counted = session.scalar(segments.count_query(store, SEGMENT, NOW)) or 0
    session.rollback()
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="time again on the shop built before")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average at start {load_average()} (1, 5, 15 min)")
    migrate.upgrade(args.url)
    crypto.configure((KEY,))
    database = Database(args.url)
    # the bench's campaign has no unique coupons: the secret key signs none of its codes
    settings = Settings(
        instance_path=Path.cwd(),
        database_url=args.url,
        secret_key="bench",
        encryption_keys=(KEY,),
        encryption_keys_in_instance=False,
    )
    if args.reuse:
        with database.session() as session:
            session.execute(delete(Notification))
            session.execute(delete(Campaign))
            session.commit()
    else:
        started = time.perf_counter()
        build_shop(database, args.orders, args.subscribers)
        print(f"built the shop in {time.perf_counter() - started:.1f} s")
    with database.session() as session:
        store = session.get(Store, session.scalar(select(func.max(Store.id))))
        assert store is not None
        print(f"shop: {args.orders:,} orders, {args.subscribers:,} subscribers")
        scan = select(func.count(), func.sum(Order.total_minor)).where(Order.store_id == store.id)
        _, baseline = timed(session, lambda: session.execute(scan).one())
        print(f"baseline, one scan of the shop's orders: {baseline.line()}")
        for _ in range(3):
            counted, count = timed(session, lambda: count_segment(session, store))
            print(
                f"segment count: {counted:,} buyers in {count.line()} "
                f"({count.wall / baseline.wall:.1f}x the scan; goal under 1 s)"
            )
        _, serial = timed(session, lambda: count_segment(session, store, serial=True))
        print(
            f"segment count in a serial plan (all of the database's CPU in its backend): "
            f"{serial.line()}"
        )
        buyers, read = timed(session, lambda: load_buyers(session, store, SEGMENT, NOW))
        print(f"baseline, reading the segment's {len(buyers):,} buyers alone: {read.line()}")
        campaign = drafts.create_campaign(
            session, store, name="Bench", template="bench_offer", segment=SEGMENT
        )
        session.commit()
        session.expire_all()

        def compose() -> int:
            pending = lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
            session.commit()
            return pending

        pending, composed = timed(session, compose)
        rows = session.scalar(select(func.count(Notification.id)))
        print(
            f"compose: {rows:,} outbox rows ({pending:,} pending) in {composed.line()} "
            f"({composed.wall / read.wall:.1f}x reading the buyers; goal under 10 s)"
        )
        again, second = timed(
            session, lambda: lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
        )
        written = session.scalar(select(func.count(Notification.id)))
        print(f"second start: {written - rows} new rows ({again:,} pending) in {second.line()}")
    print(f"load average at the end {load_average()}; not a quiet machine when it is above 0")


if __name__ == "__main__":
    main()
