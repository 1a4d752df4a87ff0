"""Security headers on every response, session cookie flags, and the interface language."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.db import get_database
from tests.conftest import make_app
from tests.factories import make_store
from tests.owner import login_path, sign_in


def test_shopify_shop_pages_may_be_framed_only_by_its_admin(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, platform="shopify", domain="kaffee.myshopify.com")
    sign_in(client, session, store)

    headers = client.get("/app/settings").headers

    policy = headers["Content-Security-Policy"]
    assert policy.endswith("frame-ancestors https://kaffee.myshopify.com https://admin.shopify.com")
    assert "script-src 'self' https://cdn.shopify.com" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "X-Frame-Options" not in headers


def test_woocommerce_shop_pages_may_not_be_framed(client: FlaskClient, session: Session) -> None:
    store = make_store(session, platform="woocommerce", domain="tee.example")
    sign_in(client, session, store)

    headers = client.get("/app/").headers

    assert headers["Content-Security-Policy"].endswith("frame-ancestors 'none'")
    assert headers["X-Frame-Options"] == "DENY"


def test_every_response_carries_the_headers(client: FlaskClient) -> None:
    for path in ("/healthz", "/", "/app/signed-out", "/no-such-page"):
        headers = client.get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path


def test_first_load_in_the_admin_may_be_framed_by_a_valid_shop_only(client: FlaskClient) -> None:
    valid = client.get("/app/signed-out?shop=kaffee.myshopify.com").headers
    forged = client.get("/app/signed-out?shop=evil.example.com").headers

    assert valid["Content-Security-Policy"].endswith(
        "frame-ancestors https://kaffee.myshopify.com https://admin.shopify.com"
    )
    assert forged["Content-Security-Policy"].endswith("frame-ancestors 'none'")


def test_session_cookie_is_secure_httponly_and_samesite_on_https(
    app: Flask, database_url: str, tmp_path: Path, session: Session
) -> None:
    https_app = make_app(database_url, tmp_path / "https", public_url="https://nudge.example")
    store = make_store(session)

    cookie = https_app.test_client().get(login_path(session, store)).headers["Set-Cookie"]

    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    get_database(https_app).dispose()


def test_interface_follows_the_browser_language(client: FlaskClient, session: Session) -> None:
    store = make_store(session)
    sign_in(client, session, store)

    german = client.get("/app/settings", headers={"Accept-Language": "de-AT,de;q=0.9"})
    french = client.get("/app/settings", headers={"Accept-Language": "fr-FR"})

    assert '<html lang="de">' in german.get_data(as_text=True)
    assert "<h1>Einstellungen</h1>" in german.get_data(as_text=True)
    assert "<h1>Settings</h1>" in french.get_data(as_text=True)


def test_shopify_admin_locale_parameter_wins_over_the_browser(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session)
    sign_in(client, session, store)

    html = client.get("/app/settings?locale=de-DE", headers={"Accept-Language": "en-US"}).get_data(
        as_text=True
    )

    assert "<h1>Einstellungen</h1>" in html


def test_lint_speaks_the_owners_language(client: FlaskClient, session: Session) -> None:
    store = make_store(session, name="Bohne & Blatt")
    sign_in(client, session, store)

    response = client.get(
        "/app/settings/wording/lint",
        query_string={"text": "Bohne & Blatt per WhatsApp"},
        headers={"Accept-Language": "de"},
    )

    assert response.json["messages"] == [
        {
            "level": "warning",
            "code": "opt_out_hint_missing",
            "message": "Sagen Sie, wie man sich abmeldet, z. B. 'Antwort STOPP' "
            "(Metas Opt-in-Richtlinie erwartet das).",
        }
    ]
