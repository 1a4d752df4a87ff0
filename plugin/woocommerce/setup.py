"""Setting up a connected WooCommerce shop after the key callback has answered: a job.

WooCommerce POSTs the new keys to our `callback_url` and deletes them unless the answer is a
200, and it waits for that answer (a small PHP host serves nothing else meanwhile, so a call
back to the shop from inside the callback can only time out). The callback therefore only stores
the keys and marks the shop's setup as due; `set_up_woocommerce_job` proves the keys, creates
the webhooks, records a failure where the owner's pages show it, and retries it.
https://woocommerce.github.io/woocommerce-rest-api-docs/#rest-api-keys
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from connectors.errors import PlatformError
from plugin.config import Settings
from plugin.db import get_database
from plugin.models import Platform, Store, StoreStatus, SyncState
from plugin.stores.profile import apply_shop_profile
from plugin.woocommerce.client import client_for, delivery_url, ensure_webhooks

log = logging.getLogger(__name__)

#: The SyncState row (per shop) that tracks the setup: pending, idle (done) or failed.
RESOURCE = "webhook_setup"
#: Its `cursor` when the webhook secret changed: our active webhooks must be told it as well.
RESEND_SECRET = "resend_secret"
#: A failed setup is tried again this long after its last try (revoked keys, a host that is
#: down): often enough that a fixed shop is ready within minutes, rare enough to be no load.
RETRY_AFTER = dt.timedelta(minutes=5)
#: Shops set up per run; connects come one at a time, so this only bounds a backlog.
BATCH = 20


def _state(session: Session, store_id: int) -> SyncState | None:
    return session.scalars(
        select(SyncState).where(SyncState.store_id == store_id, SyncState.resource == RESOURCE)
    ).first()


def request_setup(session: Session, store: Store, *, secret_changed: bool = False) -> None:
    """Mark the shop's setup as due (the next run of the job does it)."""
    state = _state(session, store.id)
    if state is None:
        state = SyncState(store_id=store.id, resource=RESOURCE)
        session.add(state)
    state.status, state.last_error = "pending", None
    if secret_changed:  # kept until a setup succeeds
        state.cursor = RESEND_SECRET


def setup_state(session: Session, store: Store) -> SyncState | None:
    """The shop's set-up row (None before its first connect)."""
    return _state(session, store.id)


def woocommerce_setup_problem(session: Session, store: Store) -> str | None:
    """Why the shop's last setup failed, for the owner's pages; None when nothing failed."""
    if store.platform != Platform.WOOCOMMERCE:
        return None
    state = _state(session, store.id)
    if state is None or state.status != "failed":
        return None
    return state.last_error or "unknown error"


def set_up_store(session: Session, store: Store, settings: Settings) -> str:
    """Prove the keys with one call, make one webhook per topic, read the shop's currency,
    country and time zone; returns what was done."""
    client = client_for(store, settings)
    version = client.version()
    if client.query_string_auth:  # the host drops the Authorization header
        store.credentials = {**(store.credentials or {}), "query_string_auth": True}
    session.commit()  # the pings and first deliveries must find the store as it is
    state = _state(session, store.id)
    resend = state is not None and state.cursor == RESEND_SECRET
    url, secret = delivery_url(store, settings), store.webhook_secret or ""
    repair = ensure_webhooks(client, url, secret, resend_secret=resend)
    try:
        taken = apply_shop_profile(session, store, client.profile())
    except PlatformError as error:  # the webhooks are what the setup is for; the sync retries
        log.warning("store %s: shop settings not read: %s", store.id, error)
        taken = []
    if state is not None:  # what the return page and the owner's pages tell
        state.cursor = None
        state.counts = {
            "webhooks_created": repair.created,
            "webhooks_reenabled": repair.reenabled,
            "webhooks_unchanged": repair.unchanged,
        }
    taken_text = ", ".join(taken) or "nothing new"
    return f"WooCommerce {version}; webhooks {repair}; from the shop: {taken_text}"


def _due(session: Session, now: dt.datetime) -> list[int]:
    rows = session.scalars(
        select(SyncState.store_id)
        .join(Store, Store.id == SyncState.store_id)
        .where(
            SyncState.resource == RESOURCE,
            Store.platform == Platform.WOOCOMMERCE,
            Store.status != StoreStatus.UNINSTALLED,
            Store.credentials.is_not(None),
            or_(
                SyncState.status == "pending",
                and_(SyncState.status == "failed", SyncState.last_run_at <= now - RETRY_AFTER),
            ),
        )
        .order_by(SyncState.last_run_at.is_not(None), SyncState.last_run_at, SyncState.id)
        .limit(BATCH)
    )
    return list(rows)


def set_up_woocommerce_job(app: Flask, now: dt.datetime) -> None:
    """Set up every newly connected shop, and retry the failed ones whose time has come."""
    settings: Settings = app.config["SHOPNUDGE"]
    database = get_database(app)
    with database.session() as session:
        store_ids = _due(session, now)
    for store_id in store_ids:
        with database.session() as session:
            store = session.get(Store, store_id)
            assert store is not None
            try:
                done = set_up_store(session, store, settings)
            except Exception as error:  # shown to the owner and retried; others still run
                session.rollback()
                log.warning("store %s: WooCommerce setup failed: %s", store_id, error)
                outcome, message = "failed", f"{error}"[:2000] or type(error).__name__
            else:
                log.info("store %s set up: %s", store_id, done)
                outcome, message = "idle", None
            state = _state(session, store_id)
            assert state is not None
            state.status, state.last_error, state.last_run_at = outcome, message, now
