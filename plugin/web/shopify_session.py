"""Embedded admin pages: the App Bridge session token says which shop is asking.

`session_token_required` guards a view on its own; the authenticator registered here also lets
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
from plugin.web.auth import register_authenticator

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def verify_session_token(token: str, settings: Settings) -> str:
    """The shop domain a session token was issued for; raises AuthFailed when it is not valid."""
    return auth.session_token_shop(
        f"Bearer {token}", api_key=settings.shopify_api_key, secret=settings.shopify_api_secret
    )


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer ") :].strip() or None if header.startswith("Bearer ") else None


def _store_for_token(session: Session) -> Store | None:
    token = _bearer()
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


def session_token_authenticator(session: Session) -> int | None:
    store = _store_for_token(session)
    return store.id if store else None


def session_token_required(view: ViewT) -> ViewT:
    """Only with a valid `Authorization: Bearer <session token>` of an installed shop (else 401).

    The view finds the shop in `g.current_store`.
    """

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        store = _store_for_token(request_session())
        if store is None:
            abort(401, description="a valid Shopify session token is required")
        g.current_store = store
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


register_authenticator(session_token_authenticator)
