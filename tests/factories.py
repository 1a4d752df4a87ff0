"""Rows for tests, with believable defaults; every factory flushes and returns the row."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import (
    Cart,
    CartLine,
    CartState,
    Customer,
    Notification,
    Order,
    OrderLine,
    Product,
    Store,
    Subscription,
    SubscriptionState,
    Variant,
    WhatsAppAccount,
    WhatsAppTemplate,
)

_numbers = itertools.count(1)


def make_store(session: Session, **fields: Any) -> Store:
    n = next(_numbers)
    values: dict[str, Any] = {
        "platform": "shopify",
        "domain": f"shop-{n}.myshopify.com",
        "name": f"Shop {n}",
        "credentials": {"access_token": f"shpat_test_{n}"},
    }
    values.update(fields)
    store = Store(**values)
    session.add(store)
    session.flush()
    return store


def make_customer(session: Session, store: Store, **fields: Any) -> Customer:
    n = next(_numbers)
    values: dict[str, Any] = {
        "store_id": store.id,
        "platform_id": str(7_000_000 + n),
        "email": f"buyer{n}@example.com",
        "phone": f"+4915112{n:06d}",
        "first_name": "Erika",
        "last_name": "Mustermann",
        "locale": "de",
        "country": "DE",
    }
    values.update(fields)
    customer = Customer(**values)
    session.add(customer)
    session.flush()
    return customer


def make_product(
    session: Session, store: Store, price_minor: int = 1990, stock: int | None = 10, **fields: Any
) -> Product:
    n = next(_numbers)
    values: dict[str, Any] = {
        "store_id": store.id,
        "platform_id": str(8_000_000 + n),
        "title": f"Product {n}",
        "handle": f"product-{n}",
        "url": f"https://{store.domain}/products/product-{n}",
        "image_url": f"https://cdn.example.com/product-{n}.jpg",
        "categories": ["Coffee"],
    }
    values.update(fields)
    product = Product(**values)
    product.variants.append(
        Variant(
            store_id=store.id,
            platform_id=str(9_000_000 + n),
            title="Default",
            price_minor=price_minor,
            currency=store.currency,
            inventory_quantity=stock,
            in_stock=stock is None or stock > 0,
        )
    )
    session.add(product)
    session.flush()
    return product


def make_order(
    session: Session,
    store: Store,
    customer: Customer | None,
    products: list[Product],
    placed_at: dt.datetime | None = None,
    **fields: Any,
) -> Order:
    n = next(_numbers)
    placed_at = placed_at or utcnow()
    values: dict[str, Any] = {
        "store_id": store.id,
        "platform_id": str(5_000_000 + n),
        "name": f"#{1000 + n}",
        "customer_id": customer.id if customer else None,
        "phone": customer.phone if customer else None,
        "email": customer.email if customer else None,
        "financial_status": "paid",
        "currency": store.currency,
        "placed_at": placed_at,
        "platform_updated_at": placed_at,
    }
    values.update(fields)
    order = Order(**values)
    for product in products:
        variant = product.variants[0]
        order.lines.append(
            OrderLine(
                store_id=store.id,
                product_id=product.id,
                variant_id=variant.id,
                platform_product_id=product.platform_id,
                platform_variant_id=variant.platform_id,
                title=product.title,
                quantity=1,
                price_minor=variant.price_minor,
            )
        )
    order.total_minor = sum(line.price_minor * line.quantity for line in order.lines)
    session.add(order)
    session.flush()
    return order


def make_cart(
    session: Session,
    store: Store,
    products: list[Product],
    phone: str | None = "+4915112345678",
    last_activity_at: dt.datetime | None = None,
    **fields: Any,
) -> Cart:
    n = next(_numbers)
    activity = last_activity_at or utcnow()
    values: dict[str, Any] = {
        "store_id": store.id,
        "platform_id": f"cart-token-{n}",
        "phone": phone,
        "currency": store.currency,
        "state": CartState.ABANDONED,
        "last_activity_at": activity,
        "platform_updated_at": activity,
        "recovery_url": f"https://{store.domain}/checkouts/{n}/recover",
    }
    values.update(fields)
    cart = Cart(**values)
    for product in products:
        variant = product.variants[0]
        cart.lines.append(
            CartLine(
                store_id=store.id,
                product_id=product.id,
                variant_id=variant.id,
                title=product.title,
                price_minor=variant.price_minor,
            )
        )
    cart.total_minor = sum(line.price_minor for line in cart.lines)
    session.add(cart)
    session.flush()
    return cart


def make_subscription(
    session: Session,
    store: Store,
    phone: str = "+4915112345678",
    state: str = SubscriptionState.CONFIRMED,
    **fields: Any,
) -> Subscription:
    values: dict[str, Any] = {"store_id": store.id, "phone": phone, "state": state, "locale": "de"}
    if state == SubscriptionState.CONFIRMED:
        values["confirmed_at"] = utcnow()
    values.update(fields)
    subscription = Subscription(**values)
    session.add(subscription)
    session.flush()
    return subscription


def make_notification(
    session: Session, store: Store, dedupe_key: str, **fields: Any
) -> Notification:
    values: dict[str, Any] = {
        "store_id": store.id,
        "dedupe_key": dedupe_key,
        "flow": "cart_reminder",
        "phone": "+4915112345678",
        "template_name": "cart_reminder_1",
        "language": "de",
        "due_at": utcnow(),
    }
    values.update(fields)
    notification = Notification(**values)
    session.add(notification)
    session.flush()
    return notification


def make_whatsapp_account(session: Session, store: Store, **fields: Any) -> WhatsAppAccount:
    n = next(_numbers)
    values: dict[str, Any] = {
        "store_id": store.id,
        "phone_number_id": str(100_000_000 + n),
        "waba_id": str(200_000_000 + n),
        "token": f"EAAG-test-{n}",
        "quality_rating": "GREEN",
        "dry_run": True,
    }
    values.update(fields)
    account = WhatsAppAccount(**values)
    session.add(account)
    session.flush()
    return account


def make_template(
    session: Session, store: Store, purpose: str, language: str = "de", **fields: Any
) -> WhatsAppTemplate:
    values: dict[str, Any] = {
        "store_id": store.id,
        "name": f"shopnudge_{purpose}",
        "language": language,
        "purpose": purpose,
        "category": "MARKETING",
        "status": "APPROVED",
    }
    values.update(fields)
    template = WhatsAppTemplate(**values)
    session.add(template)
    session.flush()
    return template
