"""What a periodic job is, and whose turn a shop's periodic work is: what every area's job
table is made of.

A leaf module (it imports only the database layer): each area declares its jobs as a `JOBS`
tuple of `Job` from here, and the scheduler, which imports the areas, is imported by none of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select

from connectors.base import RESOURCES
from plugin.db import Database
from plugin.models import SyncState

#: A job's work: the app, and the moment the run stands for (fixed in `tick --now`).
JobFunc = Callable[[Flask, dt.datetime], None]


@dataclass(frozen=True)
class Job:
    """One periodic job; its name is also its lease's name (a row in job_leases)."""

    name: str
    func: JobFunc
    #: How often it runs.
    every_seconds: int
    #: How long a run may hold the lease before another process may take over.
    lease_seconds: int = 300
    #: False: every process runs it at once (dispatch claims its own rows), no lease.
    exclusive: bool = True
    #: Runs of it at once in one process: a second lets a run start on time while the last
    #: one waits out its final answers (see dispatch in plugin/engine/jobs.py).
    max_instances: int = 1


def own_minute(store_id: int, period_minutes: int) -> int:
    """The minute of each period that is a shop's turn for periodic work (its sync): stable,
    and spread by a hash, so 10,000 shops do not all sync in the same minute."""
    digest = hashlib.sha256(f"sync:{store_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % period_minutes


def whose_turn(
    database: Database, store_ids: list[int], now: dt.datetime, period_minutes: int
) -> list[int]:
    """The shops whose own minute of the period `now` falls in (a job run each minute), and the
    shops whose first sync has not started yet: a shop just connected is not kept waiting up to
    a whole period for its data and (WooCommerce) its webhooks."""
    minute = int(now.timestamp() // 60) % period_minutes
    with database.session() as session:
        started = set(
            session.scalars(
                select(SyncState.store_id).where(SyncState.resource.in_(RESOURCES)).distinct()
            )
        )
    return [
        store_id
        for store_id in store_ids
        if store_id not in started or own_minute(store_id, period_minutes) == minute
    ]
