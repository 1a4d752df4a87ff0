"""GET /r/<token>: the tracked link in every message; records the click, adds UTM parameters."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, abort, redirect
from sqlalchemy import select
from werkzeug.wrappers import Response

from plugin.db import request_session, utcnow
from plugin.models import Notification

bp = Blueprint("links", __name__)


def with_utm(url: str, notification: Notification) -> str:
    """The target with utm_* parameters added (the shop's own parameters are kept)."""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    query += [
        ("utm_source", "whatsapp"),
        ("utm_medium", "shopnudge"),
        ("utm_campaign", notification.flow),
        ("utm_content", str(notification.id)),
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


@bp.get("/r/<token>")
def follow(token: str) -> Response:
    session = request_session()
    notification = session.scalars(
        select(Notification).where(Notification.link_token == token)
    ).first()
    target = notification.context.get("link_url") if notification is not None else None
    if notification is None or not target or not str(target).startswith(("https://", "http://")):
        abort(404)
    if notification.clicked_at is None:
        notification.clicked_at = utcnow()
        session.commit()
    return redirect(with_utm(str(target), notification), code=302)
