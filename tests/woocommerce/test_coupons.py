"""Single-use WooCommerce coupons, one per buyer, created exactly once."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.coupons import CouponRequest, IssuedCoupon
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.coupons import create_coupon
from plugin.campaigns import drafts, lifecycle
from plugin.config import Settings
from plugin.models import Notification
from tests.campaigns.test_campaigns import CONFIRMED, NOW
from tests.campaigns.test_unique_coupons import BODY, BUTTONS
from tests.factories import make_store, make_subscription, make_template, make_whatsapp_account
from tests.fakes.woocommerce import FakeWooCommerce

START = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


def client(woo: FakeWooCommerce) -> WooCommerceClient:
    key, secret = woo.add_keys()
    return WooCommerceClient(woo.url, key, secret, timeout=5)


def test_coupon_is_created_for_one_use_and_a_repeat_finds_it_existing(
    woo: FakeWooCommerce,
) -> None:
    coupon = CouponRequest("7Q2XK4M9TBAA", "Winter", 15, START, START + dt.timedelta(days=14))
    first = create_coupon(client(woo), coupon)
    again = create_coupon(client(woo), coupon)
    assert first == IssuedCoupon("7Q2XK4M9TBAA", "1")
    assert again == IssuedCoupon("7Q2XK4M9TBAA", None, already_existed=True)
    assert list(woo.coupons) == ["7q2xk4m9tbaa"]  # WooCommerce keeps codes lower-case
    stored = woo.coupons["7q2xk4m9tbaa"]
    assert (stored["discount_type"], stored["amount"], stored["usage_limit"]) == (
        "percent",
        "15",
        1,
    )
    assert stored["date_expires_gmt"] == "2026-12-21T10:00:00"
    posts = [r for r in woo.requests if r[0] == "POST" and r[1].endswith("/coupons")]
    assert len(posts) == 2


def test_a_percentage_outside_one_to_hundred_is_refused_before_asking(
    woo: FakeWooCommerce,
) -> None:
    with pytest.raises(ValueError, match="percent_off is 1 to 100"):
        create_coupon(client(woo), CouponRequest("X1", "Winter", 0, START))
    assert woo.coupons == {}


def test_a_campaign_on_woocommerce_creates_one_coupon_per_recipient(
    app: Flask, session: Session, woo: FakeWooCommerce, settings: Settings
) -> None:
    # given a WooCommerce shop, four confirmed buyers and a template with a copy-code button
    key, secret = woo.add_keys()
    store = make_store(
        session,
        platform="woocommerce",
        domain="laden.example",
        base_url=woo.url,
        credentials={"consumer_key": key, "consumer_secret": secret},
    )
    make_whatsapp_account(session, store)
    make_template(session, store, "campaign", name="winter_code", components=[BODY, BUTTONS])
    for phone in CONFIRMED:
        make_subscription(session, store, phone, confirmed_at=NOW - dt.timedelta(days=30))
    session.commit()

    # when a campaign with a 20 % code per recipient starts
    with app.app_context():
        campaign = drafts.create_campaign(
            session, store, name="Winter", template="winter_code", unique_coupon_percent=20
        )
        lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
        session.commit()

    # then WooCommerce holds one 20 % coupon per recipient, the one in that buyer's row
    codes = [r.context["coupon_code"] for r in session.scalars(select(Notification))]
    assert len(set(codes)) == len(CONFIRMED)
    assert sorted(woo.coupons) == sorted(code.lower() for code in codes)
    assert {c["amount"] for c in woo.coupons.values()} == {"20"}
