"""Double opt-in end to end: the opt-in API, `shopnudge tick` and the fake Graph API.

The confirmation is a UTILITY template to a pending subscription: exactly one reaches Meta,
in Meta's documented shape, and the buyer confirms by its button (a `button` webhook), by
typing "JA" or "YES" (a `text` webhook), or in link mode by sending the prefilled text.
Webhook bodies are Meta's own examples (vendor folder), with ids, times and numbers replaced.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent.replies import CONFIRM_PAYLOAD
from plugin.db import utcnow
from plugin.models import (
    ConsentEvent,
    Notification,
    Store,
    StoreStatus,
    Subscription,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from tests.factories import make_cart, make_customer, make_product
from tests.fakes.meta import FakeMeta, Recorded
from tests.vendor import vendor_file
from tests.whatsapp.conftest import PHONE_NUMBER_ID, WABA_ID, post_webhook

BUYER = "+4915123456789"
BUYER_DIGITS = BUYER.removeprefix("+")


def opt_in(client: FlaskClient, store: Store, **fields: Any) -> Any:
    body = {"phone": "0151 23456789", "consent": True, "wording_version": 1, "locale": "de"}
    response = client.post(
        f"/api/v1/stores/{store.public_key}/optins", json=body | {"source": "widget"} | fields
    )
    assert response.status_code == 202, response.json
    return response.json


def tick(runner: FlaskCliRunner, at: dt.datetime) -> None:
    result = runner.invoke(args=["tick", "--now", at.isoformat()])
    assert result.exit_code == 0, result.output + repr(result.exception)


def templates_sent(fake: FakeMeta) -> list[Recorded]:
    return [r for r in fake.sends() if r.json.get("type") == "template"]


def texts_sent(fake: FakeMeta) -> list[str]:
    return [r.json["text"]["body"] for r in fake.sends() if r.json.get("type") == "text"]


def meta_example(name: str, **message: Any) -> dict[str, Any]:
    """Meta's documented webhook example, sent to our number from the buyer."""
    examples = json.loads(vendor_file("meta", "meta-webhook-examples-v23.0.json").read_text())
    payload = copy.deepcopy(examples[name])
    entry = payload["entry"][0]
    entry["id"] = WABA_ID
    value = entry["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE_NUMBER_ID
    value["contacts"][0]["wa_id"] = BUYER_DIGITS
    item = value["messages"][0]
    item.update({"from": BUYER_DIGITS, "timestamp": str(int(utcnow().timestamp()))}, **message)
    return payload


def subscription(session: Session) -> Subscription:
    session.expire_all()
    return session.scalars(select(Subscription)).one()


def ledger_kinds(session: Session) -> list[str]:
    return list(session.scalars(select(ConsentEvent.kind).order_by(ConsentEvent.id)))


def test_template_mode_sends_exactly_one_confirmation_through_tick(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    # given a buyer who ticked the box
    answer = opt_in(client, store)
    assert answer["confirmation"] == {"mode": "template", "url": None}
    now = utcnow()
    # when the scheduler runs, and runs again
    tick(runner, now + dt.timedelta(minutes=1))
    tick(runner, now + dt.timedelta(minutes=2))
    # then exactly one confirmation reached Meta: the approved UTILITY template, with the
    # shop's name and the quick reply's payload filled in
    (sent,) = templates_sent(fake_meta)
    row = session.scalars(select(Notification)).one()
    assert sent.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert sent.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": BUYER_DIGITS,
        "type": "template",
        "template": {
            "name": "shopnudge_optin_confirmation",
            "language": {"policy": "deterministic", "code": "de"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Kaffeerösterei Wagner"}]},
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "0",
                    "parameters": [{"type": "payload", "payload": CONFIRM_PAYLOAD}],
                },
            ],
        },
        "biz_opaque_callback_data": str(row.id),
    }
    assert fake_meta.refused == []
    assert (row.state, row.reason, row.template_name) == (
        "sent",
        None,
        "shopnudge_optin_confirmation",
    )
    assert subscription(session).state == "pending"  # sending is not confirming


@pytest.mark.parametrize(
    ("example", "message"),
    [
        pytest.param(
            "Button Message",
            {"button": {"payload": CONFIRM_PAYLOAD, "text": "Ja"}},
            id="the quick reply button",
        ),
        pytest.param(
            "Button Message",
            {"button": {"payload": "Ja", "text": "Ja"}},
            id="the button of a template sent without its payload",
        ),
        pytest.param("Text Message", {"text": {"body": "JA"}}, id="typed JA"),
        pytest.param("Text Message", {"text": {"body": "Yes!"}}, id="typed YES"),
    ],
)
def test_the_buyer_confirms_by_button_or_by_typing_yes(
    client: FlaskClient,
    runner: FlaskCliRunner,
    session: Session,
    store: Store,
    fake_meta: FakeMeta,
    example: str,
    message: dict[str, Any],
) -> None:
    # given a pending buyer who received the confirmation
    opt_in(client, store)
    tick(runner, utcnow() + dt.timedelta(minutes=1))
    assert len(templates_sent(fake_meta)) == 1
    # when the buyer answers it, as Meta delivers the answer
    response = post_webhook(client, meta_example(example, **message))
    # then the subscription is confirmed, on the record, and the buyer is told so once
    assert response.status_code == 200
    current = subscription(session)
    assert current.state == "confirmed"
    assert ledger_kinds(session) == ["requested", "confirmed"]
    confirmed = session.scalars(select(ConsentEvent).where(ConsentEvent.kind == "confirmed")).one()
    assert (
        confirmed.message_id
        == meta_example(example)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    )
    assert texts_sent(fake_meta) == [
        "Danke, deine Anmeldung bei Kaffeerösterei Wagner ist bestätigt. Abmelden kannst du "
        "dich jederzeit mit STOPP."
    ]
    # and nothing more goes out on later ticks
    tick(runner, utcnow() + dt.timedelta(minutes=5))
    assert len(templates_sent(fake_meta)) == 1
    assert fake_meta.refused == []


def test_link_mode_confirms_with_the_prefilled_text_and_sends_no_template(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    # given a shop in link mode and a buyer who opted in
    store.settings = {**store.settings, "double_optin_mode": "link"}
    session.commit()
    answer = opt_in(client, store)
    assert answer["confirmation"]["mode"] == "link"
    code = subscription(session).confirmation_code
    prefilled = (
        f"Ja, ich möchte WhatsApp-Nachrichten von Kaffeerösterei Wagner erhalten. Code: {code}"
    )
    assert answer["confirmation"]["url"].startswith("https://wa.me/15550783881?text=Ja%2C%20ich")
    tick(runner, utcnow() + dt.timedelta(minutes=1))
    # when the buyer sends the prefilled message from WhatsApp
    post_webhook(client, meta_example("Text Message", text={"body": prefilled}))
    # then confirmed; no template was ever sent, only the free reply inside the open window
    assert subscription(session).state == "confirmed"
    assert ledger_kinds(session) == ["requested", "confirmed"]
    assert templates_sent(fake_meta) == []
    assert len(texts_sent(fake_meta)) == 1
    assert session.scalars(select(Notification)).all() == []


def test_link_mode_ignores_a_wrong_code(
    client: FlaskClient, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    store.settings = {**store.settings, "double_optin_mode": "link"}
    session.commit()
    opt_in(client, store)

    post_webhook(client, meta_example("Text Message", text={"body": "Code: ZZZZZZ"}))

    assert subscription(session).state == "pending"
    assert ledger_kinds(session) == ["requested"]
    assert fake_meta.sends() == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"store_status": StoreStatus.PAUSED}, "store_active", id="store paused"),
        pytest.param({"template_status": "REJECTED"}, "confirmation_template", id="rejected"),
        pytest.param({"quality_rating": "RED"}, "phone_quality", id="number quality red"),
        pytest.param({"opted_out": True}, "confirmation_pending", id="buyer opted out"),
    ],
)
def test_the_confirmation_obeys_the_guards_that_apply_to_it(
    client: FlaskClient,
    runner: FlaskCliRunner,
    session: Session,
    store: Store,
    fake_meta: FakeMeta,
    change: dict[str, Any],
    reason: str,
) -> None:
    # given a buyer's pending opt-in, and then something that forbids the confirmation
    opt_in(client, store)
    if "store_status" in change:
        store.status = change["store_status"]
    if "template_status" in change:
        for row in session.scalars(
            select(WhatsAppTemplate).where(WhatsAppTemplate.purpose == "optin_confirmation")
        ):
            row.status = change["template_status"]
    if "quality_rating" in change:
        session.scalars(select(WhatsAppAccount)).one().quality_rating = change["quality_rating"]
        fake_meta.phone_numbers[PHONE_NUMBER_ID]["quality_rating"] = change["quality_rating"]
    if "opted_out" in change:
        post_webhook(client, meta_example("Text Message", text={"body": "STOPP"}))
        fake_meta.requests.clear()  # the opt-out's own reply is not what this test is about
    session.commit()
    # when the scheduler runs
    tick(runner, utcnow() + dt.timedelta(minutes=1))
    # then nothing reached Meta and the row says which guard held it
    row = session.scalars(select(Notification)).one()
    session.refresh(row)
    assert (row.state, row.reason) == ("skipped", reason)
    assert fake_meta.sends() == []


def test_a_second_request_before_confirming_sends_no_second_confirmation(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    # given a confirmation already sent
    opt_in(client, store)
    tick(runner, utcnow() + dt.timedelta(minutes=1))
    # when the buyer ticks the box again before confirming
    opt_in(client, store)
    tick(runner, utcnow() + dt.timedelta(minutes=2))
    # then the second row is held, and Meta got one confirmation
    first, second = session.scalars(select(Notification).order_by(Notification.id)).all()
    assert (first.state, second.state, second.reason) == ("sent", "skipped", "first_confirmation")
    assert len(templates_sent(fake_meta)) == 1


def test_the_confirmation_does_not_count_against_the_marketing_caps(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    # given a buyer confirmed a minute ago (one marketing message a day is the default cap),
    # in a shop without quiet hours (the test runs at any time of day)
    store.settings = {**store.settings, "quiet_hours_start": "00:00", "quiet_hours_end": "00:00"}
    session.commit()
    opt_in(client, store)
    start = utcnow()
    tick(runner, start + dt.timedelta(minutes=1))
    post_webhook(client, meta_example("Button Message", button={"payload": CONFIRM_PAYLOAD}))
    assert subscription(session).state == "confirmed"
    # and a cart the buyer then left
    customer = make_customer(session, store, phone=BUYER, country="DE", timezone="UTC")
    make_cart(
        session,
        store,
        [make_product(session, store, title="Espresso 1 kg")],
        phone=BUYER,
        customer_id=customer.id,
        last_activity_at=start + dt.timedelta(minutes=2),
    )
    session.commit()
    # when the scheduler runs over the next hours
    moments = [start + dt.timedelta(minutes=m) for m in range(2, 240, 15)]
    for moment in moments:
        tick(runner, moment)
    # then the first reminder went out the same day, not a day later
    reminders = [r for r in templates_sent(fake_meta) if "cart" in r.json["template"]["name"]]
    assert [r.json["template"]["name"] for r in reminders] == ["shopnudge_cart_reminder_1"]
    assert fake_meta.refused == []


def test_the_confirmation_on_record_names_the_wording_the_buyer_agreed_to(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    # given a buyer who was shown wording version 1 and confirmed with the button
    opt_in(client, store)
    tick(runner, utcnow() + dt.timedelta(minutes=1))
    reply = meta_example("Button Message", button={"payload": CONFIRM_PAYLOAD, "text": "Ja"})
    post_webhook(client, reply)
    # when the owner looks the number up
    result = runner.invoke(args=["subscriptions", "show", str(store.id), BUYER, "--json"])
    # then the confirmation is on record with the wording it confirms and Meta's message id
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    requested, confirmed = record["events"]
    assert record["state"] == "confirmed"
    assert (confirmed["kind"], confirmed["source"]) == ("confirmed", "whatsapp_reply")
    assert confirmed["wording"] == requested["wording"]
    assert confirmed["wording"]["version"] == 1
    assert confirmed["locale"] == "de"
    assert confirmed["message_id"] == reply["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
    assert confirmed["detail"]["reply"] == "button"


def test_a_confirmation_waits_for_its_template_in_review_and_goes_once_approved(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    # given a new shop whose templates are still in Meta's review, and a buyer who opts in
    for row in session.scalars(select(WhatsAppTemplate)):
        row.status = "PENDING"
    session.commit()
    opt_in(client, store)
    start = utcnow()
    # when the scheduler runs during the review
    tick(runner, start + dt.timedelta(minutes=1))
    # then nothing is sent, and the confirmation waits rather than being dropped
    row = session.scalars(select(Notification)).one()
    assert (row.state, row.template_name, row.language) == (
        "pending",
        "shopnudge_optin_confirmation",
        "de",
    )
    assert templates_sent(fake_meta) == []
    # when Meta approves the template, and the scheduler runs again
    for template in session.scalars(select(WhatsAppTemplate)):
        template.status = "APPROVED"
    session.commit()
    tick(runner, start + dt.timedelta(minutes=20))
    tick(runner, start + dt.timedelta(minutes=40))
    # then the confirmation goes, once
    (sent,) = templates_sent(fake_meta)
    assert sent.json["template"]["name"] == "shopnudge_optin_confirmation"
    assert sent.json["template"]["language"] == {"policy": "deterministic", "code": "de"}


def test_two_requests_in_one_tick_send_one_confirmation(
    client: FlaskClient, runner: FlaskCliRunner, session: Session, store: Store, fake_meta: FakeMeta
) -> None:
    # given a buyer who ticked the box twice before the scheduler ran
    opt_in(client, store)
    opt_in(client, store)
    # when one tick claims both confirmation rows together
    tick(runner, utcnow() + dt.timedelta(minutes=1))
    # then the first goes and the second is held: one confirmation, not none, not two
    first, second = session.scalars(select(Notification).order_by(Notification.id)).all()
    assert (first.state, second.state, second.reason) == ("sent", "skipped", "first_confirmation")
    assert len(templates_sent(fake_meta)) == 1
