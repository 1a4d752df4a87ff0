"""Webhook acknowledgement: one stored row answers the platform; the work follows, never lost.

A real gunicorn serves the app on PostgreSQL for the crash test: the answer goes out, the
processing after it is held on a table lock, the server is killed, and a worker's tick finishes
the stored delivery: the order exists exactly once, and the platform's retry changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from plugin import migrate
from plugin.db import Database, get_database
from plugin.models import Order, Store, WebhookDelivery
from tests.conftest import TEST_ENCRYPTION_KEY, make_app
from tests.factories import make_store
from tests.vendor import vendor_file

ROOT = Path(__file__).resolve().parents[1]
APP_SECRET = "ack-app-secret"
DOMAIN = "ack-shop.myshopify.com"
WOO_SITE = "https://ack.example.de"


def order_body(order_id: int) -> bytes:
    """Shopify's documented orders/create example with this order id."""
    path = vendor_file("shopify", "webhook-examples-2026-07", "orders", "create.json")
    body = json.loads(path.read_text())["response"]
    body["id"] = order_id
    body["admin_graphql_api_id"] = f"gid://shopify/Order/{order_id}"
    return json.dumps(body).encode()


def shopify_headers(raw: bytes, event_id: str, secret: str = APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Shop-Domain": DOMAIN,
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": "2026-12-04T10:00:00.000000Z",
    }


def woo_headers(raw: bytes, secret: str) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest())
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": f"{WOO_SITE}/",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Signature": signature.decode(),
        "X-WC-Webhook-ID": "142",
    }


def count(session: Session, model: type) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model)) or 0


# -- in process ------------------------------------------------------------------------------


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"shopify_api_secret": APP_SECRET, "webhook_processing": "worker"}


@pytest.fixture
def shop(session: Session) -> Store:
    store = make_store(session, platform="shopify", domain=DOMAIN)
    session.commit()
    return store


def test_worker_mode_answers_with_the_stored_row_and_processes_nothing(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, shop: Store
) -> None:
    # given web processes that only answer (SHOPNUDGE_WEBHOOK_PROCESSING=worker)
    raw = order_body(5001)
    # when Shopify delivers an order
    response = client.post("/webhooks/shopify", data=raw, headers=shopify_headers(raw, "e-1"))
    # then the answer says accepted, the delivery is stored, and no order was written yet
    assert (response.status_code, response.json) == (200, {"status": "accepted"})
    assert (count(session, WebhookDelivery), count(session, Order)) == (1, 0)
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert (delivery.processed_at, delivery.body, delivery.attempts) == (None, raw, 0)
    # when a worker's tick runs
    result = runner.invoke(args=["tick"])
    # then the order exists once and the delivery is done
    assert result.exit_code == 0, result.output
    assert count(session, Order) == 1
    assert session.scalars(select(Order.platform_id)).one() == "5001"
    assert session.scalars(select(WebhookDelivery)).one().processed_at is not None


def test_a_replay_is_answered_duplicate_and_stored_once(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    raw = order_body(5002)
    first = client.post("/webhooks/shopify", data=raw, headers=shopify_headers(raw, "e-2"))
    again = client.post("/webhooks/shopify", data=raw, headers=shopify_headers(raw, "e-2"))
    assert (first.json, again.json) == ({"status": "accepted"}, {"status": "duplicate"})
    assert count(session, WebhookDelivery) == 1


def test_a_changed_webhook_secret_is_used_at_once_despite_the_cache(
    app: Flask, session: Session
) -> None:
    # given a WooCommerce shop whose deliveries were checked (and its keys cached) once
    store = make_store(
        session,
        platform="woocommerce",
        domain="ack.example.de",
        base_url=WOO_SITE,
        credentials={"consumer_key": "ck_x", "consumer_secret": "cs_x"},
        webhook_secret="old-secret",
    )
    session.commit()
    client = app.test_client()
    url = f"/webhooks/woocommerce/{store.id}"
    first = json.dumps({"id": 1, "status": "processing"}).encode()
    assert client.post(url, data=first, headers=woo_headers(first, "old-secret")).status_code == 200
    # when the shop's webhook secret changes in this process
    store.webhook_secret = "new-secret"
    session.commit()
    # then the old secret is refused and the new one accepted on the very next deliveries
    second = json.dumps({"id": 2, "status": "processing"}).encode()
    assert (
        client.post(url, data=second, headers=woo_headers(second, "old-secret")).status_code == 401
    )
    assert (
        client.post(url, data=second, headers=woo_headers(second, "new-secret")).status_code == 200
    )
    assert count(session, WebhookDelivery) == 2


# -- a real server, killed between the answer and the work ----------------------------------


@dataclass
class Served:
    url: str
    server: subprocess.Popen[bytes]
    database: Database
    app: Flask


@pytest.fixture
def served(postgres_url: str, tmp_path: Path) -> Iterator[Served]:
    """gunicorn (one sync worker) on a PostgreSQL database of its own, in its own group."""
    migrate.upgrade(postgres_url)
    app = make_app(postgres_url, tmp_path / "instance", shopify_api_secret=APP_SECRET)
    database = Database(postgres_url)
    with database.session() as session:
        make_store(session, platform="shopify", domain=DOMAIN)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(
        os.environ,
        SHOPNUDGE_DATABASE_URL=postgres_url,
        SHOPNUDGE_INSTANCE_PATH=str(tmp_path / "instance"),
        SHOPNUDGE_SECRET_KEY="test-secret-key",
        SHOPNUDGE_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        SHOPNUDGE_WEBHOOK_PROCESSING="after_answer",
        SHOPIFY_API_SECRET=APP_SECRET,
    )
    gunicorn = Path(sys.executable).parent / "gunicorn"
    server = subprocess.Popen(
        [str(gunicorn), "--workers", "1", "--bind", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield Served(url, server, database, app)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)
        database.dispose()
        get_database(app).dispose()


def waiting_on_a_lock(admin: Any, database_name: str) -> bool:
    with admin.connect() as connection:
        return bool(
            connection.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = :name AND wait_event_type = 'Lock'"
                ),
                {"name": database_name},
            )
        )


@pytest.mark.postgres
def test_a_server_killed_after_answering_loses_nothing_and_doubles_nothing(
    served: Served,
) -> None:
    url, database = served.url, served.database
    name = database.engine.url.database
    admin = create_engine(database.engine.url)
    raw = order_body(7001)
    # given the orders table held by another transaction, so the work after the answer waits
    lock = admin.connect()
    lock.execute(text("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"))
    try:
        # when Shopify delivers an order
        answer = requests.post(
            f"{url}/webhooks/shopify", data=raw, headers=shopify_headers(raw, "e-7"), timeout=10
        )
        # then it is answered while the processing is still waiting for the table
        assert (answer.status_code, answer.json()) == (200, {"status": "accepted"})
        deadline = time.monotonic() + 10
        while not waiting_on_a_lock(admin, name) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert waiting_on_a_lock(admin, name)
        # when the server dies right there
        os.killpg(served.server.pid, signal.SIGKILL)
        served.server.wait(10)
    finally:
        lock.rollback()
        lock.close()
    with database.session() as session:
        # then the delivery is stored and unprocessed, and no order exists
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert (delivery.processed_at, delivery.body) == (None, raw)
        assert count(session, Order) == 0
    # when a worker starts and ticks
    result = served.app.test_cli_runner().invoke(args=["tick"])
    assert result.exit_code == 0, result.output
    # then the order is there exactly once
    with database.session() as session:
        assert session.scalars(select(Order.platform_id)).all() == ["7001"]
        assert session.scalars(select(WebhookDelivery)).one().processed_at is not None
    # and Shopify's retry of the unanswered-looking delivery, and another tick, change nothing
    retry = served.app.test_client().post(
        "/webhooks/shopify", data=raw, headers=shopify_headers(raw, "e-7"), buffered=True
    )
    assert retry.json == {"status": "duplicate"}
    assert served.app.test_cli_runner().invoke(args=["tick"]).exit_code == 0
    with database.session() as session:
        assert session.scalars(select(Order.platform_id)).all() == ["7001"]
        assert count(session, WebhookDelivery) == 1
    admin.dispose()
