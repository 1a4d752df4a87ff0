"""A token bucket in the database, so a rate holds across every process and machine.

Each take locks the bucket's row for the length of one short transaction (SELECT … FOR UPDATE on
PostgreSQL; SQLite serialises writers anyway), refills it by the time passed, and spends a token
if one is there. Callers that are refused get the seconds to wait.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import RateBucket


def take(
    session: Session,
    key: str,
    *,
    rate: float,
    burst: float,
    cost: float = 1.0,
    now: dt.datetime | None = None,
) -> float:
    """Spend `cost` tokens from bucket `key`; 0.0 when granted, else seconds until it would be.

    The caller commits: the spend and the work it pays for can share one transaction.
    """
    if rate <= 0 or burst < cost:
        raise ValueError("rate must be positive and burst at least the cost of one take")
    now = now or utcnow()
    statement = select(RateBucket).where(RateBucket.key == key)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    bucket = session.scalars(statement).first()
    if bucket is None:
        bucket = RateBucket(key=key, tokens=burst, updated_at=now)
        try:
            with session.begin_nested():
                session.add(bucket)
                session.flush()
        except IntegrityError:  # another process created it first: lock theirs
            bucket = session.scalars(statement).one()
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    tokens = min(burst, bucket.tokens + elapsed * rate)
    bucket.updated_at = max(now, bucket.updated_at)
    if tokens >= cost:
        bucket.tokens = tokens - cost
        return 0.0
    bucket.tokens = tokens
    return (cost - tokens) / rate
