"""Hostile input gets a clear 4xx, never a 500, and changes nothing.

Each test sends what an attacker (or a broken client) sent and checks the status, the answer,
and that no row was written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin import migrate
from plugin.consent import wording
from plugin.db import BUSY_TIMEOUT_MS, get_database
from plugin.models import (
    AuditEntry,
    Cart,
    ConsentEvent,
    Notification,
    OAuthState,
    Store,
    SubscriptionState,
    WebhookDelivery,
)
from plugin.web.guards import MAX_JSON_DEPTH, json_depth
from tests.conftest import make_app
from tests.factories import make_store, make_subscription
from tests.owner import csrf_headers, csrf_token, sign_in

WHATSAPP_SECRET = "hostile-test-app-secret"
WOO_SECRET = "hostile-woo-webhook-secret"
SHOPIFY_SECRET = "hostile-shopify-webhook-secret"
#: 4 KB of `[`: what made every JSON reader recurse until Python gave up.
DEEP = b"[" * 4096
TOO_BIG_ID = 2**31


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"whatsapp_app_secret": WHATSAPP_SECRET, "public_url": "https://shopnudge.test"}


def rows(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def woo_store(session: Session) -> Store:
    store = make_store(
        session,
        platform="woocommerce",
        domain="tee.example.de",
        base_url="https://tee.example.de",
        credentials={"consumer_key": "ck_1", "consumer_secret": "cs_1"},
        webhook_secret=WOO_SECRET,
    )
    session.commit()
    return store


def shopify_store(session: Session) -> Store:
    store = make_store(session, domain="kaffee.myshopify.com", webhook_secret=SHOPIFY_SECRET)
    wording.ensure_default_wordings(session, store)
    session.commit()
    return store


def woo_signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(WOO_SECRET.encode(), body, hashlib.sha256).digest()).decode()


def shopify_headers(body: bytes, topic: str = "orders/create") -> dict[str, str]:
    digest = hmac.new(SHOPIFY_SECRET.encode(), body, hashlib.sha256).digest()
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
        "X-Shopify-Shop-Domain": "kaffee.myshopify.com",
        "X-Shopify-Event-Id": "evt-1",
    }


def test_depth_is_counted_outside_strings_only() -> None:
    assert json_depth(b'{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"[" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1


def test_deeply_nested_json_is_400_on_every_json_route(
    client: FlaskClient, session: Session
) -> None:
    shop = shopify_store(session)
    woo = woo_store(session)
    sign_in(client, session, shop)
    whatsapp_signature = "sha256=" + hmac.new(WHATSAPP_SECRET.encode(), DEEP, "sha256").hexdigest()
    json_type = {"Content-Type": "application/json"}
    requests = {
        "optins": (f"/api/v1/stores/{shop.public_key}/optins", json_type),
        "carts": (f"/api/v1/stores/{woo.public_key}/carts", json_type),
        "woocommerce callback": ("/woocommerce/callback", json_type),
        "woocommerce webhook": (
            f"/webhooks/woocommerce/{woo.id}",
            {
                **json_type,
                "X-WC-Webhook-Signature": woo_signature(DEEP),
                "X-WC-Webhook-Source": "https://tee.example.de/",
                "X-WC-Webhook-Topic": "order.created",
            },
        ),
        "shopify webhook": ("/webhooks/shopify", shopify_headers(DEEP)),
        "whatsapp webhook": (
            "/webhooks/whatsapp",
            {**json_type, "X-Hub-Signature-256": whatsapp_signature},
        ),
        "settings form": ("/app/settings/quiet", json_type),
    }

    statuses = {
        name: client.post(path, data=DEEP, headers=headers).status_code
        for name, (path, headers) in requests.items()
    }

    assert statuses == dict.fromkeys(requests, 400)
    assert rows(session, WebhookDelivery) == 0
    assert rows(session, ConsentEvent) == 0
    assert rows(session, Cart) == 0
    assert rows(session, AuditEntry) == 0


def test_non_ascii_whatsapp_signature_is_401(client: FlaskClient, session: Session) -> None:
    body = b'{"object": "whatsapp_business_account", "entry": []}'

    response = client.post(
        "/webhooks/whatsapp",
        data=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=\u00e9\u00e9"},
    )

    assert response.status_code == 401
    assert rows(session, WebhookDelivery) == 0


@pytest.mark.parametrize(
    "path",
    [
        f"/app/outbox/{TOO_BIG_ID}",
        f"/app/outbox/{2**63}",
        f"/api/v1/admin/notifications/{TOO_BIG_ID}",
        f"/api/v1/admin/notifications/{10**40}",
    ],
)
def test_ids_beyond_the_database_integer_range_are_404(
    client: FlaskClient, session: Session, path: str
) -> None:
    sign_in(client, session, make_store(session))

    assert client.get(path).status_code == 404


def test_woocommerce_webhook_for_a_store_id_beyond_bigint_is_404(
    client: FlaskClient, session: Session
) -> None:
    body = b'{"id": 1}'

    response = client.post(
        f"/webhooks/woocommerce/{TOO_BIG_ID}",
        data=body,
        headers={"Content-Type": "application/json", "X-WC-Webhook-Signature": "x"},
    )

    assert response.status_code == 404
    assert rows(session, WebhookDelivery) == 0


def test_largest_bigint_id_still_routes_and_finds_nothing(
    client: FlaskClient, session: Session
) -> None:
    sign_in(client, session, make_store(session))

    response = client.get(f"/api/v1/admin/notifications/{TOO_BIG_ID - 1}")

    assert response.status_code == 404
    assert rows(session, Notification) == 0


def test_cli_store_with_a_broken_ipv6_address_exits_2_with_one_line(
    runner: FlaskCliRunner, session: Session
) -> None:
    result = runner.invoke(
        args=[
            "stores",
            "add",
            "--platform",
            "woocommerce",
            "--domain",
            "http://[::1",
            "--consumer-key",
            "ck",
            "--consumer-secret",
            "cs",
        ]
    )

    assert result.exit_code == 2
    assert result.output.strip() == "error: 'http://[::1' is not a WooCommerce site address"
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert rows(session, Store) == 0


def test_json_body_posted_to_a_settings_form_is_400_and_changes_nothing(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)
    before = session.get(Store, store.id).settings  # type: ignore[union-attr]

    responses = [
        client.post("/app/settings/quiet", json={"quiet_start": "01:00"}),
        client.post("/app/settings/budget", json=[1, 2]),
        client.post("/app/settings/sending", data="action=pause", content_type="text/plain"),
    ]

    assert [r.status_code for r in responses] == [400, 400, 400]
    session.expire_all()
    assert session.get(Store, store.id).settings == before  # type: ignore[union-attr]
    assert rows(session, AuditEntry) == 0


def test_connect_with_a_broken_ipv6_address_is_400(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    sign_in(client, session, woo_store(session))

    response = client.get("/woocommerce/connect?store_url=http://%5B::1")

    assert response.status_code == 400
    assert response.get_data(as_text=True).startswith("Cannot connect: ")
    assert rows(session, OAuthState) == 0


def test_shallow_json_reaches_the_view_unchanged(client: FlaskClient, session: Session) -> None:
    store = shopify_store(session)
    body = json.dumps({"phone": "0151 23456789", "consent": False, "wording_version": 1})

    response = client.post(
        f"/api/v1/stores/{store.public_key}/optins",
        data=body,
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.get_json()["reason"] == "consent_missing"


def test_cross_origin_opt_out_with_the_session_cookie_is_refused(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    subscription = make_subscription(session, store, phone="+4915123456789")
    session.commit()
    sign_in(client, session, store)

    forged = client.post(
        "/api/v1/admin/subscriptions/+4915123456789/opt-out",
        data="x",
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )

    assert forged.status_code == 400
    assert forged.get_json()["error"] == "bad_request"
    session.refresh(subscription)
    assert subscription.state == SubscriptionState.CONFIRMED
    assert rows(session, AuditEntry) == 0
    assert rows(session, ConsentEvent) == 0


def test_owner_opt_out_with_the_csrf_token_works(client: FlaskClient, session: Session) -> None:
    store = make_store(session)
    subscription = make_subscription(session, store, phone="+4915123456789")
    session.commit()
    sign_in(client, session, store)

    response = client.post(
        "/api/v1/admin/subscriptions/+4915123456789/opt-out", headers=csrf_headers(client)
    )

    assert response.status_code == 200
    session.refresh(subscription)
    assert subscription.state == SubscriptionState.OPTED_OUT


def test_logout_without_the_csrf_token_keeps_the_owner_signed_in(
    client: FlaskClient, session: Session
) -> None:
    sign_in(client, session, make_store(session))

    forged = client.post("/app/logout", headers={"Origin": "https://evil.example"})
    still_in = client.get("/app/")
    token = csrf_token(still_in.get_data(as_text=True))
    real = client.post("/app/logout", data={"csrf_token": token})

    assert (forged.status_code, still_in.status_code) == (400, 200)
    assert real.status_code == 302
    assert client.get("/app/").status_code == 302  # now signed out


def test_first_page_shows_nothing_of_any_shop_without_a_session(
    client: FlaskClient, session: Session
) -> None:
    make_store(session, name="Bohne Eins", domain="bohne-eins.myshopify.com")
    session.commit()

    html = client.get("/").get_data(as_text=True)

    assert "Bohne Eins" not in html and "bohne-eins" not in html
    assert "data-metric" not in html
    assert '<a href="/app/">Open the shop owner\'s app</a>' in html


def test_first_page_shows_only_the_signed_in_shop(client: FlaskClient, session: Session) -> None:
    mine = make_store(session, name="Bohne Eins", domain="bohne-eins.myshopify.com")
    make_store(session, name="Fremder Laden", domain="fremd.myshopify.com")
    session.commit()
    sign_in(client, session, mine)

    html = client.get("/").get_data(as_text=True)

    assert "Bohne Eins" in html
    assert "Fremder Laden" not in html and "fremd.myshopify.com" not in html
    assert html.count('data-metric="orders"') == 1


def fresh_app(tmp_path: Path) -> tuple[Flask, Path]:
    """An app on its own new SQLite file, migrated the way `shopnudge db upgrade` does."""
    path = tmp_path / "data" / "shopnudge.db"
    path.parent.mkdir()
    url = f"sqlite:///{path}"
    app = make_app(url, tmp_path / "instance")
    migrate.upgrade(url)
    return app, path


def test_sqlite_file_is_0600_and_the_instance_folder_0700(tmp_path: Path) -> None:
    app, path = fresh_app(tmp_path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "instance").stat().st_mode) == 0o700
    get_database(app).dispose()


def test_sqlite_runs_in_wal_mode_with_a_bounded_busy_timeout(tmp_path: Path) -> None:
    app, _path = fresh_app(tmp_path)

    with get_database(app).engine.connect() as connection:
        mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()

    assert (mode, timeout) == ("wal", BUSY_TIMEOUT_MS)
    assert BUSY_TIMEOUT_MS <= 3000  # well inside Shopify's 5 s to answer a webhook
    get_database(app).dispose()


def test_healthz_is_503_on_a_corrupted_database(tmp_path: Path) -> None:
    app, path = fresh_app(tmp_path)
    get_database(app).dispose()
    with sqlite3.connect(path) as reader:
        page_size = reader.execute("PRAGMA page_size").fetchone()[0]
        roots = [r for (r,) in reader.execute("SELECT rootpage FROM sqlite_master WHERE rootpage")]
    with path.open("r+b") as handle:  # the schema survives; every table's first page does not
        for root in roots:
            handle.seek((root - 1) * page_size)
            handle.write(b"\xff" * page_size)

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable"}
    get_database(app).dispose()


def test_optin_during_a_long_write_answers_503_with_retry_after_quickly(
    tmp_path: Path,
) -> None:
    app, path = fresh_app(tmp_path)
    with get_database(app).session() as session:
        store = shopify_store(session)
        key = store.public_key
    writer = sqlite3.connect(path, timeout=0)
    writer.execute("BEGIN IMMEDIATE")  # a long writer holds the lock
    try:
        started = time.monotonic()
        response = app.test_client().post(
            f"/api/v1/stores/{key}/optins",
            json={"phone": "0151 23456789", "consent": True, "wording_version": 1},
        )
        elapsed = time.monotonic() - started
    finally:
        writer.rollback()
        writer.close()

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.get_json()["error"] == "database_busy"
    assert elapsed < 4.5
    with get_database(app).session() as session:
        assert rows(session, ConsentEvent) == 0
    get_database(app).dispose()


def test_owner_erase_without_the_csrf_token_is_refused_and_erases_nothing(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    subscription = make_subscription(session, store, phone="+4915123456789")
    session.commit()
    sign_in(client, session, store)

    forged = client.post(
        "/app/consent/erase",
        data={"phone": "+4915123456789"},
        headers={"Origin": "https://evil.example"},
    )

    assert forged.status_code == 400
    session.refresh(subscription)
    assert (subscription.phone, subscription.state) == ("+4915123456789", "confirmed")
    assert rows(session, AuditEntry) == 0


@pytest.mark.parametrize("path", ["/widget/%00.js", "/api/v1/stores/%00/optin-form", "/u/%00"])
def test_a_nul_in_a_url_is_404(client: FlaskClient, path: str) -> None:
    assert client.get(path).status_code == 404
