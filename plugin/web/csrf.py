"""CSRF protection for every state change an owner's session cookie authenticates.

Flask-WTF's CSRFProtect checks the token (form field `csrf_token`, or the `X-CSRFToken`
header for scripts) on every unsafe request to `/app/` and `/api/v1/admin/`. Two kinds of
request skip it: one authenticated by a Shopify session token (a forging site cannot mint
one; no cookie is involved), and a view that checks the token itself through its FlaskForm so
it can show the owner the error beside the form (`checks_own_csrf`).
https://flask-wtf.readthedocs.io/en/1.2.x/csrf/
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask_wtf.csrf import CSRFProtect

from plugin.shopify.embedded import authenticated_by_token
from plugin.web.auth import current_store

#: Paths where a browser's session cookie authenticates the shop owner.
OWNER_PREFIXES = ("/app/", "/api/v1/admin/")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

csrf = CSRFProtect()
ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def checks_own_csrf(view: ViewT) -> ViewT:
    """Mark a view whose FlaskForm validates the CSRF token (and shows its error in the form)."""
    view.checks_own_csrf = True  # type: ignore[attr-defined]
    return view


def protect_owner_requests() -> None:
    """Refuse (400) a cookie-authenticated owner state change without a valid CSRF token."""
    if request.method in SAFE_METHODS or not request.path.startswith(OWNER_PREFIXES):
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "checks_own_csrf", False):
        return  # unknown route: the router answers 404/405
    current_store()  # runs the authenticators, which note a session token
    if authenticated_by_token():
        return
    csrf.protect()


def init_app(app: Flask) -> None:
    """CSRFProtect provides `csrf_token()` to templates; only our hook decides what it checks."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)
    app.before_request(protect_owner_requests)
