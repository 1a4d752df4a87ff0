"""Meta's webhook endpoint: the verification handshake and verified notifications.

https://developers.facebook.com/docs/graph-api/webhooks/getting-started
"""

from __future__ import annotations

import hmac
import json

from flask import Blueprint, Response, abort, current_app, jsonify, request

from plugin import inbox
from plugin.config import Settings
from plugin.db import request_session
from plugin.web.openapi import Answer, Header, documented, errors
from plugin.web.schemas.webhooks import WHATSAPP_ANSWER, WHATSAPP_NOTIFICATION
from plugin.webhook_handlers import HANDLERS
from plugin.whatsapp.webhooks import (
    MalformedPayload,
    signature_valid,
    split_changes,
    store_changes,
)

bp = Blueprint("whatsapp_webhooks", __name__)


def _settings() -> Settings:
    return current_app.config["SHOPNUDGE"]


@bp.get("/webhooks/whatsapp")
@documented(
    "Meta's subscription challenge: echoes `hub.challenge` when the verify token matches",
    "webhooks",
    {200: Answer({"type": "string"}, media_type="text/plain"), **errors(403)},
    query={
        "hub.mode": {"type": "string"},
        "hub.verify_token": {"type": "string"},
        "hub.challenge": {"type": "string"},
    },
)
def verify() -> Response:
    """Answer Meta's subscription challenge when the verify token matches."""
    token = _settings().whatsapp_verify_token
    given = request.args.get("hub.verify_token", "")
    if (
        request.args.get("hub.mode") != "subscribe"
        or not token
        or not hmac.compare_digest(given.encode(), token.encode())
    ):
        abort(403, description="verification token mismatch")
    return Response(request.args.get("hub.challenge", ""), mimetype="text/plain")


@bp.post("/webhooks/whatsapp")
@documented(
    "Meta's notifications: messages, statuses, templates, quality, user preferences",
    "webhooks",
    {200: Answer(WHATSAPP_ANSWER), **errors(400, 401, 413, 503)},
    body=WHATSAPP_NOTIFICATION,
    headers={"X-Hub-Signature-256": Header("sha256=<hex HMAC-SHA256 of the raw body>")},
)
def receive() -> Response:
    raw = request.get_data(cache=True)
    if not signature_valid(
        raw, request.headers.get("X-Hub-Signature-256"), _settings().whatsapp_app_secret
    ):
        abort(401, description="invalid X-Hub-Signature-256")
    try:
        changes = split_changes(json.loads(raw))
    except (ValueError, MalformedPayload) as error:
        abort(400, description=f"malformed notification: {error}")
    session = request_session()
    ids = store_changes(session, changes)
    session.commit()
    response = jsonify(status="ok", stored=len(ids))
    if ids:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        # A STOP must not wait for a worker: applied right after the answer in every mode.
        response.call_on_close(lambda: inbox.process_stored(app, ids, HANDLERS))
    return response
