"""The carts API keeps the opt-in API's origin rules, and a snapshot never replaces a contact."""

from __future__ import annotations

import json

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.i18n import BUYER_REASONS
from plugin.models import Cart, Store
from tests.woocommerce.test_carts import SITE, carts, post, snapshot
from tests.woocommerce.test_carts import store as store


def test_text_plain_snapshot_from_a_foreign_origin_is_403_and_writes_nothing(
    client: FlaskClient, session: Session, store: Store
) -> None:
    response = client.post(
        f"/api/v1/stores/{store.public_key}/carts",
        data=json.dumps(snapshot()),
        headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
    )

    assert response.status_code == 403
    assert response.json["error"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert carts(session) == 0


def test_json_snapshot_from_a_foreign_origin_is_403(
    client: FlaskClient, session: Session, store: Store
) -> None:
    response = post(client, store, snapshot(), headers={"Origin": "https://evil.example"})

    assert response.status_code == 403
    assert carts(session) == 0


def test_snapshot_that_is_not_sent_as_json_is_400(
    client: FlaskClient, session: Session, store: Store
) -> None:
    response = client.post(
        f"/api/v1/stores/{store.public_key}/carts",
        data=json.dumps(snapshot()),
        headers={"Content-Type": "text/plain"},
    )

    assert response.status_code == 400
    assert response.json["error"] == "body_invalid"
    assert carts(session) == 0


def test_snapshot_from_the_shops_origin_is_accepted(
    client: FlaskClient, session: Session, store: Store
) -> None:
    response = post(client, store, snapshot(), headers={"Origin": SITE})

    assert response.status_code == 202
    assert response.headers["Access-Control-Allow-Origin"] == SITE
    assert carts(session) == 1


def test_a_later_snapshot_never_replaces_the_carts_phone_or_email(
    client: FlaskClient, session: Session, store: Store
) -> None:
    post(client, store, snapshot(), headers={"Origin": SITE})

    response = post(
        client,
        store,
        snapshot(phone="0170 9999999", email="mallory@example.com"),
        headers={"Origin": SITE},
    )

    assert response.status_code == 202
    cart = session.scalars(select(Cart)).one()
    assert (cart.phone, cart.email) == ("+4915112345678", "erika@example.com")


def test_a_snapshot_fills_a_contact_the_cart_did_not_have(
    client: FlaskClient, session: Session, store: Store
) -> None:
    post(client, store, snapshot(phone=None, email=None), headers={"Origin": SITE})

    post(client, store, snapshot(), headers={"Origin": SITE})

    cart = session.scalars(select(Cart)).one()
    assert (cart.phone, cart.email) == ("+4915112345678", "erika@example.com")


def test_an_unparseable_cart_phone_is_explained_in_the_buyers_language(
    client: FlaskClient, session: Session, store: Store
) -> None:
    response = post(client, store, snapshot(phone="call me maybe", locale="de-DE"))

    assert response.status_code == 422
    assert response.json["reason"] == "phone_unparseable"
    assert response.json["message"] == BUYER_REASONS["phone_unparseable"]["de"]
    assert "did not seem to be a phone number" not in response.get_data(as_text=True)
    assert carts(session) == 0
