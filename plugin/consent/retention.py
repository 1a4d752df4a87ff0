"""Retention: consent data that has served its purpose is purged on a schedule.

- Opt-ins never confirmed within `pending_optin_days`: the request events (with the IP and
  user agent they held) and the subscription row when nothing else remains; the confirmation
  messages not yet sent expire and lose the number.
- Opt-in rate buckets idle for a day (they are full again long before; keyed by a hash anyway).

Kept: the ledger of confirmed and opted-out subscriptions, because it is the shop's proof of
consent (and of honouring an opt-out) for as long as a claim about a sent message can be made.
"""

from __future__ import annotations

import datetime as dt
import logging

from flask import Flask
from sqlalchemy import delete
from sqlalchemy.orm import Session

from plugin.consent.doubleoptin import expire_pending
from plugin.db import get_database
from plugin.jobs import Job
from plugin.models import RateBucket

log = logging.getLogger(__name__)

#: An idle bucket refills completely within minutes; a day leaves a wide margin.
RATE_BUCKET_IDLE = dt.timedelta(days=1)


def purge_stale_consent(session: Session, now: dt.datetime) -> dict[str, int]:
    """Run every retention rule once; returns how many rows each removed."""
    lapsed = expire_pending(session, now)
    buckets = session.execute(
        delete(RateBucket).where(
            RateBucket.key.like("optin:%"), RateBucket.updated_at < now - RATE_BUCKET_IDLE
        )
    ).rowcount
    return {"pending_optins": lapsed, "rate_buckets": buckets or 0}


def consent_retention_job(app: Flask, now: dt.datetime) -> None:
    with get_database(app).session() as session:
        counts = purge_stale_consent(session, now)
    log.info("consent retention: %s", counts)


#: Consent's job: the purge, hourly.
JOBS = (Job("consent_retention", consent_retention_job, every_seconds=3600),)
