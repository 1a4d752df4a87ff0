"""The owner's GDPR export holds everything the README lists: customer, orders, carts,
subscriptions with every consent event and its wording, notifications."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.consent import replies
from tests.factories import make_cart, make_customer, make_notification, make_order, make_product
from tests.test_consent_records import opt_in, shop, sign_in

PHONE = "+4915123456789"


def test_export_holds_the_customer_orders_carts_consent_and_notifications(
    client: FlaskClient, session: Session
) -> None:
    # given a buyer with a customer record, an order, a cart, a confirmed opt-in and a message
    store = shop(session)
    customer = make_customer(
        session, store, platform_id="8123", phone=PHONE, email="jana@example.com", first_name="Jana"
    )
    beans = make_product(session, store, title="Bohnen", price_minor=1290)
    order = make_order(session, store, customer, [beans], name="#1042")
    make_cart(session, store, [beans], phone=PHONE, customer_id=customer.id)
    make_notification(session, store, "rec:1", phone=PHONE, customer_id=customer.id, state="sent")
    session.commit()
    opt_in(client, store, customer_id="8123")
    replies.handle_inbound(session, store, phone=PHONE, text="ja", message_id="wamid.E1")
    session.commit()
    sign_in(client, session, store)
    # when the owner exports the buyer's data
    response = client.get(f"/api/v1/admin/subscriptions/{PHONE}/export")
    # then every part the README promises is there, with the buyer's own rows
    assert response.status_code == 200
    data = response.json
    assert [(c["platform_id"], c["email"], c["first_name"]) for c in data["customers"]] == [
        ("8123", "jana@example.com", "Jana")
    ]
    assert [(o["name"], o["total_minor"], o["lines"]) for o in data["orders"]] == [
        ("#1042", order.total_minor, [{"title": "Bohnen", "quantity": 1, "price_minor": 1290}])
    ]
    assert [(c["phone"], c["total_minor"]) for c in data["carts"]] == [(PHONE, 1290)]
    (subscription,) = data["subscriptions"]
    assert subscription["state"] == "confirmed"
    assert [e["kind"] for e in subscription["events"]] == ["requested", "confirmed"]
    assert subscription["events"][0]["wording"]["version"] == 1
    assert subscription["events"][0]["wording"]["text"].startswith("Yes, Wagner may send me")
    assert [(n["flow"], n["state"]) for n in data["notifications"]] == [
        ("cart_reminder", "sent"),
        ("optin_confirmation", "pending"),
    ]
