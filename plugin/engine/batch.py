"""The facts the guards need for a claimed batch of notifications, loaded with a few queries."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.engine import guards
from plugin.models import (
    Cart,
    Customer,
    Flow,
    Notification,
    NotificationState,
    Store,
    Subscription,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from plugin.whatsapp.pricing import month_spend_micros


@dataclass
class BatchFacts:
    """What the guards need for a claimed batch, loaded with a few queries."""

    stores: dict[int, Store]
    accounts: dict[int, WhatsAppAccount | None]
    subscriptions: dict[tuple[int, str], Subscription]
    customers: dict[int, Customer]
    carts: dict[int, Cart]
    templates: dict[tuple[int, str, str], WhatsAppTemplate]
    #: (store, phone) -> [(notification id, when)] of marketing sent or sending in 7 days.
    recent: dict[tuple[int, str], list[tuple[int, dt.datetime]]]
    #: This month's spend of each shop that has a monthly budget.
    spent: dict[int, int]


def _by(rows: list, key) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return {key(row): row for row in rows}


def _rows(session: Session, model: type, ids: set[int | None]) -> list:  # type: ignore[type-arg]
    """Rows of `model` with these ids; no query when none is wanted (most batches have no cart)."""
    wanted = ids - {None}
    return list(session.scalars(select(model).where(model.id.in_(wanted)))) if wanted else []


def load_batch(session: Session, rows: list[Notification], now: dt.datetime) -> BatchFacts:
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
    moment = func.coalesce(Notification.sent_at, Notification.claimed_at)
    recent: dict[tuple[int, str], list[tuple[int, dt.datetime]]] = defaultdict(list)
    for store_id, phone, row_id, at in session.execute(
        select(Notification.store_id, Notification.phone, Notification.id, moment).where(
            Notification.store_id.in_(store_ids),
            Notification.phone.in_(phones),
            Notification.state.in_([NotificationState.SENT, NotificationState.SENDING]),
            Notification.flow != Flow.OPTIN_CONFIRMATION,  # not marketing (guards.py)
            moment > now - dt.timedelta(days=7),
        )
    ):
        recent[(store_id, phone)].append((row_id, at))
    return BatchFacts(
        stores=stores,
        accounts={store_id: accounts.get(store_id) for store_id in store_ids},
        subscriptions=_by(
            list(
                session.scalars(
                    select(Subscription).where(
                        Subscription.store_id.in_(store_ids), Subscription.phone.in_(phones)
                    )
                )
            ),
            lambda r: (r.store_id, r.phone),
        ),
        customers=_by(_rows(session, Customer, {r.customer_id for r in rows}), lambda r: r.id),
        carts=_by(_rows(session, Cart, {r.cart_id for r in rows}), lambda r: r.id),
        templates=_by(
            list(
                session.scalars(
                    select(WhatsAppTemplate).where(WhatsAppTemplate.store_id.in_(store_ids))
                )
            ),
            lambda r: (r.store_id, r.name, r.language),
        ),
        recent=recent,
        spent={  # only where a budget is set: the sum reads the month's every message
            store_id: month_spend_micros(session, stores[store_id], now)
            for store_id in store_ids
            if stores[store_id].setting("monthly_budget_minor") is not None
        },
    )


def facts_for(batch: BatchFacts, notification: Notification) -> guards.Facts:
    store = batch.stores[notification.store_id]
    phone = notification.phone or ""
    recent = batch.recent.get((store.id, phone), [])
    return guards.Facts(
        store=store,
        phone=phone,
        flow=notification.flow,
        purpose=str(notification.context.get("purpose", notification.template_name)),
        subscription=batch.subscriptions.get((store.id, phone)),
        customer=batch.customers.get(notification.customer_id or 0),
        cart=batch.carts.get(notification.cart_id or 0),
        account=batch.accounts.get(store.id),
        template=batch.templates.get((store.id, notification.template_name, notification.language)),
        cost_micros=notification.cost_micros or 0,
        notification_id=notification.id,
        recent_sends=sorted(
            (at for row_id, at in recent if row_id != notification.id), reverse=True
        ),
        month_spent_micros=batch.spent.get(store.id),
        template_fresh=True,  # load_batch read the templates in this transaction
    )
