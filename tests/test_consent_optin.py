"""The opt-in API: proof recorded, every kind of bad input refused with its reason, CORS, bursts."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.consent import wording
from plugin.models import (
    ConsentEvent,
    Notification,
    RateBucket,
    Store,
    Subscription,
    SubscriptionState,
)
from tests.factories import make_customer, make_store

ORIGIN = "https://kaffee.myshopify.com"
UA = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def optin_store(session: Session, **fields: Any) -> Store:
    store = make_store(
        session, domain="kaffee.myshopify.com", name="Kaffeerösterei Wagner", **fields
    )
    wording.ensure_default_wordings(session, store)
    session.commit()
    return store


def post_optin(client: FlaskClient, store: Store, **fields: Any) -> Any:
    ip = fields.pop("ip", "203.0.113.7")
    body = {
        "phone": "0151 23456789",
        "consent": True,
        "wording_version": 1,
        "locale": "de",
        "source": "widget",
    }
    body.update(fields)
    return client.post(
        f"/api/v1/stores/{store.public_key}/optins",
        json=body,
        headers={"Origin": ORIGIN, "User-Agent": UA},
        environ_base={"REMOTE_ADDR": ip},
    )


def count(session: Session, model: Any) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_optin_records_a_pending_subscription_with_its_proof(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    customer = make_customer(session, store, platform_id="7001", phone=None)
    session.commit()

    response = post_optin(client, store, customer_id="7001", cart_token="c1-abc")

    assert response.status_code == 202
    assert response.json == {
        "state": "pending",
        "locale": "de",
        "wording_version": 1,
        "confirmation": {"mode": "template", "url": None},
    }
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    subscription = session.scalars(select(Subscription)).one()
    assert subscription.phone == "+4915123456789"
    assert subscription.state == SubscriptionState.PENDING
    assert subscription.customer_id == customer.id
    assert subscription.pending_expires_at is not None
    event = session.scalars(select(ConsentEvent)).one()
    shown = wording.current_wording(session, store, "de")
    assert (event.kind, event.source, event.wording_id, event.locale) == (
        "requested",
        "widget",
        shown.id if shown else None,
        "de",
    )
    assert (event.ip, event.user_agent) == ("203.0.113.7", UA)
    assert event.detail == {"customer_id": "7001", "cart_token": "c1-abc"}


def test_template_mode_composes_one_confirmation_notification(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)

    post_optin(client, store)

    notification = session.scalars(select(Notification)).one()
    subscription = session.scalars(select(Subscription)).one()
    event = session.scalars(select(ConsentEvent)).one()
    assert notification.flow == "optin_confirmation"
    assert notification.template_name == "shopnudge_optin_confirmation"
    assert notification.context["purpose"] == "optin_confirmation"
    assert notification.parameters == {
        "body": [{"type": "text", "text": "Kaffeerösterei Wagner"}],
        "buttons": [
            {
                "index": 0,
                "sub_type": "quick_reply",
                "parameters": [{"type": "payload", "payload": "shopnudge:confirm"}],
            }
        ],
    }
    assert notification.dedupe_key == f"optin:{subscription.id}:{event.id}"
    assert notification.phone == "+4915123456789"
    assert notification.language == "de"
    assert notification.state == "pending"
    assert notification.expires_at == subscription.pending_expires_at


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"consent": False}, "consent_missing"),
        ({"consent": "true"}, "consent_missing"),
        ({"consent": None}, "consent_missing"),
        ({"phone": ""}, "phone_missing"),
        ({"phone": "call me maybe"}, "phone_unparseable"),
        ({"phone": "+49 151 1"}, "phone_invalid"),
        ({"phone": "030 12345678"}, "phone_not_mobile"),
        ({"wording_version": 2}, "wording_version_stale"),
        ({"wording_version": None}, "wording_version_missing"),
        ({"locale": "fr"}, "locale_unknown"),
        ({"locale": "not a locale!"}, "locale_invalid"),
        ({"source": "guess"}, "source_unknown"),
    ],
)
def test_bad_optin_is_refused_with_its_reason_and_writes_nothing(
    client: FlaskClient, session: Session, fields: dict[str, Any], reason: str
) -> None:
    store = optin_store(session)

    response = post_optin(client, store, **fields)

    assert response.status_code == 422
    assert response.json["reason"] == reason
    assert response.json["message"]
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert count(session, Subscription) == 0
    assert count(session, ConsentEvent) == 0
    assert count(session, Notification) == 0


def test_a_new_wording_version_makes_the_old_one_stale(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    wording.add_wording_version(
        session, store, "de", "Ja, Kaffeerösterei Wagner darf mir per WhatsApp schreiben.", "owner"
    )
    session.commit()

    stale = post_optin(client, store, wording_version=1)
    current = post_optin(client, store, wording_version=2)

    assert stale.status_code == 422 and stale.json["reason"] == "wording_version_stale"
    assert current.status_code == 202


def test_unknown_store_is_404(client: FlaskClient, session: Session) -> None:
    optin_store(session)

    response = client.post("/api/v1/stores/nope/optins", json={"phone": "+4915123456789"})
    form = client.get("/api/v1/stores/nope/optin-form?locale=de")
    widget = client.get("/widget/nope.js")

    assert (response.status_code, form.status_code, widget.status_code) == (404, 404, 404)
    assert count(session, Subscription) == 0


def test_a_burst_from_one_ip_gets_429_with_retry_after(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)

    statuses = [
        post_optin(client, store, phone=f"+49151234567{n:02d}").status_code for n in range(12)
    ]

    assert statuses == [202] * 10 + [429, 429]
    refused = post_optin(client, store, phone="+4915123456799")
    assert refused.status_code == 429
    assert refused.json["reason"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    assert count(session, Subscription) == 10
    # the buckets are keyed by a keyed hash, never by the IP itself
    assert all("203.0.113.7" not in key for key in session.scalars(select(RateBucket.key)))


def test_one_number_is_not_flooded_with_confirmation_requests(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)

    statuses = [post_optin(client, store, ip=f"198.51.100.{n}").status_code for n in range(5)]

    assert statuses == [202, 202, 202, 429, 429]
    assert count(session, Notification) == 3


def test_preflight_allows_only_the_shops_origins(client: FlaskClient, session: Session) -> None:
    store = optin_store(session)
    url = f"/api/v1/stores/{store.public_key}/optins"
    preflight = {"Access-Control-Request-Method": "POST"}

    allowed = client.options(url, headers={"Origin": ORIGIN, **preflight})
    foreign = client.options(url, headers={"Origin": "https://evil.example", **preflight})

    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Origin" not in foreign.headers


def test_a_foreign_page_cannot_sign_anyone_up(client: FlaskClient, session: Session) -> None:
    store = optin_store(session)

    response = client.post(
        f"/api/v1/stores/{store.public_key}/optins",
        json={"phone": "+4915123456789", "consent": True, "wording_version": 1, "locale": "de"},
        headers={"Origin": "https://evil.example"},
    )

    assert response.status_code == 403
    assert response.json["reason"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert count(session, Subscription) == 0


def test_optin_form_falls_back_to_the_shops_default_locale(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    url = f"/api/v1/stores/{store.public_key}/optin-form"

    austrian = client.get(url, query_string={"locale": "de-AT"}, headers={"Origin": ORIGIN})
    english = client.get(url, query_string={"locale": "en-GB"})
    japanese = client.get(url, query_string={"locale": "ja"})

    assert austrian.json["locale"] == "de"
    assert austrian.json["text"].startswith("Ja, Kaffeerösterei Wagner darf mir")
    assert austrian.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert english.json["locale"] == "en"
    assert english.json["wording_version"] == 1
    assert japanese.json["locale"] == "de"  # the shop's default
    assert english.json["ui"]["submit"] == "Sign up"


def test_link_mode_answers_a_wa_me_link_with_a_one_time_code(
    client: FlaskClient, session: Session
) -> None:
    from plugin.models import WhatsAppAccount

    store = optin_store(session, settings={"double_optin_mode": "link"})
    session.add(
        WhatsAppAccount(
            store_id=store.id,
            phone_number_id="1065",
            waba_id="2001",
            token="EAAG-test",
            display_phone_number="+49 30 1234567",
        )
    )
    session.commit()

    response = post_optin(client, store)

    subscription = session.scalars(select(Subscription)).one()
    code = subscription.confirmation_code
    assert code and len(code) == 6
    url = response.json["confirmation"]["url"]
    assert response.json["confirmation"]["mode"] == "link"
    assert url.startswith("https://wa.me/49301234567?text=Ja%2C%20ich%20m%C3%B6chte")
    assert url.endswith(f"Code%3A%20{code}")
    assert count(session, Notification) == 0
