"""A buyer's opt-in through the public API: the form's wording, the request, the answer."""

from __future__ import annotations

from typing import Any

from plugin.models import SubscriptionState
from plugin.web.schemas.base import TEXT, TEXT_OR_NULL, object_schema

#: Where a buyer may opt in through the public API; `import` and `whatsapp_reply` are the
#: server's own sources (an operator's import, a reply on WhatsApp) and no client may claim them.
PUBLIC_OPTIN_SOURCES = ("checkout_checkbox", "widget", "thank_you_page")

OPTIN_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["phone", "consent", "wording_version"],
    "properties": {
        "phone": {"type": "string", "maxLength": 64, "description": "as the buyer typed it"},
        "consent": {"const": True, "description": "the box was ticked"},
        "wording_version": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        # optional fields may be null, which counts as absent
        "locale": {"type": ["string", "null"], "maxLength": 35},
        "customer_id": {
            "type": ["string", "integer", "null"],
            "maxLength": 64,
            "minimum": 0,
            "maximum": 2**63 - 1,  # an id of at most 19 digits, as a string or a number
        },
        "cart_token": {"type": ["string", "null"], "maxLength": 255},
        "source": {"enum": [*PUBLIC_OPTIN_SOURCES, None]},
    },
    "examples": [
        {"phone": "0151 23456789", "consent": True, "wording_version": 1, "locale": "de"},
    ],
}
OPTIN_FORM = object_schema(
    {
        "store": TEXT,
        "business": TEXT,
        "platform": {"enum": ["shopify", "woocommerce"]},
        "locale": TEXT,
        "wording_version": {"type": "integer", "minimum": 1},
        "text": TEXT,
        "privacy_url": TEXT_OR_NULL,
        "ui": {"type": "object", "additionalProperties": TEXT},
    }
)
OPTIN_ACCEPTED = object_schema(
    {
        "state": {"enum": [state.value for state in SubscriptionState]},
        "locale": TEXT_OR_NULL,
        "wording_version": {"type": "integer"},
        "confirmation": object_schema({"mode": TEXT, "url": TEXT_OR_NULL}),
    }
)
