"""Why a product was picked, in the owner's words: raw co-purchase counts looked up for each
(source, recommended item) pair, the strongest one named ("bought together with X in 37 orders").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from plugin.engine.recommend.fitting import POPULARITY_DAYS, ItemModel
from plugin.engine.recommend.matrices import best_per_row


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
