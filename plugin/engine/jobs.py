"""The engine's periodic jobs, as data the scheduler lists (`JOBS`).

Every job is `func(app, now)`: `shopnudge tick --now T` runs them with a fixed clock, the
scheduler with the wall clock. Each runs once across the cluster under its lease, except
dispatch, which every worker runs at once (rows are claimed with SKIP LOCKED instead).
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from sqlalchemy import select

from plugin.db import get_database
from plugin.engine import attribution, claims, dispatch
from plugin.engine.recommend.fitting import ModelCache
from plugin.engine.recommend.flow import compose_recommendations
from plugin.engine.reminders import compose_cart_reminders, expire_carts
from plugin.jobs import Job
from plugin.models import Store, StoreStatus

log = logging.getLogger(__name__)

#: One dispatch run claims new batches and takes tokens for this long; the scheduler starts the
#: next each second, alongside a run still waiting for its last answers (two may overlap).
#: A whole second: a shorter run left the number idle for the rest of each second.
DISPATCH_BUDGET_SECONDS = 1.0
#: The app.extensions key of the app's recommendation models.
MODEL_CACHE = "shopnudge.model_cache"


def sending_store_ids(app: Flask) -> list[int]:
    with get_database(app).session() as session:
        return list(
            session.scalars(
                select(Store.id).where(Store.status == StoreStatus.ACTIVE).order_by(Store.id)
            )
        )


def compose_reminders_job(app: Flask, now: dt.datetime) -> None:
    database = get_database(app)
    for store_id in sending_store_ids(app):
        with database.session() as session:
            store = session.get(Store, store_id)
            compose_cart_reminders(session, store, now)  # type: ignore[arg-type]


def model_cache(app: Flask) -> ModelCache:
    """The app's fitted recommendation models, made on first use: kept with the app, so a
    shop's model outlives one hourly run and no other app in the process sees it."""
    cache: ModelCache = app.extensions.setdefault(MODEL_CACHE, ModelCache())
    return cache


def compose_recommendations_job(app: Flask, now: dt.datetime) -> None:
    """Hourly; each shop composes in the hour its own clock shows recommendation_local_hour."""
    database = get_database(app)
    models = model_cache(app)
    for store_id in sending_store_ids(app):
        try:
            with database.session() as session:
                store = session.get(Store, store_id)
                compose_recommendations(session, models, store, now)  # type: ignore[arg-type]
        except Exception:
            log.exception("recommendations of store %s failed", store_id)


def dispatch_job(app: Flask, now: dt.datetime) -> None:
    dispatcher = dispatch.worker_dispatcher(app)
    counts = dispatcher.dispatch_due(now, budget_seconds=DISPATCH_BUDGET_SECONDS)
    if counts.sent or counts.skipped or counts.failed:
        log.info("dispatch: %s", counts)


def expiry_job(app: Flask, now: dt.datetime) -> None:
    """Carts past their age, messages past their moment, and `sending` rows a dead worker left."""
    database = get_database(app)
    for store_id in sending_store_ids(app):
        with database.session() as session:
            expire_carts(session, session.get(Store, store_id), now)  # type: ignore[arg-type]
    claims.expire_pending(database, now)
    claims.reconcile_sending(database, now)


def attribution_job(app: Flask, now: dt.datetime) -> None:
    database = get_database(app)
    for store_id in sending_store_ids(app):
        with database.session() as session:
            attribution.attribute_recent_orders(session, session.get(Store, store_id), now)  # type: ignore[arg-type]


#: The engine's jobs in the order they run: settle (expire), compose, send, credit.
JOBS = (
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
)
