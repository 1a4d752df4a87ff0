"""Which connector serves a shop: one registration line per platform."""

from __future__ import annotations

from collections.abc import Callable

from connectors.base import Connector
from plugin.config import Settings
from plugin.models import Store

ConnectorFactory = Callable[[Store, Settings], Connector]

#: platform name -> factory(store, settings) building a connector with the shop's credentials.
CONNECTORS: dict[str, ConnectorFactory] = {}


def register_connector(platform: str, factory: ConnectorFactory) -> None:
    CONNECTORS[platform] = factory


class NoConnector(LookupError):
    """The shop's platform has no connector, or the shop has no credentials (the demo)."""


def connector_for(store: Store, settings: Settings) -> Connector:
    if not store.credentials:
        raise NoConnector(f"store {store.id} has no platform credentials; nothing to sync")
    factory = CONNECTORS.get(store.platform)
    if factory is None:
        raise NoConnector(f"no connector for platform {store.platform!r}")
    return factory(store, settings)


from plugin.shopify.client import shopify_connector  # noqa: E402
from plugin.woocommerce.client import woocommerce_connector  # noqa: E402

register_connector("shopify", shopify_connector)
register_connector("woocommerce", woocommerce_connector)
