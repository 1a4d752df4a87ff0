"""Guards: the rules every message must pass, when it is composed and again right before sending.

Each guard either passes, vetoes (the row ends `skipped` with the guard's name as its reason) or
asks to wait until a later moment (quiet hours, frequency caps, Meta's per-buyer hold); a wait
beyond the message's expiry ends it `expired` with the guard's name.

The double opt-in's confirmation request is not marketing: it is a UTILITY template to a
subscription that is still pending, sent right after the buyer asked for it. It has its own
guards (CONFIRMATION_GUARDS): the shop active, the subscription pending and not opted out, one
confirmation per opt-in, the number's quality, the template approved (it waits while the
template is in Meta's review). Quiet hours, caps and
the marketing budget do not hold it back, and it does not count against the caps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from plugin.consent import ledger
from plugin.engine.localtime import buyer_zone, next_allowed, parse_clock
from plugin.models import (
    Cart,
    CartState,
    Customer,
    Flow,
    Notification,
    NotificationState,
    Order,
    Store,
    StoreStatus,
    Subscription,
    SubscriptionState,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from plugin.sync import NOT_A_PURCHASE
from plugin.whatsapp.pricing import budget_allows
from plugin.whatsapp.templates import approved_template

#: A guard: True passes, False vetoes, a moment asks to wait until then.
Guard = Callable[[Session, "Facts", dt.datetime], bool | dt.datetime]
#: How soon a confirmation waiting for its template's review looks again.
REVIEW_RECHECK = dt.timedelta(minutes=15)
#: A chain of waits (quiet hours, then a cap, then quiet hours again) settles within a few steps.
MAX_WAIT_STEPS = 6


@dataclass
class Facts:
    """What the guards look at for one message, loaded once."""

    store: Store
    phone: str
    flow: str
    purpose: str
    subscription: Subscription | None
    customer: Customer | None = None
    cart: Cart | None = None
    account: WhatsAppAccount | None = None
    template: WhatsAppTemplate | None = None
    cost_micros: int = 0
    notification_id: int | None = None
    #: Preloaded by bulk composition so guards need no query per buyer.
    recent_sends: list[dt.datetime] | None = None
    month_spent_micros: int | None = None
    #: The template was read in this transaction just now (a batch before sending).
    template_fresh: bool = False


@dataclass(frozen=True)
class Verdict:
    """None as guard: every guard passed and the message may go at `at`."""

    guard: str | None
    at: dt.datetime
    #: True when the guard asked to wait past the message's expiry.
    expired: bool = False

    @property
    def passed(self) -> bool:
        return self.guard is None


def choose_template(
    session: Session, store: Store, purpose: str, locale: str | None
) -> WhatsAppTemplate | None:
    """The APPROVED template for the purpose in the buyer's language, else the shop's default."""
    return approved_template(session, store, purpose, locale)


def load_account(session: Session, store: Store) -> WhatsAppAccount | None:
    return session.scalars(
        select(WhatsAppAccount).where(WhatsAppAccount.store_id == store.id)
    ).first()


def store_active(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    return facts.store.status == StoreStatus.ACTIVE


def subscription_sendable(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    subscription = facts.subscription
    if ledger.is_sendable(subscription, now):
        return True
    held = (
        subscription is not None
        and subscription.state == SubscriptionState.CONFIRMED
        and not subscription.undeliverable
        and subscription.held_until is not None
    )
    # Meta's per-buyer cap (131049): wait out the hold rather than drop the message.
    return subscription.held_until if held and subscription is not None else False  # type: ignore[return-value]


def confirmation_pending(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    """The confirmation request goes only to an opt-in still waiting for it (not opted out)."""
    subscription = facts.subscription
    return (
        subscription is not None
        and subscription.state == SubscriptionState.PENDING
        and not subscription.undeliverable
        and (subscription.pending_expires_at is None or subscription.pending_expires_at > now)
    )


def first_confirmation(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    """Never twice: no second confirmation while one sent in this pending period is unanswered.

    A pending period lasts `pending_optin_days`; a buyer who ticks the box again within it
    (a reload, a second device) already has the question on WhatsApp. Of two claimed at once
    (one batch, or two workers) the older row goes: each sees the other `sending`, and only
    the younger one yields, so exactly one is sent.
    """
    if facts.subscription is None:
        return False
    moment = func.coalesce(Notification.sent_at, Notification.claimed_at)
    since = now - dt.timedelta(days=int(facts.store.setting("pending_optin_days")))
    earlier = Notification.state == NotificationState.SENT
    if facts.notification_id is not None:
        earlier = earlier | (
            (Notification.state == NotificationState.SENDING)
            & (Notification.id < facts.notification_id)
        )
    else:
        earlier = earlier | (Notification.state == NotificationState.SENDING)
    statement = select(func.count()).where(
        Notification.store_id == facts.store.id,
        Notification.subscription_id == facts.subscription.id,
        Notification.flow == Flow.OPTIN_CONFIRMATION,
        earlier,
        moment > since,
    )
    return not session.scalar(statement)


def confirmation_template(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    """Approved: go. In Meta's review: wait and look again (a new shop's first opt-ins come
    while its templates are reviewed; the row expires with the opt-in). Otherwise: held."""
    if template_approved(session, facts, now):
        return True
    in_review = facts.template is not None and facts.template.status == "PENDING"
    return now + REVIEW_RECHECK if in_review else False


def cart_open(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    """A reminder only while the cart is unbought, young enough, and the buyer has not ordered."""
    cart = facts.cart
    if facts.flow != "cart_reminder":
        return True
    if cart is None or cart.state not in (CartState.OPEN, CartState.ABANDONED):
        return False
    max_age = dt.timedelta(hours=facts.store.setting("cart_max_age_hours"))
    if now >= cart.last_activity_at + max_age:
        return False
    buyer = [Order.phone == facts.phone]
    if cart.customer_id is not None:
        buyer.append(Order.customer_id == cart.customer_id)
    ordered = session.scalar(
        select(func.count())
        .select_from(Order)
        .where(
            Order.store_id == facts.store.id,
            or_(*buyer),
            Order.placed_at >= cart.last_activity_at,
            Order.cancelled_at.is_(None),
            or_(Order.status.is_(None), func.lower(Order.status).not_in(NOT_A_PURCHASE)),
        )
    )
    return not ordered


def phone_quality(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    account = facts.account
    return (
        account is not None
        and account.quality_rating != "RED"
        and not account.marketing_paused_reason
    )


def template_approved(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    template = facts.template
    if template is None:
        return False
    if facts.notification_id is not None and not facts.template_fresh:
        session.refresh(template, ["status"])  # before sending: Meta may have paused it since
    return template.status == "APPROVED"


def monthly_budget(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    # A row already `sending` counts in the month's spend; a new one adds its own cost.
    extra = 0 if facts.notification_id is not None else facts.cost_micros
    budget_minor = facts.store.setting("monthly_budget_minor")
    if facts.month_spent_micros is not None and budget_minor is not None:
        return facts.month_spent_micros + extra <= int(budget_minor) * 10_000
    return budget_allows(session, facts.store, now, extra)


def frequency_cap(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    """At most cap_per_24h and cap_per_7d marketing messages per buyer; else wait for room."""
    wait_until: dt.datetime | None = None
    windows = ((dt.timedelta(hours=24), "cap_per_24h"), (dt.timedelta(days=7), "cap_per_7d"))
    for window, setting in windows:
        cap = int(facts.store.setting(setting))
        if cap <= 0:
            return False
        times = recent_send_times(session, facts, now - window, now)
        if len(times) >= cap:
            free_at = times[cap - 1] + window  # when the cap-th newest leaves the window
            wait_until = free_at if wait_until is None else max(wait_until, free_at)
    return True if wait_until is None else wait_until


def recent_send_times(
    session: Session, facts: Facts, since: dt.datetime, until: dt.datetime
) -> list[dt.datetime]:
    """When this buyer got (or is getting) marketing from this shop, newest first."""
    if facts.recent_sends is not None:
        return [t for t in facts.recent_sends if since < t <= until]
    moment = func.coalesce(Notification.sent_at, Notification.claimed_at)
    statement = select(moment).where(
        Notification.store_id == facts.store.id,
        Notification.phone == facts.phone,
        Notification.state.in_([NotificationState.SENT, NotificationState.SENDING]),
        Notification.flow != Flow.OPTIN_CONFIRMATION,  # not marketing: see the docstring
        moment > since,
        moment <= until,
    )
    if facts.notification_id is not None:
        statement = statement.where(Notification.id != facts.notification_id)
    return sorted(session.scalars(statement).all(), reverse=True)


def quiet_hours(session: Session, facts: Facts, now: dt.datetime) -> bool | dt.datetime:
    store, customer = facts.store, facts.customer
    zone = buyer_zone(
        store.timezone,
        customer_zone=customer.timezone if customer else None,
        customer_country=customer.country if customer else None,
        phone=facts.phone,
    )
    allowed = next_allowed(
        now,
        zone,
        parse_clock(store.setting("quiet_hours_start")),
        parse_clock(store.setting("quiet_hours_end")),
        store.setting("quiet_days"),
    )
    return True if allowed <= now else allowed


#: In order: the cheap, final vetoes first, the waits last.
GUARDS = (
    store_active,
    subscription_sendable,
    cart_open,
    phone_quality,
    template_approved,
    monthly_budget,
    frequency_cap,
    quiet_hours,
)
#: The confirmation request of the double opt-in (see the module docstring).
CONFIRMATION_GUARDS = (
    store_active,
    confirmation_pending,
    first_confirmation,
    phone_quality,
    confirmation_template,
)


#: Guards whose wait is a time to look again, not a time known to pass: following them
#: forward would find the same answer at every step.
RECHECKS = frozenset({confirmation_template})


def guards_for(flow: str) -> tuple[Guard, ...]:
    return CONFIRMATION_GUARDS if flow == Flow.OPTIN_CONFIRMATION else GUARDS


def evaluate(
    session: Session, facts: Facts, now: dt.datetime, expires_at: dt.datetime | None
) -> Verdict:
    """Run every guard at `now`; follow waits forward until all pass, one vetoes, or it expires."""
    at = now
    for _ in range(MAX_WAIT_STEPS):
        waited = False
        for guard in guards_for(facts.flow):
            outcome = guard(session, facts, at)
            if outcome is True:
                continue
            if outcome is False:
                return Verdict(guard.__name__, at)
            if expires_at is not None and outcome >= expires_at:
                return Verdict(guard.__name__, outcome, expired=True)
            if guard in RECHECKS:  # the future is unknown: look again then, from the start
                return Verdict(None, outcome)
            at, waited = outcome, True
            break
        if not waited:
            return Verdict(None, at)
    return Verdict("quiet_hours", at, expired=True)
