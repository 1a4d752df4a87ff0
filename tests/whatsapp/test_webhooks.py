"""POST /webhooks/whatsapp with real and documented Meta payloads: verified, routed, applied."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.consent.replies import CONFIRM_PAYLOAD
from plugin.models import (
    AuditEntry,
    ConsentEvent,
    Notification,
    NotificationState,
    Store,
    StoreStatus,
    Subscription,
    WebhookDelivery,
    WhatsAppAccount,
)
from plugin.whatsapp.accounts import QUALITY_PAUSE
from plugin.whatsapp.webhooks import signature_valid
from tests.factories import make_notification, make_subscription
from tests.fakes.meta import FakeMeta
from tests.whatsapp.conftest import APP_SECRET, VERIFY_TOKEN, for_shop, load, post_webhook, sign

VECTORS = Path(__file__).parent.parent / "data" / "hmac_test_vectors.json"
BUYER = "+972987654321"  # the buyer in the pywa payloads


def _deliveries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


def _status(key: str) -> dict:
    return for_shop(load("message_status.json", key))


def _sent_notification(session: Session, store: Store, **fields: object) -> Notification:
    values: dict[str, object] = {
        "phone": BUYER,
        "state": NotificationState.SENT,
        "provider_message_id": "wamid.xyzxyz",
    }
    values.update(fields)
    notification = make_notification(session, store, "cart:7:1", **values)
    session.commit()
    return notification


def test_verification_handshake_echoes_the_challenge(client: FlaskClient) -> None:
    query = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    ok = client.get("/webhooks/whatsapp", query_string=query)
    wrong = client.get("/webhooks/whatsapp", query_string={**query, "hub.verify_token": "guess"})
    assert (ok.status_code, ok.get_data(as_text=True)) == (200, "1158201444")
    assert wrong.status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64},
        {"X-Hub-Signature-256": "SIGN_WITH_OTHER_SECRET"},
        {"X-Hub-Signature-256": "sha1=0123456789abcdef"},
    ],
)
def test_bad_signature_is_401_and_writes_nothing(
    client: FlaskClient, session: Session, shop: Store, headers: dict[str, str]
) -> None:
    # given a real delivery that would fail the buyer's notification
    notification = _sent_notification(session, shop)
    body = json.dumps(_status("failed")).encode()
    if headers.get("X-Hub-Signature-256") == "SIGN_WITH_OTHER_SECRET":
        headers = {"X-Hub-Signature-256": sign(body, "another-apps-secret")}

    response = client.post("/webhooks/whatsapp", data=body, headers=headers)

    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized"
    session.expire_all()
    assert _deliveries(session) == 0
    assert session.get(Notification, notification.id).state == NotificationState.SENT  # type: ignore[union-attr]


def test_a_signature_over_other_bytes_is_refused(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    body = json.dumps(_status("read")).encode()
    response = client.post(
        "/webhooks/whatsapp", data=body + b" ", headers={"X-Hub-Signature-256": sign(body)}
    )
    assert response.status_code == 401
    assert _deliveries(session) == 0


def test_a_real_meta_delivery_signature_verifies() -> None:
    vector = next(
        v
        for v in json.loads(VECTORS.read_text())["whatsapp_cloud_api_signature"]
        if "pywa" in v["source"]
    )
    raw = vector["raw_body"].encode()
    assert signature_valid(raw, vector["x_hub_signature_256"], vector["app_secret"])
    assert not signature_valid(raw, vector["x_hub_signature_256"], APP_SECRET)


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"object": "page", "entry": []}', b'{"object": "whatsapp_business_account"}'],
)
def test_malformed_verified_body_is_400_and_writes_nothing(
    client: FlaskClient, session: Session, shop: Store, body: bytes
) -> None:
    response = client.post(
        "/webhooks/whatsapp", data=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    assert response.status_code == 400
    assert _deliveries(session) == 0


def test_statuses_out_of_order_and_twice_only_move_forward(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    notification = _sent_notification(session, shop)

    # when read arrives before delivered, then read again, then a late "sent"
    answers = [
        post_webhook(client, _status(k)).get_json() for k in ("read", "delivered", "read", "sent")
    ]

    # then the duplicate was dropped and the notification never moved back
    assert [a["stored"] for a in answers] == [1, 1, 0, 1]
    session.expire_all()
    row = session.get(Notification, notification.id)
    assert row is not None
    read_at = dt.datetime.fromtimestamp(1689380458, dt.UTC)
    assert (row.delivery_status, row.read_at, row.delivered_at) == ("read", read_at, read_at)
    assert row.state == NotificationState.SENT
    assert _deliveries(session) == 3


def test_failed_status_fails_the_notification_with_metas_reason(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    notification = _sent_notification(session, shop, cost_micros=113100)
    post_webhook(client, _status("failed"))
    session.expire_all()
    row = session.get(Notification, notification.id)
    assert row is not None
    assert (row.state, row.delivery_status, row.cost_micros) == (
        NotificationState.FAILED,
        "failed",
        0,
    )
    assert row.reason == "whatsapp 130472: User's number is part of an experiment"


def test_status_reconciles_a_row_stuck_in_sending_and_prices_it(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    # given a worker died after the API call: the row is `sending` without a wamid
    notification = make_notification(
        session, shop, "cart:9:1", phone="+4915112345678", state=NotificationState.SENDING
    )
    session.commit()
    payload = for_shop(load("meta_documented.json", "status_delivered_pmp_regular"))
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["biz_opaque_callback_data"] = str(notification.id)

    post_webhook(client, payload)

    session.expire_all()
    row = session.get(Notification, notification.id)
    assert row is not None
    assert row.state == NotificationState.SENT
    assert row.provider_message_id == status["id"]
    assert row.delivery_status == "delivered"
    assert (row.cost_micros, row.cost_currency) == (113100, "EUR")  # Germany, marketing
    assert (row.pricing_category, row.pricing_type) == ("marketing", "regular")


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("status_delivered_pmp_free_customer_service", "free_customer_service"),
        ("status_sent_pmp_free_entry_point", "free_entry_point"),
    ],
)
def test_free_pricing_types_cost_nothing(
    client: FlaskClient, session: Session, shop: Store, key: str, kind: str
) -> None:
    payload = for_shop(load("meta_documented.json", key))
    wamid = payload["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]
    notification = _sent_notification(session, shop, provider_message_id=wamid, cost_micros=113100)
    post_webhook(client, payload)
    session.expire_all()
    row = session.get(Notification, notification.id)
    assert row is not None
    assert (row.cost_micros, row.pricing_type) == (0, kind)


def _text_message(body: str) -> dict:
    payload = for_shop(load("message.json", "text"))
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"] = body
    return payload


def test_stop_reply_opts_out_and_is_answered_in_german(
    client: FlaskClient, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    make_subscription(session, shop, phone=BUYER, locale="de")
    session.commit()

    post_webhook(client, _text_message("Stopp!"))

    session.expire_all()
    subscription = session.scalars(select(Subscription)).one()
    assert subscription.state == "opted_out"
    assert subscription.whatsapp_user_id == "US.13491208655302741918"
    assert [e.source for e in session.scalars(select(ConsentEvent))] == ["whatsapp_reply"]
    [reply] = fake_meta.sends()
    assert reply.json["to"] == "972987654321"
    assert reply.json["text"]["body"] == (
        "Du bist abgemeldet: Bohne & Blatt schickt dir keine Werbung mehr per WhatsApp."
    )


def test_confirm_quick_reply_confirms_and_is_answered_in_english(
    client: FlaskClient, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    make_subscription(session, shop, phone=BUYER, state="pending", locale="en")
    session.commit()
    payload = for_shop(load("callback_button.json", "quick_reply"))
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["button"] = {
        "payload": CONFIRM_PAYLOAD,
        "text": "Yes",
    }

    post_webhook(client, payload)

    session.expire_all()
    assert session.scalars(select(Subscription)).one().state == "confirmed"
    [reply] = fake_meta.sends()
    assert reply.json["text"]["body"].startswith("Thank you, your subscription to Bohne & Blatt")


def test_an_ordinary_message_changes_no_consent_and_sends_nothing(
    client: FlaskClient, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    make_subscription(session, shop, phone=BUYER)
    session.commit()
    post_webhook(client, _text_message("Body Text"))
    session.expire_all()
    subscription = session.scalars(select(Subscription)).one()
    assert subscription.state == "confirmed"
    assert subscription.last_inbound_at == dt.datetime.fromtimestamp(1697043223, dt.UTC)
    assert fake_meta.sends() == []


def test_user_preferences_stop_opts_the_buyer_out(
    client: FlaskClient, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    make_subscription(session, shop, phone="+16505551234")
    session.commit()

    post_webhook(client, for_shop(load("meta_documented.json", "user_preferences_stop")))

    session.expire_all()
    subscription = session.scalars(select(Subscription)).one()
    assert subscription.state == "opted_out"
    assert subscription.whatsapp_user_id == "US.13491208655302741918"
    [event] = session.scalars(select(ConsentEvent)).all()
    assert (event.kind, event.source) == ("opted_out", "meta_preferences")
    assert event.detail["detail"] == "User requested to stop marketing messages"
    assert fake_meta.sends() == []


def test_user_preferences_resume_only_leaves_a_note(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    make_subscription(session, shop, phone="+16505551234", state="opted_out")
    session.commit()
    post_webhook(client, for_shop(load("user_marketing_preferences.json", "resume")))
    session.expire_all()
    assert session.scalars(select(Subscription)).one().state == "opted_out"
    assert session.scalars(select(ConsentEvent)).all() == []
    assert [a.action for a in session.scalars(select(AuditEntry))] == ["meta_preferences_resume"]


def _account(session: Session) -> WhatsAppAccount:
    session.expire_all()
    return session.scalars(select(WhatsAppAccount)).one()


def test_red_quality_pauses_marketing_until_it_recovers(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    post_webhook(
        client, for_shop(load("meta_documented.json", "phone_number_quality_update_flagged"))
    )
    flagged = _account(session)
    assert (flagged.quality_rating, flagged.marketing_paused_reason) == ("RED", QUALITY_PAUSE)
    assert flagged.messaging_limit_tier == "TIER_2K"

    post_webhook(
        client, for_shop(load("meta_documented.json", "phone_number_quality_update_unflagged"))
    )
    recovered = _account(session)
    assert recovered.marketing_paused_reason is None


def test_recovered_quality_does_not_lift_a_spam_pause(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    account = _account(session)
    account.marketing_paused_reason = "whatsapp 131048: Spam rate limit hit"
    session.commit()
    post_webhook(
        client, for_shop(load("meta_documented.json", "phone_number_quality_update_unflagged"))
    )
    assert _account(session).marketing_paused_reason == "whatsapp 131048: Spam rate limit hit"


def test_throughput_upgrade_raises_messages_per_second(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    post_webhook(
        client, for_shop(load("meta_documented.json", "phone_number_quality_update_throughput"))
    )
    account = _account(session)
    assert (account.throughput_mps, account.messaging_limit_tier) == (1000, "TIER_UNLIMITED")


def test_disabled_account_pauses_the_shop(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    post_webhook(client, for_shop(load("meta_documented.json", "account_update_disabled")))
    session.expire_all()
    store = session.get(Store, shop.id)
    assert store is not None
    assert (store.status, store.paused_reason) == (
        StoreStatus.PAUSED,
        "Meta disabled the WhatsApp Business Account",
    )


def test_a_number_we_do_not_know_is_acknowledged_and_dropped(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    payload = load("message_status.json", "read")  # phone_number_id 1122334455667: not ours
    response = post_webhook(client, payload)
    assert (response.status_code, response.get_json()["stored"]) == (200, 0)
    assert _deliveries(session) == 0


def test_a_hidden_number_is_found_by_its_user_id(
    client: FlaskClient, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    # given a buyer whose business-scoped user id we stored earlier
    make_subscription(session, shop, phone=BUYER, whatsapp_user_id="US.13491208655302741918")
    session.commit()
    payload = for_shop(load("callback_button.json", "quick_reply_without_context"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    del message["from"]  # the number is hidden: only from_user_id remains
    message["button"] = {"payload": "shopnudge:opt_out", "text": "Stop promotions"}

    post_webhook(client, payload)

    session.expire_all()
    assert session.scalars(select(Subscription)).one().state == "opted_out"
    [reply] = fake_meta.sends()
    assert reply.json["to"] == "972987654321"
    assert [e.source for e in session.scalars(select(ConsentEvent))] == ["template_button"]


def test_status_recipient_user_id_is_kept_next_to_the_phone(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    make_subscription(session, shop, phone="+16505551234")
    session.commit()
    payload = for_shop(load("meta_documented.json", "status_delivered_pmp_regular"))
    post_webhook(client, payload)
    session.expire_all()
    assert session.scalars(select(Subscription)).one().whatsapp_user_id == (
        "US.13491208655302741918"
    )


def test_restricted_business_messaging_pauses_marketing(
    client: FlaskClient, session: Session, shop: Store
) -> None:
    payload = for_shop(load("meta_documented.json", "account_update_disabled"))
    payload["entry"][0]["changes"][0]["value"] = {
        "event": "ACCOUNT_RESTRICTION",
        "restriction_info": [
            {
                "restriction_type": "RESTRICTED_BIZ_INITIATED_MESSAGING",
                "expiration": "2026-12-01T00:00:00+0000",
            }
        ],
    }
    post_webhook(client, payload)
    account = _account(session)
    assert account.marketing_paused_reason == "Meta restricted business-initiated messages"
    assert session.get(Store, shop.id).status == StoreStatus.ACTIVE  # type: ignore[union-attr]


def test_without_an_app_secret_every_post_is_refused(
    app: Flask, client: FlaskClient, session: Session, shop: Store
) -> None:
    app.config["SHOPNUDGE"] = dataclasses.replace(app.config["SHOPNUDGE"], whatsapp_app_secret="")
    body = json.dumps(_status("read")).encode()
    response = client.post(
        "/webhooks/whatsapp", data=body, headers={"X-Hub-Signature-256": sign(body, "")}
    )
    assert response.status_code == 401
    assert _deliveries(session) == 0


def test_an_oversized_body_is_413_and_writes_nothing(
    app: Flask, client: FlaskClient, session: Session, shop: Store
) -> None:
    body = (
        b'{"object": "whatsapp_business_account", "entry": [], "pad": "' + b"x" * 1_100_000 + b'"}'
    )
    response = client.post(
        "/webhooks/whatsapp", data=body, headers={"X-Hub-Signature-256": sign(body)}
    )
    assert response.status_code == 413
    assert _deliveries(session) == 0


def test_a_stored_delivery_left_unprocessed_is_finished_by_the_job(
    app: Flask, client: FlaskClient, session: Session, shop: Store
) -> None:
    from plugin import inbox
    from plugin.db import get_database
    from plugin.webhook_handlers import HANDLERS
    from plugin.whatsapp.webhooks import split_changes, store_changes

    # given a verified delivery stored, but the process died before handling it
    notification = _sent_notification(session, shop)
    changes = split_changes(_status("delivered"))
    with get_database(app).session() as other:
        store_changes(other, changes)

    # when the process_webhooks job runs
    with app.app_context():
        assert inbox.process_pending(get_database(app), app.config["SHOPNUDGE"], HANDLERS) == 1

    session.expire_all()
    assert session.get(Notification, notification.id).delivery_status == "delivered"  # type: ignore[union-attr]
