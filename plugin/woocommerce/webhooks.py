"""Process stored WooCommerce deliveries: payload -> records -> the core's stale-safe upserts."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.woocommerce.mapping import customer_record, order_record
from connectors.woocommerce.sync import WooCommerceConnector
from plugin.carts import withdraw_products
from plugin.config import Settings
from plugin.db import utcnow
from plugin.models import Order, Product, Store, WebhookDelivery
from plugin.sync.catalog import upsert_customers, upsert_products
from plugin.sync.orders import upsert_orders
from plugin.woocommerce.client import client_for
from plugin.woocommerce.consent import record_checkout_consent

log = logging.getLogger(__name__)

SOURCE = "woocommerce"


def handle_delivery(session: Session, delivery: WebhookDelivery, settings: Settings) -> None:
    """The inbox handler for source "woocommerce"."""
    store = session.get(Store, delivery.store_id)
    if store is None:
        return
    payload: dict[str, Any] = json.loads(delivery.body or b"{}")
    resource, _, event = delivery.topic.partition(".")
    if event == "deleted":
        _mark_deleted(session, store, resource, str(payload.get("id", "")))
    elif resource == "order":
        upsert_orders(session, store, [order_record(payload)])
        record_checkout_consent(session, store, payload)
    elif resource == "customer":
        upsert_customers(session, store, [customer_record(payload)])
    elif resource == "product":
        _upsert_product(session, settings, store, payload)


def _upsert_product(
    session: Session, settings: Settings, store: Store, payload: dict[str, Any]
) -> None:
    """A product with its variations; a variation's delivery refreshes its parent."""
    connector = WooCommerceConnector(client_for(store, settings), store.currency)
    parent_id = int(payload.get("parent_id") or 0)
    if payload.get("type") == "variation" and parent_id:
        payload = connector.client.get(f"products/{parent_id}")
    record = connector.product(payload)
    upsert_products(session, store, [record])
    if record.deleted:  # moved to the bin: product.updated with status "trash"
        withdraw_products(session, store, {record.platform_id})


def _mark_deleted(session: Session, store: Store, resource: str, platform_id: str) -> None:
    """Delete bodies carry only the id: keep the row for history, mark it gone."""
    if resource == "product":
        product = session.scalars(
            select(Product).where(Product.store_id == store.id, Product.platform_id == platform_id)
        ).first()
        if product is not None and product.deleted_at is None:
            product.deleted_at = utcnow()
        withdraw_products(session, store, {platform_id})
    elif resource == "order":
        order = session.scalars(
            select(Order).where(Order.store_id == store.id, Order.platform_id == platform_id)
        ).first()
        if order is not None:
            order.status = "trash"  # no longer a purchase (plugin.sync.purchases.NOT_A_PURCHASE)
            order.platform_updated_at = utcnow()  # a late update delivery must not revive it
