"""A shop that goes away in the middle of `sync`: the retries of the failing call fit in
SHOPNUDGE_HTTP_TIMEOUT, and the one line at the end says what failed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from tests.factories import make_store
from tests.fakes.gate import Gate
from tests.fakes.shopify import FakeShopify
from tests.fakes.woocommerce import FakeWooCommerce

#: Seconds for one call, its tries and the waits between them (SHOPNUDGE_HTTP_TIMEOUT).
TIMEOUT = 5.0
SHOP_DOMAIN = "tea-house.myshopify.com"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"http_timeout": TIMEOUT, "allow_http_hosts": frozenset({"127.0.0.1"})}


def error_line(output: str) -> str:
    """The one line that says what failed (the progress bars share the output)."""
    (line,) = [line for line in output.splitlines() if "error" in line]
    return line


def retries_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "; try " in r.getMessage()]


def planned_waits(retries: list[str]) -> float:
    """The waits the retries announced ("try 2 of 5 in 1 s"), which the budget must cover."""
    return sum(float(line.rsplit(" in ", 1)[1].removesuffix(" s")) for line in retries)


def woocommerce_sync(
    runner: FlaskCliRunner, session: Session, mode: str, caplog: pytest.LogCaptureFixture
) -> tuple[int, str, Gate, list[str]]:
    """Sync a fake WooCommerce shop that goes away once it has served its first product page."""
    with FakeWooCommerce() as woo:
        key, secret = woo.add_keys()
        woo.add_product("Sencha", "12.50")

        def first_page_served() -> bool:
            return any(path.endswith("/products") for _m, path, _a, _how in woo.requests)

        port = int(woo.url.rsplit(":", 1)[1])
        with Gate(port, first_page_served, mode) as gate:
            keys = {"consumer_key": key, "consumer_secret": secret}
            store = make_store(session, platform="woocommerce", domain=f"127.0.0.1:{gate.port}",
                               base_url=gate.url, credentials=keys)  # fmt: skip
            session.commit()
            with caplog.at_level(logging.WARNING, logger="connectors"):
                result = runner.invoke(args=["sync", store.public_key])
    return result.exit_code, error_line(result.output), gate, retries_logged(caplog)


def test_a_woocommerce_shop_that_closes_its_port_mid_sync_fails_within_the_timeout(
    runner: FlaskCliRunner, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    code, last_line, gate, retries = woocommerce_sync(runner, session, "refused", caplog)

    assert code == 1
    assert last_line == (
        f"error: lost the shop at {gate.url} during the sync: refused: nothing accepts "
        f"connections on 127.0.0.1 port {gate.port} (3 tries within the 5 s HTTP timeout)"
    )
    # retries after 1 s and 2 s more; the next (after 4 s more) would not have fitted in the 5 s
    refused = f"refused: nothing accepts connections on 127.0.0.1 port {gate.port}"
    assert [line.split(": ", 1)[1] for line in retries] == [
        f"{refused}; try 2 of 5 in 1 s",
        f"{refused}; try 3 of 5 in 2 s",
    ]
    assert planned_waits(retries) < TIMEOUT


def test_a_woocommerce_shop_that_stops_answering_mid_sync_gets_one_try_of_the_timeout(
    runner: FlaskCliRunner, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    code, last_line, gate, retries = woocommerce_sync(runner, session, "silent", caplog)

    assert code == 1
    assert last_line == (
        f"error: lost the shop at {gate.url} during the sync: timeout: 127.0.0.1 port "
        f"{gate.port} did not answer (1 try within the 5 s HTTP timeout)"
    )
    assert gate.unanswered == 1  # the try that waited out the whole budget
    assert retries == []


class TestShopify:
    """The same with Shopify: the gate stands where the app expects the shop, before it starts."""

    @pytest.fixture
    def shopify(self, gate_mode: str) -> Iterator[tuple[FakeShopify, Gate]]:
        """A fake Shopify shop that goes away once it has answered its first query."""
        with (
            FakeShopify(domain=SHOP_DOMAIN) as fake,
            Gate(fake.server.port, lambda: len(fake.requests) >= 1, gate_mode) as gate,
        ):
            yield fake, gate

    @pytest.fixture
    def app_overrides(self, shopify: tuple[FakeShopify, Gate]) -> dict[str, Any]:
        fake, gate = shopify
        return {
            "http_timeout": TIMEOUT,
            "allow_http_hosts": frozenset({"127.0.0.1"}),
            "shopify_base_url": gate.url,
            "shopify_api_key": fake.api_key,
            "shopify_api_secret": fake.secret,
        }

    def sync(
        self,
        runner: FlaskCliRunner,
        session: Session,
        shopify: tuple[FakeShopify, Gate],
        caplog: pytest.LogCaptureFixture,
    ) -> tuple[int, str, list[str]]:
        fake, _gate = shopify
        store = make_store(session, domain=SHOP_DOMAIN,
                           credentials={"access_token": fake.issue_token()})  # fmt: skip
        session.commit()
        with caplog.at_level(logging.WARNING, logger="connectors"):
            result = runner.invoke(args=["sync", store.public_key])
        return result.exit_code, error_line(result.output), retries_logged(caplog)

    @pytest.mark.parametrize("gate_mode", ["refused"])
    def test_a_shop_that_closes_its_port_mid_sync_fails_within_the_timeout(
        self,
        runner: FlaskCliRunner,
        session: Session,
        shopify: tuple[FakeShopify, Gate],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        code, last_line, retries = self.sync(runner, session, shopify, caplog)

        gate = shopify[1]
        assert code == 1
        assert last_line == (
            f"error: lost the shop at {gate.url} during the sync: refused: nothing accepts "
            f"connections on 127.0.0.1 port {gate.port} (4 tries within the 5 s HTTP timeout)"
        )
        # backoff 0.5, 1 and 2 s (each up to a quarter longer); 4 s more would not have fitted
        assert [line.rsplit("; ", 1)[1][:12] for line in retries] == [
            "try 2 of 6 i",
            "try 3 of 6 i",
            "try 4 of 6 i",
        ]
        assert planned_waits(retries) < TIMEOUT

    @pytest.mark.parametrize("gate_mode", ["silent"])
    def test_a_shop_that_stops_answering_mid_sync_gets_one_try_of_the_timeout(
        self,
        runner: FlaskCliRunner,
        session: Session,
        shopify: tuple[FakeShopify, Gate],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        code, last_line, retries = self.sync(runner, session, shopify, caplog)

        gate = shopify[1]
        assert code == 1
        assert last_line == (
            f"error: lost the shop at {gate.url} during the sync: timeout: 127.0.0.1 port "
            f"{gate.port} did not answer (1 try within the 5 s HTTP timeout)"
        )
        assert gate.unanswered == 1
        assert retries == []
