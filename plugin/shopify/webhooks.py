"""What each Shopify webhook topic does, run by the inbox after the delivery was answered."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.shopify import webhooks
from plugin.config import Settings
from plugin.consent import gdpr
from plugin.db import utcnow
from plugin.models import Customer, DataExport, Product, Store, StoreStatus, WebhookDelivery
from plugin.phones import normalise_phone
from plugin.shopify.consent import apply_whatsapp_consent
from plugin.sync.carts import upsert_carts
from plugin.sync.catalog import upsert_customers, upsert_products
from plugin.sync.orders import upsert_orders

log = logging.getLogger(__name__)

TopicHandler = Callable[[Session, Store, dict[str, Any], WebhookDelivery], None]


def _orders(session: Session, store: Store, payload: dict[str, Any], _: WebhookDelivery) -> None:
    upsert_orders(session, store, [webhooks.order_record(payload)])


def _checkouts(session: Session, store: Store, payload: dict[str, Any], _: Any) -> None:
    upsert_carts(session, store, [webhooks.cart_record(payload)])


def _customers(session: Session, store: Store, payload: dict[str, Any], _: Any) -> None:
    upsert_customers(session, store, [webhooks.customer_record(payload)])


def _products(session: Session, store: Store, payload: dict[str, Any], _: Any) -> None:
    upsert_products(session, store, [webhooks.product_record(payload, store.currency)])


def _product_deleted(session: Session, store: Store, payload: dict[str, Any], _: Any) -> None:
    """Only the id comes: keep the row for order history, mark it gone."""
    product = session.scalars(
        select(Product).where(
            Product.store_id == store.id, Product.platform_id == str(payload["id"])
        )
    ).first()
    if product is not None and product.deleted_at is None:
        product.deleted_at = utcnow()


def _customer(session: Session, store: Store, platform_id: Any) -> Customer | None:
    if platform_id in (None, ""):
        return None
    return session.scalars(
        select(Customer).where(
            Customer.store_id == store.id, Customer.platform_id == str(platform_id)
        )
    ).first()


def _whatsapp_consent(session: Session, store: Store, payload: dict[str, Any], _: Any) -> None:
    apply_whatsapp_consent(
        session, store, _customer(session, store, payload.get("customer_id")), payload
    )


def _uninstalled(session: Session, store: Store, _payload: dict[str, Any], _: Any) -> None:
    """Sending stops at once (the engine checks the status); the token is dead, so drop it."""
    store.status = StoreStatus.UNINSTALLED
    store.uninstalled_at = utcnow()
    store.credentials = None
    store.token_expires_at = None


def _buyer(store: Store, payload: dict[str, Any]) -> dict[str, str | None]:
    buyer = payload.get("customer") or {}
    return {
        "customer_platform_id": str(buyer["id"]) if buyer.get("id") is not None else None,
        "phone": normalise_phone(buyer.get("phone"), store.country),
        "email": buyer.get("email"),
    }


def _redact_customer(session: Session, store: Store, payload: dict[str, Any], _: Any) -> None:
    gdpr.erase_buyer(session, store, source="shopify_redact", **_buyer(store, payload))


def _data_request(
    session: Session, store: Store, payload: dict[str, Any], _: WebhookDelivery
) -> None:
    export = gdpr.export_buyer(session, store, **_buyer(store, payload))
    customer = _customer(session, store, (payload.get("customer") or {}).get("id"))
    request_id = (payload.get("data_request") or {}).get("id")
    session.add(
        DataExport(
            store_id=store.id,
            source="shopify_data_request",
            request_id=str(request_id) if request_id is not None else None,
            customer_id=customer.id if customer else None,
            export=export,
        )
    )


def _redact_shop(session: Session, store: Store, _payload: dict[str, Any], delivery: Any) -> None:
    delivery.store_id = None  # the delivery outlives the shop it erases
    session.flush()
    gdpr.erase_store(session, store)


TOPICS: dict[str, TopicHandler] = {
    "orders/create": _orders,
    "orders/updated": _orders,
    "orders/paid": _orders,
    "orders/cancelled": _orders,
    "checkouts/create": _checkouts,
    "checkouts/update": _checkouts,
    "customers/create": _customers,
    "customers/update": _customers,
    "customers_whats_app_marketing_consent/update": _whatsapp_consent,
    "products/create": _products,
    "products/update": _products,
    "products/delete": _product_deleted,
    "app/uninstalled": _uninstalled,
    "customers/data_request": _data_request,
    "customers/redact": _redact_customer,
    "shop/redact": _redact_shop,
}


def handle_delivery(session: Session, delivery: WebhookDelivery, settings: Settings) -> None:
    """The inbox handler for source "shopify"; no topic of Shopify's needs the settings yet."""
    handler = TOPICS.get(delivery.topic)
    if handler is None:
        log.info("shopify topic %s is not handled", delivery.topic)
        return
    store = session.get(Store, delivery.store_id) if delivery.store_id else None
    if store is None:
        log.info("shopify %s for a shop that is gone", delivery.topic)
        return
    handler(session, store, json.loads(delivery.body or b"{}"), delivery)
