"""Inside the Shopify admin: the App Bridge session token says which shop is asking.

The admin frames our pages, where browsers withhold our cookies, so every request carries a
fresh session token instead: `Authorization: Bearer` on fetch (App Bridge adds it), and an
`id_token` parameter on page loads and form posts (app.js adds it). A request authenticated by
a token needs no CSRF token: a forging site cannot mint one.
https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens
"""

from __future__ import annotations

from flask import current_app, g, request
from shopify import session_token
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.errors import AuthFailed
from plugin.config import Settings
from plugin.models import Platform, Store, StoreStatus
from plugin.stores import InvalidStore, normalise_shopify_domain


def _verify_with_package(token: str, settings: Settings) -> str:
    """The shop domain of a valid session token (ShopifyAPI checks signature, audience, expiry)."""
    if not settings.shopify_api_key or not settings.shopify_api_secret:
        raise AuthFailed("the Shopify app key and secret are not configured")
    try:
        payload = session_token.decode_from_header(
            f"Bearer {token}", settings.shopify_api_key, settings.shopify_api_secret
        )
    except session_token.SessionTokenError as error:
        raise AuthFailed(f"invalid session token: {error}") from error
    try:
        return normalise_shopify_domain(str(payload["dest"]).removeprefix("https://").rstrip("/"))
    except InvalidStore as error:
        raise AuthFailed("session token names no Shopify shop") from error


try:  # the Shopify integration's check, when installed; the same rules otherwise
    from plugin.web.shopify_session import (  # type: ignore[import-not-found]
        verify_session_token,
    )
except ImportError:
    verify_session_token = _verify_with_package


def request_session_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer ") :].strip() or None
    return request.args.get("id_token") or request.form.get("id_token") or None


def session_token_authenticator(db_session: Session) -> int | None:
    """The installed Shopify shop a valid session token was issued for, or None."""
    token = request_session_token()
    if token is None:
        return None
    try:
        shop = verify_session_token(token, current_app.config["SHOPNUDGE"])
    except AuthFailed:
        return None
    store_id = db_session.scalar(
        select(Store.id).where(
            Store.platform == Platform.SHOPIFY,
            Store.domain == shop,
            Store.status != StoreStatus.UNINSTALLED,
        )
    )
    if store_id is not None:
        g.session_token_auth = True
        g.actor = f"Shopify admin user {_user(token)}"
    return store_id


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
