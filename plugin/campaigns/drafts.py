"""A campaign's draft: every rule the owner could break is checked before the row exists.

A draft that was created can be previewed and started without asking the owner again, so
the segment, the template, the coupons, the window, the holdout and the spread are refused
here, each with the sentence the CLI, the API and the pages show.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.campaigns import coupons, segments
from plugin.campaigns.errors import CampaignError
from plugin.campaigns.filling import (
    BODY_PARAMETERS,
    FILLABLE,
    copy_code_index,
    has_image_header,
    placeholder_count,
    template_parameters,
)
from plugin.campaigns.plan import templates_of
from plugin.models import Campaign, CampaignStatus, Store, WhatsAppTemplate
from plugin.whatsapp.templates.authoring import parameter_names

WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


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
    """The shop's own campaign by its id; another shop's id finds nothing."""
    return session.scalars(
        select(Campaign).where(Campaign.store_id == store.id, Campaign.id == campaign_id)
    ).first()
