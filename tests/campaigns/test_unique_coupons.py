"""A campaign with unique coupons: one single-use Shopify code per recipient, each in its
own message, none shared, none created twice."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.campaigns import drafts, lifecycle
from plugin.campaigns.errors import CampaignError
from plugin.config import Settings
from plugin.db import Database
from plugin.engine.dispatch import dispatch_due
from plugin.models import Campaign, Notification, Store
from tests.campaigns.test_campaigns import CONFIRMED, NOW
from tests.factories import make_store, make_subscription, make_template, make_whatsapp_account
from tests.fakes.shopify import FakeShopify
from tests.owner import csrf_headers, sign_in

BODY = {"type": "BODY", "text": "Hallo {{1}}, dein Code {{3}} bei {{2}} gilt eine Woche lang."}
BUTTONS = {"type": "BUTTONS", "buttons": [{"type": "COPY_CODE", "example": "WINTER10"}]}


@pytest.fixture
def shopify() -> Iterator[FakeShopify]:
    with FakeShopify() as fake:
        yield fake


@pytest.fixture
def app_overrides(shopify: FakeShopify) -> dict[str, Any]:
    return {"shopify_base_url": shopify.url, "shopify_api_key": shopify.api_key,
            "shopify_api_secret": shopify.secret}  # fmt: skip


def shop(session: Session, shopify: FakeShopify) -> Store:
    store = make_store(
        session, domain=shopify.domain, credentials={"access_token": shopify.issue_token()}
    )
    make_whatsapp_account(session, store)
    make_template(session, store, "campaign", name="winter_code", components=[BODY, BUTTONS])
    for phone in CONFIRMED:
        make_subscription(session, store, phone, confirmed_at=NOW - dt.timedelta(days=30))
    session.commit()
    return store


def test_each_recipient_gets_their_own_code_created_once_on_shopify(
    app: Flask, database: Database, session: Session, shopify: FakeShopify, settings: Settings
) -> None:
    # given a Shopify shop and a campaign with a 15 % single-use code per recipient
    store = shop(session, shopify)
    with app.app_context():
        campaign = drafts.create_campaign(
            session, store, name="Winter", template="winter_code", unique_coupon_percent=15
        )
        session.commit()

        # when it starts, is started again, and the dispatch runs
        lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
        session.commit()
        lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
        session.commit()
        dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(minutes=1))

    # then Shopify has one 15 % code per recipient, each the one in that buyer's message
    session.expire_all()
    rows = session.scalars(select(Notification).order_by(Notification.id)).all()
    codes = [row.context["coupon_code"] for row in rows]
    assert len(rows) == len(CONFIRMED) and len(set(codes)) == len(CONFIRMED)
    assert sorted(shopify.discounts) == sorted(codes)
    assert {d["customerGets"]["value"]["percentage"] for d in shopify.discounts.values()} == {0.15}
    for row, code in zip(rows, codes, strict=True):
        assert row.state == "sent"
        assert row.parameters["body"][2] == {"type": "text", "text": code}
        assert row.parameters["buttons"][0]["parameters"] == [
            {"type": "coupon_code", "coupon_code": code}
        ]
    creations = [r for r in shopify.requests if r.operation == "CreateDiscountCode"]
    assert len(creations) == len(CONFIRMED) and all(not r.errors for r in creations)


def test_a_start_whose_codes_shopify_already_has_creates_none_twice(
    app: Flask, session: Session, shopify: FakeShopify, settings: Settings
) -> None:
    # given codes created by a start whose answer was lost (nothing written on our side)
    store = shop(session, shopify)
    with app.app_context():
        campaign = drafts.create_campaign(
            session, store, name="Winter", template="winter_code", unique_coupon_percent=15
        )
        session.commit()
        lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
        first = dict(shopify.discounts)
        session.rollback()
        session.expire_all()
        campaign = session.get(Campaign, campaign.id)
        assert campaign is not None and campaign.status == "draft"

        # when the owner starts it again
        lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
        session.commit()

    # then the same codes are in the messages and Shopify holds each once
    assert shopify.discounts == first
    codes = {row.context["coupon_code"] for row in session.scalars(select(Notification))}
    assert codes == set(first)


def test_unique_codes_are_refused_beside_one_code_for_all_and_outside_1_to_100_percent(
    app: Flask, session: Session, shopify: FakeShopify
) -> None:
    store = shop(session, shopify)
    with pytest.raises(CampaignError, match="not both"):
        drafts.create_campaign(
            session, store, name="W", template="winter_code", coupon="X", unique_coupon_percent=10
        )
    for percent in (0, 101):
        with pytest.raises(CampaignError, match="1 to 100 percent off"):
            drafts.create_campaign(
                session, store, name="W", template="winter_code", unique_coupon_percent=percent
            )
    assert session.scalars(select(Campaign)).all() == []
    assert shopify.discounts == {}


def test_a_start_whose_codes_shopify_refuses_sends_nothing_and_the_page_says_why(
    client: FlaskClient, session: Session, shopify: FakeShopify
) -> None:
    # given a draft with a code per buyer, of a shop whose token Shopify no longer takes
    store = shop(session, shopify)
    store.credentials = {"access_token": "shpat_revoked_by_the_merchant"}
    campaign = drafts.create_campaign(
        session, store, name="Winter", template="winter_code", unique_coupon_percent=15
    )
    session.commit()
    sign_in(client, session, store)

    # when the owner confirms the start on the preview
    preview = client.get(f"/app/campaigns/{campaign.id}").get_data(as_text=True)
    hidden = re.findall(r'name="([^"]+)" type="hidden" value="([^"]*)"', preview)
    fields = {name: html.unescape(value) for name, value in hidden}
    answer = client.post(f"/app/campaigns/{campaign.id}/start", data=fields)

    # then nothing started, nothing was written or created, and the page says why
    assert answer.status_code == 302
    page = html.unescape(client.get(f"/app/campaigns/{campaign.id}").get_data(as_text=True))
    assert "The shop did not create the buyers' codes, so nothing was sent." in page
    session.expire_all()
    assert session.get(Campaign, campaign.id).status == "draft"  # type: ignore[union-attr]
    assert session.scalars(select(Notification)).all() == []
    assert shopify.discounts == {}


def test_api_test_send_creates_the_owners_code_first_and_refuses_when_shopify_does_not(
    client: FlaskClient, session: Session, shopify: FakeShopify
) -> None:
    # given a draft with a code per buyer; the owner is one of the shop's confirmed numbers
    store = shop(session, shopify)
    campaign = drafts.create_campaign(
        session, store, name="Winter", template="winter_code", unique_coupon_percent=15
    )
    session.commit()
    sign_in(client, session, store)
    headers = csrf_headers(client)
    url = f"/api/v1/admin/campaigns/{campaign.id}/test-send"

    # when the owner tests it, then tests again after Shopify stopped taking the shop's token
    sent = client.post(url, json={"phone": CONFIRMED[0]}, headers=headers)
    store.credentials = {"access_token": "shpat_revoked_by_the_merchant"}
    session.commit()
    refused = client.post(url, json={"phone": CONFIRMED[1]}, headers=headers)

    # then the first test carries the owner's own code, created on Shopify; the second nothing
    assert sent.status_code == 202, sent.get_data(as_text=True)
    session.expire_all()
    (row,) = session.scalars(select(Notification)).all()
    code = row.context["coupon_code"]
    assert row.parameters["buttons"][0]["parameters"] == [
        {"type": "coupon_code", "coupon_code": code}
    ]
    assert list(shopify.discounts) == [code]
    assert refused.status_code == 409
    # (the token fails at the first call: asking Shopify which scopes the shop granted)
    assert refused.get_json()["message"].startswith("could not ask Shopify which access")
    assert session.scalars(select(Notification)).all() == [row]
