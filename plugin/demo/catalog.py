"""The demo shop's catalogue: what it sells, at what price, and what goes with what.

The complements give baskets structure (beans go with filters and a grinder), so the
recommender has real co-purchase signal to find; the first products of a category sell most.
"""

from __future__ import annotations

import datetime as dt
import random

from sqlalchemy.orm import Session

from plugin.models import Product, Store, Variant

#: category -> [(product title, price in cents)]
CATALOG: dict[str, list[tuple[str, int]]] = {
    "Coffee": [
        ("Espresso Roast Beans 1 kg", 2490),
        ("Filter Roast Beans 500 g", 1390),
        ("Decaf Colombia 500 g", 1490),
        ("Ethiopia Yirgacheffe 250 g", 1190),
        ("Brazil Santos 1 kg", 2190),
        ("Cold Brew Blend 500 g", 1290),
        ("Single Origin Sampler", 2990),
        ("Espresso Pods 50", 1690),
        ("Guatemala Antigua 250 g", 1090),
        ("House Blend 1 kg", 1990),
    ],
    "Brewing": [
        ("Hand Grinder Steel", 5990),
        ("Pour-over Dripper", 2490),
        ("Filter Papers 100", 590),
        ("French Press 1 l", 3490),
        ("Gooseneck Kettle", 4990),
        ("Coffee Scale", 2990),
        ("Moka Pot 6 cups", 3290),
        ("Milk Frother", 3990),
        ("Cold Brew Bottle", 2790),
        ("Descaler 2x", 890),
    ],
    "Tea": [
        ("Earl Grey 100 g", 790),
        ("Sencha Green 100 g", 990),
        ("Chamomile 50 g", 590),
        ("Rooibos Vanilla 100 g", 690),
        ("Masala Chai 100 g", 890),
        ("Matcha Ceremonial 30 g", 2490),
        ("Darjeeling First Flush 50 g", 1290),
        ("Peppermint 50 g", 490),
        ("Tea Sampler Box", 1990),
    ],
    "Teaware": [
        ("Glass Teapot 1 l", 2990),
        ("Tea Infuser Ball", 490),
        ("Matcha Whisk", 1490),
        ("Matcha Bowl", 1990),
        ("Cast Iron Teapot", 5490),
        ("Tea Cups Set of 4", 2490),
        ("Tea Tin", 690),
        ("Tea Timer", 990),
    ],
    "Sweets": [
        ("Dark Chocolate 70%", 390),
        ("Milk Chocolate Hazelnut", 390),
        ("Almond Biscotti", 590),
        ("Honey Wildflower 500 g", 890),
        ("Salted Caramels", 690),
        ("Gingerbread Tin", 1290),
        ("Chocolate Coated Beans", 590),
        ("Shortbread", 490),
        ("Marzipan Bar", 350),
    ],
    "Kitchen": [
        ("Ceramic Mug", 1490),
        ("Double Wall Glass x2", 1990),
        ("Travel Tumbler", 2490),
        ("Espresso Cups Set", 2290),
        ("Milk Jug 350 ml", 1490),
        ("Canister Airtight", 1790),
        ("Cleaning Brush Set", 790),
        ("Knock Box", 2190),
    ],
    "Gifts": [
        ("Gift Card 25", 2500),
        ("Gift Card 50", 5000),
        ("Coffee Lover Gift Box", 4990),
        ("Tea Lover Gift Box", 4490),
        ("Advent Calendar Coffee", 3990),
        ("Tasting Course Voucher", 6900),
        ("Barista Apron", 2990),
        ("Greeting Card", 290),
        ("Gift Wrap", 350),
        ("Coffee Book", 2490),
    ],
}

#: Which categories a basket anchored in one category tends to add.
COMPLEMENTS: dict[str, list[str]] = {
    "Coffee": ["Brewing", "Kitchen", "Sweets"],
    "Brewing": ["Coffee", "Kitchen"],
    "Tea": ["Teaware", "Sweets"],
    "Teaware": ["Tea"],
    "Sweets": ["Coffee", "Tea"],
    "Kitchen": ["Coffee", "Brewing"],
    "Gifts": ["Sweets", "Gifts"],
}


def seed_products(
    session: Session, store: Store, rng: random.Random, now: dt.datetime, public_url: str
) -> dict[str, list[Product]]:
    """Every product of the catalogue with one variant, some out of stock; by category."""
    by_category: dict[str, list[Product]] = {}
    number = 8_000_000_000
    for category, items in CATALOG.items():
        for title, price in items:
            number += 1
            handle = slug(title)
            stock = rng.choice([0, 3, 12, 25, 40, 80]) if rng.random() < 0.9 else 0
            product = Product(
                store_id=store.id,
                platform_id=str(number),
                title=title,
                handle=handle,
                url=f"https://{store.domain}/products/{handle}",
                image_url=f"{public_url}/static/demo/{slug(category)}.svg",
                product_type=category,
                categories=[category],
                tags=[category.lower()],
                published=True,
                platform_updated_at=now - dt.timedelta(days=rng.randint(1, 90)),
            )
            product.variants.append(
                Variant(
                    store_id=store.id,
                    platform_id=str(number + 500_000_000),
                    title="Default",
                    sku=f"{category[:3].upper()}-{number % 1000:03d}",
                    price_minor=price,
                    currency=store.currency,
                    inventory_quantity=stock,
                    in_stock=stock > 0,
                )
            )
            session.add(product)
            by_category.setdefault(category, []).append(product)
    session.flush()
    return by_category


def pick(rng: random.Random, items: list[Product]) -> Product:
    """Zipf-like: the first products of a category sell most."""
    weights = [1.0 / (rank + 1) for rank in range(len(items))]
    return rng.choices(items, weights=weights, k=1)[0]


def slug(text: str) -> str:
    """A handle (and an e-mail part) for a title: ASCII, lower case, words joined by dashes."""
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "í": "i", "é": "e"})
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in text.lower().translate(table))
    return "-".join(part for part in cleaned.split("-") if part)
