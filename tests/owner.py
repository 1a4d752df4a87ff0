"""Helpers for tests of the owner's pages: sign in with a real login link, read CSRF tokens."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.models import Store
from plugin.web.auth import issue_login_token


def login_path(session: Session, store: Store) -> str:
    token = issue_login_token(session, store)
    session.commit()
    return f"/app/login/{token}"


def sign_in(client: FlaskClient, session: Session, store: Store) -> None:
    response = client.get(login_path(session, store))
    assert response.status_code == 302
    assert response.headers["Location"] == "/app/"


def csrf_token(html: str, prefix: str = "") -> str:
    """The CSRF token of the form whose fields carry `prefix` (the page has one per form)."""
    match = re.search(rf'name="{re.escape(prefix)}csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, f"no {prefix}csrf_token on the page"
    return match.group(1)


def csrf_headers(client: FlaskClient) -> dict[str, str]:
    """The header a signed-in owner's script sends with a state change (token from any page)."""
    html = client.get("/app/").get_data(as_text=True)
    return {"X-CSRFToken": csrf_token(html)}
