"""`GET /healthz`: the database answers, or it does not."""

from __future__ import annotations

from plugin.web.schemas.base import object_schema

HEALTH = object_schema({"status": {"const": "ok"}, "database": {"const": "ok"}})
HEALTH_FAILED = object_schema({"status": {"const": "error"}, "database": {"const": "unreachable"}})
