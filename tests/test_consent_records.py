"""Proof of consent for the owner (API, CLI), erasure after a real opt-in, retention."""

from __future__ import annotations

import datetime as dt
import json

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.consent import ledger, replies, wording
from plugin.consent.gdpr import erase_buyer
from plugin.consent.retention import consent_retention_job, purge_stale_consent
from plugin.db import utcnow
from plugin.models import (
    ConsentEvent,
    ConsentKind,
    Notification,
    RateBucket,
    Store,
    Subscription,
    SubscriptionState,
)
from plugin.web.auth import issue_login_token
from tests.factories import make_customer, make_store
from tests.owner import csrf_headers
from tests.test_shared_rules import every_text_value

ORIGIN = "https://wagner.myshopify.com"
UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1"


def shop(session: Session) -> Store:
    store = make_store(session, domain="wagner.myshopify.com", name="Wagner")
    wording.ensure_default_wordings(session, store)
    session.commit()
    return store


def opt_in(client: FlaskClient, store: Store, phone: str = "+4915123456789", **extra: str) -> None:
    response = client.post(
        f"/api/v1/stores/{store.public_key}/optins",
        json={"phone": phone, "consent": True, "wording_version": 1, "locale": "en", **extra},
        headers={"Origin": ORIGIN, "User-Agent": UA},
        environ_base={"REMOTE_ADDR": "192.0.2.44"},
    )
    assert response.status_code == 202, response.json


def sign_in(client: FlaskClient, session: Session, store: Store) -> None:
    token = issue_login_token(session, store)
    session.commit()
    client.get(f"/app/login/{token}")


def test_owner_sees_the_ledger_with_the_exact_wording(
    client: FlaskClient, session: Session
) -> None:
    store = shop(session)
    opt_in(client, store)
    replies.handle_inbound(
        session, store, phone="+4915123456789", text="YES", message_id="wamid.C1"
    )
    session.commit()
    sign_in(client, session, store)

    response = client.get("/api/v1/admin/subscriptions/+4915123456789")

    assert response.status_code == 200
    record = response.json
    assert record["state"] == "confirmed"
    requested, confirmed = record["events"]
    assert requested["kind"] == "requested" and requested["source"] == "widget"
    assert requested["wording"]["version"] == 1
    assert requested["wording"]["text"] == wording.DEFAULT_WORDING["en"].format(business="Wagner")
    assert (requested["ip"], requested["user_agent"]) == ("192.0.2.44", UA)
    assert confirmed["kind"] == "confirmed" and confirmed["message_id"] == "wamid.C1"
    assert confirmed["occurred_at"] >= requested["occurred_at"]


def test_owner_api_needs_a_signed_in_shop_and_sees_only_its_own(
    client: FlaskClient, session: Session
) -> None:
    store = shop(session)
    other = make_store(session, name="Other")
    session.commit()
    opt_in(client, store)

    anonymous = client.get("/api/v1/admin/subscriptions/+4915123456789")
    sign_in(client, session, other)
    foreign = client.get("/api/v1/admin/subscriptions/+4915123456789")
    foreign_opt_out = client.post(
        "/api/v1/admin/subscriptions/+4915123456789/opt-out", headers=csrf_headers(client)
    )

    assert anonymous.status_code == 401
    assert foreign.status_code == 404
    assert foreign_opt_out.status_code == 200  # suppresses the number in the other shop only
    subscription = ledger.find_subscription(session, store.id, "+4915123456789")
    assert subscription is not None and subscription.state == SubscriptionState.PENDING


def test_owner_exports_a_buyers_data(client: FlaskClient, session: Session) -> None:
    store = shop(session)
    opt_in(client, store)
    sign_in(client, session, store)

    response = client.get("/api/v1/admin/subscriptions/0151 23456789/export")

    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    events = response.json["subscriptions"][0]["events"]
    assert [e["kind"] for e in events] == ["requested"]
    assert events[0]["wording"]["version"] == 1


def test_cli_shows_the_subscription_and_its_ledger(
    runner: FlaskCliRunner, client: FlaskClient, session: Session
) -> None:
    store = shop(session)
    opt_in(client, store)

    listing = runner.invoke(args=["subscriptions", "show", store.public_key, "0151 23456789"])
    as_json = runner.invoke(
        args=["subscriptions", "show", str(store.id), "+4915123456789", "--json"]
    )
    missing = runner.invoke(args=["subscriptions", "show", str(store.id), "+4915199999999"])

    assert listing.exit_code == 0, listing.output
    assert listing.output.startswith("+4915123456789  state: pending\n")
    assert "requested  via widget" in listing.output
    assert "wording v1 (en): Yes, Wagner may send me WhatsApp messages" in listing.output
    assert "ip: 192.0.2.44" in listing.output
    record = json.loads(as_json.output)
    assert record["state"] == "pending"
    assert record["events"][0]["wording"]["text"].startswith("Yes, Wagner may send me")
    assert missing.exit_code == 1


def test_erasure_after_a_real_optin_leaves_no_personal_data(
    client: FlaskClient, session: Session
) -> None:
    store = shop(session)
    customer = make_customer(
        session,
        store,
        platform_id="8123",
        phone="+4915123456789",
        email="jana.kowalczyk@example.com",
        first_name="Jana",
        last_name="Kowalczyk",
    )
    session.commit()
    opt_in(client, store, customer_id="8123", cart_token="cart-xyz")
    replies.handle_inbound(session, store, phone="+4915123456789", text="ja", message_id="wamid.E")
    session.commit()

    erase_buyer(session, store, customer_platform_id="8123", source="gdpr")
    session.commit()

    dump = every_text_value(session)
    for personal in (
        "+4915123456789",
        "4915123456789",
        "jana.kowalczyk@example.com",
        "Jana",
        "Kowalczyk",
        "192.0.2.44",
        UA,
        "wamid.E",
    ):
        assert personal not in dump, personal
    subscription = session.scalars(select(Subscription)).one()
    assert subscription.state == SubscriptionState.OPTED_OUT
    assert customer.erased_at is not None
    # a new opt-in with the same number starts over and must be confirmed again
    opt_in(client, store, phone="+4915123456789")
    fresh = ledger.find_subscription(session, store.id, "+4915123456789")
    assert fresh is not None and fresh.state == SubscriptionState.PENDING


def test_unconfirmed_optins_are_purged_after_the_shops_period(
    client: FlaskClient, session: Session
) -> None:
    store = shop(session)
    store.settings = {"pending_optin_days": 3}
    session.commit()
    opt_in(client, store, phone="+4915123456789")
    opt_in(client, store, phone="+4915123456788")
    replies.handle_inbound(session, store, phone="+4915123456788", text="yes")
    session.commit()

    early = purge_stale_consent(session, utcnow() + dt.timedelta(days=2, hours=23))
    late = purge_stale_consent(session, utcnow() + dt.timedelta(days=3, minutes=1))
    session.commit()

    assert early["pending_optins"] == 0 and late["pending_optins"] == 1
    assert ledger.find_subscription(session, store.id, "+4915123456789") is None
    kept = ledger.find_subscription(session, store.id, "+4915123456788")
    assert kept is not None and kept.state == SubscriptionState.CONFIRMED
    lapsed = session.scalars(
        select(Notification).where(Notification.phone.is_(None))
    ).one()  # the lapsed one's confirmation message lost the number
    assert lapsed.state == "expired"
    assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 2


def test_an_expired_request_after_an_opt_out_leaves_the_opt_out(session: Session) -> None:
    store = shop(session)
    start = utcnow() - dt.timedelta(days=30)
    ledger.record(session, store, "+4915123456789", ConsentKind.REQUESTED, "widget", at=start)
    ledger.record(session, store, "+4915123456789", ConsentKind.CONFIRMED, "whatsapp_reply")
    ledger.opt_out(session, store, "+4915123456789", source="whatsapp_reply")
    subscription, _ = ledger.record(
        session, store, "+4915123456789", ConsentKind.REQUESTED, "widget"
    )
    subscription.pending_expires_at = utcnow() - dt.timedelta(minutes=1)
    session.commit()

    purge_stale_consent(session, utcnow())
    session.commit()

    assert subscription.state == SubscriptionState.OPTED_OUT
    kinds = session.scalars(select(ConsentEvent.kind).order_by(ConsentEvent.id)).all()
    assert kinds == ["requested", "confirmed", "opted_out"]


def test_retention_job_runs_under_its_lease_and_drops_idle_buckets(
    app: Flask, session: Session
) -> None:
    old = utcnow() - dt.timedelta(days=2)
    session.add_all(
        [
            RateBucket(key="optin:ip:1:abc", tokens=10, updated_at=old),
            RateBucket(key="optin:ip:1:def", tokens=3, updated_at=utcnow()),
            RateBucket(key="meta:mps:1", tokens=80, updated_at=old),
        ]
    )
    session.commit()

    consent_retention_job(app, utcnow())

    keys = session.scalars(select(RateBucket.key).order_by(RateBucket.key)).all()
    assert keys == ["meta:mps:1", "optin:ip:1:def"]
