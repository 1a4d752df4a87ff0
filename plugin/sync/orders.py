"""Orders and their lines, upserted in sets: a page is looked up through the unique index, new
rows go in with one COPY (PostgreSQL) or executemany, and carts the orders complete are recovered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from connectors.base import LineRecord, OrderRecord
from plugin.db import among, utcnow
from plugin.models import (
    Order,
    OrderLine,
    Store,
)
from plugin.phones import normalise_phone
from plugin.sync.carts import has_open_carts, recover_carts
from plugin.sync.links import hold_customers, link_orders
from plugin.sync.purchases import OrderFacts
from plugin.sync.rows import (
    SET_CHUNK,
    WriteCounts,
    chunks,
    customer_ids,
    is_newer,
    line_refs,
    local_ids,
)


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
    hold_customers(session, store, (r.customer_id for r in fresh.values() if r.customer_id))
    customers = customer_ids(session, store, list(fresh.values()))
    products, variants = line_refs(session, store, (ln for r in fresh.values() for ln in r.lines))
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
        for chunk in chunks([{k: v for k, v in r.items() if k != "created_at"} for r in updates]):
            session.execute(update(Order), list(chunk))
        for chunk in chunks([row["id"] for row in updates]):
            session.execute(delete(OrderLine).where(OrderLine.order_id.in_(chunk)))
    lines = [
        _line_row(store_id, ids[pid], line, products, variants)
        for pid, record in fresh.items()
        if pid in ids
        for line in record.lines
    ]
    if lines:
        _insert_lines(session, lines)
    # Their customer may have been written since we looked (before our first write).
    waiting = {pid for r in fresh.values() if (pid := r.customer_id) and pid not in customers}
    if waiting:
        link_orders(session, store, waiting)
    _expire_orders(session, ids.values())
    if has_open_carts(session, store):  # none in a first backfill: carts come after orders
        recover_carts(session, store, [_facts(ids[pid], rows[pid]) for pid in fresh if pid in ids])
    return counts


def _held_orders(
    session: Session, store: Store, ids: list[str]
) -> dict[str, tuple[int, dt.datetime | None]]:
    """platform_id -> (our id, platform_updated_at) of the orders we hold among `ids`."""
    found: dict[str, tuple[int, dt.datetime | None]] = {}
    for chunk in chunks(sorted(set(ids)), SET_CHUNK):
        rows = session.execute(
            select(Order.platform_id, Order.id, Order.platform_updated_at).where(
                Order.store_id == store.id, among(session, Order.platform_id, chunk)
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
        if not is_newer(record.updated_at, stamp):
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
        "platform_customer_id": record.customer_id,
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
    for chunk in chunks([row["platform_id"] for row in rows], SET_CHUNK):
        found = session.execute(
            select(*columns).where(
                Order.store_id == store_id, among(session, Order.platform_id, chunk)
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
    if is_newer(fresh[platform_id].updated_at, stamp):
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
    return local_ids(session, Order, store, set(raced)) if raced else {}


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
