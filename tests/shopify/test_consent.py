"""WhatsApp marketing consent kept in step with Shopify's, both ways."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.errors import PlatformError
from plugin.connect import connector_for
from plugin.consent.ledger import find_subscription, record
from plugin.db import Database, get_database
from plugin.models import ConsentEvent, ConsentKind, Customer, Store, SubscriptionState
from plugin.shopify.consent import push_pending_consent, push_whatsapp_consent
from plugin.sync.run import sync_resource
from tests.fakes.shopify import FakeShopify
from tests.shopify.webhook_helpers import deliver, example

PHONE = "+4915112345678"


def _consent(state: str, phone: str | None = PHONE) -> dict:
    """Shopify's example consent update, for this phone number, with this state."""
    return example(
        "customers_whats_app_marketing_consent/update",
        {"phone_number": phone, "whats_app_marketing_consent.updated_at": "2026-11-24T10:00:00Z"},
        consent={"state": state, "opt_in_level": "SINGLE_OPT_IN"},
    )


def _events(session: Session) -> list[tuple[str, str]]:
    return [
        (e.kind, e.source) for e in session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))
    ]


def test_subscribed_on_shopify_is_a_request_we_still_confirm(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    deliver(client, fake, "customers/create", example("customers/create"))
    assert (
        deliver(
            client, fake, "customers_whats_app_marketing_consent/update", _consent("SUBSCRIBED")
        ).status_code
        == 200
    )
    subscription = find_subscription(session, shop.id, PHONE)
    assert subscription is not None and subscription.state == SubscriptionState.PENDING
    assert _events(session) == [("requested", "shopify_consent")]
    assert session.scalars(select(Customer)).one().platform_marketing_state == "SUBSCRIBED"


def test_subscribed_for_a_confirmed_number_records_nothing(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    record(session, shop, PHONE, ConsentKind.REQUESTED, "widget")
    record(session, shop, PHONE, ConsentKind.CONFIRMED, "whatsapp")
    session.commit()
    deliver(client, fake, "customers_whats_app_marketing_consent/update", _consent("SUBSCRIBED"))
    assert _events(session) == [("requested", "widget"), ("confirmed", "whatsapp")]


def test_unsubscribed_on_shopify_opts_the_number_out(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    record(session, shop, PHONE, ConsentKind.REQUESTED, "widget")
    record(session, shop, PHONE, ConsentKind.CONFIRMED, "whatsapp")
    session.commit()
    deliver(client, fake, "customers_whats_app_marketing_consent/update", _consent("UNSUBSCRIBED"))
    session.expire_all()
    assert find_subscription(session, shop.id, PHONE).state == SubscriptionState.OPTED_OUT
    assert _events(session)[-1] == ("opted_out", "shopify_consent")
    # and the echo of an opt-out we already hold adds nothing
    deliver(client, fake, "customers_whats_app_marketing_consent/update", _consent("UNSUBSCRIBED"))
    assert len(_events(session)) == 3


def test_consent_without_a_state_or_phone_records_nothing(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    raw = example("customers_whats_app_marketing_consent/update")  # Shopify's sample: all null
    assert (
        deliver(client, fake, "customers_whats_app_marketing_consent/update", raw).status_code
        == 200
    )
    deliver(
        client, fake, "customers_whats_app_marketing_consent/update", _consent("SUBSCRIBED", None)
    )
    assert _events(session) == []


def test_sync_reads_whatsapp_consent_into_the_customer(
    app: Flask, database: Database, session: Session, fake: FakeShopify, shop: Store
) -> None:
    fake.data.seed(customers=3)
    first = next(iter(fake.data.customers.values()))
    first["defaultPhoneNumber"]["whatsAppMarketingConsent"]["state"] = "SUBSCRIBED"
    sync_resource(database, shop.id, connector_for(shop, app.config["SHOPNUDGE"]), "customers")
    states = sorted(session.scalars(select(Customer.platform_marketing_state)).all())
    assert states == ["NEVER_SUBSCRIBED", "NEVER_SUBSCRIBED", "SUBSCRIBED"]


def test_push_whatsapp_consent_writes_our_state_to_shopify(
    app: Flask, session: Session, fake: FakeShopify, shop: Store
) -> None:
    fake.data.seed(customers=1)
    number = next(iter(fake.data.customers))
    push_whatsapp_consent(session, app.config["SHOPNUDGE"], shop, str(number), "SUBSCRIBED")
    push_whatsapp_consent(session, app.config["SHOPNUDGE"], shop, str(number), "UNSUBSCRIBED")
    assert fake.consent_updates == [
        {
            "customerId": f"gid://shopify/Customer/{number}",
            "whatsAppMarketingConsent": {"state": "SUBSCRIBED", "optInLevel": "CONFIRMED_OPT_IN"},
        },
        {
            "customerId": f"gid://shopify/Customer/{number}",
            "whatsAppMarketingConsent": {"state": "UNSUBSCRIBED"},
        },
    ]
    consent = fake.data.customers[number]["defaultPhoneNumber"]["whatsAppMarketingConsent"]
    assert consent["state"] == "UNSUBSCRIBED"


def test_push_for_an_unknown_customer_raises_shopifys_message(
    app: Flask, session: Session, fake: FakeShopify, shop: Store
) -> None:
    with pytest.raises(PlatformError, match="Customer not found"):
        push_whatsapp_consent(session, app.config["SHOPNUDGE"], shop, "1", "UNSUBSCRIBED")
    with pytest.raises(ValueError):
        push_whatsapp_consent(session, app.config["SHOPNUDGE"], shop, "1", "MAYBE")
    assert fake.consent_updates == []


def test_confirmed_and_opted_out_numbers_are_written_back_once(
    app: Flask, session: Session, fake: FakeShopify, shop: Store
) -> None:
    fake.data.seed(customers=3)
    sync_resource(
        get_database(app), shop.id, connector_for(shop, app.config["SHOPNUDGE"]), "customers"
    )
    confirmed, opted_out, pending = session.scalars(select(Customer).order_by(Customer.id)).all()
    for customer, kinds in (
        (confirmed, [ConsentKind.REQUESTED, ConsentKind.CONFIRMED]),
        (opted_out, [ConsentKind.REQUESTED, ConsentKind.CONFIRMED, ConsentKind.OPTED_OUT]),
        (pending, [ConsentKind.REQUESTED]),
    ):
        for kind in kinds:
            record(session, shop, customer.phone, kind, "widget")
    opted_out.platform_marketing_state = "SUBSCRIBED"
    session.commit()

    pushed = push_pending_consent(session, app.config["SHOPNUDGE"], shop)
    session.commit()
    again = push_pending_consent(session, app.config["SHOPNUDGE"], shop)

    assert (pushed, again) == (2, 0)
    assert [u["customerId"].rsplit("/", 1)[1] for u in fake.consent_updates] == [
        confirmed.platform_id,
        opted_out.platform_id,
    ]
    assert [u["whatsAppMarketingConsent"]["state"] for u in fake.consent_updates] == [
        "SUBSCRIBED",
        "UNSUBSCRIBED",
    ]


@pytest.mark.parametrize("topic", ["customers/create", "customers/update"])
def test_customer_webhook_without_locale_or_consent_leaves_both_and_pushes_nothing(
    app: Flask, client: FlaskClient, session: Session, fake: FakeShopify, shop: Store, topic: str
) -> None:
    # given a synced buyer (locale de, WhatsApp SUBSCRIBED on Shopify) confirmed with us
    fake.data.seed(customers=1)
    number, node = next(iter(fake.data.customers.items()))
    node["defaultPhoneNumber"]["whatsAppMarketingConsent"]["state"] = "SUBSCRIBED"
    phone = node["defaultPhoneNumber"]["phoneNumber"]
    sync_resource(
        get_database(app), shop.id, connector_for(shop, app.config["SHOPNUDGE"]), "customers"
    )
    record(session, shop, phone, ConsentKind.REQUESTED, "widget")
    record(session, shop, phone, ConsentKind.CONFIRMED, "whatsapp")
    session.commit()
    # when Shopify's documented customer payload arrives (it has no locale and no consent)
    body = example(topic, {"id": number, "phone": phone, "updated_at": "2026-12-01T10:00:00Z"})
    assert "locale" not in body and "whats_app_marketing_consent" not in body
    assert deliver(client, fake, topic, body).status_code == 200
    # then the stored locale and consent stay, the rest is updated
    session.expire_all()
    customer = session.scalars(select(Customer)).one()
    assert (customer.locale, customer.platform_marketing_state) == ("de", "SUBSCRIBED")
    assert (customer.email, customer.last_name) == ("bob@biller.com", "Biller")
    # and no consent push follows
    assert push_pending_consent(session, app.config["SHOPNUDGE"], shop) == 0
    assert fake.consent_updates == []
