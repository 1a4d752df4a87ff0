"""The composer's live count: how many buyers the segment's rules hold, as the owner types."""

from __future__ import annotations

from flask import jsonify, request
from flask.typing import ResponseReturnValue
from flask_babel import format_number
from sqlalchemy import func, select

from plugin.campaigns import segments
from plugin.db import request_session, utcnow
from plugin.i18n import ngettext
from plugin.models import Subscription, SubscriptionState
from plugin.web.app.blueprint import bp
from plugin.web.app.campaign_forms import SEGMENT_FIELDS, SegmentForm
from plugin.web.auth import current_store, store_required
from plugin.web.openapi import Answer, documented, errors
from plugin.web.schemas.errors import ERROR

#: The composer's live count: buyers the rules match, and how many of them confirmed.
SEGMENT_COUNT = {
    "type": "object",
    "required": ["segment", "confirmed", "text"],
    "properties": {
        "segment": {"type": "integer", "minimum": 0},
        "confirmed": {"type": "integer", "minimum": 0},
        "text": {"type": "string"},
    },
}


@bp.get("/app/campaigns/segment-count")
@documented(
    "Count the buyers a segment holds while the owner builds it in the composer",
    "admin",
    {
        200: Answer(SEGMENT_COUNT),
        302: Answer(None, "Not signed in: to the sign-in page"),
        422: Answer(ERROR, "A rule's field is off; the message says which"),
        **errors(503),
    },
    owner=True,
    query={name: {"type": "string"} for name in SEGMENT_FIELDS},
)
@store_required
def segment_count() -> ResponseReturnValue:
    """Read-only, so no CSRF token: the composer's fields as query parameters."""
    store = current_store()
    assert store is not None  # store_required ran
    form = SegmentForm(formdata=request.args, meta={"csrf": False})
    if not form.validate():
        name, problems = next(iter(form.errors.items()))
        message = f"{name}: {problems[0]}"
        return jsonify(error="segment_invalid", message=message, text=str(problems[0])), 422
    segments.make_room(request_session())
    matched = (
        segments.audience_query(store, form.segment(), utcnow())
        .with_only_columns(Subscription.state.label("state"))
        .order_by(None)
        .subquery()
    )
    by_state = dict(
        request_session()
        .execute(select(matched.c.state, func.count()).group_by(matched.c.state))
        .all()
    )
    total, confirmed = sum(by_state.values()), by_state.get(SubscriptionState.CONFIRMED, 0)
    text = ngettext(
        "%(count)s subscriber matches, %(confirmed)s of them confirmed.",
        "%(count)s subscribers match, %(confirmed)s of them confirmed.",
        total,
        count=format_number(total),
        confirmed=format_number(confirmed),
    )
    return jsonify(segment=total, confirmed=confirmed, text=text)
