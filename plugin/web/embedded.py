"""Inside the Shopify admin: the App Bridge session token says which shop is asking.

The admin frames our pages, where browsers withhold our cookies, so every request carries a
fresh session token instead: `Authorization: Bearer` on fetch (App Bridge adds it), and an
`id_token` parameter on page loads and form posts (app.js adds it). A request authenticated by
a token needs no CSRF token: a forging site cannot mint one.
https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens
"""

from __future__ import annotations

from flask import g
from sqlalchemy.orm import Session

from plugin.models import Store
from plugin.web.shopify_session import request_session_token, store_for_session_token


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
