"""Dispatch throughput with 1 and 4 worker processes on PostgreSQL, beside the configured limit.

Seeds due notifications to distinct confirmed buyers, then lets each worker process run the
dispatcher (claim with SKIP LOCKED, guards, limiter, send, record) until nothing is due, and
prints messages per second. The channel is the dry-run channel (records, answers a wamid) unless
--fake-meta serves tests/fakes/meta.py on a local port and sends to it through the Cloud API
client (or --graph-url names another server).

    .venv/bin/python bench/dispatch.py --url postgresql+psycopg://postgres@127.0.0.1:5432/DB
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import sys
import time
from pathlib import Path

from sqlalchemy import delete, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugin import create_app, crypto, migrate
from plugin.db import Database, utcnow
from plugin.engine.dispatch import dispatch_due
from plugin.engine.outbox import insert_rows
from plugin.models import (
    Notification,
    RateBucket,
    Store,
    Subscription,
    WhatsAppAccount,
    WhatsAppTemplate,
)

KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="


def seed(database: Database, count: int, mps: int, cloud: bool) -> None:
    with database.session() as session:
        for model in (Notification, Subscription, WhatsAppTemplate, WhatsAppAccount, RateBucket):
            session.execute(delete(model))
        session.execute(delete(Store))
        store = Store(
            platform="shopify",
            domain="bench-dispatch.myshopify.com",
            settings={
                "holdout_percent": 0,
                "quiet_hours_start": "00:00",
                "quiet_hours_end": "00:00",
            },
        )
        session.add(store)
        session.flush()
        session.add(
            WhatsAppAccount(
                store_id=store.id,
                phone_number_id="1098765432",
                waba_id="bench",
                token="EAAG-test-token",  # what the fake Graph API accepts
                quality_rating="GREEN",
                throughput_mps=mps,
                dry_run=not cloud,
            )
        )
        session.add(
            WhatsAppTemplate(
                store_id=store.id,
                name="shopnudge_recommendation",
                language="de",
                purpose="recommendation",
                status="APPROVED",
            )
        )
        phones = [f"+49152{n:08d}" for n in range(count)]
        session.add_all(
            Subscription(store_id=store.id, phone=p, state="confirmed", locale="de") for p in phones
        )
        now = utcnow()
        insert_rows(
            session,
            [
                {
                    "store_id": store.id,
                    "dedupe_key": f"bench:{n}",
                    "flow": "recommendation",
                    "phone": phone,
                    "template_name": "shopnudge_recommendation",
                    "language": "de",
                    "parameters": {"body": [{"type": "text", "text": "Kim"}]},
                    "context": {"purpose": "recommendation"},
                    "state": "pending",
                    "due_at": now - dt.timedelta(seconds=1),
                    "cost_micros": 113100,
                    "created_at": now,
                    "updated_at": now,
                }
                for n, phone in enumerate(phones)
            ],
        )


def work(url: str, graph_url: str | None) -> None:
    config = {
        "database_url": url,
        "encryption_keys": (KEY,),
        "secret_key": "bench",
        "encryption_keys_in_instance": False,
        "log_level": "WARNING",
    }
    if graph_url:
        config["graph_api_url"] = graph_url
    app = create_app(config)
    with app.app_context():
        database = app.extensions["shopnudge.db"]
        while dispatch_due(database, utcnow()).sent:
            pass
        database.dispose()


def run(url: str, workers: int, count: int, mps: int, graph_url: str | None) -> float:
    crypto.configure((KEY,))
    database = Database(url)
    seed(database, count, mps, cloud=graph_url is not None)
    started = time.perf_counter()
    processes = [
        multiprocessing.Process(target=work, args=(url, graph_url)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    with database.session() as session:
        sent = session.scalar(select(func.count()).where(Notification.state == "sent"))
    database.dispose()
    assert sent == count, f"only {sent} of {count} sent"
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--graph-url", help="a Cloud API server to send to (default: dry run)")
    parser.add_argument("--fake-meta", action="store_true", help="serve the fake Graph API")
    args = parser.parse_args()
    migrate.upgrade(args.url)
    if args.fake_meta:
        from tests.fakes.meta import FakeMeta
        from tests.fakes.server import LocalServer

        server = LocalServer(FakeMeta().app, keep_alive=True)
        args.graph_url = server.__enter__().url
    channel = f"Cloud API at {args.graph_url}" if args.graph_url else "dry-run channel"
    print(f"{args.messages:,} due messages to distinct buyers, {channel}, PostgreSQL")
    print(f"{'configured limit':>18} {'1 worker':>12} {'4 workers':>12}")
    for mps in (80, 1000):
        rates = [run(args.url, workers, args.messages, mps, args.graph_url) for workers in (1, 4)]
        print(f"{mps:>14} msg/s {rates[0]:>8.0f} msg/s {rates[1]:>8.0f} msg/s")


if __name__ == "__main__":
    main()
