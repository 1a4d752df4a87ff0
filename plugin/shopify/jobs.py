"""Periodic Shopify work: tokens refreshed ahead of expiry, and the reconciling sync."""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from sqlalchemy import select

from plugin.config import Settings
from plugin.connect import connector_for
from plugin.db import get_database
from plugin.jobs import Job, whose_turn
from plugin.models import Platform, Store, StoreStatus
from plugin.shopify.client import REFRESH_MARGIN, refresh_if_due
from plugin.shopify.consent import push_pending_consent
from plugin.sync.run import sync_store

log = logging.getLogger(__name__)

#: Each shop is synced once in this many minutes, in its own minute of them.
SYNC_EVERY_MINUTES = 15


def _shop_ids(app: Flask, *conditions: object) -> list[int]:
    with get_database(app).session() as session:
        return list(
            session.scalars(
                select(Store.id).where(
                    Store.platform == Platform.SHOPIFY,
                    Store.status != StoreStatus.UNINSTALLED,
                    Store.credentials.is_not(None),
                    *conditions,
                )
            )
        )


def refresh_tokens_job(app: Flask, now: dt.datetime) -> None:
    """Refresh every shop's token that would expire before the next run."""
    settings: Settings = app.config["SHOPNUDGE"]
    database = get_database(app)
    for store_id in _shop_ids(app, Store.token_expires_at <= now + REFRESH_MARGIN):
        try:
            with database.session() as session:
                store = session.get(Store, store_id)
                if store is not None:
                    refresh_if_due(session, store, settings, now)
        except Exception:  # one shop's failure must not stop the others
            log.exception("store %s: token refresh failed", store_id)


def sync_shops_job(app: Flask, now: dt.datetime) -> None:
    """Incremental sync of the installed shops whose minute of the quarter hour it is: catches
    what webhooks missed, each shop every SYNC_EVERY_MINUTES, not all shops at once."""
    settings: Settings = app.config["SHOPNUDGE"]
    database = get_database(app)
    for store_id in whose_turn(database, _shop_ids(app), now, SYNC_EVERY_MINUTES):
        try:
            with database.session() as session:
                connector = connector_for(session.get(Store, store_id), settings)  # type: ignore[arg-type]
            sync_store(database, store_id, connector)
        except Exception:  # the next run retries; one shop must not stop the others
            log.exception("store %s: Shopify sync failed", store_id)


def push_consent_job(app: Flask, now: dt.datetime) -> None:
    """Write our confirmed opt-ins and opt-outs back to Shopify's WhatsApp consent."""
    settings: Settings = app.config["SHOPNUDGE"]
    database = get_database(app)
    for store_id in _shop_ids(app, Store.status == StoreStatus.ACTIVE):
        try:
            with database.session() as session:
                store = session.get(Store, store_id)
                if store is not None:
                    push_pending_consent(session, settings, store)
        except Exception:  # the next run retries; one shop must not stop the others
            log.exception("store %s: consent push failed", store_id)


#: Shopify's jobs in the order they run: a token is refreshed before the sync needs it.
JOBS = (
    Job("refresh_shopify_tokens", refresh_tokens_job, every_seconds=300),
    Job("push_shopify_consent", push_consent_job, every_seconds=300),
    #: Webhooks keep data minutes-fresh; this pass only reconciles, so every 15 minutes is plenty.
    Job("sync_shopify", sync_shops_job, every_seconds=60, lease_seconds=900),
)
