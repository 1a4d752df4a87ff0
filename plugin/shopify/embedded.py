"""Inside the Shopify admin: the App Bridge session token says which shop is asking.

The admin frames our pages, where browsers withhold our cookies, so every request carries a
fresh session token instead: `Authorization: Bearer` on fetch (App Bridge adds it), and an
`id_token` parameter on page loads and form posts (app.js adds it). A request authenticated by
a token needs no CSRF token: a forging site cannot mint one. `session_token_required` guards a
view on its own; `session_token_authenticator`, registered by the admin pages, lets
`plugin.web.auth.current_store()` accept the token wherever a sign-in cookie is accepted.
https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.errors import AuthFailed
from connectors.shopify import auth
from plugin.config import Settings
from plugin.db import request_session
from plugin.models import Platform, Store, StoreStatus

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def verify_session_token(token: str, settings: Settings) -> str:
    """The shop domain a session token was issued for; raises AuthFailed when it is not valid."""
    return auth.session_token_shop(
        f"Bearer {token}", api_key=settings.shopify_api_key, secret=settings.shopify_api_secret
    )


def request_session_token() -> str | None:
    """The token of this request: `Authorization: Bearer` (fetch) or `id_token` (page loads)."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    return request.args.get("id_token") or request.form.get("id_token") or None


def store_for_session_token(session: Session, token: str | None) -> Store | None:
    """The installed shop a valid session token was issued for, or None."""
    if token is None:
        return None
    try:
        shop = verify_session_token(token, current_app.config["SHOPNUDGE"])
    except AuthFailed:
        return None
    return session.scalars(
        select(Store).where(
            Store.platform == Platform.SHOPIFY,
            Store.domain == shop,
            Store.status != StoreStatus.UNINSTALLED,
        )
    ).first()


def session_token_required(view: ViewT) -> ViewT:
    """Only with a valid `Authorization: Bearer <session token>` of an installed shop (else 401).

    The view finds the shop in `g.current_store`.
    """

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        store = store_for_session_token(request_session(), request_session_token())
        if store is None:
            abort(401, description="a valid Shopify session token is required")
        g.current_store = store
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def session_token_authenticator(db_session: Session) -> int | None:
    """The installed Shopify shop a valid session token was issued for, or None."""
    token = request_session_token()
    store = store_for_session_token(db_session, token)
    if store is None:
        return None
    g.session_token_auth = True
    g.actor = f"Shopify admin user {_user(token or '')}"
    return store.id


def _user(token: str) -> str:
    """The admin user id (`sub`) of a token already verified, for the audit trail."""
    try:
        import jwt

        return str(jwt.decode(token, options={"verify_signature": False}).get("sub", "?"))
    except Exception:  # the token was verified; a missing claim only shortens the audit text
        return "?"


def authenticated_by_token() -> bool:
    return bool(g.get("session_token_auth"))


def embedded_params(store: Store) -> dict[str, str]:
    """URL parameters that send a redirect back through the token bounce inside the admin."""
    if not authenticated_by_token():
        return {}
    return {"shop": store.domain, "embedded": "1"}
