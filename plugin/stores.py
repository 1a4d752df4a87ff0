"""Registering and finding shops."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.db import utcnow
from plugin.models import Platform, Store

SHOPIFY_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")


class InvalidStore(ValueError):
    """The shop cannot be registered as given; the message says why in one line."""


def normalise_shopify_domain(domain: str) -> str:
    domain = domain.strip().lower()
    if not SHOPIFY_DOMAIN.fullmatch(domain):
        raise InvalidStore(
            f"'{domain}' is not a Shopify shop domain (expected something.myshopify.com)"
        )
    return domain


def normalise_woocommerce_url(url: str, settings: Settings) -> tuple[str, str]:
    """Return (domain, base_url) of a WooCommerce site; HTTPS unless the host is allowed plain."""
    raw = url.strip()
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
        port = parts.port  # parsed here: a bad port or IPv6 bracket raises ValueError
    except ValueError:
        raise InvalidStore(f"'{url}' is not a WooCommerce site address") from None
    if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment:
        raise InvalidStore(f"'{url}' is not a WooCommerce site address (expected shop.example.com)")
    if not re.fullmatch(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?", host) or (
        "." not in host and host not in settings.allow_http_hosts and host != "localhost"
    ):
        raise InvalidStore(f"'{url}' has no valid host name")
    if parts.scheme == "http" and host not in settings.allow_http_hosts:
        raise InvalidStore(
            f"'{url}' is not HTTPS; WooCommerce keys travel in every request "
            "(allow a test host with SHOPNUDGE_ALLOW_HTTP_HOSTS)"
        )
    netloc = host + (f":{port}" if port else "")
    path = parts.path.rstrip("/")
    return netloc + path, f"{parts.scheme}://{netloc}{path}"


def add_store(
    session: Session,
    settings: Settings,
    *,
    platform: str,
    domain: str,
    token: str | None = None,
    consumer_key: str | None = None,
    consumer_secret: str | None = None,
    webhook_secret: str | None = None,
    name: str | None = None,
) -> Store:
    """Register a shop that uses a custom-app token or WooCommerce keys."""
    if platform == Platform.SHOPIFY:
        domain = normalise_shopify_domain(domain)
        if not token:
            raise InvalidStore("a Shopify store needs --token (an Admin API access token)")
        credentials = {"access_token": token}
        base_url = ""
    elif platform == Platform.WOOCOMMERCE:
        domain, base_url = normalise_woocommerce_url(domain, settings)
        if not consumer_key or not consumer_secret:
            raise InvalidStore(
                "a WooCommerce store needs --consumer-key and --consumer-secret (REST API keys)"
            )
        credentials = {"consumer_key": consumer_key, "consumer_secret": consumer_secret}
        # ShopNudge creates the shop's webhooks on the first sync, signed with this secret.
        webhook_secret = webhook_secret or secrets.token_urlsafe(32)
    else:
        raise InvalidStore(f"unknown platform '{platform}' (shopify or woocommerce)")

    existing = session.scalars(
        select(Store).where(Store.platform == platform, Store.domain == domain)
    ).first()
    if existing is not None:
        raise InvalidStore(
            f"{platform} store {domain} is already registered as store {existing.id}"
        )
    store = Store(
        platform=platform,
        domain=domain,
        base_url=base_url,
        name=name or domain.split(".")[0].replace("-", " ").title(),
        credentials=credentials,
        webhook_secret=webhook_secret,
        installed_at=utcnow(),
    )
    session.add(store)
    session.flush()
    return store


def find_store(session: Session, ref: str) -> Store | None:
    """A store by numeric id, public key or domain (what an operator types)."""
    if ref.isdigit():
        store = session.get(Store, int(ref))
        if store is not None:
            return store
    return session.scalars(
        select(Store).where((Store.public_key == ref) | (Store.domain == ref.lower()))
    ).first()
