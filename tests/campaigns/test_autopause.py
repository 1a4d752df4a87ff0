"""A running campaign pauses itself: Meta pauses its template, or its buyers stop it."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.campaigns import drafts, lifecycle
from plugin.campaigns.autopause import pause_failing_campaigns
from plugin.config import Settings
from plugin.db import Database
from plugin.engine.dispatch import dispatch_due
from plugin.models import Campaign, Notification, Store, WhatsAppTemplate
from tests.campaigns.test_campaigns import BODY, NOW
from tests.factories import make_subscription, make_template
from tests.fakes.meta import FakeMeta
from tests.fakes.meta_webhooks import BuyerWebhooks, user_id_for
from tests.whatsapp.conftest import (
    APP_SECRET,
    PHONE_NUMBER_ID,
    WABA_ID,
    app_overrides,
    fake_meta,
    for_shop,
    load,
    meta,
    post_webhook,
    shop,
)

__all__ = ["app_overrides", "fake_meta", "meta", "shop"]  # the Graph API fake, the shop on it
BUYERS = [f"+49151222000{n:02d}" for n in range(30)]


@pytest.fixture
def meta_says(client: FlaskClient) -> BuyerWebhooks:
    return BuyerWebhooks(
        url="",
        app_secret=APP_SECRET,
        waba_id=WABA_ID,
        phone_number_id=PHONE_NUMBER_ID,
        deliver=lambda payload: post_webhook(client, payload).status_code,
    )


def running_campaign(session: Session, settings: Settings, store: Store) -> Campaign:
    """Thirty confirmed buyers, a campaign spread over two hours from NOW, started."""
    make_template(session, store, "campaign", name="winter_sale", components=[BODY])
    for phone in BUYERS:
        make_subscription(session, store, phone, confirmed_at=NOW - dt.timedelta(days=30))
    campaign = drafts.create_campaign(
        session, store, name="Winter", template="winter_sale", spread_hours=2
    )
    lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
    session.commit()
    return campaign


def sent_rows(session: Session) -> list[Notification]:
    session.expire_all()
    return list(session.scalars(select(Notification).where(Notification.state == "sent")))


def test_blocks_past_two_percent_pause_the_campaign_and_nothing_more_is_sent(
    app: Flask,
    database: Database,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    meta_says: BuyerWebhooks,
    settings: Settings,
) -> None:
    # given a running campaign whose first hour goes out; Meta refuses two buyers with
    # 131050 (they stopped this business's marketing inside WhatsApp)
    campaign = running_campaign(session, settings, shop)
    fake_meta.fail_next_send(131050)
    fake_meta.fail_next_send(131050)
    with app.app_context():
        first = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(hours=1))
    delivered = sent_rows(session)
    assert (first.sent, first.failed) == (len(delivered), 2)
    assert 10 <= len(delivered) < 28  # the rest is due in the second hour

    # and Meta reports the others delivered, then one buyer taps WhatsApp's own "stop"
    for row in delivered:
        user = user_id_for(row.phone or "")
        assert meta_says.status(row.provider_message_id or "", "delivered", user_id=user) == 200
    stopper = delivered[0].phone or ""
    assert meta_says.preference("stop", user_id=user_id_for(stopper), phone=stopper) == 200

    # when the watch runs, and the dispatch runs again after the whole spread
    paused = pause_failing_campaigns(session, NOW + dt.timedelta(hours=1, seconds=5))
    session.commit()
    sends_before = len(fake_meta.sends())
    with app.app_context():
        later = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(hours=3))

    # then the campaign paused itself, naming the figures, and nothing more went to Meta
    reached = len(delivered) + 2
    reason = (
        f"opt-outs: 3 of {reached} buyers reached stopped marketing "
        f"({100 * 3 / reached:.1f} %, the limit is 2.00 %)"
    )
    assert paused == [(campaign.id, reason)]
    session.expire_all()
    assert (campaign.status, campaign.status_reason) == ("paused", reason)
    assert later.sent == 0 and len(fake_meta.sends()) == sends_before
    held = session.scalars(select(Notification).where(Notification.reason == "campaign_paused"))
    assert len(held.all()) == len(BUYERS) - reached

    # and resumed by the owner, it goes on: the same three opt-outs do not pause it again
    lifecycle.start_campaign(session, settings, shop, campaign, NOW + dt.timedelta(hours=3), None)
    session.commit()
    assert pause_failing_campaigns(session, NOW + dt.timedelta(hours=3)) == []


def test_few_buyers_reached_do_not_pause_on_one_stop(
    app: Flask,
    database: Database,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    settings: Settings,
) -> None:
    campaign = running_campaign(session, settings, shop)
    fake_meta.fail_next_send(131050)
    with app.app_context():
        dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(minutes=1))
    assert pause_failing_campaigns(session, NOW + dt.timedelta(minutes=2)) == []
    session.expire_all()
    assert campaign.status == "running"


def test_meta_pausing_the_template_pauses_the_campaign(
    app: Flask,
    database: Database,
    session: Session,
    shop: Store,
    client: FlaskClient,
    settings: Settings,
) -> None:
    # given a running campaign
    campaign = running_campaign(session, settings, shop)

    # when Meta pauses its template for low quality
    payload = load("meta_documented.json", "message_template_status_update_approved")
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(
        message_template_name="winter_sale",
        message_template_language="de",
        event="PAUSED",
        reason="NONE",
    )
    post_webhook(client, for_shop(payload))
    session.expire_all()
    template = session.scalars(
        select(WhatsAppTemplate).where(WhatsAppTemplate.name == "winter_sale")
    )
    assert template.one().status == "PAUSED"
    paused = pause_failing_campaigns(session, NOW + dt.timedelta(minutes=1))
    session.commit()

    # then the campaign is paused with the reason, every unsent row held
    reason = "template paused: Meta stopped winter_sale (de)"
    assert paused == [(campaign.id, reason)]
    session.expire_all()
    assert campaign.status == "paused"
    assert {r.reason for r in session.scalars(select(Notification))} == {"campaign_paused"}


def test_a_flagged_phone_number_pauses_the_campaign_until_resumed_at_that_quality(
    session: Session, shop: Store, client: FlaskClient, settings: Settings
) -> None:
    # given a running campaign
    campaign = running_campaign(session, settings, shop)

    # when Meta flags the phone number (quality RED)
    post_webhook(
        client, for_shop(load("meta_documented.json", "phone_number_quality_update_flagged"))
    )
    paused = pause_failing_campaigns(session, NOW + dt.timedelta(minutes=1))
    session.commit()

    # then the campaign paused itself; resumed by the owner at RED it is not paused again
    reason = "quality: the phone number's quality rating is RED"
    assert paused == [(campaign.id, reason)]
    lifecycle.start_campaign(session, settings, shop, campaign, NOW + dt.timedelta(minutes=2), None)
    session.commit()
    assert pause_failing_campaigns(session, NOW + dt.timedelta(minutes=3)) == []
    session.expire_all()
    assert campaign.status == "running"
    assert campaign.status_reason == (
        "Resumed by the owner at quality RED with 0 opt-outs: "
        "it pauses itself again only if either gets worse."
    )
