"""Leases: a named row that one process holds at a time, so a job runs once across the cluster.

A leaf module (it imports only the database layer): the scheduler, dispatch and sending all name
the worker the same way without importing each other.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError

from plugin.db import Database, utcnow
from plugin.models import JobLease


def worker_id() -> str:
    """This process, as lease holders and claimed outbox rows name it."""
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
    """Give the lease up (only its holder can) and note when the job last ran."""
    with database.session() as session:
        session.execute(
            update(JobLease)
            .where(JobLease.name == name, JobLease.holder == (holder or worker_id()))
            .values(holder=None, expires_at=None, last_run_at=now or utcnow())
        )
