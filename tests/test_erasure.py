"""Erasure leaves nothing of the buyer in any table or log line, whichever way it is asked for.

The buyer first has a realistic history: an opt-in with proof (IP, browser), a confirmation,
a customer record, an order, an abandoned checkout, messages in the outbox and a webhook
delivery that failed and still holds their data in other spellings (national number, escaped
name, upper-case e-mail). The search below is independent of the code under test: it looks at
every column of every row, and at every log line, for the number's digits in any format, the
e-mail in any case and the names in any case, escaped or not.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin import inbox
from plugin.consent import wording
from plugin.consent.ledger import record
from plugin.db import Base, Database
from plugin.models import (
    AuditEntry,
    ConsentEvent,
    ConsentKind,
    Customer,
    Notification,
    Order,
    Store,
    Subscription,
    SubscriptionState,
    WebhookDelivery,
)
from plugin.webhook_handlers import HANDLERS
from tests.factories import make_notification, make_store
from tests.fakes.shopify import FakeShopify
from tests.owner import csrf_token, sign_in
from tests.shopify.webhook_helpers import deliver, payload

PHONE = "+4915112340888"
NATIONAL = "0151 1234 0888"
#: The number's national significant digits: present in every written format of it.
DIGITS = "15112340888"
EMAIL = "juergen.mueller@example.org"
FIRST, LAST = "Jürgen", "Müller-Lüdenscheidt"
IP = "198.51.100.42"
BROWSER = "Mozilla/5.0 (Linux; Android 15; Pixel 9) Firefox/140.0"
CUSTOMER_ID = 7206530
STRANGER = "+4915187654321"


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    with FakeShopify() as shop:
        yield shop


@pytest.fixture
def app_overrides(fake: FakeShopify) -> dict[str, Any]:
    return {
        "shopify_base_url": fake.url,
        "shopify_api_key": fake.api_key,
        "shopify_api_secret": fake.secret,
    }


@pytest.fixture
def shop(session: Session, fake: FakeShopify) -> Store:
    store = make_store(
        session,
        domain=fake.domain,
        name="Kaffeerösterei Wagner",
        credentials={"access_token": fake.issue_token()},
    )
    wording.ensure_default_wordings(session, store)
    session.commit()
    return store


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log line of the run, at every level."""
    caplog.set_level(logging.DEBUG)
    return caplog


def remnants_in(text: str) -> list[str]:
    """Which of the buyer's data the text holds, in any spelling."""
    unescaped = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    folded = f"{text}\n{unescaped}".casefold()
    found = []
    if DIGITS in re.sub(r"\D", "", text):
        found.append("phone")
    if EMAIL in folded:
        found.append("email")
    for name in (FIRST, LAST):
        escaped = json.dumps(name)[1:-1]  # "J\u00fcrgen"
        if name.casefold() in folded or escaped.casefold() in folded:
            found.append(name)
    if IP in text:
        found.append("ip")
    return found


def remnants(database: Database, logs: pytest.LogCaptureFixture) -> dict[str, list[str]]:
    """Every table.column (every row) and log line holding any of the buyer's data."""
    found: dict[str, list[str]] = {}
    with database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()).mappings():
                for column, value in row.items():
                    if isinstance(value, bytes):
                        text = value.decode("utf-8", errors="replace")
                    elif isinstance(value, dict | list):
                        text = json.dumps(value)
                    else:
                        text = str(value)
                    for what in remnants_in(text):
                        found.setdefault(f"{table.name}.{column}", []).append(what)
    for line in logs.text.splitlines():
        for what in remnants_in(line):
            found.setdefault("log", []).append(what)
    return found


def opt_in(client: FlaskClient, shop: Store) -> None:
    response = client.post(
        f"/api/v1/stores/{shop.public_key}/optins",
        json={
            "phone": NATIONAL,
            "consent": True,
            "wording_version": 1,
            "locale": "de",
            "source": "widget",
            "customer_id": str(CUSTOMER_ID),
        },
        headers={"Origin": f"https://{shop.domain}", "User-Agent": BROWSER},
        environ_base={"REMOTE_ADDR": IP},
    )
    assert response.status_code == 202


def buyer_with_a_history(
    client: FlaskClient, session: Session, database: Database, fake: FakeShopify, shop: Store
) -> None:
    customer = payload("customers_create")
    customer.update(
        id=CUSTOMER_ID, email=EMAIL, phone=PHONE, first_name=FIRST, last_name=LAST, note=None
    )
    customer["default_address"].update(first_name=FIRST, last_name=LAST, phone=NATIONAL)
    assert deliver(client, fake, "customers/create", customer).status_code == 200
    opt_in(client, shop)
    record(session, shop, PHONE, ConsentKind.CONFIRMED, "whatsapp", message_id="wamid.HBgNNDk")
    session.commit()
    order = payload("orders_create")
    order.update(
        id=5511001,
        email=EMAIL.upper(),
        contact_email=EMAIL.upper(),
        phone="+49 151 1234 0888",
        customer={"id": CUSTOMER_ID, "email": EMAIL, "phone": PHONE, "first_name": FIRST},
    )
    assert deliver(client, fake, "orders/create", order).status_code == 200
    checkout = payload("checkouts_create")
    checkout.update(email=EMAIL, phone="0151/12340888")
    assert deliver(client, fake, "checkouts/create", checkout).status_code == 200
    # An orders/updated Shopify will retry: its total cannot be read, so processing fails.
    broken = payload("orders_create")
    broken.update(
        id=5511002,
        email=EMAIL.title(),
        phone=NATIONAL,
        total_price="vierzig Euro",
        current_total_price="vierzig Euro",
        customer={"id": CUSTOMER_ID, "first_name": FIRST.upper(), "last_name": LAST},
    )
    raw = json.dumps(broken).encode()  # ensure_ascii: the name travels as "J\u00dcRGEN"
    assert deliver(client, fake, "orders/updated", raw).status_code == 200
    session.commit()
    inbox.process_pending(database, client.application.config["SHOPNUDGE"], HANDLERS)
    customer_row = session.scalars(select(Customer)).one()
    make_notification(
        session,
        shop,
        "cart:1:step:1",
        phone=PHONE,
        customer_id=customer_row.id,
        parameters={"body": [FIRST, "Espresso-Bohnen 1 kg"]},
    )
    session.commit()


def other_buyer(session: Session, shop: Store) -> None:
    """Someone else in the same shop, who must keep everything."""
    record(session, shop, STRANGER, ConsentKind.REQUESTED, "widget", ip="192.0.2.8")
    record(session, shop, STRANGER, ConsentKind.CONFIRMED, "whatsapp", message_id="wamid.Other")
    session.commit()


def redact_through_the_webhook(
    client: FlaskClient, session: Session, database: Database, fake: FakeShopify, shop: Store
) -> None:
    redact = payload("customers_redact")
    redact["shop_domain"] = fake.domain
    redact["customer"] = {"id": CUSTOMER_ID, "email": EMAIL, "phone": PHONE}
    assert deliver(client, fake, "customers/redact", redact).status_code == 200
    inbox.process_pending(database, client.application.config["SHOPNUDGE"], HANDLERS)


def erase_with_the_cli(
    client: FlaskClient, session: Session, database: Database, fake: FakeShopify, shop: Store
) -> None:
    runner = client.application.test_cli_runner()
    result = runner.invoke(args=["subscriptions", "erase", str(shop.id), NATIONAL])
    assert (result.exit_code, result.output) == (0, "erased: this buyer's data is gone\n")


def erase_as_the_owner(
    client: FlaskClient, session: Session, database: Database, fake: FakeShopify, shop: Store
) -> None:
    sign_in(client, session, shop)
    page = client.get(f"/app/consent/{PHONE}").get_data(as_text=True)
    assert 'name="phone" type="hidden" value="+4915112340888"' in page
    response = client.post(
        "/app/consent/erase", data={"csrf_token": csrf_token(page), "phone": NATIONAL}
    )
    assert response.status_code == 302
    landing = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The buyer&#39;s data was erased." in landing


ERASURES = {
    "shopify_redact": redact_through_the_webhook,
    "cli": erase_with_the_cli,
    "owner": erase_as_the_owner,
}


@pytest.mark.parametrize("erase", ERASURES.values(), ids=ERASURES.keys())
def test_erasure_leaves_nothing_of_the_buyer_in_any_table_or_log(
    erase: Any,
    client: FlaskClient,
    session: Session,
    database: Database,
    fake: FakeShopify,
    shop: Store,
    logs: pytest.LogCaptureFixture,
) -> None:
    # given a buyer with a history everywhere, and a failed delivery holding their data
    buyer_with_a_history(client, session, database, fake, shop)
    other_buyer(session, shop)
    before = remnants(database, logs)
    failed = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.topic == "orders/updated")
    ).one()
    assert (failed.processed_at, failed.attempts) == (None, 2)  # on receipt, then the job
    assert failed.last_error == "ValueError: unreadable amount 'vierzig Euro'"
    assert {"webhook_deliveries.body", "customers.phone", "consent_events.ip"} <= set(before)

    # when the buyer is erased
    erase(client, session, database, fake, shop)

    # then nothing of them remains in any row or log line
    left = remnants(database, logs)
    assert left == {}, left
    session.expire_all()
    subscriptions = session.scalars(select(Subscription).order_by(Subscription.id)).all()
    assert [s.state for s in subscriptions] == [SubscriptionState.OPTED_OUT, "confirmed"]
    assert subscriptions[1].phone == STRANGER
    erased = session.scalars(
        select(ConsentEvent.kind)
        .where(ConsentEvent.subscription_id == subscriptions[0].id)
        .order_by(ConsentEvent.id)
    ).all()
    assert erased == ["requested", "confirmed", "erased"]
    stranger_ips = session.scalars(
        select(ConsentEvent.ip).where(ConsentEvent.subscription_id == subscriptions[1].id)
    ).all()
    assert stranger_ips == ["192.0.2.8", None]
    assert session.scalar(select(Order.total_minor)) is not None  # revenue counts stay
    failed = session.get(WebhookDelivery, failed.id)
    assert failed is not None
    assert (failed.body, failed.last_error) == (None, "erased (GDPR)")
    assert failed.processed_at is not None  # never retried


@pytest.mark.parametrize(
    ("erase", "actor"),
    [(erase_with_the_cli, "command line"), (erase_as_the_owner, "login link #1")],
    ids=["cli", "owner"],
)
def test_erasure_on_request_is_recorded_in_the_audit_log(
    erase: Any,
    actor: str,
    client: FlaskClient,
    session: Session,
    database: Database,
    fake: FakeShopify,
    shop: Store,
) -> None:
    buyer_with_a_history(client, session, database, fake, shop)

    erase(client, session, database, fake, shop)

    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    subscription = session.scalars(select(Subscription)).one()
    assert [(e.actor, e.action, e.field, e.old_value) for e in entries] == [
        (actor, "buyer_erased", "consent", None)
    ]
    assert entries[0].new_value == {"subscription_ids": [subscription.id]}


def table_dump(database: Database) -> dict[str, list[dict[str, Any]]]:
    with database.engine.connect() as connection:
        return {
            table.name: [dict(row) for row in connection.execute(table.select()).mappings()]
            for table in Base.metadata.sorted_tables
        }


def test_cli_erase_of_an_unknown_buyer_says_so_and_changes_nothing(
    client: FlaskClient, session: Session, database: Database, fake: FakeShopify, shop: Store
) -> None:
    other_buyer(session, shop)
    before = table_dump(database)

    result = client.application.test_cli_runner().invoke(
        args=["subscriptions", "erase", str(shop.id), NATIONAL]
    )

    assert result.exit_code == 2
    assert result.output == "error: nothing is held about this number in this shop\n"
    assert table_dump(database) == before


def test_owner_erase_of_an_unknown_buyer_says_so_and_changes_nothing(
    client: FlaskClient, session: Session, database: Database, fake: FakeShopify, shop: Store
) -> None:
    other_buyer(session, shop)
    sign_in(client, session, shop)
    token = csrf_token(client.get(f"/app/consent/{STRANGER}").get_data(as_text=True))
    before = table_dump(database)

    response = client.post("/app/consent/erase", data={"csrf_token": token, "phone": PHONE})

    assert response.status_code == 302
    landing = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing is held about this number in this shop." in landing
    assert table_dump(database) == before


def test_owner_erase_without_the_csrf_token_is_refused_and_changes_nothing(
    client: FlaskClient, session: Session, database: Database, fake: FakeShopify, shop: Store
) -> None:
    buyer_with_a_history(client, session, database, fake, shop)
    sign_in(client, session, shop)
    before = table_dump(database)

    response = client.post("/app/consent/erase", data={"phone": PHONE})

    assert response.status_code == 400
    assert table_dump(database) == before


def test_erasure_in_one_shop_leaves_the_same_number_in_another_shop(
    client: FlaskClient, session: Session, database: Database, fake: FakeShopify, shop: Store
) -> None:
    elsewhere = make_store(session, domain="andere.myshopify.com")
    record(session, elsewhere, PHONE, ConsentKind.REQUESTED, "widget", ip=IP)
    record(session, shop, PHONE, ConsentKind.REQUESTED, "widget", ip=IP)
    session.commit()

    erase_with_the_cli(client, session, database, fake, shop)

    session.expire_all()
    kept = session.scalars(select(Subscription).where(Subscription.store_id == elsewhere.id)).one()
    assert (kept.phone, kept.state) == (PHONE, SubscriptionState.PENDING)
    assert (
        session.scalar(
            select(func.count()).select_from(Notification).where(Notification.phone == PHONE)
        )
        == 0
    )
