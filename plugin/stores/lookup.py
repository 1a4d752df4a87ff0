"""What every webhook and storefront request asks about its shop, kept in this process.

Loading a Store builds an ORM object and decrypts its credentials and webhook secret: a fifth
of a webhook's answer time went there. The few fields a receiver needs are cached per process
as a frozen record, one cache per database engine; a change flushed by this process drops the
shop's entry at once, and a change made elsewhere (another web process, a worker, the CLI) is
seen within TTL_SECONDS. The storefront API (widget, opt-ins, carts) keeps the whole shop, as a
detached Store, and what it reads of the shop's rows (`kept_for_shop`: the current opt-in
wording, the confirmation template) for STOREFRONT_TTL_SECONDS.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

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


Entries = dict[tuple[str, Any], tuple[Any, float, int]]
T = TypeVar("T")

_lock = threading.Lock()
#: Per engine: (kind, key) -> (what is kept, loaded at monotonic seconds, the shop's id).
_caches: weakref.WeakKeyDictionary[Engine, Entries] = weakref.WeakKeyDictionary()
#: Shop-scoped models whose rows are kept here (`watch`): a change flushed to one of them drops
#: what is kept of its shop.
_watched: set[type[Any]] = set()


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


def kept_for_shop(
    session: Session,
    store_id: int,
    key: tuple[str, Any],
    load: Callable[[], tuple[T, bool]],
    *,
    fresh: bool = False,
) -> T:
    """What `load` returns for a shop, kept in this process when `load` says so (value, keep).

    Kept for STOREFRONT_TTL_SECONDS; dropped at once when this process flushes a change to the
    shop or to a row of a `watch`ed model of the shop. `fresh` reads it again now.
    """
    now = time.monotonic()
    entries = _entries(session)
    found = entries.get(key)
    if not fresh and found is not None and now - found[1] < STOREFRONT_TTL_SECONDS:
        return found[0]  # type: ignore[no-any-return]
    value, keep = load()
    if keep:
        with _lock:
            entries[key] = (value, now, store_id)
    return value


def watch(model: type[Any]) -> None:
    """Rows of this shop-scoped model are kept here: a change flushed to one must drop them."""
    _watched.add(model)


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
        return found[0]  # type: ignore[no-any-return]
    store = session.scalars(query()).first()
    if store is None:  # not cached: the shop may be installing right now
        return None
    record = build(session, store)
    with _lock:
        entries[key] = (record, now, store.id)
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
        for key, (_value, _at, store_id) in list(entries.items()):
            if store_id in store_ids:
                del entries[key]


@event.listens_for(Session, "after_flush")
def _forget_flushed(session: Session, _context: Any) -> None:
    """A shop (or a watched row of it) changed or deleted in this process: forget what is kept
    of the shop now and again at commit (a request that read it between flush and commit must
    not keep the old one)."""
    changed = {
        obj.id
        for obj in (*session.dirty, *session.deleted)
        if isinstance(obj, Store) and obj.id is not None
    }
    if _watched:
        changed |= {
            obj.store_id
            for obj in (*session.new, *session.dirty, *session.deleted)
            if type(obj) in _watched
        }
    if changed:
        _forget(session, changed)
        session.info.setdefault("shopnudge.changed_stores", set()).update(changed)


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    changed = session.info.pop("shopnudge.changed_stores", None)
    if changed:
        _forget(session, changed)
