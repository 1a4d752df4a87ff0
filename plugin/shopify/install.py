"""The OAuth install: a single-use state nonce, the token exchange, the shop row, webhooks."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.errors import PlatformError
from connectors.shopify import auth, queries
from connectors.shopify.client import ShopifyClient, raise_user_errors
from plugin.config import Settings
from plugin.consent.wording import ensure_default_wordings
from plugin.db import utcnow
from plugin.install_states import new_install_state
from plugin.models import OAuthState, Platform, Store, StoreStatus
from plugin.shopify.client import save_tokens

log = logging.getLogger(__name__)

#: How long the owner has to approve the app on Shopify's page.
STATE_LIFETIME = dt.timedelta(minutes=10)

#: Topics subscribed at install. The compliance topics (customers/data_request,
#: customers/redact, shop/redact) are set in the app's configuration, not through the API.
#: https://shopify.dev/docs/apps/build/compliance/privacy-law-compliance
TOPICS = (
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_PAID",
    "ORDERS_CANCELLED",
    "CHECKOUTS_CREATE",
    "CHECKOUTS_UPDATE",
    "CUSTOMERS_CREATE",
    "CUSTOMERS_UPDATE",
    "CUSTOMERS_WHATS_APP_MARKETING_CONSENT_UPDATE",
    "PRODUCTS_CREATE",
    "PRODUCTS_UPDATE",
    "PRODUCTS_DELETE",
    "APP_UNINSTALLED",
)


def new_state(session: Session, shop: str) -> str:
    return new_install_state(session, Platform.SHOPIFY, shop, STATE_LIFETIME)


def spend_state(session: Session, nonce: str | None, shop: str) -> bool:
    """Use a state nonce once: it must exist, be unused, unexpired and for this shop."""
    if not nonce:
        return False
    spent = session.execute(
        update(OAuthState)
        .where(
            OAuthState.nonce == nonce,
            OAuthState.shop == shop,
            OAuthState.platform == Platform.SHOPIFY,
            OAuthState.used_at.is_(None),
            OAuthState.expires_at > utcnow(),
        )
        .values(used_at=utcnow())
    ).rowcount
    return bool(spent)


def complete_install(session: Session, settings: Settings, shop: str, code: str) -> Store:
    """Exchange the code, then create or update the shop row (a reinstall updates the token)."""
    tokens = auth.exchange_code(
        settings.shopify_shop_url(shop),
        code,
        api_key=settings.shopify_api_key,
        secret=settings.shopify_api_secret,
        timeout=settings.http_timeout,
    )
    store = session.scalars(
        select(Store).where(Store.platform == Platform.SHOPIFY, Store.domain == shop)
    ).first()
    if store is None:
        store = Store(
            platform=Platform.SHOPIFY,
            domain=shop,
            name=shop.split(".")[0].replace("-", " ").title(),
        )
        session.add(store)
    save_tokens(store, tokens)
    store.status = StoreStatus.ACTIVE
    store.installed_at = utcnow()
    store.uninstalled_at = None
    session.flush()
    # Without wording the storefront widget has nothing to show (`stores add` does the same).
    ensure_default_wordings(session, store)
    return store


def register_webhooks(client: ShopifyClient, settings: Settings) -> list[str]:
    """Subscribe every topic to POST /webhooks/shopify; returns the topics Shopify refused."""
    refused = []
    uri = f"{settings.public_url}/webhooks/shopify"
    for topic in TOPICS:
        try:
            payload = client.execute(
                queries.WEBHOOK_SUBSCRIBE,
                {"topic": topic, "webhookSubscription": {"uri": uri, "format": "JSON"}},
            )["webhookSubscriptionCreate"]
            raise_user_errors(payload)
        except PlatformError as error:
            # "already taken" on a reinstall is fine; anything else is logged for the owner.
            if "taken" not in str(error).lower():
                log.warning("webhook %s not registered: %s", topic, error)
                refused.append(topic)
    return refused
