"""Item-to-item recommendations that fit a buyer's purchases, computed per shop in bulk.

Scores come from the shop's own orders. The main model is a ridge regression of every item on
the other items a buyer bought (in the same order or later ones): where plain co-occurrence lets
bestsellers win everywhere, the regression credits an item only with what the others do not
already explain, and the ridge penalty shrinks pairs few buyers back. It needs a dense items x
items matrix, so it covers the DENSE_ITEMS most-bought items; the rest of a large catalogue gets
cosine neighbours with shrinkage. Scores are blended with same-category bestsellers, and boosted
by what is selling now (units in the last 30 days, weighted by how fast they rise), which alone
is the fallback for cold items. All of it is matrix algebra (numpy/scipy), cached per shop until
its orders change; ties break on product id, so the same data gives the same picks.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg.lapack
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.engine.recommend_data import History, load_history
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
#: Weight of the cosine scores of items outside the ridge model (they have few buyers).
TAIL_WEIGHT = 0.5
#: Weight of same-category bestsellers (scores are normalised to [0, 1]).
CATEGORY_WEIGHT = 0.05
#: Relevant items selling now rank up to (1 + TREND_BOOST) / 1 times higher than still ones.
TREND_BOOST = 4.0
#: What is selling now, for buyers and items without any other evidence.
POPULARITY_WEIGHT = 0.02
#: "Selling now" means the last 30 days; "rising" compares them with the 90 days before.
POPULARITY_DAYS = 30
TREND_BASE_DAYS = 90
#: Orders added to both periods before comparing them, so a few sales are not a trend.
TREND_SMOOTHING = 10.0
#: Shops whose models stay in memory (each up to DENSE_ITEMS² floats).
CACHED_SHOPS = 4
#: Buyers scored at once: a chunk holds a dense buyers x DENSE_ITEMS array.
CHUNK = 1000
#: Scores are compared and kept at this precision.
SCORE_DECIMALS = 6
#: Extra ridge candidates per buyer, so ties at the cut still go to the lower product id.
TIE_MARGIN = 8
#: What sells best now is a candidate for everyone (the fallback when nothing else fits).
TREND_CANDIDATES = 200


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


_CACHE: OrderedDict[tuple[int, str], ItemModel] = OrderedDict()


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
        _CACHE.move_to_end(key)
        return cached
    for old in [k for k in _CACHE if k[0] == store.id]:
        del _CACHE[old]
    model = fit(load_history(session, store, until))
    model.fingerprint = fingerprint
    _CACHE[key] = model
    while len(_CACHE) > CACHED_SHOPS:
        _CACHE.popitem(last=False)
    return model


def _binary(matrix: sp.spmatrix) -> sp.csr_matrix:
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.data[:] = 1.0
    return matrix


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
    orders = _binary(history.order_items)
    together = without_diagonal(orders.T @ orders)
    earlier = _binary(sequence_pairs(history) @ orders)  # orders x items bought before them
    later = without_diagonal(earlier.T @ orders)  # i bought before j, in a later order of the buyer
    together.sort_indices()
    later.sort_indices()
    bought = np.asarray(orders.sum(axis=0)).ravel()
    buyers = _binary(buyer_matrix(history) @ orders)  # buyers x items ever bought
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
    ends = np.r_[buyer_of_order[order][1:] != buyer_of_order[order][:-1], True][: rows.size]
    last_rows = rows[order][ends]
    last_buyer = np.searchsorted(wanted, history.order_customer[last_rows])
    pick_last = sp.csr_matrix(
        (np.ones(last_rows.size, np.float32), (last_buyer, last_rows)),
        shape=(wanted.size, history.order_ids.size),
    )
    return Buyers(wanted, bought, _binary(pick_last @ history.order_items))


def recent_popularity(model: ItemModel, now: dt.datetime) -> np.ndarray:
    """Orders per item in the last POPULARITY_DAYS, scaled to [0, 1]."""
    sold = orders_per_item(model.history, now - dt.timedelta(days=POPULARITY_DAYS), now)
    return sold / sold.max() if sold.size and sold.max() > 0 else sold


def trending(model: ItemModel, now: dt.datetime) -> np.ndarray:
    """What sells now, weighted by how fast it rises: orders in the last POPULARITY_DAYS times
    the square root of their daily rate over that of the TREND_BASE_DAYS before, in [0, 1]."""
    recent_start = now - dt.timedelta(days=POPULARITY_DAYS)
    recent = orders_per_item(model.history, recent_start, now)
    base = orders_per_item(
        model.history, recent_start - dt.timedelta(days=TREND_BASE_DAYS), recent_start
    )
    rise = ((recent + TREND_SMOOTHING) / POPULARITY_DAYS) / (
        (base + TREND_SMOOTHING) / TREND_BASE_DAYS
    )
    score = recent * np.sqrt(rise)
    return score / score.max() if score.size and score.max() > 0 else score


def orders_per_item(history: History, start: dt.datetime, end: dt.datetime) -> np.ndarray:
    inside = (history.order_time >= start.timestamp()) & (history.order_time < end.timestamp())
    return np.asarray(_binary(history.order_items[inside]).sum(axis=0)).ravel().astype(np.float64)


def _sparse_row_max_scaled(scores: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its largest entry (rows without a positive one become empty); the
    stored values are scaled in place rather than through a product with a diagonal matrix."""
    top = scores.max(axis=1).toarray().ravel()
    scale = np.where(top > 0, 1.0 / np.maximum(top, 1e-30), 0.0)
    scaled = scores.copy()
    scaled.data *= np.repeat(scale, np.diff(scaled.indptr))
    scaled.eliminate_zeros()
    return scaled


@dataclass
class Scoring:
    """What every chunk of buyers is scored with (per call, not per buyer)."""

    trend: np.ndarray
    boost: np.ndarray
    allowed: np.ndarray
    repeatable: sp.spmatrix
    #: Position of each item in the ridge model, -1 outside it.
    position: np.ndarray
    #: The best sellers outside the ridge model: candidates for everyone.
    selling: np.ndarray
    #: `final` of the best sellers without other relevance (falling, as `selling` is).
    selling_values: np.ndarray
    #: `final` for the ridge model's items as a multiplier and an addend, 0 where unavailable.
    dense_boost: np.ndarray
    dense_trend: np.ndarray

    @classmethod
    def of(
        cls, model: ItemModel, now: dt.datetime, available: np.ndarray, consumable: np.ndarray
    ) -> Scoring:
        trend = trending(model, now).astype(np.float32)
        position = np.full(trend.size, -1, dtype=np.int64)
        position[model.dense_items] = np.arange(model.dense_items.size)
        selling = np.lexsort((np.arange(trend.size), -trend))
        selling = selling[(trend[selling] > 0) & (position[selling] < 0)][:TREND_CANDIDATES]
        boost = (1.0 + TREND_BOOST * trend) / (1.0 + TREND_BOOST)
        dense, allowed = model.dense_items, available[model.dense_items]
        return cls(
            trend=trend,
            boost=boost,
            allowed=available,
            repeatable=sp.diags((~consumable).astype(np.float32)),
            position=position,
            selling=selling,
            selling_values=POPULARITY_WEIGHT * trend[selling],
            dense_boost=np.where(allowed, boost[dense], 0).astype(np.float32),
            dense_trend=np.where(allowed, POPULARITY_WEIGHT * trend[dense], 0).astype(np.float32),
        )

    def final(self, relevance: np.ndarray, items: np.ndarray) -> np.ndarray:
        return relevance * self.boost[items] + POPULARITY_WEIGHT * self.trend[items]


@dataclass
class Chunk:
    """Up to CHUNK buyers' histories, scored together."""

    bought: sp.csr_matrix
    last: sp.csr_matrix
    #: What may not be picked: bought before (unless consumable) and the last order.
    blocked: sp.csr_matrix
    #: Same-category bestsellers of the last order's items, weighted.
    affinity: sp.coo_matrix

    @classmethod
    def of(cls, model: ItemModel, scoring: Scoring, buyers: Buyers, rows: slice) -> Chunk:
        bought, last = buyers.bought[rows], buyers.last[rows]
        blocked = _binary(bought @ scoring.repeatable + last)
        affinity = (CATEGORY_WEIGHT * (last @ model.category)).tocoo()
        return cls(bought, last, blocked, affinity)


Candidates = tuple[np.ndarray, np.ndarray, np.ndarray]


def ridge_candidates(
    model: ItemModel, scoring: Scoring, chunk: Chunk, count: int
) -> tuple[Candidates, np.ndarray]:
    """The best ridge-model items of each buyer in one chunk, scored in full (dense), and per
    buyer the `count`-th best score: anything below it cannot be picked."""
    dense, position, buyers = model.dense_items, scoring.position, chunk.bought.shape[0]
    if dense.size == 0:
        empty = np.zeros(0, np.int64)
        return (empty, empty, np.zeros(0, np.float32)), np.zeros(buyers, np.float32)
    scores = np.asarray(chunk.bought[:, dense] @ model.ridge)
    np.maximum(scores, 0.0, out=scores)
    top = scores.max(axis=1, keepdims=True)  # a row without a positive score stays all zero
    np.divide(scores, top, out=scores, where=top > 0)
    near = chunk.affinity
    inside = position[near.col] >= 0
    np.add.at(scores, (near.row[inside], position[near.col[inside]]), near.data[inside])
    # Scoring.final in place; unavailable items get 0 * score + 0.
    np.multiply(scores, scoring.dense_boost, out=scores)
    np.add(scores, scoring.dense_trend, out=scores)
    blocked = chunk.blocked.tocoo()
    inside = position[blocked.col] >= 0
    scores[blocked.row[inside], position[blocked.col[inside]]] = 0.0
    keep = min(count + TIE_MARGIN, dense.size)
    rows, columns = np.nonzero((scores >= kth_largest_bound(scores, keep)[:, None]) & (scores > 0))
    values = scores[rows, columns]
    # Per buyer the count-th best (0 where fewer than `count` scores are positive).
    order = np.lexsort((-values, rows))
    ranked_rows = rows[order]
    starts = np.searchsorted(ranked_rows, np.arange(buyers))
    ends = np.searchsorted(ranked_rows, np.arange(buyers), side="right")
    floor = np.zeros(buyers, np.float32)
    full = ends - starts >= count
    floor[full] = values[order][starts[full] + count - 1]
    return (rows, dense[columns], values), floor


def kth_largest_bound(scores: np.ndarray, k: int) -> np.ndarray:
    """Per row a value no larger than the row's k-th largest, found without sorting the row:
    the k-th largest of the maxima of at least k column blocks (those k maxima are k entries
    at least that large). Few entries of a row reach it, so selecting them is one comparison."""
    width = scores.shape[1]
    block = max(1, width // (4 * k))
    maxima = np.maximum.reduceat(scores, np.arange(0, width, block), axis=1)
    blocks = maxima.shape[1]
    return np.partition(maxima, blocks - k, axis=1)[:, blocks - k]


def tail_candidates(
    model: ItemModel, scoring: Scoring, chunk: Chunk, floor: np.ndarray
) -> Candidates:
    """Candidates outside the ridge model that reach the floor: cosine neighbours, category
    and best sellers, never blocked or unavailable."""
    fit = chunk.affinity
    if model.tail.nnz:
        tail = TAIL_WEIGHT * _sparse_row_max_scaled((chunk.bought @ model.tail).tocsr())
        fit = (tail + fit.tocsr()).tocoo()
    outside = scoring.position[fit.col] < 0
    rows, cols = fit.row[outside], fit.col[outside]
    values = scoring.final(fit.data[outside], cols)
    threshold = floor - 10.0**-SCORE_DECIMALS
    reach = (values > 0) & (values >= threshold[rows])
    # The best sellers score the same for every buyer, falling along `selling`: each buyer
    # takes the prefix that reaches their floor (most take none), not all TREND_CANDIDATES.
    sold = scoring.selling_values
    taken = np.minimum(np.searchsorted(-sold, -threshold, side="right"), np.count_nonzero(sold > 0))
    starts = np.cumsum(taken) - taken
    within = np.arange(int(taken.sum())) - np.repeat(starts, taken)
    rows = np.concatenate([rows[reach], np.repeat(np.arange(taken.size), taken)])
    cols = np.concatenate([cols[reach], scoring.selling[within]])
    values = np.concatenate([values[reach], sold[within]])
    blocked = chunk.blocked.tocoo()
    width = chunk.bought.shape[1]
    ok = scoring.allowed[cols] & ~np.isin(
        cell(rows, cols, width), cell(blocked.row, blocked.col, width)
    )
    return rows[ok], cols[ok], values[ok]


def cell(rows: np.ndarray, cols: np.ndarray, width: int) -> np.ndarray:
    """One int64 key per (row, col), for set operations on sparse entries."""
    return rows.astype(np.int64) * width + cols


def best_per_row(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `count` highest (row, col) entries of each row, duplicates counted once at their
    highest value; ties go to the lower column. Returned in row order, best first."""
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    _, first = np.unique(cell(rows, cols, int(cols.max(initial=0)) + 1), return_index=True)
    first.sort()
    rows, cols, values = rows[first], cols[first], values[first]
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if rows.size else rows
    rank = np.arange(rows.size) - np.repeat(starts, np.diff(np.r_[starts, rows.size]))
    chosen = rank < count
    return rows[chosen], cols[chosen], values[chosen]


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
    scoring = Scoring.of(model, now, available, consumable)
    evidence = Evidence.of(model)
    customer_ids = buyers.customer_ids.tolist()
    product_ids = model.history.items.tolist()
    picks: dict[int, list[Pick]] = {c: [] for c in customer_ids}
    for start in range(0, buyers.customer_ids.size, CHUNK):
        chunk = Chunk.of(model, scoring, buyers, slice(start, start + CHUNK))
        ridge, floor = ridge_candidates(model, scoring, chunk, count)
        tail = tail_candidates(model, scoring, chunk, floor)
        rows, cols, values = (np.concatenate(pair) for pair in zip(ridge, tail, strict=True))
        # ranked at the precision shown, so float noise cannot outrank "ties to the lower id"
        values = np.round(values, SCORE_DECIMALS)
        keep = values > 0
        rows, cols, values = best_per_row(rows[keep], cols[keep], values[keep], count)
        reasons = evidence.explain(chunk.last, chunk.bought, rows, cols)
        for row, item, value, reason in zip(
            rows.tolist(), cols.tolist(), values.tolist(), reasons, strict=True
        ):
            picks[customer_ids[start + row]].append(
                Pick(product_ids[item], round(value, SCORE_DECIMALS), reason)
            )
    return picks


@dataclass
class PairCounts:
    """The stored entries of an items x items matrix as sorted (row * width + column) keys, so
    the counts of many (row, column) pairs are found by one binary search."""

    keys: np.ndarray
    values: np.ndarray
    width: int

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> PairCounts:
        matrix = matrix.tocsr()
        matrix.sort_indices()
        rows = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
        return cls(rows * matrix.shape[1] + matrix.indices, matrix.data, matrix.shape[1])

    def get(self, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """The stored value of each (row, column), 0 where none is stored."""
        if self.keys.size == 0:
            return np.zeros(rows.size, self.values.dtype)
        wanted = rows.astype(np.int64) * self.width + columns
        at = np.minimum(np.searchsorted(self.keys, wanted), self.keys.size - 1)
        return np.where(self.keys[at] == wanted, self.values[at], 0)


@dataclass
class Evidence:
    """Raw counts that explain a pick to the owner, looked up by (source, recommended item)."""

    titles: list[str]
    #: [source, item] = orders with both; buyers who bought item after source; same-category
    #: bestseller weight.
    together: PairCounts
    later: PairCounts
    category: PairCounts

    @classmethod
    def of(cls, model: ItemModel) -> Evidence:
        """Built once per model (kept in model.extra): the keys cost a pass over every pair."""
        cached = model.extra.get("evidence")
        if cached is None:
            cached = cls(
                model.history.titles,
                PairCounts.of(model.together),
                PairCounts.of(model.later),
                PairCounts.of(model.category),
            )
            model.extra["evidence"] = cached
        return cached

    def explain(
        self, last: sp.csr_matrix, bought: sp.csr_matrix, rows: np.ndarray, items: np.ndarray
    ) -> list[str]:
        """The strongest evidence per pick: the last order's items first, then older ones.
        Each distinct (text, source, count) is formatted once, however many buyers share it."""
        checks = (
            (last, self.together, "bought together with {} in {} orders"),
            (last, self.later, "bought later by buyers of {} ({} times)"),
            (bought, self.together, "bought together with {} in {} orders"),
            (bought, self.later, "bought later by buyers of {} ({} times)"),
            (last, self.category, "a bestseller in the same category as the last purchase"),
        )
        check = np.full(rows.size, len(checks), dtype=np.int64)  # len(checks): the default
        source = np.zeros(rows.size, dtype=np.int64)
        value = np.zeros(rows.size, dtype=np.int64)
        for number, (sources, counts, _) in enumerate(checks):
            open_ = np.flatnonzero(check == len(checks))
            if open_.size == 0:
                break
            found, best, origin = strongest(sources[rows[open_]], counts, items[open_])
            check[open_[found]] = number
            source[open_[found]] = origin
            value[open_[found]] = best
        span = int(value.max(initial=0)) + 1
        key = (check * len(self.titles) + source) * span + value
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        texts = []
        for number, origin, count in zip(
            check[first].tolist(), source[first].tolist(), value[first].tolist(), strict=True
        ):
            if number == len(checks):
                texts.append(f"popular in the last {POPULARITY_DAYS} days")
            else:
                texts.append(checks[number][2].format(self.titles[origin], count))
        return [texts[n] for n in inverse.ravel().tolist()]


def strongest(
    sources: sp.csr_matrix, counts: PairCounts, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row n: whether any source s has a count counts[s, items[n]], the largest count
    (whole) and its source (ties: the lower source)."""
    pairs = sources.tocoo()
    values = counts.get(pairs.col, items[pairs.row])
    hit = values != 0
    rows, cols, best = best_per_row(pairs.row[hit], pairs.col[hit], values[hit], 1)
    found = np.zeros(sources.shape[0], bool)
    found[rows] = True
    return found, best.astype(np.int64), cols
