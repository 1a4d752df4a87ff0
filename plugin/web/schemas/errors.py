"""The error answers every JSON route shares: an error, a buyer's refusal, a busy database."""

from __future__ import annotations

from plugin.web.schemas.base import TEXT, object_schema

#: Every JSON error: a machine-readable `error` and a sentence for people.
ERROR = object_schema({"error": TEXT, "message": TEXT}) | {
    "examples": [{"error": "not_found", "message": "unknown store"}]
}
#: A refusal the buyer sees (opt-ins, carts): also `reason`, and `message` in their language.
REFUSAL = object_schema({"error": TEXT, "reason": TEXT, "message": TEXT}) | {
    "examples": [
        {
            "error": "consent_missing",
            "reason": "consent_missing",
            "message": "Please tick the box to agree to WhatsApp messages.",
        }
    ]
}
#: The database is busy or unreachable (with `Retry-After`).
BUSY = object_schema({"error": {"const": "database_busy"}, "message": TEXT})
