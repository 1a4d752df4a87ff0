"""Business-scoped user ids: webhooks that name a buyer by BSUID, by number, or by both.

Payloads are Meta's documented shapes (tests/fakes/meta_webhooks.py); a hidden number means
the webhook carries the BSUID alone.
"""

from __future__ import annotations

import json

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.consent.gdpr import erase_buyer, export_buyer
from plugin.consent.replies import OPT_OUT_PAYLOAD
from plugin.models import (
    AuditEntry,
    ConsentEvent,
    Notification,
    NotificationState,
    Store,
    Subscription,
    WebhookDelivery,
    WhatsAppAccount,
)
from plugin.whatsapp import identity
from plugin.whatsapp.channel import SendError, TemplateMessage
from plugin.whatsapp.client import CloudChannel
from plugin.whatsapp.errors import ErrorKind, classify, explanation
from tests.factories import make_notification, make_subscription
from tests.fakes.meta import FakeMeta
from tests.fakes.meta_contract import meta_contract
from tests.fakes.meta_webhooks import BuyerWebhooks, user_id_for
from tests.whatsapp.conftest import APP_SECRET, PHONE_NUMBER_ID, WABA_ID, post_webhook

ANNA, BEN = "+4915112345678", "+4917698765432"
ANNA_ID, BEN_ID = user_id_for(ANNA), user_id_for(BEN)
STRANGER_ID = "DE.99999999999999999999"


@pytest.fixture
def meta_says(client: FlaskClient) -> BuyerWebhooks:
    """Meta's webhooks about buyers, handed to the app's endpoint as Meta signs them."""
    return BuyerWebhooks(
        url="",
        app_secret=APP_SECRET,
        waba_id=WABA_ID,
        phone_number_id=PHONE_NUMBER_ID,
        deliver=lambda payload: post_webhook(client, payload).status_code,
    )


@pytest.fixture
def buyers(session: Session, shop: Store) -> tuple[int, int]:
    """Anna (number and BSUID known) and Ben (number known), both confirmed."""
    anna = make_subscription(session, shop, phone=ANNA, whatsapp_user_id=ANNA_ID)
    ben = make_subscription(session, shop, phone=BEN)
    session.commit()
    return anna.id, ben.id


def _row(session: Session, subscription_id: int) -> Subscription:
    session.expire_all()
    row = session.get(Subscription, subscription_id)
    assert row is not None
    return row


def _counts(session: Session) -> tuple[int, int, int]:
    session.expire_all()
    return tuple(  # type: ignore[return-value]
        session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Subscription, ConsentEvent, AuditEntry)
    )


def test_stop_reply_with_only_a_bsuid_opts_out_its_buyer_and_no_other(
    session: Session, meta_says: BuyerWebhooks, buyers: tuple[int, int], fake_meta: FakeMeta
) -> None:
    assert meta_says.text("STOP", user_id=ANNA_ID) == 200

    assert (_row(session, buyers[0]).state, _row(session, buyers[1]).state) == (
        "opted_out",
        "confirmed",
    )
    [event] = session.scalars(select(ConsentEvent)).all()
    assert (event.subscription_id, event.source) == (buyers[0], "whatsapp_reply")
    [answer] = fake_meta.sends()
    assert answer.json["to"] == ANNA.lstrip("+")  # by number: we have it
    assert "recipient" not in answer.json


def test_opt_out_button_with_only_a_bsuid_opts_out_its_buyer(
    session: Session, meta_says: BuyerWebhooks, buyers: tuple[int, int]
) -> None:
    assert meta_says.button(OPT_OUT_PAYLOAD, "Stop promotions", user_id=ANNA_ID) == 200
    assert _row(session, buyers[0]).state == "opted_out"
    assert [e.source for e in session.scalars(select(ConsentEvent))] == ["template_button"]


def test_user_preferences_stop_with_only_a_bsuid_opts_out_its_buyer(
    session: Session, meta_says: BuyerWebhooks, buyers: tuple[int, int], fake_meta: FakeMeta
) -> None:
    assert meta_says.preference("stop", user_id=ANNA_ID) == 200
    assert (_row(session, buyers[0]).state, _row(session, buyers[1]).state) == (
        "opted_out",
        "confirmed",
    )
    [event] = session.scalars(select(ConsentEvent)).all()
    assert (event.subscription_id, event.source) == (buyers[0], "meta_preferences")
    assert fake_meta.sends() == []


def test_status_with_only_a_bsuid_moves_its_message_and_teaches_the_bsuid(
    session: Session, shop: Store, meta_says: BuyerWebhooks, buyers: tuple[int, int]
) -> None:
    # given a reminder sent to Ben's number, whose BSUID we have not seen yet
    wamid = "wamid.HBgLNDkxNzY5ODc2NTQzMhUCABEYEkI3QkYxRjQ4QUM0QjhDRkVGNAA="
    notification = make_notification(
        session,
        shop,
        "cart:9:1",
        phone=BEN,
        state=NotificationState.SENT,
        provider_message_id=wamid,
    )
    session.commit()

    assert meta_says.status(wamid, "delivered", user_id=BEN_ID) == 200

    session.expire_all()
    row = session.get(Notification, notification.id)
    assert row is not None and row.delivery_status == "delivered"
    assert _row(session, buyers[1]).whatsapp_user_id == BEN_ID
    assert _row(session, buyers[0]).whatsapp_user_id == ANNA_ID


def test_unknown_bsuid_changes_nothing_and_sends_nothing(
    session: Session, meta_says: BuyerWebhooks, buyers: tuple[int, int], fake_meta: FakeMeta
) -> None:
    before = _counts(session)

    assert meta_says.text("STOP", user_id=STRANGER_ID) == 200
    assert meta_says.button(OPT_OUT_PAYLOAD, "Stop promotions", user_id=STRANGER_ID) == 200
    assert meta_says.preference("stop", user_id=STRANGER_ID) == 200
    assert meta_says.preference("resume", user_id=STRANGER_ID) == 200

    assert _counts(session) == before
    assert (_row(session, buyers[0]).state, _row(session, buyers[1]).state) == (
        "confirmed",
        "confirmed",
    )
    assert [_row(session, i).whatsapp_user_id for i in buyers] == [ANNA_ID, None]
    assert fake_meta.sends() == []


def test_new_bsuid_beside_a_known_number_replaces_the_old_one(
    session: Session, meta_says: BuyerWebhooks, buyers: tuple[int, int]
) -> None:
    renewed = "DE.12345678901234567890"
    assert meta_says.text("Hallo", phone=ANNA, user_id=renewed) == 200
    anna = _row(session, buyers[0])
    assert (anna.whatsapp_user_id, anna.state) == (renewed, "confirmed")


def test_one_buyers_bsuid_with_another_buyers_number_never_merges_consent(
    session: Session, meta_says: BuyerWebhooks, buyers: tuple[int, int], fake_meta: FakeMeta
) -> None:
    # a STOP carrying Ben's number and Anna's BSUID: the number decides, the BSUID stays put
    assert meta_says.text("STOP", phone=BEN, user_id=ANNA_ID) == 200
    assert meta_says.preference("stop", phone=BEN, user_id=ANNA_ID) == 200

    anna, ben = _row(session, buyers[0]), _row(session, buyers[1])
    assert (anna.state, anna.whatsapp_user_id) == ("confirmed", ANNA_ID)
    assert (ben.state, ben.whatsapp_user_id) == ("opted_out", None)
    assert {e.subscription_id for e in session.scalars(select(ConsentEvent))} == {buyers[1]}
    assert [s.json["to"] for s in fake_meta.sends()] == [BEN.lstrip("+")]


def test_a_user_id_not_in_metas_format_is_not_matched(
    session: Session, meta_says: BuyerWebhooks, shop: Store
) -> None:
    make_subscription(session, shop, phone="+16505551234", whatsapp_user_id="16505551234")
    session.commit()
    before = _counts(session)
    assert meta_says.text("STOP", user_id="16505551234") == 200
    assert _counts(session) == before


def test_two_subscriptions_of_one_shop_cannot_share_a_bsuid(
    session: Session, shop: Store, buyers: tuple[int, int]
) -> None:
    make_subscription(session, shop, phone="+4915199999999", whatsapp_user_id=None)
    session.commit()  # many without a BSUID are fine
    with pytest.raises(IntegrityError):
        make_subscription(session, shop, phone="+4915188888888", whatsapp_user_id=ANNA_ID)
    session.rollback()


def test_bsuid_format_is_metas() -> None:
    assert identity.user_id_of("US.13491208655302741918") == "US.13491208655302741918"
    assert identity.user_id_of("US.ENT.11815799212886844830") == "US.ENT.11815799212886844830"
    assert [identity.user_id_of(v) for v in ("16505551234", "us.1349", "US.", None, "")] == [
        None
    ] * 5


def test_a_bsuid_recipient_is_sent_as_recipient_and_meta_accepts_it(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    account = session.scalars(select(WhatsAppAccount)).one()
    channel = CloudChannel(account, app.config["SHOPNUDGE"])

    channel.send_text(ANNA_ID, "Hallo")
    channel.send_template(TemplateMessage(to=ANNA_ID, template="t", language="de"))

    bodies = [r.json for r in fake_meta.sends()]
    assert [(b.get("recipient"), "to" in b) for b in bodies] == [(ANNA_ID, False)] * 2
    assert fake_meta.refused == []


def test_meta_refusing_a_bsuid_recipient_ends_the_message_with_an_explanation(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    account = session.scalars(select(WhatsAppAccount)).one()
    fake_meta.fail_next_send(131062)
    with pytest.raises(SendError) as refused:
        CloudChannel(account, app.config["SHOPNUDGE"]).send_text(ANNA_ID, "Hallo")
    assert (refused.value.code, classify(refused.value)) == (131062, ErrorKind.TERMINAL)
    assert "business-scoped user id" in explanation(refused.value)


def test_fake_status_webhooks_with_bsuids_follow_metas_spec() -> None:
    contract = meta_contract()
    assert contract is not None
    hooks = BuyerWebhooks(url="", app_secret="s", waba_id=WABA_ID, phone_number_id="1")
    hidden = hooks.envelope(
        "messages",
        {
            "statuses": [
                {"id": "wamid.A", "status": "read", "timestamp": "1", "recipient_user_id": ANNA_ID}
            ]
        },
    )
    assert contract.status_webhook_refusal(hidden) is None
    broken = hooks.envelope("messages", {"statuses": [{"status": "read", "timestamp": "1"}]})
    refusal = contract.status_webhook_refusal(broken)
    assert refusal is not None and "'id' is a required property" in str(refusal)


def test_export_names_the_buyers_bsuid(
    session: Session, shop: Store, buyers: tuple[int, int]
) -> None:
    [subscription] = export_buyer(session, shop, phone=ANNA)["subscriptions"]
    assert (subscription["phone"], subscription["whatsapp_user_id"]) == (ANNA, ANNA_ID)


def test_erasure_drops_stored_webhooks_that_name_the_buyer_only_by_bsuid(
    session: Session, shop: Store, buyers: tuple[int, int]
) -> None:
    # given two failed deliveries kept for a retry: Anna's by BSUID alone, and Ben's
    hooks = BuyerWebhooks(url="", app_secret="s", waba_id=WABA_ID, phone_number_id="1")
    for delivery_id, user_id in (("message:anna", ANNA_ID), ("message:ben", BEN_ID)):
        value = {"contacts": [{"user_id": user_id}], "messages": [{"from_user_id": user_id}]}
        session.add(
            WebhookDelivery(
                source="whatsapp",
                delivery_id=delivery_id,
                store_id=shop.id,
                topic="message.text",
                body=json.dumps(hooks.envelope("messages", value)).encode(),
                last_error="boom",
            )
        )
    session.commit()

    erase_buyer(session, shop, phone=ANNA, source="shop_owner")
    session.commit()

    rows = {d.delivery_id: d for d in session.scalars(select(WebhookDelivery))}
    assert (rows["message:anna"].body, rows["message:anna"].last_error) == (None, "erased (GDPR)")
    assert rows["message:ben"].body is not None and BEN_ID.encode() in rows["message:ben"].body
    assert _row(session, buyers[0]).whatsapp_user_id is None
    assert _row(session, buyers[1]).whatsapp_user_id is None  # Ben's was never learnt
