"""Six months of the demo shop's orders, and the carts abandoned in the last forty hours.

A basket is anchored in one of the buyer's favourite categories and mostly adds its
complements; the open carts are what the cart reminders act on when the demo runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random

from sqlalchemy.orm import Session

from plugin.demo.catalog import COMPLEMENTS, pick
from plugin.models import Cart, CartLine, CartState, Customer, Order, OrderLine, Product, Store


def seed_orders(
    session: Session,
    store: Store,
    rng: random.Random,
    now: dt.datetime,
    products: dict[str, list[Product]],
    customers: list[tuple[Customer, list[str]]],
) -> None:
    """Two thousand orders; a few buyers order often, as in a real shop."""
    activity = [1.0 / (rank + 1) ** 0.6 for rank in range(len(customers))]
    for index in range(2000):
        customer, favourites = rng.choices(customers, weights=activity, k=1)[0]
        anchor_category = rng.choice(favourites)
        basket = [pick(rng, products[anchor_category])]
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            if rng.random() < 0.75:
                category = rng.choice(COMPLEMENTS[anchor_category])
            else:
                category = rng.choice(list(products))
            item = pick(rng, products[category])
            if item not in basket:
                basket.append(item)
        placed = now - dt.timedelta(minutes=rng.randint(60, 182 * 24 * 60))
        order = Order(
            store_id=store.id,
            platform_id=str(5_000_000_000 + index),
            name=f"#{1001 + index}",
            customer_id=customer.id,
            email=customer.email,
            phone=customer.phone,
            status="closed",
            financial_status="paid",
            fulfillment_status="fulfilled",
            currency=store.currency,
            placed_at=placed,
            platform_updated_at=placed,
            total_minor=0,
        )
        if rng.random() < 0.02:
            order.cancelled_at = placed + dt.timedelta(hours=2)
            order.financial_status = "refunded"
        for product in basket:
            variant = product.variants[0]
            quantity = rng.choice([1, 1, 1, 2, 3])
            order.lines.append(
                OrderLine(
                    store_id=store.id,
                    product_id=product.id,
                    variant_id=variant.id,
                    platform_product_id=product.platform_id,
                    platform_variant_id=variant.platform_id,
                    title=product.title,
                    quantity=quantity,
                    price_minor=variant.price_minor,
                )
            )
            order.total_minor += quantity * variant.price_minor
        session.add(order)


def seed_carts(
    session: Session,
    store: Store,
    rng: random.Random,
    now: dt.datetime,
    products: dict[str, list[Product]],
    customers: list[tuple[Customer, list[str]]],
    subscribed: list[Customer],
) -> None:
    """Fifteen abandoned carts (ten of subscribers) for the reminders to act on."""
    buyers = rng.sample(subscribed, k=10) + rng.sample([c for c, _ in customers], k=5)
    for index, customer in enumerate(buyers):
        token = hashlib.sha256(f"demo-cart-{index}".encode()).hexdigest()[:32]
        activity = now - dt.timedelta(minutes=rng.randint(75, 40 * 60))
        cart = Cart(
            store_id=store.id,
            platform_id=token,
            source="platform",
            customer_id=customer.id,
            phone=customer.phone,
            email=customer.email,
            locale=customer.locale,
            recovery_url=f"https://{store.domain}/{store.id}/checkouts/{token}/recover",
            currency=store.currency,
            state=CartState.ABANDONED,
            last_activity_at=activity,
            platform_updated_at=activity,
            total_minor=0,
        )
        category = rng.choice(list(products))
        for product in rng.sample(products[category], k=rng.choice([1, 2, 3])):
            variant = product.variants[0]
            cart.lines.append(
                CartLine(
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
            cart.total_minor += variant.price_minor
        session.add(cart)
