"""Refused opt-ins say why in the buyer's language, never in a library's words."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.i18n import BUYER_REASONS
from plugin.models import ConsentEvent, Subscription
from tests.test_consent_optin import count, optin_store, post_optin

#: What phonenumbers itself says about "call me maybe".
LIBRARY_TEXT = "did not seem to be a phone number"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"phone": 15123456789}, "phone_not_text"),
        ({"phone": ["0151 23456789"]}, "phone_not_text"),
        ({"customer_id": ["7001"]}, "customer_id_invalid"),
        ({"customer_id": {"id": 7001}}, "customer_id_invalid"),
        ({"customer_id": True}, "customer_id_invalid"),
        ({"cart_token": 12}, "cart_token_invalid"),
        ({"cart_token": "x" * 256}, "cart_token_invalid"),
        ({"source": "whatsapp_reply"}, "source_not_allowed"),
        ({"source": "import"}, "source_not_allowed"),
        ({"source": 7}, "source_unknown"),
        ({"consent": 1}, "consent_missing"),
        ({"locale": 49}, "locale_invalid"),
    ],
)
def test_ill_typed_fields_are_422_with_their_reason_and_write_nothing(
    client: FlaskClient, session: Session, fields: dict[str, Any], reason: str
) -> None:
    store = optin_store(session)

    response = post_optin(client, store, **fields)

    assert response.status_code == 422
    assert response.json["reason"] == reason
    assert response.json["message"] == BUYER_REASONS[reason]["de"]
    assert count(session, Subscription) == 0
    assert count(session, ConsentEvent) == 0


def test_a_missing_phone_is_missing_and_a_numeric_one_is_not(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)
    body = {"consent": True, "wording_version": 1, "locale": "en"}

    missing = client.post(f"/api/v1/stores/{store.public_key}/optins", json=body)
    numeric = client.post(
        f"/api/v1/stores/{store.public_key}/optins", json=body | {"phone": 15123456789}
    )

    assert (missing.json["reason"], numeric.json["reason"]) == ("phone_missing", "phone_not_text")


@pytest.mark.parametrize("locale", ["de", "en"])
def test_an_unparseable_number_is_explained_in_the_buyers_language(
    client: FlaskClient, session: Session, locale: str
) -> None:
    store = optin_store(session)

    response = post_optin(client, store, phone="call me maybe", locale=locale)

    assert response.status_code == 422
    assert response.json["reason"] == "phone_unparseable"
    assert response.json["message"] == BUYER_REASONS["phone_unparseable"][locale]
    assert LIBRARY_TEXT not in response.get_data(as_text=True)


def test_the_widget_gets_every_reason_in_the_pages_language(
    client: FlaskClient, session: Session
) -> None:
    store = optin_store(session)

    ui = client.get(f"/api/v1/stores/{store.public_key}/optin-form?locale=de").json["ui"]

    assert {reason: ui[reason] for reason in BUYER_REASONS} == {
        reason: texts["de"] for reason, texts in BUYER_REASONS.items()
    }
    assert ui["phone_unparseable"] == "Das ist keine Telefonnummer. Bitte prüfen Sie die Eingabe."
