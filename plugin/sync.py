"""Persist what connectors return: idempotent upserts, stale data ignored, carts recovered.

Each upsert takes a page of records, loads the rows it may touch in one query per chunk, and
writes only what is new or newer (`updated_at` beyond what we hold). A second run over the same
data therefore writes nothing, and a late webhook never overwrites a newer sync.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypeVar

from sqlalchemy import String, any_, delete, func, insert, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, selectinload

from connectors.base import CartRecord, CustomerRecord, LineRecord, OrderRecord, ProductRecord
from plugin.db import utcnow
from plugin.models import (
    Cart,
    CartLine,
    CartState,
    Customer,
    Order,
    OrderLine,
    Product,
    Store,
    Variant,
)
from plugin.phones import normalise_phone

#: Rows loaded per IN (...) query; well under every engine's parameter limit.
CHUNK = 500

#: Ids per look-up bound as one parameter (`_among`): no parameter limit applies, so a page of
#: 1,000 orders is one statement, not two.
SET_CHUNK = 5_000

#: Order statuses that are not a purchase (WooCommerce); pending and on-hold are purchases.
#: checkout-draft is the order the block checkout keeps while the buyer is still on the page.
NOT_A_PURCHASE = frozenset(
    {"cancelled", "failed", "trash", "refunded", "voided", "checkout-draft", "draft"}
)

#: Cart states an order can still recover.
RECOVERABLE = (CartState.OPEN, CartState.ABANDONED, CartState.EXPIRED)

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


def _chunks(items: Sequence[RowT], size: int = CHUNK) -> Iterable[Sequence[RowT]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _existing(session: Session, model: Any, store: Store, ids: list[str], *options: Any) -> dict:
    found: dict[str, Any] = {}
    for chunk in _chunks(ids):
        rows = session.scalars(
            select(model)
            .where(model.store_id == store.id, model.platform_id.in_(chunk))
            .options(*options)
        )
        found.update({row.platform_id: row for row in rows})
    return found


def _is_newer(incoming: dt.datetime, held: dt.datetime | None) -> bool | None:
    """True newer, None same, False older (stale)."""
    if held is None or incoming > held:
        return True
    return None if incoming == held else False


def _local_ids(session: Session, model: Any, store: Store, ids: set[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(sorted(ids), SET_CHUNK):
        rows = session.execute(
            select(model.platform_id, model.id).where(
                model.store_id == store.id, _among(session, model.platform_id, chunk)
            )
        )
        found.update({platform_id: row_id for platform_id, row_id in rows})
    return found


def _row_to_write(
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
    if not _is_newer(record.updated_at, row.platform_updated_at if row else None):
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


def _lines(
    model: Any,
    store: Store,
    lines: Iterable[LineRecord],
    products: dict[str, int],
    variants: dict[str, int],
) -> list[Any]:
    """Order or cart lines for records, linked to the products and variants we hold."""
    return [
        model(
            store_id=store.id,
            product_id=products.get(line.product_id or ""),
            variant_id=variants.get(line.variant_id or ""),
            platform_product_id=line.product_id,
            platform_variant_id=line.variant_id,
            title=line.title,
            quantity=line.quantity,
            price_minor=line.price_minor,
        )
        for line in lines
    ]


def upsert_products(
    session: Session, store: Store, records: Sequence[ProductRecord]
) -> WriteCounts:
    counts = WriteCounts()
    held = _existing(
        session, Product, store, [r.platform_id for r in records], selectinload(Product.variants)
    )
    for record in records:
        product = _row_to_write(session, held, Product, store, record, counts)
        if product is None:
            continue
        product.title = record.title
        product.handle = record.handle
        product.url = record.url
        product.image_url = record.image_url
        product.product_type = record.product_type
        product.categories = list(record.categories)
        product.tags = list(record.tags)
        product.published = record.published
        product.deleted_at = (product.deleted_at or utcnow()) if record.deleted else None
        product.platform_updated_at = record.updated_at
        _apply_variants(store, product, record)
    session.flush()
    return counts


def _apply_variants(store: Store, product: Product, record: ProductRecord) -> None:
    if record.deleted and not record.variants:
        return  # a delete webhook carries only the id: keep what we know for order history
    by_id = {variant.platform_id: variant for variant in product.variants}
    keep = []
    for incoming in record.variants:
        variant = by_id.get(incoming.platform_id) or Variant(
            store_id=store.id, platform_id=incoming.platform_id
        )
        variant.title = incoming.title
        variant.sku = incoming.sku
        variant.price_minor = incoming.price_minor
        variant.currency = incoming.currency
        variant.inventory_quantity = incoming.inventory_quantity
        variant.in_stock = incoming.in_stock
        keep.append(variant)
    product.variants = keep


def upsert_customers(
    session: Session, store: Store, records: Sequence[CustomerRecord]
) -> WriteCounts:
    counts = WriteCounts()
    held = _existing(session, Customer, store, [r.platform_id for r in records])
    for record in records:
        customer = held.get(record.platform_id)
        if customer is not None and customer.erased_at is not None:
            counts.unchanged += 1  # erased buyers are never filled in again by a sync
            continue
        customer = _row_to_write(session, held, Customer, store, record, counts)
        if customer is None:
            continue
        customer.email = record.email
        customer.phone = normalise_phone(record.phone, record.country or store.country)
        customer.first_name = record.first_name
        customer.last_name = record.last_name
        customer.country = record.country
        # Shopify's customers/create|update payloads carry no locale and no consent: a record
        # without them says nothing about them, so what the sync or the consent topic stored
        # stays (and no consent push is set off by a blank).
        if record.locale is not None:
            customer.locale = record.locale
        if record.marketing_state is not None:
            customer.platform_marketing_state = record.marketing_state
        customer.platform_updated_at = record.updated_at
    session.flush()
    return counts


def _customer_ids(session: Session, store: Store, records: Sequence[Any]) -> dict[str, int]:
    wanted = {r.customer_id for r in records if r.customer_id}
    return _local_ids(session, Customer, store, wanted) if wanted else {}


def _line_refs(
    session: Session, store: Store, lines: Iterable[LineRecord]
) -> tuple[dict[str, int], dict[str, int]]:
    lines = list(lines)
    products = {line.product_id for line in lines if line.product_id}
    variants = {line.variant_id for line in lines if line.variant_id}
    return _local_ids(session, Product, store, products), _local_ids(
        session, Variant, store, variants
    )


@dataclass(frozen=True)
class OrderFacts:
    """What cart recovery reads of an order written in a set (no ORM object is built)."""

    id: int
    checkout_token: str | None
    customer_id: int | None
    phone: str | None
    status: str | None
    cancelled_at: dt.datetime | None
    placed_at: dt.datetime


def upsert_orders(session: Session, store: Store, records: Sequence[OrderRecord]) -> WriteCounts:
    """Write a page of orders in sets: one look-up of what we hold (through the unique
    (store_id, platform_id) index), INSERT … ON CONFLICT DO NOTHING for the new ones, one
    UPDATE by primary key for the newer ones, their lines replaced in one DELETE and one
    INSERT. Building an ORM object per order and line was two thirds of a backfill's time."""
    counts = WriteCounts()
    held = _held_orders(session, store, [r.platform_id for r in records])
    fresh = _fresh_records(records, held, counts)
    if not fresh:
        return counts
    customers = _customer_ids(session, store, list(fresh.values()))
    products, variants = _line_refs(session, store, (ln for r in fresh.values() for ln in r.lines))
    now = utcnow()
    store_id, country = store.id, store.country  # read once, not per row from the ORM object
    rows = {
        pid: _order_row(store_id, country, record, customers, now) for pid, record in fresh.items()
    }
    ids = _insert_orders(session, [row for pid, row in rows.items() if pid not in held])
    for pid in [pid for pid in rows if pid not in held and pid not in ids]:
        # written by another writer (a webhook) since we looked: the newer one wins
        _lost_race(session, store, pid, fresh, counts)
    updates = [dict(row, id=held[pid][0]) for pid, row in rows.items() if pid in held]
    updates += [
        dict(rows[pid], id=row_id)
        for pid, row_id in _held_ids(session, store, fresh, held, ids).items()
    ]
    ids.update({row["platform_id"]: row["id"] for row in updates})
    if updates:
        for chunk in _chunks([{k: v for k, v in r.items() if k != "created_at"} for r in updates]):
            session.execute(update(Order), list(chunk))
        for chunk in _chunks([row["id"] for row in updates]):
            session.execute(delete(OrderLine).where(OrderLine.order_id.in_(chunk)))
    lines = [
        _line_row(store_id, ids[pid], line, products, variants)
        for pid, record in fresh.items()
        if pid in ids
        for line in record.lines
    ]
    if lines:
        _insert_lines(session, lines)
    _expire_orders(session, ids.values())
    if _has_open_carts(session, store):  # none in a first backfill: carts come after orders
        _recover_carts(session, store, [_facts(ids[pid], rows[pid]) for pid in fresh if pid in ids])
    return counts


def _held_orders(
    session: Session, store: Store, ids: list[str]
) -> dict[str, tuple[int, dt.datetime | None]]:
    """platform_id -> (our id, platform_updated_at) of the orders we hold among `ids`."""
    found: dict[str, tuple[int, dt.datetime | None]] = {}
    for chunk in _chunks(sorted(set(ids)), SET_CHUNK):
        rows = session.execute(
            select(Order.platform_id, Order.id, Order.platform_updated_at).where(
                Order.store_id == store.id, _among(session, Order.platform_id, chunk)
            )
        )
        found.update({platform_id: (row_id, stamp) for platform_id, row_id, stamp in rows})
    return found


def _fresh_records(
    records: Sequence[OrderRecord],
    held: dict[str, tuple[int, dt.datetime | None]],
    counts: WriteCounts,
) -> dict[str, OrderRecord]:
    """The newest record per order that is newer than what we hold, counted as before."""
    fresh: dict[str, OrderRecord] = {}
    for record in records:
        previous = fresh.get(record.platform_id)
        if previous is not None:
            stamp: dt.datetime | None = previous.updated_at
        else:
            stamp = held[record.platform_id][1] if record.platform_id in held else None
        if not _is_newer(record.updated_at, stamp):
            counts.unchanged += 1
            continue
        if previous is None and record.platform_id not in held:
            counts.created += 1
        else:
            counts.updated += 1
        fresh[record.platform_id] = record
    return fresh


def _order_row(
    store_id: int,
    country: str | None,
    record: OrderRecord,
    customers: dict[str, int],
    now: dt.datetime,
) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "platform_id": record.platform_id,
        "name": record.name,
        "customer_id": customers.get(record.customer_id or ""),
        "email": record.email,
        "phone": normalise_phone(record.phone, country),
        "status": record.status,
        "financial_status": record.financial_status,
        "fulfillment_status": record.fulfillment_status,
        "cancelled_at": record.cancelled_at,
        "total_minor": record.total_minor,
        "currency": record.currency,
        "checkout_token": record.checkout_token,
        "placed_at": record.placed_at,
        "platform_updated_at": record.updated_at,
        "created_at": now,
        "updated_at": now,
    }


def _line_row(
    store_id: int,
    order_id: int,
    line: LineRecord,
    products: dict[str, int],
    variants: dict[str, int],
) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "order_id": order_id,
        "product_id": products.get(line.product_id or ""),
        "variant_id": variants.get(line.variant_id or ""),
        "platform_product_id": line.product_id,
        "platform_variant_id": line.variant_id,
        "title": line.title,
        "quantity": line.quantity,
        "price_minor": line.price_minor,
    }


def _insert_orders(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """INSERT … ON CONFLICT DO NOTHING; platform_id -> id of the rows this call created."""
    if not rows:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        return _copy_orders(session, rows)
    # SQLite: RETURNING would make SQLAlchemy render one multi-row VALUES per batch instead of
    # the driver's executemany, so the ids are read back through the unique index afterwards.
    statement = sqlite.insert(Order.__table__).on_conflict_do_nothing(
        index_elements=["store_id", "platform_id"]
    )
    inserted = _executemany(session, statement, rows)
    stamp, store_id = rows[0]["created_at"], rows[0]["store_id"]
    # Every row ours (SQLite has one writer, and this transaction is it now): no need to
    # tell ours from another writer's by their created_at stamp.
    everyone = inserted == len(rows)
    columns = [Order.platform_id, Order.id] + ([] if everyone else [Order.created_at])
    created: dict[str, int] = {}
    for chunk in _chunks([row["platform_id"] for row in rows], SET_CHUNK):
        found = session.execute(
            select(*columns).where(
                Order.store_id == store_id, _among(session, Order.platform_id, chunk)
            )
        )
        created.update({pid: row_id for pid, row_id, *at in found if everyone or at[0] == stamp})
    return created


def _executemany(session: Session, statement: Any, rows: list[dict[str, Any]]) -> int:
    """SQLite: the statement run by the driver's executemany over rows converted by the
    columns' own (dialect's) bind processors; returns the rows changed. SQLAlchemy's per-row
    parameter handling cost as much as SQLite's writing itself. Values repeated across rows
    (the page's `now` stamps) are converted once."""
    connection = session.connection()
    dialect = connection.dialect
    compiled = statement.compile(dialect=dialect, column_keys=list(rows[0]))
    names = [compiled.binds[key].key for key in compiled.positiontup]
    columns = statement.table.c
    converting = [
        (index, process, {})
        for index, name in enumerate(names)
        if (process := columns[name].type.dialect_impl(dialect).bind_processor(dialect))
    ]
    raw = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    parameters = []
    for row in rows:
        values = list(raw(row))
        for index, process, memo in converting:
            value = values[index]
            if value is not None:
                if value not in memo:
                    memo[value] = process(value)
                values[index] = memo[value]
        parameters.append(tuple(values))
    return connection.exec_driver_sql(compiled.string, parameters).rowcount


def _copy_orders(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """PostgreSQL: COPY into a temporary table, then one INSERT … SELECT … ON CONFLICT DO
    NOTHING RETURNING the ids it created. COPY sends a row as one line of text, where a
    pipelined executemany binds and executes a statement per row (and RETURNING in SQLAlchemy
    renders a multi-row VALUES, five times slower)."""
    names = list(rows[0])
    columns = ", ".join(names)
    with _driver_cursor(session) as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE orders_incoming ON COMMIT DROP AS "
            f"SELECT {columns} FROM orders WITH NO DATA"
        )
        with cursor.copy(f"COPY orders_incoming ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[name] for name in names])
        cursor.execute(
            f"INSERT INTO orders ({columns}) SELECT {columns} FROM orders_incoming "
            "ON CONFLICT (store_id, platform_id) DO NOTHING RETURNING platform_id, id"
        )
        created = dict(cursor.fetchall())
        cursor.execute("DROP TABLE orders_incoming")
    return created


def _insert_lines(session: Session, lines: list[dict[str, Any]]) -> None:
    """Order lines are always new rows: COPY on PostgreSQL, Core executemany on SQLite (no ORM
    bookkeeping on either)."""
    if session.get_bind().dialect.name != "postgresql":
        _executemany(session, insert(OrderLine.__table__), lines)
        return
    names = list(lines[0])
    columns = ", ".join(names)
    with (
        _driver_cursor(session) as cursor,
        cursor.copy(f"COPY order_lines ({columns}) FROM STDIN") as copy,
    ):
        for line in lines:
            copy.write_row([line[name] for name in names])


def _driver_cursor(session: Session) -> Any:
    """A psycopg cursor on the session's connection, inside its transaction (for COPY)."""
    return session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]


def _among(session: Session, column: Any, values: Sequence[str]) -> Any:
    """`column IN values` with one parameter, not 500 to render and bind, and a statement
    text that stays the same (PostgreSQL prepares its plan once): `= ANY(array)` there,
    `IN (SELECT value FROM json_each(…))` on SQLite; both probe the (store_id, platform_id)
    index."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(values), postgresql.ARRAY(String)))
    listed = func.json_each(literal(json.dumps(list(values)), String)).table_valued("value")
    return column.in_(select(listed.c.value))


def _lost_race(
    session: Session, store: Store, platform_id: str, fresh: dict[str, OrderRecord], counts: Any
) -> None:
    """A new order another writer inserted first: ours is an update, or stale."""
    counts.created -= 1
    stamp = session.scalar(
        select(Order.platform_updated_at).where(
            Order.store_id == store.id, Order.platform_id == platform_id
        )
    )
    if _is_newer(fresh[platform_id].updated_at, stamp):
        counts.updated += 1
    else:
        counts.unchanged += 1
        del fresh[platform_id]


def _held_ids(
    session: Session,
    store: Store,
    fresh: dict[str, OrderRecord],
    held: dict[str, Any],
    created: dict[str, int],
) -> dict[str, int]:
    """Ids of the orders another writer inserted first that we still have to update."""
    raced = [pid for pid in fresh if pid not in held and pid not in created]
    return _local_ids(session, Order, store, set(raced)) if raced else {}


def _expire_orders(session: Session, ids: Iterable[int]) -> None:
    """Orders this session had loaded were written behind its back: read them again."""
    held = [key for key in session.identity_map if key[0] is Order]
    if not held:
        return  # the usual case (a sync's own session): nothing to look up per order
    wanted = set(ids)
    for key in held:
        if key[1][0] in wanted:
            session.expire(session.identity_map[key])


def _facts(order_id: int, row: dict[str, Any]) -> OrderFacts:
    return OrderFacts(
        id=order_id,
        checkout_token=row["checkout_token"],
        customer_id=row["customer_id"],
        phone=row["phone"],
        status=row["status"],
        cancelled_at=row["cancelled_at"],
        placed_at=row["placed_at"],
    )


def upsert_carts(session: Session, store: Store, records: Sequence[CartRecord]) -> WriteCounts:
    counts = WriteCounts()
    held = _existing(
        session, Cart, store, [r.platform_id for r in records], selectinload(Cart.lines)
    )
    customers = _customer_ids(session, store, records)
    products, variants = _line_refs(session, store, (line for r in records for line in r.lines))
    for record in records:
        cart = _row_to_write(session, held, Cart, store, record, counts, source="platform")
        if cart is None:
            continue
        cart.customer_id = customers.get(record.customer_id or "")
        cart.email = record.email
        cart.phone = normalise_phone(record.phone, store.country) or cart.phone
        cart.locale = record.locale
        cart.recovery_url = record.recovery_url
        cart.total_minor = record.total_minor
        cart.currency = record.currency
        cart.last_activity_at = record.updated_at
        cart.platform_updated_at = record.updated_at
        cart.completed_at = record.completed_at
        if cart.state != CartState.RECOVERED:  # new activity reopens an abandoned cart
            cart.state = CartState.OPEN if record.completed_at is None else CartState.RECOVERED
            cart.recovered_at = record.completed_at
        cart.lines = _lines(CartLine, store, record.lines, products, variants)
    session.flush()
    return counts


def counts_as_purchase(order: Order | OrderFacts) -> bool:
    return order.cancelled_at is None and (order.status or "").lower() not in NOT_A_PURCHASE


def _completes(order: Order | OrderFacts, cart: Cart) -> bool:
    if order.checkout_token and cart.platform_id == order.checkout_token:
        return True
    same_buyer = (order.customer_id is not None and cart.customer_id == order.customer_id) or (
        bool(order.phone) and cart.phone == order.phone
    )
    return same_buyer and cart.last_activity_at <= order.placed_at


def _has_open_carts(session: Session, store: Store) -> bool:
    """Whether the shop holds any cart an order could still recover."""
    return (
        session.scalar(
            select(Cart.id).where(Cart.store_id == store.id, Cart.state.in_(RECOVERABLE)).limit(1)
        )
        is not None
    )


def recover_carts_for_orders(
    session: Session, store: Store, orders: Sequence[Order | OrderFacts]
) -> list[Cart]:
    """Mark carts these orders complete as recovered; this is what ends their reminders.

    A cart is recovered by an order from its own checkout, or by any purchase from the same
    buyer (customer or phone) placed after the cart was last touched; the earliest such order
    gets the credit. Cancelled orders do not count; pending and on-hold ones (bank transfer,
    invoice) do. One query per chunk of orders, not one per order.
    """
    if not _has_open_carts(session, store):
        return []  # one query instead of one per chunk of orders
    return _recover_carts(session, store, orders)


def _recover_carts(
    session: Session, store: Store, orders: Sequence[Order | OrderFacts]
) -> list[Cart]:
    recovered: list[Cart] = []
    purchases = sorted((o for o in orders if counts_as_purchase(o)), key=lambda o: o.placed_at)
    for chunk in _chunks(purchases, CHUNK // 2):
        tokens = {o.checkout_token for o in chunk if o.checkout_token}
        customers = {o.customer_id for o in chunk if o.customer_id is not None}
        phones = {o.phone for o in chunk if o.phone}
        conditions = []
        if tokens:
            conditions.append(Cart.platform_id.in_(tokens))
        if customers:
            conditions.append(Cart.customer_id.in_(customers))
        if phones:
            conditions.append(Cart.phone.in_(phones))
        if not conditions:
            continue
        carts = session.scalars(
            select(Cart).where(
                Cart.store_id == store.id,
                Cart.state.in_(RECOVERABLE),
                or_(*conditions),
            )
        ).all()
        for cart in carts:
            order = next((o for o in chunk if _completes(o, cart)), None)
            if order is None:
                continue
            cart.state = CartState.RECOVERED
            cart.recovered_order_id = order.id
            cart.recovered_at = order.placed_at
            recovered.append(cart)
    return recovered
