"""A token bucket in the database, so a rate holds across every process and machine.

Each take locks the bucket's row for the length of one short transaction (SELECT … FOR UPDATE on
PostgreSQL; SQLite serialises writers anyway), refills it by the time passed, and spends a token
if one is there. Callers that are refused get the seconds to wait.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import bindparam, select
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
    usually_new: bool = False,
) -> float:
    """Spend `cost` tokens from bucket `key`; 0.0 when granted, else seconds until it would be.

    The caller commits: the spend and the work it pays for can share one transaction.
    `usually_new`: the key mostly names someone not seen before (a buyer's number): create the
    bucket first, one statement instead of two (three when it exists after all).
    """
    if rate <= 0 or burst < cost:
        raise ValueError("rate must be positive and burst at least the cost of one take")
    now = now or utcnow()
    bucket = None if usually_new else _read(session, key)
    if bucket is None:
        if _created(session, key, burst - cost, now):  # a new bucket starts full: spent at once
            return 0.0
        bucket = _read(session, key)
        assert bucket is not None  # another process created it: it is locked now
    tokens = _refilled(bucket, rate, burst, now)
    spent = tokens >= cost
    _save(session, bucket, tokens - cost if spent else tokens)
    return 0.0 if spent else (cost - tokens) / rate


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

    One lock pays for a batch: a caller waits until what it wants is there, or half the burst
    if it wants more (its floor), then takes what the bucket holds. Without that floor,
    processes sharing a bucket each took the token or two refilled since the last take: a
    lock per two messages (and a dispatcher, a transaction per few). Waiting for all of a
    larger want would lose tokens past the burst to a late wake-up. The caller commits.
    """
    if rate <= 0 or burst < 1 or wanted < 1:
        raise ValueError("rate must be positive, burst and wanted at least one token")
    now = now or utcnow()
    bucket = _locked(session, key, burst, now)
    tokens = _refilled(bucket, rate, burst, now)
    quantum = max(1.0, min(wanted, burst / 2))
    granted = min(wanted, int(tokens)) if tokens >= quantum else 0
    _save(session, bucket, tokens - granted)
    return (granted, 0.0) if granted else (0, (quantum - tokens) / rate)


def at_most(
    session: Session,
    key: str,
    tokens: float,
    *,
    rate: float,
    burst: float,
    now: dt.datetime | None = None,
) -> None:
    """Lower the bucket to `tokens` where it holds more: the budget's owner reported what is
    really left (a take is counted when it is granted, the owner counts the call when it
    arrives, and the refill between the two would be spent twice). The caller commits."""
    now = now or utcnow()
    bucket = _locked(session, key, burst, now)
    _save(session, bucket, min(_refilled(bucket, rate, burst, now), max(0.0, tokens)))


@dataclass
class _Bucket:
    """A bucket's row as read under its lock; `_save` writes it back."""

    key: str
    tokens: float
    updated_at: dt.datetime


def _locked(session: Session, key: str, burst: float, now: dt.datetime) -> _Bucket:
    """The bucket's row, locked until the caller's transaction ends; created full if new."""
    bucket = _read(session, key)
    if bucket is None:
        _created(session, key, burst, now)  # or another process created it first: lock theirs
        bucket = _read(session, key)
        assert bucket is not None
    return bucket


#: Built once, and plain rows rather than ORM objects: a dispatcher takes tokens every few
#: milliseconds, and building a statement or flushing an object costs more Python time than
#: sending it.
_BUCKETS = RateBucket.__table__
_SELECT = select(_BUCKETS.c.tokens, _BUCKETS.c.updated_at).where(_BUCKETS.c.key == bindparam("key"))
_SELECT_FOR_UPDATE = _SELECT.with_for_update()
_UPDATE = (
    _BUCKETS.update()
    .where(_BUCKETS.c.key == bindparam("bucket"))
    .values(tokens=bindparam("tokens"), updated_at=bindparam("moment"))
)
_INSERT = {
    name: dialect.insert(_BUCKETS)
    .on_conflict_do_nothing(index_elements=["key"])
    .returning(_BUCKETS.c.key)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _read(session: Session, key: str) -> _Bucket | None:
    """The bucket's row, locked on PostgreSQL (SQLite serialises writers anyway)."""
    locking = session.get_bind().dialect.name == "postgresql"
    row = session.execute(_SELECT_FOR_UPDATE if locking else _SELECT, {"key": key}).first()
    return None if row is None else _Bucket(key, row.tokens, row.updated_at)


def _save(session: Session, bucket: _Bucket, tokens: float) -> None:
    session.execute(_UPDATE, {"bucket": bucket.key, "tokens": tokens, "moment": bucket.updated_at})


def _created(session: Session, key: str, tokens: float, now: dt.datetime) -> bool:
    """Create the bucket holding `tokens` unless another process just did; True if this one did.

    One INSERT … ON CONFLICT DO NOTHING: no savepoint round trips, and a race loses nothing.
    The row stays locked by this transaction either way.
    """
    statement = _INSERT[session.get_bind().dialect.name]
    values = {"key": key, "tokens": tokens, "updated_at": now}
    return session.execute(statement, values).first() is not None


def _refilled(bucket: _Bucket, rate: float, burst: float, now: dt.datetime) -> float:
    """Tokens in the bucket at `now`; moves its clock forward (never back: clocks differ)."""
    elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
    bucket.updated_at = max(now, bucket.updated_at)
    return min(burst, bucket.tokens + elapsed * rate)
