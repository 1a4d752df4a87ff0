"""Single-use discount codes on Shopify, one per buyer, created exactly once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from connectors.coupons import CouponRequest, IssuedCoupon
from connectors.shopify.client import ShopifyClient
from connectors.shopify.coupons import create_discount_code
from tests.fakes.shopify import FakeShopify

START = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def shopify() -> Iterator[FakeShopify]:
    with FakeShopify() as fake:
        yield fake


def client(fake: FakeShopify) -> ShopifyClient:
    return ShopifyClient(fake.url, fake.issue_token(), "2026-07", timeout=5)


def test_code_is_created_for_one_use_and_a_repeat_finds_it_taken_without_a_second(
    shopify: FakeShopify,
) -> None:
    coupon = CouponRequest("WIN-7Q2XK4M9TB", "Winter", 10, START, START + dt.timedelta(days=5))
    first = create_discount_code(client(shopify), coupon)
    again = create_discount_code(client(shopify), coupon)
    assert first == IssuedCoupon("WIN-7Q2XK4M9TB", "gid://shopify/DiscountCodeNode/1")
    assert again == IssuedCoupon("WIN-7Q2XK4M9TB", None, already_existed=True)
    assert list(shopify.discounts) == ["WIN-7Q2XK4M9TB"]
    stored = shopify.discounts["WIN-7Q2XK4M9TB"]
    assert stored["usageLimit"] == 1 and stored["appliesOncePerCustomer"] is True
    assert stored["customerGets"] == {"value": {"percentage": 0.1}, "items": {"all": True}}
    assert stored["endsAt"] == "2026-12-12T10:00:00+00:00"
    assert all(not r.errors for r in shopify.requests)  # valid against the 2026-07 schema


def test_a_percentage_outside_one_to_hundred_is_refused_before_asking_shopify(
    shopify: FakeShopify,
) -> None:
    for percent in (0, 101):
        with pytest.raises(ValueError, match="percent_off is 1 to 100"):
            create_discount_code(client(shopify), CouponRequest("X1", "Winter", percent, START))
    assert shopify.discounts == {} and shopify.requests == []
