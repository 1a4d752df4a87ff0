"""GraphQL nodes (paginated or assembled from bulk JSONL) -> connector records."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from connectors.base import (
    CartRecord,
    CustomerRecord,
    LineRecord,
    OrderRecord,
    ProductRecord,
    VariantRecord,
)
from connectors.money import to_minor

CHECKOUT_TOKEN = re.compile(r"/checkouts/(?:[a-z]{2}/)?([A-Za-z0-9]+)/recover")


def numeric_id(gid: str | int | None) -> str | None:
    """`gid://shopify/Order/123` -> `123` (webhooks use the bare number)."""
    if gid is None:
        return None
    return str(gid).rsplit("/", 1)[-1]


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def _nodes(node: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return list((node.get(name) or {}).get("nodes") or [])


def _money(value: dict[str, Any] | None) -> tuple[str | None, str | None]:
    money = (value or {}).get("shopMoney") or {}
    return money.get("amount"), money.get("currencyCode")


def product_record(node: dict[str, Any], currency: str) -> ProductRecord:
    image = ((node.get("featuredMedia") or {}).get("preview") or {}).get("image") or {}
    variants = tuple(
        VariantRecord(
            platform_id=numeric_id(v["id"]) or "",
            title=v.get("title") or "",
            price_minor=to_minor(v.get("price"), currency),
            currency=currency,
            sku=v.get("sku") or None,
            inventory_quantity=v.get("inventoryQuantity"),
            in_stock=bool(v.get("availableForSale", True)),
        )
        for v in _nodes(node, "variants")
    )
    return ProductRecord(
        platform_id=numeric_id(node["id"]) or "",
        title=node.get("title") or "",
        updated_at=parse_time(node["updatedAt"]),  # type: ignore[arg-type]
        handle=node.get("handle"),
        url=node.get("onlineStoreUrl"),
        image_url=image.get("url"),
        product_type=node.get("productType") or None,
        categories=tuple(c["title"] for c in _nodes(node, "collections")),
        tags=tuple(node.get("tags") or ()),
        published=node.get("status", "ACTIVE") == "ACTIVE",
        variants=variants,
    )


def customer_record(node: dict[str, Any]) -> CustomerRecord:
    phone = node.get("defaultPhoneNumber") or {}
    whatsapp = (phone.get("whatsAppMarketingConsent") or {}).get("state")
    return CustomerRecord(
        platform_id=numeric_id(node["id"]) or "",
        updated_at=parse_time(node["updatedAt"]),  # type: ignore[arg-type]
        email=(node.get("defaultEmailAddress") or {}).get("emailAddress"),
        phone=phone.get("phoneNumber"),
        first_name=node.get("firstName"),
        last_name=node.get("lastName"),
        locale=node.get("locale"),
        country=(node.get("defaultAddress") or {}).get("countryCodeV2"),
        marketing_state=whatsapp,  # WhatsApp consent only: marketingState is SMS consent
    )


def _lines(node: dict[str, Any]) -> tuple[LineRecord, ...]:
    lines = []
    for line in _nodes(node, "lineItems"):
        amount, currency = _money(line.get("originalUnitPriceSet"))
        lines.append(
            LineRecord(
                title=line.get("title") or "",
                quantity=int(line.get("quantity") or 0),
                price_minor=to_minor(amount, currency or "EUR"),
                product_id=numeric_id((line.get("product") or {}).get("id")),
                variant_id=numeric_id((line.get("variant") or {}).get("id")),
            )
        )
    return tuple(lines)


def order_record(node: dict[str, Any]) -> OrderRecord:
    amount, currency = _money(node.get("totalPriceSet"))
    currency = currency or "EUR"
    return OrderRecord(
        platform_id=numeric_id(node["id"]) or "",
        placed_at=parse_time(node.get("processedAt") or node["createdAt"]),  # type: ignore[arg-type]
        updated_at=parse_time(node["updatedAt"]),  # type: ignore[arg-type]
        total_minor=to_minor(amount, currency),
        currency=currency,
        name=node.get("name"),
        customer_id=numeric_id((node.get("customer") or {}).get("id")),
        email=node.get("email"),
        phone=node.get("phone"),
        status="cancelled"
        if node.get("cancelledAt")
        else ("closed" if node.get("closed") else "open"),
        financial_status=(node.get("displayFinancialStatus") or "").lower() or None,
        fulfillment_status=(node.get("displayFulfillmentStatus") or "").lower() or None,
        cancelled_at=parse_time(node.get("cancelledAt")),
        checkout_token=node.get("checkoutToken"),
        lines=_lines(node),
    )


def checkout_token(recovery_url: str | None, fallback: str) -> str:
    """Abandoned checkouts are keyed by their token (what orders carry as checkoutToken)."""
    match = CHECKOUT_TOKEN.search(recovery_url or "")
    return match.group(1) if match else fallback


def cart_record(node: dict[str, Any]) -> CartRecord:
    amount, currency = _money(node.get("totalPriceSet"))
    currency = currency or "EUR"
    customer = node.get("customer") or {}
    url = node.get("abandonedCheckoutUrl")
    return CartRecord(
        platform_id=checkout_token(url, numeric_id(node["id"]) or ""),
        updated_at=parse_time(node["updatedAt"]),  # type: ignore[arg-type]
        total_minor=to_minor(amount, currency),
        currency=currency,
        customer_id=numeric_id(customer.get("id")),
        locale=customer.get("locale"),
        recovery_url=url,
        completed_at=parse_time(node.get("completedAt")),
        lines=_lines(node),
    )
