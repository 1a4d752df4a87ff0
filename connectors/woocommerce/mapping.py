"""WooCommerce JSON (REST v3 responses and webhook bodies share it) -> connector records.

Shapes: https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import phonenumbers

from connectors.base import CustomerRecord, LineRecord, OrderRecord, ProductRecord, VariantRecord
from connectors.money import to_minor

#: Order meta key the storefront widget may set to tie an order to its cart snapshot.
CART_TOKEN_META = "shopnudge_cart_token"

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def gmt(value: str | None) -> dt.datetime | None:
    """A `*_gmt` field ("2017-03-22T19:28:02", no offset, UTC) as an aware datetime."""
    if not value:
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def phone(raw: str | None, country: str | None) -> str | None:
    """E.164 when the address country makes the number valid, else as typed (core decides)."""
    if not raw or not raw.strip():
        return None
    if country:
        try:
            number = phonenumbers.parse(raw, country.upper())
            if phonenumbers.is_valid_number(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
    return raw.strip()


def _updated(data: dict[str, Any]) -> dt.datetime:
    return gmt(data.get("date_modified_gmt")) or gmt(data.get("date_created_gmt")) or EPOCH


def _in_stock(data: dict[str, Any]) -> bool:
    return data.get("stock_status", "instock") in ("instock", "onbackorder")


def _variant(data: dict[str, Any], title: str, currency: str) -> VariantRecord:
    return VariantRecord(
        platform_id=str(data["id"]),
        title=title,
        price_minor=to_minor(data.get("price"), currency),
        currency=currency,
        sku=data.get("sku") or None,
        inventory_quantity=data.get("stock_quantity") if data.get("manage_stock") else None,
        in_stock=_in_stock(data),
    )


def variation_title(variation: dict[str, Any]) -> str:
    options = [str(a.get("option", "")) for a in variation.get("attributes") or []]
    return " / ".join(o for o in options if o) or str(variation.get("id"))


def product_record(
    data: dict[str, Any], variations: list[dict[str, Any]], currency: str
) -> ProductRecord:
    """A product; a simple product is its own single variant (same id), a variable one has its
    variations (post ids share one sequence, so they never collide)."""
    if variations:
        variants = tuple(_variant(v, variation_title(v), currency) for v in variations)
    else:
        variants = (_variant(data, "Default", currency),)
    updated = max([_updated(data), *(_updated(v) for v in variations)])
    images = data.get("images") or []
    return ProductRecord(
        platform_id=str(data["id"]),
        title=str(data.get("name") or ""),
        updated_at=updated,
        handle=data.get("slug") or None,
        url=data.get("permalink") or None,
        image_url=images[0].get("src") if images else None,
        product_type=data.get("type") or None,
        categories=tuple(str(c.get("name")) for c in data.get("categories") or []),
        tags=tuple(str(t.get("name")) for t in data.get("tags") or []),
        published=data.get("status", "publish") == "publish",
        deleted=data.get("status") == "trash",
        variants=variants,
    )


def customer_record(data: dict[str, Any]) -> CustomerRecord:
    billing = data.get("billing") or {}
    shipping = data.get("shipping") or {}
    country = (billing.get("country") or shipping.get("country") or "").upper() or None
    return CustomerRecord(
        platform_id=str(data["id"]),
        updated_at=_updated(data),
        email=data.get("email") or billing.get("email") or None,
        phone=phone(billing.get("phone"), country),
        first_name=data.get("first_name") or billing.get("first_name") or None,
        last_name=data.get("last_name") or billing.get("last_name") or None,
        country=country,
    )


def _line(item: dict[str, Any], currency: str) -> LineRecord:
    quantity = int(item.get("quantity") or 0)
    if item.get("price") not in (None, ""):
        unit = to_minor(item["price"], currency)
    else:
        unit = to_minor(item.get("total"), currency) // max(quantity, 1)
    product_id = int(item.get("product_id") or 0)
    variation_id = int(item.get("variation_id") or 0)
    return LineRecord(
        title=str(item.get("name") or ""),
        quantity=quantity,
        price_minor=unit,
        product_id=str(product_id) if product_id else None,
        variant_id=str(variation_id or product_id) if product_id else None,
    )


def _meta(data: dict[str, Any], key: str) -> str | None:
    for entry in data.get("meta_data") or []:
        if entry.get("key") == key and entry.get("value"):
            return str(entry["value"])
    return None


def order_record(data: dict[str, Any]) -> OrderRecord:
    currency = str(data.get("currency") or "EUR").upper()
    billing = data.get("billing") or {}
    customer_id = int(data.get("customer_id") or 0)
    placed = gmt(data.get("date_created_gmt")) or EPOCH
    return OrderRecord(
        platform_id=str(data["id"]),
        placed_at=placed,
        updated_at=_updated(data),
        total_minor=to_minor(data.get("total"), currency),
        currency=currency,
        name=f"#{data.get('number') or data['id']}",
        customer_id=str(customer_id) if customer_id else None,
        email=billing.get("email") or None,
        phone=phone(billing.get("phone"), billing.get("country")),
        status=data.get("status"),
        financial_status="paid" if data.get("date_paid_gmt") else "pending",
        fulfillment_status="fulfilled" if data.get("date_completed_gmt") else None,
        checkout_token=_meta(data, CART_TOKEN_META),
        lines=tuple(_line(item, currency) for item in data.get("line_items") or []),
    )
