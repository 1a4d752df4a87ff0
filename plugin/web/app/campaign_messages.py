"""The message a campaign sends, as the owner's pages show it: which template version, and what
fills its placeholders (sample values; a buyer's own name and code are marked slots)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.campaigns.filling import BODY_PARAMETERS, template_parameters
from plugin.campaigns.trial import TEST_FLOW
from plugin.db import request_session
from plugin.i18n import current_language
from plugin.i18n import gettext as _
from plugin.models import Campaign, Notification, Store, WhatsAppTemplate


def marketing_templates(store: Store) -> dict[str, list[WhatsAppTemplate]]:
    """The shop's approved MARKETING templates by name, each with its language versions."""
    found: dict[str, list[WhatsAppTemplate]] = {}
    for template in request_session().scalars(
        select(WhatsAppTemplate)
        .where(
            WhatsAppTemplate.store_id == store.id,
            WhatsAppTemplate.status == "APPROVED",
            WhatsAppTemplate.category == "MARKETING",
        )
        .order_by(WhatsAppTemplate.name, WhatsAppTemplate.language)
    ):
        found.setdefault(template.name, []).append(template)
    return found


def owner_version(versions: list[WhatsAppTemplate], store: Store) -> WhatsAppTemplate | None:
    """The version in the owner's language, else the shop's, else the first."""
    for code in (current_language(), store.default_locale[:2]):
        for template in versions:
            if template.language[:2] == code:
                return template
    return versions[0] if versions else None


def sample_values(
    store: Store,
    template: WhatsAppTemplate | None,
    *,
    coupon: str | None,
    unique_percent: int | None,
    parameters: Sequence[str] = BODY_PARAMETERS,
) -> list[str]:
    """What fills {{1}}, {{2}} … in a preview, in the template's own order (an owner's
    template names its placeholders); the buyer's name and own code stay marked slots."""
    if unique_percent is not None:
        code = _("[own code: %(percent)s %% off]", percent=unique_percent)
    else:
        code = coupon or ""
    values = {
        "first_name": _("[first name]"),
        "shop_name": store.name or store.domain,
        "coupon_code": code,
        "link": store.base_url or f"https://{store.domain}",
    }
    names = template_parameters(template, list(parameters)) if template else list(parameters)
    return [values.get(name, "") for name in names]


def campaign_values(
    store: Store, campaign: Campaign, template: WhatsAppTemplate | None
) -> list[str]:
    return sample_values(
        store,
        template,
        coupon=campaign.coupon_code,
        unique_percent=campaign.coupon_percent_off,
        parameters=campaign.body_parameters,
    )


def test_sends(
    session: Session, store: Store, campaign: Campaign, last: int = 5
) -> list[Notification]:
    """The owner's latest test messages of this campaign, newest first, with their state."""
    return list(
        session.scalars(
            select(Notification)
            .where(
                Notification.store_id == store.id,
                Notification.flow == TEST_FLOW,
                Notification.dedupe_key.startswith(f"{TEST_FLOW}:{campaign.id}:", autoescape=True),
            )
            .order_by(Notification.id.desc())
            .limit(last)
        )
    )
