"""What every upsert shares: chunked look-ups of the rows a page may touch, the newer-wins rule,
and the counts of what was written.

Each upsert takes a page of records, loads the rows it may touch in one query per chunk, and
writes only what is new or newer (`updated_at` beyond what we hold). A second run over the same
data therefore writes nothing, and a late webhook never overwrites a newer sync.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.base import LineRecord
from plugin.db import among
from plugin.models import (
    Customer,
    Product,
    Store,
    Variant,
)

#: Rows loaded per IN (...) query; well under every engine's parameter limit.
CHUNK = 500


#: Ids per look-up bound as one parameter (`among`): no parameter limit applies, so a page of
#: 1,000 orders is one statement, not two.
SET_CHUNK = 5_000


RowT = TypeVar("RowT")


@dataclass
class WriteCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, other: WriteCounts) -> None:
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged

    @property
    def written(self) -> int:
        return self.created + self.updated


def chunks(items: Sequence[RowT], size: int = CHUNK) -> Iterable[Sequence[RowT]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def existing(session: Session, model: Any, store: Store, ids: list[str], *options: Any) -> dict:
    found: dict[str, Any] = {}
    for chunk in chunks(ids):
        rows = session.scalars(
            select(model)
            .where(model.store_id == store.id, model.platform_id.in_(chunk))
            .options(*options)
        )
        found.update({row.platform_id: row for row in rows})
    return found


def is_newer(incoming: dt.datetime, held: dt.datetime | None) -> bool | None:
    """True newer, None same, False older (stale)."""
    if held is None or incoming > held:
        return True
    return None if incoming == held else False


def local_ids(session: Session, model: Any, store: Store, ids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in chunks(sorted(ids), SET_CHUNK):
        rows = session.execute(
            select(model.platform_id, model.id).where(
                model.store_id == store.id, among(session, model.platform_id, chunk)
            )
        )
        found.update({platform_id: row_id for platform_id, row_id in rows})
    return found


def row_to_write(
    session: Session,
    held: dict[str, Any],
    model: Any,
    store: Store,
    record: Any,
    counts: WriteCounts,
    **new_fields: Any,
) -> Any:
    """The row to write for a record (created if new), or None when we hold it as new already."""
    row = held.get(record.platform_id)
    if not is_newer(record.updated_at, row.platform_updated_at if row else None):
        counts.unchanged += 1
        return None
    if row is None:
        row = model(store_id=store.id, platform_id=record.platform_id, **new_fields)
        session.add(row)
        held[record.platform_id] = row
        counts.created += 1
    else:
        counts.updated += 1
    return row


def customer_ids(session: Session, store: Store, records: Sequence[Any]) -> dict[str, int]:
    wanted = {r.customer_id for r in records if r.customer_id}
    return local_ids(session, Customer, store, wanted) if wanted else {}


def line_refs(
    session: Session, store: Store, lines: Iterable[LineRecord]
) -> tuple[dict[str, int], dict[str, int]]:
    lines = list(lines)
    products = {line.product_id for line in lines if line.product_id}
    variants = {line.variant_id for line in lines if line.variant_id}
    return local_ids(session, Product, store, products), local_ids(
        session, Variant, store, variants
    )
