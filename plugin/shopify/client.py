"""A shop's Shopify client, with its expiring offline token refreshed before it runs out.

A refresh rotates both tokens, so the new pair and its expiry are written in one transaction
with the shop row locked: two workers never spend the same refresh token.
https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from connectors.shopify import auth
from connectors.shopify.client import Bucket, ShopifyClient
from connectors.shopify.sync import ShopifyConnector
from plugin import ratelimit
from plugin.config import Settings
from plugin.db import utcnow
from plugin.models import Store

log = logging.getLogger(__name__)

#: Refresh when less than this is left: long enough for one sync page to finish on the old one.
REFRESH_MARGIN = dt.timedelta(minutes=10)


def save_tokens(store: Store, tokens: auth.TokenSet) -> None:
    """Store a token pair and its expiry together (the caller's commit makes it atomic)."""
    store.credentials = tokens.credentials()
    store.token_expires_at = tokens.expires_at


def refresh_if_due(
    session: Session, store: Store, settings: Settings, now: dt.datetime | None = None
) -> bool:
    """Refresh the shop's token when it expires within the margin; True when refreshed."""
    now = now or utcnow()
    if store.token_expires_at is None or store.token_expires_at - now > REFRESH_MARGIN:
        return False
    statement = select(Store).where(Store.id == store.id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    locked = session.scalars(statement.execution_options(populate_existing=True)).one()
    if locked.token_expires_at is None or locked.token_expires_at - now > REFRESH_MARGIN:
        return False  # another worker refreshed it while we waited for the lock
    refresh_token = (locked.credentials or {}).get("refresh_token")
    if not refresh_token:
        log.warning("store %s has an expiring token but no refresh token", store.id)
        return False
    tokens = auth.refresh(
        settings.shopify_shop_url(locked.domain),
        refresh_token,
        api_key=settings.shopify_api_key,
        secret=settings.shopify_api_secret,
        timeout=settings.http_timeout,
    )
    save_tokens(locked, tokens)
    session.flush()
    log.info("store %s: Shopify token refreshed", store.id)
    return True


class DatabaseBudget:
    """The shop's cost bucket in the database, so every worker's calls add up within it.

    Sized from what Shopify last reported (maximum, restore rate), never hard-coded; each take
    is its own short transaction, apart from the caller's. Shopify's answer lowers it to what
    Shopify says is left: a take is counted when granted, Shopify counts the call when it
    arrives, and without the correction the restore in between was spent twice (two workers
    taking turns were throttled on a busy machine).
    """

    def __init__(self, engine: Engine, store_id: int) -> None:
        self.engine = engine
        self.key = f"shopify-cost:{store_id}"

    def reserve(self, cost: float, bucket: Bucket) -> float:
        with Session(self.engine) as session, session.begin():
            return ratelimit.take(
                session, self.key, rate=bucket.restore_rate, burst=bucket.maximum, cost=cost
            )

    def settle(self, bucket: Bucket) -> None:
        with Session(self.engine) as session, session.begin():
            ratelimit.at_most(
                session,
                self.key,
                bucket.available,
                rate=bucket.restore_rate,
                burst=bucket.maximum,
            )


def client_for(session: Session, store: Store, settings: Settings) -> ShopifyClient:
    """A client with a token that is valid now (refreshed and saved first when due).

    On PostgreSQL (many workers) its calls also draw on the shop's shared cost bucket; the
    embedded SQLite setup is one process, and its pacing needs nothing more.
    """
    refresh_if_due(session, store, settings)
    token = (store.credentials or {}).get("access_token")
    if not token:
        raise LookupError(f"store {store.id} has no Shopify access token")
    engine = session.get_bind()
    shared = engine.dialect.name == "postgresql" and isinstance(engine, Engine)
    return ShopifyClient(
        settings.shopify_shop_url(store.domain),
        token,
        settings.shopify_api_version,
        timeout=settings.http_timeout,
        shared=DatabaseBudget(engine, store.id) if shared else None,
    )


def shopify_connector(store: Store, settings: Settings) -> ShopifyConnector:
    """The connector factory registered for "shopify" (refreshes within the caller's session)."""
    from sqlalchemy.orm import object_session

    from plugin.stores.profile import profile_taker

    session = object_session(store)
    if session is None:
        raise LookupError("the store must be attached to a session")
    take = profile_taker(session.get_bind(), store.id)  # currency, country, time zone per sync
    return ShopifyConnector(client_for(session, store, settings), on_profile=take)
