"""What every webhook and storefront request asks about its shop, kept in this process.

Loading a Store builds an ORM object and decrypts its credentials and webhook secret: a fifth
of a webhook's answer time went there. The few fields a receiver needs are cached per process
as a frozen record, one cache per database engine; a change flushed by this process drops the
shop's entry at once, and a change made elsewhere (another web process, a worker, the CLI) is
seen within TTL_SECONDS. The storefront API (widget, opt-ins, carts) keeps the whole shop, as a
detached Store, for STOREFRONT_TTL_SECONDS.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from plugin.models import Platform, Store, StoreStatus

#: How long another process's change to a shop (a new webhook secret, an uninstall) may go
#: unseen here: a rotated secret's first deliveries may be refused (401, retried by the
#: platform) for this long.
TTL_SECONDS = 60.0
#: How long a settings change made in another process (the owner's settings page is served by
#: any web process) may go unseen by the storefront API: its opt-in mode, allowed origins,
#: country for phone numbers, an uninstall. A reload costs one query every few seconds.
STOREFRONT_TTL_SECONDS = 5.0


@dataclass(frozen=True)
class StoreKey:
    """The fields a webhook receiver checks: who the shop is and how its deliveries are signed."""

    id: int
    platform: str
    domain: str
    base_url: str
    status: str
    webhook_secret: str | None


Entries = dict[tuple[str, Any], tuple[StoreKey | Store, float]]

_lock = threading.Lock()
#: Per engine: (kind, key) -> (StoreKey or detached Store, loaded at monotonic seconds).
_caches: weakref.WeakKeyDictionary[Engine, Entries] = weakref.WeakKeyDictionary()


def shopify_store(session: Session, domain: str) -> StoreKey | None:
    """The installed Shopify shop with this myshopify.com domain."""
    return _cached(  # type: ignore[return-value]
        ("shopify", domain),
        session,
        lambda: select(Store).where(Store.platform == Platform.SHOPIFY, Store.domain == domain),
    )


def store_by_id(session: Session, store_id: int) -> StoreKey | None:
    return _cached(("id", store_id), session, lambda: select(Store).where(Store.id == store_id))  # type: ignore[return-value]


def storefront_store(session: Session, public_key: str) -> Store | None:
    """The shop a storefront request names by its public key, unless it was uninstalled.

    The Store is detached from every session and shared by this process's requests: read it,
    never change it (a change goes through a session of its own, which drops this copy).
    """
    return _cached(  # type: ignore[return-value]
        ("storefront", public_key),
        session,
        lambda: select(Store).where(
            Store.public_key == public_key, Store.status != StoreStatus.UNINSTALLED
        ),
        build=_detached,
        ttl=STOREFRONT_TTL_SECONDS,
    )


def _entries(session: Session) -> Entries:
    engine = session.get_bind().engine  # a session bound to a connection: its engine
    with _lock:
        return _caches.setdefault(engine, {})


def _cached(
    key: tuple[str, Any],
    session: Session,
    query: Any,
    build: Callable[[Session, Store], StoreKey | Store] = lambda _session, store: _record(store),
    ttl: float = TTL_SECONDS,
) -> StoreKey | Store | None:
    now = time.monotonic()
    entries = _entries(session)
    found = entries.get(key)
    if found is not None and now - found[1] < ttl:
        return found[0]
    store = session.scalars(query()).first()
    if store is None:  # not cached: the shop may be installing right now
        return None
    record = build(session, store)
    with _lock:
        entries[key] = (record, now)
    return record


def _detached(session: Session, store: Store) -> Store:
    """The loaded shop, taken out of the request's session so that requests can share it."""
    session.expunge(store)
    return store


def _record(store: Store) -> StoreKey:
    return StoreKey(
        id=store.id,
        platform=store.platform,
        domain=store.domain,
        base_url=store.base_url,
        status=store.status,
        webhook_secret=store.webhook_secret,
    )


def _forget(session: Session, store_ids: set[int]) -> None:
    entries = _entries(session)
    with _lock:
        for key, (record, _at) in list(entries.items()):
            if record.id in store_ids:
                del entries[key]


@event.listens_for(Session, "after_flush")
def _forget_flushed(session: Session, _context: Any) -> None:
    """A shop changed or deleted in this process: forget it now and again at commit (a
    request that read it between flush and commit must not keep the old one)."""
    changed = {
        obj.id
        for obj in (*session.dirty, *session.deleted)
        if isinstance(obj, Store) and obj.id is not None
    }
    if changed:
        _forget(session, changed)
        session.info.setdefault("shopnudge.changed_stores", set()).update(changed)


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    changed = session.info.pop("shopnudge.changed_stores", None)
    if changed:
        _forget(session, changed)
