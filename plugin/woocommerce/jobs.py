"""Periodic WooCommerce work: a new shop's setup, and the reconciling sync that catches what
webhooks missed."""

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
from plugin.sync.run import sync_store
from plugin.woocommerce.setup import set_up_woocommerce_job

log = logging.getLogger(__name__)

#: Each shop is synced once in this many minutes, in its own minute of them.
SYNC_EVERY_MINUTES = 60


def sync_woocommerce_job(app: Flask, now: dt.datetime) -> None:
    """Incremental sync of the connected WooCommerce shops whose minute of the hour it is (and
    their webhooks' upkeep): each shop hourly, not every shop in the same minute."""
    settings: Settings = app.config["SHOPNUDGE"]
    database = get_database(app)
    with database.session() as session:
        store_ids = list(
            session.scalars(
                select(Store.id).where(
                    Store.platform == Platform.WOOCOMMERCE,
                    Store.status != StoreStatus.UNINSTALLED,
                    Store.credentials.is_not(None),
                )
            )
        )
    for store_id in whose_turn(database, store_ids, now, SYNC_EVERY_MINUTES):
        try:
            with database.session() as session:
                store = session.get(Store, store_id)
                assert store is not None
                connector = connector_for(store, settings)
            sync_store(database, store_id, connector)
        except Exception:  # the next run retries; one shop must not stop the others
            log.exception("store %s: WooCommerce sync failed", store_id)


#: WooCommerce's jobs in the order they run: a shop connected a moment ago is set up (keys
#: proven, webhooks made) before its first sync.
JOBS = (
    #: Every 30 s: a shop connected a moment ago gets its webhooks before its first orders.
    Job("set_up_woocommerce", set_up_woocommerce_job, every_seconds=30),
    #: Webhooks keep data fresh; this pass reconciles. Customers are a full pass (no change
    #: filter in the API), so hourly keeps the load on WordPress hosts modest. The job runs each
    #: minute and syncs the shops whose minute it is (plugin.jobs.own_minute).
    Job("sync_woocommerce", sync_woocommerce_job, every_seconds=60, lease_seconds=3600),
)
