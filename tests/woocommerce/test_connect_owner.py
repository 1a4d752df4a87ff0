"""Only a signed-in WooCommerce owner (or the operator's CLI) may start a connect."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import OAuthState, Store
from tests.factories import make_store
from tests.owner import sign_in


def states(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OAuthState)) or 0


def woo_shop(session: Session) -> Store:
    store = make_store(
        session,
        platform="woocommerce",
        domain="tee.example.de",
        base_url="https://tee.example.de",
        credentials={"consumer_key": "ck_1", "consumer_secret": "cs_1"},
    )
    session.commit()
    return store


def test_anonymous_connect_to_any_host_redirects_to_sign_in_and_writes_nothing(
    client: FlaskClient, session: Session
) -> None:
    response = client.get("/woocommerce/connect?store_url=https://evil.com")

    assert response.status_code == 302
    assert response.headers["Location"] == "/app/signed-out"
    assert states(session) == 0


def test_signed_in_owner_cannot_connect_another_host(client: FlaskClient, session: Session) -> None:
    sign_in(client, session, woo_shop(session))

    response = client.get("/woocommerce/connect?store_url=https://evil.com")

    assert response.status_code == 403
    assert "Location" not in response.headers
    assert states(session) == 0


def test_a_shopify_owner_cannot_start_a_woocommerce_connect(
    client: FlaskClient, session: Session
) -> None:
    sign_in(client, session, make_store(session))

    response = client.get("/woocommerce/connect?store_url=https://tee.example.de")

    assert response.status_code == 403
    assert states(session) == 0


def test_signed_in_owner_renews_the_keys_of_its_own_shop(
    client: FlaskClient, session: Session
) -> None:
    sign_in(client, session, woo_shop(session))

    response = client.get("/woocommerce/connect")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("https://tee.example.de/wc-auth/v1/authorize?")
    assert states(session) == 1


def test_cli_connect_prints_the_authorize_address(app: Flask, session: Session) -> None:
    result = app.test_cli_runner().invoke(args=["stores", "connect", "https://tee.example.de"])

    assert result.exit_code == 0
    assert result.stdout.startswith("https://tee.example.de/wc-auth/v1/authorize?app_name=")
    assert states(session) == 1


def test_cli_connect_with_a_broken_address_exits_2_with_one_line(
    app: Flask, session: Session
) -> None:
    result = app.test_cli_runner().invoke(args=["stores", "connect", "http://[::1"])

    assert result.exit_code == 2
    assert result.output == "error: 'http://[::1' is not a WooCommerce site address\n"
    assert states(session) == 0
