"""What an owner does with a campaign: create, preview, start, pause, cancel, read results."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plugin.campaigns import coupons, segments, watch
from plugin.campaigns.filling import (
    BODY_PARAMETERS,
    FILLABLE,
    copy_code_index,
    has_image_header,
    placeholder_count,
    template_parameters,
)
from plugin.campaigns.plan import (
    EXPIRY,
    FLOW,
    Plan,
    buyer_zone,
    consent_reason,
    count_cost,
    forecast_by_currency,
    into_window,
    key_prefix,
    plan_campaign,
    plan_row,
    templates_of,
)
from plugin.engine.guards import load_account
from plugin.engine.outbox import cycle_collector_paused, insert_rows
from plugin.models import (
    Campaign,
    CampaignStatus,
    Customer,
    Notification,
    NotificationState,
    Store,
    Subscription,
    WhatsAppTemplate,
)
from plugin.phones import InvalidPhone, parse_phone
from plugin.whatsapp.authoring import parameter_names

WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
PAUSED_REASON = "campaign_paused"
CANCELLED_REASON = "campaign_cancelled"
#: The outbox flow of a test send: dispatched like the campaign, never counted in it.
TEST_FLOW = "campaign_test"
#: A test the guards hold (quiet hours, caps) longer than this is of no use to the owner.
TEST_EXPIRY = dt.timedelta(hours=1)


class CampaignError(ValueError):
    """The owner asked for something a campaign cannot do; the message says what.

    `reason` names the rule that was broken, so a page can say it in the owner's language
    beside the field it concerns (the CLI and the API show the message).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


def create_campaign(
    session: Session,
    store: Store,
    *,
    name: str,
    template: str,
    segment: Any = None,
    holdout_percent: float = 0,
    coupon: str | None = None,
    unique_coupon_percent: int | None = None,
    window: str = "10:00-19:00",
    spread_hours: int = 0,
    link_url: str | None = None,
) -> Campaign:
    """Validate everything up front; the caller commits."""
    if not name.strip():
        raise CampaignError("the campaign needs a name")
    try:
        rules = segments.validate(segment if segment is not None else {"rules": []})
    except segments.SegmentError as error:
        raise CampaignError(f"segment: {error}") from None
    versions = templates_of(session, store, template)
    if not versions:
        raise CampaignError(
            f"no approved MARKETING template {template!r} in this shop "
            "(see `shopnudge templates submit` and Meta's review)"
        )
    if any(has_image_header(t) for t in versions.values()):
        raise CampaignError("templates with an image header are not supported in campaigns yet")
    parameters, names = _parameters(versions)
    needs_code = any(copy_code_index(t) is not None for t in versions.values())
    _check_coupons(store, coupon, unique_coupon_percent, "coupon_code" in names or needs_code)
    match = WINDOW.match(window or "")
    if not match or window[:5] >= window[6:]:
        raise CampaignError("the window is HH:MM-HH:MM with the start before the end")
    if not 0 <= holdout_percent <= 50:
        raise CampaignError("the holdout is a percentage between 0 and 50")
    if not 0 <= spread_hours <= 72:
        raise CampaignError("spread over 0 to 72 hours")
    campaign = Campaign(
        store_id=store.id,
        name=name.strip(),
        template_name=template,
        segment=rules,
        body_parameters=parameters,
        holdout_basis_points=round(holdout_percent * 100),
        coupon_code=coupon or None,
        coupon_percent_off=unique_coupon_percent,
        window_start=window[:5],
        window_end=window[6:],
        spread_hours=spread_hours,
        link_url=link_url,
        status=CampaignStatus.DRAFT,
    )
    session.add(campaign)
    session.flush()
    return campaign


def _check_coupons(store: Store, coupon: str | None, percent: int | None, shown: bool) -> None:
    """One code for all, or a unique code per recipient; the template must show it."""
    if coupon and percent is not None:
        raise CampaignError("give one coupon code for all or unique codes, not both", "coupon_both")
    if shown and not coupon and percent is None:
        raise CampaignError(
            "the template shows a coupon code: give --coupon CODE or --unique-coupon PERCENT",
            "coupon_missing",
        )
    if percent is not None:
        if not shown:
            raise CampaignError(
                "unique codes need a template that shows the coupon code", "unique_not_shown"
            )
        if not 1 <= percent <= 100:
            raise CampaignError("a unique code takes 1 to 100 percent off", "unique_percent")
        if store.platform not in coupons.PLATFORMS:
            raise CampaignError(
                f"unique codes are not available on {store.platform} yet", "unique_platform"
            )


def _parameters(versions: dict[str, WhatsAppTemplate]) -> tuple[list[str], set[str]]:
    """The campaign's default body parameters, and every name any version fills.

    A default template is filled by order, an owner's by the names it keeps on its body.
    """
    count = max(placeholder_count(t) for t in versions.values())
    if count > len(BODY_PARAMETERS) and all(parameter_names(t) is None for t in versions.values()):
        raise CampaignError(f"the template has {count} placeholders; at most 3 can be filled")
    default = list(BODY_PARAMETERS[:count])
    names = {n for t in versions.values() for n in template_parameters(t, default)}
    unfillable = sorted(names - FILLABLE)
    if unfillable:
        raise CampaignError(f"a campaign cannot fill {{{{{unfillable[0]}}}}} yet")
    return default, names


def find_campaign(session: Session, store: Store, campaign_id: int) -> Campaign | None:
    return session.scalars(
        select(Campaign).where(Campaign.store_id == store.id, Campaign.id == campaign_id)
    ).first()


def preview(session: Session, store: Store, campaign: Campaign, now: dt.datetime) -> dict[str, Any]:
    """Audience after every guard, exclusions by reason, forecast cost, share of the budget."""
    if campaign.status != CampaignStatus.DRAFT:
        return describe_plan(campaign, _plan_of_outbox(session, store, campaign))
    start = campaign.starts_at or now
    with cycle_collector_paused():
        return describe_plan(campaign, plan_campaign(session, store, campaign, start, now))


def describe_plan(campaign: Campaign, plan: Plan) -> dict[str, Any]:
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
    rows = session.scalars(_rows_of(store, campaign)).all()
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


def _rows_of(store: Store, campaign: Campaign) -> Any:
    return select(Notification).where(
        Notification.store_id == store.id,
        Notification.flow == FLOW,
        Notification.dedupe_key.startswith(key_prefix(campaign), autoescape=True),
    )


def start_campaign(
    session: Session, store: Store, campaign: Campaign, now: dt.datetime, at: dt.datetime | None
) -> int:
    """Compose the campaign into the outbox (once), or resume a paused one; rows now pending."""
    if campaign.status == CampaignStatus.CANCELLED:
        raise CampaignError("the campaign was cancelled")
    if campaign.status == CampaignStatus.PAUSED:
        return _resume(session, store, campaign, now)
    if campaign.status == CampaignStatus.DRAFT:
        _check_coupon_access(session, store, campaign)
        campaign.starts_at = at or now
        with cycle_collector_paused():
            plan = plan_campaign(session, store, campaign, campaign.starts_at, now)
        pending = [r for r in plan.rows if r["state"] == NotificationState.PENDING]
        try:  # before the rows exist: a code that failed leaves nothing to send without it
            coupons.issue_codes(session, store, campaign, pending)
        except coupons.CouponError as error:
            raise CampaignError(str(error)) from None
        with cycle_collector_paused():
            inserted = insert_rows(session, plan.rows)
        campaign.status, campaign.started_at = CampaignStatus.RUNNING, now
        if inserted == len(plan.rows):  # all new: no need to count them again in the outbox
            return len(pending)
    return 0 if campaign.status != CampaignStatus.RUNNING else _pending(session, store, campaign)


def _check_coupon_access(session: Session, store: Store, campaign: Campaign) -> None:
    """Before anything is composed or sent: the shop lets us create the codes it needs."""
    try:
        coupons.check_access(session, store, campaign)
    except coupons.CouponAccessError as error:
        raise CampaignError(str(error), "coupon_access") from None
    except coupons.CouponError as error:
        raise CampaignError(str(error), "coupon_failed") from None


def _pending(session: Session, store: Store, campaign: Campaign) -> int:
    statement = _rows_of(store, campaign).where(Notification.state == NotificationState.PENDING)
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
    if campaign.status != CampaignStatus.RUNNING:
        raise CampaignError(f"only a running campaign can be paused (it is {campaign.status})")
    campaign.status, campaign.paused_at = CampaignStatus.PAUSED, now
    return _hold(session, store, campaign, PAUSED_REASON, now)


def cancel_campaign(session: Session, store: Store, campaign: Campaign, now: dt.datetime) -> int:
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
        _rows_of(store, campaign).where(
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


def send_test(
    session: Session, store: Store, campaign: Campaign, phone: str, now: dt.datetime
) -> Notification:
    """One message of the campaign to the owner's own number, through the outbox and every
    guard like the real ones, kept out of the campaign's results (flow `campaign_test`).

    The number must itself be a confirmed subscriber of the shop: a test is still marketing
    to a person, so it needs their opt-in like anyone's. With unique coupons the owner's own
    code is created on the shop first, as a buyer's is at start, so the test's code works.
    """
    try:
        number = parse_phone(phone, store.country or "DE")
    except InvalidPhone as error:
        raise CampaignError(f"the test number: {error}", "test_phone_invalid") from None
    subscription = session.scalars(
        select(Subscription).where(Subscription.store_id == store.id, Subscription.phone == number)
    ).first()
    known = subscription.customer_id if subscription else None
    customer = session.get(Customer, known) if known else None
    if subscription is None or consent_reason(subscription, customer) is not None:
        raise CampaignError(
            f"{number} has not confirmed WhatsApp marketing from this shop: opt in with it "
            "first (the shop's opt-in form), then send the test again",
            "test_not_confirmed",
        )
    templates = templates_of(session, store, campaign.template_name)
    if not templates:
        raise CampaignError(
            f"no approved MARKETING template {campaign.template_name!r}", "template_missing"
        )
    _check_coupon_access(session, store, campaign)
    account = load_account(session, store)
    row = plan_row(session, store, campaign, subscription, customer, templates, account, now)
    row.pop("_template")
    earlier = session.scalar(
        select(func.count()).where(
            Notification.store_id == store.id,
            Notification.dedupe_key.startswith(f"{TEST_FLOW}:{campaign.id}:", autoescape=True),
        )
    )
    row.update(
        flow=TEST_FLOW,
        dedupe_key=f"{TEST_FLOW}:{campaign.id}:{(earlier or 0) + 1}",
        context={**row["context"], "test": True},
        due_at=now,
        expires_at=now + TEST_EXPIRY,
        created_at=now,
        updated_at=now,
    )
    try:  # the owner's own code exists on the shop from now, so the test's code works
        coupons.issue_codes(session, store, campaign, [row], starts=now)
    except coupons.CouponError as error:
        raise CampaignError(str(error), "coupon_failed") from None
    insert_rows(session, [row])
    return session.scalars(
        select(Notification).where(
            Notification.store_id == store.id, Notification.dedupe_key == row["dedupe_key"]
        )
    ).one()
