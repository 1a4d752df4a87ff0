"""The demo shop itself: its store, its dry-run WhatsApp number and templates, and `seed_demo`.

`seed_demo` creates every part once, in a fixed order from one seed, so the demo is the same
on every machine; a second call finds the shop and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.db import utcnow
from plugin.demo.buyers import seed_customers
from plugin.demo.catalog import seed_products
from plugin.demo.consent import seed_subscriptions
from plugin.demo.history import seed_history
from plugin.demo.orders import seed_carts, seed_orders
from plugin.models import Order, Platform, Store, WhatsAppAccount, WhatsAppTemplate
from plugin.whatsapp.templates.wording import default_definitions

DEMO_DOMAIN = "nudge-demo.myshopify.com"
DEMO_SEED = 20261124


@dataclass(frozen=True)
class DemoSummary:
    """Which store is the demo, and whether this call created it (the CLI says so)."""

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
    products = seed_products(session, store, rng, now, public_url)
    customers = seed_customers(session, store, rng, now)
    seed_orders(session, store, rng, now, products, customers)
    subscribed = seed_subscriptions(session, store, rng, now, customers)
    seed_carts(session, store, rng, now, products, customers, subscribed)
    session.flush()
    seed_history(session, store, now)  # messages, holdout and conversions for the dashboard
    return DemoSummary(store.id, created=True)


def _seed_templates(session: Session, store: Store, now: dt.datetime, public_url: str) -> None:
    """The default templates, APPROVED: the dry-run account has no Meta to review them."""
    for definition in default_definitions(public_url or Settings.public_url):
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
