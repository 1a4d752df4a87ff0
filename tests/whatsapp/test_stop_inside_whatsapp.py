"""A buyer stops the shop's marketing inside WhatsApp; ShopNudge opts them out and goes quiet.

Three ways Meta tells us, each in its documented shape: the `user_preferences` webhook with
`value: "stop"`, a send refused at once with error 131050, and a `failed` status webhook
carrying 131050 (Meta may accept the send and refuse delivery later).
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/user_preferences
https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent.replies import CONFIRM_PAYLOAD
from plugin.db import utcnow
from plugin.models import ConsentEvent, Notification, Store
from tests.factories import make_cart, make_customer, make_product
from tests.fakes.meta import FakeMeta
from tests.whatsapp.conftest import PHONE_NUMBER_ID, WABA_ID, load, post_webhook
from tests.whatsapp.test_double_optin import (
    BUYER,
    BUYER_DIGITS,
    meta_example,
    opt_in,
    subscription,
    templates_sent,
    tick,
)


def user_preferences(value: str, at: dt.datetime) -> dict[str, Any]:
    """Meta's documented `user_preferences` webhook for our number and buyer."""
    payload = load("meta_documented.json", "user_preferences_stop")
    entry = payload["entry"][0]
    entry["id"] = WABA_ID
    change = entry["changes"][0]
    assert change["field"] == "user_preferences"
    change["value"]["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    change["value"]["contacts"][0]["wa_id"] = BUYER_DIGITS
    preference = change["value"]["user_preferences"][0]
    preference.update(
        wa_id=BUYER_DIGITS,
        value=value,
        detail=f"User requested to {value} marketing messages",
        timestamp=int(at.timestamp()),  # an integer here, unlike the messages webhook
    )
    return payload


def failed_status(notification: Notification, code: int, at: dt.datetime) -> dict[str, Any]:
    """Meta's `messages` status webhook: the accepted message failed with `code`."""
    payload = load("meta_documented.json", "status_delivered_pmp_regular")
    entry = payload["entry"][0]
    entry["id"] = WABA_ID
    value = entry["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    status = value["statuses"][0]
    status.pop("pricing")  # a failed message is not billed
    status.update(
        id=notification.provider_message_id,
        status="failed",
        timestamp=str(int(at.timestamp())),
        recipient_id=BUYER_DIGITS,
        biz_opaque_callback_data=str(notification.id),
        errors=[
            {
                "code": code,
                "title": "Unable to deliver the message. This recipient has chosen to stop "
                "receiving marketing messages on WhatsApp from your business.",
                "message": "Unable to deliver the message.",
                "error_data": {"details": "The recipient stopped marketing messages."},
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
            }
        ],
    )
    return payload


def confirmed_buyer_with_a_cart(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store
) -> dt.datetime:
    """A buyer confirmed by the button, then a cart left a minute later; returns the start."""
    store.settings = {**store.settings, "quiet_hours_start": "00:00", "quiet_hours_end": "00:00"}
    session.commit()
    opt_in(client, store)
    start = utcnow()
    tick(runner, start + dt.timedelta(minutes=1))
    post_webhook(client, meta_example("Button Message", button={"payload": CONFIRM_PAYLOAD}))
    assert subscription(session).state == "confirmed"
    customer = make_customer(session, store, phone=BUYER, country="DE", timezone="UTC")
    make_cart(
        session,
        store,
        [make_product(session, store, title="Espresso 1 kg")],
        phone=BUYER,
        customer_id=customer.id,
        last_activity_at=start + dt.timedelta(minutes=1),
    )
    session.commit()
    return start


def reminders(fake: FakeMeta) -> list[str]:
    names = [r.json["template"]["name"] for r in templates_sent(fake)]
    return [name for name in names if name.startswith("shopnudge_cart_reminder")]


def last_event(session: Session) -> tuple[str, str]:
    session.expire_all()
    event = session.scalars(select(ConsentEvent).order_by(ConsentEvent.id.desc())).first()
    assert event is not None
    return event.kind, event.source


def test_stop_in_whatsapp_settings_opts_out_and_no_reminder_follows(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    start = confirmed_buyer_with_a_cart(client, runner, session, store)
    # when the buyer stops the shop's marketing in WhatsApp half an hour later
    response = post_webhook(client, user_preferences("stop", start + dt.timedelta(minutes=30)))
    # then opted out, on the record with Meta's words
    assert response.status_code == 200
    assert subscription(session).state == "opted_out"
    assert last_event(session) == ("opted_out", "meta_preferences")
    event = session.scalars(select(ConsentEvent).where(ConsentEvent.kind == "opted_out")).one()
    assert event.detail == {
        "category": "marketing_messages",
        "detail": "User requested to stop marketing messages",
    }
    # and no reminder ever reaches Meta
    for minutes in (70, 25 * 60, 3 * 24 * 60):
        tick(runner, start + dt.timedelta(minutes=minutes))
    assert reminders(fake_meta) == []
    assert {
        n.state for n in session.scalars(select(Notification)) if n.flow != "optin_confirmation"
    } <= {"skipped"}


def test_resume_in_whatsapp_settings_does_not_subscribe_anyone(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    # given a buyer who stopped marketing in WhatsApp
    start = confirmed_buyer_with_a_cart(client, runner, session, store)
    post_webhook(client, user_preferences("stop", start + dt.timedelta(minutes=10)))
    # when they resume it there (consent to this shop is a new opt-in, not a WhatsApp setting)
    post_webhook(client, user_preferences("resume", start + dt.timedelta(minutes=20)))
    # then they stay opted out and get nothing
    tick(runner, start + dt.timedelta(minutes=70))
    assert subscription(session).state == "opted_out"
    assert reminders(fake_meta) == []


def test_a_send_refused_with_131050_opts_out_and_nothing_follows(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    start = confirmed_buyer_with_a_cart(client, runner, session, store)
    # when Meta refuses the first reminder with 131050
    fake_meta.fail_next_send(131050)
    tick(runner, start + dt.timedelta(minutes=70))
    # then it reached Meta once, failed, and the buyer is opted out
    assert reminders(fake_meta) == ["shopnudge_cart_reminder_1"]
    row = session.scalars(select(Notification).where(Notification.flow == "cart_reminder")).one()
    assert (row.state, row.reason) == (
        "failed",
        "whatsapp 131050: Unable to deliver the message. This recipient has chosen to stop "
        "receiving marketing messages on WhatsApp from your business.",
    )
    assert subscription(session).state == "opted_out"
    assert last_event(session) == ("opted_out", "send_error")
    # and the second step never goes
    for minutes in (71, 25 * 60, 3 * 24 * 60):
        tick(runner, start + dt.timedelta(minutes=minutes))
    assert reminders(fake_meta) == ["shopnudge_cart_reminder_1"]


def test_a_failed_status_with_131050_opts_out_and_nothing_follows(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    start = confirmed_buyer_with_a_cart(client, runner, session, store)
    tick(runner, start + dt.timedelta(minutes=70))
    row = session.scalars(select(Notification).where(Notification.flow == "cart_reminder")).one()
    assert row.state == "sent"
    # when Meta reports the accepted reminder failed with 131050
    response = post_webhook(client, failed_status(row, 131050, start + dt.timedelta(minutes=71)))
    # then the buyer is opted out, and the second step never goes
    assert response.status_code == 200
    assert subscription(session).state == "opted_out"
    assert last_event(session) == ("opted_out", "send_error")
    for minutes in (72, 25 * 60, 3 * 24 * 60):
        tick(runner, start + dt.timedelta(minutes=minutes))
    assert reminders(fake_meta) == ["shopnudge_cart_reminder_1"]
