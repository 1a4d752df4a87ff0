"""A fake Shopify shop per test, and the app pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from plugin.models import Store
from tests.factories import make_store
from tests.fakes.shopify import FakeShopify


@pytest.fixture
def fake() -> Iterator[FakeShopify]:
    with FakeShopify() as shop:
        yield shop


@pytest.fixture
def app_overrides(fake: FakeShopify) -> dict[str, Any]:
    return {
        "shopify_base_url": fake.url,
        "shopify_api_key": fake.api_key,
        "shopify_api_secret": fake.secret,
    }


@pytest.fixture
def shop(session: Session, fake: FakeShopify) -> Store:
    """The fake shop, installed with a valid token."""
    store = make_store(
        session,
        domain=fake.domain,
        credentials={"access_token": fake.issue_token()},
        currency="EUR",
    )
    session.commit()
    return store
