"""The GraphQL client against the fake shop: pacing, throttles, retries, error mapping."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine

from connectors.errors import AuthFailed, PlatformError, RateLimited
from connectors.shopify import client as client_module
from connectors.shopify import queries
from connectors.shopify.client import ShopifyClient
from connectors.shopify.sync import ShopifyConnector
from plugin import migrate
from plugin.shopify.client import DatabaseBudget
from tests.fakes.shopify import FakeShopify


def _client(fake: FakeShopify, token: str | None = None) -> ShopifyClient:
    return ShopifyClient(fake.url, token or fake.issue_token(), "2026-07", timeout=5)


def test_throttled_shop_is_paced_and_its_bucket_never_drains() -> None:
    # given a shop with a small, slowly restoring bucket and ten pages of customers
    with FakeShopify(bucket_size=1000, restore_rate=2500) as fake:
        fake.data.seed(customers=2_500)
        connector = ShopifyConnector(_client(fake))
        # when every page is fetched back to back (each page costs 752 of the 1,000 points)
        pages = list(connector.fetch("customers", since=None))
        # then all arrive, and Shopify never had to throttle us
        assert sum(len(page.records) for page in pages) == 2_500
        assert fake.throttled == 0
        assert fake.lowest_available >= 0
        assert fake.served["customers"] == 2_500


def test_unpaced_calls_would_be_throttled_by_the_fake() -> None:
    # given the same bucket, and a client that forgets what it learnt about the bucket
    with FakeShopify(bucket_size=1000, restore_rate=2500) as fake:
        fake.data.seed(customers=500)
        client = _client(fake)
        query = queries.page_query("customers")
        client.execute(query, {"first": 250})
        client.bucket.available = client.bucket.maximum  # blind to the spend
        # when the next page is asked for at once, then the fake throttles (and we retry)
        client.execute(query, {"first": 250})
        assert fake.throttled == 1


def test_throttled_answer_is_retried_after_the_bucket_restores() -> None:
    # given a bucket another app just emptied
    with FakeShopify(restore_rate=2000) as fake:
        fake.data.seed(customers=300)
        client = _client(fake)
        fake.drain()
        # when we ask for a page, Shopify answers 200 with THROTTLED first, then the data
        data = client.execute(queries.page_query("customers"), {"first": 250})
        assert len(data["customers"]["nodes"]) == 250
        assert fake.throttled == 1
        assert fake.served["customers"] == 250


def _backoff_client(fake: FakeShopify, slept: list[float]) -> ShopifyClient:
    """A client whose first backoff is 10 ms, noting every pause it takes."""

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    return ShopifyClient(
        fake.url, fake.issue_token(), "2026-07", timeout=5, sleep=sleep, backoff=0.01
    )


def test_429_and_5xx_are_retried_with_backoff() -> None:
    # given a shop that answers 429, then 502, then 503, then the data
    with FakeShopify() as fake:
        fake.fail_next(429, 502, 503)
        slept: list[float] = []
        # when the query is run
        data = _backoff_client(fake, slept).execute(queries.SHOP)
        # then it arrives; the 429 waited Retry-After, each 5xx the doubling backoff (+ jitter)
        assert data["shop"]["myshopifyDomain"] == fake.domain
        assert fake.operations == ["ShopNudgeShop"]  # the failed attempts reached no resolver
        assert len(slept) == 3
        assert slept[0] == pytest.approx(0.01)
        assert 0.02 <= slept[1] < 0.025 and 0.04 <= slept[2] < 0.05


def test_persistent_5xx_becomes_a_retryable_error() -> None:
    with FakeShopify() as fake:
        fake.fail_next(*[500] * client_module.MAX_ATTEMPTS)
        slept: list[float] = []
        with pytest.raises(PlatformError) as raised:
            _backoff_client(fake, slept).execute(queries.SHOP)
        # one backoff between each two attempts, none after the last
        assert len(slept) == client_module.MAX_ATTEMPTS - 1
        assert raised.value.retryable is True
        assert raised.value.status == 500


def test_persistent_429_becomes_rate_limited() -> None:
    with FakeShopify() as fake:
        fake.fail_next(*[429] * client_module.MAX_ATTEMPTS)
        with pytest.raises(RateLimited) as raised:
            _client(fake).execute(queries.SHOP)
        assert raised.value.retry_after == pytest.approx(0.01)


def test_expired_token_is_auth_failed() -> None:
    with FakeShopify() as fake:
        token = fake.issue_token(lifetime=-1)
        with pytest.raises(AuthFailed):
            _client(fake, token).execute(queries.SHOP)
        assert fake.operations == []


def test_graphql_errors_raise_with_shopify_message() -> None:
    with (
        FakeShopify() as fake,
        pytest.raises(PlatformError, match="Cannot query field 'nothing' on type 'QueryRoot'"),
    ):
        _client(fake).execute("query ShopNudgeNothing { nothing }")


def test_user_errors_raise_with_shopify_message() -> None:
    with FakeShopify() as fake:
        client = _client(fake)
        payload = client.execute(
            queries.WHATSAPP_CONSENT_UPDATE,
            {
                "input": {
                    "customerId": "gid://shopify/Customer/1",
                    "whatsAppMarketingConsent": {"state": "UNSUBSCRIBED"},
                }
            },
        )["customerWhatsAppMarketingConsentUpdate"]
        with pytest.raises(PlatformError, match="Customer not found"):
            client_module.raise_user_errors(payload)


@pytest.mark.postgres
def test_workers_share_one_cost_budget_on_postgresql(postgres_url: str) -> None:
    # given two workers' clients for the same shop, drawing on the database bucket
    migrate.upgrade(postgres_url)
    engine = create_engine(postgres_url)
    try:
        with FakeShopify(bucket_size=1000, restore_rate=2500) as fake:
            fake.data.seed(customers=300)
            workers = [
                ShopifyClient(
                    fake.url, fake.issue_token(), "2026-07", shared=DatabaseBudget(engine, 1)
                )
                for _ in range(2)
            ]
            query = queries.page_query("customers")
            # when they call in turn, each unaware of the other's last spend
            for _ in range(3):
                for worker in workers:
                    worker.execute(query, {"first": 250}, cost=queries.page_cost("customers"))
            # then Shopify never had to throttle them
            assert fake.throttled == 0
            assert fake.served["customers"] == 6 * 250
    finally:
        engine.dispose()


def test_clients_unaware_of_each_other_are_throttled() -> None:
    with FakeShopify(bucket_size=1000, restore_rate=2500) as fake:
        fake.data.seed(customers=300)
        workers = [ShopifyClient(fake.url, fake.issue_token(), "2026-07") for _ in range(2)]
        query = queries.page_query("customers")
        for worker in workers:
            worker.execute(query, {"first": 250}, cost=queries.page_cost("customers"))
        assert fake.throttled == 1
