"""Fill a template's parameters: body values, header image, tracked link, quick replies.

The engine composes the values; this turns them into the Cloud API's parameter shape for the
template as it was submitted (its stored components say which header and buttons it has).
https://developers.facebook.com/docs/whatsapp/cloud-api/guides/send-message-templates
"""

from __future__ import annotations

from typing import Any

from plugin.models import WhatsAppTemplate
from plugin.whatsapp.channel import TemplateMessage
from plugin.whatsapp.templates.wording import QUICK_REPLY_PAYLOADS


def text_parameter(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


def components_for(
    template: WhatsAppTemplate,
    *,
    body: list[str],
    header_image: str | None = None,
    link_token: str | None = None,
) -> dict[str, Any]:
    """TemplateMessage.components for this template: header, body and button parameters."""
    components: dict[str, Any] = {"body": [text_parameter(value) for value in body]}
    for component in template.components or []:
        kind = component.get("type")
        if kind == "HEADER" and component.get("format") == "IMAGE":
            if not header_image:
                raise ValueError(f"template {template.name} needs a header image")
            components["header"] = [{"type": "image", "image": {"link": header_image}}]
        elif kind == "BUTTONS":
            components["buttons"] = _buttons(component.get("buttons") or [], link_token)
    return components


def _buttons(buttons: list[dict[str, Any]], link_token: str | None) -> list[dict[str, Any]]:
    filled = []
    for index, button in enumerate(buttons):
        if button.get("type") == "URL" and "{{1}}" in str(button.get("url", "")):
            if not link_token:
                raise ValueError("a URL button needs the tracked link token")
            filled.append(
                {"index": index, "sub_type": "url", "parameters": [text_parameter(link_token)]}
            )
        elif button.get("type") == "QUICK_REPLY" and button.get("text") in QUICK_REPLY_PAYLOADS:
            payload = QUICK_REPLY_PAYLOADS[button["text"]]
            filled.append(
                {
                    "index": index,
                    "sub_type": "quick_reply",
                    "parameters": [{"type": "payload", "payload": payload}],
                }
            )
    return filled


def template_message(
    template: WhatsAppTemplate,
    *,
    to: str,
    body: list[str],
    notification_id: int | None = None,
    header_image: str | None = None,
    link_token: str | None = None,
    ttl_seconds: int | None = None,
) -> TemplateMessage:
    """One message for one buyer, echoing our notification id back in status webhooks."""
    return TemplateMessage(
        to=to,
        template=template.name,
        language=template.language,
        components=components_for(
            template, body=body, header_image=header_image, link_token=link_token
        ),
        callback_data=str(notification_id) if notification_id is not None else None,
        ttl_seconds=ttl_seconds,
    )
