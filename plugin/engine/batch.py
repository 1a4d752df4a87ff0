"""The facts the guards need for a claimed batch of notifications, loaded with a few queries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent import ledger
from plugin.db import among
from plugin.engine import guards
from plugin.engine.preload import Preloaded, preload
from plugin.models import (
    Cart,
    Customer,
    Flow,
    Store,
    Subscription,
    WhatsAppAccount,
    WhatsAppTemplate,
)


class Claimed(Protocol):
    """What dispatch reads of a claimed row (a plain row of its columns, or the ORM object);
    dispatch loads exactly the columns named here (dispatch.JUDGED)."""

    id: int
    store_id: int
    flow: str
    subscription_id: int | None
    customer_id: int | None
    cart_id: int | None
    phone: str | None
    template_name: str
    language: str
    parameters: dict[str, Any]
    context: dict[str, Any]
    expires_at: dt.datetime | None
    cost_micros: int | None


@dataclass
class BatchFacts:
    """What the guards need for a claimed batch, loaded with a few queries."""

    stores: dict[int, Store]
    accounts: dict[int, WhatsAppAccount | None]
    subscriptions: dict[tuple[int, str], ledger.Consent]
    customers: dict[int, Customer]
    carts: dict[int, Cart]
    templates: dict[tuple[int, str, str], WhatsAppTemplate]
    #: What the guards read beyond these rows (the buyers' recent sends, the shops' spend…).
    preloaded: Preloaded


#: What the guards read of a buyer's subscription, loaded as plain rows (ledger.Consent): a
#: batch has one per message, and a subscription keeps its consent's evidence too (26 columns).
CONSENT = select(
    Subscription.store_id,
    Subscription.phone,
    *(getattr(Subscription, name) for name in ledger.Consent.__annotations__),
)


def _by(rows: list, key) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return {key(row): row for row in rows}


def _rows(session: Session, model: type, ids: set[int | None]) -> list:  # type: ignore[type-arg]
    """Rows of `model` with these ids; no query when none is wanted (most batches have no cart)."""
    wanted = sorted(ids - {None})  # type: ignore[type-var]
    if not wanted:
        return []
    return list(session.scalars(select(model).where(among(session, model.id, wanted))))


def load_batch(session: Session, rows: Sequence[Claimed], now: dt.datetime) -> BatchFacts:
    store_ids = sorted({row.store_id for row in rows})
    phones = sorted({row.phone for row in rows if row.phone})
    stores = _by(
        list(session.scalars(select(Store).where(Store.id.in_(store_ids)))), lambda r: r.id
    )
    accounts = _by(
        list(
            session.scalars(select(WhatsAppAccount).where(WhatsAppAccount.store_id.in_(store_ids)))
        ),
        lambda r: r.store_id,
    )
    held = CONSENT.where(
        Subscription.store_id.in_(store_ids), among(session, Subscription.phone, phones)
    )
    subscriptions = _by(session.execute(held).all(), lambda r: (r.store_id, r.phone))
    carts = _by(_rows(session, Cart, {r.cart_id for r in rows}), lambda r: r.id)
    confirmations = [
        (stores[row.store_id], subscription.id)
        for row in rows
        if row.flow == Flow.OPTIN_CONFIRMATION
        and (subscription := subscriptions.get((row.store_id, row.phone or ""))) is not None
    ]
    return BatchFacts(
        stores=stores,
        accounts={store_id: accounts.get(store_id) for store_id in store_ids},
        subscriptions=subscriptions,
        customers=_by(_rows(session, Customer, {r.customer_id for r in rows}), lambda r: r.id),
        carts=carts,
        templates=_by(  # read now, in this transaction: Meta may have paused one since compose
            list(
                session.scalars(
                    select(WhatsAppTemplate).where(WhatsAppTemplate.store_id.in_(store_ids))
                )
            ),
            lambda r: (r.store_id, r.name, r.language),
        ),
        preloaded=preload(
            session,
            now,
            stores.values(),
            phones={(row.store_id, row.phone) for row in rows if row.phone},
            carts=[
                (carts[row.cart_id], row.phone or "")
                for row in rows
                if row.flow == Flow.CART_REMINDER and row.cart_id in carts
            ],
            confirmations=confirmations,
        ),
    )


def facts_for(batch: BatchFacts, notification: Claimed) -> guards.Facts:
    store = batch.stores[notification.store_id]
    phone = notification.phone or ""
    subscription = batch.subscriptions.get((store.id, phone))
    cart = batch.carts.get(notification.cart_id or 0)
    preloaded = batch.preloaded
    return guards.Facts(
        store=store,
        phone=phone,
        flow=notification.flow,
        purpose=str(notification.context.get("purpose", notification.template_name)),
        subscription=subscription,
        customer=batch.customers.get(notification.customer_id or 0),
        cart=cart,
        account=batch.accounts.get(store.id),
        template=batch.templates.get((store.id, notification.template_name, notification.language)),
        cost_micros=notification.cost_micros or 0,
        notification_id=notification.id,
        recent_sends=preloaded.recent_sends(store.id, phone, notification.id),
        month_spent_micros=preloaded.spent.get(store.id, 0),
        ordered_since_cart=cart is not None and (cart.id, phone) in preloaded.ordered,
        earlier_confirmation=subscription is not None
        and preloaded.earlier_confirmation(subscription.id, notification.id),
    )
