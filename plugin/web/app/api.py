"""JSON for the dashboard and for shop owners' scripts, under /api/v1/admin/.

A subscription's proof is `GET /api/v1/admin/subscriptions/<phone>` (plugin.web.admin_consent).
"""

from __future__ import annotations

from typing import Any

from flask import abort, jsonify
from flask.typing import ResponseReturnValue

from plugin.dashboard import build_dashboard
from plugin.db import get_for_store, request_session, utcnow
from plugin.models import Notification, Store
from plugin.web.app.blueprint import bp
from plugin.web.auth import current_store, store_required
from plugin.web.openapi import Answer, documented, errors
from plugin.web.schemas.admin import DASHBOARD, NOTIFICATION


def _store() -> Store:
    store = current_store()
    assert store is not None  # store_required ran
    return store


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


@bp.get("/api/v1/admin/dashboard")
@documented(
    "The dashboard's figures: messages, consent, spend, attributed and incremental revenue",
    "admin",
    {200: Answer(DASHBOARD), **errors(401, 503)},
    owner=True,
)
@store_required
def api_dashboard() -> ResponseReturnValue:
    board = build_dashboard(request_session(), _store(), utcnow())
    incremental = board.incremental
    return jsonify(
        weeks=[week.isoformat() for week in board.weeks],
        messages=dict(board.messages),
        messages_by_week=board.messages_by_week,
        consent_by_source={
            source: dict(kinds) for source, kinds in board.consent_by_source.items()
        },
        spend_micros=board.spend_micros,
        budget_minor=board.budget_minor,
        forecast_micros=board.forecast_micros,
        conversions=board.conversions,
        attributed_revenue_minor=board.attributed_revenue_minor,
        incremental={
            "treated": incremental.treated,
            "treated_recovered": incremental.treated_recovered,
            "holdout": incremental.holdout,
            "holdout_recovered": incremental.holdout_recovered,
            "difference": None if incremental.difference is None else vars(incremental.difference),
        },
    )


@bp.get("/api/v1/admin/notifications/<int:notification_id>")
@documented(
    "One outbox row of the signed-in shop",
    "admin",
    {200: Answer(NOTIFICATION), **errors(401, 404, 503)},
    owner=True,
)
@store_required
def api_notification(notification_id: int) -> ResponseReturnValue:
    row = get_for_store(request_session(), Notification, _store().id, notification_id)
    if row is None:
        abort(404)
    fields = (
        "id",
        "flow",
        "state",
        "reason",
        "phone",
        "template_name",
        "language",
        "delivery_status",
    )
    result = {name: getattr(row, name) for name in fields}
    result.update(due_at=_iso(row.due_at), sent_at=_iso(row.sent_at), cost_micros=row.cost_micros)
    return jsonify(result)
