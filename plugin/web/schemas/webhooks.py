"""What the platforms and Meta POST to us (webhooks, WooCommerce's keys), and our answers.

Only the fields our handlers rely on are required: the vendors add fields freely.
"""

from __future__ import annotations

from typing import Any

from plugin.web.schemas.base import COUNT, TEXT, object_schema

_ID = {"type": ["integer", "string"]}
_TIME = {"type": "string"}
#: Shopify webhook bodies by topic: only what the handlers rely on (the rest may change).
#: https://shopify.dev/docs/api/webhooks
SHOPIFY_OBJECT: dict[str, Any] = {"type": "object"}
SHOPIFY_RESOURCE: dict[str, Any] = {"type": "object", "required": ["id"], "properties": {"id": _ID}}
SHOPIFY_RECORD: dict[str, Any] = {
    "type": "object",
    "required": ["id", "updated_at"],
    "properties": {"id": _ID, "updated_at": _TIME},
}
SHOPIFY_ORDER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "created_at", "updated_at"],
    "properties": {"id": _ID, "created_at": _TIME, "updated_at": _TIME},
}
SHOPIFY_CHECKOUT: dict[str, Any] = {
    "type": "object",
    "required": ["token", "updated_at"],
    "properties": {"token": _ID, "updated_at": _TIME},
}
SHOPIFY_COMPLIANCE: dict[str, Any] = {
    "type": "object",
    "required": ["shop_id", "shop_domain"],
    "properties": {"shop_id": _ID, "shop_domain": {"type": "string"}},
}
SHOPIFY_CUSTOMER_COMPLIANCE: dict[str, Any] = {
    "type": "object",
    "required": ["shop_id", "shop_domain", "customer"],
    "properties": {
        "shop_id": _ID,
        "shop_domain": {"type": "string"},
        "customer": {"type": "object"},
    },
}
SHOPIFY_WEBHOOKS: dict[str, dict[str, Any]] = {
    "orders/create": SHOPIFY_ORDER,
    "orders/updated": SHOPIFY_ORDER,
    "orders/paid": SHOPIFY_ORDER,
    "orders/cancelled": SHOPIFY_ORDER,
    "checkouts/create": SHOPIFY_CHECKOUT,
    "checkouts/update": SHOPIFY_CHECKOUT,
    "customers/create": SHOPIFY_RECORD,
    "customers/update": SHOPIFY_RECORD,
    "products/create": SHOPIFY_RECORD,
    "products/update": SHOPIFY_RECORD,
    "products/delete": SHOPIFY_RESOURCE,
    "app/uninstalled": SHOPIFY_RESOURCE,
    "customers/data_request": SHOPIFY_CUSTOMER_COMPLIANCE,
    "customers/redact": SHOPIFY_CUSTOMER_COMPLIANCE,
    "shop/redact": SHOPIFY_COMPLIANCE,
    "customers_whats_app_marketing_consent/update": {
        "type": "object",
        "required": ["customer_id"],
        "properties": {"customer_id": _ID},
    },
}


def shopify_webhook_schema(topic: str) -> dict[str, Any]:
    """The body a topic must have; a topic we do not handle need only be an object."""
    return SHOPIFY_WEBHOOKS.get(topic, SHOPIFY_OBJECT)


#: What we answer Shopify for a webhook we stored, or one we had already.
SHOPIFY_ANSWER = object_schema({"status": {"enum": ["accepted", "duplicate"]}})
WOOCOMMERCE_ANSWER: dict[str, Any] = {
    "oneOf": [
        object_schema({"ping": {"type": "integer"}}),
        object_schema({"ignored": TEXT}),
        object_schema({"duplicate": {"const": True}}),
        object_schema({"received": {"const": True}}),
    ]
}
#: What WooCommerce POSTs to our callback after the owner approves: the new REST keys.
#: https://woocommerce.github.io/woocommerce-rest-api-docs/#rest-api-keys
WOOCOMMERCE_KEYS = object_schema(
    {
        "consumer_key": {"type": "string", "pattern": "^ck_"},
        "consumer_secret": {"type": "string", "pattern": "^cs_"},
        "user_id": {"type": ["string", "integer"], "minLength": 1},
    },
    key_id={"type": ["integer", "null"], "minimum": 0},
    key_permissions={"type": ["string", "null"]},
)
WOOCOMMERCE_CONNECTED = object_schema(
    {"store_id": {"type": "integer"}, "status": {"const": "connected"}}
)
#: Meta's notification envelope; the changes inside are read field by field.
#: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
WHATSAPP_NOTIFICATION = object_schema(
    {
        "object": {"const": "whatsapp_business_account"},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": TEXT, "changes": {"type": "array"}},
            },
        },
    }
)
WHATSAPP_ANSWER = object_schema({"status": {"const": "ok"}, "stored": COUNT})
