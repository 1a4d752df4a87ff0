"""The shapes of the JSON bodies we accept and answer, declared once as JSON Schema 2020-12.

The views validate with `first_problem` (jsonschema), and `plugin.web.openapi` publishes the
same dicts as the request and response schemas of `GET /openapi.json`, so the contract and
the checks cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match

from plugin.models import CartState, SubscriptionState

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


@dataclass(frozen=True)
class Problem:
    """Why a body does not match: the field (`""` for the body itself) and the keyword."""

    field: str
    keyword: str


def _strict_integer(checker: Any, value: Any) -> bool:
    """JSON Schema counts 2.0 as an integer; our handlers store what they get, so it is not."""
    return isinstance(value, int) and not isinstance(value, bool)


#: Draft 2020-12 with one narrowing: `integer` means a JSON number written without a fraction.
Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
)
#: jsonschema's keywords by the name the views use for them.
_KEYWORDS = {"minLength": "length", "maxLength": "length", "exclusiveMinimum": "minimum"}


def _field(path: Any) -> str:
    """`items[0].quantity` for the path ("items", 0, "quantity"); `""` for the body itself."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problem(error: ValidationError, schema: dict[str, Any]) -> Problem:
    """Our name for jsonschema's error: a missing property, and `null` where one is required,
    are both `required` (a client that sends `null` did not send the field)."""
    path = list(error.absolute_path)
    field = _field(path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return Problem(f"{field}.{missing[0]}" if field else missing[0], "required")
    if error.instance is None and path and path[-1] in _holder(schema, path[:-1]):
        return Problem(field, "required")
    keyword = str(error.validator)
    return Problem(field, _KEYWORDS.get(keyword, keyword))


def _holder(schema: dict[str, Any], path: list[Any]) -> tuple[str, ...]:
    """The `required` names of the object that `path` leads to in `schema`."""
    for part in path:
        schema = schema.get("items" if isinstance(part, int) else "properties", {})
        schema = schema if isinstance(part, int) else schema.get(part, {})
    return tuple(schema.get("required", ()))


#: One validator per schema (they are module constants; the schema is kept so its id stays its).
_VALIDATORS: dict[int, tuple[dict[str, Any], Any]] = {}


def _validator(schema: dict[str, Any]) -> Any:
    """Built once per schema: every opt-in and webhook is checked on the request path."""
    kept = _VALIDATORS.get(id(schema))
    if kept is None or kept[0] is not schema:
        kept = _VALIDATORS[id(schema)] = (schema, Validator(schema))
    return kept[1]


def first_problem(value: Any, schema: dict[str, Any]) -> Problem | None:
    """The most relevant way `value` breaks `schema` (jsonschema's `best_match`), or None."""
    error = best_match(_validator(schema).iter_errors(value))
    return None if error is None else _problem(error, schema)


# What we answer. Objects list the keys a client may rely on; more may be added.

_TEXT: dict[str, Any] = {"type": "string"}
_TEXT_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}
_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_COUNTS: dict[str, Any] = {"type": "array", "items": _COUNT}


def _object(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """An object schema whose `required` keys are the first mapping's."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **optional},
    }


#: Every JSON error: a machine-readable `error` and a sentence for people.
ERROR = _object({"error": _TEXT, "message": _TEXT}) | {
    "examples": [{"error": "not_found", "message": "unknown store"}]
}
#: A refusal the buyer sees (opt-ins, carts): also `reason`, and `message` in their language.
REFUSAL = _object({"error": _TEXT, "reason": _TEXT, "message": _TEXT}) | {
    "examples": [
        {
            "error": "consent_missing",
            "reason": "consent_missing",
            "message": "Please tick the box to agree to WhatsApp messages.",
        }
    ]
}
#: The database is busy or unreachable (with `Retry-After`).
BUSY = _object({"error": {"const": "database_busy"}, "message": _TEXT})

HEALTH = _object({"status": {"const": "ok"}, "database": {"const": "ok"}})
HEALTH_FAILED = _object({"status": {"const": "error"}, "database": {"const": "unreachable"}})

OPTIN_FORM = _object(
    {
        "store": _TEXT,
        "business": _TEXT,
        "platform": {"enum": ["shopify", "woocommerce"]},
        "locale": _TEXT,
        "wording_version": {"type": "integer", "minimum": 1},
        "text": _TEXT,
        "privacy_url": _TEXT_OR_NULL,
        "ui": {"type": "object", "additionalProperties": _TEXT},
    }
)
OPTIN_ACCEPTED = _object(
    {
        "state": {"enum": [state.value for state in SubscriptionState]},
        "locale": _TEXT_OR_NULL,
        "wording_version": {"type": "integer"},
        "confirmation": _object({"mode": _TEXT, "url": _TEXT_OR_NULL}),
    }
)

#: The widget's cart snapshot (WooCommerce has no abandoned carts of its own).
CART_ITEM = _object(
    {
        "product_id": {"type": ["string", "integer"], "minLength": 1, "maxLength": 64},
        "quantity": {"type": "integer", "minimum": 1},
        "price_minor": {"type": "integer", "minimum": 0},
    },
    variation_id={"type": ["string", "integer", "null"], "maxLength": 64},
    name={"type": ["string", "null"], "maxLength": 512},
)
CART_SNAPSHOT = _object(
    {
        "cart_token": {"type": ["string", "integer"], "minLength": 1, "maxLength": 255},
        "items": {"type": "array", "maxItems": 250, "items": CART_ITEM},
        "total_minor": {"type": "integer", "minimum": 0},
        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
    },
    phone={"type": ["string", "integer", "null"], "maxLength": 64},
    email={"type": ["string", "null"], "maxLength": 320},
    locale={"type": ["string", "null"], "maxLength": 35},
    country={"type": ["string", "null"], "maxLength": 2},
) | {
    "examples": [
        {
            "cart_token": "t-0001",
            "items": [{"product_id": "31", "quantity": 2, "name": "Beans", "price_minor": 1290}],
            "total_minor": 2580,
            "currency": "EUR",
            "phone": "0151 23456789",
        }
    ]
}
_CART_STATE = {"enum": [state.value for state in CartState]}
CART_ACCEPTED = _object({"cart": _object({"token": _TEXT, "state": _CART_STATE})})
CART = _object(
    {
        "cart": _object(
            {
                "token": _TEXT,
                "state": _CART_STATE,
                "remaining_items": {"type": "array", "items": {"type": "object"}},
                "store_api_path": _TEXT,
            }
        )
    }
)

_INTERVAL_OR_NULL = {
    "type": ["object", "null"],
    "required": ["estimate", "low", "high"],
    "properties": {"estimate": {"type": "number"}, "low": {"type": "number"}},
}
DASHBOARD = _object(
    {
        "weeks": {"type": "array", "items": _TEXT},
        "messages": {"type": "object", "additionalProperties": _COUNT},
        "messages_by_week": {"type": "object", "additionalProperties": _COUNTS},
        "consent_by_source": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": _COUNT},
        },
        "spend_micros": _COUNT,
        "budget_minor": {"type": ["integer", "null"]},
        "forecast_micros": _COUNT,
        "conversions": _COUNT,
        "attributed_revenue_minor": _COUNT,
        "incremental": _object(
            {
                "treated": _COUNT,
                "treated_recovered": _COUNT,
                "holdout": _COUNT,
                "holdout_recovered": _COUNT,
                "difference": _INTERVAL_OR_NULL,
            }
        ),
    }
)
NOTIFICATION = _object(
    {
        "id": {"type": "integer"},
        "flow": _TEXT,
        "state": _TEXT,
        "reason": _TEXT_OR_NULL,
        "phone": _TEXT,
        "template_name": _TEXT_OR_NULL,
        "language": _TEXT_OR_NULL,
        "delivery_status": _TEXT_OR_NULL,
        "due_at": _TEXT_OR_NULL,
        "sent_at": _TEXT_OR_NULL,
        "cost_micros": {"type": ["integer", "null"]},
    }
)
CONSENT_EVENT = _object(
    {
        "occurred_at": _TEXT,
        "kind": _TEXT,
        "source": _TEXT,
        "wording": {"type": ["object", "null"]},
        "locale": _TEXT_OR_NULL,
        "ip": _TEXT_OR_NULL,
        "user_agent": _TEXT_OR_NULL,
        "message_id": _TEXT_OR_NULL,
        "detail": {"type": "object"},
    }
)
CONSENT_RECORD = _object(
    {
        "phone": _TEXT,
        "state": _TEXT,
        "locale": _TEXT_OR_NULL,
        "confirmed_at": _TEXT_OR_NULL,
        "opted_out_at": _TEXT_OR_NULL,
        "pending_expires_at": _TEXT_OR_NULL,
        "whatsapp_user_id": _TEXT_OR_NULL,
        "events": {"type": "array", "items": CONSENT_EVENT},
    }
)
BUYER_EXPORT = _object(
    {
        "store": _object({"name": _TEXT, "domain": _TEXT}),
        "exported_at": _TEXT,
        "customers": {"type": "array", "items": {"type": "object"}},
    }
)

#: Shopify's webhook bodies by topic (X-Shopify-Topic); any other topic need only be an object.
SHOPIFY_ANSWER = _object({"status": {"enum": ["accepted", "duplicate"]}})
WOOCOMMERCE_ANSWER: dict[str, Any] = {
    "oneOf": [
        _object({"ping": {"type": "integer"}}),
        _object({"ignored": _TEXT}),
        _object({"duplicate": {"const": True}}),
        _object({"received": {"const": True}}),
    ]
}
#: What WooCommerce POSTs to our callback after the owner approves: the new REST keys.
#: https://woocommerce.github.io/woocommerce-rest-api-docs/#rest-api-keys
WOOCOMMERCE_KEYS = _object(
    {
        "consumer_key": {"type": "string", "pattern": "^ck_"},
        "consumer_secret": {"type": "string", "pattern": "^cs_"},
        "user_id": {"type": ["string", "integer"], "minLength": 1},
    },
    key_id={"type": ["integer", "null"], "minimum": 0},
    key_permissions={"type": ["string", "null"]},
)
WOOCOMMERCE_CONNECTED = _object({"store_id": {"type": "integer"}, "status": {"const": "connected"}})
#: Meta's notification envelope; the changes inside are read field by field.
#: https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components
WHATSAPP_NOTIFICATION = _object(
    {
        "object": {"const": "whatsapp_business_account"},
        "entry": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"id": _TEXT, "changes": {"type": "array"}},
            },
        },
    }
)
WHATSAPP_ANSWER = _object({"status": {"const": "ok"}, "stored": _COUNT})
WORDING_LINT = _object(
    {
        "messages": {
            "type": "array",
            "items": _object(
                {"level": {"enum": ["error", "warning"]}, "code": _TEXT, "message": _TEXT}
            ),
        }
    }
)

# Campaigns (`/api/v1/admin/campaigns`): one offer to a segment of the shop's subscribers.

_WINDOW_PATTERN = "^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$"
_TIME_OR_NULL: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
_INTEGERS_BY_KEY: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "integer"}}
CAMPAIGN_REQUEST: dict[str, Any] = {
    "type": "object",
    "required": ["name", "template"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "template": {
            "type": "string",
            "minLength": 1,
            "maxLength": 512,
            "description": "an approved MARKETING template of the shop",
        },
        "segment": {
            "type": ["object", "null"],
            "description": '{"rules": [...]} in the rule language of plugin/campaigns/segments.py',
        },
        "holdout_percent": {"type": ["number", "null"], "minimum": 0, "maximum": 50},
        "coupon": {
            "type": ["string", "null"],
            "maxLength": 64,
            "description": "one code for every recipient (not with unique_coupon_percent)",
        },
        "unique_coupon_percent": {
            "type": ["integer", "null"],
            "minimum": 1,
            "maximum": 100,
            "description": "a single-use code per recipient, this percent off, created on the "
            "shop's platform at start (Shopify, WooCommerce); the template must show the code",
        },
        "window": {"type": ["string", "null"], "pattern": _WINDOW_PATTERN},
        "spread_hours": {"type": ["integer", "null"], "minimum": 0, "maximum": 72},
        "link_url": {"type": ["string", "null"], "maxLength": 2048, "pattern": "^https?://"},
    },
    "examples": [
        {
            "name": "Winter sale",
            "template": "winter_sale",
            "segment": {"rules": [{"rule": "orders", "min": 1}]},
            "holdout_percent": 10,
            "window": "10:00-19:00",
            "spread_hours": 4,
        },
        {"name": "Welcome back", "template": "welcome_code", "unique_coupon_percent": 15},
    ],
}
CAMPAIGN_START: dict[str, Any] = {
    "type": "object",
    "properties": {
        "at": {
            "type": ["string", "null"],
            "format": "date-time",
            "maxLength": 64,
            "description": "when sending begins (ISO 8601 with offset); default now",
        }
    },
}
CAMPAIGN = _object(
    {
        "id": {"type": "integer"},
        "name": _TEXT,
        "status": {"enum": ["draft", "running", "paused", "cancelled"]},
        "template": _TEXT,
        "segment": {"type": "object"},
        "holdout_percent": {"type": "number"},
        "coupon": _TEXT_OR_NULL,
        "unique_coupon_percent": {"type": ["integer", "null"]},
        "window": _TEXT,
        "spread_hours": _COUNT,
        "link_url": _TEXT_OR_NULL,
        "starts_at": _TIME_OR_NULL,
        "started_at": _TIME_OR_NULL,
        "paused_at": _TIME_OR_NULL,
        "cancelled_at": _TIME_OR_NULL,
    }
)
CAMPAIGNS = _object({"campaigns": {"type": "array", "items": CAMPAIGN}})
#: `campaigns show`: sends, deliveries, reads, failures, opt-outs, orders, the holdout.
CAMPAIGN_RESULTS = _object(
    {
        "pending": _COUNT,
        "sent": _COUNT,
        "delivered": _COUNT,
        "read": _COUNT,
        "clicked": _COUNT,
        "replied": _COUNT,
        "failed": _INTEGERS_BY_KEY,
        "skipped": _INTEGERS_BY_KEY,
        "opted_out": _COUNT,
        "orders": _COUNT,
        "revenue_minor": _INTEGERS_BY_KEY,
        "cost_micros": _INTEGERS_BY_KEY,
        #: Revenue per unit spent, where revenue and cost share a currency (to the cent).
        "revenue_per_cost": {"type": "object", "additionalProperties": {"type": "number"}},
        "attribution_window_days": _COUNT,
        "holdout": {"type": "object"},
    }
)
CAMPAIGN_DETAIL = CAMPAIGN | {
    "required": [*CAMPAIGN["required"], "results"],
    "properties": {**CAMPAIGN["properties"], "results": CAMPAIGN_RESULTS},
}
#: The preview: audience after every guard, exclusions by reason, cost per country and currency.
CAMPAIGN_PREVIEW = _object(
    {
        "campaign_id": {"type": "integer"},
        "status": _TEXT,
        "segment_size": _COUNT,
        "audience": _COUNT,
        "excluded": _INTEGERS_BY_KEY,
        "cost_minor": _INTEGERS_BY_KEY,
        "cost_micros": _INTEGERS_BY_KEY,
        "by_country": {
            "type": "object",
            "additionalProperties": _object(
                {"recipients": _COUNT, "cost_micros": {"type": "integer"}, "currency": _TEXT}
            ),
        },
        "monthly_budget_minor": {"type": ["integer", "null"]},
        "budget_share_percent": {"type": ["number", "null"]},
    }
)
CAMPAIGN_TEST_SEND: dict[str, Any] = {
    "type": "object",
    "required": ["phone"],
    "properties": {
        "phone": {
            "type": "string",
            "minLength": 1,
            "maxLength": 64,
            "description": "the owner's own number, itself a confirmed subscriber of the shop",
        }
    },
    "examples": [{"phone": "+49 176 12345678"}],
}
#: A test message waiting in the outbox: it goes with the next dispatch, through every guard.
CAMPAIGN_TEST_SENT = _object(
    {
        "notification_id": {"type": "integer"},
        "phone": _TEXT,
        "state": _TEXT,
        "due_at": {"type": "string", "format": "date-time"},
        "expires_at": _TIME_OR_NULL,
    }
)
CAMPAIGN_STARTED = _object({"campaign": CAMPAIGN, "pending": _COUNT})
CAMPAIGN_HELD = _object({"campaign": CAMPAIGN, "held": _COUNT})
