"""Inside the Shopify admin: App Bridge session tokens instead of cookies."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import AuditEntry
from tests.factories import make_store

API_KEY, API_SECRET = "test-api-key", "test-api-secret-32-bytes-long-enough"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"shopify_api_key": API_KEY, "shopify_api_secret": API_SECRET}


def session_token(shop: str, secret: str = API_SECRET, expires_in: int = 60) -> str:
    """A session token shaped as App Bridge issues it (HS256 with the app secret)."""
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": API_KEY,
        "sub": "4242",
        "exp": now + expires_in,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": str(uuid.uuid4()),
        "sid": "session-1",
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def test_a_valid_session_token_opens_its_own_shops_pages(
    client: FlaskClient, session: Session
) -> None:
    make_store(session, domain="erste.myshopify.com", name="Erste Rösterei")
    make_store(session, domain="zweite.myshopify.com", name="Zweite Rösterei")
    session.commit()

    page = client.get(
        "/app/settings", query_string={"id_token": session_token("zweite.myshopify.com")}
    )
    api = client.get(
        "/api/v1/admin/dashboard",
        headers={"Authorization": f"Bearer {session_token('zweite.myshopify.com')}"},
    )

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Zweite Rösterei" in html and "Erste Rösterei" not in html
    assert page.headers["Content-Security-Policy"].endswith(
        "frame-ancestors https://zweite.myshopify.com https://admin.shopify.com"
    )
    assert "https://cdn.shopify.com/shopifycloud/app-bridge.js" in html
    assert api.status_code == 200


def test_a_token_signed_with_another_secret_or_expired_opens_nothing(
    client: FlaskClient, session: Session
) -> None:
    make_store(session, domain="erste.myshopify.com")
    session.commit()

    wrong_secret = session_token("erste.myshopify.com", "another-secret-also-32-bytes-long!")
    forged = client.get(
        "/api/v1/admin/dashboard", headers={"Authorization": f"Bearer {wrong_secret}"}
    )
    expired = client.get(
        "/api/v1/admin/dashboard",
        headers={"Authorization": f"Bearer {session_token('erste.myshopify.com', expires_in=-60)}"},
    )

    assert (forged.status_code, expired.status_code) == (401, 401)


def test_a_form_posted_with_a_session_token_needs_no_csrf_token_and_is_audited(
    client: FlaskClient, session: Session
) -> None:
    store = make_store(session, domain="erste.myshopify.com")
    session.commit()

    response = client.post(
        "/app/settings/budget",
        data={
            "id_token": session_token("erste.myshopify.com"),
            "monthly_budget": "80",
            "holdout_percent": "10",
        },
    )

    assert response.status_code == 302
    assert response.headers["Location"] == (
        "/app/settings?shop=erste.myshopify.com&embedded=1#budget"
    )
    session.refresh(store)
    assert store.setting("monthly_budget_minor") == 8000
    entry = session.scalars(select(AuditEntry)).one()
    assert (entry.actor, entry.field, entry.new_value) == (
        "Shopify admin user 4242",
        "monthly_budget_minor",
        8000,
    )


def test_a_page_load_without_a_token_inside_the_admin_bounces_for_one(
    client: FlaskClient,
) -> None:
    first = client.get("/app/outbox?shop=erste.myshopify.com&embedded=1&state=sent")
    bounce = client.get(first.headers["Location"])

    assert first.status_code == 302
    html = bounce.get_data(as_text=True)
    assert 'data-reload="/app/outbox?shop=erste.myshopify.com&amp;embedded=1&amp;state=sent"' in (
        html
    )
    assert '<meta name="shopify-api-key" content="test-api-key">' in html


def test_the_bounce_never_reloads_another_site(client: FlaskClient) -> None:
    response = client.get("/app/signed-out?shop=erste.myshopify.com&reload=//evil.example/app/")

    assert "data-reload" not in response.get_data(as_text=True)
