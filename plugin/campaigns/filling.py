"""What fills a campaign's template: body values by position or by name, and its buttons.

A default template is filled by position (first name, shop name, coupon code); an owner's
template by the names it keeps on its body (plugin.whatsapp.templates.authoring). Buttons: the
tracked link, the copy-code coupon and the Stop quick reply with our opt-out payload.
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from plugin.consent.replies import OPT_OUT_PAYLOAD
from plugin.engine.salutation import greeting_name
from plugin.models import Campaign, Customer, Store, WhatsAppTemplate
from plugin.whatsapp.templates.authoring import STOP_TEXT, parameter_names
from plugin.whatsapp.templates.wording import QUICK_REPLY_PAYLOADS

if TYPE_CHECKING:
    from plugin.campaigns.audience import CampaignCustomer

#: What a body placeholder may be filled with, in the default order of {{1}}, {{2}}, {{3}}.
BODY_PARAMETERS = ("first_name", "shop_name", "coupon_code")
#: The placeholders a campaign can fill (an owner's template names its own, from these).
FILLABLE = frozenset({"first_name", "shop_name", "coupon_code", "link"})
#: Quick-reply texts that stop marketing: the defaults' and the owner templates' "Stop" button.
STOP_REPLIES = {**QUICK_REPLY_PAYLOADS, **{text: OPT_OUT_PAYLOAD for text in STOP_TEXT.values()}}
PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")


def template_parameters(template: WhatsAppTemplate, default: list[str]) -> list[str]:
    """What fills {{1}}, {{2}} …: an owner's template names them, a default one goes by order."""
    named = parameter_names(template)
    return named if named is not None else default


def copy_code_index(template: WhatsAppTemplate | None) -> int | None:
    return _button_index(template, lambda button: button.get("type") == "COPY_CODE")


def _button_index(template: WhatsAppTemplate | None, wanted: Any) -> int | None:
    for component in (template.components if template else None) or []:
        if component.get("type") == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                if wanted(button):
                    return index
    return None


def stop_reply(template: WhatsAppTemplate | None) -> dict[str, Any] | None:
    """The quick-reply parameter of the template's stop button: our opt-out payload."""
    index = _button_index(
        template, lambda b: b.get("type") == "QUICK_REPLY" and b.get("text") in STOP_REPLIES
    )
    if index is None or template is None:
        return None
    return {
        "index": index,
        "sub_type": "quick_reply",
        "parameters": [{"type": "payload", "payload": OPT_OUT_PAYLOAD}],
    }


def placeholder_count(template: WhatsAppTemplate) -> int:
    for component in template.components or []:
        if component.get("type") == "BODY":
            return len(set(PLACEHOLDER.findall(str(component.get("text", "")))))
    return 0


def tracked_link_index(template: WhatsAppTemplate) -> int | None:
    """The index of the URL button that leads through our /r/<token> redirect, if any."""
    for component in template.components or []:
        if component.get("type") == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                if button.get("type") == "URL" and str(button.get("url", "")).endswith("/r/{{1}}"):
                    return index
    return None


def has_image_header(template: WhatsAppTemplate) -> bool:
    return any(
        c.get("type") == "HEADER" and c.get("format") != "TEXT" for c in template.components or []
    )


def body_values(
    store: Store,
    campaign: Campaign,
    customer: Customer | CampaignCustomer | None,
    locale: str | None,
    template: WhatsAppTemplate | None = None,
    coupon_code: str | None = None,
) -> list[str]:
    """The body parameters in the template's order; `coupon_code` is the buyer's own code."""
    values = {
        "first_name": greeting_name(customer.first_name if customer else None, locale),
        "shop_name": store.name or store.domain,
        "coupon_code": coupon_code or campaign.coupon_code or "",
        "link": campaign.link_url or store.base_url or f"https://{store.domain}",
    }
    names = list(campaign.body_parameters)
    if template is not None:
        names = template_parameters(template, names)
    return [values[name] for name in names]
