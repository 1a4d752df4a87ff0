"""The one small interface between ShopNudge and a shop platform.

A connector takes credentials and returns frozen records; it knows nothing of WhatsApp, consent,
Flask or the database (`connectors` never imports `plugin`). The core persists what it returns
(`plugin/sync/`) and decides what to send.

Adding a platform:
1. Create `connectors/<platform>/` with `client.py` (the only module that talks HTTP to the
   platform: one request function, explicit timeouts, platform errors mapped to
   `connectors.errors`), `sync.py` (the connector: pages of records), `mapping.py` (the
   platform's JSON -> the records below) and `webhooks.py` (signature check on the raw body).
2. Implement `Connector`: the `fetch_*` iterators yield pages of records, newest state of each,
   with `updated_at` set so the core can ignore stale data. Say what you cannot do in
   `capabilities` rather than raising at run time.
3. Our side goes in `plugin/<platform>/`, with the module names the other platforms use
   (`client`, `install`, `routes`, `webhooks`, `jobs`, `consent`); then one line each in
   `plugin/connect.py` (the connector), `plugin/webhook_handlers.py` (its deliveries),
   `BLUEPRINT_MODULES` in `plugin/web/__init__.py` (its routes) and `job_areas()` in
   `plugin/scheduler.py` (its jobs).
4. Test it against a local fake of the platform in `tests/fakes/` that checks every request
   against the vendor's published contract (as `tests/shopify/test_fake_contract.py` proves of
   Shopify's), with real-shaped payloads in `tests/data/<platform>/`.

Ids are the platform's own, as text (Shopify's exceed 2**53). Money is integer minor units with
an ISO 4217 currency. Times are timezone-aware UTC. Phone numbers are as the platform has them
(the core normalises them to E.164 with the shop's country).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

RecordT = TypeVar("RecordT")


@dataclass(frozen=True)
class VariantRecord:
    platform_id: str
    title: str
    price_minor: int
    currency: str
    sku: str | None = None
    #: None where the platform does not track stock.
    inventory_quantity: int | None = None
    in_stock: bool = True


@dataclass(frozen=True)
class ProductRecord:
    platform_id: str
    title: str
    updated_at: dt.datetime
    handle: str | None = None
    url: str | None = None
    image_url: str | None = None
    product_type: str | None = None
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    published: bool = True
    deleted: bool = False
    variants: tuple[VariantRecord, ...] = ()


@dataclass(frozen=True)
class CustomerRecord:
    platform_id: str
    updated_at: dt.datetime
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    locale: str | None = None
    country: str | None = None
    #: The platform's WhatsApp (or else SMS) marketing consent state, e.g. SUBSCRIBED.
    marketing_state: str | None = None


@dataclass(frozen=True)
class LineRecord:
    title: str
    quantity: int
    price_minor: int
    product_id: str | None = None
    variant_id: str | None = None


@dataclass(frozen=True)
class OrderRecord:
    platform_id: str
    placed_at: dt.datetime
    updated_at: dt.datetime
    total_minor: int
    currency: str
    name: str | None = None
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    status: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    cancelled_at: dt.datetime | None = None
    #: The checkout or cart this order came from (matches CartRecord.platform_id).
    checkout_token: str | None = None
    lines: tuple[LineRecord, ...] = ()


@dataclass(frozen=True)
class CartRecord:
    platform_id: str
    updated_at: dt.datetime
    total_minor: int
    currency: str
    customer_id: str | None = None
    email: str | None = None
    phone: str | None = None
    locale: str | None = None
    recovery_url: str | None = None
    completed_at: dt.datetime | None = None
    lines: tuple[LineRecord, ...] = ()


@dataclass(frozen=True)
class Capabilities:
    #: The platform keeps abandoned checkouts (Shopify) or the widget must send snapshots.
    abandoned_carts: bool
    #: Orders can be fetched by updated time (else a full pass with change detection).
    incremental_orders: bool
    incremental_customers: bool
    #: Large backfills can run as one bulk export (Shopify bulk operations).
    bulk_export: bool = False
    #: The platform has a WhatsApp marketing consent field ShopNudge can read and write.
    whatsapp_consent: bool = False


RESOURCES = ("products", "customers", "orders", "carts")


@dataclass(frozen=True)
class Page(Generic[RecordT]):
    """One page of records and where to resume after it."""

    records: list[RecordT]
    #: Opaque resume point after this page (None: the pass is complete).
    cursor: str | None = None
    #: Total records of this pass where the platform says (for the progress bar).
    total: int | None = None


@dataclass
class Progress:
    """What a sync reports while it runs (for the progress bar)."""

    resource: str
    fetched: int = 0
    written: int = 0
    total: int | None = None
    extra: dict[str, int] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]


class Connector(Protocol):
    """What the core needs from a platform.

    `fetch` yields pages of one resource ("products", "customers", "orders", "carts"):
    records changed since `since` (None: everything), resuming after `cursor` when a previous
    pass was interrupted. `full=True` asks for a complete backfill (bulk export where the
    platform has one). The core commits each page before asking for the next.
    """

    capabilities: Capabilities

    def fetch(
        self,
        resource: str,
        *,
        since: dt.datetime | None,
        cursor: str | None = None,
        full: bool = False,
    ) -> Iterator[Page]: ...
