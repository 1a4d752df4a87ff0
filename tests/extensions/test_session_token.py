"""The Thank-you and Order-status extensions' opt-ins, authenticated by their session token."""

from __future__ import annotations

import time

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.consent.wording import current_wording
from plugin.models import ConsentEvent, Store, Subscription
from tests.extensions.conftest import extension_token
from tests.fakes.shopify import FakeShopify

URL = "/api/v1/shopify/checkout-optins"


def post(client: FlaskClient, token: str, **body: object) -> object:
    return client.post(
        URL,
        json={"phone": "0151 23456789", "consent": True, "wording_version": 1, "locale": "de"}
        | body,
        headers={"Authorization": f"Bearer {token}", "User-Agent": "Checkout worker"},
    )


def events(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(ConsentEvent)) or 0


def test_a_valid_token_records_a_thank_you_page_opt_in_for_the_shop_in_dest(
    client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    token = extension_token(fake, sub="gid://shopify/Customer/42")

    response = post(client, token)

    assert response.status_code == 202  # type: ignore[attr-defined]
    assert response.json["state"] == "pending"  # type: ignore[attr-defined]
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # type: ignore[attr-defined]
    (event,) = session.scalars(select(ConsentEvent)).all()
    subscription = session.get(Subscription, event.subscription_id)
    assert (subscription.store_id, subscription.phone) == (shop.id, "+4915123456789")
    assert event.source == "thank_you_page"
    assert event.wording_id == current_wording(session, shop, "de").id
    assert event.user_agent == "Checkout worker"
    assert event.detail == {"customer_id": "42", "session_token_id": "4c7d9b2e-token"}


def test_a_dest_with_https_names_the_same_shop(
    client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    response = post(client, extension_token(fake, dest=f"https://{fake.domain}"))

    assert response.status_code == 202  # type: ignore[attr-defined]


def test_an_expired_token_is_refused_and_nothing_is_stored(
    client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    past = int(time.time()) - 600
    response = post(client, extension_token(fake, exp=past, nbf=past - 300, iat=past - 300))

    assert response.status_code == 401  # type: ignore[attr-defined]
    assert events(session) == 0


def test_a_token_for_another_app_is_refused(
    client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    response = post(client, extension_token(fake, aud="someone-elses-app"))

    assert response.status_code == 401  # type: ignore[attr-defined]
    assert events(session) == 0


def test_a_token_signed_with_another_secret_is_refused(
    client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    response = post(client, extension_token(fake, secret="not-our-app-secret-0123456789abcd"))

    assert response.status_code == 401  # type: ignore[attr-defined]
    assert events(session) == 0


def test_no_token_is_refused(client: FlaskClient, session: Session, shop: Store) -> None:
    response = client.post(URL, json={"phone": "0151 23456789", "consent": True})

    assert response.status_code == 401
    assert events(session) == 0


def test_a_shop_that_never_installed_is_unknown(
    client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    response = post(client, extension_token(fake, dest="other-shop.myshopify.com"))

    assert response.status_code == 404  # type: ignore[attr-defined]
    assert events(session) == 0


def test_the_preflight_allows_any_origin_with_the_authorization_header(
    client: FlaskClient,
) -> None:
    response = client.options(URL, headers={"Origin": "null"})

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
