"""A campaign's preview: who would get it, who not and why, what it costs against the budget.

A draft is planned afresh each time (nothing is written); a started campaign is read from its
outbox rows, because what is written is what goes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from plugin.campaigns.lifecycle import CANCELLED_REASON, PAUSED_REASON, rows_of
from plugin.campaigns.plan import Plan, count_cost, forecast_by_currency, plan_campaign
from plugin.config import Settings
from plugin.engine.outbox import cycle_collector_paused
from plugin.models import Campaign, CampaignStatus, NotificationState, Store


def preview(
    session: Session, settings: Settings, store: Store, campaign: Campaign, now: dt.datetime
) -> dict[str, Any]:
    """Audience after every guard, exclusions by reason, forecast cost, share of the budget."""
    if campaign.status != CampaignStatus.DRAFT:
        return describe_plan(campaign, _plan_of_outbox(session, store, campaign))
    start = campaign.starts_at or now
    with cycle_collector_paused():
        return describe_plan(
            campaign, plan_campaign(session, settings, store, campaign, start, now)
        )


def describe_plan(campaign: Campaign, plan: Plan) -> dict[str, Any]:
    """The figures the owner confirms, the same keys for a draft and a started campaign."""
    total = sum(plan.cost_micros.values())
    share = None
    if plan.budget_minor:
        share = round(100 * total / (int(plan.budget_minor) * 10_000), 2)
    return {
        "campaign_id": campaign.id,
        "status": campaign.status,
        "segment_size": plan.segment_size,
        "audience": plan.audience,
        "excluded": dict(sorted(plan.excluded.items())),
        "cost_minor": forecast_by_currency(plan),
        "cost_micros": dict(plan.cost_micros),
        "by_country": plan.by_country,
        "monthly_budget_minor": plan.budget_minor,
        "budget_share_percent": share,
    }


def _plan_of_outbox(session: Session, store: Store, campaign: Campaign) -> Plan:
    """A started campaign's plan is its rows: what is written is what goes."""
    plan = Plan(budget_minor=store.setting("monthly_budget_minor"))
    rows = session.scalars(rows_of(store, campaign)).all()
    for row in rows:
        if row.state in (
            NotificationState.SKIPPED,
            NotificationState.EXPIRED,
        ) and row.reason not in (
            PAUSED_REASON,
            CANCELLED_REASON,
        ):
            plan.excluded[row.reason or row.state] += 1
            continue
        count_cost(
            plan,
            row.phone or "",
            {"cost_micros": row.cost_micros or 0, "cost_currency": row.cost_currency or "EUR"},
        )
        plan.audience += 1
    plan.segment_size = plan.audience + sum(plan.excluded.values())
    return plan
