"""Connecting a WooCommerce shop: authorize URL out, REST keys in (the setup job does the rest)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.woocommerce.auth import KeyGrant, authorize_url
from plugin.config import Settings
from plugin.db import utcnow
from plugin.install_states import new_install_state
from plugin.models import OAuthState, Platform, Store, StoreStatus
from plugin.stores.registry import InvalidStore, add_store, normalise_woocommerce_url
from plugin.woocommerce.client import new_webhook_secret
from plugin.woocommerce.setup import request_setup, setup_state

log = logging.getLogger(__name__)

APP_NAME = "ShopNudge"

#: How long the owner has to approve on their shop before the state expires.
STATE_LIFETIME = dt.timedelta(hours=1)


class ConnectFailed(ValueError):
    """The key callback cannot be accepted; the message says why."""


class InsecureCallback(ValueError):
    """Our public address is not https, and WooCommerce posts keys to https only."""


def check_callback_url(settings: Settings) -> None:
    """Refuse before the owner is sent to the shop, which would refuse on its own screen.

    `WC_Auth` rejects a `callback_url` that does not start with https:// ("The callback_url
    needs to be over SSL"), whatever the shop's own scheme.
    """
    if not settings.public_url.lower().startswith("https://"):
        raise InsecureCallback(
            f"WooCommerce sends the new keys only to an https:// address, and ShopNudge's "
            f"public address is {settings.public_url}. Set SHOPNUDGE_PUBLIC_URL to the "
            f"https:// address where the shop can reach ShopNudge, then connect again."
        )


def start_connect(session: Session, settings: Settings, store_url: str) -> str:
    """Remember a one-time state for this site and return the shop's authorize URL."""
    check_callback_url(settings)
    _domain, base_url = normalise_woocommerce_url(store_url, settings)
    nonce = new_install_state(session, Platform.WOOCOMMERCE, base_url, STATE_LIFETIME)
    return authorize_url(
        base_url,
        app_name=APP_NAME,
        user_id=nonce,
        return_url=f"{settings.public_url}/woocommerce/return",
        callback_url=f"{settings.public_url}/woocommerce/callback",
    )


def _spend_state(session: Session, nonce: str) -> OAuthState:
    state = session.get(OAuthState, nonce)
    now = utcnow()
    if state is None or state.platform != Platform.WOOCOMMERCE:
        raise ConnectFailed("unknown user_id (start again from /woocommerce/connect)")
    if state.used_at is not None or state.expires_at < now:
        raise ConnectFailed("this connect attempt expired or was already used")
    state.used_at = now
    return state


def complete_connect(session: Session, settings: Settings, grant: KeyGrant) -> Store:
    """Store the keys encrypted and mark the shop's setup as due; nothing calls the shop."""
    if grant.key_permissions and grant.key_permissions != "read_write":
        raise ConnectFailed(f"keys with {grant.key_permissions} access; read_write is needed")
    state = _spend_state(session, grant.user_id)
    domain, base_url = normalise_woocommerce_url(state.shop, settings)
    store = session.scalars(
        select(Store).where(Store.platform == Platform.WOOCOMMERCE, Store.domain == domain)
    ).first()
    credentials = {"consumer_key": grant.consumer_key, "consumer_secret": grant.consumer_secret}
    if store is None:
        store = add_store(
            session, settings, platform=Platform.WOOCOMMERCE, domain=base_url, **credentials
        )
        from plugin.consent.wording import ensure_default_wordings

        ensure_default_wordings(session, store)
    else:
        store.credentials = credentials
        store.status, store.uninstalled_at, store.installed_at = StoreStatus.ACTIVE, None, utcnow()
    store.webhook_secret = store.webhook_secret or new_webhook_secret()
    session.flush()
    request_setup(session, store)
    log.info("woocommerce store %s connected; setup is due", store.id)
    return store


@dataclass(frozen=True)
class ConnectOutcome:
    """What the return page tells the owner: pending, done (with the webhook count) or failed."""

    state: str
    webhooks: int = 0
    problem: str | None = None


def connected_store(session: Session, settings: Settings, nonce: str) -> Store | None:
    """The store a connect attempt made, while its state is young (it is in the return URL)."""
    state = session.get(OAuthState, nonce) if nonce else None
    if state is None or state.platform != Platform.WOOCOMMERCE or state.used_at is None:
        return None
    if state.expires_at < utcnow():
        return None
    try:
        domain, _base_url = normalise_woocommerce_url(state.shop, settings)
    except InvalidStore:
        return None
    return session.scalars(
        select(Store).where(Store.platform == Platform.WOOCOMMERCE, Store.domain == domain)
    ).first()


def connect_outcome(session: Session, store: Store) -> ConnectOutcome:
    """How far the set-up job got with the shop's webhooks."""
    state = setup_state(session, store)
    if state is None or state.status in ("pending", "running"):
        return ConnectOutcome("pending")
    if state.status == "failed":
        return ConnectOutcome("failed", problem=state.last_error or "unknown error")
    counts = state.counts or {}
    registered = sum(
        int(counts.get(name) or 0)
        for name in ("webhooks_created", "webhooks_reenabled", "webhooks_unchanged")
    )
    return ConnectOutcome("done", webhooks=registered)
