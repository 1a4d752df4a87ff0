"""OAuth install helpers: shop domains, query HMAC, token exchange and refresh, session tokens.

The ShopifyAPI package provides the HMAC encoding and session-token checks; its `Session` keeps
the app secret as class state, so we sign through a throwaway subclass instead of setting it
globally (many shops, many threads).
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import shopify
from shopify import session_token

from connectors.errors import AuthFailed
from connectors.shopify.client import request_token

#: https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant#step-2-verify-the-installation-request
SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
#: How old (or how far in the future) a signed install/callback query may be.
QUERY_WINDOW_SECONDS = 24 * 60 * 60
FUTURE_SKEW_SECONDS = 5 * 60


def valid_shop_domain(shop: str | None) -> str | None:
    """The lower-cased shop domain when it is a plain *.myshopify.com name, else None."""
    if not shop or not SHOP_DOMAIN.fullmatch(shop):
        return None
    return shop.lower()


def query_params(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Query pairs as Shopify signs them: `ids[]` keys collect their values in a list."""
    params: dict[str, Any] = {}
    for key, value in pairs:
        if key.endswith("[]"):
            params.setdefault(key, []).append(value)
        else:
            params[key] = value
    return params


def query_hmac(params: Mapping[str, Any], secret: str) -> str:
    """Hex HMAC-SHA256 of the sorted, escaped query (everything but `hmac`)."""
    signer = type("AppSigner", (shopify.Session,), {"secret": secret})
    return signer.calculate_hmac(dict(params))


def verify_query(params: Mapping[str, Any], secret: str, now: float | None = None) -> bool:
    """True when the query's HMAC is right (constant time) and its timestamp is recent."""
    given = params.get("hmac")
    if not secret or not isinstance(given, str):
        return False
    try:
        timestamp = int(params.get("timestamp", ""))
    except (TypeError, ValueError):
        return False
    now = time.time() if now is None else now
    if not now - QUERY_WINDOW_SECONDS <= timestamp <= now + FUTURE_SKEW_SECONDS:
        return False
    return hmac.compare_digest(query_hmac(params, secret), given)


def authorize_url(
    shop_url: str, *, api_key: str, scopes: str, redirect_uri: str, state: str
) -> str:
    """Where to send the owner to approve the app (offline access: no per-user grant)."""
    query = urlencode(
        {"client_id": api_key, "scope": scopes, "redirect_uri": redirect_uri, "state": state}
    )
    return f"{shop_url.rstrip('/')}/admin/oauth/authorize?{query}"


@dataclass(frozen=True)
class TokenSet:
    """An offline token; expiring ones come with a rotating refresh token."""

    access_token: str
    scope: str
    expires_at: dt.datetime | None = None
    refresh_token: str | None = None
    refresh_expires_at: dt.datetime | None = None

    def credentials(self) -> dict[str, Any]:
        """What the shop row stores (encrypted)."""
        return {
            "access_token": self.access_token,
            "scope": self.scope,
            "refresh_token": self.refresh_token,
            "refresh_expires_at": (
                self.refresh_expires_at.isoformat() if self.refresh_expires_at else None
            ),
        }


def _token_set(body: dict[str, Any], now: dt.datetime) -> TokenSet:
    if not body.get("access_token"):
        raise AuthFailed("Shopify returned no access token")

    def later(seconds: Any) -> dt.datetime | None:
        return now + dt.timedelta(seconds=int(seconds)) if seconds else None

    return TokenSet(
        access_token=body["access_token"],
        scope=body.get("scope", ""),
        expires_at=later(body.get("expires_in")),
        refresh_token=body.get("refresh_token"),
        refresh_expires_at=later(body.get("refresh_token_expires_in")),
    )


def exchange_code(
    shop_url: str, code: str, *, api_key: str, secret: str, timeout: float
) -> TokenSet:
    """Trade the callback's code for an expiring offline token and its refresh token.

    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/offline-access-tokens
    """
    now = dt.datetime.now(dt.UTC)
    body = request_token(
        shop_url,
        {"client_id": api_key, "client_secret": secret, "code": code, "expiring": "1"},
        timeout=timeout,
    )
    return _token_set(body, now)


def refresh(
    shop_url: str, refresh_token: str, *, api_key: str, secret: str, timeout: float
) -> TokenSet:
    """Get a new access token; Shopify rotates the refresh token too, so keep both."""
    now = dt.datetime.now(dt.UTC)
    body = request_token(
        shop_url,
        {
            "client_id": api_key,
            "client_secret": secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        },
        timeout=timeout,
    )
    return _token_set(body, now)


def session_token_shop(authorization: str, *, api_key: str, secret: str) -> str:
    """The shop domain of a valid App Bridge session token (`Authorization: Bearer …`).

    HS256 with the app secret, `aud` = our API key, `iss` and `dest` the same shop, expiry with
    the package's leeway of a few seconds (10). https://shopify.dev/docs/apps/build/authentication-authorization/session-tokens
    """
    if not api_key or not secret:
        raise AuthFailed("the Shopify app key and secret are not configured")
    try:
        payload = session_token.decode_from_header(authorization, api_key, secret)
    except session_token.SessionTokenError as error:
        raise AuthFailed(f"invalid session token: {error}") from error
    shop = valid_shop_domain(str(payload.get("dest", "")).removeprefix("https://").rstrip("/"))
    if shop is None:
        raise AuthFailed("session token names no Shopify shop")
    return shop
