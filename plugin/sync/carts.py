"""Carts and their lines, upserted from connector records, and carts recovered by the orders
that complete them (an abandoned cart whose buyer then ordered gets no reminder)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from connectors.base import CartRecord, LineRecord
from plugin.models import (
    Cart,
    CartLine,
    CartState,
    Order,
    Store,
)
from plugin.phones import normalise_phone
from plugin.sync.purchases import OrderFacts, counts_as_purchase
from plugin.sync.rows import (
    CHUNK,
    WriteCounts,
    chunks,
    customer_ids,
    existing,
    line_refs,
    row_to_write,
)

#: Cart states an order can still recover.
RECOVERABLE = (CartState.OPEN, CartState.ABANDONED, CartState.EXPIRED)


def _lines(
    model: Any,
    store: Store,
    lines: Iterable[LineRecord],
    products: dict[str, int],
    variants: dict[str, int],
) -> list[Any]:
    """Order or cart lines for records, linked to the products and variants we hold."""
    return [
        model(
            store_id=store.id,
            product_id=products.get(line.product_id or ""),
            variant_id=variants.get(line.variant_id or ""),
            platform_product_id=line.product_id,
            platform_variant_id=line.variant_id,
            title=line.title,
            quantity=line.quantity,
            price_minor=line.price_minor,
        )
        for line in lines
    ]


def upsert_carts(session: Session, store: Store, records: Sequence[CartRecord]) -> WriteCounts:
    counts = WriteCounts()
    held = existing(
        session, Cart, store, [r.platform_id for r in records], selectinload(Cart.lines)
    )
    customers = customer_ids(session, store, records)
    products, variants = line_refs(session, store, (line for r in records for line in r.lines))
    for record in records:
        cart = row_to_write(session, held, Cart, store, record, counts, source="platform")
        if cart is None:
            continue
        cart.customer_id = customers.get(record.customer_id or "")
        cart.email = record.email
        cart.phone = normalise_phone(record.phone, store.country) or cart.phone
        cart.locale = record.locale
        cart.recovery_url = record.recovery_url
        cart.total_minor = record.total_minor
        cart.currency = record.currency
        cart.last_activity_at = record.updated_at
        cart.platform_updated_at = record.updated_at
        cart.completed_at = record.completed_at
        if cart.state != CartState.RECOVERED:  # new activity reopens an abandoned cart
            cart.state = CartState.OPEN if record.completed_at is None else CartState.RECOVERED
            cart.recovered_at = record.completed_at
        cart.lines = _lines(CartLine, store, record.lines, products, variants)
    session.flush()
    return counts


def _completes(order: Order | OrderFacts, cart: Cart) -> bool:
    if order.checkout_token and cart.platform_id == order.checkout_token:
        return True
    same_buyer = (order.customer_id is not None and cart.customer_id == order.customer_id) or (
        bool(order.phone) and cart.phone == order.phone
    )
    return same_buyer and cart.last_activity_at <= order.placed_at


def has_open_carts(session: Session, store: Store) -> bool:
    """Whether the shop holds any cart an order could still recover."""
    return (
        session.scalar(
            select(Cart.id).where(Cart.store_id == store.id, Cart.state.in_(RECOVERABLE)).limit(1)
        )
        is not None
    )


def recover_carts_for_orders(
    session: Session, store: Store, orders: Sequence[Order | OrderFacts]
) -> list[Cart]:
    """Mark carts these orders complete as recovered; this is what ends their reminders.

    A cart is recovered by an order from its own checkout, or by any purchase from the same
    buyer (customer or phone) placed after the cart was last touched; the earliest such order
    gets the credit. Cancelled orders do not count; pending and on-hold ones (bank transfer,
    invoice) do. One query per chunk of orders, not one per order.
    """
    if not has_open_carts(session, store):
        return []  # one query instead of one per chunk of orders
    return recover_carts(session, store, orders)


def recover_carts(
    session: Session, store: Store, orders: Sequence[Order | OrderFacts]
) -> list[Cart]:
    recovered: list[Cart] = []
    purchases = sorted((o for o in orders if counts_as_purchase(o)), key=lambda o: o.placed_at)
    for chunk in chunks(purchases, CHUNK // 2):
        tokens = {o.checkout_token for o in chunk if o.checkout_token}
        customers = {o.customer_id for o in chunk if o.customer_id is not None}
        phones = {o.phone for o in chunk if o.phone}
        conditions = []
        if tokens:
            conditions.append(Cart.platform_id.in_(tokens))
        if customers:
            conditions.append(Cart.customer_id.in_(customers))
        if phones:
            conditions.append(Cart.phone.in_(phones))
        if not conditions:
            continue
        carts = session.scalars(
            select(Cart).where(
                Cart.store_id == store.id,
                Cart.state.in_(RECOVERABLE),
                or_(*conditions),
            )
        ).all()
        for cart in carts:
            order = next((o for o in chunk if _completes(o, cart)), None)
            if order is None:
                continue
            cart.state = CartState.RECOVERED
            cart.recovered_order_id = order.id
            cart.recovered_at = order.placed_at
            recovered.append(cart)
    return recovered
