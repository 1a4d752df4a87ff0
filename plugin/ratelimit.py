"""A token bucket in the database, so a rate holds across every process and machine.

Each take locks the bucket's row for the length of one short transaction (SELECT … FOR UPDATE on
PostgreSQL; SQLite serialises writers anyway), refills it by the time passed, and spends a token
if one is there. Callers that are refused get the seconds to wait.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite
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
    bucket = session.scalars(_select_locked(session, key)).first()
    if bucket is None:
        if _created(session, key, burst - cost, now):  # a new bucket starts full: spent at once
            return 0.0
        bucket = session.scalars(_select_locked(session, key)).one()
    tokens = _refilled(bucket, rate, burst, now)
    if tokens >= cost:
        bucket.tokens = tokens - cost
        return 0.0
    bucket.tokens = tokens
    return (cost - tokens) / rate


def take_up_to(
    session: Session,
    key: str,
    *,
    rate: float,
    burst: float,
    wanted: int,
    now: dt.datetime | None = None,
) -> tuple[int, float]:
    """Spend the whole tokens there are, at most `wanted`: (granted, 0.0), or (0, seconds to wait).

    One lock pays for a batch, and a caller takes what the bucket holds instead of waiting
    for all it wants while other processes drain it; but only once half of what it wants is
    there (its quantum). Without that floor, processes sharing a bucket each took the token
    or two refilled since the last take: a lock per two messages. Waiting for all it wants
    would lose tokens past the burst to a late wake-up. The caller commits.
    """
    if rate <= 0 or burst < 1 or wanted < 1:
        raise ValueError("rate must be positive, burst and wanted at least one token")
    now = now or utcnow()
    bucket = _locked(session, key, burst, now)
    tokens = _refilled(bucket, rate, burst, now)
    quantum = max(1.0, min(wanted, burst) / 2)
    granted = min(wanted, int(tokens)) if tokens >= quantum else 0
    bucket.tokens = tokens - granted
    return (granted, 0.0) if granted else (0, (quantum - tokens) / rate)


def _locked(session: Session, key: str, burst: float, now: dt.datetime) -> RateBucket:
    """The bucket's row, locked until the caller's transaction ends; created full if new."""
    statement = _select_locked(session, key)
    bucket = session.scalars(statement).first()
    if bucket is None:
        _created(session, key, burst, now)  # or another process created it first: lock theirs
        bucket = session.scalars(statement).one()
    return bucket


def _select_locked(session: Session, key: str) -> Select[tuple[RateBucket]]:
    statement = select(RateBucket).where(RateBucket.key == key)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return statement


def _created(session: Session, key: str, tokens: float, now: dt.datetime) -> bool:
    """Create the bucket holding `tokens` unless another process just did; True if this one did.

    One INSERT … ON CONFLICT DO NOTHING: no savepoint round trips, and a race loses nothing.
    The row stays locked by this transaction either way.
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(RateBucket)
        .values(key=key, tokens=tokens, updated_at=now)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(RateBucket.key)
    )
    return session.execute(statement).first() is not None


def _refilled(bucket: RateBucket, rate: float, burst: float, now: dt.datetime) -> float:
    """Tokens in the bucket at `now`; moves its clock forward (never back: clocks differ)."""
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    bucket.updated_at = max(now, bucket.updated_at)
    return min(burst, bucket.tokens + elapsed * rate)
