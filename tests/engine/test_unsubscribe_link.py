"""Marketing messages carry the one-click unsubscribe link /u/<token>, and it opts the buyer out.

The journey starts from what reached the fake Graph API: the URL the buyer's WhatsApp would open
is the template's button URL (as ShopNudge submitted it) with the message's button parameter.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy.orm import Session

from plugin.consent import ledger
from plugin.models import SubscriptionState, WhatsAppTemplate
from plugin.whatsapp.templates.catalog import account_of
from plugin.whatsapp.templates.wording import default_definitions
from tests.engine.conftest import Shop, at, notifications, ready_shop, tick
from tests.factories import make_cart
from tests.fakes.meta import FakeMeta
from tests.fakes.server import LocalServer

PUBLIC_URL = "http://shopnudge.test"


@pytest.fixture
def meta() -> Iterator[tuple[FakeMeta, str]]:
    fake = FakeMeta()
    with LocalServer(fake.app, keep_alive=True) as server:
        yield fake, server.url


@pytest.fixture
def app_overrides(meta: tuple[FakeMeta, str]) -> dict[str, Any]:
    return {"graph_api_url": meta[1], "whatsapp_api_version": "v23.0", "http_timeout": 2.0}


def test_every_default_marketing_template_has_the_unsubscribe_button_and_utility_none() -> None:
    for definition in default_definitions(PUBLIC_URL):
        (buttons,) = [c["buttons"] for c in definition.components if c["type"] == "BUTTONS"]
        urls = [b["url"] for b in buttons if b["type"] == "URL"]
        if definition.category == "MARKETING":
            # the tracked link and the unsubscribe link: the two URL buttons Meta allows, first
            assert urls == [f"{PUBLIC_URL}/r/{{{{1}}}}", f"{PUBLIC_URL}/u/{{{{1}}}}"]
            assert [b["type"] for b in buttons] == ["URL", "URL", "QUICK_REPLY"]
        else:
            assert urls == []


def test_buyer_follows_the_unsubscribe_link_of_the_message_sent_and_is_opted_out(
    session: Session,
    runner: FlaskCliRunner,
    client: FlaskClient,
    meta: tuple[FakeMeta, str],
) -> None:
    fake = meta[0]
    # given a shop whose templates are ShopNudge's defaults, its number connected to the fake
    shop: Shop = ready_shop(session)
    account = account_of(session, shop.store)
    account.dry_run, account.token = False, fake.token
    for template in session.query(WhatsAppTemplate).filter_by(store_id=shop.store.id):
        (definition,) = [
            d
            for d in default_definitions(PUBLIC_URL)
            if d.purpose == template.purpose and d.language == template.language
        ]
        template.components = definition.components
    make_cart(
        session,
        shop.store,
        shop.products[:1],
        phone=shop.subscription.phone,
        customer_id=shop.customer.id,
        last_activity_at=at("2026-01-05T09:00:00Z"),
    )
    session.commit()
    # when the reminder goes
    tick(runner, "2026-01-05T10:00:00Z")
    (request,) = fake.sends()
    (row,) = notifications(session, shop.store)
    assert fake.refused == []  # Meta's description accepts the body with both URL buttons
    # then the message as Meta got it fills the unsubscribe button with the buyer's token
    template = (
        session.query(WhatsAppTemplate)
        .filter_by(store_id=shop.store.id, name=request.json["template"]["name"], language="de")
        .one()
    )
    (buttons,) = [c["buttons"] for c in template.components if c["type"] == "BUTTONS"]
    sent_buttons = {
        int(c["index"]): c["parameters"][0]["text"]
        for c in request.json["template"]["components"]
        if c["type"] == "button" and c["sub_type"] == "url"
    }
    urls = [buttons[index]["url"].replace("{{1}}", value) for index, value in sent_buttons.items()]
    assert urls == [
        f"{PUBLIC_URL}/r/{row.link_token}",
        f"{PUBLIC_URL}/u/{shop.subscription.unsubscribe_token}",
    ]
    # when the buyer opens that link and presses the button
    path = urlsplit(urls[1]).path
    page = client.get(path)
    assert page.status_code == 200
    assert ledger.find_subscription(session, shop.store.id, shop.subscription.phone).state == (
        SubscriptionState.CONFIRMED
    )  # opening the page alone (a link preview) changes nothing
    done = client.post(path)
    # then the buyer is opted out, and nothing more is sent
    assert done.status_code == 200
    session.expire_all()
    subscription = ledger.find_subscription(session, shop.store.id, shop.subscription.phone)
    assert subscription.state == SubscriptionState.OPTED_OUT
    tick(runner, "2026-01-06T09:00:00Z")
    assert len(fake.sends()) == 1
