"""When a running campaign must pause itself before it hurts the shop's standing with Meta.

Three signals, checked by plugin.campaigns.autopause every few seconds (and by `tick`):
- Meta paused or disabled the campaign's template (message_template_status_update);
- the phone number's quality rating left GREEN (phone_number_quality_update, hourly refresh);
- this campaign's buyers stop it: the share of its delivered messages whose buyer then opted
  out (STOP, the Stop button, WhatsApp's own "stop" preference, Meta's 131050 on a send)
  passes the shop's `campaign_opt_out_pause_basis_points` (default 2 %).
Pausing is the owner's pause: unsent rows are held and `start` resumes them. A resumed campaign
remembers what the owner accepted (that quality level, that many opt-outs), so it pauses again
only when things get worse.
https://developers.facebook.com/docs/whatsapp/messaging-limits#quality-rating
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.campaigns.plan import FLOW, key_prefix
from plugin.models import (
    Campaign,
    Notification,
    NotificationState,
    Store,
    Subscription,
    SubscriptionState,
    WhatsAppTemplate,
)
from plugin.whatsapp.templates.catalog import account_of

#: Fewer reached buyers than this say too little about a rate: one early STOP would pause.
MIN_REACHED = 10
#: Quality ratings from best to worst; UNKNOWN (a new number) counts as GREEN.
QUALITY_LEVEL = {"GREEN": 0, "UNKNOWN": 0, "YELLOW": 1, "RED": 2}
#: Template states Meta uses to stop a template being sent.
STOPPED_TEMPLATE = ("PAUSED", "DISABLED")
#: Prefixes of Campaign.status_reason: why it paused, and what the owner accepted on resuming.
TEMPLATE, QUALITY, OPT_OUTS = "template paused", "quality", "opt-outs"
#: Kept on a resumed campaign (and shown on its page): what no longer pauses it.
ACCEPTED = (
    "Resumed by the owner at quality {quality} with {opt_outs} opt-outs: "
    "it pauses itself again only if either gets worse."
)
ACCEPTED_TEXT = re.compile(r"^Resumed by the owner at quality (\w+) with (\d+) opt-outs")


def opt_out_figures(session: Session, store: Store, campaign: Campaign) -> tuple[int, int]:
    """(buyers reached, of them opted out since): reached is delivered, or refused by 131050.

    A buyer opted out before the send is never sent to (the guards), so an opted-out buyer
    with a sent or failed row stopped after this campaign reached them, or as it tried to.
    """
    rows = (
        select(
            Notification.delivered_at,
            Notification.state.label("row_state"),
            Subscription.state.label("consent"),
        )
        .join(Subscription, Subscription.id == Notification.subscription_id)
        .where(
            Notification.store_id == store.id,
            Notification.flow == FLOW,
            Notification.dedupe_key.startswith(key_prefix(campaign), autoescape=True),
            Notification.state.in_((NotificationState.SENT, NotificationState.FAILED)),
        )
        .subquery()
    )
    stopped = rows.c.consent == SubscriptionState.OPTED_OUT
    delivered = rows.c.delivered_at.is_not(None)
    reached, opted_out = session.execute(
        select(
            func.count().filter(delivered | stopped),
            func.count().filter(stopped),
        )
    ).one()
    return int(reached or 0), int(opted_out or 0)


def pause_reason(session: Session, store: Store, campaign: Campaign) -> str | None:
    """Why this running campaign should pause now, or None."""
    paused = session.scalars(
        select(WhatsAppTemplate.language).where(
            WhatsAppTemplate.store_id == store.id,
            WhatsAppTemplate.name == campaign.template_name,
            WhatsAppTemplate.status.in_(STOPPED_TEMPLATE),
        )
    ).all()
    if paused:
        return f"{TEMPLATE}: Meta stopped {campaign.template_name} ({', '.join(sorted(paused))})"
    account = account_of(session, store)
    quality = (account.quality_rating if account else "UNKNOWN") or "UNKNOWN"
    level = QUALITY_LEVEL.get(quality.upper(), 0)
    accepted_quality, accepted_opt_outs = _accepted(campaign)
    if level > QUALITY_LEVEL.get(accepted_quality, 0):
        return f"{QUALITY}: the phone number's quality rating is {quality.upper()}"
    reached, opted_out = opt_out_figures(session, store, campaign)
    limit = int(store.setting("campaign_opt_out_pause_basis_points"))
    if (
        reached >= MIN_REACHED
        and opted_out * 10_000 > limit * reached
        and opted_out > accepted_opt_outs
    ):
        return (
            f"{OPT_OUTS}: {opted_out} of {reached} buyers reached stopped marketing "
            f"({100 * opted_out / reached:.1f} %, the limit is {limit / 100:.2f} %)"
        )
    return None


def _accepted(campaign: Campaign) -> tuple[str, int]:
    """The quality level and opt-out count the owner accepted on resuming (GREEN, 0 if none)."""
    found = ACCEPTED_TEXT.match(campaign.status_reason or "")
    return (found.group(1), int(found.group(2))) if found else ("GREEN", 0)


def accept_on_resume(session: Session, store: Store, campaign: Campaign) -> None:
    """The owner resumed: what holds now no longer pauses it, only what is worse."""
    account = account_of(session, store)
    quality = ((account.quality_rating if account else None) or "GREEN").upper()
    _, opted_out = opt_out_figures(session, store, campaign)
    campaign.status_reason = ACCEPTED.format(quality=quality, opt_outs=opted_out)
