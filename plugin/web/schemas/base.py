"""The pieces every answer's schema is built from: text, counts, an object with required keys.

Objects list the keys a client may rely on; more may be added.
"""

from __future__ import annotations

from typing import Any

TEXT: dict[str, Any] = {"type": "string"}
TEXT_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}
COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
COUNTS: dict[str, Any] = {"type": "array", "items": COUNT}


def object_schema(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """An object schema whose `required` keys are the first mapping's."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **optional},
    }
