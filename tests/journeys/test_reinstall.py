"""A Shopify shop uninstalls the app and installs it again.

Sending stops the moment Shopify says the app is gone; after the reinstall it resumes only for
the buyers whose consent still stands.
"""

from __future__ import annotations

import datetime as dt

from tests.fakes.shopify import FakeShopify
from tests.journeys.conftest import SHOP_DOMAIN
from tests.journeys.harness import (
    Journey,
    Storefront,
    digits,
    eventually,
    journey_start,
    shopify_example,
)
from tests.journeys.shopify_world import (
    checkout_payload,
    confirmed_buyer,
    install_by_oauth,
    open_shop,
    shopify_says,
)

ANNA = "+4915123456789"
BERT = "+4917612345678"


def cart_of(phone: str, token: str, at: dt.datetime) -> dict[str, object]:
    checkout = checkout_payload(at)
    checkout.update(token=token, phone=phone, abandoned_checkout_url=None)
    checkout["customer"].update(phone=phone, id=int(digits(phone)))
    return checkout


def test_uninstall_stops_sending_at_once_and_reinstall_resumes_only_valid_consent(
    journey: Journey, shopify: FakeShopify, storefront: tuple[Storefront, str]
) -> None:
    start = journey_start()
    key = open_shop(journey, shopify, storefront, oauth=True)
    confirmed_buyer(journey, key, ANNA, storefront[1], start)
    confirmed_buyer(journey, key, BERT, storefront[1], start)
    sent = journey.sends()

    # both buyers leave a checkout; then Shopify reports the app uninstalled
    for phone, token in ((ANNA, "tok-anna-1"), (BERT, "tok-bert-1")):
        assert (
            journey.shopify_webhook("checkouts/create", cart_of(phone, token, start), SHOP_DOMAIN)
            == 200
        )
    uninstalled = shopify_example("app/uninstalled")
    uninstalled.update(domain=SHOP_DOMAIN, myshopify_domain=SHOP_DOMAIN)
    shopify_says(journey, "app/uninstalled", uninstalled)
    assert eventually(lambda: "uninstalled" in journey.cli("stores", "list"))

    # then no reminder reaches Meta while the app is gone; Bert says stop meanwhile
    journey.tick(start + dt.timedelta(minutes=70))
    assert journey.buyer_message(BERT, type="text", text={"body": "STOP"}) == 200
    assert eventually(lambda: journey.subscription(key, BERT)["state"] == "opted_out")
    journey.tick(start + dt.timedelta(hours=3))
    assert journey.sends()[: len(sent)] == sent
    assert [s for s in journey.sends()[len(sent) :] if s[1] != "text"] == []

    # when the owner installs again, both buyers leave new checkouts
    assert install_by_oauth(journey, shopify) == key
    restart = start + dt.timedelta(days=1)
    for phone, token in ((ANNA, "tok-anna-2"), (BERT, "tok-bert-2")):
        assert (
            journey.shopify_webhook("checkouts/create", cart_of(phone, token, restart), SHOP_DOMAIN)
            == 200
        )
    journey.tick(restart + dt.timedelta(minutes=70))

    # then Anna, still subscribed, gets her reminder; Bert, who said stop, gets nothing
    reminders = [s for s in journey.sends() if s[1].startswith("shopnudge_cart_reminder")]
    assert reminders == [(digits(ANNA), "shopnudge_cart_reminder_1")]
