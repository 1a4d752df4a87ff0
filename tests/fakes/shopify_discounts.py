"""discountCodeBasicCreate in the fake shop: codes unique per shop, as Shopify keeps them.

The request was already checked against the Admin GraphQL schema; here the shop's rules:
a code it has is refused with userError TAKEN, a percentage must lie in (0, 1].
https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/discountCodeBasicCreate
"""

from __future__ import annotations

from typing import Any


def create_discount(discounts: dict[str, dict[str, Any]], value: dict[str, Any]) -> dict[str, Any]:
    """The mutation's answer; the discount is kept by its code (case-insensitive, as Shopify)."""
    code = str(value.get("code") or "")
    errors = []
    if code.upper() in discounts:
        errors.append(
            {
                "field": ["basicCodeDiscount", "code"],
                "code": "TAKEN",
                "message": "Code must be unique. Please try a different code.",
            }
        )
    percentage = ((value.get("customerGets") or {}).get("value") or {}).get("percentage")
    if percentage is not None and not 0 < float(percentage) <= 1:
        errors.append(
            {
                "field": ["basicCodeDiscount", "customerGets", "value", "percentage"],
                "code": "VALUE_OUTSIDE_RANGE",
                "message": "Value must be between 0.0 and 1.0",
            }
        )
    if errors:
        return {"discountCodeBasicCreate": {"codeDiscountNode": None, "userErrors": errors}}
    node = {"id": f"gid://shopify/DiscountCodeNode/{len(discounts) + 1}"}
    discounts[code.upper()] = {**value, **node}
    return {"discountCodeBasicCreate": {"codeDiscountNode": node, "userErrors": []}}
