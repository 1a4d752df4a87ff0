"""The world a journey runs in: fakes on real ports, ShopNudge on a real port pointed at them.

The suite's database is the journeys' database: SQLite by default, PostgreSQL when
SHOPNUDGE_TEST_DATABASE_URL points there (as CI's second pass does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from tests.fakes.meta import FakeMeta
from tests.fakes.server import LocalServer
from tests.fakes.shopify import FakeShopify
from tests.journeys.harness import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    Journey,
    MetaAnswers,
    Storefront,
)

SHOP_DOMAIN = "bohne-und-blatt.myshopify.com"


class LateApp:
    """A WSGI app set after the server started: ShopNudge must know its own URL at creation."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "the app is not created yet"
        return self.app(environ, start_response)


@pytest.fixture
def front() -> Iterator[tuple[LocalServer, LateApp]]:
    late = LateApp()
    with LocalServer(late) as server:
        yield server, late


@pytest.fixture
def answers() -> MetaAnswers:
    return MetaAnswers()


@pytest.fixture
def meta(answers: MetaAnswers) -> Iterator[tuple[FakeMeta, str]]:
    fake = FakeMeta()
    fake.add_phone_number(PHONE_NUMBER_ID, display_phone_number="+49 30 123456")
    answers.app = fake.app
    with LocalServer(answers, keep_alive=True) as server:
        yield fake, server.url


@pytest.fixture
def shopify() -> Iterator[FakeShopify]:
    with FakeShopify(domain=SHOP_DOMAIN) as fake:
        yield fake


@pytest.fixture
def storefront() -> Iterator[tuple[Storefront, str]]:
    shop = Storefront()
    with LocalServer(shop.app) as server:
        yield shop, server.url


@pytest.fixture
def app_overrides(
    front: tuple[LocalServer, LateApp], meta: tuple[FakeMeta, str], shopify: FakeShopify
) -> dict[str, Any]:
    return {
        "public_url": front[0].url,
        "graph_api_url": meta[1],
        "whatsapp_api_version": "v23.0",
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "shopify_base_url": shopify.url,
        "shopify_api_key": shopify.api_key,
        "shopify_api_secret": shopify.secret,
        "allow_http_hosts": frozenset({"127.0.0.1"}),
        "http_timeout": 5.0,
    }


@pytest.fixture
def journey(
    app: Flask,
    runner: FlaskCliRunner,
    front: tuple[LocalServer, LateApp],
    meta: tuple[FakeMeta, str],
    answers: MetaAnswers,
    shopify: FakeShopify,
) -> Journey:
    front[1].app = app
    return Journey(
        url=front[0].url,
        runner=runner,
        meta=meta[0],
        answers=answers,
        shopify_secret=shopify.secret,
    )


@pytest.fixture(autouse=True)
def vendors_refused_nothing(meta: tuple[FakeMeta, str], shopify: FakeShopify) -> Iterator[None]:
    """Every journey also proves that nothing ShopNudge sent was invalid for the vendor."""
    yield
    assert meta[0].refused == [], "Meta's OpenAPI description refused a request"
    assert [r.errors for r in shopify.refused] == [], "Shopify's Admin schema refused a request"
