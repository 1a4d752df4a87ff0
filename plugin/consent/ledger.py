"""The consent ledger: append an event, derive the subscription state from the events.

The rule, in one line: a buyer may receive marketing only when their last opt-out (if any) is
followed by a confirmed opt-in. `derive_state` is that rule over a list of events; `record`
appends one event and updates the stored state the same way, so the two never disagree.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any, Protocol

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import (
    ConsentEvent,
    ConsentKind,
    OptinWording,
    Store,
    Subscription,
    SubscriptionState,
)


def next_state(current: str | None, kind: str) -> str | None:
    """The state after one more event (None: no subscription yet, or erased)."""
    if kind == ConsentKind.REQUESTED:
        # Asking again while confirmed changes nothing; after an opt-out it starts over.
        return (
            SubscriptionState.CONFIRMED
            if current == SubscriptionState.CONFIRMED
            else (SubscriptionState.PENDING)
        )
    if kind == ConsentKind.CONFIRMED:
        # Only a pending request can be confirmed: an opted-out buyer must opt in anew.
        return (
            SubscriptionState.CONFIRMED
            if current in (SubscriptionState.PENDING, SubscriptionState.CONFIRMED)
            else current
        )
    if kind == ConsentKind.OPTED_OUT:
        return SubscriptionState.OPTED_OUT
    if kind == ConsentKind.ERASED:
        return None
    raise ValueError(f"unknown consent event kind {kind!r}")


def derive_state(kinds: Iterable[str]) -> str | None:
    state: str | None = None
    for kind in kinds:
        state = next_state(state, kind)
    return state


class NothingToConfirm(ValueError):
    """A confirmation (or erasure) for a number that has no subscription in this shop."""


def find_subscription(session: Session, store_id: int, phone: str) -> Subscription | None:
    return session.scalars(_FIND, {"store_id": store_id, "phone": phone}).first()


#: Built once: building a statement costs more Python time than sending it.
_FIND = select(Subscription).where(
    Subscription.store_id == bindparam("store_id"), Subscription.phone == bindparam("phone")
)
_CREATE = {
    name: dialect.insert(Subscription)
    .on_conflict_do_nothing(index_elements=["store_id", "phone"])
    .returning(Subscription)
    for name, dialect in (("postgresql", postgresql), ("sqlite", sqlite))
}


def _subscription(
    session: Session, store: Store, phone: str, kind: str, first: dict[str, Any]
) -> tuple[Subscription, bool]:
    """The shop's subscription row for a number, and whether it was created just now.

    A new row is written with the values its first event gives it (`first`), by one
    INSERT … ON CONFLICT DO NOTHING: a request that created it a moment ago wins, without a
    savepoint. A request usually comes from a new buyer, so it tries the INSERT first; the other
    kinds usually find the row.
    """
    if kind != ConsentKind.REQUESTED:
        found = find_subscription(session, store.id, phone)
        if found is not None:
            return found, False
    row = {
        "store_id": store.id,
        "phone": phone,
        "state": next_state(None, kind),
        "unsubscribe_token": secrets.token_urlsafe(24),
        **first,
    }
    statement = _CREATE[session.get_bind().dialect.name]
    created = session.scalars(statement, [row]).first()
    if created is not None:
        return created, True
    found = find_subscription(session, store.id, phone)
    assert found is not None  # the conflict was on this very row
    return found, False


def record(
    session: Session,
    store: Store,
    phone: str,
    kind: str,
    source: str,
    *,
    wording: OptinWording | None = None,
    locale: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    message_id: str | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
    pending_until: dt.datetime | None = None,
) -> tuple[Subscription, ConsentEvent]:
    """Append one event for a shop and E.164 number and move the subscription's state.

    `pending_until`: when a request that leaves the buyer pending lapses unless confirmed
    (plugin.consent.doubleoptin); a new buyer's row is then written once, complete.
    """
    at = at or utcnow()
    after_new = next_state(None, kind)
    first = {
        "locale": locale or None,
        "pending_expires_at": pending_until if after_new == SubscriptionState.PENDING else None,
        "opted_out_at": at if after_new == SubscriptionState.OPTED_OUT else None,
    }
    if kind in (ConsentKind.CONFIRMED, ConsentKind.ERASED):
        found = find_subscription(session, store.id, phone)
        if found is None:
            # Confirming needs an open request: a bare "confirmed" must not create consent.
            raise NothingToConfirm(f"no subscription to apply {kind!r} to")
        subscription, created = found, False
    else:
        subscription, created = _subscription(session, store, phone, kind, first)
    before = None if created else subscription.state
    after = next_state(before, kind)
    if not created:
        # The ledger's order is the order things happened: a reply stamped by Meta to the second
        # must not appear to precede the request it answers.
        latest = session.scalar(
            select(func.max(ConsentEvent.occurred_at)).where(
                ConsentEvent.subscription_id == subscription.id
            )
        )
        if latest is not None and latest > at:
            at = latest
    event = ConsentEvent(
        store_id=store.id,
        subscription_id=subscription.id,
        kind=kind,
        source=source,
        wording_id=wording.id if wording else None,
        locale=locale,
        ip=ip,
        user_agent=user_agent,
        message_id=message_id,
        detail=detail or {},
        occurred_at=at,
    )
    session.add(event)
    if wording is not None and wording.first_used_at is None:
        wording.first_used_at = at
    if locale:
        subscription.locale = locale
    if after is not None:
        subscription.state = after
    if after == SubscriptionState.CONFIRMED and before != SubscriptionState.CONFIRMED:
        subscription.confirmed_at = at
        subscription.pending_expires_at = None
        subscription.confirmation_code = None
    elif after == SubscriptionState.OPTED_OUT:
        subscription.opted_out_at = at
        subscription.confirmation_code = None
        subscription.pending_expires_at = None
    elif after == SubscriptionState.PENDING:
        if before != SubscriptionState.PENDING:
            subscription.confirmed_at = None
        if pending_until is not None:
            subscription.pending_expires_at = pending_until
    session.flush()
    return subscription, event


def opt_out(
    session: Session,
    store: Store,
    phone: str,
    *,
    source: str,
    message_id: str | None = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> Subscription:
    """Suppress a number for this shop at once, whatever its state was."""
    subscription, _ = record(
        session,
        store,
        phone,
        ConsentKind.OPTED_OUT,
        source,
        message_id=message_id,
        detail=detail,
        at=at,
    )
    return subscription


class Consent(Protocol):
    """What sending decisions read of a subscription: the ORM object, or a plain row of
    these columns (dispatch loads exactly these, one per message: engine.batch.CONSENT)."""

    id: int
    state: str
    undeliverable: bool
    held_until: dt.datetime | None
    pending_expires_at: dt.datetime | None


def is_sendable(subscription: Consent | None, now: dt.datetime) -> bool:
    """Marketing may go to this subscription now (confirmed, reachable, not held by Meta)."""
    return (
        subscription is not None
        and subscription.state == SubscriptionState.CONFIRMED
        and not subscription.undeliverable
        and (subscription.held_until is None or subscription.held_until <= now)
    )
