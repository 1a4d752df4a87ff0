"""The owner's JSON API (`/api/v1/admin/...`, `/app/settings/wording/lint`): what it answers.

The dashboard's figures, one outbox row, a buyer's consent record and export, the wording
lint; campaigns have their own module.
"""

from __future__ import annotations

from plugin.web.schemas.base import COUNT, COUNTS, TEXT, TEXT_OR_NULL, object_schema

_INTERVAL_OR_NULL = {
    "type": ["object", "null"],
    "required": ["estimate", "low", "high"],
    "properties": {"estimate": {"type": "number"}, "low": {"type": "number"}},
}
DASHBOARD = object_schema(
    {
        "weeks": {"type": "array", "items": TEXT},
        "messages": {"type": "object", "additionalProperties": COUNT},
        "messages_by_week": {"type": "object", "additionalProperties": COUNTS},
        "consent_by_source": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": COUNT},
        },
        "spend_micros": COUNT,
        "budget_minor": {"type": ["integer", "null"]},
        "forecast_micros": COUNT,
        "conversions": COUNT,
        "attributed_revenue_minor": COUNT,
        "incremental": object_schema(
            {
                "treated": COUNT,
                "treated_recovered": COUNT,
                "holdout": COUNT,
                "holdout_recovered": COUNT,
                "difference": _INTERVAL_OR_NULL,
            }
        ),
    }
)
NOTIFICATION = object_schema(
    {
        "id": {"type": "integer"},
        "flow": TEXT,
        "state": TEXT,
        "reason": TEXT_OR_NULL,
        "phone": TEXT,
        "template_name": TEXT_OR_NULL,
        "language": TEXT_OR_NULL,
        "delivery_status": TEXT_OR_NULL,
        "due_at": TEXT_OR_NULL,
        "sent_at": TEXT_OR_NULL,
        "cost_micros": {"type": ["integer", "null"]},
    }
)
CONSENT_EVENT = object_schema(
    {
        "occurred_at": TEXT,
        "kind": TEXT,
        "source": TEXT,
        "wording": {"type": ["object", "null"]},
        "locale": TEXT_OR_NULL,
        "ip": TEXT_OR_NULL,
        "user_agent": TEXT_OR_NULL,
        "message_id": TEXT_OR_NULL,
        "detail": {"type": "object"},
    }
)
CONSENT_RECORD = object_schema(
    {
        "phone": TEXT,
        "state": TEXT,
        "locale": TEXT_OR_NULL,
        "confirmed_at": TEXT_OR_NULL,
        "opted_out_at": TEXT_OR_NULL,
        "pending_expires_at": TEXT_OR_NULL,
        "whatsapp_user_id": TEXT_OR_NULL,
        "events": {"type": "array", "items": CONSENT_EVENT},
    }
)
BUYER_EXPORT = object_schema(
    {
        "store": object_schema({"name": TEXT, "domain": TEXT}),
        "exported_at": TEXT,
        "customers": {"type": "array", "items": {"type": "object"}},
    }
)
WORDING_LINT = object_schema(
    {
        "messages": {
            "type": "array",
            "items": object_schema(
                {"level": {"enum": ["error", "warning"]}, "code": TEXT, "message": TEXT}
            ),
        }
    }
)
