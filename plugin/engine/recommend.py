"""Item-to-item recommendations that fit a buyer's last purchase, computed per shop in bulk.

Scores come from the shop's own orders: items bought in the same order, and items one buyer
bought in a later order after another. Raw counts favour bestsellers, so each pair is normalised
by both items' popularity (cosine) and shrunk towards zero when few buyers back it. The item
scores are blended with same-category items and, for cold items and new shops, with what sold
in the last 30 days. All of it is sparse matrix algebra (scipy), cached per shop until its
orders change; ties break on product id, so the same data gives the same picks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.engine.recommend_data import History, load_history
from plugin.models import Order, Store

#: Pairs backed by fewer buyers than this are shrunk: c / (c + SHRINK).
SHRINK = 1.0
#: Popularity exponents of the source and the recommended item in the normalisation
#: c / (n_i^a n_j^b): 0.5 and 0.5 is cosine; a smaller b lets well-liked items through.
SOURCE_EXPONENT = 0.5
TARGET_EXPONENT = 0.5
#: Weight of "bought later by the same buyer" against "bought in the same order". On the UCI
#: history (bench/recommend_quality.py) 0.1 and 0.25 scored lower than 0: the same-buyer term
#: below already counts later orders. The counts still explain picks ("bought later by …").
SEQUENCE_WEIGHT = 0.0
#: Weight of "bought by the same buyer, in any order" (a buyer's taste beyond one basket).
BUYER_WEIGHT = 1.0
#: Neighbours kept per item; the rest are noise and memory.
NEIGHBOURS = 100
#: Weight of the last order's items against the older history.
OLDER_HISTORY_WEIGHT = 0.0
#: Blend weights of same-category and recent popularity (scores are normalised to [0, 1]).
CATEGORY_WEIGHT = 0.05
POPULARITY_WEIGHT = 0.02
#: "Popular lately" means the last 30 days.
POPULARITY_DAYS = 30


@dataclass(frozen=True)
class Pick:
    product_id: int
    score: float
    #: Why it was chosen, shown to the owner: "bought together with X in 37 orders".
    reason: str


@dataclass
class ItemModel:
    """Item-item scores and the history they came from, for one shop."""

    history: History
    #: items x items: normalised, blended, pruned scores.
    scores: sp.csr_matrix
    #: items x items: raw co-purchase counts (same order), for reasons.
    together: sp.csr_matrix
    #: items x items: raw counts of "bought later by the same buyer".
    later: sp.csr_matrix
    #: items x items: same-category neighbours weighted by popularity.
    category: sp.csr_matrix
    fingerprint: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


_CACHE: dict[tuple[int, str], ItemModel] = {}


def orders_fingerprint(session: Session, store: Store, until: dt.datetime) -> tuple[Any, ...]:
    """Changes whenever an order of the shop is added or changed."""
    count, newest = session.execute(
        select(func.count(Order.id), func.max(Order.updated_at)).where(
            Order.store_id == store.id, Order.placed_at < until
        )
    ).one()
    return (count, newest)


def model_for(session: Session, store: Store, until: dt.datetime) -> ItemModel:
    """The shop's model from orders placed before `until`, cached until its orders change."""
    fingerprint = orders_fingerprint(session, store, until)
    key = (store.id, until.date().isoformat())
    cached = _CACHE.get(key)
    if cached is not None and cached.fingerprint == fingerprint:
        return cached
    for old in [k for k in _CACHE if k[0] == store.id]:
        del _CACHE[old]
    model = fit(load_history(session, store, until))
    model.fingerprint = fingerprint
    _CACHE[key] = model
    return model


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.data[:] = 1.0
    return matrix


def sequence_pairs(history: History) -> sp.csr_matrix:
    """orders x orders: 1 where the column is an earlier order of the same buyer."""
    orders = history.order_customer.size
    known = np.flatnonzero(history.order_customer >= 0)
    by_buyer = known[np.lexsort((history.order_time[known], history.order_customer[known]))]
    buyers = history.order_customer[by_buyer]
    starts = np.flatnonzero(np.r_[True, buyers[1:] != buyers[:-1]])
    sizes = np.diff(np.r_[starts, by_buyer.size])
    rank = np.arange(by_buyer.size) - np.repeat(starts, sizes)  # position within the buyer
    later = np.repeat(by_buyer, rank)  # each order once per earlier order of its buyer
    first = np.repeat(np.repeat(starts, sizes), rank)  # where each position's buyer starts
    offset = np.arange(later.size) - np.repeat(np.cumsum(rank) - rank, rank)
    earlier = by_buyer[first + offset]
    data = np.ones(later.size, dtype=np.float32)
    return sp.csr_matrix((data, (later, earlier)), shape=(orders, orders))


def buyer_matrix(history: History) -> sp.csr_matrix:
    """buyers x orders: 1 where the order is the buyer's (guests' orders have no row)."""
    known = np.flatnonzero(history.order_customer >= 0)
    _, buyer = np.unique(history.order_customer[known], return_inverse=True)
    return sp.csr_matrix(
        (np.ones(known.size, np.float32), (buyer, known)),
        shape=(int(buyer.max()) + 1 if buyer.size else 0, history.order_ids.size),
    )


def normalise(
    counts: sp.csr_matrix, row_totals: np.ndarray, col_totals: np.ndarray
) -> sp.csr_matrix:
    """Asymmetric cosine with shrinkage: c / (n_i^a n_j^b) * c / (c + SHRINK)."""
    coo = counts.tocoo()
    c = coo.data.astype(np.float64)
    denominator = (
        np.power(row_totals[coo.row], SOURCE_EXPONENT)
        * np.power(col_totals[coo.col], TARGET_EXPONENT)
        + 1e-9
    )
    values = c / denominator * c / (c + SHRINK)
    return sp.csr_matrix((values.astype(np.float32), (coo.row, coo.col)), shape=counts.shape)


def prune(matrix: sp.csr_matrix, keep: int) -> sp.csr_matrix:
    """Keep each row's `keep` largest entries (ties: lower column first)."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    rows, cols, values = [], [], []
    for row in range(matrix.shape[0]):
        start, end = matrix.indptr[row], matrix.indptr[row + 1]
        if end - start <= keep:
            chosen = np.arange(start, end)
        else:
            order = np.lexsort((matrix.indices[start:end], -matrix.data[start:end]))
            chosen = start + order[:keep]
        rows.append(np.full(chosen.size, row))
        cols.append(matrix.indices[chosen])
        values.append(matrix.data[chosen])
    if not rows:
        return matrix
    return sp.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape=matrix.shape
    )


def fit(history: History) -> ItemModel:
    """Build the item-item scores from one shop's history."""
    orders = _binary(history.order_items)
    together = (orders.T @ orders).tocsr()
    together.setdiag(0)
    together.eliminate_zeros()
    earlier = _binary(sequence_pairs(history) @ orders)  # orders x items bought before them
    later = (earlier.T @ orders).tocsr()  # i bought before j, in a later order of the buyer
    later.setdiag(0)
    later.eliminate_zeros()
    together.sort_indices()
    later.sort_indices()
    bought = np.asarray(orders.sum(axis=0)).ravel()
    buyers = _binary(buyer_matrix(history) @ orders)  # buyers x items ever bought
    same_buyer = (buyers.T @ buyers).tocsr()
    same_buyer.setdiag(0)
    same_buyer.eliminate_zeros()
    buyers_per_item = np.asarray(buyers.sum(axis=0)).ravel()
    scores = (
        normalise(together, bought, bought)
        + SEQUENCE_WEIGHT * normalise(later, bought, bought)
        + BUYER_WEIGHT * normalise(same_buyer, buyers_per_item, buyers_per_item)
    )
    scores = prune(scores.tocsr(), NEIGHBOURS)
    return ItemModel(
        history=history,
        scores=scores,
        together=together,
        later=later,
        category=category_neighbours(history, bought),
    )


def category_neighbours(
    history: History, bought: np.ndarray, per_category: int = 20
) -> sp.csr_matrix:
    """items x items: each item's category's bestsellers, scaled to [0, 1]."""
    categories = history.item_categories  # items x categories, binary
    items = history.items.size
    if categories.nnz == 0:
        return sp.csr_matrix((items, items), dtype=np.float32)
    weighted = (categories.T @ sp.diags(bought.astype(np.float32))).tocsr()
    weighted = prune(weighted, per_category)
    top = max(float(bought.max()), 1.0)
    neighbours = (categories @ weighted).tocsr() / top
    neighbours.sort_indices()
    return neighbours


@dataclass
class Buyers:
    """The requested buyers' histories as matrices (rows in the order of `customer_ids`)."""

    customer_ids: np.ndarray
    #: buyers x items: everything bought, and the last order's items.
    bought: sp.csr_matrix
    last: sp.csr_matrix


def buyer_histories(model: ItemModel, customer_ids: list[int]) -> Buyers:
    history = model.history
    wanted = np.array(sorted(set(customer_ids)), dtype=np.int64)
    rows = np.flatnonzero(np.isin(history.order_customer, wanted))
    buyer_of_order = np.searchsorted(wanted, history.order_customer[rows])
    to_buyer = sp.csr_matrix(
        (np.ones(rows.size, np.float32), (buyer_of_order, rows)),
        shape=(wanted.size, history.order_ids.size),
    )
    bought = _binary(to_buyer @ history.order_items)
    # The last order per buyer: latest placed_at, then highest id.
    order = np.lexsort((history.order_ids[rows], history.order_time[rows], buyer_of_order))
    last_rows = rows[order][np.r_[buyer_of_order[order][1:] != buyer_of_order[order][:-1], True]]
    last_buyer = np.searchsorted(wanted, history.order_customer[last_rows])
    pick_last = sp.csr_matrix(
        (np.ones(last_rows.size, np.float32), (last_buyer, last_rows)),
        shape=(wanted.size, history.order_ids.size),
    )
    return Buyers(wanted, bought, _binary(pick_last @ history.order_items))


def recent_popularity(model: ItemModel, now: dt.datetime) -> np.ndarray:
    """Units sold per item in the last POPULARITY_DAYS, scaled to [0, 1]."""
    history = model.history
    since = (now - dt.timedelta(days=POPULARITY_DAYS)).timestamp()
    recent = history.order_time >= since
    sold = np.asarray(_binary(history.order_items[recent]).sum(axis=0)).ravel()
    return sold / sold.max() if sold.size and sold.max() > 0 else sold


def score_buyers(model: ItemModel, buyers: Buyers, now: dt.datetime) -> sp.csr_matrix:
    """buyers x items: the blended score of every candidate item."""
    older = buyers.bought - buyers.last.multiply(buyers.bought)
    weights = buyers.last + OLDER_HISTORY_WEIGHT * older
    scores = weights @ model.scores + CATEGORY_WEIGHT * (buyers.last @ model.category)
    popularity = recent_popularity(model, now)
    top = np.argsort(-popularity, kind="stable")[:200]
    top = top[popularity[top] > 0]
    popular = sp.csr_matrix(
        (popularity[top].astype(np.float32), (np.zeros(top.size, np.int64), top)),
        shape=(1, model.history.items.size),
    )
    scores = scores.tocsr()
    top_score = scores.max(axis=1).toarray().ravel()
    scale = sp.diags(np.where(top_score > 0, 1.0 / np.maximum(top_score, 1e-9), 0.0))
    ones = sp.csr_matrix(np.ones((buyers.customer_ids.size, 1), np.float32))
    return (scale @ scores + POPULARITY_WEIGHT * (ones @ popular)).tocsr()


def recommend_for_customers(
    model: ItemModel,
    customer_ids: list[int],
    now: dt.datetime,
    available: np.ndarray,
    consumable: np.ndarray,
    count: int = 3,
) -> dict[int, list[Pick]]:
    """Up to `count` picks per buyer; never bought before (unless consumable), never from the
    last order, never unavailable. Deterministic: ties go to the lower product id."""
    buyers = buyer_histories(model, customer_ids)
    scores = score_buyers(model, buyers, now)
    allowed = available.copy()
    picks: dict[int, list[Pick]] = {}
    for row, customer_id in enumerate(buyers.customer_ids):
        start, end = scores.indptr[row], scores.indptr[row + 1]
        candidates, values = scores.indices[start:end], scores.data[start:end]
        bought = buyers.bought.indices[buyers.bought.indptr[row] : buyers.bought.indptr[row + 1]]
        last = buyers.last.indices[buyers.last.indptr[row] : buyers.last.indptr[row + 1]]
        blocked = np.union1d(bought[~consumable[bought]], last)
        keep = allowed[candidates] & ~np.isin(candidates, blocked) & (values > 0)
        candidates, values = candidates[keep], values[keep]
        best = np.lexsort((candidates, -values))[:count]
        picks[int(customer_id)] = [
            Pick(
                int(model.history.items[item]),
                round(float(values[n]), 6),
                explain(model, last, int(item)),
            )
            for n, item in ((n, candidates[n]) for n in best)
        ]
    return picks


def pair_count(matrix: sp.csr_matrix, sources: np.ndarray, item: int) -> tuple[float, int]:
    """The largest entry of column `item` in the rows of `sources`, and that row."""
    best, best_source = 0.0, -1
    for source in sources:
        start, end = matrix.indptr[source], matrix.indptr[source + 1]
        position = start + np.searchsorted(matrix.indices[start:end], item)
        if position < end and matrix.indices[position] == item and matrix.data[position] > best:
            best, best_source = float(matrix.data[position]), int(source)
    return best, best_source


def explain(model: ItemModel, last: np.ndarray, item: int) -> str:
    """The strongest evidence for an item given the last order's items."""
    titles = model.history.titles
    together, source = pair_count(model.together, last, item)
    if together:
        return f"bought together with {titles[source]} in {int(together)} orders"
    later, source = pair_count(model.later, last, item)
    if later:
        return f"bought later by buyers of {titles[source]} ({int(later)} times)"
    if pair_count(model.category, last, item)[0] > 0:
        return "a bestseller in the same category as the last purchase"
    return f"popular in the last {POPULARITY_DAYS} days"
