"""A deterministic demo shop, so a newcomer sees every part work without a real store.

Baskets have structure: each product has complements (beans go with filters and a grinder), and
each buyer has favourite categories, so the recommender has real co-purchase signal to find.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
import secrets
from dataclasses import dataclass

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.consent.wording import ensure_default_wordings
from plugin.db import utcnow
from plugin.demo_history import seed_history
from plugin.models import (
    Cart,
    CartLine,
    CartState,
    ConsentEvent,
    ConsentKind,
    Customer,
    Order,
    OrderLine,
    Platform,
    Product,
    Store,
    Subscription,
    SubscriptionState,
    Variant,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from plugin.whatsapp.default_templates import default_definitions

DEMO_DOMAIN = "nudge-demo.myshopify.com"
DEMO_SEED = 20261124

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

#: (region, share of buyers, locale)
COUNTRIES = [
    ("DE", 45, "de"),
    ("AT", 12, "de"),
    ("CH", 8, "de"),
    ("NL", 10, "en"),
    ("FR", 8, "en"),
    ("GB", 8, "en"),
    ("ES", 5, "en"),
    ("PL", 4, "en"),
]

FIRST_NAMES = [
    "Anna",
    "Ben",
    "Clara",
    "David",
    "Emma",
    "Felix",
    "Greta",
    "Hugo",
    "Ida",
    "Jonas",
    "Karla",
    "Leon",
    "Mia",
    "Noah",
    "Olga",
    "Paul",
    "Quirin",
    "Rosa",
    "Sofia",
    "Tim",
    "Ulla",
    "Vera",
    "Willem",
    "Xenia",
    "Yusuf",
    "Zoe",
    "Lucas",
    "Marie",
    "Elif",
    "Jan",
]
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Weber",
    "Fischer",
    "Becker",
    "Hoffmann",
    "de Vries",
    "Martin",
    "Dubois",
    "Smith",
    "Jones",
    "García",
    "Nowak",
    "Bauer",
    "Wagner",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Jansen",
    "Bernard",
    "Lopez",
    "Kowalski",
]


@dataclass(frozen=True)
class DemoSummary:
    store_id: int
    created: bool


def seed_demo(
    session: Session, now: dt.datetime | None = None, public_url: str = ""
) -> DemoSummary:
    """Create the demo shop once; a second call finds it and changes nothing."""
    existing = session.scalars(
        select(Store).where(Store.platform == Platform.SHOPIFY, Store.domain == DEMO_DOMAIN)
    ).first()
    if existing is not None and session.scalar(
        select(func.count()).select_from(Order).where(Order.store_id == existing.id)
    ):
        return DemoSummary(existing.id, created=False)

    now = (now or utcnow()).replace(minute=0, second=0, microsecond=0)
    rng = random.Random(DEMO_SEED)
    store = existing or Store(
        platform=Platform.SHOPIFY,
        domain=DEMO_DOMAIN,
        name="Bohne & Blatt",
        timezone="Europe/Berlin",
        currency="EUR",
        default_locale="de",
        country="DE",
        privacy_url="https://nudge-demo.myshopify.com/policies/privacy-policy",
        credentials=None,  # no platform credentials: the demo is never synced
        installed_at=now - dt.timedelta(days=200),
    )
    session.add(store)
    session.flush()
    session.add(
        WhatsAppAccount(
            store_id=store.id,
            phone_number_id=f"dry-run-{store.id}",
            waba_id=f"dry-run-{store.id}",
            token="dry-run",
            display_phone_number="+49 30 901820",
            verified_name=store.name,
            quality_rating="GREEN",
            messaging_limit_tier="TIER_1K",
            dry_run=True,
        )
    )
    _seed_templates(session, store, now, public_url)
    products = _seed_products(session, store, rng, now, public_url)
    customers = _seed_customers(session, store, rng, now)
    _seed_orders(session, store, rng, now, products, customers)
    subscribed = _seed_subscriptions(session, store, rng, now, customers)
    _seed_carts(session, store, rng, now, products, customers, subscribed)
    session.flush()
    seed_history(session, store, now)  # messages, holdout and conversions for the dashboard
    return DemoSummary(store.id, created=True)


def _seed_products(
    session: Session, store: Store, rng: random.Random, now: dt.datetime, public_url: str
) -> dict[str, list[Product]]:
    by_category: dict[str, list[Product]] = {}
    number = 8_000_000_000
    for category, items in CATALOG.items():
        for title, price in items:
            number += 1
            handle = _slug(title)
            stock = rng.choice([0, 3, 12, 25, 40, 80]) if rng.random() < 0.9 else 0
            product = Product(
                store_id=store.id,
                platform_id=str(number),
                title=title,
                handle=handle,
                url=f"https://{store.domain}/products/{handle}",
                image_url=f"{public_url}/static/demo/{_slug(category)}.svg",
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


def _seed_templates(session: Session, store: Store, now: dt.datetime, public_url: str) -> None:
    """The default templates, APPROVED: the dry-run account has no Meta to review them."""
    for definition in default_definitions(public_url or "http://127.0.0.1:5000"):
        session.add(
            WhatsAppTemplate(
                store_id=store.id,
                name=definition.name,
                language=definition.language,
                purpose=definition.purpose,
                category=definition.category,
                status="APPROVED",
                quality="GREEN",
                components=definition.components,
                status_changed_at=now,
            )
        )


def _demo_phone(rng: random.Random, region: str) -> str:
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    national = str(example.national_number)
    for _ in range(200):
        tail = "".join(str(rng.randint(0, 9)) for _ in range(6))
        candidate = phonenumbers.PhoneNumber(
            country_code=example.country_code, national_number=int(national[:-6] + tail)
        )
        if phonenumbers.is_valid_number(candidate) and phonenumbers.number_type(candidate) in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    raise RuntimeError(f"no valid demo mobile number for {region}")


def _seed_customers(
    session: Session, store: Store, rng: random.Random, now: dt.datetime
) -> list[tuple[Customer, list[str]]]:
    regions = [c for c, weight, _ in COUNTRIES for _ in range(weight)]
    locales = {c: locale for c, _, locale in COUNTRIES}
    categories = list(CATALOG)
    customers = []
    seen_phones: set[str] = set()
    for index in range(300):
        region = rng.choice(regions)
        phone = _demo_phone(rng, region)
        while phone in seen_phones:
            phone = _demo_phone(rng, region)
        seen_phones.add(phone)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        customer = Customer(
            store_id=store.id,
            platform_id=str(7_000_000_000 + index),
            phone=phone,
            email=f"{_slug(first)}.{_slug(last)}{index}@example.com",
            first_name=first,
            last_name=last,
            locale=locales[region],
            country=region,
            platform_updated_at=now - dt.timedelta(days=rng.randint(1, 180)),
        )
        session.add(customer)
        favourites = rng.sample(categories, k=rng.choice([1, 1, 2]))
        customers.append((customer, favourites))
    session.flush()
    return customers


def _pick(rng: random.Random, items: list[Product]) -> Product:
    """Zipf-like: the first products of a category sell most."""
    weights = [1.0 / (rank + 1) for rank in range(len(items))]
    return rng.choices(items, weights=weights, k=1)[0]


def _seed_orders(
    session: Session,
    store: Store,
    rng: random.Random,
    now: dt.datetime,
    products: dict[str, list[Product]],
    customers: list[tuple[Customer, list[str]]],
) -> None:
    activity = [1.0 / (rank + 1) ** 0.6 for rank in range(len(customers))]
    for index in range(2000):
        customer, favourites = rng.choices(customers, weights=activity, k=1)[0]
        anchor_category = rng.choice(favourites)
        basket = [_pick(rng, products[anchor_category])]
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
            if rng.random() < 0.75:
                category = rng.choice(COMPLEMENTS[anchor_category])
            else:
                category = rng.choice(list(products))
            item = _pick(rng, products[category])
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


def _seed_subscriptions(
    session: Session,
    store: Store,
    rng: random.Random,
    now: dt.datetime,
    customers: list[tuple[Customer, list[str]]],
) -> list[Customer]:
    wordings = ensure_default_wordings(session, store)
    chosen = rng.sample([c for c, _ in customers], k=90)
    confirmed = []
    for index, customer in enumerate(chosen):
        locale = customer.locale if customer.locale in wordings else store.default_locale
        wording = wordings[locale]
        asked = now - dt.timedelta(days=rng.randint(1, 150), minutes=rng.randint(0, 1440))
        if wording.first_used_at is None or asked < wording.first_used_at:
            wording.first_used_at = asked
            # a text exists before anyone agrees to it: the owner wrote it the day before
            wording.created_at = min(wording.created_at, asked - dt.timedelta(days=1))
        state = (
            SubscriptionState.CONFIRMED
            if index < 65
            else SubscriptionState.PENDING
            if index < 80
            else SubscriptionState.OPTED_OUT
        )
        subscription = Subscription(
            store_id=store.id,
            phone=customer.phone or "",
            customer_id=customer.id,
            locale=locale,
            state=state,
            unsubscribe_token=secrets.token_urlsafe(24),
        )
        session.add(subscription)
        session.flush()
        ip = f"203.0.113.{rng.randint(1, 254)}"
        events = [
            ConsentEvent(
                store_id=store.id,
                subscription_id=subscription.id,
                kind=ConsentKind.REQUESTED,
                source=rng.choice(["widget", "checkout_checkbox", "thank_you_page"]),
                wording_id=wording.id,
                locale=locale,
                ip=ip,
                user_agent="Mozilla/5.0 (demo)",
                occurred_at=asked,
                detail={"customer_id": customer.platform_id},
            )
        ]
        if state == SubscriptionState.PENDING:
            subscription.pending_expires_at = asked + dt.timedelta(days=7)
            subscription.confirmation_code = _code(rng)
        else:
            confirmed_at = asked + dt.timedelta(minutes=rng.randint(1, 90))
            subscription.confirmed_at = confirmed_at
            events.append(
                ConsentEvent(
                    store_id=store.id,
                    subscription_id=subscription.id,
                    kind=ConsentKind.CONFIRMED,
                    source="whatsapp_reply",
                    locale=locale,
                    occurred_at=confirmed_at,
                    message_id=f"wamid.demo{_digest(customer.phone or '')}",
                    detail={"reply": "JA"},
                )
            )
            if state == SubscriptionState.OPTED_OUT:
                stopped = confirmed_at + dt.timedelta(days=rng.randint(1, 20))
                stopped = min(stopped, now - dt.timedelta(minutes=30))  # never in the future
                subscription.opted_out_at = stopped
                events.append(
                    ConsentEvent(
                        store_id=store.id,
                        subscription_id=subscription.id,
                        kind=ConsentKind.OPTED_OUT,
                        source="whatsapp_reply",
                        locale=locale,
                        occurred_at=stopped,
                        detail={"keyword": "STOPP"},
                    )
                )
            else:
                confirmed.append(customer)
        session.add_all(events)
    return confirmed


def _seed_carts(
    session: Session,
    store: Store,
    rng: random.Random,
    now: dt.datetime,
    products: dict[str, list[Product]],
    customers: list[tuple[Customer, list[str]]],
    subscribed: list[Customer],
) -> None:
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


def _slug(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "í": "i", "é": "e"})
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in text.lower().translate(table))
    return "-".join(part for part in cleaned.split("-") if part)


def _code(rng: random.Random) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
