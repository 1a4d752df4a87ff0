"""The mandatory compliance topics: data requests, buyer erasure, shop erasure.

The buyer is assembled from Shopify's documented examples, joined by the ids and phone number a
real buyer would share across them; their e-mail addresses and names are the examples' own.
"""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin import inbox
from plugin.config import Settings
from plugin.consent.ledger import record
from plugin.db import Base, Database
from plugin.models import (
    ConsentEvent,
    ConsentKind,
    DataExport,
    Order,
    Store,
    Subscription,
    SubscriptionState,
    WebhookDelivery,
)
from plugin.webhook_handlers import HANDLERS
from tests.fakes.shopify import FakeShopify
from tests.shopify.webhook_helpers import deliver, example

PHONE, BUYER_ID = "+4915198765432", 191167
#: What the examples say of the buyer: the customer's e-mail and last name, the order's and
#: the checkout's e-mail (a first name of three letters could turn up in any random token).
EMAIL, ORDER_EMAIL, CHECKOUT_EMAIL, LAST = (
    "bob@biller.com",
    "jon@example.com",
    "example@email.com",
    "Biller",
)
TRACES = (PHONE, EMAIL, ORDER_EMAIL, CHECKOUT_EMAIL, LAST)


def _buyer_everywhere(client: FlaskClient, session: Session, fake: FakeShopify, shop: Store):
    """A buyer known as customer, on an order, a checkout and a confirmed subscription."""
    customer = example(
        "customers/create", {"id": BUYER_ID, "phone": PHONE, "default_address.phone": PHONE}
    )
    deliver(client, fake, "customers/create", customer)
    order = example(
        "orders/create",
        {"id": 299938, "phone": PHONE, "customer.id": BUYER_ID, "customer.phone": PHONE},
    )
    deliver(client, fake, "orders/create", order)
    checkout = example("checkouts/create", {"phone": PHONE, "customer.id": BUYER_ID})
    deliver(client, fake, "checkouts/create", checkout)
    record(session, shop, PHONE, ConsentKind.REQUESTED, "widget", ip="203.0.113.9")
    record(session, shop, PHONE, ConsentKind.CONFIRMED, "whatsapp", message_id="wamid.X")
    session.commit()


def _rows_mentioning(database: Database, *needles: str) -> list[str]:
    """Every table.column whose value contains one of the needles."""
    found = []
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                for column, value in row.items():
                    text = value.decode(errors="ignore") if isinstance(value, bytes) else str(value)
                    if any(needle in text for needle in needles):
                        found.append(f"{table.name}.{column}")
    return found


def test_customers_redact_leaves_none_of_the_buyers_data_in_any_table(
    client: FlaskClient,
    session: Session,
    database: Database,
    fake: FakeShopify,
    shop: Store,
    settings: Settings,
) -> None:
    # given a buyer known in every table
    _buyer_everywhere(client, session, fake, shop)
    assert _rows_mentioning(database, *TRACES)
    # when Shopify asks us to redact them (answered at once, erased right after)
    redact = example("customers/redact", {"shop_domain": fake.domain, "customer.phone": PHONE})
    assert deliver(client, fake, "customers/redact", redact).status_code == 200
    assert inbox.process_pending(database, settings, HANDLERS) == 1
    # then nothing of them remains anywhere, and the erasure is in the ledger
    assert _rows_mentioning(database, *TRACES) == []
    session.expire_all()
    assert session.scalars(select(ConsentEvent.kind).order_by(ConsentEvent.id)).all() == [
        "requested",
        "confirmed",
        "erased",
    ]
    assert session.scalars(select(Subscription)).one().state == SubscriptionState.OPTED_OUT
    assert session.scalar(select(func.count()).select_from(Order)) == 1  # totals stay


def test_customers_data_request_records_the_export(
    client: FlaskClient,
    session: Session,
    database: Database,
    fake: FakeShopify,
    shop: Store,
    settings: Settings,
) -> None:
    _buyer_everywhere(client, session, fake, shop)
    request = example(
        "customers/data_request", {"shop_domain": fake.domain, "customer.phone": PHONE}
    )
    assert deliver(client, fake, "customers/data_request", request).status_code == 200
    assert inbox.process_pending(database, settings, HANDLERS) == 1
    export = session.scalars(select(DataExport)).one()
    assert (export.source, export.request_id, export.store_id) == (
        "shopify_data_request",
        "9999",
        shop.id,
    )
    assert export.customer_id is not None
    assert PHONE in str(export.export) and EMAIL in str(export.export)


def test_shop_redact_erases_the_shop(
    client: FlaskClient,
    session: Session,
    database: Database,
    fake: FakeShopify,
    shop: Store,
    settings: Settings,
) -> None:
    _buyer_everywhere(client, session, fake, shop)
    body = example("shop/redact", {"shop_domain": fake.domain})
    assert deliver(client, fake, "shop/redact", body).status_code == 200
    assert inbox.process_pending(database, settings, HANDLERS) == 1
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Store)) == 0
    assert _rows_mentioning(database, *TRACES) == []
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert (delivery.topic, delivery.store_id) == ("shop/redact", None)
    assert delivery.processed_at is not None
