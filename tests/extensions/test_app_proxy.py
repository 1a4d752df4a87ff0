"""The theme embed's calls through Shopify's app proxy: signed by Shopify, mapped to the shop."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import ConsentEvent, Store
from plugin.shopify.app_proxy import proxy_signature
from tests.fakes.shopify import FakeShopify


def signed(fake: FakeShopify, path: str, at: dt.datetime | None = None, **extra: str) -> str:
    """The URL Shopify's proxy calls for a buyer's /apps/shopnudge/... on the shop's domain."""
    params = {
        "shop": fake.domain,
        "logged_in_customer_id": "",
        "path_prefix": "/apps/shopnudge",
        "timestamp": str(int((at or dt.datetime.now(dt.UTC)).timestamp())),
        **extra,
    }
    params["signature"] = proxy_signature(params.items(), fake.secret)
    return f"{path}?{urlencode(params)}"


def count_events(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(ConsentEvent)) or 0


def test_shopifys_documented_example_signature_verifies() -> None:
    # the worked example of shopify.dev's "Authenticate app proxies" page
    params = [
        ("extra", "1"),
        ("extra", "2"),
        ("shop", "shop-name.myshopify.com"),
        ("logged_in_customer_id", "1"),
        ("path_prefix", "/apps/awesome_reviews"),
        ("timestamp", "1317327555"),
    ]

    assert proxy_signature(params, "hush") == (
        "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"
    )


def test_a_signed_form_request_gets_the_shops_wording(
    client: FlaskClient, shop: Store, fake: FakeShopify
) -> None:
    response = client.get(signed(fake, "/proxy/shopify/api/optin-form", locale="de"))

    assert response.status_code == 200
    assert response.json["store"] == shop.public_key
    assert response.json["wording_version"] == 1
    assert response.json["text"].startswith("Ja, Bohne & Blatt darf mir Nachrichten")


def test_a_signed_opt_in_from_a_custom_domain_is_recorded_as_the_widgets(
    client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    response = client.post(
        signed(fake, "/proxy/shopify/api/optins"),
        json={"phone": "0151 23456789", "consent": True, "wording_version": 1, "locale": "de"},
        headers={"Origin": "https://www.bohne-und-blatt.de"},
    )

    assert response.status_code == 202
    (event,) = session.scalars(select(ConsentEvent)).all()
    assert (event.store_id, event.source, event.locale) == (shop.id, "widget", "de")
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_altered_request_is_refused_and_nothing_is_stored(
    client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    url = signed(fake, "/proxy/shopify/api/optins").replace(
        "bohne-und-blatt.myshopify.com", "other-shop.myshopify.com"
    )

    response = client.post(
        url, json={"phone": "0151 23456789", "consent": True, "wording_version": 1}
    )

    assert response.status_code == 401
    assert count_events(session) == 0


def test_a_request_replayed_outside_its_window_is_refused(
    client: FlaskClient, session: Session, shop: Store, fake: FakeShopify
) -> None:
    captured = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)

    response = client.post(
        signed(fake, "/proxy/shopify/api/optins", at=captured),
        json={"phone": "0151 23456789", "consent": True, "wording_version": 1},
    )

    assert response.status_code == 401
    assert count_events(session) == 0


def test_an_unsigned_request_is_refused(client: FlaskClient, shop: Store) -> None:
    response = client.get(f"/proxy/shopify/api/optin-form?shop={shop.domain}")

    assert response.status_code == 401


def test_the_widget_script_is_served_through_the_proxy(
    client: FlaskClient, shop: Store, fake: FakeShopify
) -> None:
    response = client.get(signed(fake, "/proxy/shopify/widget/embed.js"))

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert b"data-shopnudge-optin" in response.data
