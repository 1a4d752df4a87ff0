"""Guards: the rules every message must pass, when it is composed and again right before sending.

Each guard answers with a `Ruling`: it passes, vetoes (the row ends `skipped` with the guard's
name as its reason) or asks to wait until a later moment (quiet hours, frequency caps, Meta's
per-buyer hold); a wait beyond the message's expiry ends it `expired` with the guard's name.
Guards ask the database nothing: they read `Facts`, filled before any guard runs by the one
loader every path uses (plugin/engine/preload.py), so compose, the campaign plan and dispatch
apply the same rules at the cost of a few set queries per batch. A guard's name is stored data
(`Notification.reason`, the outbox's filter, the labels of plugin/labels.py), so it is a
constant here, never a function's name: renaming code renames no row.

The double opt-in's confirmation request is not marketing: it is a UTILITY template to a
subscription that is still pending, sent right after the buyer asked for it. It has its own
guards (CONFIRMATION_GUARDS): the shop active, the subscription pending and not opted out, one
confirmation per opt-in, the number's quality, the template approved (it waits while the
template is in Meta's review). Quiet hours, caps and the marketing budget do not hold it back,
and it does not count against the caps.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from plugin.consent import ledger
from plugin.engine.localtime import buyer_zone, next_allowed, parse_clock
from plugin.models import (
    Cart,
    CartState,
    Customer,
    Flow,
    Store,
    StoreStatus,
    SubscriptionState,
    WhatsAppAccount,
    WhatsAppTemplate,
)

#: Guard names, stored as `Notification.reason`: never change one (rows and labels keep it).
STORE_ACTIVE = "store_active"
SUBSCRIPTION_SENDABLE = "subscription_sendable"
CONFIRMATION_PENDING = "confirmation_pending"
FIRST_CONFIRMATION = "first_confirmation"
CONFIRMATION_TEMPLATE = "confirmation_template"
CART_OPEN = "cart_open"
PHONE_QUALITY = "phone_quality"
TEMPLATE_APPROVED = "template_approved"
MONTHLY_BUDGET = "monthly_budget"
FREQUENCY_CAP = "frequency_cap"
QUIET_HOURS = "quiet_hours"
#: How soon a confirmation waiting for its template's review looks again.
REVIEW_RECHECK = dt.timedelta(minutes=15)
#: A chain of waits (quiet hours, then a cap, then quiet hours again) settles within a few steps.
MAX_WAIT_STEPS = 6


@dataclass(frozen=True, slots=True)
class Ruling:
    """A guard's answer: pass, veto, or wait until `until` (see PASS, VETO, wait_until)."""

    vetoed: bool = False
    until: dt.datetime | None = None


PASS = Ruling()
VETO = Ruling(vetoed=True)


def wait_until(moment: dt.datetime) -> Ruling:
    return Ruling(until=moment)


def ruling(allowed: bool) -> Ruling:
    return PASS if allowed else VETO


@dataclass
class Facts:
    """What the guards look at for one message, loaded before any guard runs."""

    store: Store
    phone: str
    flow: str
    purpose: str
    subscription: ledger.Consent | None
    customer: Customer | None = None
    cart: Cart | None = None
    account: WhatsAppAccount | None = None
    template: WhatsAppTemplate | None = None
    cost_micros: int = 0
    notification_id: int | None = None
    #: Preloaded (plugin/engine/preload.py): the guards ask the database nothing themselves.
    #: When the buyer got marketing from this shop in the last 7 days, newest first.
    recent_sends: list[dt.datetime] = field(default_factory=list)
    #: This month's spend of the shop (read only where it has a budget).
    month_spent_micros: int = 0
    #: The buyer ordered since the cart's last activity.
    ordered_since_cart: bool = False
    #: A confirmation went to this opt-in already, or an older one is on its way.
    earlier_confirmation: bool = False


@dataclass(frozen=True)
class Guard:
    """A rule and the name its vetoes and expiries are stored under."""

    name: str
    check: Callable[[Facts, dt.datetime], Ruling]
    #: The wait is a time to look again, not a time known to pass: following it forward
    #: would find the same answer at every step.
    recheck: bool = False


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


def store_active(facts: Facts, now: dt.datetime) -> Ruling:
    return ruling(facts.store.status == StoreStatus.ACTIVE)


def subscription_sendable(facts: Facts, now: dt.datetime) -> Ruling:
    subscription = facts.subscription
    if ledger.is_sendable(subscription, now):
        return PASS
    if (
        subscription is not None
        and subscription.state == SubscriptionState.CONFIRMED
        and not subscription.undeliverable
        and subscription.held_until is not None
    ):  # Meta's per-buyer cap (131049): wait out the hold rather than drop the message
        return wait_until(subscription.held_until)
    return VETO


def confirmation_pending(facts: Facts, now: dt.datetime) -> Ruling:
    """The confirmation request goes only to an opt-in still waiting for it (not opted out)."""
    subscription = facts.subscription
    return ruling(
        subscription is not None
        and subscription.state == SubscriptionState.PENDING
        and not subscription.undeliverable
        and (subscription.pending_expires_at is None or subscription.pending_expires_at > now)
    )


def first_confirmation(facts: Facts, now: dt.datetime) -> Ruling:
    """Never twice: no second confirmation while one sent in this pending period is unanswered.

    A pending period lasts `pending_optin_days`; a buyer who ticks the box again within it
    (a reload, a second device) already has the question on WhatsApp. Of two claimed at once
    (one batch, or two workers) the older row goes: each sees the other `sending`, and only
    the younger one yields, so exactly one is sent.
    """
    return ruling(facts.subscription is not None and not facts.earlier_confirmation)


def confirmation_template(facts: Facts, now: dt.datetime) -> Ruling:
    """Approved: go. In Meta's review: wait and look again (a new shop's first opt-ins come
    while its templates are reviewed; the row expires with the opt-in). Otherwise: held."""
    if template_approved(facts, now) is PASS:
        return PASS
    in_review = facts.template is not None and facts.template.status == "PENDING"
    return wait_until(now + REVIEW_RECHECK) if in_review else VETO


def cart_open(facts: Facts, now: dt.datetime) -> Ruling:
    """A reminder only while the cart is unbought, young enough, and the buyer has not ordered."""
    cart = facts.cart
    if facts.flow != "cart_reminder":
        return PASS
    if cart is None or cart.state not in (CartState.OPEN, CartState.ABANDONED):
        return VETO
    max_age = dt.timedelta(hours=facts.store.setting("cart_max_age_hours"))
    if now >= cart.last_activity_at + max_age:
        return VETO
    return ruling(not facts.ordered_since_cart)


def phone_quality(facts: Facts, now: dt.datetime) -> Ruling:
    account = facts.account
    return ruling(
        account is not None
        and account.quality_rating != "RED"
        and not account.marketing_paused_reason
    )


def template_approved(facts: Facts, now: dt.datetime) -> Ruling:
    template = facts.template
    if template is None:
        return VETO
    return ruling(template.status == "APPROVED")


def monthly_budget(facts: Facts, now: dt.datetime) -> Ruling:
    budget_minor = facts.store.setting("monthly_budget_minor")
    if budget_minor is None:
        return PASS
    # A row already `sending` counts in the month's spend; a new one adds its own cost.
    extra = 0 if facts.notification_id is not None else facts.cost_micros
    return ruling(facts.month_spent_micros + extra <= int(budget_minor) * 10_000)


def frequency_cap(facts: Facts, now: dt.datetime) -> Ruling:
    """At most cap_per_24h and cap_per_7d marketing messages per buyer; else wait for room."""
    room_at: dt.datetime | None = None
    windows = ((dt.timedelta(hours=24), "cap_per_24h"), (dt.timedelta(days=7), "cap_per_7d"))
    for window, setting in windows:
        cap = int(facts.store.setting(setting))
        if cap <= 0:
            return VETO
        times = [t for t in facts.recent_sends if now - window < t <= now]
        if len(times) >= cap:
            free_at = times[cap - 1] + window  # when the cap-th newest leaves the window
            room_at = free_at if room_at is None else max(room_at, free_at)
    return PASS if room_at is None else wait_until(room_at)


def quiet_hours(facts: Facts, now: dt.datetime) -> Ruling:
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
    return PASS if allowed <= now else wait_until(allowed)


#: In order: the cheap, final vetoes first, the waits last.
GUARDS = (
    Guard(STORE_ACTIVE, store_active),
    Guard(SUBSCRIPTION_SENDABLE, subscription_sendable),
    Guard(CART_OPEN, cart_open),
    Guard(PHONE_QUALITY, phone_quality),
    Guard(TEMPLATE_APPROVED, template_approved),
    Guard(MONTHLY_BUDGET, monthly_budget),
    Guard(FREQUENCY_CAP, frequency_cap),
    Guard(QUIET_HOURS, quiet_hours),
)
#: The confirmation request of the double opt-in (see the module docstring).
CONFIRMATION_GUARDS = (
    Guard(STORE_ACTIVE, store_active),
    Guard(CONFIRMATION_PENDING, confirmation_pending),
    Guard(FIRST_CONFIRMATION, first_confirmation),
    Guard(PHONE_QUALITY, phone_quality),
    Guard(CONFIRMATION_TEMPLATE, confirmation_template, recheck=True),
)


def guards_for(flow: str) -> tuple[Guard, ...]:
    return CONFIRMATION_GUARDS if flow == Flow.OPTIN_CONFIRMATION else GUARDS


def evaluate(facts: Facts, now: dt.datetime, expires_at: dt.datetime | None) -> Verdict:
    """Run every guard at `now`; follow waits forward until all pass, one vetoes, or it expires."""
    at = now
    for _ in range(MAX_WAIT_STEPS):
        waited = False
        for guard in guards_for(facts.flow):
            answer = guard.check(facts, at)
            if answer.vetoed:
                return Verdict(guard.name, at)
            if answer.until is None:
                continue
            if expires_at is not None and answer.until >= expires_at:
                return Verdict(guard.name, answer.until, expired=True)
            if guard.recheck:  # the future is unknown: look again then, from the start
                return Verdict(None, answer.until)
            at, waited = answer.until, True
            break
        if not waited:
            return Verdict(None, at)
    return Verdict(QUIET_HOURS, at, expired=True)
