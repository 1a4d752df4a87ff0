"""A fake Shopify shop (contract-checked Admin API) and the app pointed at it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from sqlalchemy.orm import Session

from plugin.consent.wording import ensure_default_wordings
from plugin.models import Store
from tests.factories import make_store
from tests.fakes.shopify import FakeShopify


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    with FakeShopify(domain="bohne-und-blatt.myshopify.com") as shop:
        yield shop


@pytest.fixture
def app_overrides(fake: FakeShopify) -> dict[str, Any]:
    return {
        "public_url": "https://nudge.example.com",
        "shopify_base_url": fake.url,
        "shopify_api_key": fake.api_key,
        "shopify_api_secret": fake.secret,
    }


@pytest.fixture
def shop(session: Session, fake: FakeShopify) -> Store:
    """The fake shop, installed, with the default wording in German and English."""
    store = make_store(
        session,
        domain=fake.domain,
        name="Bohne & Blatt",
        credentials={"access_token": fake.issue_token()},
    )
    ensure_default_wordings(session, store)
    session.commit()
    return store


def extension_token(fake: FakeShopify, secret: str | None = None, **claims: Any) -> str:
    """A session token as Shopify issues it to a checkout UI extension (HS256, app secret)."""
    now = int(time.time())
    payload = {
        "dest": fake.domain,
        "aud": fake.api_key,
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "jti": "4c7d9b2e-token",
    }
    payload.update(claims)
    return jwt.encode(payload, secret or fake.secret, algorithm="HS256")
