"""One single-use coupon per buyer: WooCommerce's coupons endpoint.

`POST /wp-json/wc/v3/coupons` with a percent discount good for one use; WooCommerce refuses a
code it has (`woocommerce_rest_coupon_code_already_exists`), which for our deterministic codes
means an earlier try created it.
https://woocommerce.github.io/woocommerce-rest-api-docs/#create-a-coupon
"""

from __future__ import annotations

from typing import Any

from connectors.coupons import CouponRequest, IssuedCoupon
from connectors.errors import PlatformError
from connectors.woocommerce.client import WooCommerceClient

#: WooCommerce's error code for a coupon code the shop already has.
ALREADY_EXISTS = "woocommerce_rest_coupon_code_already_exists"


def coupon_body(coupon: CouponRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "code": coupon.code,
        "discount_type": "percent",
        "amount": str(coupon.percent_off),
        "description": coupon.title,
        "individual_use": True,
        "usage_limit": 1,
        "usage_limit_per_user": 1,
    }
    if coupon.ends_at is not None:  # the shop's local date; a day's margin is harmless
        body["date_expires_gmt"] = coupon.ends_at.strftime("%Y-%m-%dT%H:%M:%S")
    return body


def create_coupon(client: WooCommerceClient, coupon: CouponRequest) -> IssuedCoupon:
    """Create the coupon; one WooCommerce already has is this one, from an earlier try."""
    if not 1 <= coupon.percent_off <= 100:
        raise ValueError("percent_off is 1 to 100")
    try:
        response = client.request("POST", "coupons", data=coupon_body(coupon))
    except PlatformError as error:
        if error.status == 400 and ALREADY_EXISTS in str(error):
            return IssuedCoupon(coupon.code, None, already_existed=True)
        raise
    return IssuedCoupon(coupon.code, str(response.json().get("id") or "") or None)
