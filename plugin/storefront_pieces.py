"""Where opt-ins came from, and which storefront pieces show they are installed and working.

The owner's settings page answers "is the box actually in my shop?" from what ShopNudge has
seen: the app-data metafield it wrote to Shopify (and whether Shopify took it), and the last
opt-in that arrived through each piece (a piece that delivered an opt-in is reachable).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import ConsentEvent, ConsentKind, Platform, Store
from plugin.shopify.app_metafield import last_write

#: The doors an opt-in can come in by, per platform, in the order the page lists them.
PIECES: dict[str, tuple[str, ...]] = {
    Platform.SHOPIFY: ("widget", "thank_you_page"),
    Platform.WOOCOMMERCE: ("widget", "checkout_checkbox"),
}


@dataclass(frozen=True)
class SourceCount:
    source: str
    optins: int
    last_at: dt.datetime | None


@dataclass(frozen=True)
class MetafieldState:
    """The last write of the app-data metafield: when, whether Shopify took it, and why not."""

    at: dt.datetime
    written: bool
    error: str | None


@dataclass(frozen=True)
class StorefrontPieces:
    sources: list[SourceCount]
    metafield: MetafieldState | None


def storefront_pieces(session: Session, store: Store) -> StorefrontPieces:
    """Opt-in requests per source (every source the shop's platform has, even at 0)."""
    rows = session.execute(
        select(ConsentEvent.source, func.count(), func.max(ConsentEvent.occurred_at))
        .where(ConsentEvent.store_id == store.id, ConsentEvent.kind == ConsentKind.REQUESTED)
        .group_by(ConsentEvent.source)
    ).all()
    seen = {source: (count, last) for source, count, last in rows}
    names = list(PIECES.get(store.platform, ()))
    names += sorted(source for source in seen if source not in names)
    sources = [SourceCount(name, *seen.get(name, (0, None))) for name in names]
    metafield = None
    if store.platform == Platform.SHOPIFY:
        entry = last_write(session, store)
        if entry is not None:
            outcome = entry.new_value or {}
            metafield = MetafieldState(
                entry.occurred_at, bool(outcome.get("written")), outcome.get("error")
            )
    return StorefrontPieces(sources, metafield)
