"""One single-use discount code per buyer: Shopify's discountCodeBasicCreate.

https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/discountCodeBasicCreate
"""

from __future__ import annotations

from typing import Any

from connectors.coupons import CouponRequest, IssuedCoupon
from connectors.errors import PlatformError
from connectors.shopify.client import ShopifyClient

DISCOUNT_CODE_CREATE = (
    "mutation CreateDiscountCode($basicCodeDiscount: DiscountCodeBasicInput!) { "
    "discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) { "
    "codeDiscountNode { id } userErrors { field code message } } }"
)
#: Shopify's userError code for a code the shop already has.
TAKEN = "TAKEN"


def discount_input(coupon: CouponRequest) -> dict[str, Any]:
    """DiscountCodeBasicInput: percent off every item, any buyer, one use in all."""
    value: dict[str, Any] = {
        "title": coupon.title,
        "code": coupon.code,
        "startsAt": coupon.starts_at.isoformat(),
        "context": {"all": "ALL"},
        "customerGets": {"value": {"percentage": coupon.percent_off / 100}, "items": {"all": True}},
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
    }
    if coupon.ends_at is not None:
        value["endsAt"] = coupon.ends_at.isoformat()
    return value


def create_discount_code(client: ShopifyClient, coupon: CouponRequest) -> IssuedCoupon:
    """Create the code; a code Shopify already has is this one, created by an earlier try."""
    if not 1 <= coupon.percent_off <= 100:
        raise ValueError("percent_off is 1 to 100")
    payload = client.execute(DISCOUNT_CODE_CREATE, {"basicCodeDiscount": discount_input(coupon)})
    result = payload["discountCodeBasicCreate"]
    errors = result.get("userErrors") or []
    if errors and all(error.get("code") == TAKEN for error in errors):
        return IssuedCoupon(coupon.code, None, already_existed=True)
    if errors:
        messages = "; ".join(str(error.get("message")) for error in errors)
        raise PlatformError(f"Shopify refused the discount code: {messages}")
    node = result.get("codeDiscountNode") or {}
    return IssuedCoupon(coupon.code, str(node.get("id") or "") or None)
