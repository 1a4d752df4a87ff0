"""Widget cart snapshots (platforms without native abandoned carts), abandonment, recovery links.

The storefront widget posts the cart as the buyer changes it; the newest snapshot of a cart
token is the cart. A cart nobody ordered from after the shop's `cart_abandon_minutes` becomes
`abandoned` (a generic job, for every platform), which is what reminders start from.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from plugin.config import Settings
from plugin.db import get_database
from plugin.jobs import Job
from plugin.models import Cart, CartLine, CartState, Platform, Product, Store, StoreStatus, Variant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SnapshotItem:
    product_id: str
    variation_id: str | None
    quantity: int
    name: str
    price_minor: int

    @property
    def platform_variant_id(self) -> str:
        """Our variant of a line: the variation, or the simple product itself."""
        return self.variation_id or self.product_id


@dataclass(frozen=True)
class CartSnapshot:
    cart_token: str
    items: tuple[SnapshotItem, ...]
    total_minor: int
    currency: str
    #: E.164, already checked by the caller.
    phone: str | None = None
    email: str | None = None
    locale: str | None = None
    #: The buyer's address country as the shop knows it (ISO 3166-1), for typed numbers.
    country: str | None = None


def restore_url(settings: Settings, store: Store, token: str) -> str:
    """Our link that rebuilds the cart on the shop (see `restore_target`)."""
    return f"{settings.public_url}/carts/{store.public_key}/{quote(token, safe='')}/restore"


def _local_ids(session: Session, model: type, store: Store, ids: set[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(model.platform_id, model.id).where(  # type: ignore[attr-defined]
            model.store_id == store.id,  # type: ignore[attr-defined]
            model.platform_id.in_(sorted(ids)),  # type: ignore[attr-defined]
        )
    )
    return {platform_id: row_id for platform_id, row_id in rows}


def save_snapshot(
    session: Session, settings: Settings, store: Store, snapshot: CartSnapshot, now: dt.datetime
) -> Cart:
    """Create or update the cart of this token; new activity reopens an abandoned cart."""
    cart = session.scalars(
        select(Cart)
        .where(Cart.store_id == store.id, Cart.platform_id == snapshot.cart_token)
        .options(selectinload(Cart.lines))
    ).first()
    if cart is not None and cart.state == CartState.RECOVERED:
        return cart  # an order already completed it; later activity starts no new reminders
    products = _local_ids(session, Product, store, {i.product_id for i in snapshot.items})
    variants = _local_ids(session, Variant, store, {i.platform_variant_id for i in snapshot.items})
    if cart is None:
        cart = Cart(store_id=store.id, platform_id=snapshot.cart_token, source="widget")
        session.add(cart)
    cart.lines = [
        CartLine(
            store_id=store.id,
            product_id=products.get(item.product_id),
            variant_id=variants.get(item.platform_variant_id),
            platform_product_id=item.product_id,
            platform_variant_id=item.variation_id,
            title=item.name,
            quantity=item.quantity,
            price_minor=item.price_minor,
        )
        for item in snapshot.items
    ]
    cart.total_minor = snapshot.total_minor if snapshot.items else 0
    cart.currency = snapshot.currency
    # A snapshot fills a missing contact but never replaces one: whoever holds a cart token
    # must not redirect the cart's reminders to another number or address.
    cart.phone = cart.phone or snapshot.phone
    cart.email = cart.email or snapshot.email
    cart.locale = snapshot.locale or cart.locale
    cart.last_activity_at = now
    cart.platform_updated_at = now
    cart.state = CartState.OPEN
    cart.recovery_url = restore_url(settings, store, snapshot.cart_token)
    session.flush()
    return cart


def restore_target(store: Store, cart: Cart) -> str:
    """Where the recovery link sends the buyer.

    Shopify: a cart permalink `/cart/VARIANT:QTY,...` restores every line at once. WooCommerce
    core adds one product per `?add-to-cart=ID&quantity=N` request (a variation id works in
    place of its product id), so the first line goes in that way, with no script needed;
    `shopnudge_cart=<token>` tells the storefront widget to add the rest through the Store API
    (`POST /wp-json/wc/store/v1/cart/add-item`, same origin, the shop's own cookies) from
    `GET /api/v1/stores/<key>/carts/<token>`, and to keep this cart for the buyer's new cart
    session (a link opened in another browser must not start a second cart).
    https://woocommerce.com/document/quick-guide-to-woocommerce-add-to-cart-urls/
    """
    lines = [line for line in cart.lines if line.quantity > 0]
    if store.platform == Platform.SHOPIFY:
        items = ",".join(
            f"{line.platform_variant_id or line.platform_product_id}:{line.quantity}"
            for line in lines
        )
        return f"https://{store.domain}/cart/{items}" if items else f"https://{store.domain}/cart"
    cart_url = f"{store.base_url}/cart/"
    if not lines:
        return cart_url
    first = lines[0]
    query = {
        "add-to-cart": first.platform_variant_id or first.platform_product_id,
        "quantity": first.quantity,
    }
    query["shopnudge_cart"] = cart.platform_id
    return f"{cart_url}?{urlencode(query)}"


def remaining_items(cart: Cart) -> list[dict[str, object]]:
    """The Store API `add-item` bodies for every line after the first (see restore_target)."""
    return [
        {"id": int(line.platform_variant_id or line.platform_product_id or 0), "quantity": q}
        for line in cart.lines[1:]
        if (q := line.quantity) > 0
    ]


def withdraw_products(session: Session, store: Store, platform_ids: set[str]) -> int:
    """Take withdrawn products out of carts still open to reminders; returns carts changed.

    A reminder must not invite a buyer back to something the shop no longer sells (and its
    recovery link would fail to add it). A cart left with no line expires: no reminder is
    composed for it, and one already composed is skipped by the cart guard.
    """
    if not platform_ids:
        return 0
    local = set(_local_ids(session, Product, store, platform_ids).values())

    def withdrawn(line: CartLine) -> bool:
        return line.platform_product_id in platform_ids or line.product_id in local

    carts = session.scalars(
        select(Cart)
        .where(
            Cart.store_id == store.id,
            Cart.state.in_([CartState.OPEN, CartState.ABANDONED]),
            Cart.lines.any(
                CartLine.platform_product_id.in_(sorted(platform_ids))
                | CartLine.product_id.in_(sorted(local))
            ),
        )
        .options(selectinload(Cart.lines))
    ).all()
    for cart in carts:
        cart.lines = [line for line in cart.lines if not withdrawn(line)]
        cart.total_minor = sum(line.price_minor * line.quantity for line in cart.lines)
        if not cart.lines:
            cart.state = CartState.EXPIRED
    session.flush()
    return len(carts)


def mark_abandoned(session: Session, store: Store, now: dt.datetime) -> int:
    """One shop's open carts idle longer than its `cart_abandon_minutes` become abandoned."""
    cutoff = now - dt.timedelta(minutes=int(store.setting("cart_abandon_minutes")))
    return session.execute(
        update(Cart)
        .where(
            Cart.store_id == store.id,
            Cart.state == CartState.OPEN,
            Cart.last_activity_at <= cutoff,
        )
        .values(state=CartState.ABANDONED)
    ).rowcount


def mark_abandoned_carts(session: Session, now: dt.datetime) -> int:
    """Every installed shop's idle open carts become abandoned."""
    stores = session.scalars(select(Store).where(Store.status != StoreStatus.UNINSTALLED)).all()
    return sum(mark_abandoned(session, store, now) for store in stores)


def mark_abandoned_carts_job(app: Flask, now: dt.datetime) -> None:
    with get_database(app).session() as session:
        marked = mark_abandoned_carts(session, now)
    if marked:
        log.info("%d carts abandoned", marked)


#: The generic cart job, for every platform.
JOBS = (Job("mark_abandoned_carts", mark_abandoned_carts_job, every_seconds=60),)
