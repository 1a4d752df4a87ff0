"""The shop's order history as arrays, read with a few aggregate queries (never row by row)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import BigInteger, ColumnElement, Select, cast, func, or_, select
from sqlalchemy.orm import Session

from plugin.models import Order, OrderLine, Product, Store, Variant
from plugin.sync.purchases import NOT_A_PURCHASE


@dataclass
class History:
    """One shop's purchases before a moment; items are indexed in product id order."""

    #: Product id of each item index (every product of the shop, sorted).
    items: np.ndarray
    titles: list[str]
    #: items x categories, 1 where the product is in the category.
    item_categories: sp.csr_matrix
    categories: list[str]
    #: Per order row: the order's id, its customer id (-1 for guests), placed_at (epoch s).
    order_ids: np.ndarray
    order_customer: np.ndarray
    order_time: np.ndarray
    #: orders x items, quantity of lines (not binary; callers binarise).
    order_items: sp.csr_matrix


def epoch_seconds(session: Session, column: ColumnElement[dt.datetime]) -> ColumnElement[int]:
    """Seconds since 1970 computed by the database (no datetime object per row)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", column), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)


def fetch_ints(session: Session, statement: Select[Any], columns: int) -> np.ndarray:
    """An integer result as a rows x columns array, in no particular order. On PostgreSQL one
    array_agg per column comes back in binary: millions of rows, no tuple per row."""
    if session.get_bind().dialect.name != "postgresql":
        rows = [tuple(row) for row in session.execute(statement)]
        return np.array(rows, dtype=np.int64).reshape(-1, columns)
    inner = statement.subquery()
    aggregate = select(*(func.array_agg(column) for column in inner.columns))
    sql = aggregate.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}
    )
    connection = session.connection().connection.driver_connection
    with connection.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        cursor.execute(str(sql))
        arrays = cursor.fetchone()
    if not arrays or arrays[0] is None:
        return np.zeros((0, columns), dtype=np.int64)
    return np.column_stack([np.array(values, dtype=np.int64) for values in arrays])


def purchases(until: dt.datetime, store: Store) -> list[ColumnElement[bool]]:
    """The orders that count as purchases (pending and on-hold count; cancelled do not)."""
    return [
        Order.store_id == store.id,
        Order.placed_at < until,
        Order.cancelled_at.is_(None),
        or_(Order.status.is_(None), func.lower(Order.status).not_in(NOT_A_PURCHASE)),
    ]


def load_history(session: Session, store: Store, until: dt.datetime) -> History:
    products = session.execute(
        select(Product.id, Product.title, Product.categories)
        .where(Product.store_id == store.id)
        .order_by(Product.id)
    ).all()
    items = np.array([row[0] for row in products], dtype=np.int64)
    category_names = sorted({c for row in products for c in (row[2] or [])})
    position = {name: n for n, name in enumerate(category_names)}
    pairs = [(i, position[c]) for i, row in enumerate(products) for c in set(row[2] or [])]
    rows, cols = (
        (np.array(x, dtype=np.int64) for x in zip(*pairs, strict=True))
        if pairs
        else (
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
        )
    )
    item_categories = sp.csr_matrix(
        (np.ones(rows.size, np.float32), (rows, cols)), shape=(items.size, len(category_names))
    )
    table = fetch_ints(
        session,
        select(
            Order.id, func.coalesce(Order.customer_id, -1), epoch_seconds(session, Order.placed_at)
        ).where(*purchases(until, store)),
        3,
    )
    table = table[np.argsort(table[:, 0], kind="stable")]
    order_ids = table[:, 0]
    lines = fetch_ints(
        session,
        select(OrderLine.order_id, OrderLine.product_id).where(
            OrderLine.store_id == store.id, OrderLine.product_id.is_not(None)
        ),
        2,
    )
    lines = lines[np.isin(lines[:, 0], order_ids)]  # lines of the orders that count
    line_orders, line_items = lines[:, 0], lines[:, 1]
    order_items = sp.csr_matrix(
        (
            np.ones(line_orders.size, np.float32),
            (np.searchsorted(order_ids, line_orders), np.searchsorted(items, line_items)),
        ),
        shape=(order_ids.size, items.size),
    )
    return History(
        items=items,
        titles=[row[1] for row in products],
        item_categories=item_categories,
        categories=category_names,
        order_ids=order_ids,
        order_customer=table[:, 1],
        order_time=table[:, 2],
        order_items=order_items,
    )


def available_items(session: Session, store: Store, history: History) -> np.ndarray:
    """Boolean per item: published, not deleted, in stock, not in an excluded category."""
    in_stock = set(
        session.scalars(
            select(Variant.product_id)
            .join(Product, Product.id == Variant.product_id)
            .where(
                Product.store_id == store.id,
                Product.published.is_(True),
                Product.deleted_at.is_(None),
                Variant.in_stock.is_(True),
                or_(Variant.inventory_quantity.is_(None), Variant.inventory_quantity > 0),
            )
        )
    )
    available = np.isin(history.items, np.fromiter(in_stock, dtype=np.int64, count=len(in_stock)))
    excluded = in_categories(history, store.setting("excluded_categories"))
    return available & ~excluded


def in_categories(history: History, names: list[str]) -> np.ndarray:
    """Boolean per item: in any of the named categories (case-insensitive)."""
    wanted = {name.casefold() for name in names or []}
    columns = [n for n, name in enumerate(history.categories) if name.casefold() in wanted]
    if not columns:
        return np.zeros(history.items.size, dtype=bool)
    return np.asarray(history.item_categories[:, columns].sum(axis=1)).ravel() > 0
