"""Picking for many buyers at once: each buyer's history scored against the shop's model in
chunks, blended with what sells now and same-category bestsellers, the best few kept per buyer
with the reason that explains each (see plugin.engine.recommend.fitting for the model).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from plugin.engine.recommend.fitting import POPULARITY_DAYS, TREND_BASE_DAYS, ItemModel
from plugin.engine.recommend.history import History
from plugin.engine.recommend.matrices import best_per_row, binary, cell
from plugin.engine.recommend.reasons import Evidence

#: Weight of the cosine scores of items outside the ridge model (they have few buyers).
TAIL_WEIGHT = 0.5
#: Weight of same-category bestsellers (scores are normalised to [0, 1]).
CATEGORY_WEIGHT = 0.05
#: Relevant items selling now rank up to (1 + TREND_BOOST) / 1 times higher than still ones.
TREND_BOOST = 4.0
#: What is selling now, for buyers and items without any other evidence.
POPULARITY_WEIGHT = 0.02
#: Orders added to both periods before comparing them, so a few sales are not a trend.
TREND_SMOOTHING = 10.0
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
    bought = binary(to_buyer @ history.order_items)
    # The last order per buyer: latest placed_at, then highest id.
    order = np.lexsort((history.order_ids[rows], history.order_time[rows], buyer_of_order))
    ends = np.r_[buyer_of_order[order][1:] != buyer_of_order[order][:-1], True][: rows.size]
    last_rows = rows[order][ends]
    last_buyer = np.searchsorted(wanted, history.order_customer[last_rows])
    pick_last = sp.csr_matrix(
        (np.ones(last_rows.size, np.float32), (last_buyer, last_rows)),
        shape=(wanted.size, history.order_ids.size),
    )
    return Buyers(wanted, bought, binary(pick_last @ history.order_items))


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
    return np.asarray(binary(history.order_items[inside]).sum(axis=0)).ravel().astype(np.float64)


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
        blocked = binary(bought @ scoring.repeatable + last)
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
