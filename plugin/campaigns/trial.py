"""A campaign's test send: one real message to the owner's own number before the buyers get it.

It goes through the outbox and every guard like the campaign's rows, under its own flow so
the campaign's results never count it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.campaigns import coupons
from plugin.campaigns.errors import CampaignError
from plugin.campaigns.lifecycle import check_coupon_access
from plugin.campaigns.plan import consent_reason, plan_row, templates_of
from plugin.config import Settings
from plugin.engine.outbox import insert_rows
from plugin.models import Campaign, Customer, Notification, Store, Subscription
from plugin.phones import InvalidPhone, parse_phone
from plugin.whatsapp.templates.catalog import account_of

#: The outbox flow of a test send: dispatched like the campaign, never counted in it.
TEST_FLOW = "campaign_test"
#: A test the guards hold (quiet hours, caps) longer than this is of no use to the owner.
TEST_EXPIRY = dt.timedelta(hours=1)


def send_test(
    session: Session,
    settings: Settings,
    store: Store,
    campaign: Campaign,
    phone: str,
    now: dt.datetime,
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
    check_coupon_access(session, settings, store, campaign)
    account = account_of(session, store)
    row = plan_row(
        session, settings, store, campaign, subscription, customer, templates, account, now
    )
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
        coupons.issue_codes(session, settings, store, campaign, [row], starts=now)
    except coupons.CouponError as error:
        raise CampaignError(str(error), "coupon_failed") from None
    insert_rows(session, [row])
    return session.scalars(
        select(Notification).where(
            Notification.store_id == store.id, Notification.dedupe_key == row["dedupe_key"]
        )
    ).one()
