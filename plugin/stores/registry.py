"""Registering and finding shops."""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.db import utcnow
from plugin.models import AuditEntry, Platform, Store, StoreStatus

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
    """Return (domain, base_url) of a WooCommerce site; HTTPS unless the host is allowed plain.

    An address typed without a scheme is HTTPS, except on a host allowed plain HTTP: there
    either may be meant, and a wrong guess fails only later (a TLS error after the retries),
    so the owner is asked to type it.
    """
    raw = url.strip()
    if "://" not in raw:
        try:
            host = urlsplit("//" + raw).hostname or ""
        except ValueError:  # refused below with the reason
            host = ""
        if host in settings.allow_http_hosts:
            raise InvalidStore(
                f"'{url}' has no scheme and {host} may be reached without TLS: "
                f"type http://{raw} or https://{raw}"
            )
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
    if existing is not None and existing.status == StoreStatus.UNINSTALLED:
        # A removed shop comes back as the same store: its consent ledger is still its own.
        existing.base_url, existing.credentials = base_url, credentials
        existing.webhook_secret = webhook_secret
        existing.status, existing.uninstalled_at, existing.installed_at = (
            StoreStatus.ACTIVE,
            None,
            utcnow(),
        )
        existing.name = name or existing.name
        session.flush()
        return existing
    if existing is not None:
        raise InvalidStore(
            f"{platform} store {domain} is already registered as store {existing.id} "
            f"(correct it with `shopnudge stores update {existing.id} ...`)"
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


#: What `update_store` may change; secrets are audited as changed, never with their value.
UPDATABLE = ("domain", "consumer_key", "consumer_secret", "webhook_secret", "token", "name")
SECRET_FIELDS = frozenset({"consumer_key", "consumer_secret", "webhook_secret", "token"})


def audit_store_change(
    session: Session, store: Store, actor: str, action: str, field: str, old: object, new: object
) -> None:
    """Record one change to a shop; a secret as changed, never with its value."""
    if field in SECRET_FIELDS:
        old, new = ("(set)" if old else None), "(changed)"
    session.add(
        AuditEntry(
            store_id=store.id, actor=actor, action=action, field=field, old_value=old, new_value=new
        )
    )


#: The credentials entry each key option writes.
CREDENTIAL_KEYS = {
    "consumer_key": "consumer_key",
    "consumer_secret": "consumer_secret",
    "token": "access_token",
}


def _checked_changes(store: Store, changes: dict[str, str | None]) -> dict[str, str]:
    """The options given, refused where they do not fit the shop's platform."""
    wanted = {name: value for name, value in changes.items() if value is not None}
    unknown = set(wanted) - set(UPDATABLE)
    if unknown:
        raise InvalidStore(f"cannot change {', '.join(sorted(unknown))}")
    if store.platform == Platform.WOOCOMMERCE and "token" in wanted:
        raise InvalidStore(
            "a WooCommerce store has --consumer-key and --consumer-secret, not --token"
        )
    if store.platform != Platform.WOOCOMMERCE and {"consumer_key", "consumer_secret"} & set(wanted):
        raise InvalidStore("a Shopify store has --token, not WooCommerce keys")
    if "name" in wanted:
        wanted["name"] = wanted["name"].strip()
        if not wanted["name"] or len(wanted["name"]) > 255:
            raise InvalidStore("--name must be the business name, 1 to 255 characters")
    return wanted


def _new_address(session: Session, settings: Settings, store: Store, typed: str) -> tuple[str, str]:
    """(domain, base_url) of the corrected address, refused where another store has it."""
    if store.platform == Platform.WOOCOMMERCE:
        domain, base_url = normalise_woocommerce_url(typed, settings)
    else:
        domain, base_url = normalise_shopify_domain(typed), ""
    other = session.scalars(
        select(Store).where(
            Store.platform == store.platform, Store.domain == domain, Store.id != store.id
        )
    ).first()
    if other is not None:
        raise InvalidStore(f"{store.platform} store {domain} is already store {other.id}")
    return domain, base_url


def update_store(
    session: Session, settings: Settings, store: Store, actor: str, **changes: str | None
) -> list[str]:
    """Correct a registered shop's address, keys or name; returns the fields that changed."""
    wanted: dict[str, object] = dict(_checked_changes(store, changes))
    if "domain" in wanted:
        wanted["domain"] = _new_address(session, settings, store, str(wanted["domain"]))
    credentials = dict(store.credentials or {})
    current: dict[str, object] = {
        "domain": (store.domain, store.base_url),
        **{field: credentials.get(key) for field, key in CREDENTIAL_KEYS.items()},
        "webhook_secret": store.webhook_secret,
        "name": store.name,
    }
    changed = [name for name in UPDATABLE if name in wanted and wanted[name] != current[name]]
    for name in changed:
        old, new = current[name], wanted[name]
        if name == "domain":  # the address as typed in full: scheme, host and path
            (old_domain, old_base), (domain, base_url) = old, new  # type: ignore[misc]
            store.domain, store.base_url = domain, base_url
            old, new = old_base or old_domain, base_url or domain
        elif name in CREDENTIAL_KEYS:
            credentials[CREDENTIAL_KEYS[name]] = new
        else:
            setattr(store, name, new)
        audit_store_change(session, store, actor, "store_updated", name, old, new)
    if set(changed) & set(CREDENTIAL_KEYS):
        credentials.pop("query_string_auth", None)  # proven again with the new keys
        store.credentials = credentials
    session.flush()
    return changed


def mark_removed(session: Session, store: Store, actor: str) -> None:
    """Stop all sending and syncing and forget the credentials; the consent ledger stays.

    Confirmed and opted-out consent is the shop's proof for as long as a claim about a sent
    message can be made (see plugin.consent.retention), so nothing of it is deleted here.
    """
    audit_store_change(
        session, store, actor, "store_removed", "status", store.status, StoreStatus.UNINSTALLED
    )
    store.status, store.uninstalled_at = StoreStatus.UNINSTALLED, utcnow()
    store.credentials, store.token_expires_at, store.webhook_secret = None, None, None
    session.flush()
