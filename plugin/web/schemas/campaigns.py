"""Campaigns (`/api/v1/admin/campaigns`): one offer to a segment of the shop's subscribers.

The request to create, start and test-send one, and the campaign, its results and its
preview as we answer them.
"""

from __future__ import annotations

from typing import Any

from plugin.web.schemas.base import COUNT, TEXT, TEXT_OR_NULL, object_schema

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
CAMPAIGN = object_schema(
    {
        "id": {"type": "integer"},
        "name": TEXT,
        "status": {"enum": ["draft", "running", "paused", "cancelled"]},
        "template": TEXT,
        "segment": {"type": "object"},
        "holdout_percent": {"type": "number"},
        "coupon": TEXT_OR_NULL,
        "unique_coupon_percent": {"type": ["integer", "null"]},
        "window": TEXT,
        "spread_hours": COUNT,
        "link_url": TEXT_OR_NULL,
        "starts_at": _TIME_OR_NULL,
        "started_at": _TIME_OR_NULL,
        "paused_at": _TIME_OR_NULL,
        "cancelled_at": _TIME_OR_NULL,
    }
)
CAMPAIGNS = object_schema({"campaigns": {"type": "array", "items": CAMPAIGN}})
#: `campaigns show`: sends, deliveries, reads, failures, opt-outs, orders, the holdout.
CAMPAIGN_RESULTS = object_schema(
    {
        "pending": COUNT,
        "sent": COUNT,
        "delivered": COUNT,
        "read": COUNT,
        "clicked": COUNT,
        "replied": COUNT,
        "failed": _INTEGERS_BY_KEY,
        "skipped": _INTEGERS_BY_KEY,
        "opted_out": COUNT,
        "orders": COUNT,
        "revenue_minor": _INTEGERS_BY_KEY,
        "cost_micros": _INTEGERS_BY_KEY,
        #: Revenue per unit spent, where revenue and cost share a currency (to the cent).
        "revenue_per_cost": {"type": "object", "additionalProperties": {"type": "number"}},
        "attribution_window_days": COUNT,
        "holdout": {"type": "object"},
    }
)
CAMPAIGN_DETAIL = CAMPAIGN | {
    "required": [*CAMPAIGN["required"], "results"],
    "properties": {**CAMPAIGN["properties"], "results": CAMPAIGN_RESULTS},
}
#: The preview: audience after every guard, exclusions by reason, cost per country and currency.
CAMPAIGN_PREVIEW = object_schema(
    {
        "campaign_id": {"type": "integer"},
        "status": TEXT,
        "segment_size": COUNT,
        "audience": COUNT,
        "excluded": _INTEGERS_BY_KEY,
        "cost_minor": _INTEGERS_BY_KEY,
        "cost_micros": _INTEGERS_BY_KEY,
        "by_country": {
            "type": "object",
            "additionalProperties": object_schema(
                {"recipients": COUNT, "cost_micros": {"type": "integer"}, "currency": TEXT}
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
CAMPAIGN_TEST_SENT = object_schema(
    {
        "notification_id": {"type": "integer"},
        "phone": TEXT,
        "state": TEXT,
        "due_at": {"type": "string", "format": "date-time"},
        "expires_at": _TIME_OR_NULL,
    }
)
CAMPAIGN_STARTED = object_schema({"campaign": CAMPAIGN, "pending": COUNT})
CAMPAIGN_HELD = object_schema({"campaign": CAMPAIGN, "held": COUNT})
