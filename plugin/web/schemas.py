"""The shapes of the JSON bodies we accept, declared once as JSON Schema (2020-12 subset).

The views validate with `first_problem`, and the same dicts can be published as the request
schemas of an OpenAPI document, so the contract and the checks cannot drift apart. The
validator knows only the keywords used here: type, properties, required, enum, const,
minLength, maxLength, minimum, items, maxItems.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Where a buyer may opt in through the public API; `import` and `whatsapp_reply` are the
#: server's own sources (an operator's import, a reply on WhatsApp) and no client may claim them.
PUBLIC_OPTIN_SOURCES = ("checkout_checkbox", "widget", "thank_you_page")

OPTIN_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["phone", "consent", "wording_version"],
    "properties": {
        "phone": {"type": "string", "maxLength": 64, "description": "as the buyer typed it"},
        "consent": {"const": True, "description": "the box was ticked"},
        "wording_version": {"type": "integer", "minimum": 1},
        "locale": {"type": "string", "maxLength": 35},
        "customer_id": {"type": ["string", "integer"], "maxLength": 64},
        "cart_token": {"type": "string", "maxLength": 255},
        "source": {"type": "string", "enum": list(PUBLIC_OPTIN_SOURCES)},
    },
}

_ID = {"type": ["integer", "string"]}
_TIME = {"type": "string", "minLength": 10}
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


@dataclass(frozen=True)
class Problem:
    """Why a body does not match: the field (`""` for the body itself) and the keyword."""

    field: str
    keyword: str


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _is(value: Any, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False  # JSON's true is not the number 1
    return isinstance(value, _TYPES[name])


def _check(value: Any, schema: dict[str, Any], field: str) -> Problem | None:
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_is(value, name) for name in names):
            return Problem(field, "type")
    const = schema.get("const", value)
    if type(value) is not type(const) or value != const:  # 1 is not true
        return Problem(field, "const")
    if "enum" in schema and value not in schema["enum"]:
        return Problem(field, "enum")
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value)
        if len(text) > schema.get("maxLength", len(text)) or len(text) < schema.get("minLength", 0):
            return Problem(field, "length")
    if _is(value, "integer") and value < schema.get("minimum", value):
        return Problem(field, "minimum")
    if isinstance(value, dict):
        return _check_object(value, schema, field)
    if isinstance(value, list):
        if len(value) > schema.get("maxItems", len(value)):
            return Problem(field, "maxItems")
        for index, item in enumerate(value):
            problem = _check(item, schema.get("items", {}), f"{field}[{index}]")
            if problem:
                return problem
    return None


def _check_object(value: dict[str, Any], schema: dict[str, Any], field: str) -> Problem | None:
    prefix = f"{field}." if field else ""
    for name in schema.get("required", ()):
        if name not in value or value[name] is None:
            return Problem(prefix + name, "required")
    for name, subschema in schema.get("properties", {}).items():
        if name in value and value[name] is not None:
            problem = _check(value[name], subschema, prefix + name)
            if problem:
                return problem
    return None


def first_problem(value: Any, schema: dict[str, Any]) -> Problem | None:
    """The first way `value` breaks `schema`, or None when it matches."""
    return _check(value, schema, "")
