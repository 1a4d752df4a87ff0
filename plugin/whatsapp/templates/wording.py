"""ShopNudge's default templates: the wording per purpose and language, as Meta wants it.

Each has examples for review; marketing ones end with a tracked-link button (/r/<token>), the
one-click unsubscribe button (/u/<token>) and the marketing opt-out quick reply. The unsubscribe
link is a URL button because a footer takes no variables (Meta allows two URL buttons, grouped
before the quick replies). Quick-reply payloads are filled in at send time
(plugin.whatsapp.parameters), so the webhook echoes our payload, not just the button text.
https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from plugin.consent.replies import CONFIRM_PAYLOAD, OPT_OUT_PAYLOAD

LANGUAGES = ("de", "en")
PURPOSES = ("optin_confirmation", "cart_reminder_1", "cart_reminder_2", "recommendation")
#: Utility templates may carry a delivery TTL on Cloud API (30 s to 12 h); an opt-in request
#: that arrives a day late is confusing, so it lapses after 12 hours.
OPTIN_TTL_SECONDS = 43_200
#: A marketing template's TTL on the Marketing Messages API: 12 hours to 30 days (Meta keeps
#: retrying delivery that long, then drops the message). On Cloud API marketing has none.
#: https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/time-to-live
MARKETING_TTL_MIN, MARKETING_TTL_MAX = 43_200, 2_592_000
#: A recommendation is stale after two days (its outbox row expires then too).
RECOMMENDATION_TTL_SECONDS = 172_800
#: Quick-reply button text → the payload we send with it (webhooks echo the payload back).
QUICK_REPLY_PAYLOADS = {
    "Ja": CONFIRM_PAYLOAD,
    "Yes": CONFIRM_PAYLOAD,
    "Keine Werbung": OPT_OUT_PAYLOAD,
    "Stop promotions": OPT_OUT_PAYLOAD,
}

#: The one-click unsubscribe button's text per language (its URL is /u/<token>).
UNSUBSCRIBE_TEXT = {"de": "Abmelden", "en": "Unsubscribe"}
#: The path of the unsubscribe button's URL; its {{1}} is the subscription's unsubscribe token.
UNSUBSCRIBE_PATH = "/u/{{1}}"

#: purpose -> language -> (header text or None, body, body examples, link text).
TEXTS: dict[str, dict[str, tuple[str | None, str, list[str], str | None]]] = {
    "optin_confirmation": {
        "de": (
            None,
            "{{1}} möchte dir per WhatsApp Erinnerungen an deinen Warenkorb und passende "
            "Produktempfehlungen schicken. Tippe auf „Ja“, um das zu bestätigen. Abmelden kannst "
            "du dich jederzeit mit STOPP.",
            ["Bohne & Blatt"],
            None,
        ),
        "en": (
            None,
            "{{1}} would like to send you WhatsApp reminders about your cart and product "
            "recommendations. Tap “Yes” to confirm. You can unsubscribe at any time by replying "
            "STOP.",
            ["Bohne & Blatt"],
            None,
        ),
    },
    "cart_reminder_1": {
        "de": (
            "Dein Warenkorb wartet",
            "Hallo {{1}}, in deinem Warenkorb bei {{2}} liegt noch {{3}}. Möchtest du deine "
            "Bestellung abschließen?",
            ["Erika", "Bohne & Blatt", "Espresso Roast Beans 1 kg"],
            "Zum Warenkorb",
        ),
        "en": (
            "Your cart is waiting",
            "Hi {{1}}, your cart at {{2}} still holds {{3}}. Would you like to complete your "
            "order?",
            ["Erika", "Bohne & Blatt", "Espresso Roast Beans 1 kg"],
            "View cart",
        ),
    },
    "cart_reminder_2": {
        "de": (
            None,
            "Hallo {{1}}, dein Warenkorb bei {{2}} ist noch für dich gespeichert: {{3}}. Wir "
            "halten ihn nicht mehr lange bereit.",
            ["Erika", "Bohne & Blatt", "Espresso Roast Beans 1 kg"],
            "Zum Warenkorb",
        ),
        "en": (
            None,
            "Hi {{1}}, your cart at {{2}} is still saved for you: {{3}}. We will not keep it "
            "much longer.",
            ["Erika", "Bohne & Blatt", "Espresso Roast Beans 1 kg"],
            "View cart",
        ),
    },
    "recommendation": {
        "de": (
            "Passend zu deinem Einkauf",
            "Hallo {{1}}, zu deinem letzten Einkauf bei {{2}} passt {{3}}. Schau es dir an!",
            ["Erika", "Bohne & Blatt", "Pour-over Dripper"],
            "Ansehen",
        ),
        "en": (
            "Goes with your last order",
            "Hi {{1}}, {{3}} goes well with your last order at {{2}}. Take a look!",
            ["Erika", "Bohne & Blatt", "Pour-over Dripper"],
            "Take a look",
        ),
    },
}
#: Purposes whose header is the product image when the shop has an example media handle.
IMAGE_HEADERS = frozenset({"cart_reminder_1", "recommendation"})


@dataclass(frozen=True)
class TemplateDefinition:
    purpose: str
    name: str
    language: str
    category: str
    components: list[dict[str, Any]]
    ttl_seconds: int | None = None


def send_ttl_seconds(purpose: str, settings: Mapping[str, Any]) -> int:
    """`message_send_ttl_seconds` for a default template, from the shop's sending `settings`.

    A cart reminder lapses when the cart's reminder window (`cart_max_age_hours` after the
    cart's last activity) ends, counted from its step's delay, within Meta's 12 h to 30 days:
    a step sent less than 12 h before the window ends may still be delivered up to 12 h later.
    """
    if purpose == "optin_confirmation":
        return OPTIN_TTL_SECONDS
    if purpose == "recommendation":
        return RECOMMENDATION_TTL_SECONDS
    steps = settings.get("reminder_steps") or []
    delay = next((int(s["delay_minutes"]) for s in steps if s.get("template") == purpose), 0)
    left = int(settings.get("cart_max_age_hours") or 0) * 3600 - delay * 60
    return min(max(left, MARKETING_TTL_MIN), MARKETING_TTL_MAX)


def template_name(purpose: str) -> str:
    return f"shopnudge_{purpose}"


def _buttons(purpose: str, language: str, link_text: str | None, public_url: str) -> list[Any]:
    if purpose == "optin_confirmation":
        return [{"type": "QUICK_REPLY", "text": "Ja" if language == "de" else "Yes"}]
    return [
        {
            "type": "URL",
            "text": link_text,
            "url": f"{public_url}/r/{{{{1}}}}",
            "example": [f"{public_url}/r/Xy7kQ2pLm9"],
        },
        {
            "type": "URL",
            "text": UNSUBSCRIBE_TEXT[language],
            "url": f"{public_url}{UNSUBSCRIBE_PATH}",
            "example": [f"{public_url}/u/Qm4vT8rWx2Kp"],
        },
        {"type": "QUICK_REPLY", "text": "Keine Werbung" if language == "de" else "Stop promotions"},
    ]


def unsubscribe_button(
    components: list[dict[str, Any]] | None, token: str | None
) -> dict[str, Any] | None:
    """The send-time parameter of a template's unsubscribe button; None when it has none.

    Without a token (an erased buyer, who is never sent to) there is nothing to fill in.
    """
    for component in components or []:
        if component.get("type") != "BUTTONS":
            continue
        for index, button in enumerate(component.get("buttons") or []):
            if button.get("type") == "URL" and str(button.get("url", "")).endswith(
                UNSUBSCRIBE_PATH
            ):
                if not token:
                    return None
                return {
                    "index": index,
                    "sub_type": "url",
                    "parameters": [{"type": "text", "text": token}],
                }
    return None


def default_definitions(
    public_url: str, image_handle: str | None = None
) -> list[TemplateDefinition]:
    """Every default template in every language; image headers need an uploaded example."""
    definitions = []
    for purpose in PURPOSES:
        for language in LANGUAGES:
            header, body, examples, link_text = TEXTS[purpose][language]
            components: list[dict[str, Any]] = []
            if purpose in IMAGE_HEADERS and image_handle:
                components.append(
                    {
                        "type": "HEADER",
                        "format": "IMAGE",
                        "example": {"header_handle": [image_handle]},
                    }
                )
            elif header:
                components.append({"type": "HEADER", "format": "TEXT", "text": header})
            components.append({"type": "BODY", "text": body, "example": {"body_text": [examples]}})
            components.append(
                {"type": "BUTTONS", "buttons": _buttons(purpose, language, link_text, public_url)}
            )
            utility = purpose == "optin_confirmation"
            definitions.append(
                TemplateDefinition(
                    purpose=purpose,
                    name=template_name(purpose),
                    language=language,
                    category="UTILITY" if utility else "MARKETING",
                    components=components,
                    ttl_seconds=OPTIN_TTL_SECONDS if utility else None,
                )
            )
    return definitions
