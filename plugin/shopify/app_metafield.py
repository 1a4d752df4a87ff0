"""The app-data metafield: what the storefront pieces need, written to the shop by ShopNudge.

Theme embeds read it in Liquid as `app.metafields.shopnudge.storefront` (on our
AppInstallation); checkout and customer-account UI extensions read the same value as an
app-owned shop metafield (`$app:shopnudge`). Nothing has to be typed into the theme editor.
https://shopify.dev/docs/apps/build/online-store/theme-app-extensions/configuration#app-data-metafields
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.errors import PlatformError
from connectors.shopify.client import raise_user_errors
from plugin.config import Settings
from plugin.consent.wording import current_wording
from plugin.models import AuditEntry, OptinWording, Platform, Store
from plugin.shopify.client import client_for

log = logging.getLogger(__name__)

NAMESPACE = "shopnudge"
#: App-owned namespace on the shop, the form UI extensions' `appMetafields` can read.
APP_NAMESPACE = "$app:shopnudge"
KEY = "storefront"
#: The storefront path Shopify forwards to us (app config `[app_proxy]` prefix and subpath).
PROXY_PATH = "/apps/shopnudge"
#: The audit action that records each write (the settings page shows the last one).
ACTION = "app_metafield_set"

INSTALLATION_QUERY = "query ShopNudgeInstallation { currentAppInstallation { id } }"
SHOP_QUERY = "query ShopNudgeShopId { shop { id } }"

SET_MUTATION = """
mutation ShopNudgeStorefrontMetafield($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key }
    userErrors { field message code }
  }
}
"""


def storefront_config(session: Session, settings: Settings, store: Store) -> dict[str, Any]:
    """What the storefront pieces show and where they send: server, key, current wording."""
    locales = session.scalars(
        select(OptinWording.locale).where(OptinWording.store_id == store.id).distinct()
    ).all()
    wordings = {}
    for locale in sorted(locales):
        shown = current_wording(session, store, locale)
        if shown is not None:
            wordings[locale] = {
                "version": shown.version,
                "text": shown.text,
                "privacy_url": shown.privacy_url or store.privacy_url,
            }
    return {
        "server": settings.public_url,
        "store": store.public_key,
        "proxy": PROXY_PATH,
        "business": store.name,
        "default_locale": store.default_locale,
        "wordings": wordings,
    }


def write_app_metafield(session: Session, settings: Settings, store: Store) -> bool:
    """Write the storefront config to the shop; False (logged, audited) when Shopify refuses.

    Called at install and after each wording change. A refusal never undoes the change that
    caused it: the next write brings the shop up to date.
    """
    if store.platform != Platform.SHOPIFY or not settings.shopify_api_key:
        return False  # a WooCommerce shop, or no Shopify app configured to write as
    value = json.dumps(storefront_config(session, settings, store), ensure_ascii=False)
    try:
        client = client_for(session, store, settings)
        installation = client.execute(INSTALLATION_QUERY)["currentAppInstallation"]["id"]
        shop = client.execute(SHOP_QUERY)["shop"]["id"]
        metafields = [
            {
                "ownerId": installation,
                "namespace": NAMESPACE,
                "key": KEY,
                "type": "json",
                "value": value,
            },
            {
                "ownerId": shop,
                "namespace": APP_NAMESPACE,
                "key": KEY,
                "type": "json",
                "value": value,
            },
        ]
        raise_user_errors(client.execute(SET_MUTATION, {"metafields": metafields})["metafieldsSet"])
    except (PlatformError, LookupError) as error:
        log.warning("store %s: app metafield not written: %s", store.id, error)
        _audit(session, store, {"written": False, "error": str(error)[:500]})
        return False
    _audit(session, store, {"written": True, "locales": sorted(json.loads(value)["wordings"])})
    return True


def _audit(session: Session, store: Store, outcome: dict[str, Any]) -> None:
    session.add(
        AuditEntry(
            store_id=store.id, actor="shopnudge", action=ACTION, field=KEY, new_value=outcome
        )
    )
    session.flush()


def last_write(session: Session, store: Store) -> AuditEntry | None:
    """The newest attempt to write the metafield (its `new_value` says how it went)."""
    return session.scalars(
        select(AuditEntry)
        .where(AuditEntry.store_id == store.id, AuditEntry.action == ACTION)
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
