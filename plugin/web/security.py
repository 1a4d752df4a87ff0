"""Security headers on every response.

Owner pages may be framed only by the shop's own Shopify admin (the shop domain and
admin.shopify.com); everything else not at all. The storefront widget and API stay usable
cross-origin: a script's or a JSON answer's own CSP does not limit the page that loads it.
https://shopify.dev/docs/apps/build/security/set-up-iframe-protection
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from plugin.models import Platform, Store
from plugin.stores.registry import InvalidStore, normalise_shopify_domain

#: Pages use only their own stylesheet and script; charts are inline SVG.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self' "
    "https://cdn.shopify.com; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "object-src 'none'"
)


def frame_ancestors(store: Store | None, shop_parameter: str | None) -> str:
    """Who may frame this response: the Shopify admin of this shop, or nobody."""
    domain = None
    if store is not None and store.platform == Platform.SHOPIFY:
        domain = store.domain
    elif store is None and shop_parameter:
        # First load inside the admin, before the session token is read: Shopify passes ?shop=.
        try:
            domain = normalise_shopify_domain(shop_parameter)
        except InvalidStore:
            domain = None
    if domain:
        return f"frame-ancestors https://{domain} https://admin.shopify.com"
    return "frame-ancestors 'none'"


def _request_store() -> Store | None:
    """The signed-in shop if this request already looked it up (owner pages always do)."""
    return g.get("current_store")


def add_security_headers(response: Response) -> Response:
    ancestors = frame_ancestors(_request_store(), request.args.get("shop"))
    response.headers["Content-Security-Policy"] = f"{PAGE_POLICY}; {ancestors}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    if "frame-ancestors 'none'" in ancestors:
        response.headers["X-Frame-Options"] = "DENY"
    return response


def init_app(app: Flask) -> None:
    if add_security_headers not in app.after_request_funcs.get(None, []):
        app.after_request(add_security_headers)
