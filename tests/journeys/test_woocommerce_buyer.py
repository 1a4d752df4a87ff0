"""A WooCommerce buyer: the widget sends the Store API cart, a reminder follows, and an order
paid by bank transfer (on hold) ends the reminders.

The shop is a fake WooCommerce site over HTTPS (REST v3 with keys, signed webhooks, the Store API
with its session cookie); ShopNudge is on HTTPS too, as WooCommerce requires for its callbacks.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.fakes.woocommerce import FakeWooCommerce
from tests.fakes.woocommerce_site import write_self_signed_cert
from tests.journeys.conftest import LateApp
from tests.journeys.harness import (
    PHONE_NUMBER_ID,
    WABA_ID,
    Journey,
    daytime_from,
    digits,
    eventually,
    opt_in_in_browser,
)

pytestmark = pytest.mark.browser

BUYER = "+4915123456789"


class TLSServer:
    """Our app over HTTPS on a local port (the same self-signed certificate as the shop's)."""

    def __init__(self, app: Any, tls: tuple[Path, Path]) -> None:
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, ssl_context=(str(tls[0]), str(tls[1]))
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"https://127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def tls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    (tmp_path / "tls").mkdir()
    files = write_self_signed_cert(tmp_path / "tls")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(files[0]))  # our calls trust the shop
    return files


@pytest.fixture
def front(tls: tuple[Path, Path]) -> Iterator[tuple[Any, LateApp]]:
    late = LateApp()
    server = TLSServer(late, tls)
    yield server, late
    server.stop()


@pytest.fixture
def woo(tls: tuple[Path, Path]) -> Iterator[FakeWooCommerce]:
    with FakeWooCommerce(tls=tls) as fake:
        yield fake


def open_woocommerce_shop(journey: Journey, woo: FakeWooCommerce) -> str:
    consumer_key, consumer_secret = woo.add_keys()
    journey.cli(
        "stores", "add", "--platform", "woocommerce", "--domain", woo.url,
        "--consumer-key", consumer_key, "--consumer-secret", consumer_secret,
        "--name", "Rösterei Wagner",
    )  # fmt: skip
    (store,) = json.loads(journey.cli("stores", "list", "--json"))
    key = str(store["public_key"])
    journey.cli(
        "stores", "whatsapp", key, "--phone-number-id", PHONE_NUMBER_ID,
        "--waba-id", WABA_ID, "--token", journey.meta.token,
    )  # fmt: skip
    journey.cli("templates", "submit", key)
    for template in journey.meta.templates[WABA_ID]:
        template["status"] = "APPROVED"
    journey.cli("stores", "set", key, "privacy_url", f"{woo.url}/datenschutz/")
    return key


def test_woocommerce_buyer_gets_one_reminder_and_an_on_hold_order_ends_the_rest(
    journey: Journey, woo: FakeWooCommerce, browser: Any
) -> None:
    beans = woo.add_product("Espresso Bohnen 1 kg", "18.90")
    key = open_woocommerce_shop(journey, woo)
    now = dt.datetime.now(dt.UTC)
    journey.tick(now)  # the set-up job registers the shop's webhooks
    topics = sorted(hook["topic"] for hook in woo.webhooks.values())
    assert {"order.created", "order.updated"} <= set(topics)
    woo.widget_url = f"{journey.url}/widget/{key}.js"

    # the buyer puts beans in the cart and signs up in the widget on the cart page
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    opt_in_in_browser(
        page,
        f"{woo.url}/cart/?add-to-cart={beans['id']}",
        "+49 151 23456789",
        label="Mobile number for WhatsApp",
        button="Sign up",
        answer="Almost done: please confirm on WhatsApp.",
    )
    page.wait_for_timeout(300)  # the snapshot with the number follows the opt-in
    context.close()

    # and confirms on WhatsApp
    now = dt.datetime.now(dt.UTC)
    journey.tick(now)
    assert journey.sends() == [(digits(BUYER), "shopnudge_optin_confirmation")]
    assert journey.buyer_message(BUYER, type="text", text={"body": "JA"}) == 200
    assert eventually(lambda: journey.subscription(key, BUYER)["state"] == "confirmed")
    confirmed = [(digits(BUYER), "shopnudge_optin_confirmation"), (digits(BUYER), "text")]
    assert eventually(lambda: journey.sends() == confirmed)

    # one reminder after the cart was left (at the latest after the night's quiet hours)
    left = now + dt.timedelta(minutes=70)
    for moment in (now + dt.timedelta(minutes=30), left, daytime_from(left)):
        journey.tick(moment)
    reminder = (digits(BUYER), "shopnudge_cart_reminder_1")
    assert journey.sends() == [*confirmed, reminder]
    components = journey.last_send().json["template"]["components"]
    (body,) = [c for c in components if c["type"] == "body"]
    # a guest has no first name: the greeting never leaves Meta an empty parameter to refuse
    assert [p["text"] for p in body["parameters"]] == ["there", "Rösterei Wagner", "€18.90"]

    # the buyer orders by bank transfer: the order waits on hold, and that is a purchase
    placed = (now + dt.timedelta(hours=18)).replace(tzinfo=None)  # the shop's clock is GMT
    order = woo.add_order([(beans["id"], 0, 1, "18.90")], status="on-hold", phone=BUYER, at=placed)
    assert woo.deliver("order.created", woo.render_order(order)) == [200]

    # then no second reminder, ever
    for later in (dt.timedelta(hours=25), dt.timedelta(hours=49), dt.timedelta(days=4)):
        journey.tick(now + later)
    assert journey.sends() == [*confirmed, reminder]
