"""Periodic jobs: the job table in tick order, and the scheduler that runs it.

A job is `func(app, now)` (`plugin.jobs.Job`). Each run first takes the job's lease row
(`plugin.leases`); whoever holds an unexpired lease runs, everyone else skips, so any number of
`shopnudge worker` processes can share one database without running a job twice.

The areas declare their jobs as data: each has a module-level `JOBS` tuple of `Job`, and
`job_areas()` below lists the areas in the order `tick` runs them, the way
`plugin.web.BLUEPRINT_MODULES` lists the blueprints. Adding a job is adding it to its area's
`JOBS` tuple; a new area adds one line to `job_areas()`. The scheduler imports the areas; no
area imports the scheduler.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import logging
from collections.abc import Mapping
from types import MappingProxyType

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from plugin import inbox
from plugin.db import get_database, utcnow
from plugin.jobs import Job
from plugin.leases import release_lease, take_lease
from plugin.webhook_handlers import HANDLERS

log = logging.getLogger(__name__)


def process_webhooks_job(app: Flask, now: dt.datetime) -> None:
    """Finish deliveries that were stored but not processed (a crash, a handler error)."""
    inbox.process_pending(get_database(app), app.config["SHOPNUDGE"], HANDLERS)


#: The scheduler's own job, for every platform's webhook inbox.
WEBHOOK_JOBS = (Job("process_webhooks", process_webhooks_job, every_seconds=30),)


def job_areas() -> tuple[tuple[Job, ...], ...]:
    """Every area's jobs, the areas in the order `tick` runs them: pull, settle, compose, send,
    credit.

    - deliveries the platforms pushed and nobody processed yet, first;
    - the consent purge (lapsed opt-ins stop their confirmations) and idle carts becoming
      abandoned: they need nothing pulled in this tick (composing marks carts itself);
    - WhatsApp numbers and templates, then each platform's pull (Shopify tokens before its
      sync, a new WooCommerce shop's setup before its sync);
    - the campaign watch, so a failing campaign is paused before anything more of it is sent;
    - the engine: expire what is past its moment, compose, dispatch, and credit orders last.

    The areas are imported here, when the table is first needed, not with this module: the
    web app imports this module (through its CLI) but runs no job, and the engine's jobs bring
    numpy and scipy."""
    from plugin import carts
    from plugin.campaigns import autopause
    from plugin.consent import retention
    from plugin.engine import jobs as engine_jobs
    from plugin.shopify import jobs as shopify_jobs
    from plugin.whatsapp import accounts
    from plugin.woocommerce import jobs as woocommerce_jobs

    return (
        WEBHOOK_JOBS,
        retention.JOBS,
        carts.JOBS,
        accounts.JOBS,
        shopify_jobs.JOBS,
        woocommerce_jobs.JOBS,
        autopause.JOBS,
        engine_jobs.JOBS,
    )


@functools.cache
def jobs() -> Mapping[str, Job]:
    """Every job by name (its lease's name too), in the order `tick` runs them (`job_areas`)."""
    return MappingProxyType({job.name: job for area in job_areas() for job in area})


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


#: Jobs that run more often than this are not logged at INFO on every run (dispatch, each
#: second): an idle worker would write two lines a second that say nothing.
QUIET_BELOW_SECONDS = 60


class QuietFrequentJobs(logging.Filter):
    """Keep APScheduler's "Running job"/"executed successfully" lines of frequent jobs at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not record.args:
            return True
        scheduled = record.args[0] if isinstance(record.args, tuple) else None
        job = jobs().get(getattr(scheduled, "id", ""))
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
    """An APScheduler with every job; the caller starts it."""
    quiet_frequent_jobs()
    scheduler: BaseScheduler = BlockingScheduler() if blocking else BackgroundScheduler()
    for job in jobs().values():
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
