"""Cross-cutting rules: erasure, CORS, the shared token bucket, sign-in links."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Text, select, text
from sqlalchemy.orm import Session

from plugin import ratelimit
from plugin.consent import ledger
from plugin.consent.gdpr import erase_buyer, export_buyer
from plugin.db import Base, utcnow
from plugin.models import ConsentKind, Subscription, SubscriptionState
from plugin.web.cors import origin_allowed
from tests.factories import (
    make_cart,
    make_customer,
    make_notification,
    make_order,
    make_product,
    make_store,
)


def every_text_value(session: Session) -> str:
    values = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(text(f'SELECT * FROM "{table.name}"')):
            values.extend(str(value) for value in row)
    return "\n".join(values)


def test_erasure_leaves_no_phone_name_or_email_in_any_table(session: Session) -> None:
    store = make_store(session)
    buyer = make_customer(
        session,
        store,
        phone="+4915112340001",
        email="erika@example.com",
        first_name="Erika",
        last_name="Zaunkönig",
    )
    other = make_customer(
        session,
        store,
        phone="+4915112340002",
        email="max@example.com",
        first_name="Max",
        last_name="Muster",
    )
    make_order(session, store, buyer, [make_product(session, store)])
    make_cart(session, store, [], phone=buyer.phone, email=buyer.email, customer_id=buyer.id)
    make_notification(session, store, "n1", phone=buyer.phone, parameters={"body": ["Erika"]})
    ledger.record(
        session,
        store,
        buyer.phone,
        ConsentKind.REQUESTED,
        "widget",
        ip="203.0.113.9",
        user_agent="Firefox",
    )
    session.commit()

    touched = erase_buyer(session, store, customer_platform_id=buyer.platform_id, source="gdpr")
    session.commit()

    assert touched >= 5
    dump = every_text_value(session)
    for secret in ("+4915112340001", "erika@example.com", "Erika", "Zaunkönig", "203.0.113.9"):
        assert secret not in dump
    assert "+4915112340002" in dump and "max@example.com" in dump  # others untouched
    assert other.erased_at is None
    subscription = session.scalars(select(Subscription)).one()
    assert subscription.state == SubscriptionState.OPTED_OUT


def test_export_lists_the_buyers_consent_with_its_wording(session: Session) -> None:
    store = make_store(session)
    buyer = make_customer(session, store, phone="+4915112340003")
    ledger.record(session, store, buyer.phone, ConsentKind.REQUESTED, "widget", ip="198.51.100.1")
    session.commit()
    export = export_buyer(session, store, phone=buyer.phone)
    assert [c["phone"] for c in export["customers"]] == ["+4915112340003"]
    assert [e["kind"] for e in export["subscriptions"][0]["events"]] == ["requested"]
    assert export["subscriptions"][0]["events"][0]["ip"] == "198.51.100.1"


def test_cors_allows_only_the_shops_own_origins(session: Session) -> None:
    shopify = make_store(
        session,
        domain="kaffee.myshopify.com",
        settings={"storefront_origins": ["https://www.kaffee.de"]},
    )
    woo = make_store(
        session,
        platform="woocommerce",
        domain="shop.example.de",
        base_url="https://shop.example.de/store",
    )
    assert origin_allowed(shopify, "https://kaffee.myshopify.com")
    assert origin_allowed(shopify, "https://www.kaffee.de")
    assert not origin_allowed(shopify, "https://evil.example")
    assert not origin_allowed(shopify, "http://kaffee.myshopify.com")
    assert origin_allowed(woo, "https://shop.example.de")
    assert not origin_allowed(woo, None)


def test_token_bucket_grants_the_burst_then_paces_at_the_rate(session: Session) -> None:
    start = utcnow()
    granted = [ratelimit.take(session, "k", rate=2, burst=3, now=start) for _ in range(4)]
    assert granted[:3] == [0.0, 0.0, 0.0]
    assert granted[3] == 0.5
    assert ratelimit.take(session, "k", rate=2, burst=3, now=start + dt.timedelta(seconds=0.5)) == 0
    session.commit()


def test_a_reported_balance_lowers_the_bucket_and_never_raises_it(session: Session) -> None:
    # given a bucket of 1,000 at 100 a second, 800 spent
    start = utcnow()
    assert ratelimit.take(session, "shop", rate=100, burst=1000, cost=800, now=start) == 0.0
    # when its owner reports 150 left a second later (we would count 300)
    later = start + dt.timedelta(seconds=1)
    ratelimit.at_most(session, "shop", 150, rate=100, burst=1000, now=later)
    # then 150 is what there is: 151 waits a hundredth of a second, 150 does not
    assert ratelimit.take(session, "shop", rate=100, burst=1000, cost=151, now=later) == 0.01
    assert ratelimit.take(session, "shop", rate=100, burst=1000, cost=150, now=later) == 0.0
    # and a report of more than we count changes nothing: 0 left, 1 waits a hundredth
    ratelimit.at_most(session, "shop", 900, rate=100, burst=1000, now=later)
    assert ratelimit.take(session, "shop", rate=100, burst=1000, cost=1, now=later) == 0.01
    session.commit()


def test_login_link_signs_in_once(
    runner: FlaskCliRunner, client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    session.commit()
    link = runner.invoke(args=["stores", "login-link", str(store.id)]).output.splitlines()[0]
    path = link.removeprefix("http://shopnudge.test")

    first = client.get(path)
    assert first.status_code == 302 and first.headers["Location"] == "/app/"
    with client.session_transaction() as cookie:
        assert cookie["store_id"] == store.id

    other = client.application.test_client()
    again = other.get(path)
    assert again.status_code == 302 and "expired" in again.headers["Location"]
    with other.session_transaction() as cookie:
        assert "store_id" not in cookie


def test_text_type_is_used_for_every_secret_column() -> None:
    from plugin.secrets import encrypted_columns

    names = sorted(f"{c.table.name}.{c.name}" for c in encrypted_columns())
    assert names == ["stores.credentials", "stores.webhook_secret", "whatsapp_accounts.token"]
    assert all(isinstance(c.type.impl, Text) for c in encrypted_columns())
