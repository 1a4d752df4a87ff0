"""CORS for the storefront API: only the shop's own origins may call it from a browser."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response

from plugin.models import Platform, Store


def store_origins(store: Store) -> set[str]:
    """The storefront origins of a shop: its platform address plus any the owner added."""
    origins: set[str] = set()
    if store.platform == Platform.SHOPIFY:
        origins.add(f"https://{store.domain}")
    elif store.base_url:
        parts = urlsplit(store.base_url)
        origins.add(f"{parts.scheme}://{parts.netloc}")
    for origin in store.setting("storefront_origins") or []:
        parts = urlsplit(origin.strip())
        if parts.scheme in ("http", "https") and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}".lower())
    return origins


def origin_allowed(store: Store, origin: str | None) -> bool:
    return bool(origin) and origin.rstrip("/").lower() in store_origins(store)


def cors_for_store(response: Response, store: Store, origin: str | None) -> Response:
    """Add CORS headers when the request came from one of the shop's origins; else none."""
    response.headers.add("Vary", "Origin")
    if origin and origin_allowed(store, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response
