"""A campaign's plan: who gets it when, who does not and why, and what it costs.

The preview and the start share this one function, so the audience and the cost the owner
confirms are the rows then written to the outbox. Buyers without consent (pending, opted out,
erased) get no row at all; a held-out or guard-vetoed buyer gets a `skipped` row with the
reason, so the holdout comparison and the owner's outbox can show them.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.campaigns.audience import Buyer, CampaignCustomer, load_buyers
from plugin.campaigns.coupons import unique_code
from plugin.campaigns.filling import (  # noqa: F401  (placeholder_count: campaign pages)
    body_values,
    copy_code_index,
    has_image_header,
    placeholder_count,
    stop_reply,
    template_parameters,
    tracked_link_index,
)
from plugin.config import Settings
from plugin.engine import guards
from plugin.engine.holdout import BUCKETS, holdout_bucket
from plugin.engine.localtime import buyer_zone, parse_clock, region_of
from plugin.engine.outbox import SubscriptionFacts, with_unsubscribe
from plugin.engine.preload import preload
from plugin.models import (
    Campaign,
    Customer,
    NotificationState,
    Store,
    Subscription,
    SubscriptionState,
    WhatsAppTemplate,
)
from plugin.whatsapp.pricing import expected_cost
from plugin.whatsapp.templates.catalog import account_of

#: The outbox flow of every campaign row.
FLOW = "campaign"
#: A campaign message that cannot go within this long of its slot (caps, quiet hours, Meta's
#: hold) expires: an offer is for its days, not for next week.
EXPIRY = dt.timedelta(hours=48)
#: An erased subscription keeps a keyed hash of its number with this prefix (and is opted out,
#: its customer unlinked): `plugin.consent.gdpr.suppression_key`.
ERASED_PHONE_PREFIX = "erased:"


@dataclass
class Plan:
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Buyers in the segment (any consent state).
    segment_size: int = 0
    #: Rows that will be sent (pending).
    audience: int = 0
    excluded: Counter[str] = field(default_factory=Counter)
    #: country -> {"recipients", "cost_micros", "currency"} of the audience.
    by_country: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: currency -> micros.
    cost_micros: dict[str, int] = field(default_factory=dict)
    budget_minor: int | None = None


def dedupe_key(campaign: Campaign, subscription_id: int) -> str:
    return f"campaign:{campaign.id}:{subscription_id}"


def key_prefix(campaign: Campaign) -> str:
    return f"campaign:{campaign.id}:"


def templates_of(session: Session, store: Store, name: str) -> dict[str, WhatsAppTemplate]:
    """The approved MARKETING versions of a template, by language."""
    rows = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.store_id == store.id,
            WhatsAppTemplate.name == name,
            WhatsAppTemplate.status == "APPROVED",
            WhatsAppTemplate.category == "MARKETING",
        )
    )
    return {row.language: row for row in rows}


def pick_template(
    templates: dict[str, WhatsAppTemplate], store: Store, locale: str | None
) -> WhatsAppTemplate | None:
    """The version in the buyer's language, else the shop's, else any (by language code)."""
    for code in (locale, (locale or "")[:2], store.default_locale, store.default_locale[:2]):
        if code and code in templates:
            return templates[code]
    return templates[sorted(templates)[0]] if templates else None


def send_slot(campaign: Campaign, phone: str, start: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """Spread evenly over spread_hours from the start, then into the buyer's own send window."""
    share = holdout_bucket(campaign.store_id, f"campaign_spread:{campaign.id}", phone) / BUCKETS
    moment = start + dt.timedelta(seconds=int(campaign.spread_hours * 3600 * share))
    return into_window(moment, zone, campaign.window_start, campaign.window_end)


def into_window(moment: dt.datetime, zone: dt.tzinfo, start: str, end: str) -> dt.datetime:
    """`moment` when it is within [start, end) local time there, else the window's next opening."""
    opens, closes = parse_clock(start), parse_clock(end)
    local = moment.astimezone(zone)
    if opens <= local.time() < closes:
        return moment
    day = local.date() if local.time() < opens else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, opens, tzinfo=zone).astimezone(dt.UTC)


def is_held_out(campaign: Campaign, phone: str) -> bool:
    return holdout_bucket(campaign.store_id, f"campaign:{campaign.id}", phone) < (
        campaign.holdout_basis_points
    )


def consent_reason(
    subscription: Subscription | SubscriptionFacts, customer: Customer | CampaignCustomer | None
) -> str | None:
    """Why a buyer of the segment may not get marketing at all; None when they may."""
    erased = subscription.phone.startswith(ERASED_PHONE_PREFIX)
    if erased or (customer is not None and customer.erased_at is not None):
        return "erased"
    if subscription.state == SubscriptionState.OPTED_OUT:
        return "opted_out"
    if subscription.state != SubscriptionState.CONFIRMED:
        return "not_confirmed"
    if subscription.undeliverable:
        return "undeliverable"
    return None


def plan_campaign(
    session: Session,
    settings: Settings,
    store: Store,
    campaign: Campaign,
    start: dt.datetime,
    now: dt.datetime,
) -> Plan:
    """Every row the campaign would write if it started at `start` (evaluated at `now`)."""
    plan = Plan(budget_minor=store.setting("monthly_budget_minor"))
    candidates = load_buyers(session, store, campaign.segment, now)
    plan.segment_size = len(candidates)
    templates = templates_of(session, store, campaign.template_name)
    account = account_of(session, store)
    consented: list[Buyer] = []
    for subscription, customer in candidates:
        reason = consent_reason(subscription, customer)
        if reason is None:
            consented.append((subscription, customer))
        else:
            plan.excluded[reason] += 1
    preloaded = preload(session, now, [store], phones={(store.id, s.phone) for s, _ in consented})
    spent = preloaded.spent.get(store.id, 0)
    committed = 0
    costs: dict[str | None, tuple[int, str]] = {}
    for subscription, customer in consented:
        row = plan_row(
            session,
            settings,
            store,
            campaign,
            subscription,
            customer,
            templates,
            account,
            start,
            costs,
        )
        row["created_at"] = row["updated_at"] = now
        facts = guards.Facts(
            store=store,
            phone=subscription.phone,
            flow=FLOW,
            purpose=FLOW,
            subscription=subscription,  # type: ignore[arg-type]  # read alike: audience.py
            customer=customer,  # type: ignore[arg-type]
            account=account,
            template=row.pop("_template"),
            cost_micros=row["cost_micros"],
            recent_sends=preloaded.recent_sends(store.id, subscription.phone),
            month_spent_micros=spent + committed,
        )
        if is_held_out(campaign, subscription.phone):
            row.update(state=NotificationState.SKIPPED, reason="holdout")
        else:
            verdict = guards.evaluate(facts, row["due_at"], row["expires_at"])
            row["due_at"] = verdict.at
            if not verdict.passed or verdict.expired:
                row.update(state=NotificationState.SKIPPED, reason=verdict.guard)
        if row["state"] == NotificationState.PENDING:
            committed += row["cost_micros"]
            count_cost(plan, subscription.phone, row)
        else:
            plan.excluded[row["reason"]] += 1
        plan.rows.append(row)
    plan.audience = sum(1 for r in plan.rows if r["state"] == NotificationState.PENDING)
    return plan


def cost_of(store: Store, phone: str, costs: dict[str | None, tuple[int, str]]) -> tuple[int, str]:
    """expected_cost for this number's country, looked up once per country and plan (parsing
    every one of 100,000 numbers for it was a fifth of a large campaign's compose)."""
    region = region_of(phone)
    if region not in costs:
        costs[region] = expected_cost(store, phone)
    return costs[region]


def count_cost(plan: Plan, phone: str, row: dict[str, Any]) -> None:
    country = region_of(phone) or "unknown"
    entry = plan.by_country.setdefault(
        country, {"recipients": 0, "cost_micros": 0, "currency": row["cost_currency"]}
    )
    entry["recipients"] += 1
    entry["cost_micros"] += row["cost_micros"]
    currency = row["cost_currency"]
    plan.cost_micros[currency] = plan.cost_micros.get(currency, 0) + row["cost_micros"]


def plan_row(
    session: Session,
    settings: Settings,
    store: Store,
    campaign: Campaign,
    subscription: Subscription | SubscriptionFacts,
    customer: Customer | CampaignCustomer | None,
    templates: dict[str, WhatsAppTemplate],
    account: Any,
    start: dt.datetime,
    costs: dict[str | None, tuple[int, str]] | None = None,
) -> dict[str, Any]:
    """One buyer's outbox row; its `_template` is for the guards and popped before insert."""
    locale = subscription.locale or (customer.locale if customer else None)
    template = pick_template(templates, store, locale)
    zone = buyer_zone(
        store.timezone,
        customer_zone=customer.timezone if customer else None,
        customer_country=customer.country if customer else None,
        phone=subscription.phone,
    )
    due = send_slot(campaign, subscription.phone, start, zone)
    unique = (
        unique_code(settings, campaign, subscription.id) if campaign.coupon_percent_off else None
    )
    values = body_values(store, campaign, customer, locale, template, unique)
    parameters: dict[str, Any] = {"body": [{"type": "text", "text": v} for v in values]}
    buttons: list[dict[str, Any]] = []
    code_index = copy_code_index(template)
    if code_index is not None:
        code = {"type": "coupon_code", "coupon_code": unique or campaign.coupon_code or ""}
        buttons.append({"index": code_index, "sub_type": "copy_code", "parameters": [code]})
    link_token = None
    link_index = tracked_link_index(template) if template else None
    if link_index is not None:
        link_token = secrets.token_urlsafe(18)
        buttons.append(
            {
                "index": link_index,
                "sub_type": "url",
                "parameters": [{"type": "text", "text": link_token}],
            }
        )
    stop = stop_reply(template)
    if stop is not None:
        buttons.append(stop)
    if buttons:
        parameters["buttons"] = buttons
    cost, currency = cost_of(store, subscription.phone, {} if costs is None else costs)
    context: dict[str, Any] = {"purpose": FLOW, "campaign_id": campaign.id}
    if unique:
        context["coupon_code"] = unique
    if link_token:
        context["link_url"] = campaign.link_url or store.base_url or f"https://{store.domain}"
    return {
        "_template": template,
        "store_id": store.id,
        "dedupe_key": dedupe_key(campaign, subscription.id),
        "flow": FLOW,
        "subscription_id": subscription.id,
        "customer_id": customer.id if customer else None,
        "cart_id": None,
        "phone": subscription.phone,
        "template_name": template.name if template else campaign.template_name,
        "language": template.language if template else (locale or store.default_locale),
        "parameters": with_unsubscribe(parameters, template, subscription),
        "context": context,
        "state": NotificationState.PENDING,
        "reason": None,
        "due_at": due,
        "expires_at": due + EXPIRY,
        "cost_micros": cost,
        "cost_currency": currency,
        "link_token": link_token,
    }


def forecast_by_currency(plan: Plan) -> dict[str, int]:
    """Forecast cost per currency in minor units (rounded half up from micros)."""
    totals: dict[str, int] = defaultdict(int)
    for currency, micros in plan.cost_micros.items():
        totals[currency] += (micros + 5_000) // 10_000
    return dict(totals)
