"""Products (with their variants) and customers, upserted from a page of connector records."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session, selectinload

from connectors.base import CustomerRecord, ProductRecord
from plugin.db import utcnow
from plugin.models import (
    Customer,
    Product,
    Store,
    Variant,
)
from plugin.phones import normalise_phone
from plugin.sync.links import hold_customers, link_orders
from plugin.sync.rows import WriteCounts, existing, row_to_write


def upsert_products(
    session: Session, store: Store, records: Sequence[ProductRecord]
) -> WriteCounts:
    counts = WriteCounts()
    held = existing(
        session, Product, store, [r.platform_id for r in records], selectinload(Product.variants)
    )
    for record in records:
        product = row_to_write(session, held, Product, store, record, counts)
        if product is None:
            continue
        product.title = record.title
        product.handle = record.handle
        product.url = record.url
        product.image_url = record.image_url
        product.product_type = record.product_type
        product.categories = list(record.categories)
        product.tags = list(record.tags)
        product.published = record.published
        product.deleted_at = (product.deleted_at or utcnow()) if record.deleted else None
        product.platform_updated_at = record.updated_at
        _apply_variants(store, product, record)
    session.flush()
    return counts


def _apply_variants(store: Store, product: Product, record: ProductRecord) -> None:
    if record.deleted and not record.variants:
        return  # a delete webhook carries only the id: keep what we know for order history
    by_id = {variant.platform_id: variant for variant in product.variants}
    keep = []
    for incoming in record.variants:
        variant = by_id.get(incoming.platform_id) or Variant(
            store_id=store.id, platform_id=incoming.platform_id
        )
        variant.title = incoming.title
        variant.sku = incoming.sku
        variant.price_minor = incoming.price_minor
        variant.currency = incoming.currency
        variant.inventory_quantity = incoming.inventory_quantity
        variant.in_stock = incoming.in_stock
        keep.append(variant)
    product.variants = keep


def upsert_customers(
    session: Session, store: Store, records: Sequence[CustomerRecord]
) -> WriteCounts:
    counts = WriteCounts()
    hold_customers(session, store, (r.platform_id for r in records))
    held = existing(session, Customer, store, [r.platform_id for r in records])
    for record in records:
        customer = held.get(record.platform_id)
        if customer is not None and customer.erased_at is not None:
            counts.unchanged += 1  # erased buyers are never filled in again by a sync
            continue
        customer = row_to_write(session, held, Customer, store, record, counts)
        if customer is None:
            continue
        customer.email = record.email
        customer.phone = normalise_phone(record.phone, record.country or store.country)
        customer.first_name = record.first_name
        customer.last_name = record.last_name
        customer.country = record.country
        # Shopify's customers/create|update payloads carry no locale and no consent: a record
        # without them says nothing about them, so what the sync or the consent topic stored
        # stays (and no consent push is set off by a blank).
        if record.locale is not None:
            customer.locale = record.locale
        if record.marketing_state is not None:
            customer.platform_marketing_state = record.marketing_state
        customer.platform_updated_at = record.updated_at
    session.flush()
    link_orders(session, store, (r.platform_id for r in records))
    return counts
