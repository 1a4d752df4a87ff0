"""The engine's periodic jobs, registered with the scheduler.

Every job is `func(app, now)`: `shopnudge tick --now T` runs them with a fixed clock, the
scheduler with the wall clock. Each runs once across the cluster under its lease, except
dispatch, which every worker runs at once (rows are claimed with SKIP LOCKED instead).
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from sqlalchemy import select

from plugin.connect import NoConnector, connector_for
from plugin.db import get_database
from plugin.engine import attribution, dispatch
from plugin.engine.recommendations import compose_recommendations
from plugin.engine.reminders import compose_cart_reminders, expire_carts
from plugin.models import Store, StoreStatus
from plugin.scheduler import JOBS, Job, own_minute, register_job
from plugin.syncing import sync_store

log = logging.getLogger(__name__)

#: Each shop is pulled once in this many minutes, at its own minute (shops are spread out).
SYNC_EVERY_MINUTES = 15
#: One dispatch run claims new batches and takes tokens for this long; the scheduler starts the
#: next each second, alongside a run still waiting for its last answers (two may overlap).
#: A whole second: a shorter run left the number idle for the rest of each second.
DISPATCH_BUDGET_SECONDS = 1.0


def sending_store_ids(app: Flask) -> list[int]:
    with get_database(app).session() as session:
        return list(
            session.scalars(
                select(Store.id).where(Store.status == StoreStatus.ACTIVE).order_by(Store.id)
            )
        )


def sync_slot(store_id: int) -> int:
    """The minute (mod SYNC_EVERY_MINUTES) a shop is synced at; stable, spread by a hash."""
    return own_minute(store_id, SYNC_EVERY_MINUTES)


def sync_stores_job(app: Flask, now: dt.datetime) -> None:
    """Pull each active shop with credentials at its own minute; one shop's failure is its own."""
    database = get_database(app)
    minute = int(now.timestamp() // 60) % SYNC_EVERY_MINUTES
    for store_id in sending_store_ids(app):
        if sync_slot(store_id) != minute:
            continue
        with database.session() as session:
            store = session.get(Store, store_id)
            if f"sync_{store.platform}" in JOBS:  # type: ignore[union-attr]
                continue  # the platform's own job syncs it (e.g. sync_shopify with token refresh)
            try:
                connector = connector_for(store, app.config["SHOPNUDGE"])  # type: ignore[arg-type]
            except NoConnector:
                continue  # the demo shop, or a shop whose platform has no connector here
        try:
            sync_store(database, store_id, connector)
        except Exception:
            log.exception("sync of store %s failed", store_id)


def compose_reminders_job(app: Flask, now: dt.datetime) -> None:
    database = get_database(app)
    for store_id in sending_store_ids(app):
        with database.session() as session:
            store = session.get(Store, store_id)
            compose_cart_reminders(session, store, now)  # type: ignore[arg-type]


def compose_recommendations_job(app: Flask, now: dt.datetime) -> None:
    """Hourly; each shop composes in the hour its own clock shows recommendation_local_hour."""
    database = get_database(app)
    for store_id in sending_store_ids(app):
        try:
            with database.session() as session:
                store = session.get(Store, store_id)
                compose_recommendations(session, store, now)  # type: ignore[arg-type]
        except Exception:
            log.exception("recommendations of store %s failed", store_id)


def dispatch_job(app: Flask, now: dt.datetime) -> None:
    counts = dispatch.dispatch_due(
        get_database(app),
        now,
        budget_seconds=DISPATCH_BUDGET_SECONDS,
        concurrency=app.config["SHOPNUDGE"].send_concurrency,
    )
    if counts.sent or counts.skipped or counts.failed:
        log.info("dispatch: %s", counts)


def expiry_job(app: Flask, now: dt.datetime) -> None:
    """Carts past their age, messages past their moment, and `sending` rows a dead worker left."""
    database = get_database(app)
    for store_id in sending_store_ids(app):
        with database.session() as session:
            expire_carts(session, session.get(Store, store_id), now)  # type: ignore[arg-type]
    dispatch.expire_pending(database, now)
    dispatch.reconcile_sending(database, now)


def attribution_job(app: Flask, now: dt.datetime) -> None:
    database = get_database(app)
    for store_id in sending_store_ids(app):
        with database.session() as session:
            attribution.attribute_recent_orders(session, session.get(Store, store_id), now)  # type: ignore[arg-type]


#: Registered in the order `tick` runs them: pull, settle, compose, send, credit.
for job in (
    Job("sync_stores", sync_stores_job, every_seconds=60, lease_seconds=900),
    Job("expire", expiry_job, every_seconds=60),
    Job("compose_reminders", compose_reminders_job, every_seconds=60),
    Job(
        "compose_recommendations",
        compose_recommendations_job,
        every_seconds=3600,
        lease_seconds=1800,
    ),
    Job(
        "dispatch",
        dispatch_job,
        every_seconds=1,
        lease_seconds=120,
        exclusive=False,
        max_instances=2,
    ),
    Job("attribution", attribution_job, every_seconds=300),
):
    register_job(job)
