"""The REST client against the fake site: auth fallback, pagination, backoff, version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from connectors.errors import AuthFailed, PlatformError, TransientError
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.sync import WooCommerceConnector
from tests.fakes.woocommerce import FakeWooCommerce


def client_of(
    woo: FakeWooCommerce, sleeps: list[float] | None = None, **keys: str
) -> WooCommerceClient:
    key, secret = woo.add_keys()
    return WooCommerceClient(
        woo.url,
        keys.get("key", key),
        keys.get("secret", secret),
        timeout=10.0,
        sleep=(sleeps.append if sleeps is not None else lambda _s: None),
    )


def test_host_that_strips_basic_auth_gets_query_string_keys(
    make_woo: Callable[..., FakeWooCommerce],
) -> None:
    # given a host that drops the Authorization header
    woo = make_woo(strip_basic_auth=True)
    client = client_of(woo)
    # when
    version = client.version()
    # then the first try was refused as anonymous, the second carried the keys in the query
    assert version == "9.4.2"
    assert [how for _m, _p, _a, how in woo.requests] == ["none", "query"]
    assert client.query_string_auth is True


def test_basic_auth_is_used_where_the_host_keeps_the_header(woo: FakeWooCommerce) -> None:
    client = client_of(woo)
    client.version()
    assert [how for _m, _p, _a, how in woo.requests] == ["basic"]
    assert "consumer_key" not in woo.requests[0][2]


def test_wrong_secret_is_auth_failed_without_a_second_try(woo: FakeWooCommerce) -> None:
    client = client_of(woo, secret="cs_wrong")
    with pytest.raises(AuthFailed, match="woocommerce_rest_authentication_error"):
        client.version()
    assert len(woo.requests) == 1
    assert client.query_string_auth is False


def test_plain_http_test_host_is_called_with_oauth_signatures(
    make_woo: Callable[..., FakeWooCommerce],
) -> None:
    woo = make_woo(tls=None)
    assert woo.url.startswith("http://")
    assert client_of(woo).version() == "9.4.2"
    assert [how for _m, _p, _a, how in woo.requests] == ["oauth"]


def test_pages_follow_total_pages_at_100_per_page(woo: FakeWooCommerce) -> None:
    for n in range(250):
        woo.add_customer(f"buyer{n}@example.com", "")
    pages = list(client_of(woo).pages("customers", {"orderby": "id", "order": "asc"}))
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert [(p.page, p.total_pages, p.total) for p in pages] == [
        (1, 3, 250),
        (2, 3, 250),
        (3, 3, 250),
    ]
    assert [p.has_next for p in pages] == [True, True, False]
    assert {a["per_page"] for _m, _p, a, _h in woo.requests} == {"100"}
    ids = [c["id"] for p in pages for c in p.items]
    assert ids == sorted(ids) and len(set(ids)) == 250


def test_fake_caps_per_page_at_100_and_the_client_reports_it(woo: FakeWooCommerce) -> None:
    client = client_of(woo)
    with pytest.raises(PlatformError, match="HTTP 400 rest_invalid_param") as raised:
        client.request("GET", "orders", params={"per_page": 101})
    assert raised.value.status == 400
    assert len(woo.requests) == 1  # a 400 is not retried


def test_backs_off_on_429_and_5xx_then_succeeds(woo: FakeWooCommerce) -> None:
    sleeps: list[float] = []
    client = client_of(woo, sleeps)
    woo.fail_next = [429, 503]
    assert client.version() == "9.4.2"
    assert sleeps == [0.0, 2.0]  # Retry-After: 0, then exponential backoff for attempt 2
    assert len(woo.requests) == 3


def test_gives_up_after_five_server_errors(woo: FakeWooCommerce) -> None:
    sleeps: list[float] = []
    client = client_of(woo, sleeps)
    woo.fail_next = [502] * 6
    with pytest.raises(TransientError):
        client.version()
    assert len(woo.requests) == 5
    assert sleeps == [1, 2, 4, 8]


def test_version_is_read_once_per_connector(woo: FakeWooCommerce) -> None:
    connector = WooCommerceConnector(client_of(woo), "EUR")
    list(connector.fetch("orders", since=None))
    list(connector.fetch("products", since=None))
    status_calls = [p for _m, p, _a, _h in woo.requests if p.endswith("/system_status")]
    assert status_calls == []  # no since: no need to ask
    since = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    list(connector.fetch("orders", since=since))
    list(connector.fetch("products", since=since))
    status_calls = [p for _m, p, _a, _h in woo.requests if p.endswith("/system_status")]
    assert len(status_calls) == 1
    assert connector.trusts_modified_after() is True
    orders_calls = [a for _m, p, a, _h in woo.requests if p.endswith("/orders")]
    assert orders_calls[-1]["modified_after"] == "2026-01-01T00:00:00"
    assert orders_calls[-1]["dates_are_gmt"] == "true"
