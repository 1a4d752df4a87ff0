"""A WooCommerce shop's client and connector, built from its encrypted keys."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from connectors.base import Page
from connectors.errors import PlatformError
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.sync import WooCommerceConnector
from connectors.woocommerce.webhooks import TOPICS
from plugin.config import Settings
from plugin.models import Store

log = logging.getLogger(__name__)


def client_for(store: Store, settings: Settings) -> WooCommerceClient:
    credentials = store.credentials or {}
    return WooCommerceClient(
        store.base_url,
        credentials["consumer_key"],
        credentials["consumer_secret"],
        timeout=settings.http_timeout,
        query_string_auth=bool(credentials.get("query_string_auth")),
    )


def delivery_url(store: Store, settings: Settings) -> str:
    return f"{settings.public_url}/webhooks/woocommerce/{store.id}"


def new_webhook_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class WebhookRepair:
    created: int = 0
    reenabled: int = 0
    unchanged: int = 0


def ensure_webhooks(client: WooCommerceClient, url: str, secret: str) -> WebhookRepair:
    """One active webhook per topic to `url`, signed with `secret`; re-enable disabled ones.

    WooCommerce disables a webhook after five failed deliveries in a row (status "disabled").
    https://woocommerce.github.io/woocommerce-rest-api-docs/#webhook-properties
    """
    repair = WebhookRepair()
    ours: dict[str, dict[str, Any]] = {}
    for page in client.pages("webhooks", {"status": "all"}):
        for hook in page.items:
            if hook.get("delivery_url") == url and hook.get("topic") in TOPICS:
                ours.setdefault(hook["topic"], hook)
    for topic in TOPICS:
        hook = ours.get(topic)
        if hook is None:
            body = {
                "name": f"ShopNudge {topic}",
                "topic": topic,
                "delivery_url": url,
                "secret": secret,
                "status": "active",
            }
            client.request("POST", "webhooks", data=body)
            repair.created += 1
        elif hook.get("status") != "active":
            # The secret is write-only in the API: send ours again with the new status.
            client.request(
                "PUT", f"webhooks/{hook['id']}", data={"status": "active", "secret": secret}
            )
            repair.reenabled += 1
            log.warning("webhook %s (%s) was %s; re-enabled", hook["id"], topic, hook["status"])
        else:
            repair.unchanged += 1
    return repair


def remove_webhooks(client: WooCommerceClient, url: str) -> int:
    """Delete every webhook of the shop that delivers to `url` (ours); returns how many.

    Webhooks cannot be trashed: WooCommerce answers 501 unless `force=true`.
    https://woocommerce.github.io/woocommerce-rest-api-docs/#delete-a-webhook
    """
    ours = [
        hook["id"]
        for page in client.pages("webhooks", {"status": "all"})
        for hook in page.items
        if hook.get("delivery_url") == url
    ]
    for hook_id in ours:
        client.request("DELETE", f"webhooks/{hook_id}", params={"force": "true"})
    return len(ours)


class StoreConnector:
    """The shop's connector, checking its webhooks once before the first page of a sync."""

    def __init__(self, connector: WooCommerceConnector, url: str, secret: str | None) -> None:
        self.connector = connector
        self.capabilities = connector.capabilities
        self._url, self._secret = url, secret
        self.repair: WebhookRepair | None = None

    def fetch(self, resource: str, **kwargs: Any) -> Iterator[Page]:
        if self.repair is None and self._secret:
            self.repair = WebhookRepair()
            try:
                self.repair = ensure_webhooks(self.connector.client, self._url, self._secret)
            except PlatformError as error:  # e.g. read-only keys: the sync itself still runs
                log.warning("webhooks not checked: %s", error)
        return self.connector.fetch(resource, **kwargs)


def woocommerce_connector(store: Store, settings: Settings) -> StoreConnector:
    """The factory registered in plugin.connect."""
    connector = WooCommerceConnector(client_for(store, settings), store.currency)
    return StoreConnector(connector, delivery_url(store, settings), store.webhook_secret)
