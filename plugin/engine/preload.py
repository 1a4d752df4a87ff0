"""What the guards read beyond a message's own rows, loaded once for many messages.

Compose, the campaign plan and dispatch each judge thousands of messages at a time; a guard that
asked the database itself would ask once per message. `preload` runs the few set queries that
answer every guard's question (the buyer's recent marketing, the shop's spend this month, an
order since the cart, an earlier confirmation) and the guards read only the answer, so every
guard is a plain rule over `guards.Facts` and the same rule runs on every path.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from plugin.db import among
from plugin.models import (
    Cart,
    Flow,
    Notification,
    NotificationState,
    Order,
    Store,
)
from plugin.sync.purchases import NOT_A_PURCHASE
from plugin.whatsapp.pricing import month_spend_micros

#: Rows per IN (...) lookup and per multi-row INSERT (SQLite limits a statement's parameters).
CHUNK = 1000
#: The longest window a frequency cap looks back over (cap_per_7d).
CAP_WINDOW = dt.timedelta(days=7)
#: Before any order: what a buyer without one compares as.
NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)
#: Rows that are a send to the buyer: answered by Meta, or claimed and on their way.
SENT_OR_SENDING = (NotificationState.SENT, NotificationState.SENDING)


@dataclass
class Preloaded:
    """The answers `preload` found, by shop and buyer."""

    #: (store, phone) -> [(row id, when)] of marketing sent or sending within CAP_WINDOW.
    recent: dict[tuple[int, str], list[tuple[int, dt.datetime]]] = field(default_factory=dict)
    #: This month's spend of each shop that has a monthly budget.
    spent: dict[int, int] = field(default_factory=dict)
    #: (cart, phone) pairs whose buyer ordered since the cart's last activity.
    ordered: set[tuple[int, str]] = field(default_factory=set)
    #: subscription -> [(row id, state)] of confirmations sent or sending in its pending period.
    confirmations: dict[int, list[tuple[int, str]]] = field(default_factory=dict)

    def recent_sends(
        self, store_id: int, phone: str, row_id: int | None = None
    ) -> list[dt.datetime]:
        """When the buyer got (or is getting) marketing, newest first; a row never counts itself."""
        times = (at for found, at in self.recent.get((store_id, phone), []) if found != row_id)
        return sorted(times, reverse=True)

    def earlier_confirmation(self, subscription_id: int, row_id: int | None) -> bool:
        """A confirmation already went, or one older than this row is on its way: of two claimed
        at once only the younger yields, so exactly one goes."""
        return any(
            state == NotificationState.SENT or row_id is None or found < row_id
            for found, state in self.confirmations.get(subscription_id, [])
            if found != row_id
        )

    def forget(self, store_id: int, phone: str, subscription_id: int | None, row_id: int) -> None:
        """A claimed row that will not be sent now no longer counts for the rows judged after it."""
        key = (store_id, phone)
        if key in self.recent:
            self.recent[key] = [entry for entry in self.recent[key] if entry[0] != row_id]
        if subscription_id in self.confirmations:
            self.confirmations[subscription_id] = [
                entry for entry in self.confirmations[subscription_id] if entry[0] != row_id
            ]


def preload(
    session: Session,
    now: dt.datetime,
    stores: Iterable[Store],
    phones: Iterable[tuple[int, str]] = (),
    carts: Iterable[tuple[Cart, str]] = (),
    confirmations: Iterable[tuple[Store, int]] = (),
) -> Preloaded:
    """The guards' answers for these shops, these (shop, phone) buyers, these (cart, phone)
    reminders and these (shop, subscription id) confirmation requests, as of `now`."""
    stores = list(stores)
    wanted: dict[int, set[str]] = defaultdict(set)
    for store_id, phone in phones:
        wanted[store_id].add(phone)
    found = Preloaded()
    for store_id, numbers in wanted.items():
        found.recent.update(_recent(session, store_id, sorted(numbers), now))
    found.spent = {  # only where a budget is set: the sum reads the month's every message
        store.id: month_spend_micros(session, store, now)
        for store in stores
        if store.setting("monthly_budget_minor") is not None
    }
    found.ordered = _ordered(session, list(carts))
    found.confirmations = _confirmations(session, list(confirmations), now)
    return found


def _recent(
    session: Session, store_id: int, phones: list[str], now: dt.datetime
) -> dict[tuple[int, str], list[tuple[int, dt.datetime]]]:
    moment = func.coalesce(Notification.sent_at, Notification.claimed_at)
    found: dict[tuple[int, str], list[tuple[int, dt.datetime]]] = defaultdict(list)
    rows = session.execute(
        select(Notification.phone, Notification.id, moment).where(
            Notification.store_id == store_id,
            among(session, Notification.phone, phones),
            Notification.state.in_(SENT_OR_SENDING),
            Notification.flow != Flow.OPTIN_CONFIRMATION,  # not marketing (guards.py)
            moment > now - CAP_WINDOW,
        )
    )
    for phone, row_id, at in rows:
        found[(store_id, phone)].append((row_id, at))
    return found


def _ordered(session: Session, carts: list[tuple[Cart, str]]) -> set[tuple[int, str]]:
    """The (cart, phone) reminders whose buyer placed a real order since the cart's last
    activity, by the reminder's number or under the cart's customer."""
    by_store: dict[int, list[tuple[Cart, str]]] = defaultdict(list)
    for cart, phone in carts:
        by_store[cart.store_id].append((cart, phone))
    ordered = set()
    for store_id, reminders in by_store.items():
        for start in range(0, len(reminders), CHUNK):
            chunk = reminders[start : start + CHUNK]
            phones = sorted({phone for _, phone in chunk})
            customers = sorted({c.customer_id for c, _ in chunk if c.customer_id is not None})
            # the latest real order by number and by customer: a reminder's buyer ordered since
            # the cart when either is at or after its last activity
            by_phone: dict[str | None, dt.datetime] = {}
            by_customer: dict[int | None, dt.datetime] = {}
            for order_phone, customer_id, placed_at in session.execute(
                select(Order.phone, Order.customer_id, Order.placed_at).where(
                    Order.store_id == store_id,
                    or_(Order.phone.in_(phones), Order.customer_id.in_(customers)),
                    Order.placed_at >= min(c.last_activity_at for c, _ in chunk),
                    Order.cancelled_at.is_(None),
                    or_(Order.status.is_(None), func.lower(Order.status).not_in(NOT_A_PURCHASE)),
                )
            ):
                for latest, key in ((by_phone, order_phone), (by_customer, customer_id)):
                    if key is not None:
                        latest[key] = max(placed_at, latest.get(key, placed_at))
            ordered.update(
                (cart.id, phone)
                for cart, phone in chunk
                if max(by_phone.get(phone, NEVER), by_customer.get(cart.customer_id, NEVER))
                >= cart.last_activity_at
            )
    return ordered


def _confirmations(
    session: Session, requests: list[tuple[Store, int]], now: dt.datetime
) -> dict[int, list[tuple[int, str]]]:
    """Confirmations sent or sending to these subscriptions within their shop's pending period
    (`pending_optin_days`: a buyer who asks again after it gets the question again)."""
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    moment = func.coalesce(Notification.sent_at, Notification.claimed_at)
    by_store: dict[int, tuple[Store, set[int]]] = {}
    for store, subscription_id in requests:
        by_store.setdefault(store.id, (store, set()))[1].add(subscription_id)
    for store, subscriptions in by_store.values():
        since = now - dt.timedelta(days=int(store.setting("pending_optin_days")))
        rows = session.execute(
            select(Notification.subscription_id, Notification.id, Notification.state).where(
                Notification.store_id == store.id,
                Notification.subscription_id.in_(sorted(subscriptions)),
                Notification.flow == Flow.OPTIN_CONFIRMATION,
                Notification.state.in_(SENT_OR_SENDING),
                moment > since,
            )
        )
        for subscription_id, row_id, state in rows:
            found[subscription_id].append((row_id, state))
    return found
