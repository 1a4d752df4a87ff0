"""Requests Shopify forwards from a shop's `/apps/shopnudge/...` to us, and their signature.

Shopify adds `shop`, `path_prefix`, `timestamp` (and `logged_in_customer_id`) to the query and
signs it: every parameter but `signature` as `key=value` (several values joined by commas),
sorted, concatenated without separator, HMAC-SHA256 with the app's secret, hex.
https://shopify.dev/docs/apps/build/online-store/app-proxies/authenticate-app-proxies
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable

from connectors.errors import AuthFailed
from connectors.shopify.auth import valid_shop_domain

#: A signature older (or newer) than this is refused: a captured URL cannot be replayed later.
#: Shopify signs each forwarded request afresh, so a genuine one is seconds old.
WINDOW = dt.timedelta(minutes=5)


def proxy_signature(pairs: Iterable[tuple[str, str]], secret: str) -> str:
    """The hex signature Shopify computes over a proxied request's query parameters."""
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        if key != "signature":
            values.setdefault(key, []).append(value)
    message = "".join(f"{key}={','.join(values[key])}" for key in sorted(values))
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify_proxy_request(
    pairs: list[tuple[str, str]], secret: str, now: dt.datetime | None = None
) -> str:
    """The signed shop domain of a proxied request; AuthFailed when it is forged or stale."""
    if not secret:
        raise AuthFailed("the Shopify app secret is not configured")
    given = [value for key, value in pairs if key == "signature"]
    if len(given) != 1:
        raise AuthFailed("the app proxy request carries no single signature")
    if not hmac.compare_digest(proxy_signature(pairs, secret), given[0]):
        raise AuthFailed("the app proxy signature does not match")
    params = dict(pairs)
    try:
        signed_at = dt.datetime.fromtimestamp(int(params.get("timestamp", "")), dt.UTC)
    except (ValueError, OverflowError, OSError):
        raise AuthFailed("the app proxy request carries no timestamp") from None
    if abs((now or dt.datetime.now(dt.UTC)) - signed_at) > WINDOW:
        raise AuthFailed("the app proxy signature is outside its time window")
    shop = valid_shop_domain(params.get("shop"))
    if shop is None:
        raise AuthFailed("the app proxy request names no Shopify shop")
    return shop
