"""Periodic jobs: the job table, leases that make each run once across the cluster, the scheduler.

A job is `func(app, now)`. Each run first takes the job's lease row; whoever holds an unexpired
lease runs, everyone else skips, so any number of `shopnudge worker` processes can share one
database without running a job twice.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from connectors.base import RESOURCES
from plugin import inbox
from plugin.db import Database, get_database, utcnow
from plugin.models import JobLease, SyncState

log = logging.getLogger(__name__)

JobFunc = Callable[[Flask, dt.datetime], None]


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


@dataclass(frozen=True)
class Job:
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


def process_webhooks_job(app: Flask, now: dt.datetime) -> None:
    """Finish deliveries that were stored but not processed (a crash, a handler error)."""
    inbox.process_pending(get_database(app))


#: The job table; each area appends its jobs with register_job.
JOBS: dict[str, Job] = {}


def register_job(job: Job) -> None:
    JOBS[job.name] = job


register_job(Job("process_webhooks", process_webhooks_job, every_seconds=30))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def take_lease(
    database: Database,
    name: str,
    seconds: int,
    now: dt.datetime | None = None,
    holder: str | None = None,
) -> bool:
    """Take or renew the named lease for `holder` (default: this process); False when another
    holder has it."""
    now = now or utcnow()
    holder = holder or worker_id()
    expires = now + dt.timedelta(seconds=seconds)
    with database.session() as session:
        taken = session.execute(
            update(JobLease)
            .where(
                JobLease.name == name,
                or_(
                    JobLease.expires_at.is_(None),
                    JobLease.expires_at < now,
                    JobLease.holder == holder,
                ),
            )
            .values(holder=holder, expires_at=expires)
        ).rowcount
        if taken:
            return True
    try:
        with database.session() as session:
            session.execute(insert(JobLease).values(name=name, holder=holder, expires_at=expires))
        return True
    except IntegrityError:
        return False


def release_lease(
    database: Database, name: str, now: dt.datetime | None = None, holder: str | None = None
) -> None:
    with database.session() as session:
        session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == (holder or worker_id()))
            .values(holder=None, expires_at=None, last_run_at=now or utcnow())
        )


class JobOutcome(enum.StrEnum):
    RAN = "ran"
    #: Another process holds the job's lease.
    SKIPPED = "skipped"
    #: The job raised; it is logged, and `tick` exits non-zero naming it.
    FAILED = "failed"


def attempt_job(app: Flask, job: Job, now: dt.datetime | None = None) -> JobOutcome:
    """Run one job under its lease; a failure is logged and reported, never hidden."""
    database = get_database(app)
    if job.exclusive and not take_lease(database, job.name, job.lease_seconds):
        return JobOutcome.SKIPPED
    try:
        with app.app_context():
            job.func(app, now or utcnow())
    except Exception:
        log.exception("job %s failed", job.name)
        return JobOutcome.FAILED
    finally:
        if job.exclusive:
            release_lease(database, job.name)
    return JobOutcome.RAN


def run_job(app: Flask, job: Job, now: dt.datetime | None = None) -> bool:
    """Run one job (the scheduler's entry); False when another process is running it."""
    return attempt_job(app, job, now) is not JobOutcome.SKIPPED


def load_jobs() -> dict[str, Job]:
    """Every area's jobs, registered on import."""
    import plugin.engine.jobs  # noqa: F401

    return JOBS


def run_all(app: Flask, now: dt.datetime) -> dict[str, JobOutcome]:
    """Run every registered job once, in registration order, with one clock (`tick`)."""
    return {name: attempt_job(app, job, now) for name, job in load_jobs().items()}


#: Jobs that run more often than this are not logged at INFO on every run (dispatch, each
#: second): an idle worker would write two lines a second that say nothing.
QUIET_BELOW_SECONDS = 60


class QuietFrequentJobs(logging.Filter):
    """Keep APScheduler's "Running job"/"executed successfully" lines of frequent jobs at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.args:
            return True
        scheduled = record.args[0] if isinstance(record.args, tuple) else None
        job = JOBS.get(getattr(scheduled, "id", ""))
        if job is None or job.every_seconds >= QUIET_BELOW_SECONDS:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def quiet_frequent_jobs() -> None:
    """Install the filter once on APScheduler's executor logger."""
    executor_log = logging.getLogger("apscheduler.executors.default")
    if not any(isinstance(f, QuietFrequentJobs) for f in executor_log.filters):
        executor_log.addFilter(QuietFrequentJobs())


def build_scheduler(app: Flask, blocking: bool = False) -> BaseScheduler:
    """An APScheduler with every registered job; the caller starts it."""
    load_jobs()
    quiet_frequent_jobs()
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler()
    for job in JOBS.values():
        scheduler.add_job(
            run_job,
            "interval",
            seconds=job.every_seconds,
            args=(app, job),
            id=job.name,
            name=job.name,  # logged as "dispatch", not as the entry function run_job
            coalesce=True,
            max_instances=job.max_instances,
            misfire_grace_time=max(1, job.every_seconds // 2),
            next_run_time=utcnow() + dt.timedelta(seconds=1),
        )
    return scheduler
