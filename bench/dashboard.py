"""How long the dashboard's numbers take as a shop's outbox grows (grouped queries only).

Usage: python bench/dashboard.py [DATABASE_URL] [ROWS ...]
Prints one line per size: rows, seconds to build the dashboard (best of 3).
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from plugin import migrate
from plugin.dashboard import build_dashboard
from plugin.db import Database
from plugin.models import Notification, Store

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)


def fill(database: Database, store_id: int, start: int, count: int) -> None:
    rng = random.Random(start)
    rows = []
    for n in range(start, start + count):
        sent = NOW - dt.timedelta(minutes=rng.randint(0, 120 * 24 * 60))
        state = rng.choices(["sent", "skipped", "failed"], weights=[85, 12, 3])[0]
        rows.append(
            {
                "store_id": store_id,
                "dedupe_key": f"bench:{n}",
                "flow": "cart_reminder",
                "phone": f"+49151{n:08d}",
                "template_name": "cart_reminder_1",
                "language": "de",
                "parameters": {},
                "context": {},
                "state": state,
                "reason": "holdout" if state == "skipped" else None,
                "due_at": sent,
                "sent_at": sent if state == "sent" else None,
                "delivery_status": rng.choice(["delivered", "read"]) if state == "sent" else None,
                "cost_micros": 113100 if state == "sent" else None,
                "attempts": 0,
                "created_at": sent,
                "updated_at": sent,
            }
        )
    with database.session() as session:
        for chunk in range(0, len(rows), 5000):
            session.execute(insert(Notification), rows[chunk : chunk + 5000])


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else f"sqlite:///{Path(tempfile.mkdtemp())}/bench.db"
    sizes = [int(a) for a in sys.argv[2:]] or [10_000, 100_000]
    migrate.upgrade(url)
    database = Database(url)
    with database.session() as session:
        store = Store(platform="shopify", domain="bench.myshopify.com", name="Bench")
        session.add(store)
        session.flush()
        store_id = store.id
    filled = 0
    for size in sizes:
        fill(database, store_id, filled, size - filled)
        filled = size
        timings = []
        for _ in range(3):
            with database.session() as session:
                store = session.get(Store, store_id)
                began = time.perf_counter()
                build_dashboard(session, store, NOW)
                timings.append(time.perf_counter() - began)
        print(f"{database.engine.dialect.name}: {size:>8,} notifications: {min(timings):.3f} s")


if __name__ == "__main__":
    main()
