"""A shop's numbers for the dashboard, each from one grouped query (never one per row).

Every figure is None or empty when its data is not there yet, so the page can say so instead
of showing a zero that looks like a measurement.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Date, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from plugin.models import (
    Cart,
    CartState,
    ConsentEvent,
    Conversion,
    Flow,
    Notification,
    NotificationState,
    Store,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from plugin.stats import Interval, rate_difference, wilson
from plugin.whatsapp import routing
from plugin.whatsapp.pricing import forecast_micros, month_spend_micros
from plugin.whatsapp.templates.catalog import account_of

#: The charts cover this many days, folded into weeks.
HISTORY_DAYS = 91
#: Below this many holdout carts the incremental estimate is too wide to be worth showing.
MIN_HOLDOUT_CARTS = 10
HOLDOUT_REASON = "holdout"


@dataclass
class Incremental:
    treated: int
    treated_recovered: int
    holdout: int
    holdout_recovered: int
    treated_rate: Interval | None
    holdout_rate: Interval | None
    difference: Interval | None
    #: Extra carts recovered because of the reminders, with the interval in carts.
    extra_carts: Interval | None
    #: Extra revenue in minor units, from extra carts x the average recovered cart.
    extra_revenue_minor: Interval | None


@dataclass
class Dashboard:
    weeks: list[dt.date]
    messages: Counter[str]
    messages_by_week: dict[str, list[int]]
    consent_by_source: dict[str, Counter[str]]
    optins_by_week: dict[str, list[int]]
    spend_micros: int
    budget_minor: int | None
    forecast_micros: int
    spend_by_week: list[int]
    conversions: int
    attributed_revenue_minor: int
    revenue_by_week: list[int]
    incremental: Incremental
    account: WhatsAppAccount | None
    templates_by_status: Counter[str] = field(default_factory=Counter)
    #: Why marketing cannot use the Marketing Messages API, and how to onboard (None: it can).
    marketing_warning: str | None = None

    @property
    def has_messages(self) -> bool:
        return sum(self.messages.values()) > 0


def _day(column: Any, session: Session) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in this database's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def week_starts(now: dt.datetime) -> list[dt.date]:
    """First days of the 7-day periods the charts show, oldest first; the last ends today, so
    no period is a partial week that would look like a drop."""
    today = now.date()
    count = HISTORY_DAYS // 7
    return [today - dt.timedelta(days=7 * n + 6) for n in range(count - 1, -1, -1)]


def _fold(rows: list[tuple[Any, int]], weeks: list[dt.date]) -> list[int]:
    """Sum per-day values into the 7-day period each day belongs to."""
    last_day = weeks[-1] + dt.timedelta(days=6)
    totals = [0] * len(weeks)
    for day, value in rows:
        back = (last_day - _as_date(day)).days
        if 0 <= back < 7 * len(weeks):
            totals[len(weeks) - 1 - back // 7] += int(value or 0)
    return totals


def build_dashboard(session: Session, store: Store, now: dt.datetime) -> Dashboard:
    weeks = week_starts(now)
    since = dt.datetime.combine(weeks[0], dt.time(), tzinfo=dt.UTC)
    spend_by_week, messages_by_week = _message_series(session, store, since, weeks)
    account = account_of(session, store)
    conversions, revenue, revenue_by_week = _conversions(session, store, since, weeks)
    return Dashboard(
        weeks=weeks,
        messages=message_counts(session, store),
        messages_by_week=messages_by_week,
        consent_by_source=consent_by_source(session, store),
        optins_by_week=_consent_series(session, store, since, weeks),
        spend_micros=month_spend_micros(session, store, now),
        budget_minor=store.setting("monthly_budget_minor"),
        forecast_micros=forecast_next_30_days(session, store, now),
        spend_by_week=spend_by_week,
        conversions=conversions,
        attributed_revenue_minor=revenue,
        revenue_by_week=revenue_by_week,
        incremental=incremental_recovery(session, store),
        account=account,
        templates_by_status=_templates_by_status(session, store),
        marketing_warning=routing.warning(account),
    )


def message_counts(session: Session, store: Store) -> Counter[str]:
    """sent, delivered, read, failed, skipped, pending: one grouped query."""
    rows = session.execute(
        select(Notification.state, Notification.delivery_status, func.count())
        .where(Notification.store_id == store.id)
        .group_by(Notification.state, Notification.delivery_status)
    ).all()
    counts: Counter[str] = Counter()
    for state, delivery, count in rows:
        counts[state] += count
        if state == NotificationState.SENT and delivery in ("delivered", "read"):
            counts["delivered"] += count
        if state == NotificationState.SENT and delivery == "read":
            counts["read"] += count
        if state == NotificationState.SENT and delivery == "failed":
            counts["failed"] += count
    return counts


def _message_series(
    session: Session, store: Store, since: dt.datetime, weeks: list[dt.date]
) -> tuple[list[int], dict[str, list[int]]]:
    day = _day(Notification.sent_at, session)
    rows = session.execute(
        select(
            day,
            func.count(),
            func.count(Notification.delivered_at),
            func.count(Notification.read_at),
            func.coalesce(func.sum(Notification.cost_micros), 0),
        )
        .where(
            Notification.store_id == store.id,
            Notification.state == NotificationState.SENT,
            Notification.sent_at >= since,
        )
        .group_by(day)
    ).all()
    series = {
        "sent": _fold([(r[0], r[1]) for r in rows], weeks),
        "delivered": _fold([(r[0], r[2]) for r in rows], weeks),
        "read": _fold([(r[0], r[3]) for r in rows], weeks),
    }
    return _fold([(r[0], r[4]) for r in rows], weeks), series


def consent_by_source(session: Session, store: Store) -> dict[str, Counter[str]]:
    """{source: {requested, confirmed, opted_out}}, one grouped query."""
    rows = session.execute(
        select(ConsentEvent.source, ConsentEvent.kind, func.count())
        .where(ConsentEvent.store_id == store.id)
        .group_by(ConsentEvent.source, ConsentEvent.kind)
    ).all()
    result: dict[str, Counter[str]] = {}
    for source, kind, count in rows:
        result.setdefault(source, Counter())[kind] += count
    return dict(sorted(result.items()))


def _consent_series(
    session: Session, store: Store, since: dt.datetime, weeks: list[dt.date]
) -> dict[str, list[int]]:
    day = _day(ConsentEvent.occurred_at, session)
    rows = session.execute(
        select(day, ConsentEvent.kind, func.count())
        .where(ConsentEvent.store_id == store.id, ConsentEvent.occurred_at >= since)
        .group_by(day, ConsentEvent.kind)
    ).all()
    return {
        kind: _fold([(d, c) for d, k, c in rows if k == kind], weeks)
        for kind in ("requested", "confirmed", "opted_out")
    }


#: Numbers that share their first seven E.164 characters ("+49151x", "+1416xx") share a country
#: (and so a price): pricing one of each prefix keeps the forecast to a few dozen look-ups.
PRICE_PREFIX = 7


def forecast_next_30_days(session: Session, store: Store, now: dt.datetime) -> int:
    """Cost of the next 30 days if they look like the last 30, at today's rates, plus what is
    already waiting in the outbox."""
    prefix = func.substr(Notification.phone, 1, PRICE_PREFIX)
    rows = session.execute(
        select(func.min(Notification.phone), func.count())
        .where(
            Notification.store_id == store.id,
            Notification.phone.is_not(None),
            (
                (Notification.state == NotificationState.SENT)
                & (Notification.sent_at >= now - dt.timedelta(days=30))
            )
            | (Notification.state == NotificationState.PENDING),
        )
        .group_by(prefix)
    ).all()
    return sum(forecast_micros(store, [phone]) * count for phone, count in rows)


def _conversions(
    session: Session, store: Store, since: dt.datetime, weeks: list[dt.date]
) -> tuple[int, int, list[int]]:
    day = _day(Conversion.attributed_at, session)
    rows = session.execute(
        select(day, func.count(), func.coalesce(func.sum(Conversion.revenue_minor), 0))
        .where(Conversion.store_id == store.id)
        .group_by(day)
    ).all()
    count = sum(int(r[1]) for r in rows)
    revenue = sum(int(r[2]) for r in rows)
    return count, revenue, _fold([(r[0], r[2]) for r in rows], weeks)


def incremental_recovery(session: Session, store: Store) -> Incremental:
    """Carts recovered with reminders against carts whose reminders the holdout withheld."""
    holdout = (Notification.state == NotificationState.SKIPPED) & (
        Notification.reason == HOLDOUT_REASON
    )
    recovered = Cart.state == CartState.RECOVERED
    rows = session.execute(
        select(
            holdout.label("holdout"),
            recovered.label("recovered"),
            func.count(func.distinct(Cart.id)),
            func.coalesce(func.sum(Cart.total_minor), 0),
        )
        .join(Cart, Cart.id == Notification.cart_id)
        .where(
            Notification.store_id == store.id,
            Notification.flow == Flow.CART_REMINDER,
            (Notification.state == NotificationState.SENT) | holdout,
        )
        .group_by(holdout, recovered)
    ).all()
    counts = {(bool(h), bool(r)): (int(n), int(total)) for h, r, n, total in rows}
    treated_recovered, treated_value = counts.get((False, True), (0, 0))
    treated = treated_recovered + counts.get((False, False), (0, 0))[0]
    holdout_recovered = counts.get((True, True), (0, 0))[0]
    holdout_total = holdout_recovered + counts.get((True, False), (0, 0))[0]
    difference = None
    if holdout_total >= MIN_HOLDOUT_CARTS:
        difference = rate_difference(treated_recovered, treated, holdout_recovered, holdout_total)
    extra_carts = extra_revenue = None
    if difference is not None:
        extra_carts = Interval(*(value * treated for value in _triple(difference)))
        average = treated_value / treated_recovered if treated_recovered else 0
        extra_revenue = Interval(*(value * average for value in _triple(extra_carts)))
    return Incremental(
        treated=treated,
        treated_recovered=treated_recovered,
        holdout=holdout_total,
        holdout_recovered=holdout_recovered,
        treated_rate=wilson(treated_recovered, treated),
        holdout_rate=wilson(holdout_recovered, holdout_total),
        difference=difference,
        extra_carts=extra_carts,
        extra_revenue_minor=extra_revenue,
    )


def _triple(interval: Interval) -> tuple[float, float, float]:
    return interval.estimate, interval.low, interval.high


def _templates_by_status(session: Session, store: Store) -> Counter[str]:
    rows = session.execute(
        select(WhatsAppTemplate.status, func.count())
        .where(WhatsAppTemplate.store_id == store.id)
        .group_by(WhatsAppTemplate.status)
    ).all()
    return Counter({status: count for status, count in rows})
