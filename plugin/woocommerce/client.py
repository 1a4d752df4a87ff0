"""A WooCommerce shop's client and connector, built from its encrypted keys."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, object_session

from connectors.base import Page, ProductRecord
from connectors.errors import PlatformError
from connectors.profile import ShopProfile
from connectors.woocommerce.client import WooCommerceClient
from connectors.woocommerce.sync import WooCommerceConnector
from connectors.woocommerce.webhooks import TOPICS
from plugin.carts import withdraw_products
from plugin.config import Settings
from plugin.db import utcnow
from plugin.models import Product, Store
from plugin.stores.profile import profile_taker

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


def ensure_webhooks(
    client: WooCommerceClient, url: str, secret: str, *, resend_secret: bool = False
) -> WebhookRepair:
    """One active webhook per topic to `url`, signed with `secret`; re-enable disabled ones,
    and with `resend_secret` give the active ones the (new) secret too.

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
        elif hook.get("status") != "active" or resend_secret:
            # The secret is write-only in the API: send ours again with the new status.
            client.request(
                "PUT", f"webhooks/{hook['id']}", data={"status": "active", "secret": secret}
            )
            if hook.get("status") != "active":
                repair.reenabled += 1
                log.warning("webhook %s (%s) was %s; re-enabled", hook["id"], topic, hook["status"])
            else:
                repair.unchanged += 1
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
    """The shop's connector, checking its webhooks once before the first page of a sync, and
    withdrawing on a complete product pass what the shop no longer lists."""

    def __init__(
        self,
        connector: WooCommerceConnector,
        store_id: int,
        bind: Engine | Connection,
        url: str,
        secret: str | None,
    ) -> None:
        self.connector = connector
        #: The shop's database: the profile and the withdrawals are written in their own sessions.
        self.bind = bind
        self.capabilities = connector.capabilities
        self.store_id = store_id
        self._url, self._secret = url, secret
        self.repair: WebhookRepair | None = None
        self.profile_read = False

    def fetch(self, resource: str, **kwargs: Any) -> Iterator[Page]:
        if self.repair is None and self._secret:
            self.repair = WebhookRepair()
            try:
                self.repair = ensure_webhooks(self.connector.client, self._url, self._secret)
            except PlatformError as error:  # e.g. read-only keys: the sync itself still runs
                log.warning("webhooks not checked: %s", error)
        if not self.profile_read:
            self.profile_read = True
            # before the first product: its prices are in the currency this settles
            try:
                profile = self.connector.client.profile()
            except PlatformError as error:  # a plugin in the way: keep what the store has
                log.warning("store %s: shop settings not read: %s", self.store_id, error)
                profile = ShopProfile()
            self.connector.currency = profile_taker(self.bind, self.store_id)(profile)
        pages = self.connector.fetch(resource, **kwargs)
        complete = kwargs.get("since") is None and not kwargs.get("cursor")
        if resource == "products" and complete:
            return self._reconciled(pages)
        return pages

    def _reconciled(self, pages: Iterator[Page]) -> Iterator[Page]:
        """Every page as it comes, then the products we hold that no page named, as deleted.

        Only a pass from the first page sees the whole list (a resumed one does not).
        """
        listed: set[str] = set()
        withdrawn: set[str] = set()
        for page in pages:
            listed.update(record.platform_id for record in page.records)
            withdrawn.update(record.platform_id for record in page.records if record.deleted)
            yield page
        with Session(self.bind, expire_on_commit=False) as session, session.begin():
            store = session.get(Store, self.store_id)
            assert store is not None
            gone = unlisted_products(session, store, listed)
            withdrawn.update(record.platform_id for record in gone)
            changed = withdraw_products(session, store, withdrawn)
        if gone or changed:
            log.info(
                "store %s: %d products no longer listed; %d carts changed",
                self.store_id,
                len(gone),
                changed,
            )
        if gone:
            yield Page(records=gone, cursor=None, total=None)


def unlisted_products(session: Session, store: Store, listed: set[str]) -> list[ProductRecord]:
    """Deleted records of the products we hold as live that the shop's lists no longer name."""
    held = session.scalars(
        select(Product).where(Product.store_id == store.id, Product.deleted_at.is_(None))
    ).all()
    now = utcnow()
    return [
        ProductRecord(
            platform_id=product.platform_id,
            title=product.title,
            updated_at=now,
            handle=product.handle,
            url=product.url,
            image_url=product.image_url,
            product_type=product.product_type,
            categories=tuple(product.categories or ()),
            tags=tuple(product.tags or ()),
            published=False,
            deleted=True,
        )
        for product in held
        if product.platform_id not in listed
    ]


def woocommerce_connector(store: Store, settings: Settings) -> StoreConnector:
    """The factory registered in plugin.connect. The store must be held in a session: the
    connector writes the shop's profile and withdrawals to that session's database, and there
    is no app to ask for one (every caller reads the store in a session first)."""
    held_in = object_session(store)
    if held_in is None:
        raise ValueError(f"store {store.id} is held in no session: its database is unknown")
    connector = WooCommerceConnector(client_for(store, settings), store.currency)
    bind = held_in.get_bind()
    url, secret = delivery_url(store, settings), store.webhook_secret
    return StoreConnector(connector, store.id, bind, url, secret)
