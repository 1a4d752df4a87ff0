"""Session tokens of checkout and customer-account UI extensions: which shop is asking.

A UI extension's token is a JWT signed HS256 with the app's secret; `aud` is our API key and
`dest` the shop's domain. Unlike App Bridge's admin token it carries no `iss` or `sid` (and
`sub` only for a signed-in buyer), so the admin verifier cannot take it.
https://shopify.dev/docs/api/checkout-ui-extensions/latest/target-apis/platform-apis/session-token-api
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

from connectors.errors import AuthFailed
from connectors.shopify.auth import valid_shop_domain

#: Clocks of Shopify and ours may differ by a few seconds; tokens live five minutes.
LEEWAY_SECONDS = 10


@dataclass(frozen=True)
class ExtensionToken:
    """The claims ShopNudge uses: the shop, the token's id, and the signed-in buyer if any."""

    shop: str
    token_id: str
    customer_gid: str | None


def verify_extension_token(token: str, *, api_key: str, secret: str) -> ExtensionToken:
    """The verified claims of an extension's session token; AuthFailed for any fault."""
    if not api_key or not secret:
        raise AuthFailed("the Shopify app key and secret are not configured")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=api_key,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "dest", "aud"]},
        )
    except jwt.PyJWTError as error:
        raise AuthFailed(f"invalid session token: {error}") from error
    dest = str(claims.get("dest", "")).removeprefix("https://").rstrip("/")
    shop = valid_shop_domain(dest)
    if shop is None:
        raise AuthFailed("session token names no Shopify shop")
    sub = claims.get("sub")
    return ExtensionToken(
        shop=shop,
        token_id=str(claims.get("jti") or ""),
        customer_gid=str(sub) if isinstance(sub, str) and sub.startswith("gid://") else None,
    )
