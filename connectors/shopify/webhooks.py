"""Shopify webhooks: the signature on the raw body, and payloads (REST shapes) -> records.

https://shopify.dev/docs/apps/build/webhooks/subscribe/https#step-2-validate-the-origin-of-your-webhook-to-ensure-its-coming-from-shopify
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
from connectors.shopify.mapping import checkout_token, parse_time


def verify(body: bytes, signature: str | None, secret: str) -> bool:
    """True when X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body (constant time)."""
    if not signature or not secret:
        return False
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), signature.strip().encode())


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _lines(items: list[dict[str, Any]], currency: str) -> tuple[LineRecord, ...]:
    return tuple(
        LineRecord(
            title=item.get("title") or item.get("name") or "",
            quantity=int(item.get("quantity") or 0),
            price_minor=to_minor(item.get("price"), currency),
            product_id=_text(item.get("product_id")),
            variant_id=_text(item.get("variant_id")),
        )
        for item in items or []
    )


def order_record(payload: dict[str, Any]) -> OrderRecord:
    currency = payload.get("currency") or "EUR"
    customer = payload.get("customer") or {}
    cancelled = parse_time(payload.get("cancelled_at"))
    return OrderRecord(
        platform_id=str(payload["id"]),
        placed_at=parse_time(payload.get("processed_at") or payload["created_at"]),  # type: ignore[arg-type]
        updated_at=parse_time(payload["updated_at"]),  # type: ignore[arg-type]
        total_minor=to_minor(
            payload.get("current_total_price") or payload.get("total_price"), currency
        ),
        currency=currency,
        name=payload.get("name"),
        customer_id=_text(customer.get("id")),
        email=payload.get("email") or payload.get("contact_email"),
        phone=payload.get("phone") or customer.get("phone"),
        status="cancelled" if cancelled else ("closed" if payload.get("closed_at") else "open"),
        financial_status=payload.get("financial_status"),
        fulfillment_status=payload.get("fulfillment_status"),
        cancelled_at=cancelled,
        checkout_token=_text(payload.get("checkout_token")),
        lines=_lines(payload.get("line_items") or [], currency),
    )


def cart_record(payload: dict[str, Any]) -> CartRecord:
    """A checkout: the cart's contact comes from here (phone, SMS marketing phone, customer)."""
    currency = payload.get("currency") or payload.get("presentment_currency") or "EUR"
    customer = payload.get("customer") or {}
    address = customer.get("default_address") or {}
    url = payload.get("abandoned_checkout_url")
    fallback = _text(payload.get("token")) or _text(payload.get("id")) or ""
    return CartRecord(
        platform_id=checkout_token(url, fallback) if url else fallback,
        updated_at=parse_time(payload["updated_at"]),  # type: ignore[arg-type]
        total_minor=to_minor(payload.get("total_price"), currency),
        currency=currency,
        customer_id=_text(customer.get("id")),
        email=payload.get("email") or customer.get("email"),
        phone=payload.get("phone")
        or payload.get("sms_marketing_phone")
        or customer.get("phone")
        or address.get("phone"),
        locale=payload.get("customer_locale"),
        recovery_url=url,
        completed_at=parse_time(payload.get("completed_at")),
        lines=_lines(payload.get("line_items") or [], currency),
    )


def customer_record(payload: dict[str, Any]) -> CustomerRecord:
    address = payload.get("default_address") or {}
    # WhatsApp consent only (SMS consent is another channel's). The documented 2026-07 payload
    # has neither consent nor locale: both come out None, which upserts read as "not known".
    state = (payload.get("whats_app_marketing_consent") or {}).get("state")
    return CustomerRecord(
        platform_id=str(payload["id"]),
        updated_at=parse_time(payload["updated_at"]),  # type: ignore[arg-type]
        email=payload.get("email"),
        phone=payload.get("phone"),
        first_name=payload.get("first_name"),
        last_name=payload.get("last_name"),
        locale=payload.get("locale"),
        country=address.get("country_code"),
        marketing_state=state.upper() if state else None,
    )


def product_record(payload: dict[str, Any], currency: str) -> ProductRecord:
    image = payload.get("image") or {}
    tags = [tag.strip() for tag in (payload.get("tags") or "").split(",") if tag.strip()]
    return ProductRecord(
        platform_id=str(payload["id"]),
        title=payload.get("title") or "",
        updated_at=parse_time(payload["updated_at"]),  # type: ignore[arg-type]
        handle=payload.get("handle"),
        image_url=image.get("src"),
        product_type=payload.get("product_type") or None,
        tags=tuple(tags),
        published=payload.get("status", "active") == "active",
        variants=tuple(
            VariantRecord(
                platform_id=str(v["id"]),
                title=v.get("title") or "",
                price_minor=to_minor(v.get("price"), currency),
                currency=currency,
                sku=v.get("sku") or None,
                inventory_quantity=v.get("inventory_quantity"),
                in_stock=_in_stock(v),
            )
            for v in payload.get("variants") or []
        ),
    )


def _in_stock(variant: dict[str, Any]) -> bool:
    """Sellable: stock left, overselling allowed, or stock not tracked (no quantity)."""
    quantity = variant.get("inventory_quantity")
    return quantity is None or quantity > 0 or variant.get("inventory_policy") == "continue"
