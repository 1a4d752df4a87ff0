"""A campaign's life after its draft: start (compose into the outbox once), pause, resume, cancel.

A campaign lives in the outbox as rows keyed by its prefix; pausing or cancelling holds the
unsent ones as `skipped` with a reason, so resuming finds exactly the rows a pause held.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plugin.campaigns import coupons, watch
from plugin.campaigns.errors import CampaignError
from plugin.campaigns.plan import EXPIRY, FLOW, into_window, key_prefix, plan_campaign
from plugin.config import Settings
from plugin.engine.localtime import buyer_zone
from plugin.engine.outbox import cycle_collector_paused, insert_rows
from plugin.models import Campaign, CampaignStatus, Customer, Notification, NotificationState, Store

#: The reasons a held row keeps (stored): a resume takes back only the rows a pause held.
PAUSED_REASON = "campaign_paused"
CANCELLED_REASON = "campaign_cancelled"


def rows_of(store: Store, campaign: Campaign) -> Any:
    """Every outbox row of the campaign, whatever its state (a select to narrow further)."""
    return select(Notification).where(
        Notification.store_id == store.id,
        Notification.flow == FLOW,
        Notification.dedupe_key.startswith(key_prefix(campaign), autoescape=True),
    )


def start_campaign(
    session: Session,
    settings: Settings,
    store: Store,
    campaign: Campaign,
    now: dt.datetime,
    at: dt.datetime | None,
) -> int:
    """Compose the campaign into the outbox (once), or resume a paused one; rows now pending."""
    if campaign.status == CampaignStatus.CANCELLED:
        raise CampaignError("the campaign was cancelled")
    if campaign.status == CampaignStatus.PAUSED:
        return _resume(session, store, campaign, now)
    if campaign.status == CampaignStatus.DRAFT:
        check_coupon_access(session, settings, store, campaign)
        campaign.starts_at = at or now
        with cycle_collector_paused():
            plan = plan_campaign(session, settings, store, campaign, campaign.starts_at, now)
        pending = [r for r in plan.rows if r["state"] == NotificationState.PENDING]
        try:  # before the rows exist: a code that failed leaves nothing to send without it
            coupons.issue_codes(session, settings, store, campaign, pending)
        except coupons.CouponError as error:
            raise CampaignError(str(error)) from None
        with cycle_collector_paused():
            inserted = insert_rows(session, plan.rows)
        campaign.status, campaign.started_at = CampaignStatus.RUNNING, now
        if inserted == len(plan.rows):  # all new: no need to count them again in the outbox
            return len(pending)
    return 0 if campaign.status != CampaignStatus.RUNNING else _pending(session, store, campaign)


def check_coupon_access(
    session: Session, settings: Settings, store: Store, campaign: Campaign
) -> None:
    """Before anything is composed or sent: the shop lets us create the codes it needs."""
    try:
        coupons.check_access(session, settings, store, campaign)
    except coupons.CouponAccessError as error:
        raise CampaignError(str(error), "coupon_access") from None
    except coupons.CouponError as error:
        raise CampaignError(str(error), "coupon_failed") from None


def _pending(session: Session, store: Store, campaign: Campaign) -> int:
    statement = rows_of(store, campaign).where(Notification.state == NotificationState.PENDING)
    return session.scalar(select(func.count()).select_from(statement.subquery())) or 0


def _hold(session: Session, store: Store, campaign: Campaign, reason: str, now: dt.datetime) -> int:
    """Unsent rows end `skipped` with the reason; a row a worker holds goes with its batch."""
    return session.execute(
        update(Notification)
        .where(
            Notification.store_id == store.id,
            Notification.flow == FLOW,
            Notification.dedupe_key.startswith(key_prefix(campaign), autoescape=True),
            Notification.state == NotificationState.PENDING,
        )
        .values(state=NotificationState.SKIPPED, reason=reason, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount


def pause_campaign(session: Session, store: Store, campaign: Campaign, now: dt.datetime) -> int:
    """Hold the unsent rows until the owner starts the campaign again; how many were held."""
    if campaign.status != CampaignStatus.RUNNING:
        raise CampaignError(f"only a running campaign can be paused (it is {campaign.status})")
    campaign.status, campaign.paused_at = CampaignStatus.PAUSED, now
    return _hold(session, store, campaign, PAUSED_REASON, now)


def cancel_campaign(session: Session, store: Store, campaign: Campaign, now: dt.datetime) -> int:
    """End the campaign for good: unsent and paused rows stay unsent; how many were held."""
    if campaign.status == CampaignStatus.CANCELLED:
        return 0
    held = 0
    if campaign.status == CampaignStatus.PAUSED:
        held = session.execute(
            update(Notification)
            .where(
                Notification.store_id == store.id,
                Notification.dedupe_key.startswith(key_prefix(campaign), autoescape=True),
                Notification.reason == PAUSED_REASON,
            )
            .values(reason=CANCELLED_REASON, updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    campaign.status, campaign.cancelled_at = CampaignStatus.CANCELLED, now
    return held + _hold(session, store, campaign, CANCELLED_REASON, now)


def _resume(session: Session, store: Store, campaign: Campaign, now: dt.datetime) -> int:
    """Paused rows go back to `pending`, each at its slot or the next opening of its window."""
    rows = session.scalars(
        rows_of(store, campaign).where(
            Notification.state == NotificationState.SKIPPED,
            Notification.reason == PAUSED_REASON,
        )
    ).all()
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.id.in_({r.customer_id for r in rows} - {None}))
        )
    }
    for row in rows:
        customer = customers.get(row.customer_id or 0)
        zone = buyer_zone(
            store.timezone,
            customer_zone=customer.timezone if customer else None,
            customer_country=customer.country if customer else None,
            phone=row.phone,
        )
        due = (
            row.due_at
            if row.due_at > now
            else into_window(now, zone, campaign.window_start, campaign.window_end)
        )
        row.state, row.reason, row.due_at = NotificationState.PENDING, None, due
        if row.expires_at is not None:
            row.expires_at = max(row.expires_at, due + EXPIRY)
    campaign.status, campaign.paused_at = CampaignStatus.RUNNING, None
    watch.accept_on_resume(session, store, campaign)
    session.flush()
    return len(rows)
