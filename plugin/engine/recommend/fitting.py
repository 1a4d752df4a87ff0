"""Item-to-item recommendations that fit a buyer's purchases, computed per shop in bulk.

Scores come from the shop's own orders. The main model is a ridge regression of every item on
the other items a buyer bought (in the same order or later ones): where plain co-occurrence lets
bestsellers win everywhere, the regression credits an item only with what the others do not
already explain, and the ridge penalty shrinks pairs few buyers back. It needs a dense items x
items matrix, so it covers the DENSE_ITEMS most-bought items; the rest of a large catalogue gets
cosine neighbours with shrinkage. Scores are blended with same-category bestsellers, and boosted
by what is selling now (units in the last 30 days, weighted by how fast they rise), which alone
is the fallback for cold items. All of it is matrix algebra (numpy/scipy), cached per shop until
its orders change (in a ModelCache the app owns); ties break on product id, so the same data
gives the same picks.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg.lapack
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.engine.recommend.history import History, load_history
from plugin.engine.recommend.matrices import binary
from plugin.models import Order, Store

#: Cosine pairs backed by fewer buyers than this are shrunk: c / (c + SHRINK).
SHRINK = 1.0
#: Popularity exponents of the source and the recommended item in the cosine normalisation
#: c / (n_i^a n_j^b): 0.5 and 0.5 is cosine.
SOURCE_EXPONENT = 0.5
TARGET_EXPONENT = 0.5
#: Cosine neighbours kept per item of the long tail; the rest are noise, memory and time.
NEIGHBOURS = 30
#: Ridge penalty as a multiple of the mean number of buyers per bought item (EASE's lambda).
#: On the UCI history (bench/recommend_quality.py) 2 to 6 score alike; 4 is about lambda = 200.
RIDGE = 4.0
#: Items in the dense ridge model: 4,000 is a 64 MB matrix and about a second to fit.
DENSE_ITEMS = 4000
#: "Selling now" means the last 30 days; "rising" compares them with the 90 days before.
POPULARITY_DAYS = 30
TREND_BASE_DAYS = 90
#: Shops whose models stay in memory (each up to DENSE_ITEMS² floats).
CACHED_SHOPS = 4


@dataclass
class ItemModel:
    """Item-item scores and the history they came from, for one shop."""

    history: History
    #: items x items: cosine scores towards the items outside the ridge model, pruned.
    tail: sp.csr_matrix
    #: Item indices in the ridge model, and its dense weights (source rows, target columns).
    dense_items: np.ndarray
    ridge: np.ndarray
    #: items x items: raw co-purchase counts (same order), for reasons.
    together: sp.csr_matrix
    #: items x items: raw counts of "bought later by the same buyer".
    later: sp.csr_matrix
    #: items x items: same-category neighbours weighted by popularity.
    category: sp.csr_matrix
    fingerprint: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def orders_fingerprint(session: Session, store: Store, until: dt.datetime) -> tuple[Any, ...]:
    """Changes whenever an order of the shop is added or changed."""
    count, newest = session.execute(
        select(func.count(Order.id), func.max(Order.updated_at)).where(
            Order.store_id == store.id, Order.placed_at < until
        )
    ).one()
    return (count, newest)


class ModelCache:
    """The fitted models of the last `capacity` shops, each kept until its orders change.

    The app owns one (plugin.engine.jobs.model_cache), not this module: two apps in one process
    (tests, a CLI beside a server) neither share nor clear each other's models. The lock guards
    the dictionary only; a fit (seconds for a large shop) runs outside it.
    """

    def __init__(self, capacity: int = CACHED_SHOPS) -> None:
        self.capacity = capacity
        self._models: OrderedDict[tuple[int, str], ItemModel] = OrderedDict()
        self._lock = threading.Lock()

    def model_for(self, session: Session, store: Store, until: dt.datetime) -> ItemModel:
        """The shop's model from orders placed before `until`, cached until its orders change."""
        fingerprint = orders_fingerprint(session, store, until)
        key = (store.id, until.date().isoformat())
        with self._lock:
            cached = self._models.get(key)
            if cached is not None and cached.fingerprint == fingerprint:
                self._models.move_to_end(key)
                return cached
            for old in [k for k in self._models if k[0] == store.id]:  # its memory, before a fit
                del self._models[old]
        model = fit(load_history(session, store, until))
        model.fingerprint = fingerprint
        with self._lock:
            self._models[key] = model
            while len(self._models) > self.capacity:
                self._models.popitem(last=False)
        return model


def without_diagonal(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """The matrix with its diagonal dropped (setdiag(0) would first insert every missing
    diagonal entry, then eliminate_zeros drop them again)."""
    matrix = matrix.tocsr()
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    off = (matrix.indices != rows) & (matrix.data != 0)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[off], minlength=matrix.shape[0]))])
    return sp.csr_matrix(
        (matrix.data[off], matrix.indices[off], indptr.astype(matrix.indptr.dtype)),
        shape=matrix.shape,
    )


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
    """buyers x orders: 1 where the order is the buyer's; each guest order is its own buyer."""
    known = history.order_customer >= 0
    _, buyer = np.unique(history.order_customer[known], return_inverse=True)
    rows = np.empty(history.order_ids.size, dtype=np.int64)
    rows[known] = buyer
    first_guest = int(buyer.max()) + 1 if buyer.size else 0
    rows[~known] = first_guest + np.arange(int((~known).sum()))
    return sp.csr_matrix(
        (np.ones(rows.size, np.float32), (rows, np.arange(rows.size))),
        shape=(first_guest + int((~known).sum()), history.order_ids.size),
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


def ridge_weights(buyers: sp.csr_matrix, items: np.ndarray) -> np.ndarray:
    """Each item regressed on the others over buyers, zero diagonal (EASE, Steck 2019).

    With G = X'X + lambda I and P = G^-1, the weights are -P_ij / P_jj. G is symmetric
    positive definite, so LAPACK inverts it through its Cholesky factor, in float32."""
    if items.size == 0:
        return np.zeros((0, 0), np.float32)
    columns = buyers[:, items]
    gram = (columns.T @ columns).toarray().astype(np.float32)
    penalty = RIDGE * float(gram.diagonal().mean())
    gram[np.diag_indices(items.size)] += max(penalty, 1.0)
    factor, failed = scipy.linalg.lapack.spotrf(gram, lower=1, overwrite_a=1)
    if failed:
        raise np.linalg.LinAlgError(f"ridge Gram matrix not positive definite ({failed})")
    lower, failed = scipy.linalg.lapack.spotri(factor, lower=1, overwrite_c=1)
    if failed:
        raise np.linalg.LinAlgError(f"ridge Gram matrix is singular ({failed})")
    inverse = np.tril(lower)
    inverse += np.tril(lower, -1).T
    weights = inverse / -inverse.diagonal()
    np.fill_diagonal(weights, 0.0)
    return weights


def fit(history: History, dense_limit: int = DENSE_ITEMS) -> ItemModel:
    """Build the item-item scores from one shop's history; the ridge model covers at most
    `dense_limit` of its most-bought items, co-purchases the rest."""
    orders = binary(history.order_items)
    together = without_diagonal(orders.T @ orders)
    earlier = binary(sequence_pairs(history) @ orders)  # orders x items bought before them
    later = without_diagonal(earlier.T @ orders)  # i bought before j, in a later order of the buyer
    together.sort_indices()
    later.sort_indices()
    bought = np.asarray(orders.sum(axis=0)).ravel()
    buyers = binary(buyer_matrix(history) @ orders)  # buyers x items ever bought
    buyers_per_item = np.asarray(buyers.sum(axis=0)).ravel()
    ranked = np.lexsort((np.arange(buyers_per_item.size), -buyers_per_item))
    dense_items = np.sort(ranked[: min(dense_limit, int((buyers_per_item > 0).sum()))])
    return ItemModel(
        history=history,
        tail=tail_neighbours(orders, buyers, dense_items),
        dense_items=dense_items,
        ridge=ridge_weights(buyers, dense_items),
        together=together,
        later=later,
        category=category_neighbours(history, bought),
    )


def tail_neighbours(
    orders: sp.csr_matrix, buyers: sp.csr_matrix, dense_items: np.ndarray
) -> sp.csr_matrix:
    """items x items: cosine scores of the items the ridge model leaves out (columns), from
    the same order and the same buyer; empty when every bought item is in the ridge model."""
    items = orders.shape[1]
    outside = np.ones(items, bool)
    outside[dense_items] = False
    keep = sp.diags(outside.astype(np.float32))
    scores = sp.csr_matrix((items, items), dtype=np.float32)
    for matrix in (orders, buyers):
        kept = matrix @ keep
        if not kept.nnz:
            break
        counts = without_diagonal(matrix.T @ kept)
        totals = np.asarray(matrix.sum(axis=0)).ravel()
        scores = scores + normalise(counts, totals, totals)
    return prune(scores.tocsr(), NEIGHBOURS)


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
