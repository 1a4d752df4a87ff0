"""The Shopify connector: incremental pages by `updated_at`, full backfills by bulk operation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from connectors.base import Capabilities, Page
from connectors.errors import NotSupported, PlatformError
from connectors.profile import ShopProfile
from connectors.shopify import bulk, queries
from connectors.shopify.client import ShopifyClient
from connectors.shopify.mapping import cart_record, customer_record, order_record, product_record

#: Records per page handed to the core from a bulk file (each page is one commit).
BULK_PAGE = 1000
#: Prefix of a saved cursor that carries its run's upper time bound: `until:<iso>|<cursor>`.
UNTIL = "until:"

CAPABILITIES = Capabilities(
    abandoned_carts=True,
    incremental_orders=True,
    incremental_customers=True,
    bulk_export=True,
    whatsapp_consent=True,
)


class ShopifyConnector:
    """Products, customers, orders and abandoned checkouts of one shop."""

    capabilities = CAPABILITIES

    def __init__(
        self,
        client: ShopifyClient,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        on_profile: Callable[[ShopProfile], str] | None = None,
    ) -> None:
        self.client = client
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._currency: str | None = None
        self._shop: dict[str, Any] | None = None
        #: Called once, before the first page, with what the shop says of itself; returns the
        #: currency to price products in (the owner's, where they set one).
        self._on_profile = on_profile

    def _shop_fields(self) -> dict[str, Any]:
        if self._shop is None:
            self._shop = self.client.execute(queries.SHOP)["shop"]
        return self._shop

    def currency(self) -> str:
        if self._currency is None:
            self._currency = self._shop_fields()["currencyCode"]
        return self._currency

    def profile(self) -> ShopProfile:
        """The shop's currency, time zone and address country (`Shop` in the Admin API)."""
        shop = self._shop_fields()
        return ShopProfile(
            currency=shop.get("currencyCode"),
            country=(shop.get("shopAddress") or {}).get("countryCodeV2"),
            timezone=shop.get("ianaTimezone"),
        )

    def _mapper(self, resource: str) -> Callable[[dict[str, Any]], Any]:
        if resource == "products":
            currency = self.currency()
            return lambda node: product_record(node, currency)
        mappers = {"customers": customer_record, "orders": order_record, "carts": cart_record}
        if resource not in mappers:
            raise NotSupported(f"Shopify has no resource {resource!r}")
        return mappers[resource]

    def fetch(
        self,
        resource: str,
        *,
        since: dt.datetime | None,
        cursor: str | None = None,
        full: bool = False,
    ) -> Iterator[Page]:
        if self._on_profile is not None:
            take, self._on_profile = self._on_profile, None
            self._currency = take(self.profile())
        mapper = self._mapper(resource)
        if cursor and cursor.startswith("bulk:"):
            yield from self._resume_bulk(resource, cursor, mapper)
        elif full:
            result = bulk.run(self.client, resource)
            yield from self._bulk_pages(result, 0, mapper)
        else:
            yield from self._pages(resource, since, cursor, mapper)

    def _pages(
        self,
        resource: str,
        since: dt.datetime | None,
        cursor: str | None,
        mapper: Callable[[dict[str, Any]], Any],
    ) -> Iterator[Page]:
        """Cursor pagination of what changed from `since` on.

        A connection sorted by update time shows a record changed mid-run again at its end.
        One read in id order (abandoned checkouts) does not: so such a run reads only what
        changed before it started, and whatever changes during it is newer than all it saw,
        for the next run (which starts at the watermark) to read. The bound travels in the
        cursor, so a resumed run keeps it.
        """
        until: dt.datetime | None = None
        if queries.SORT_KEYS[resource] != "UPDATED_AT":
            until, cursor = _split_cursor(cursor)
            until = until or self.clock().astimezone(dt.UTC)
        terms = [f"updated_at:>='{since.astimezone(dt.UTC).isoformat()}'"] if since else []
        if until is not None:
            terms.append(f"updated_at:<='{until.isoformat()}'")
        query = queries.page_query(resource)
        while True:
            variables = {
                "first": queries.page_size(resource),
                "after": cursor,
                "query": " ".join(terms) or None,
            }
            connection = self.client.execute(query, variables, cost=queries.page_cost(resource))
            connection = connection[queries.ROOTS[resource]]
            info = connection["pageInfo"]
            cursor = info["endCursor"] if info["hasNextPage"] else None
            saved = f"{UNTIL}{until.isoformat()}|{cursor}" if until and cursor else cursor
            yield Page([mapper(node) for node in connection["nodes"]], saved)
            if cursor is None:
                return

    def _resume_bulk(
        self, resource: str, cursor: str, mapper: Callable[[dict[str, Any]], Any]
    ) -> Iterator[Page]:
        """Continue an interrupted backfill from its bulk file, or start it anew."""
        operation_id, done = cursor.removeprefix("bulk:").rsplit(":", 1)
        try:
            result = bulk.wait(self.client, operation_id)
        except PlatformError:  # the operation or its file expired: the backfill starts over
            result, done = bulk.run(self.client, resource), "0"
        yield from self._bulk_pages(result, int(done), mapper)

    def _bulk_pages(
        self, result: bulk.BulkResult, skip: int, mapper: Callable[[dict[str, Any]], Any]
    ) -> Iterator[Page]:
        records: list[Any] = []
        done = skip
        for node in bulk.nodes(self.client, result.url, skip):
            records.append(mapper(node))
            if len(records) == BULK_PAGE:
                done += len(records)
                yield Page(records, f"bulk:{result.operation_id}:{done}")
                records = []
        yield Page(records, None)


def _split_cursor(cursor: str | None) -> tuple[dt.datetime | None, str | None]:
    """(upper bound, Shopify cursor) of a saved cursor; a plain cursor has no bound."""
    if not cursor or not cursor.startswith(UNTIL):
        return None, cursor
    bound, _, rest = cursor.removeprefix(UNTIL).partition("|")
    return dt.datetime.fromisoformat(bound), rest or None
