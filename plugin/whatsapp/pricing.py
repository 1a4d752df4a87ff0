"""What a message costs, what a shop spent this month, and whether its budget allows more.

Meta charges per delivered message by pricing category and the recipient's country code
(per-message pricing since 2025-07-01). Categories in Meta's status webhooks: marketing,
utility, authentication, authentication_international, service (a free-form reply) and
referral_conversion (part of a free entry point conversation: free). From 2026-10-01 service
messages and utility templates inside the customer service window are billed at the utility
rate. The figures are data in `plugin/whatsapp/rate_cards.py`, each card with its date and
source.
https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing
Amounts are micros (millionths of the currency) because Meta's rates have four decimals.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import Notification, NotificationState, Store
from plugin.phones import phone_region
from plugin.whatsapp.rate_cards import CARDS, EUR_2025_07, SERVICE_BILLING_FROM, USD_2025_07, Rate
from plugin.whatsapp.rate_cards import UNVERIFIED_MARKETS as UNVERIFIED_MARKETS

#: When the shipped figures took effect (the card's own date, rate_cards.EUR_2025_07).
RATE_CARD_DATE = EUR_2025_07.effective
#: EUR per delivered message by recipient country ("*": every country not listed).
RATE_CARD_EUR: dict[str, Rate] = dict(EUR_2025_07.rows)
#: USD per delivered message; only verified rows. A country missing here is priced from the
#: EUR card (and reported in EUR).
RATE_CARD_USD: dict[str, Rate] = dict(USD_2025_07.rows)
RATE_CARDS = {card.currency: dict(card.rows) for card in CARDS}

#: Meta's free pricing types: nothing is charged for these messages (before
#: SERVICE_BILLING_FROM for free_customer_service; a free entry point stays free).
FREE_TYPES = frozenset({"free_customer_service", "free_entry_point"})
#: The categories a card prices directly.
PRICED = ("marketing", "utility", "authentication")


def rate_card(store: Store) -> dict[str, Rate]:
    """The shipped EUR card with the owner's overrides (settings "rate_card_overrides")."""
    card = dict(RATE_CARD_EUR)
    overrides = (store.settings or {}).get("rate_card_overrides") or {}
    for country, values in overrides.items():
        card[country.upper()] = Rate(**{k: int(v) for k, v in values.items()})
    return card


def service_billed(at: dt.datetime | None = None) -> bool:
    """True once Meta bills service and in-window utility messages (from 2026-10-01)."""
    return (at or utcnow()).date() >= SERVICE_BILLING_FROM


def price_of(rate: Rate, category: str, at: dt.datetime | None = None) -> int:
    """A row's price for one of Meta's pricing categories at a moment."""
    category = category.lower()
    if category == "referral_conversion":
        return 0  # a free entry point conversation
    if category == "service":
        return rate.utility if service_billed(at) else 0
    if category == "authentication_international":
        international = rate.authentication_international
        return rate.authentication if international is None else international
    if category.startswith("marketing"):
        return rate.marketing  # marketing_lite: the Marketing Messages API's marketing
    return getattr(rate, category) if category in PRICED else rate.utility


def expected_cost_micros(
    store: Store, phone: str | None, category: str = "marketing", at: dt.datetime | None = None
) -> int:
    """The price of one delivered message of this category to this number, in EUR micros."""
    card = rate_card(store)
    country = phone_region(phone) if phone else None
    rate = card.get(country or "*", card["*"])
    return price_of(rate, category, at)


def expected_cost(
    store: Store, phone: str | None, category: str = "marketing", at: dt.datetime | None = None
) -> tuple[int, str]:
    """(micros, currency): in the shop's currency where the card has a verified row, else EUR."""
    country = phone_region(phone) if phone else None
    overridden = country and country in ((store.settings or {}).get("rate_card_overrides") or {})
    card = RATE_CARDS.get(store.currency, {})
    if country in card and not overridden and category.lower() in PRICED:
        return price_of(card[country], category, at), store.currency
    return expected_cost_micros(store, phone, category, at), "EUR"


def charged_cost(
    store: Store, phone: str | None, pricing: dict[str, object], at: dt.datetime | None = None
) -> tuple[int, str]:
    """What Meta charged for one message delivered at `at`, from a status webhook's `pricing`.

    Meta's `billable: false` and a free entry point cost 0. A `free_customer_service` message
    costs 0 before 2026-10-01 and the utility rate from then on; otherwise the card's price
    for the category.
    https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing
    """
    kind = str(pricing.get("type") or "regular")
    category = str(pricing.get("category") or "marketing").lower()
    if pricing.get("billable") is False or kind == "free_entry_point":
        return 0, "EUR"
    if kind == "free_customer_service":
        if not service_billed(at):
            return 0, "EUR"
        category = "utility"
    return expected_cost(store, phone, category, at)


def month_start(store: Store, now: dt.datetime) -> dt.datetime:
    """Start of the shop's current calendar month, in the shop's own time zone."""
    local = now.astimezone(ZoneInfo(store.timezone))
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def month_spend_micros(session: Session, store: Store, now: dt.datetime) -> int:
    """Spent (and committed to: messages sending or sent) since the shop's month began."""
    total = session.scalar(
        select(func.coalesce(func.sum(Notification.cost_micros), 0)).where(
            Notification.store_id == store.id,
            Notification.state.in_([NotificationState.SENDING, NotificationState.SENT]),
            Notification.sent_at.is_(None) | (Notification.sent_at >= month_start(store, now)),
        )
    )
    return int(total or 0)


def budget_allows(session: Session, store: Store, now: dt.datetime, extra_micros: int = 0) -> bool:
    """True when no budget is set or this month's spend plus `extra_micros` stays within it."""
    budget_minor = store.setting("monthly_budget_minor")
    if budget_minor is None:
        return True
    return month_spend_micros(session, store, now) + extra_micros <= int(budget_minor) * 10_000


def forecast_micros(
    store: Store, recipients: list[str], category: str = "marketing", at: dt.datetime | None = None
) -> int:
    """What sending one message of this category to each recipient at `at` would cost."""
    return sum(expected_cost_micros(store, phone, category, at) for phone in recipients)
