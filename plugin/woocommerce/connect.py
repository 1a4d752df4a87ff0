"""Connecting a WooCommerce shop: authorize URL out, REST keys in, keys checked, webhooks made."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.errors import PlatformError
from connectors.woocommerce.auth import KeyGrant, authorize_url
from plugin.config import Settings
from plugin.db import utcnow
from plugin.install_states import new_install_state
from plugin.models import OAuthState, Platform, Store, StoreStatus
from plugin.stores import add_store, normalise_woocommerce_url
from plugin.woocommerce.stores import client_for, delivery_url, ensure_webhooks, new_webhook_secret

log = logging.getLogger(__name__)

APP_NAME = "ShopNudge"

#: How long the owner has to approve on their shop before the state expires.
STATE_LIFETIME = dt.timedelta(hours=1)


class ConnectFailed(ValueError):
    """The key callback cannot be accepted; the message says why."""


def start_connect(session: Session, settings: Settings, store_url: str) -> str:
    """Remember a one-time state for this site and return the shop's authorize URL."""
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
    """Store the keys encrypted and prove them with one call; `create_webhooks` follows."""
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
    client = client_for(store, settings)
    version = client.version()  # the one call that proves the keys work
    if client.query_string_auth:
        store.credentials = {**credentials, "query_string_auth": True}
    store.webhook_secret = store.webhook_secret or new_webhook_secret()
    session.flush()
    log.info("woocommerce store %s connected (WooCommerce %s)", store.id, version)
    return store


def create_webhooks(store: Store, settings: Settings) -> None:
    """Create the shop's webhooks (after the store is committed: pings and first deliveries
    must find it). A failure here is repaired by the next sync, so it only logs."""
    try:
        repair = ensure_webhooks(
            client_for(store, settings), delivery_url(store, settings), store.webhook_secret or ""
        )
    except PlatformError as error:
        log.warning("store %s: webhooks not created yet (%s); sync will retry", store.id, error)
        return
    log.info("store %s webhooks: %s", store.id, repair)
