"""Liveness for load balancers and the operator."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from plugin.db import get_database
from plugin.web.openapi import Answer, documented
from plugin.web.schemas.health import HEALTH, HEALTH_FAILED

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


#: Real reads, not `SELECT 1` (which touches no page): the schema revision and the shops table.
CHECKS = (
    text("SELECT version_num FROM alembic_version"),
    text("SELECT id FROM stores ORDER BY id LIMIT 1"),
)


@bp.get("/healthz")
@documented(
    "Liveness: reads the schema revision and the shops table",
    "operations",
    {200: Answer(HEALTH), 503: Answer(HEALTH_FAILED, "The database fails")},
)
def healthz() -> ResponseReturnValue:
    try:
        with get_database().engine.connect() as connection:
            for check in CHECKS:
                connection.execute(check).all()
    except SQLAlchemyError as error:
        log.warning("health check: database unreachable: %s", type(error).__name__)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
